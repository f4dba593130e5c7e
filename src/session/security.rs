//! FTPS on the control connection (RFC 4217): AUTH TLS, PBSZ, PROT and CCC, and the gates
//! of `--tls required`. A data connection gets its TLS where it is opened
//! (`datachan.rs`), with the configuration kept here.

use super::{Conn, Result};
use crate::config::TlsMode;
use crate::reply::{Fail, *};

/// A session's FTPS state.
pub(super) struct Security {
    /// This session's TLS configuration (a session store of its own), when FTPS is on,
    /// and the server's.
    #[cfg(feature = "tls")]
    config: Option<(crate::tls::SessionConfigs, crate::tls::Tls)>,
    /// The id of the control connection's TLS session (0 before AUTH TLS).
    #[cfg(feature = "tls")]
    control_id: u32,
    /// The control connection is TLS.
    pub control_tls: bool,
    pbsz: bool,
    /// PROT P: data connections are TLS.
    pub protect: bool,
}

impl Security {
    /// (The server has a TLS context only when `--tls` is not off.)
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    pub(super) fn new(ctx: &super::Context) -> Security {
        Security {
            #[cfg(feature = "tls")]
            config: ctx.tls.as_ref().map(|t| (t.for_session(), t.clone())),
            #[cfg(feature = "tls")]
            control_id: 0,
            control_tls: false,
            pbsz: false,
            protect: false,
        }
    }

    /// This session's TLS configurations and the server's, when FTPS is on.
    #[cfg(feature = "tls")]
    pub(super) fn tls(&self) -> Option<&(crate::tls::SessionConfigs, crate::tls::Tls)> {
        self.config.as_ref()
    }

    /// Whether this server speaks FTPS at all.
    pub(super) fn available(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.config.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }
}

impl Conn {
    fn tls_required(&self) -> bool {
        self.ctx.cfg.tls.mode == TlsMode::Required
    }

    /// AUTH TLS (or SSL, the same here): 234, then the handshake on the control connection,
    /// which must be over `within` (the login deadline before login, else the idle timeout).
    pub(super) fn auth(&mut self, mech: &[u8], within: Option<std::time::Duration>) -> Result {
        if !self.sec.available() {
            return Err(Fail::Reply(NOT_IMPLEMENTED, "TLS is not supported."));
        }
        if self.sec.control_tls {
            return Err(Fail::Reply(BAD_SEQUENCE, "Already using TLS."));
        }
        if !matches!(mech, b"TLS" | b"SSL" | b"TLS-C" | b"TLS-P") {
            return Err(Fail::Reply(BAD_PARAMETER, "AUTH TLS or AUTH SSL only."));
        }
        self.reply(AUTH_OK, "AUTH TLS successful.")?;
        self.start_tls(within)
    }

    /// The handshake on the control connection; a failure ends the session (where the
    /// next command would start is unknown).
    pub(super) fn start_tls(&mut self, within: Option<std::time::Duration>) -> Result {
        #[cfg(feature = "tls")]
        if let Some((config, tls)) = &self.sec.config {
            let idle = self.ctx.cfg.idle_timeout;
            let timeout = within
                .map_or(idle, |w| w.min(idle))
                .max(std::time::Duration::from_millis(1));
            let control = &config.control;
            let id = tls.control_id();
            config.set_control_id(id);
            self.sec.control_id = id;
            let upgraded = self.ctl.upgrade(|sock| {
                crate::net::set_timeouts(&sock, timeout)?;
                crate::tls::accept(control, sock).map(|t| crate::net::Stream::Tls(Box::new(t)))
            });
            // The handshake left its own bound on the socket.
            self.bound = None;
            if let Err(e) = upgraded {
                log::info!("{}: TLS handshake failed: {e}", self.peer);
                return Err(Fail::Ctl(e));
            }
            self.sec.control_tls = true;
            tls.owner(id, self.peer, None);
            self.arm_trim();
            log::debug!("{}: control connection is TLS", self.peer);
            return Ok(());
        }
        let _ = within;
        Err(Fail::Ctl(std::io::ErrorKind::Unsupported.into()))
    }

    /// A login on this connection: its TLS session's tickets now belong to `user` from
    /// this address, for the data connections of its other control connections.
    pub(super) fn tls_logged_in(&self, user: &str) {
        #[cfg(feature = "tls")]
        if let Some((_, tls)) = &self.sec.config
            && self.sec.control_tls
        {
            tls.owner(self.sec.control_id, self.peer, Some(user));
        }
        let _ = user;
    }

    /// Implicit FTPS: TLS from the first byte, data connections protected.
    pub(super) fn implicit_tls(&mut self) -> Result {
        self.start_tls(Some(self.ctx.cfg.login_timeout))?;
        self.sec.pbsz = true;
        self.sec.protect = true;
        Ok(())
    }

    pub(super) fn pbsz(&mut self, size: &[u8]) -> Result {
        if !self.sec.control_tls {
            return Err(Fail::Reply(BAD_SEQUENCE, "PBSZ needs AUTH TLS first."));
        }
        if !size.iter().all(u8::is_ascii_digit) {
            return Err(Fail::Reply(BAD_ARGUMENTS, "PBSZ takes 0."));
        }
        self.sec.pbsz = true;
        self.reply(OK, "PBSZ=0")
    }

    pub(super) fn prot(&mut self, level: &[u8]) -> Result {
        if !self.sec.pbsz {
            return Err(Fail::Reply(BAD_SEQUENCE, "PROT needs PBSZ first."));
        }
        match level {
            b"P" => {
                self.sec.protect = true;
                self.reply(OK, "Protection level set to Private.")
            }
            b"C" => {
                self.sec.protect = false;
                self.reply(OK, "Protection level set to Clear.")
            }
            b"S" | b"E" => Err(Fail::Reply(PROT_NOT_SUPPORTED, "Only PROT C and P.")),
            _ => Err(Fail::Reply(BAD_PARAMETER, "PROT takes C or P.")),
        }
    }

    pub(super) fn ccc(&mut self) -> Result {
        Err(Fail::Reply(
            POLICY_DENIED,
            "CCC is not allowed: the session stays TLS.",
        ))
    }

    /// SECURITY: with `--tls required`, no login without TLS (anonymous included).
    pub(super) fn login_allowed(&self) -> Result {
        if self.tls_required() && !self.sec.control_tls {
            return Err(Fail::Reply(
                NOT_LOGGED_IN,
                "TLS required: use AUTH TLS first.",
            ));
        }
        Ok(())
    }

    /// SECURITY: with `--tls required`, no data connection in clear text.
    pub(super) fn clear_data_allowed(&self) -> Result {
        if self.tls_required() && !self.sec.protect {
            return Err(Fail::Reply(
                BAD_PROTOCOL,
                "Data connections must be protected: use PROT P.",
            ));
        }
        Ok(())
    }
}
