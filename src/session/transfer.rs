//! File transfers: RETR, STOR, APPE and STOU. Each checks what it can before the data
//! connection exists, opens the file only then (a refused or failed upload leaves no
//! trace), and moves the data through the one runner, [`Session::move_data`], which counts
//! the transfer for shutdown, applies the bandwidth caps, and logs its result. Atomic-upload rules live in `vfs::upload`.

use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::time::Instant;

use super::{Conn, Result, Session, display, name_allowed};
use crate::command::Type;
use crate::data::{Done, Transfer};
use crate::net::Stream;
use crate::rate::Limiter;
use crate::reply::{Fail, *};
use crate::vfs::{Kind, VPath};

/// The three ways to upload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreKind {
    Stor,
    Appe,
    Stou,
}

/// What a transfer did: how it ended, how many bytes moved, when it started.
pub(super) struct Moved {
    pub done: Done,
    pub bytes: u64,
    pub start: Instant,
}

impl Session {
    /// The transfer runner: moves the data with `body` while counting the transfer in
    /// flight (SIGTERM waits for it). `body` is a trait object: one copy of the runner.
    pub(super) fn move_data(
        conn: &mut Conn,
        rate: Option<Arc<Limiter>>,
        stream: Stream,
        body: &mut dyn FnMut(&mut Transfer<'_>) -> Done,
    ) -> Moved {
        let start = Instant::now();
        let ctx = Arc::clone(&conn.ctx);
        let _busy = ctx.transfer_started();
        let mut t = Transfer::new(&mut conn.ctl, stream, ctx.cfg.data_timeout);
        t.pace = [rate, ctx.total_rate.clone()];
        let done = body(&mut t);
        let bytes = t.bytes;
        drop(t);
        conn.ctl.arm_trim();
        Moved { done, bytes, start }
    }

    /// Logs how a transfer of `p` ended and replies 226 when it is complete; a failure
    /// is returned for [`Conn::fail`] to answer.
    fn conclude(&mut self, verb: &str, p: &VPath, m: Moved, ok_text: &'static str) -> Result {
        let result = match &m.done {
            Ok(()) => "ok",
            Err(f) => {
                match f {
                    Fail::Local(e) => log::warn!("{}: transfer: {e}", self.conn.peer),
                    Fail::DataConnection(e) => {
                        log::info!("{}: data connection: {e}", self.conn.peer)
                    }
                    _ => {}
                }
                f.transfer_result()
            }
        };
        // Milliseconds by hand, as u64: float formatting would cost 6 KiB of code for this one
        // line, and u128's 4 KiB on 32-bit targets.
        let ms = m.start.elapsed().as_millis() as u64;
        log::info!(
            "{} {}: {verb} {} {} bytes {}.{:03}s {result}",
            self.conn.peer,
            self.login.name,
            display(&p.to_bytes()),
            m.bytes,
            ms / 1000,
            ms % 1000
        );
        m.done?;
        self.reply(TRANSFER_OK, ok_text)
    }

    pub(super) fn retr(&mut self, arg: &[u8]) -> Result {
        let rest = std::mem::take(&mut self.rest);
        let p = self.path(arg)?;
        let (mut file, meta) = self.jail.open_read(&p).map_err(Fail::Fs)?;
        if rest > meta.size {
            return Err(Fail::Reply(
                INVALID_REST,
                "Restart offset is beyond the end of the file.",
            ));
        }
        let sock = self.connect_data()?;
        let ascii = self.ty == Type::Ascii;
        let mode = if ascii { "ASCII" } else { "BINARY" };
        let mut text = format!("Opening {mode} mode data connection for ").into_bytes();
        text.extend_from_slice(p.file_name().unwrap_or(b"/"));
        text.extend_from_slice(format!(" ({} bytes).", meta.size).as_bytes());
        self.reply(OPENING_DATA, text)?;
        let stream = self.conn.data_stream(sock)?;
        let moved = Self::move_data(&mut self.conn, self.rate.clone(), stream, &mut |t| {
            t.send_file(&mut file, rest, meta.size, ascii)?;
            t.finish()
        });
        self.conclude("RETR", &p, moved, "Transfer complete.")
    }

    pub(super) fn store(&mut self, arg: &[u8], kind: StoreKind) -> Result {
        let rest = std::mem::take(&mut self.rest);
        self.need_write()?;
        // Checks that touch nothing come first, then the data connection, and only then is a
        // file created or truncated: a refused or failed upload leaves no trace.
        let p = match kind {
            StoreKind::Stou => self.path(if arg.is_empty() { b"ftp" } else { arg })?,
            _ => self.path(arg)?,
        };
        name_allowed(&p)?;
        if kind == StoreKind::Stor && rest > 0 {
            let meta = self.jail.stat(&p).map_err(Fail::Fs)?;
            if meta.kind == Kind::Other {
                return Err(Fail::Fs(crate::vfs::not_regular()));
            }
            if meta.kind != Kind::File || rest > meta.size {
                return Err(Fail::Reply(
                    INVALID_REST,
                    "Restart offset is beyond the end of the file.",
                ));
            }
        }
        let sock = self.connect_data()?;
        let jail = &self.jail;
        let (mut file, upload, p) = match kind {
            StoreKind::Stou => {
                let name = p.file_name().unwrap_or(b"ftp").to_vec();
                let (f, p) = jail.create_unique(&p.parent(), &name).map_err(Fail::Fs)?;
                (f, None, p)
            }
            StoreKind::Appe => (
                jail.open_write_in_place(&p, true).map_err(Fail::Fs)?.0,
                None,
                p,
            ),
            StoreKind::Stor if rest > 0 => {
                let (mut f, _) = jail.open_write_in_place(&p, false).map_err(Fail::Fs)?;
                f.set_len(rest).map_err(Fail::Fs)?;
                f.seek(SeekFrom::Start(rest)).map_err(Fail::Fs)?;
                (f, None, p)
            }
            StoreKind::Stor => {
                // Atomic: the data goes to a temporary file renamed over the target at the end.
                let (f, up) = jail.create_upload(&p).map_err(Fail::Fs)?;
                (f, Some(up), p)
            }
        };
        let unique = kind == StoreKind::Stou;
        let mut text = if unique {
            b"FILE: ".to_vec()
        } else {
            b"Ok to send data for ".to_vec()
        };
        text.extend_from_slice(p.file_name().unwrap_or(b"/"));
        self.reply(OPENING_DATA, text)?;
        let stream = match self.conn.data_stream(sock) {
            Ok(s) => s,
            Err(f) => {
                // (STOU's file was made under a name of ours: it goes too.)
                if unique {
                    let _ = self.jail.unlink(&p);
                }
                return Err(f);
            }
        };
        let ascii = self.ty == Type::Ascii;
        // What arrives is kept where keeping it can't hurt: a new file, or one written in
        // place (APPE, REST+STOR). An overwrite cut short is dropped and the old file stays.
        let keep_partial = match &upload {
            Some(up) => up.is_new(),
            None => !unique,
        };
        let mut moved = Self::move_data(&mut self.conn, self.rate.clone(), stream, &mut |t| {
            t.drain_on_ctl_loss = keep_partial;
            t.recv_file(&mut file, ascii)
        });
        // Before a rename replaces a good file, the new data must be on disk: after a power
        // cut the directory could otherwise point at an empty file. New files skip the cost.
        if moved.done.is_ok() && upload.as_ref().is_some_and(|u| u.replaces()) {
            moved.done = file.sync_data().map_err(Fail::Local);
        }
        drop(file);
        // A new file cut off by the network becomes what arrived, so SIZE shows it and
        // REST+STOR or APPE can complete it, as with vsftpd and pure-ftpd. Not after ABOR (the
        // user cancelled) or a local error (a full disk: the bytes did not all reach the file).
        let cut_off = matches!(
            moved.done,
            Err(Fail::Ctl(_) | Fail::DataConnection(_) | Fail::DataTimeout)
        );
        if let Some(up) = upload {
            if moved.done.is_ok() {
                moved.done = up.commit().map_err(Fail::Local);
            } else if cut_off && keep_partial {
                match up.commit() {
                    Ok(()) => log::info!(
                        "{} {}: kept {} bytes of {}",
                        self.conn.peer,
                        self.login.name,
                        moved.bytes,
                        display(&p.to_bytes())
                    ),
                    Err(e) => log::warn!("{}: keeping a partial upload: {e}", self.conn.peer),
                }
            }
        }
        // (An upload not committed removes its temporary file when dropped.)
        // STOU writes in place under a name it made up: a failed one leaves nothing behind.
        if unique && moved.done.is_err() {
            let _ = self.jail.unlink(&p);
        }
        let (verb, ok_text) = match kind {
            StoreKind::Stor => ("STOR", "Transfer complete."),
            StoreKind::Appe => ("APPE", "Transfer complete."),
            StoreKind::Stou => ("STOU", "Transfer complete (unique file name stored)."),
        };
        self.conclude(verb, &p, moved, ok_text)
    }
}
