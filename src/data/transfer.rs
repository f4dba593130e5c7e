//! A transfer in progress: moving a file or a listing over a data connection while
//! watching the control connection for ABOR, bounding stalls by the data timeout, pacing
//! by the bandwidth caps, and (binary, plain sockets) splicing instead of copying.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::PollFlags;

use super::Done;
use crate::control::Control;
use crate::limits;
use crate::net::{Stream, timespec};
use crate::rate::Limiter;
use crate::reply::Fail;

/// What a transfer watches while it moves bytes, and a checksum while it reads them (it
/// has no data connection): the control connection (ABOR, the client going away) and the
/// bandwidth caps.
pub struct Watch<'a> {
    pub ctl: &'a mut Control,
    /// An upload goes on to the end of its data when the control connection closes first
    /// (the bytes that arrived are kept), instead of stopping at once.
    pub drain_on_ctl_loss: bool,
    /// The control connection closed during the transfer.
    ctl_gone: bool,
    /// Bandwidth caps the bytes are taken from (the session's, its account's for this
    /// direction, the total).
    pub pace: [Option<Arc<Limiter>>; 3],
}

/// A transfer in progress: the data stream, what it watches, counters.
pub struct Transfer<'a> {
    pub w: Watch<'a>,
    pub data: Stream,
    pub timeout: Duration,
    pub bytes: u64,
    /// The most bytes an upload may bring (`--max-upload`, less what the file holds
    /// already); one more is an EFBIG error (552), that byte not written.
    pub recv_limit: Option<u64>,
    /// `--min-free`: the free bytes an upload must leave on its file system; below them
    /// the upload stops (452). Set with [`Transfer::leave_free`].
    min_free: Option<u64>,
    /// Where the free space is looked at next: where the room above the floor would run
    /// out, or [`limits::SPACE_CHECK_BYTES`] on, whichever is first (reads stop there).
    next_space_check: u64,
    /// Where the file's written pages are next handed to the disk (see [`Self::after_write`]).
    next_writeback: u64,
}

impl Transfer<'_> {
    /// A transfer on `data`, each of its reads and writes bounded by `timeout`.
    pub fn new(ctl: &mut Control, data: Stream, timeout: Duration) -> io::Result<Transfer<'_>> {
        data.set_timeouts(timeout)?;
        Ok(Transfer {
            w: Watch::new(ctl),
            data,
            timeout,
            bytes: 0,
            recv_limit: None,
            min_free: None,
            next_space_check: u64::MAX,
            next_writeback: limits::WRITEBACK_BYTES,
        })
    }

    /// An upload that must leave `floor` bytes free on its file system, `room` bytes above
    /// the floor when it started.
    pub fn leave_free(&mut self, floor: u64, room: u64) {
        self.min_free = Some(floor);
        self.next_space_check = room.clamp(SPACE_CHECK_MIN, limits::SPACE_CHECK_BYTES);
    }

    /// `allowed` bytes, or fewer so that an upload stops at its limit (one byte past it
    /// is asked for, to tell the end of the data from too much of it) and at its next look
    /// at the free space.
    fn upto_limit(&self, allowed: usize) -> usize {
        let to = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let allowed = match self.recv_limit {
            Some(limit) => allowed.min(to(limit.saturating_sub(self.bytes).saturating_add(1))),
            None => allowed,
        };
        allowed.min(to(self.next_space_check.saturating_sub(self.bytes)).max(1))
    }

    /// Whether the bytes received are past the upload's limit.
    fn over_limit(&self) -> bool {
        self.recv_limit.is_some_and(|l| self.bytes > l)
    }

    /// After each write into an upload's file: every [`limits::WRITEBACK_BYTES`] its
    /// written pages are handed to the disk, without waiting (so the disk writes while the
    /// data still comes, the sync before the 226 finds little left, and a router's RAM
    /// holds little unwritten upload); then the free-space check.
    fn after_write(&mut self, file: &File) -> Done {
        if self.bytes >= self.next_writeback {
            self.next_writeback = self.bytes + limits::WRITEBACK_BYTES;
            // (A file system that can't is synced at the end all the same.)
            let _ = crate::sys::sync_data(file, false);
        }
        self.check_space(file)
    }

    /// `--min-free`, every [`limits::SPACE_CHECK_BYTES`] received: an upload that left
    /// less free space on `file`'s file system than the floor stops (a full disk must
    /// never hurt the rest of the router, nor the uploads that came before).
    fn check_space(&mut self, file: &File) -> Done {
        let Some(floor) = self.min_free else {
            return Ok(());
        };
        if self.bytes < self.next_space_check {
            return Ok(());
        }
        let (free, _) = crate::vfs::free_space(file).map_err(Fail::Local)?;
        if free < floor {
            return Err(Fail::Local(crate::vfs::below_min_free(free, floor)));
        }
        let room = (free - floor).clamp(SPACE_CHECK_MIN, limits::SPACE_CHECK_BYTES);
        self.next_space_check = self.bytes + room;
        Ok(())
    }

    /// Waits until the data stream is ready for `flags`, watching the control connection;
    /// `Err` when the transfer must stop.
    fn wait(&mut self, flags: PollFlags) -> Done {
        if flags == PollFlags::IN && self.data.has_buffered() {
            return Ok(());
        }
        let mut deadline = Instant::now() + self.timeout;
        loop {
            if self.w.ctl_gone {
                let drain = Instant::now() + Duration::from_millis(limits::DRAIN_IDLE_MS);
                deadline = deadline.min(drain);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Fail::DataTimeout);
            }
            let watch_ctl = self.w.watching_ctl();
            let (ctl_ready, data_ready) = {
                let mut fds = [self.data.poll_fd(flags), self.w.ctl.poll_fd()];
                let n = if watch_ctl { 2 } else { 1 };
                match rustix::event::poll(&mut fds[..n], Some(&timespec(left))) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(Fail::DataConnection(e.into())),
                }
                (
                    watch_ctl && !fds[1].revents().is_empty(),
                    !fds[0].revents().is_empty(),
                )
            };
            if ctl_ready {
                self.w.ctl_input()?;
            }
            if data_ready {
                return Ok(());
            }
        }
    }

    /// The next turn of a download: how much the caps allow of `want`, once the socket
    /// takes more (watching for ABOR meanwhile).
    fn send_turn(&mut self, want: usize) -> Result<usize, Fail> {
        let allowed = self.w.throttle(want)?;
        self.wait(PollFlags::OUT)?;
        Ok(allowed)
    }

    /// Writes all of `buf`, watching for ABOR between waits.
    fn write_all(&mut self, mut buf: &[u8]) -> Done {
        while !buf.is_empty() {
            let allowed = self.send_turn(buf.len())?;
            let r = self.data.write(&buf[..allowed]);
            self.w.unused(allowed, *r.as_ref().unwrap_or(&0));
            match r {
                Ok(0) => return Err(Fail::DataConnection(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    buf = &buf[n..];
                    self.bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(Fail::DataTimeout),
                Err(e) => return Err(Fail::DataConnection(e)),
            }
        }
        Ok(())
    }

    /// Sends bytes already in memory (a listing).
    pub fn send_bytes(&mut self, buf: &[u8]) -> Done {
        self.write_all(buf)
    }

    /// Ends a download in order after its last byte (see [`Stream::finish`]).
    pub fn finish(&mut self) -> Done {
        self.data.finish().map_err(Fail::DataConnection)
    }

    /// Sends a file from `offset` (`size`: its size when opened). Binary over a plain
    /// socket: sendfile(2) when what is left fits one pipeful, else splice(2) through a
    /// pipe of our own; ASCII: LF becomes CRLF.
    pub fn send_file(&mut self, file: &mut File, offset: u64, size: u64, ascii: bool) -> Done {
        if !ascii && size.saturating_sub(offset) <= limits::PIPE_SIZE as u64 {
            if let Some(done) = self.send_sendfile(file, offset) {
                return done;
            }
        } else if !ascii && let Some(done) = self.send_splice(file, offset) {
            return done;
        }
        self.send_buffered(file, offset, ascii)
    }

    /// A small binary download: sendfile(2), file to socket in one call, no pipe to make
    /// (a small file paid more for its 1 MiB pipe than for moving its bytes). It goes on to
    /// the end of the file, should the file have grown. `None`: as for [`Self::send_splice`].
    fn send_sendfile(&mut self, file: &File, offset: u64) -> Option<Done> {
        use rustix::io::Errno;
        self.data.zero_copy()?;
        let mut off = offset;
        loop {
            let allowed = match self.send_turn(limits::PIPE_SIZE) {
                Ok(n) => n,
                Err(f) => return Some(Err(f)),
            };
            let sock = self.data.zero_copy()?;
            // Blocks while the client is slow; SO_SNDTIMEO (the data timeout) bounds it.
            let res = rustix::fs::sendfile(sock, file, Some(&mut off), allowed);
            self.w.unused(allowed, *res.as_ref().unwrap_or(&0));
            match res {
                Ok(0) => return Some(Ok(())),
                Ok(n) => self.bytes += n as u64,
                Err(Errno::INTR) => {}
                Err(Errno::INVAL | Errno::NOSYS) if self.bytes == 0 && off == offset => {
                    return None;
                }
                Err(Errno::AGAIN) => return Some(Err(Fail::DataTimeout)),
                // The socket's errors end the connection; any other is the file's.
                Err(e @ (Errno::PIPE | Errno::CONNRESET | Errno::NOTCONN | Errno::TIMEDOUT)) => {
                    return Some(Err(Fail::DataConnection(e.into())));
                }
                Err(e) => return Some(Err(Fail::Local(e.into()))),
            }
        }
    }

    /// Binary download through a pipe: file → pipe → socket with splice(2). The file's pages
    /// are passed by reference, never copied through user space (sendfile(2) does the same
    /// through a 64 KiB pipe of its own; a 1 MiB pipe hands TCP 16 times more per call,
    /// which measured 4-7% faster and 7% less CPU per GiB on loopback). The control
    /// connection is checked for ABOR between pipefuls. `None` (nothing sent yet) means
    /// splice can't be used here (no pipe to be had, a file system without splice): the
    /// caller copies through a buffer instead.
    fn send_splice(&mut self, file: &File, offset: u64) -> Option<Done> {
        use rustix::io::Errno;
        use rustix::pipe::{SpliceFlags, splice};
        self.data.zero_copy()?;
        let (r, w, cap) = big_pipe()?;
        let mut off = offset;
        loop {
            let allowed = match self.send_turn(cap) {
                Ok(n) => n,
                Err(f) => return Some(Err(f)),
            };
            let res = splice(
                file,
                Some(&mut off),
                &w,
                None,
                allowed,
                SpliceFlags::empty(),
            );
            self.w.unused(allowed, *res.as_ref().unwrap_or(&0));
            let n = match res {
                Ok(0) => return Some(Ok(())),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(Errno::INVAL | Errno::NOSYS) if self.bytes == 0 && off == offset => {
                    return None;
                }
                Err(e) => return Some(Err(Fail::Local(e.into()))),
            };
            // The next pipeful is read from the disk while this one goes out: splice reads
            // only what it is asked for at once, and the kernel's readahead (128 KiB) is far
            // less than a pipeful, so a download from a USB disk would otherwise alternate
            // between waiting for the disk and waiting for the network (on the armv7 board:
            // 6.9 MiB/s, the CPU 40% idle; vsftpd's sendfile 11 MiB/s). A no-op for pages
            // already cached.
            let _ = rustix::fs::fadvise(
                file,
                off,
                std::num::NonZeroU64::new(cap as u64),
                rustix::fs::Advice::WillNeed,
            );
            let sock = self.data.zero_copy()?;
            let mut left = n;
            while left > 0 {
                // Blocks while the client is slow; SO_SNDTIMEO (the data timeout) bounds it.
                match splice(&r, None, sock, None, left, SpliceFlags::empty()) {
                    Ok(0) => {
                        let e = io::ErrorKind::WriteZero.into();
                        return Some(Err(Fail::DataConnection(e)));
                    }
                    Ok(m) => {
                        left -= m;
                        self.bytes += m as u64;
                    }
                    Err(Errno::INTR) => {}
                    Err(Errno::AGAIN) => return Some(Err(Fail::DataTimeout)),
                    Err(e) => return Some(Err(Fail::DataConnection(e.into()))),
                }
            }
        }
    }

    /// Sends through a buffer: ASCII mode (LF becomes CRLF), or binary where splice can't.
    fn send_buffered(&mut self, file: &mut File, offset: u64, ascii: bool) -> Done {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(offset)).map_err(Fail::Local)?;
        let mut buf = vec![0u8; limits::RECV_BUF];
        let mut out = Vec::new();
        let mut prev_cr = false;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Fail::Local(e)),
            };
            let chunk = if ascii {
                out.clear();
                prev_cr = to_crlf(&buf[..n], &mut out, prev_cr);
                &out[..]
            } else {
                &buf[..n]
            };
            self.write_all(chunk)?;
        }
    }

    /// Receives into `file` until the client closes the data connection.
    /// Binary: splice(2) where it can; ASCII: CRLF becomes LF.
    /// With [`Transfer::drain_on_ctl_loss`], a control connection that closed meanwhile is
    /// reported once the data has ended.
    pub fn recv_file(&mut self, file: &mut File, ascii: bool) -> Done {
        let done = self.recv_data(file, ascii);
        if self.w.ctl_gone {
            return Err(client_gone());
        }
        done
    }

    fn recv_data(&mut self, file: &mut File, ascii: bool) -> Done {
        if !ascii && let Some(done) = self.recv_splice(file) {
            return done;
        }
        let mut buf = vec![0u8; UPLOAD_BUF];
        let mut out = Vec::new();
        let mut pending_cr = false;
        loop {
            self.wait(PollFlags::IN)?;
            let allowed = self.w.throttle(self.upto_limit(buf.len()))?;
            let r = self.data.read(&mut buf[..allowed]);
            self.w.unused(allowed, *r.as_ref().unwrap_or(&0));
            let n = match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Err(Fail::DataTimeout),
                Err(e) => return Err(Fail::DataConnection(e)),
            };
            self.bytes += n as u64;
            if self.over_limit() {
                return Err(too_big());
            }
            let chunk = if ascii {
                out.clear();
                pending_cr = from_crlf(&buf[..n], &mut out, pending_cr);
                &out[..]
            } else {
                &buf[..n]
            };
            file.write_all(chunk).map_err(Fail::Local)?;
            self.after_write(file)?;
        }
        if pending_cr {
            file.write_all(b"\r").map_err(Fail::Local)?;
        }
        Ok(())
    }

    /// Binary upload through a pipe: socket → pipe → file with splice(2), so the data is
    /// copied once (into the page cache) instead of twice through a user-space buffer.
    /// `None` means splice can't be used here (no pipe, an O_APPEND file on an older kernel,
    /// a file system without splice): the caller falls back to read/write. Bytes already in
    /// the pipe are written out before falling back, so nothing is lost or reordered.
    fn recv_splice(&mut self, file: &mut File) -> Option<Done> {
        use rustix::io::Errno;
        use rustix::pipe::{SpliceFlags, splice};
        self.data.zero_copy()?;
        // A new pipe holds 64 KiB (or less, past pipe-user-pages-soft): enough for a small
        // upload. One that arrives faster than that gets the 1 MiB pipe after its first fill.
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ok()?;
        let mut cap = SMALL_PIPE;
        let mut grown = false;
        // Whether it splices on past its first pipeful (see `to_buffer` below).
        let past_one_pipe = UPLOAD_SPLICE_PAST_ONE_PIPE && !self.data.is_tls();
        let mut wait_in_splice = false;
        let local = |e: io::Error| Some(Err(Fail::Local(e)));
        loop {
            if let Err(f) = self.wait(PollFlags::IN) {
                return Some(Err(f));
            }
            let allowed = match self.w.throttle(self.upto_limit(cap)) {
                Ok(n) => n,
                Err(f) => return Some(Err(f)),
            };
            let flags = if wait_in_splice {
                SpliceFlags::MOVE
            } else {
                SpliceFlags::MOVE | SpliceFlags::NONBLOCK
            };
            let sock = self.data.zero_copy()?;
            let res = splice(sock, None, &w, None, allowed, flags);
            self.w.unused(allowed, *res.as_ref().unwrap_or(&0));
            let n = match res {
                Ok(0) => return Some(Ok(())),
                Ok(n) => n,
                // SO_RCVTIMEO, the data timeout, ended a wait in splice.
                Err(Errno::AGAIN) if wait_in_splice => return Some(Err(Fail::DataTimeout)),
                // The kernel's TLS holds part of a record: poll calls the socket readable
                // while splice has nothing to give until the record is whole, so polling
                // again would spin (on a slow link, for every segment of every record).
                // From now on splice itself waits for each record, bounded by the data
                // timeout (ABOR is then seen between records).
                Err(Errno::AGAIN) if self.data.is_tls() => {
                    wait_in_splice = true;
                    continue;
                }
                Err(Errno::INTR | Errno::AGAIN) => continue,
                // The kernel's TLS has a record that is not data (the client's
                // close_notify): read() takes it. The pipe is empty here.
                Err(Errno::INVAL | Errno::NOSYS) if self.bytes == 0 || self.data.is_tls() => {
                    return None;
                }
                Err(e) => return Some(Err(Fail::DataConnection(e.into()))),
            };
            self.bytes += n as u64;
            if self.over_limit() {
                // What went past the limit stays in the pipe, never in the file.
                return Some(Err(too_big()));
            }
            // A long upload goes on through a buffer once a pipeful is in the file: on MIPS
            // and aarch64 (see UPLOAD_SPLICE_PAST_ONE_PIPE), and everywhere from the
            // kernel's TLS, which then decrypts each record straight into the buffer
            // (ktls.rs: TLS_RX_EXPECT_NO_PAD) where splice has it decrypt into a buffer of
            // its own first (the armv7 board, 64 MiB over FTPS, servers taking turns: 18.5
            // million instructions a MiB against 20.3 splicing on). Counted in bytes: a
            // splice rarely fills the pipe at once when the data comes a segment at a time.
            let to_buffer = !past_one_pipe && self.bytes >= SMALL_PIPE as u64;
            if n >= cap && !grown && past_one_pipe {
                grown = true;
                if let Ok(c) = rustix::pipe::fcntl_setpipe_size(&w, limits::PIPE_SIZE) {
                    cap = c;
                }
            }
            let mut left = n;
            while left > 0 {
                match splice(&r, None, file.as_fd(), None, left, SpliceFlags::MOVE) {
                    Ok(0) => return local(io::ErrorKind::WriteZero.into()),
                    Ok(m) => left -= m,
                    Err(Errno::INTR) => {}
                    Err(Errno::INVAL | Errno::NOSYS) => {
                        // The file can't take splice: move what the pipe holds by hand.
                        let mut buf = vec![0u8; left];
                        let drained = rustix::io::read(&r, &mut buf)
                            .map_err(io::Error::from)
                            .and_then(|k| file.write_all(&buf[..k]).map(|_| k));
                        return match drained {
                            Ok(k) if k == left => None,
                            Ok(_) => local(io::ErrorKind::WriteZero.into()),
                            Err(e) => local(e),
                        };
                    }
                    Err(e) => return local(e.into()),
                }
            }
            // (Once the bytes are in the file: the free space then counts them.)
            if let Err(f) = self.after_write(file) {
                return Some(Err(f));
            }
            if to_buffer {
                return None;
            }
        }
    }
}

impl<'a> Watch<'a> {
    pub fn new(ctl: &'a mut Control) -> Watch<'a> {
        Watch {
            ctl,
            drain_on_ctl_loss: false,
            ctl_gone: false,
            pace: [None, None, None],
        }
    }

    /// Between two pieces of work that wait on no data connection (a checksum's reads):
    /// ABOR (426, then 226), the client going away, or a QUIT held (which then runs) stop
    /// the work.
    pub fn interrupted(&mut self) -> Done {
        self.pause(Duration::ZERO)?;
        if self
            .ctl
            .holds(|l| l.trim_ascii().eq_ignore_ascii_case(b"QUIT"))
        {
            return Err(Fail::Reply(
                crate::reply::TRANSFER_ABORTED,
                "Stopped: QUIT came.",
            ));
        }
        Ok(())
    }

    /// Whether the control connection is watched now. With the held commands at their
    /// limit it is left unread (back-pressure: a flood of NOOPs waits, it does not end the
    /// transfer), and once it closed there is nothing more to read.
    fn watching_ctl(&self) -> bool {
        !self.ctl.queue_full() && !self.ctl_gone
    }

    /// Reads what arrived on the control connection: ABOR stops the transfer, and so does
    /// the client going away (unless the upload drains its data first). Other commands stay
    /// queued for after the transfer, as RFC 959 asks; those before an ABOR are dropped
    /// with it.
    fn ctl_input(&mut self) -> Done {
        if !self.ctl.read_more() {
            if self.drain_on_ctl_loss {
                self.ctl_gone = true;
                return Ok(());
            }
            return Err(client_gone());
        }
        if self
            .ctl
            .take_through(|line| line.trim_ascii().eq_ignore_ascii_case(b"ABOR"))
        {
            return Err(Fail::Aborted);
        }
        Ok(())
    }

    /// How many of `want` bytes may move now under the bandwidth caps; waits (watching for
    /// ABOR) until some may. Uncapped transfers return at once.
    pub fn throttle(&mut self, want: usize) -> Result<usize, Fail> {
        if self.pace.iter().all(Option::is_none) {
            return Ok(want);
        }
        let mut n = want;
        let mut taken = [0usize; 3];
        let mut wait = Duration::ZERO;
        for (i, l) in self.pace.iter().enumerate() {
            if let Some(l) = l {
                let (got, w) = l.take(n);
                taken[i] = got;
                n = n.min(got);
                wait = wait.max(w);
            }
        }
        for (i, l) in self.pace.iter().enumerate() {
            if let Some(l) = l
                && taken[i] > n
            {
                l.give_back(taken[i] - n);
            }
        }
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(n);
            }
            if let Err(f) = self.pause(left) {
                self.unused(n, 0);
                return Err(f);
            }
        }
    }

    /// Gives back what [`Transfer::throttle`] granted and did not move.
    pub fn unused(&self, granted: usize, moved: usize) {
        if granted > moved {
            for l in self.pace.iter().flatten() {
                l.give_back(granted - moved);
            }
        }
    }

    /// Waits `d` for the pace, answering ABOR (and noticing the client go) meanwhile.
    pub fn pause(&mut self, d: Duration) -> Done {
        if !self.watching_ctl() {
            std::thread::sleep(d);
            return Ok(());
        }
        let mut fds = [self.ctl.poll_fd()];
        match rustix::event::poll(&mut fds, Some(&timespec(d))) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Fail::DataConnection(e.into())),
        }
        if fds[0].revents().is_empty() {
            return Ok(());
        }
        self.ctl_input()
    }
}

/// `--min-free`: the least an upload writes between two looks at the free space (a block:
/// so near the floor it is not read a byte at a time).
const SPACE_CHECK_MIN: u64 = 4096;

/// What a new pipe holds (16 pages).
const SMALL_PIPE: usize = 64 * 1024;

/// Whether an upload splices on once its first pipeful is in (into a 1 MiB pipe), or goes
/// on through a buffer (read and write). Splice from the socket copies once where read
/// and write copy twice, and is the cheaper on x86 and 32-bit ARM. On MIPS, whose data
/// caches alias, the pages splice passes by reference cost more than the copy (the mipsel
/// board, 64 MiB plain, servers taking turns: 61 ms of CPU per MiB this way against 82
/// splicing on, where vsftpd's read/write costs 44); on the aarch64 board too (medians of
/// three rounds, one boot: 44 against 49 ms/MiB and 24.5 against 20.9 MiB/s plain, 105
/// against 139 ms/MiB over FTPS in the kernel's TLS; the peers 41 and 44 plain). A small
/// upload, one pipeful, splices anyway: through a buffer (of 256 KiB) it cost half again
/// as much CPU on mipsel. (From the kernel's TLS an upload goes on through the buffer on
/// every target: see [`Transfer::recv_splice`].)
const UPLOAD_SPLICE_PAST_ONE_PIPE: bool = !cfg!(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "aarch64"
));

/// The buffer of an upload that does not splice. A buffer over musl's mmap threshold (128
/// KiB) is a fresh mapping per upload, each of whose pages the kernel zeroes (and whose
/// unmapping flushes MIPS's data cache): 64 KiB, as vsftpd reads.
const UPLOAD_BUF: usize = if UPLOAD_SPLICE_PAST_ONE_PIPE {
    limits::RECV_BUF
} else {
    64 * 1024
};

/// A pipe for splice(2) and its capacity: [`limits::PIPE_SIZE`] when the kernel allows, or
/// whatever it gave (an unprivileged user past /proc/sys/fs/pipe-user-pages-soft gets a
/// small pipe, and that still works, in more calls). `None` when no pipe can be made.
fn big_pipe() -> Option<(OwnedFd, OwnedFd, usize)> {
    use rustix::pipe::{PipeFlags, fcntl_getpipe_size, fcntl_setpipe_size, pipe_with};
    let (r, w) = pipe_with(PipeFlags::CLOEXEC).ok()?;
    let cap = fcntl_setpipe_size(&w, limits::PIPE_SIZE)
        .or_else(|_| fcntl_getpipe_size(&w))
        .ok()?;
    Some((r, w, cap))
}

/// What a transfer ends in when the control connection closed: nobody is left to reply to.
fn client_gone() -> Fail {
    Fail::Ctl(io::ErrorKind::ConnectionAborted.into())
}

/// An upload past `--max-upload`: EFBIG, as the kernel says for RLIMIT_FSIZE (552).
fn too_big() -> Fail {
    Fail::Local(io::Error::from_raw_os_error(
        rustix::io::Errno::FBIG.raw_os_error(),
    ))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// LF → CRLF, leaving existing CRLF alone. Returns whether `input` ended with CR.
pub fn to_crlf(input: &[u8], out: &mut Vec<u8>, mut prev_cr: bool) -> bool {
    for &b in input {
        if b == b'\n' && !prev_cr {
            out.push(b'\r');
        }
        out.push(b);
        prev_cr = b == b'\r';
    }
    prev_cr
}

/// CRLF → LF; a lone CR is kept. `pending_cr` carries a CR split from its LF across chunks.
pub fn from_crlf(input: &[u8], out: &mut Vec<u8>, mut pending_cr: bool) -> bool {
    for &b in input {
        if pending_cr {
            pending_cr = false;
            if b != b'\n' {
                out.push(b'\r');
            }
        }
        if b == b'\r' {
            pending_cr = true;
        } else {
            out.push(b);
        }
    }
    pending_cr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_conversions_across_chunks() {
        let mut o = Vec::new();
        let p = to_crlf(b"a\nb\r", &mut o, false);
        to_crlf(b"\nc\n", &mut o, p);
        assert_eq!(o, b"a\r\nb\r\nc\r\n");
        let mut o = Vec::new();
        let p = from_crlf(b"a\r\nb\r", &mut o, false);
        let p = from_crlf(b"\nc\rd", &mut o, p);
        assert!(!p);
        assert_eq!(o, b"a\nb\nc\rd");
    }
}
