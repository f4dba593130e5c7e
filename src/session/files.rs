//! Navigation and the commands that act on one file or directory by name: PWD's partner
//! CWD/CDUP, SIZE, MDTM, MFMT, DELE, RMD, MKD, RNFR/RNTO and SITE CHMOD. Every path goes
//! through the session's jail, which decides what the account may do where.

use super::{Result, Session, display, name_allowed};
use crate::calendar;
use crate::listing::timeval;
use crate::reply::{self, Fail, *};
use crate::vfs::{Kind, VPath};

impl Session {
    pub(super) fn cwd(&mut self, arg: &[u8], code: u16) -> Result {
        let p = self.path(arg)?;
        let m = self.jail.stat(&p).map_err(Fail::Fs)?;
        if m.kind != Kind::Dir {
            return Err(Fail::Reply(FILE_UNAVAILABLE, "Not a directory."));
        }
        // A directory without search permission can't be entered (550, as chdir says).
        self.jail.check_search(&p).map_err(Fail::Fs)?;
        self.cwd = p;
        self.reply(code, "Directory successfully changed.")
    }

    pub(super) fn size(&mut self, arg: &[u8]) -> Result {
        let m = self.jail.stat(&self.path(arg)?).map_err(Fail::Fs)?;
        if m.kind != Kind::File {
            return Err(Fail::Reply(FILE_UNAVAILABLE, "Not a regular file."));
        }
        self.reply(FILE_STATUS, m.size.to_string())
    }

    pub(super) fn mdtm(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        match self.jail.stat(&p) {
            Ok(m) => self.reply(FILE_STATUS, timeval(m.mtime)),
            // ncftp sets times with the two-argument form `MDTM YYYYMMDDHHMMSS path`.
            Err(e) => {
                let (t, rest) =
                    arg.split_at(arg.iter().position(|&b| b == b' ').unwrap_or(arg.len()));
                match calendar::parse_time(t) {
                    Some(secs) if rest.len() > 1 => {
                        let p = self.path(&rest[1..])?;
                        self.jail.set_mtime(&p, secs).map_err(Fail::Fs)?;
                        self.log_change("set the time of", &p, &format!("to {}", timeval(secs)));
                        self.reply(FILE_STATUS, timeval(secs))
                    }
                    _ => Err(Fail::Fs(e)),
                }
            }
        }
    }

    pub(super) fn mfmt(&mut self, t: i64, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        self.jail.set_mtime(&p, t).map_err(Fail::Fs)?;
        self.log_change("set the time of", &p, &format!("to {}", timeval(t)));
        let mut text = format!("Modify={}; ", timeval(t)).into_bytes();
        text.extend_from_slice(arg);
        self.reply(FILE_STATUS, text)
    }

    pub(super) fn dele(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        self.jail.unlink(&p).map_err(Fail::Fs)?;
        self.log_change("deleted", &p, "");
        self.reply(FILE_ACTION_OK, "Delete operation successful.")
    }

    pub(super) fn rmd(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        self.jail.rmdir(&p).map_err(Fail::Fs)?;
        self.log_change("removed the directory", &p, "");
        self.reply(FILE_ACTION_OK, "Remove directory operation successful.")
    }

    pub(super) fn mkd(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        name_allowed(&p)?;
        self.jail.mkdir(&p).map_err(Fail::Fs)?;
        self.log_change("made the directory", &p, "");
        let mut text = reply::quote_path(&p.to_bytes());
        text.extend_from_slice(b" created.");
        self.reply(PATH_CREATED, text)
    }

    pub(super) fn rnfr(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        self.jail.check_rename_from(&p).map_err(Fail::Fs)?;
        self.rename_from = Some(p);
        self.reply(PENDING_MORE_INFO, "Ready for RNTO.")
    }

    pub(super) fn rnto(&mut self, from: Option<VPath>, arg: &[u8]) -> Result {
        let Some(from) = from else {
            return Err(Fail::Reply(BAD_SEQUENCE, "RNFR required first."));
        };
        let to = self.path(arg)?;
        name_allowed(&to)?;
        self.jail.rename(&from, &to).map_err(Fail::Fs)?;
        self.log_change("renamed", &from, &format!("to {}", display(&to.to_bytes())));
        self.reply(FILE_ACTION_OK, "Rename successful.")
    }

    /// The log line of a change made: `PEER USER: WHAT /path [MORE]`, the path escaped.
    fn log_change(&self, what: &str, p: &VPath, more: &str) {
        let sep = if more.is_empty() { "" } else { " " };
        log::info!(
            "{} {}: {what} {}{sep}{more}",
            self.conn.peer,
            self.login.name,
            display(&p.to_bytes())
        );
    }

    pub(super) fn chmod(&mut self, mode: u32, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        self.jail.chmod(&p, mode).map_err(Fail::Fs)?;
        self.log_change("changed the mode of", &p, &format!("to {mode:04o}"));
        self.reply(OK, "SITE CHMOD command ok.")
    }
}
