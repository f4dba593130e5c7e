//! How a data connection is set up (PASV, EPSV, PORT, EPRT) and the one place it is then
//! accepted or made ([`Session::connect_data`]). The trust decisions themselves are the
//! pure functions `data::active_target_allowed` and `data::passive_peer_allowed`.

use std::net::{IpAddr, SocketAddr, TcpStream};

use super::{Result, Session};
use crate::command::EpsvArg;
use crate::data::{self, Setup};
use crate::pasvaddr::Advertise;
use crate::reply::{Fail, *};

impl Session {
    /// Binds a passive listener from the configured range; its port.
    fn open_passive(&mut self) -> Result<u16> {
        self.data = Setup::None;
        if let Some((l, port)) = self.conn.ctl.take_held()
            && data::reuse_passive(&l)
        {
            self.data = Setup::Passive(l, port);
            return Ok(port);
        }
        let cfg = &self.conn.ctx.cfg;
        match data::listen_passive(self.conn.local, cfg.pasv_min, cfg.pasv_max) {
            Ok((l, port)) => {
                self.data = Setup::Passive(l, port);
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
        if self.epsv_all {
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
                self.epsv_all = true;
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
        self.data = Setup::None;
        if self.epsv_all {
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
        self.data = Setup::Active(SocketAddr::new(addr.ip().to_canonical(), addr.port()));
        self.reply(
            OK,
            format!("{verb} command successful. Consider using PASV."),
        )
    }

    /// Makes the data connection set up by PASV/EPSV/PORT/EPRT (once). Its TLS, after PROT
    /// P, comes after the 150 reply ([`Session::data_stream`]): a client in active mode
    /// starts TLS on a connection only once it was told to expect one.
    pub(super) fn connect_data(&mut self) -> Result<TcpStream> {
        self.conn.clear_data_allowed()?;
        let timeout = self.conn.ctx.cfg.data_timeout;
        let r = match std::mem::take(&mut self.data) {
            Setup::None => {
                return Err(Fail::Reply(CANT_OPEN_DATA, "Use PORT, PASV or EPSV first."));
            }
            Setup::Passive(l, port) => {
                let r = data::accept_passive(&l, self.conn.peer, timeout);
                if r.is_ok() {
                    self.conn.ctl.hold_until_idle(l, port);
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
