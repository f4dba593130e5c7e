//! The pre-login loop: USER, PASS, and the few verbs allowed before login (the verb table's
//! `Phase::Always`). Everything else is answered 530 here, before it is even parsed.
//! `auth::authenticate` decides who gets in; this file only asks it, opens the jail the
//! answer names, and counts failures. It must not serve any file-system command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Conn, Flow, Result, display};
use crate::auth::{self, Home, Login, Password, Policy};
use crate::command::{self, Command};
use crate::limits;
use crate::reply::{Fail, *};
use crate::vfs::Jail;

use super::seats::Seat;

/// A session before login.
pub(super) struct PreLogin {
    conn: Conn,
    /// Name given by USER, waiting for PASS.
    pending_user: Option<Vec<u8>>,
    failed_logins: u32,
    /// `--login-timeout` from the greeting.
    deadline: Instant,
}

impl PreLogin {
    pub(super) fn new(conn: Conn) -> PreLogin {
        let deadline = Instant::now() + conn.ctx.cfg.login_timeout;
        PreLogin {
            conn,
            pending_user: None,
            failed_logins: 0,
            deadline,
        }
    }

    /// Greets the client and runs commands until a login succeeds (the connection, the
    /// login and its jail are handed back) or the session ends (`None`).
    pub(super) fn serve(mut self) -> Option<(Conn, Login, Jail, Seat)> {
        self.conn.greet().ok()?;
        loop {
            let deadline = self.deadline;
            let r = self
                .conn
                .next_line(Some(deadline), None)
                // (Never `None` before login: only a session with a data channel idles.)
                .and_then(|line| self.command(&line.unwrap_or_default()));
            match r {
                Ok(Step::Granted(granted)) => {
                    let (login, jail, seat) = *granted;
                    return Some((self.conn, login, jail, seat));
                }
                Ok(Step::Flow(flow)) => {
                    if !self.conn.settle(Ok(flow)) {
                        return None;
                    }
                }
                Err(f) => {
                    if !self.conn.fail(f) {
                        return None;
                    }
                }
            }
        }
    }

    fn command(&mut self, line: &[u8]) -> Result<Step> {
        if !command::allowed_before_login(line) {
            return Err(Fail::NotLoggedIn);
        }
        let c = &mut self.conn;
        match command::parse(line)? {
            Command::User(name) => {
                c.login_allowed()?;
                self.pending_user = Some(name);
                c.reply(NEED_PASSWORD, "Please specify the password.")?;
            }
            Command::Pass(pw) => return self.pass(pw),
            Command::Quit => {
                c.reply(GOODBYE, "Goodbye.")?;
                return Ok(Step::Flow(Flow::Close));
            }
            Command::Noop => c.reply(OK, "NOOP ok.")?,
            Command::Syst => c.syst()?,
            Command::Feat => c.feat()?,
            Command::Opts(o) => c.opts(&o)?,
            Command::Help(topic) => c.help(&topic)?,
            Command::Auth(mech) => {
                let left = self.deadline.saturating_duration_since(Instant::now());
                c.auth(&mech, Some(left))?;
            }
            Command::Pbsz(size) => c.pbsz(&size)?,
            Command::Prot(level) => c.prot(&level)?,
            Command::Ccc => c.ccc()?,
            Command::Host(_) if self.pending_user.is_some() => {
                return Err(Fail::Reply(BAD_SEQUENCE, "HOST must come before USER."));
            }
            // One virtual host is served, whatever name the client asked for.
            Command::Host(_) => c.reply(SERVICE_READY, "Host accepted.")?,
            // The verb table lets nothing else through before login.
            _ => return Err(Fail::NotLoggedIn),
        }
        Ok(Step::Flow(Flow::Continue))
    }

    fn pass(&mut self, pw: Password) -> Result<Step> {
        let Some(name) = self.pending_user.take() else {
            return Err(Fail::Reply(BAD_SEQUENCE, "Login with USER first."));
        };
        self.conn.login_allowed()?;
        self.conn.arm_trim();
        let ctx = &self.conn.ctx;
        let cfg = &ctx.cfg;
        let users = ctx.users();
        let policy = Policy {
            users: users.as_deref(),
            anonymous: cfg.anonymous,
            anon_rights: &cfg.anon_rights,
        };
        let peer = self.conn.peer;
        match auth::authenticate(&policy, &name, &pw) {
            Ok(login) => {
                // SECURITY: an account's own session limit, before anything is granted.
                let seat = ctx
                    .seats
                    .take(&login.name, peer, &login.limits)
                    .map_err(|open| {
                        log::info!(
                            "{peer}: login {} refused: the account has {open} sessions (sessions=)",
                            login.name
                        );
                        Fail::Closing(crate::reply::Closing::AccountFull)
                    })?;
                // Opened at each login, the anonymous root as every home: nothing holds a
                // disk no session is in (it can be unmounted), a disk mounted again at the
                // same path is the one the next login gets, and the empty folder of a disk
                // not mounted is never served in its place (vfs/disks.rs).
                let jail = ctx.disks.open(login.home.dir(&cfg.root));
                let umask = login.umask.unwrap_or(cfg.umask);
                let jail = jail.and_then(|j| {
                    let j = j.with_access(Arc::clone(&login.rights), umask).with_bounds(
                        crate::vfs::Bounds {
                            max_size: cfg.max_upload,
                            min_free: cfg.min_free,
                        },
                    );
                    match (&login.quota, &login.home) {
                        (Some(q), Home::Dir(home)) => j.with_quota(home, *q),
                        _ => Ok(j),
                    }
                });
                let jail = match jail {
                    Ok(j) => j,
                    Err(e) => {
                        log::error!(
                            "{peer}: login {}: cannot open home directory: {e}",
                            login.name
                        );
                        return Err(Fail::Reply(NOT_LOGGED_IN, "Home directory unavailable."));
                    }
                };
                let mode = login.rights.to_string();
                log::info!("{peer}: login {} ({mode})", login.name);
                ctx.bans.succeeded(peer);
                self.conn.tls_logged_in(&login.name);
                self.conn.reply(LOGGED_IN, "Login successful.")?;
                Ok(Step::Granted(Box::new((login, jail, seat))))
            }
            Err(_) => {
                self.failed_logins += 1;
                ctx.bans.failed(peer);
                log::warn!(
                    "{peer}: failed login for {} ({} of {})",
                    display(&name),
                    self.failed_logins,
                    limits::MAX_LOGIN_FAILS
                );
                std::thread::sleep(Duration::from_millis(limits::LOGIN_FAIL_DELAY_MS));
                self.conn.reply(NOT_LOGGED_IN, "Login incorrect.")?;
                let flow = if self.failed_logins >= limits::MAX_LOGIN_FAILS {
                    Flow::Close
                } else {
                    Flow::Continue
                };
                Ok(Step::Flow(flow))
            }
        }
    }
}

/// What one pre-login command led to.
enum Step {
    Flow(Flow),
    /// (Boxed: a session has many more steps than logins.)
    Granted(Box<(Login, Jail, Seat)>),
}
