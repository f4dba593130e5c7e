//! The byte stream every connection is read and written through: the control connection
//! and each data connection.
//!
//! A [`Stream`] is a plain TCP socket or, with the `tls` feature, a TLS one (FTPS, RFC 4217);
//! nothing above this module needs to know which one it has: reads, writes, timeouts, poll
//! and the orderly end of a connection ([`Stream::finish`]) all go through it. Two things
//! differ and are asked for explicitly:
//! - [`Stream::zero_copy`] hands out the socket for splice(2) only when bytes may go to it as
//!   they are (plain); a TLS stream must encrypt every byte and has no such path.
//! - [`Stream::has_buffered`] says whether bytes were already read from the socket and wait
//!   inside the stream (TLS records decrypted ahead), which poll(2) on the socket can't see.
//!
//! This module must not parse FTP or know about sessions: it moves bytes. The TLS variant
//! exists with the `tls` feature (`src/tls.rs` makes the connections and alone drives
//! rustls).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

/// `d` as poll(2)'s timeout.
pub fn timespec(d: Duration) -> rustix::fs::Timespec {
    rustix::fs::Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Bounds each blocking read and write on `sock` by `t` (at least a millisecond: zero would
/// mean no bound at all). The one place the server sets a socket's timeouts; its callers
/// are the phases of a connection: the control connection before and after login
/// (`session::Conn::bound`), before a TLS handshake, a transfer (`Transfer::new`).
pub fn set_timeouts(sock: &TcpStream, t: Duration) -> io::Result<()> {
    let t = Some(t.max(Duration::from_millis(1)));
    sock.set_read_timeout(t)?;
    sock.set_write_timeout(t)
}

/// A connection's byte stream.
pub enum Stream {
    /// Bytes go to the socket as they are.
    Plain(TcpStream),
    /// FTPS: every byte is encrypted (rustls).
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

impl Stream {
    /// A plain (clear-text) stream over an accepted or connected socket.
    pub fn plain(sock: TcpStream) -> Stream {
        Stream::Plain(sock)
    }

    /// The socket under the stream (addresses, timeouts, socket options).
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.socket(),
        }
    }

    /// The socket, when bytes may be spliced to or from it directly: plain, or TLS that
    /// the kernel encrypts (`ktls.rs`).
    pub fn zero_copy(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.kernel_socket(),
        }
    }

    /// Whether the stream is TLS (encrypted by rustls or by the kernel).
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// True when a read would not wait for the socket: input is waiting inside the stream
    /// itself, or the peer's close_notify (or a TLS error) was already taken in with the
    /// last data, so the read returns the end (or the error) at once. The socket itself may
    /// then stay silent: a client that sent close_notify waits for ours before it closes.
    pub fn has_buffered(&mut self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.has_buffered(),
        }
    }

    /// Waits up to `d` for the socket to be readable (or closed); false when it was not.
    pub fn wait_readable(&self, d: Duration) -> io::Result<bool> {
        let mut fds = [self.poll_fd(PollFlags::IN)];
        loop {
            match rustix::event::poll(&mut fds, Some(&timespec(d))) {
                Ok(n) => return Ok(n > 0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A poll entry for `flags` on the socket.
    pub fn poll_fd(&self, flags: PollFlags) -> PollFd<'_> {
        PollFd::new(self.socket(), flags)
    }

    /// Bounds each blocking read and write ([`set_timeouts`]).
    pub fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        set_timeouts(self.socket(), t)
    }

    /// Ends the stream in order after the last byte was written, or answers the peer's
    /// close_notify after an upload (a plain socket needs nothing: closing it sends FIN;
    /// TLS sends its close_notify here).
    pub fn finish(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.finish(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush(),
        }
    }
}
