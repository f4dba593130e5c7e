//! The control connection: bounded line reading with Telnet filtering, and reply writing.
//! Only that: what a session does while it waits (giving its stack back, letting go of a
//! kept passive port) is the session's business, what counts as ABOR during a transfer is
//! the transfer's, and the TLS handshake is `tls.rs`'s; this module only swaps the stream.
//!
//! RFC 959 control lines are Telnet NVT text. Clients send bare LF as often as CRLF, split
//! lines across TCP segments, and (for ABOR) Telnet IP and a DM in urgent data. This module
//! turns that byte stream into lines: Telnet commands are dropped by a small state machine that
//! survives segment boundaries, and a line longer than [`limits::MAX_LINE`] is reported once
//! and discarded up to its end, so a peer cannot make the buffer grow.

use std::io::{self, Read, Write};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use crate::limits;
use crate::net::Stream;
use crate::reply;

const IAC: u8 = 255;

/// Where the Telnet filter is between two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT: one option byte follows.
    Option,
}

/// One result of reading the control connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Line(Vec<u8>),
    /// A line over the limit was received (and is being discarded).
    TooLong,
    /// The peer closed the connection.
    Eof,
}

/// The control connection of one session.
pub struct Control {
    stream: Stream,
    buf: Vec<u8>,
    telnet: Telnet,
    discarding: bool,
    eof: bool,
    out: Vec<u8>,
}

impl Control {
    pub fn new(stream: Stream) -> Control {
        Control {
            stream,
            buf: Vec::new(),
            telnet: Telnet::Data,
            discarding: false,
            eof: false,
            out: Vec::new(),
        }
    }

    /// Filters freshly read bytes into the line buffer.
    fn absorb(&mut self, data: &[u8]) {
        for &b in data {
            self.telnet = match (self.telnet, b) {
                (Telnet::Data, IAC) => Telnet::Iac,
                (Telnet::Data, _) => {
                    self.push(b);
                    Telnet::Data
                }
                (Telnet::Iac, IAC) => {
                    self.push(IAC);
                    Telnet::Data
                }
                (Telnet::Iac, 251..=254) => Telnet::Option,
                // IAC IP, IAC DM, IAC AYT and the like: the command byte is dropped.
                (Telnet::Iac, 240..=250) => Telnet::Data,
                // IAC followed by data: the DM of "IAC DM" went out of band. Keep the byte.
                (Telnet::Iac, _) => {
                    self.push(b);
                    Telnet::Data
                }
                (Telnet::Option, _) => Telnet::Data,
            };
        }
    }

    fn push(&mut self, b: u8) {
        if self.discarding {
            if b == b'\n' {
                self.discarding = false;
            }
            return;
        }
        self.buf.push(b);
    }

    /// Takes one complete line out of the buffer, if there is one.
    fn take_line(&mut self) -> Option<Input> {
        if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if self.buf.is_empty() {
                // Give back memory a long line may have taken: idle sessions stay small.
                self.buf = Vec::new();
            }
            // The limit holds however the line was split into reads: a line that arrived
            // whole (its LF in the same read as the byte past the limit) is too long as well.
            if line.len() > limits::MAX_LINE {
                return Some(Input::TooLong);
            }
            return Some(Input::Line(line));
        }
        // +1: a line of exactly MAX_LINE bytes may be waiting for the LF after its CR.
        if self.buf.len() > limits::MAX_LINE + 1 {
            self.buf = Vec::new();
            self.discarding = true;
            return Some(Input::TooLong);
        }
        None
    }

    /// True when the next [`Control::read_line`] has something to return without waiting for
    /// the network: a whole line held, the end of the connection seen, or bytes decrypted
    /// ahead inside the stream.
    pub fn has_pending(&mut self) -> bool {
        self.eof || self.buf.contains(&b'\n') || self.stream.has_buffered()
    }

    /// Reads until a whole line (or EOF, or an error such as the idle timeout).
    /// `within` bounds the whole line, not each read: a client trickling one byte at a
    /// time (each read well inside the socket's idle timeout) still times out.
    pub fn read_line(&mut self, within: Duration) -> io::Result<Input> {
        let started = std::time::Instant::now();
        loop {
            if let Some(l) = self.take_line() {
                return Ok(l);
            }
            if self.eof {
                return Ok(Input::Eof);
            }
            let mut chunk = [0u8; 512];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                continue;
            }
            self.absorb(&chunk[..n]);
            if started.elapsed() > within && !self.buf.contains(&b'\n') {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
    }

    /// During a transfer: reads once what the client sent (the caller polled and found the
    /// connection readable) into the held lines. False when the client went away.
    pub fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 512];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.absorb(&chunk[..n]);
                true
            }
            Err(e) => e.kind() == io::ErrorKind::Interrupted,
        }
    }

    /// Drops the held complete lines up to and including the first one `is` picks, if there
    /// is one; the lines after it stay queued. (A transfer looks for ABOR this way.)
    pub fn take_through(&mut self, is: impl Fn(&[u8]) -> bool) -> bool {
        match self.find_line(is) {
            Some(end) => {
                self.buf.drain(..=end);
                true
            }
            None => false,
        }
    }

    /// Whether a held complete line is one `is` picks (it stays held).
    pub fn holds(&self, is: impl Fn(&[u8]) -> bool) -> bool {
        self.find_line(is).is_some()
    }

    /// Where the first held complete line `is` picks ends (its LF).
    fn find_line(&self, is: impl Fn(&[u8]) -> bool) -> Option<usize> {
        let mut start = 0;
        while let Some(rel) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + rel;
            if is(&self.buf[start..end]) {
                return Some(end);
            }
            start = end + 1;
        }
        None
    }

    /// True when the commands held during a transfer fill [`limits::CONTROL_QUEUE`]: the
    /// transfer then stops reading the control connection until it ends (back-pressure).
    pub fn queue_full(&self) -> bool {
        self.buf.len() >= limits::CONTROL_QUEUE
    }

    /// True when the control connection has input waiting (or was closed).
    pub fn poll_fd(&self) -> PollFd<'_> {
        self.stream.poll_fd(PollFlags::IN)
    }

    /// The connection's stream (addresses, timeouts).
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// SECURITY: replaces the stream with what `upgrade` makes of its socket (TLS after
    /// `AUTH TLS`, or at once for implicit FTPS). Anything the client sent after the AUTH
    /// line in clear text is dropped, not read as commands that came through TLS (the
    /// STARTTLS command-injection attack).
    #[cfg(feature = "tls")]
    pub fn upgrade(
        &mut self,
        upgrade: impl FnOnce(std::net::TcpStream) -> io::Result<Stream>,
    ) -> io::Result<()> {
        self.buf.clear();
        self.discarding = false;
        self.telnet = Telnet::Data;
        self.stream = upgrade(self.stream.socket().try_clone()?)?;
        Ok(())
    }

    /// Sends a one-line reply.
    pub fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> io::Result<()> {
        self.out.clear();
        reply::line(&mut self.out, code, text.as_ref());
        self.flush()
    }

    /// Sends a multi-line reply.
    pub fn multi(
        &mut self,
        code: u16,
        first: &[u8],
        body: &[Vec<u8>],
        last: &[u8],
    ) -> io::Result<()> {
        self.out.clear();
        reply::multi(&mut self.out, code, first, body, last);
        self.flush()
    }

    /// Sends bytes already encoded as reply lines (a multi-line reply sent in pieces).
    pub fn send(&mut self, encoded: &[u8]) -> io::Result<()> {
        self.stream.write_all(encoded)
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.stream.write_all(&self.out);
        if self.out.capacity() > 4096 {
            self.out = Vec::new();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair() -> (Control, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (Control::new(Stream::plain(s)), c)
    }

    #[test]
    fn telnet_and_line_ends() {
        let (mut ctl, _c) = pair();
        // IAC IP, IAC DM, IAC WILL x, IAC IAC, bare LF, split line.
        ctl.absorb(b"\xff\xf4\xff\xf2AB\xff\xfb\x01OR\r\nNO");
        ctl.absorb(b"OP\n\xff\xffx\n");
        assert_eq!(ctl.take_line(), Some(Input::Line(b"ABOR".to_vec())));
        assert_eq!(ctl.take_line(), Some(Input::Line(b"NOOP".to_vec())));
        assert_eq!(ctl.take_line(), Some(Input::Line(b"\xffx".to_vec())));
        assert_eq!(ctl.take_line(), None);
    }

    // Urgent data: with the DM byte taken out of band, "IAC IP IAC" then "ABOR" arrives.
    #[test]
    fn dm_out_of_band_keeps_the_verb() {
        let (mut ctl, _c) = pair();
        ctl.absorb(b"\xff\xf4\xffABOR\r\n");
        assert_eq!(ctl.take_line(), Some(Input::Line(b"ABOR".to_vec())));
    }

    // The limit must not depend on how the line was cut into reads.
    #[test]
    fn the_limit_is_the_same_whole_or_split() {
        let (mut ctl, _c) = pair();
        let mut long = vec![b'x'; limits::MAX_LINE + 1];
        long.extend_from_slice(b"\r\n");
        ctl.absorb(&long);
        assert_eq!(ctl.take_line(), Some(Input::TooLong));
        let max = vec![b'y'; limits::MAX_LINE];
        ctl.absorb(&max);
        ctl.absorb(b"\r");
        assert_eq!(ctl.take_line(), None);
        ctl.absorb(b"\n");
        assert_eq!(ctl.take_line(), Some(Input::Line(max)));
    }

    #[test]
    fn long_lines_are_discarded_once() {
        let (mut ctl, _c) = pair();
        ctl.absorb(&vec![b'x'; limits::MAX_LINE + 10]);
        assert_eq!(ctl.take_line(), Some(Input::TooLong));
        ctl.absorb(&vec![b'x'; 100_000]);
        assert_eq!(ctl.take_line(), None);
        ctl.absorb(b"tail\r\nNOOP\r\n");
        assert_eq!(ctl.take_line(), Some(Input::Line(b"NOOP".to_vec())));
    }
}
