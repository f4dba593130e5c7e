//! File transfers: RETR, STOR, APPE and STOU. Each checks what it can before the data
//! connection exists, opens the file only then (a refused or failed upload leaves no
//! trace), and moves the data through the one runner, [`Session::move_data`], which counts
//! the transfer for shutdown and applies the bandwidth caps; [`Session::conclude`] logs its
//! result. What each upload writes to, and what becomes of it, is `vfs::upload`'s
//! [`Target`](crate::vfs::Target).

use std::sync::Arc;
use std::time::Instant;

use super::{Conn, Result, Session, display, name_allowed};
use crate::auth::Home;
use crate::command::Type;
use crate::data::{Done, Transfer};
use crate::net::Stream;
use crate::rate::Limiter;
use crate::reply::{Fail, *};
use crate::vfs::{Kind, UploadKind, VPath};

/// The three upload commands (what each writes to is `vfs::UploadKind`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreVerb {
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
    /// `caps`: the session's and its account's for this direction.
    pub(super) fn move_data(
        conn: &mut Conn,
        caps: [Option<Arc<Limiter>>; 2],
        stream: Stream,
        body: &mut dyn FnMut(&mut Transfer<'_>) -> Done,
    ) -> Moved {
        let start = Instant::now();
        let ctx = Arc::clone(&conn.ctx);
        let _busy = ctx.transfer_started();
        let (done, bytes) = match Transfer::new(&mut conn.ctl, stream, ctx.cfg.data_timeout) {
            Ok(mut t) => {
                let [session, account] = caps;
                t.w.pace = [session, account, ctx.total_rate.clone()];
                (body(&mut t), t.bytes)
            }
            Err(e) => (Err(Fail::DataConnection(e)), 0),
        };
        conn.arm_trim();
        Moved { done, bytes, start }
    }

    /// The caps a transfer up (`up`) or down takes from besides the total: the session's
    /// and its account's.
    pub(super) fn caps(&self, up: bool) -> [Option<Arc<Limiter>>; 2] {
        let account = if up { &self.seat.up } else { &self.seat.down };
        [self.rate.clone(), account.clone()]
    }

    /// Logs how a transfer of `p` ended and replies 226 when it is complete; a failure
    /// is returned for [`Conn::fail`] to answer.
    fn conclude(&mut self, verb: &str, p: &VPath, m: Moved, ok_text: &'static str) -> Result {
        self.xferlog(verb, p, &m);
        let result = match &m.done {
            Ok(()) => "ok",
            Err(f) => {
                match f {
                    // (The verb says whether the disk was being read or written.)
                    Fail::Local(e) => log::warn!(
                        "{} {}: {verb} {}: the disk at {}: {e}",
                        self.conn.peer,
                        self.login.name,
                        display(&p.to_bytes()),
                        self.disk().display()
                    ),
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
        let ascii = self.ty == Type::Ascii;
        let mode = if ascii { "ASCII" } else { "BINARY" };
        let mut text = format!("Opening {mode} mode data connection for ").into_bytes();
        text.extend_from_slice(p.file_name().unwrap_or(b"/"));
        text.extend_from_slice(format!(" ({} bytes).", meta.size).as_bytes());
        let ((), stream) = self.open_data(|_| Ok(((), text)))?;
        let caps = self.caps(false);
        let doing = self.seat.doing("RETR", &p.to_bytes());
        let moved = Self::move_data(&mut self.conn, caps, stream, &mut |t| {
            t.send_file(&mut file, rest, meta.size, ascii)?;
            t.finish()
        });
        drop(doing);
        self.conclude("RETR", &p, moved, "Transfer complete.")
    }

    pub(super) fn store(&mut self, arg: &[u8], verb: StoreVerb) -> Result {
        let rest = std::mem::take(&mut self.rest);
        // Checks that touch nothing come first, then the data connection, and only then is a
        // file created or truncated: a refused or failed upload leaves no trace.
        let (p, kind) = match verb {
            StoreVerb::Stou => (
                self.path(if arg.is_empty() { b"ftp" } else { arg })?,
                UploadKind::Unique,
            ),
            StoreVerb::Appe => (self.path(arg)?, UploadKind::Append),
            StoreVerb::Stor if rest > 0 => (self.path(arg)?, UploadKind::Resume(rest)),
            StoreVerb::Stor => (self.path(arg)?, UploadKind::Stor),
        };
        name_allowed(&p)?;
        // Before the data connection: may this account upload there at all, and is there
        // room above --min-free?
        self.jail.check_upload(&p, kind).map_err(Fail::Fs)?;
        if let UploadKind::Resume(offset) = kind {
            let meta = self.jail.stat(&p).map_err(Fail::Fs)?;
            if meta.kind == Kind::Other {
                return Err(Fail::Fs(crate::vfs::not_regular()));
            }
            if meta.kind != Kind::File || offset > meta.size {
                return Err(Fail::Reply(
                    INVALID_REST,
                    "Restart offset is beyond the end of the file.",
                ));
            }
        }
        let (mut target, stream) = self.open_data(|s| {
            let client = std::os::fd::AsRawFd::as_raw_fd(s.conn.ctl.stream().socket());
            let target = s.jail.open_upload(&p, kind, client).map_err(Fail::Fs)?;
            let mut text = if kind == UploadKind::Unique {
                b"FILE: ".to_vec()
            } else {
                b"Ok to send data for ".to_vec()
            };
            text.extend_from_slice(target.path().file_name().unwrap_or(b"/"));
            Ok((target, text))
        })?;
        let ascii = self.ty == Type::Ascii;
        let keeps_partial = target.keeps_partial();
        let room = target.room();
        let caps = self.caps(true);
        let (name, ok_text) = match verb {
            StoreVerb::Stor => ("STOR", "Transfer complete."),
            StoreVerb::Appe => ("APPE", "Transfer complete."),
            StoreVerb::Stou => ("STOU", "Transfer complete (unique file name stored)."),
        };
        let doing = self.seat.doing(name, &target.path().to_bytes());
        let mut moved = Self::move_data(&mut self.conn, caps, stream, &mut |t| {
            t.w.drain_on_ctl_loss = keeps_partial;
            t.recv_limit = room.limit;
            if let Some((floor, left)) = room.min_free {
                t.leave_free(floor, left);
            }
            t.recv_file(target.file(), ascii)?;
            // TLS: the client's close_notify ended the data; answer it (ftplib waits for it
            // before it reads the 226). The data is all in: a client already gone changes
            // nothing.
            let _ = t.finish();
            Ok(())
        });
        let p = target.path().clone();
        // A new file cut off by the network becomes what arrived (see Target::keeps_partial).
        // Not after ABOR (the user cancelled) or a local error (a full disk: the bytes did not
        // all reach the file). (A target neither committed nor kept cleans up when dropped.)
        let cut_off = matches!(
            moved.done,
            Err(Fail::Ctl(_) | Fail::DataConnection(_) | Fail::DataTimeout)
        );
        // The file's size for --on-upload (an APPE's is more than the bytes received).
        let size = match self.conn.ctx.cfg.on_upload {
            Some(_) => target.file().metadata().map_or(moved.bytes, |m| m.len()),
            None => moved.bytes,
        };
        if moved.done.is_ok() {
            // A drop box's name taken meanwhile is the client's 550, not a local error.
            moved.done = target.commit().map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Fail::Fs(e),
                _ => Fail::Local(e),
            });
        } else if cut_off {
            match target.keep_partial() {
                Ok(true) => log::info!(
                    "{} {}: kept {} bytes of {}",
                    self.conn.peer,
                    self.login.name,
                    moved.bytes,
                    display(&p.to_bytes())
                ),
                Ok(false) => {}
                Err(e) => log::warn!("{}: keeping a partial upload: {e}", self.conn.peer),
            }
        }
        drop(doing);
        let done = moved.done.is_ok();
        self.conclude(name, &p, moved, ok_text)?;
        if done {
            self.on_upload(&p, size);
        }
        Ok(())
    }

    /// The disk the session's folder is on, as the log names it: its mount point, or the
    /// folder itself when it is on the root file system.
    fn disk(&self) -> std::path::PathBuf {
        let folder = self.login.home.dir(&self.conn.ctx.cfg.root);
        self.conn
            .ctx
            .disks
            .mount_of(folder)
            .unwrap_or_else(|| folder.to_path_buf())
    }

    /// `--xferlog`: the transfer's line.
    fn xferlog(&self, verb: &str, p: &VPath, m: &Moved) {
        let Some(log) = &self.conn.ctx.cfg.xferlog else {
            return;
        };
        let Ok(file) = self.disk_path(p) else {
            return;
        };
        log.write(&crate::xferlog::Entry {
            secs: m.start.elapsed().as_secs(),
            client: self.conn.peer,
            bytes: m.bytes,
            file: &file,
            ascii: self.ty == Type::Ascii,
            incoming: verb != "RETR",
            anonymous: self.login.home == Home::Anonymous,
            user: &self.login.name,
            complete: m.done.is_ok(),
        });
    }

    /// Where `p` is on the disk (the home, then the walk's real directories), for the
    /// transfer log and the upload hook.
    fn disk_path(&self, p: &VPath) -> std::io::Result<std::path::PathBuf> {
        let home = self.login.home.dir(&self.conn.ctx.cfg.root);
        Ok(home.join(self.jail.real_path(p)?))
    }

    /// `--on-upload`: queues the hook for a completed upload (after its 226; see hook.rs).
    fn on_upload(&self, p: &VPath, size: u64) {
        let cfg = &self.conn.ctx.cfg;
        let Some(program) = &cfg.on_upload else {
            return;
        };
        let file = match self.disk_path(p) {
            Ok(file) => file,
            Err(e) => {
                log::warn!("--on-upload: {}: {e}", display(&p.to_bytes()));
                return;
            }
        };
        crate::hook::queue(crate::hook::Run {
            program: program.clone(),
            file,
            timeout: cfg.on_upload_timeout,
            umask: self.jail.umask(),
            env: vec![
                ("EDGEFTPD_USER", self.login.name.clone()),
                ("EDGEFTPD_CLIENT", self.conn.peer.to_string()),
                (
                    "EDGEFTPD_PATH",
                    String::from_utf8_lossy(&p.to_bytes()).into_owned(),
                ),
                ("EDGEFTPD_SIZE", size.to_string()),
            ],
        });
    }
}
