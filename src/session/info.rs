//! Commands that describe the server or the session and touch no file: SYST, FEAT, OPTS,
//! HELP (from the verb table), and STAT without an argument. FEAT and HELP must say only
//! what the server really does.

use super::{Conn, Result, Session};
use crate::command::{self, Algo, Type};
use crate::reply::{Fail, *};

/// FEAT's lines (RFC 2389): every extension the server implements.
const FEATURES: &[&str] = &[
    "EPRT",
    "EPSV",
    "HOST",
    "MDTM",
    "MFMT",
    "MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;UNIX.uid*;UNIX.gid*;",
    "PASV",
    "REST STREAM",
    "SIZE",
    "TVFS",
    "UTF8",
    "XCRC",
    "XMD5",
    "XSHA1",
    "XSHA256",
    "XSHA512",
];

/// The MLST facts OPTS MLST can confirm (all are always sent).
const MLST_FACTS: &[&str] = &[
    "type",
    "size",
    "modify",
    "perm",
    "unique",
    "UNIX.mode",
    "UNIX.uid",
    "UNIX.gid",
];

impl Conn {
    pub(super) fn syst(&mut self) -> Result {
        self.reply(SYSTEM_TYPE, "UNIX Type: L8")
    }

    pub(super) fn feat(&mut self) -> Result {
        let tls: &[&str] = if self.sec.available() {
            &["AUTH TLS", "PBSZ", "PROT"]
        } else {
            &[]
        };
        let mut feats: Vec<Vec<u8>> = FEATURES
            .iter()
            .chain(tls)
            .map(|s| s.as_bytes().to_vec())
            .collect();
        // The algorithms HASH offers, the one chosen now starred.
        let mut hash = b"HASH ".to_vec();
        for (i, a) in Algo::ALL.iter().enumerate() {
            if i > 0 {
                hash.push(b';');
            }
            hash.extend_from_slice(a.name().as_bytes());
            if *a == self.hash_algo {
                hash.push(b'*');
            }
        }
        feats.push(hash);
        feats.sort();
        self.multi(SYSTEM_STATUS, "Features:", &feats, "End")
    }

    pub(super) fn opts(&mut self, o: &[u8]) -> Result {
        let up = o.to_ascii_uppercase();
        if up == b"UTF8 ON" || up == b"UTF8" || up == b"UTF-8 ON" {
            // Names are bytes end to end, so UTF-8 names just work.
            return self.reply(OK, "Always in UTF8 mode.");
        }
        if up == b"UTF8 OFF" {
            return self.reply(OK, "UTF8 off; names are passed through as bytes.");
        }
        if let Some(rest) = up.strip_prefix(b"HASH") {
            let name = rest.trim_ascii();
            if !name.is_empty() {
                self.hash_algo =
                    Algo::by_name(name).ok_or(Fail::Reply(BAD_PARAMETER, "Unknown algorithm."))?;
            }
            return self.reply(OK, self.hash_algo.name());
        }
        if let Some(facts) = up.strip_prefix(b"MLST") {
            // We always send every fact; confirm the ones asked for that we know.
            let mut ok = String::new();
            for f in facts.trim_ascii().split(|&b| b == b';') {
                if let Some(k) = MLST_FACTS
                    .iter()
                    .find(|k| k.as_bytes().eq_ignore_ascii_case(f))
                {
                    ok.push_str(k);
                    ok.push(';');
                }
            }
            return self.reply(OK, format!("MLST OPTS {ok}"));
        }
        Err(Fail::Reply(BAD_ARGUMENTS, "Option not understood."))
    }

    pub(super) fn help(&mut self, topic: &[u8]) -> Result {
        // The FTPS verbs only where FTPS is on.
        let tls = self.sec.available();
        let listed = || {
            command::VERBS
                .iter()
                .filter(|v| v.listed && (tls || !matches!(v.name, "AUTH" | "PBSZ" | "PROT")))
                .map(|v| v.name)
        };
        if topic.is_empty() {
            let names: Vec<&str> = listed().collect();
            let body: Vec<Vec<u8>> = names.chunks(8).map(|c| c.join(" ").into_bytes()).collect();
            return self.multi(
                HELP,
                "The following commands are recognized:",
                &body,
                "Help OK.",
            );
        }
        let t = topic.to_ascii_uppercase();
        if listed().any(|v| v.as_bytes() == t) {
            let mut text = t;
            text.extend_from_slice(b" is supported.");
            self.reply(HELP, text)
        } else {
            Err(Fail::Reply(NOT_IMPLEMENTED, "Unknown command."))
        }
    }
}

impl Session {
    /// STAT without an argument: the session's state.
    pub(super) fn status(&mut self) -> Result {
        let ty = match self.ty {
            Type::Ascii => "ASCII",
            Type::Image => "BINARY",
        };
        let body = vec![
            format!("Connected to {}", self.conn.peer).into_bytes(),
            format!("Logged in as {}", self.login.name).into_bytes(),
            format!("TYPE: {ty}; STRU: F; MODE: S").into_bytes(),
            format!(
                "Session timeout in seconds is {}",
                self.conn.ctx.cfg.idle_timeout.as_secs()
            )
            .into_bytes(),
            b"No data connection".to_vec(),
        ];
        self.conn
            .multi(SYSTEM_STATUS, "edgeftpd status:", &body, "End of status")
    }
}
