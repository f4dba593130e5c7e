//! Data connections and transfers.
//!
//! Passive listeners come only from the configured port range (a router's firewall opens
//! exactly that range); active connections go only back to the control connection's peer.
//! Transfers watch the control connection between chunks so ABOR stops them, and a data
//! timeout ends a stalled peer. Binary transfers use splice(2) through a pipe: a download's
//! file pages go to the socket, and an upload's socket buffers to the file, without passing
//! through user space.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::Timespec;

use crate::config::limits;
use crate::control::{Control, Interrupt};

/// How the next data connection will be made.
#[derive(Default)]
pub enum Setup {
    #[default]
    None,
    Passive(TcpListener),
    Active(SocketAddr),
}

/// How a transfer ended.
#[derive(Debug)]
pub enum Outcome {
    Complete,
    /// ABOR arrived on the control connection (and was consumed).
    Aborted,
    /// The control connection closed: nobody to reply to.
    ClientGone,
    /// The data connection failed (reset, closed early).
    DataError(io::Error),
    /// No progress within the data timeout.
    TimedOut,
    /// Reading or writing the file failed (disk full, I/O error).
    LocalError(io::Error),
}

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// Binds a passive listener on `ip` with a port from `min..=max`. Starts where the last
/// session left off so consecutive sessions don't all probe the same ports.
pub fn listen_passive(ip: IpAddr, min: u16, max: u16) -> io::Result<TcpListener> {
    let span = u32::from(max - min) + 1;
    let start = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    for i in 0..span {
        let port = min + ((start.wrapping_add(i)) % span) as u16;
        match TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(l) => {
                NEXT_PORT.store(start.wrapping_add(i + 1), Ordering::Relaxed);
                return Ok(l);
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "passive port range exhausted",
    ))
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Waits for the client's data connection on a passive listener.
/// SECURITY: a connection from any address other than the control connection's peer is
/// closed unserved (it could be someone stealing the file); we keep waiting for the client.
pub fn accept_passive(l: TcpListener, peer: IpAddr, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    l.set_nonblocking(true)?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no data connection",
            ));
        }
        let mut fds = [PollFd::new(&l, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timespec(left))) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        match l.accept() {
            Ok((s, from)) => {
                if from.ip().to_canonical() != peer {
                    log::warn!("data connection from {from} refused: the client is {peer}");
                    continue;
                }
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Connects to the client for an active-mode transfer (the address was checked by the caller).
pub fn connect_active(to: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&to, timeout)
}

/// A transfer in progress: the data socket, the control connection to watch, counters.
pub struct Transfer<'a> {
    pub ctl: &'a mut Control,
    pub data: TcpStream,
    pub timeout: Duration,
    pub bytes: u64,
}

enum Wait {
    Ready,
    Stop(Outcome),
}

impl Transfer<'_> {
    pub fn new(ctl: &mut Control, data: TcpStream, timeout: Duration) -> Transfer<'_> {
        let _ = data.set_read_timeout(Some(timeout));
        let _ = data.set_write_timeout(Some(timeout));
        Transfer {
            ctl,
            data,
            timeout,
            bytes: 0,
        }
    }

    /// Waits until the data socket is ready for `flags`, watching the control connection.
    fn wait(&mut self, flags: PollFlags) -> Wait {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wait::Stop(Outcome::TimedOut);
            }
            let (ctl_ready, data_ready) = {
                let mut fds = [self.ctl.poll_fd(), PollFd::new(&self.data, flags)];
                match rustix::event::poll(&mut fds, Some(&timespec(left))) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Wait::Stop(Outcome::DataError(e.into())),
                }
                (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
            };
            if ctl_ready {
                match self.ctl.check_interrupt() {
                    Interrupt::Abort => return Wait::Stop(Outcome::Aborted),
                    Interrupt::Gone => return Wait::Stop(Outcome::ClientGone),
                    Interrupt::None => {}
                }
            }
            if data_ready {
                return Wait::Ready;
            }
        }
    }

    /// Writes all of `buf`, watching for ABOR between waits.
    fn write_all(&mut self, mut buf: &[u8]) -> Option<Outcome> {
        while !buf.is_empty() {
            if let Wait::Stop(o) = self.wait(PollFlags::OUT) {
                return Some(o);
            }
            match self.data.write(buf) {
                Ok(0) => return Some(Outcome::DataError(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    buf = &buf[n..];
                    self.bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Some(Outcome::TimedOut),
                Err(e) => return Some(Outcome::DataError(e)),
            }
        }
        None
    }

    /// Sends bytes already in memory (a listing).
    pub fn send_bytes(&mut self, buf: &[u8]) -> Option<Outcome> {
        self.write_all(buf)
    }

    /// Sends a file from `offset`. Binary: splice(2) through a pipe; ASCII: LF becomes CRLF.
    pub fn send_file(&mut self, file: &mut File, offset: u64, ascii: bool) -> Outcome {
        if !ascii && let Some(o) = self.send_splice(file, offset) {
            return o;
        }
        self.send_buffered(file, offset, ascii)
    }

    /// Binary download through a pipe: file → pipe → socket with splice(2). The file's pages
    /// are passed by reference, never copied through user space (sendfile(2) does the same
    /// through a 64 KiB pipe of its own; a 1 MiB pipe hands TCP 16 times more per call,
    /// which measured 4-7% faster and 7% less CPU per GiB on loopback). The control
    /// connection is checked for ABOR between pipefuls. `None` (nothing sent yet) means
    /// splice can't be used here (no pipe to be had, a file system without splice): the
    /// caller copies through a buffer instead.
    fn send_splice(&mut self, file: &File, offset: u64) -> Option<Outcome> {
        use rustix::io::Errno;
        use rustix::pipe::{SpliceFlags, splice};
        let (r, w, cap) = big_pipe()?;
        let mut off = offset;
        loop {
            if let Wait::Stop(o) = self.wait(PollFlags::OUT) {
                return Some(o);
            }
            let n = match splice(file, Some(&mut off), &w, None, cap, SpliceFlags::empty()) {
                Ok(0) => return Some(Outcome::Complete),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(Errno::INVAL | Errno::NOSYS) if self.bytes == 0 && off == offset => {
                    return None;
                }
                Err(e) => return Some(Outcome::LocalError(e.into())),
            };
            let mut left = n;
            while left > 0 {
                // Blocks while the client is slow; SO_SNDTIMEO (the data timeout) bounds it.
                match splice(&r, None, &self.data, None, left, SpliceFlags::empty()) {
                    Ok(0) => return Some(Outcome::DataError(io::ErrorKind::WriteZero.into())),
                    Ok(m) => {
                        left -= m;
                        self.bytes += m as u64;
                    }
                    Err(Errno::INTR) => {}
                    Err(Errno::AGAIN) => return Some(Outcome::TimedOut),
                    Err(e) => return Some(Outcome::DataError(e.into())),
                }
            }
        }
    }

    /// Sends through a buffer: ASCII mode (LF becomes CRLF), or binary where splice can't.
    fn send_buffered(&mut self, file: &mut File, offset: u64, ascii: bool) -> Outcome {
        use std::io::{Seek, SeekFrom};
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            return Outcome::LocalError(e);
        }
        let mut buf = vec![0u8; limits::RECV_BUF / 2];
        let mut out = Vec::new();
        let mut prev_cr = false;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Outcome::Complete,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Outcome::LocalError(e),
            };
            let chunk = if ascii {
                out.clear();
                prev_cr = to_crlf(&buf[..n], &mut out, prev_cr);
                &out[..]
            } else {
                &buf[..n]
            };
            if let Some(o) = self.write_all(chunk) {
                return o;
            }
        }
    }

    /// Receives into `file` until the client closes the data connection.
    /// Binary: splice(2) where it can; ASCII: CRLF becomes LF.
    pub fn recv_file(&mut self, file: &mut File, ascii: bool) -> Outcome {
        if !ascii && let Some(o) = self.recv_splice(file) {
            return o;
        }
        let mut buf = vec![0u8; limits::RECV_BUF];
        let mut out = Vec::new();
        let mut pending_cr = false;
        loop {
            if let Wait::Stop(o) = self.wait(PollFlags::IN) {
                return o;
            }
            let n = match self.data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Outcome::TimedOut,
                Err(e) => return Outcome::DataError(e),
            };
            self.bytes += n as u64;
            let chunk = if ascii {
                out.clear();
                pending_cr = from_crlf(&buf[..n], &mut out, pending_cr);
                &out[..]
            } else {
                &buf[..n]
            };
            if let Err(e) = file.write_all(chunk) {
                return Outcome::LocalError(e);
            }
        }
        if pending_cr && let Err(e) = file.write_all(b"\r") {
            return Outcome::LocalError(e);
        }
        Outcome::Complete
    }
}

impl Transfer<'_> {
    /// Binary upload through a pipe: socket → pipe → file with splice(2), so the data is
    /// copied once (into the page cache) instead of twice through a user-space buffer.
    /// `None` means splice can't be used here (no pipe, an O_APPEND file on an older kernel,
    /// a file system without splice): the caller falls back to read/write. Bytes already in
    /// the pipe are written out before falling back, so nothing is lost or reordered.
    fn recv_splice(&mut self, file: &mut File) -> Option<Outcome> {
        use rustix::io::Errno;
        use rustix::pipe::{SpliceFlags, splice};
        let (r, w, cap) = big_pipe()?;
        loop {
            if let Wait::Stop(o) = self.wait(PollFlags::IN) {
                return Some(o);
            }
            let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
            let n = match splice(&self.data, None, &w, None, cap, flags) {
                Ok(0) => return Some(Outcome::Complete),
                Ok(n) => n,
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(Errno::INVAL | Errno::NOSYS) if self.bytes == 0 => return None,
                Err(e) => return Some(Outcome::DataError(e.into())),
            };
            self.bytes += n as u64;
            let mut left = n;
            while left > 0 {
                match splice(&r, None, file.as_fd(), None, left, SpliceFlags::MOVE) {
                    Ok(0) => return Some(Outcome::LocalError(io::ErrorKind::WriteZero.into())),
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
                            Ok(_) => Some(Outcome::LocalError(io::ErrorKind::WriteZero.into())),
                            Err(e) => Some(Outcome::LocalError(e)),
                        };
                    }
                    Err(e) => return Some(Outcome::LocalError(e.into())),
                }
            }
        }
    }
}

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
