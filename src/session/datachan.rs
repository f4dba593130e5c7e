//! The data channel: how the next data connection is set up (PASV, EPSV, PORT, EPRT), and
//! the one way a transfer gets it, [`Session::open_data`]: accepted or made, then the 150
//! reply, then TLS after PROT P. The trust decisions themselves are the pure functions
//! `data::active_target_allowed` and `data::passive_peer_allowed`; which TLS sessions a data
//! connection may resume is decided in `tls.rs`.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};

use super::{Conn, Result, Session};
use crate::command::EpsvArg;
use crate::data::{self, Setup};
use crate::net::Stream;
use crate::pasvaddr::Advertise;
use crate::reply::{Fail, *};

/// A session's data-channel state.
#[derive(Default)]
pub(super) struct DataChannel {
    /// How the next data connection will be made.
    setup: Setup,
    /// The passive listener of the last transfer, kept for the next PASV/EPSV while the
    /// session is busy: a client moving many small files gets the same port back instead of
    /// a new listener per file. Given up once the session idles
    /// ([`DataChannel::let_go`]), so idle sessions hold no port of the range.
    held: Option<(TcpListener, u16)>,
    /// EPSV ALL was sent: only EPSV may set up data connections (RFC 2428).
    epsv_all: bool,
}

impl DataChannel {
    /// The session idles: the kept listener's port goes back to the range.
    pub(super) fn let_go(&mut self) {
        self.held = None;
    }

    /// ABOR with no transfer: the data connection set up is dropped.
    pub(super) fn forget(&mut self) {
        self.setup = Setup::None;
    }
}

impl Session {
    /// Binds a passive listener from the configured range; its port.
    fn open_passive(&mut self) -> Result<u16> {
        self.data.setup = Setup::None;
        if let Some((l, port)) = self.data.held.take()
            && data::reuse_passive(&l)
        {
            self.data.setup = Setup::Passive(l, port);
            return Ok(port);
        }
        let cfg = &self.conn.ctx.cfg;
        match data::listen_passive(self.conn.local, cfg.pasv_min, cfg.pasv_max) {
            Ok((l, port)) => {
                self.data.setup = Setup::Passive(l, port);
                Ok(port)
            }
            Err(e) => {
                log::warn!("{}: no passive port: {e}", self.conn.peer);
                Err(Fail::Reply(
                    CANT_OPEN_DATA,
                    "No passive port available; try again later.",
                ))
            }
        }
    }

    pub(super) fn pasv(&mut self) -> Result {
        if self.data.epsv_all {
            return Err(Fail::Reply(BAD_SEQUENCE, "EPSV ALL in effect; use EPSV."));
        }
        let reached = match self.conn.local {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        };
        let advertised = match self.conn.ctx.pasv.for_client(self.conn.peer) {
            Advertise::Address(a) => Some(a),
            Advertise::Reached => reached,
            Advertise::Unresolved => {
                log::info!(
                    "{}: --pasv-address has not resolved; advertising the address reached",
                    self.conn.peer
                );
                reached
            }
        };
        let Some(advertised) = advertised else {
            return Err(Fail::Reply(BAD_PROTOCOL, "PASV is IPv4 only; use EPSV."));
        };
        let port = self.open_passive()?;
        let o = advertised.octets();
        self.reply(
            PASSIVE,
            format!(
                "Entering Passive Mode ({},{},{},{},{},{}).",
                o[0],
                o[1],
                o[2],
                o[3],
                port >> 8,
                port & 0xff
            ),
        )
    }

    pub(super) fn epsv(&mut self, arg: EpsvArg) -> Result {
        let ours = if self.conn.local.is_ipv4() { 1 } else { 2 };
        match arg {
            EpsvArg::All => {
                self.data.epsv_all = true;
                return self.reply(OK, "EPSV ALL ok.");
            }
            EpsvArg::Proto(p) if p != ours => {
                let text = if ours == 1 {
                    "Network protocol not supported, use (1)"
                } else {
                    "Network protocol not supported, use (2)"
                };
                return Err(Fail::Reply(BAD_PROTOCOL, text));
            }
            _ => {}
        }
        let port = self.open_passive()?;
        self.reply(
            EXT_PASSIVE,
            format!("Entering Extended Passive Mode (|||{port}|)."),
        )
    }

    /// PORT and EPRT. Refused targets are logged (someone may be probing for a bounce).
    pub(super) fn port(&mut self, addr: SocketAddr, verb: &'static str) -> Result {
        self.data.setup = Setup::None;
        if self.conn.ctx.cfg.no_active {
            return Err(Fail::Reply(
                NOT_IMPLEMENTED,
                "Active mode is off here; use PASV or EPSV.",
            ));
        }
        if self.data.epsv_all {
            return Err(Fail::Reply(BAD_SEQUENCE, "EPSV ALL in effect; use EPSV."));
        }
        if !data::active_target_allowed(self.conn.peer, addr) {
            log::warn!(
                "{}: refused {verb} to {addr} (bounce protection)",
                self.conn.peer
            );
            let text = if verb == "PORT" {
                "Illegal PORT command."
            } else {
                "Illegal EPRT command."
            };
            return Err(Fail::Reply(UNKNOWN_COMMAND, text));
        }
        self.data.setup = Setup::Active(SocketAddr::new(addr.ip().to_canonical(), addr.port()));
        self.reply(
            OK,
            format!("{verb} command successful. Consider using PASV."),
        )
    }

    /// The one way a transfer gets its data connection. The connection set up by
    /// PASV/EPSV/PORT/EPRT is accepted or made (once); then `prepare` does what must wait
    /// until the client is really there (opening or creating the file, reading the
    /// directory) and says what the 150 reply names; then the 150; then, after PROT P, the
    /// TLS handshake, which comes only after the 150 because a client in active mode starts
    /// TLS only once it was told to expect a connection. What `prepare` made is dropped if a
    /// later step fails (an upload target removes what it created).
    pub(super) fn open_data<T>(
        &mut self,
        prepare: impl FnOnce(&mut Session) -> Result<(T, Vec<u8>)>,
    ) -> Result<(T, Stream)> {
        if let Some(m) = crate::memory::short() {
            // A transfer holds buffers: none is started that could push the machine
            // into the OOM killer; the client may try again.
            log::info!("{}: transfer refused: {m}", self.conn.peer);
            self.data.setup = Setup::None;
            return Err(Fail::Reply(
                CANT_OPEN_DATA,
                "Server short of memory; try again later.",
            ));
        }
        let sock = self.connect_data()?;
        let (made, text) = prepare(self)?;
        self.reply(OPENING_DATA, text)?;
        let stream = self.conn.secure_data(sock)?;
        Ok((made, stream))
    }

    /// Accepts or makes the data connection set up by PASV/EPSV/PORT/EPRT.
    fn connect_data(&mut self) -> Result<TcpStream> {
        self.conn.clear_data_allowed()?;
        let timeout = self.conn.ctx.cfg.data_timeout;
        let r = match std::mem::take(&mut self.data.setup) {
            Setup::None => {
                return Err(Fail::Reply(CANT_OPEN_DATA, "Use PORT, PASV or EPSV first."));
            }
            Setup::Passive(l, port) => {
                let r = data::accept_passive(&l, self.conn.peer, timeout);
                if r.is_ok() {
                    self.data.held = Some((l, port));
                }
                r
            }
            Setup::Active(a) => data::connect_active(a, timeout),
        };
        match r {
            Ok(sock) => Ok(sock),
            Err(e) => {
                log::info!("{}: data connection failed: {e}", self.conn.peer);
                Err(Fail::NoDataConnection)
            }
        }
    }
}

impl Conn {
    /// The stream of a data connection: TLS after PROT P, resuming this session's TLS
    /// session (unless `--tls-reuse optional`); a refused one gets 522 and the session
    /// goes on.
    fn secure_data(&self, sock: TcpStream) -> Result<Stream> {
        if !self.sec.protect {
            return Ok(Stream::plain(sock));
        }
        #[cfg(feature = "tls")]
        if let Some((configs, tls)) = self.sec.tls() {
            let refused = |why: String| {
                log::info!("{}: TLS data connection refused: {why}", self.peer);
                Fail::Reply(
                    BAD_PROTOCOL,
                    "TLS session of the control connection required.",
                )
            };
            let timeout = self.ctx.cfg.data_timeout;
            let s = crate::net::set_timeouts(&sock, timeout)
                .and_then(|()| configs.accept_data(sock))
                .map_err(|e| {
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) {
                        log::info!(
                            "{}: TLS data connection: no handshake within {} s (--data-timeout)",
                            self.peer,
                            timeout.as_secs()
                        );
                        Fail::Reply(
                            CANT_OPEN_DATA,
                            "TLS handshake on the data connection timed out.",
                        )
                    } else {
                        refused(e.to_string())
                    }
                })?;
            if !tls.data_ok(&s, configs, self.ctx.cfg.tls.reuse_required) {
                return Err(refused(
                    "not a resumed session of this user from this address".into(),
                ));
            }
            // A download whose unsent bytes pile up in the socket is sent from the client's
            // ACKs, on the client's CPU time (see limits::TLS_NOTSENT_LOWAT).
            let _ = crate::sys::set_notsent_lowat(s.socket(), crate::limits::TLS_NOTSENT_LOWAT);
            return Ok(Stream::Tls(Box::new(s)));
        }
        drop(sock);
        Err(Fail::Reply(BAD_PROTOCOL, "TLS is not supported."))
    }
}
