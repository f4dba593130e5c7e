//! File checksums: HASH (draft-bryan-ftpext-hash, with OPTS HASH choosing the algorithm)
//! and the older XMD5, XSHA1, XSHA256, XSHA512 and XCRC (proftpd's mod_digest, FileZilla,
//! Serv-U), with their optional byte ranges.
//!
//! A checksum reads its file through the jail like RETR (a drop box refuses it), at the pace
//! of the bandwidth caps, and watches the control connection between its reads: ABOR, QUIT
//! or the client going away stop even a 4 GiB file's. At most
//! [`limits::CHECKSUMS_AT_ONCE`] run at once (a router's CPU is for the transfers).

use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::{Result, Session, display};
use crate::data::Watch;
use crate::digest::{Algo, Checksum};
use crate::limits;
use crate::reply::{Fail, *};

/// Checksums running now, in the whole server.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// A place among the checksums running; given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        if RUNNING.fetch_add(1, Ordering::SeqCst) >= limits::CHECKSUMS_AT_ONCE {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Session {
    /// HASH: `213 SHA-256 0-SIZE HEX path`.
    pub(super) fn hash(&mut self, arg: &[u8]) -> Result {
        let algo = self.conn.hash_algo;
        let (hex, start, end) = self.checksum(algo, arg, 0, None)?;
        let mut text = format!("{} {start}-{end} {hex} ", algo.name()).into_bytes();
        text.extend_from_slice(arg);
        self.reply(FILE_STATUS, text)
    }

    /// XMD5 and the like: `250 HEX`.
    pub(super) fn xhash(
        &mut self,
        algo: Algo,
        path: &[u8],
        start: u64,
        end: Option<u64>,
    ) -> Result {
        let (hex, ..) = self.checksum(algo, path, start, end)?;
        self.reply(FILE_ACTION_OK, hex)
    }

    /// The checksum of `arg`'s bytes from `start` to `end` (the file's end when None or
    /// past it): the hex, and the range it covers.
    fn checksum(
        &mut self,
        algo: Algo,
        arg: &[u8],
        start: u64,
        end: Option<u64>,
    ) -> Result<(String, u64, u64)> {
        let p = self.path(arg)?;
        let (mut file, meta) = self.jail.open_read(&p).map_err(Fail::Fs)?;
        let end = end.unwrap_or(meta.size).min(meta.size);
        if start > end {
            return Err(Fail::Reply(
                BAD_ARGUMENTS,
                "The range starts past the end of the file.",
            ));
        }
        let _slot = Slot::take().ok_or(Fail::Reply(
            FILE_BUSY,
            "Too many checksums at once; try again shortly.",
        ))?;
        file.seek(SeekFrom::Start(start)).map_err(Fail::Local)?;
        let began = Instant::now();
        let [session, account] = self.caps(false);
        let total = self.conn.ctx.total_rate.clone();
        let mut w = Watch::new(&mut self.conn.ctl);
        w.pace = [session, account, total];
        let mut sum = Checksum::new(algo);
        let mut buf = vec![0u8; limits::CHECKSUM_CHUNK];
        let mut left = end - start;
        while left > 0 {
            let want = w.throttle(buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)))?;
            let read = file.read(&mut buf[..want]);
            w.unused(want, *read.as_ref().unwrap_or(&0));
            let n = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Fail::Local(e)),
            };
            sum.update(&buf[..n]);
            left -= n as u64;
            w.interrupted()?;
        }
        let ms = began.elapsed().as_millis() as u64;
        log::info!(
            "{} {}: {} of {} bytes {start}-{} {}.{:03}s",
            self.conn.peer,
            self.login.name,
            algo.name(),
            display(&p.to_bytes()),
            end - left,
            ms / 1000,
            ms % 1000
        );
        Ok((sum.hex(), start, end - left))
    }
}
