//! One FTP session: what it gets from the server, its two command loops, and the one place
//! where a failure becomes a reply.
//!
//! Each session runs on a thread of its own while it works and owns everything it touches:
//! the control connection, its jail descriptor, its data connection. Logged in and idle, it
//! hands itself, all of that, to the accept loop and its thread ends (`idle.rs`); a new one
//! goes on when its client speaks. It starts in the pre-login loop
//! (`login.rs`: USER, PASS and the few verbs allowed before login); a successful login
//! hands over to the post-login loop here, where the session holds a [`Login`] and its jail
//! for good. Handlers return `Result<_, Fail>`; [`Conn::fail`] tells the client.
//!
//! The files of this folder are one concern each: `context.rs` (what the server hands every
//! session), `login.rs` (pre-login), `info.rs` (FEAT, OPTS, HELP, STAT), `files.rs`
//! (navigation and file commands), `datachan.rs` (how a data connection is set up, accepted
//! or made), `transfer.rs` (RETR, STOR, APPE, STOU) and `dirlist.rs` (LIST, NLST, MLSD, MLST,
//! STAT of a path). Nothing here knows about the accept loop or admission limits: the server
//! hands each session a [`Context`].

mod checksum;
mod context;
mod datachan;
mod dirlist;
mod files;
mod idle;
mod info;
mod login;
mod seats;
mod security;
mod transfer;

use std::io;
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{Home, Login};
use crate::command::{self, Command, LsArg, Type};
use crate::control::{Control, Input};
use crate::listing::Style;
use crate::net::Stream;
use crate::rate::Limiter;
use crate::reply::{self, Closing, Fail, *};
use crate::vfs::{Jail, VPath};
use crate::{limits, sys};

pub use context::{Context, home_problems};
use datachan::DataChannel;
pub use idle::Idle;
use transfer::StoreVerb;

/// The verbs whose refusals are logged at info (see [`Session::log_refusal`]).
const REFUSALS_AT_INFO: &[&str] = &[
    "RETR", "STOR", "APPE", "STOU", "DELE", "RMD", "XRMD", "MKD", "XMKD", "RNFR", "RNTO", "SITE",
    "MFMT", "PORT", "EPRT",
];

type Result<T = ()> = std::result::Result<T, Fail>;

/// Keep going or close the connection after this command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// The connection side of a session, the same before and after login.
struct Conn {
    ctx: Arc<Context>,
    ctl: Control,
    /// The client's address (IPv4-mapped addresses as plain IPv4).
    peer: IpAddr,
    /// The address the client reached us on.
    local: IpAddr,
    /// FTPS state.
    sec: security::Security,
    /// The bound the control socket's reads and writes have now ([`Conn::bound`]); `None`
    /// when something else (a TLS handshake) set it.
    bound: Option<Duration>,
    /// The next wait for a command gives the stack back if it lasts (see
    /// [`Conn::next_line`]); armed by the commands that run deep ([`Conn::arm_trim`]).
    trim_armed: bool,
    /// What HASH computes (OPTS HASH).
    hash_algo: crate::digest::Algo,
}

/// A logged-in session: the post-login state.
struct Session {
    conn: Conn,
    login: Login,
    jail: Jail,
    cwd: VPath,
    ty: Type,
    /// Offset set by REST for the next RETR/STOR.
    rest: u64,
    /// Source of a rename, set by RNFR for the next command only.
    rename_from: Option<VPath>,
    data: DataChannel,
    /// This session's bandwidth cap (`--anon-max-rate` or `--max-rate`).
    rate: Option<Arc<Limiter>>,
    /// Its place among its account's sessions, with the account's caps.
    seat: seats::Seat,
    /// The client's address and port, for the session's last log line.
    from: std::net::SocketAddr,
    /// Its place in the server's limits (released when the session ends, on whichever
    /// thread: see `idle.rs`).
    _admitted: Box<dyn Send>,
}

/// Runs a session on an accepted control connection until it ends or idles (then it goes on
/// on another thread: `idle.rs`). `implicit`: FTPS from the first byte (`--listen-tls`).
/// `admitted`: its place in the server's limits, kept until it ends.
pub fn run(ctx: Arc<Context>, stream: TcpStream, implicit: bool, admitted: Box<dyn Send>) {
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        sec: security::Security::new(&ctx),
        ctx,
        ctl: Control::new(Stream::plain(stream)),
        peer: peer.ip().to_canonical(),
        local: local.ip().to_canonical(),
        bound: None,
        trim_armed: true,
        hash_algo: crate::digest::Algo::Sha256,
    };
    // Until the first command is read, the greeting (and implicit FTPS's handshake) are
    // bounded by the login deadline.
    if conn.bound(conn.ctx.cfg.login_timeout).is_err() {
        return;
    }
    log::info!("{peer}: connected");
    if implicit && conn.implicit_tls().is_err() {
        log::info!("{peer}: disconnected");
        return;
    }
    if let Some((conn, login, jail, seat)) = login::PreLogin::new(conn).serve() {
        let cfg = &conn.ctx.cfg;
        let rate = match login.home {
            Home::Anonymous => cfg.anon_max_rate,
            Home::Dir(_) => cfg.max_rate,
        };
        return Box::new(Session {
            rate: rate.map(|r| Arc::new(Limiter::new(r))),
            seat,
            _admitted: admitted,
            from: peer,
            conn,
            login,
            jail,
            cwd: VPath::root(),
            ty: Type::Ascii,
            rest: 0,
            rename_from: None,
            data: DataChannel::default(),
        })
        .serve(false);
    }
    log::info!("{peer}: disconnected");
}

pub(crate) use crate::logging::display;

/// SECURITY: names with the temporary-upload prefix are the server's own: a client may not
/// create or rename to one (they are hidden from listings and swept at start-up).
fn name_allowed(p: &VPath) -> Result {
    if p.has_component_with_prefix(crate::vfs::TEMP_PREFIX) {
        return Err(Fail::Reply(FILE_UNAVAILABLE, "Reserved file name."));
    }
    Ok(())
}

impl Conn {
    fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> Result {
        self.ctl.reply(code, text).map_err(Fail::Ctl)
    }

    /// The 220 greeting, after the `--banner` lines (each `220-`, as vsftpd's banner_file:
    /// clients that show the greeting show them).
    fn greet(&mut self) -> Result {
        let mut out = Vec::new();
        for l in &self.ctx.cfg.banner {
            reply::multi_first(&mut out, SERVICE_READY, l);
        }
        reply::line(&mut out, SERVICE_READY, b"edgeftpd ready.");
        self.ctl.send(&out).map_err(Fail::Ctl)
    }

    fn multi(&mut self, code: u16, first: &str, body: &[Vec<u8>], last: &str) -> Result {
        self.ctl
            .multi(code, first.as_bytes(), body, last.as_bytes())
            .map_err(Fail::Ctl)
    }

    /// Bounds the control socket's blocking reads and writes by `t` for the phase the
    /// session is in (the login deadline, then the idle timeout); the one place that sets
    /// them, and only when they change.
    fn bound(&mut self, t: Duration) -> Result {
        if self.bound != Some(t) {
            self.ctl.stream().set_timeouts(t).map_err(Fail::Ctl)?;
            self.bound = Some(t);
        }
        Ok(())
    }

    /// After a command that ran deep (a login, a TLS handshake, a transfer): the next wait
    /// for a command gives the stack back if it lasts.
    fn arm_trim(&mut self) {
        self.trim_armed = true;
    }

    /// The next command line. A line over the limit is an error the session survives; the
    /// idle timeout, the login deadline (`by`, before login) and a closed connection end it.
    /// A session that has nothing to do for [`limits::STACK_TRIM_AFTER_MS`] gives back the
    /// passive port its data channel kept (`data`, after login) and then, logged in, its
    /// thread (`None`: see `idle.rs`); before login, after a command that ran deep, the
    /// stack it touched. A busy one pays one poll(2).
    fn next_line(
        &mut self,
        by: Option<Instant>,
        data: Option<&mut DataChannel>,
    ) -> Result<Option<Vec<u8>>> {
        let idle = self.ctx.cfg.idle_timeout;
        let (within, closing) = match by.map(|d| d.saturating_duration_since(Instant::now())) {
            Some(left) if left.is_zero() => {
                log::info!("{}: login timeout", self.peer);
                return Err(Fail::Closing(Closing::LoginTimeout));
            }
            Some(left) if left < idle => (left, Closing::LoginTimeout),
            _ => (idle, Closing::IdleTimeout),
        };
        self.bound(within)?;
        let mut left = within;
        if (self.trim_armed || data.is_some()) && !self.ctl.has_pending() {
            self.trim_armed = false;
            let pause = Duration::from_millis(limits::STACK_TRIM_AFTER_MS).min(within);
            let started = Instant::now();
            if !self.ctl.stream().wait_readable(pause).map_err(Fail::Ctl)? {
                // Also before the thread ends below: glibc keeps the stacks of ended
                // threads for its next ones, with the pages they touched.
                sys::trim_stack();
                if let Some(d) = data {
                    d.let_go();
                    return Ok(None);
                }
                left = within.saturating_sub(started.elapsed());
                if !self.ctl.stream().wait_readable(left).map_err(Fail::Ctl)? {
                    return Err(self.timed_out(closing));
                }
            }
        }
        let line = match self.ctl.read_line(left) {
            Ok(Input::Line(line)) => line,
            Ok(Input::TooLong) => return Err(Fail::LineTooLong),
            Ok(Input::Eof) => return Err(Fail::Ctl(io::ErrorKind::UnexpectedEof.into())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(self.timed_out(closing));
            }
            Err(e) => return Err(Fail::Ctl(e)),
        };
        // SECURITY: passwords never reach the log.
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"PASS") {
            log::debug!("{}: > PASS <hidden>", self.peer);
        } else {
            log::debug!("{}: > {}", self.peer, display(&line));
        }
        Ok(Some(line))
    }

    /// The login deadline or the idle timeout passed: logged, and the session ends.
    fn timed_out(&self, closing: Closing) -> Fail {
        let what = match closing {
            Closing::LoginTimeout => "login",
            _ => "idle",
        };
        log::info!("{}: {what} timeout", self.peer);
        Fail::Closing(closing)
    }

    /// The one place that turns a failure into a reply. Returns whether the session goes on.
    fn fail(&mut self, f: Fail) -> bool {
        let Some(answer) = f.answer() else {
            if let Fail::Ctl(e) = &f {
                log::debug!("{}: control connection: {e}", self.peer);
            }
            return false;
        };
        let mut sent = self.reply(answer.code, answer.text.as_bytes());
        if let (Ok(()), Some((code, text))) = (&sent, answer.then) {
            sent = self.reply(code, text);
        }
        sent.is_ok() && !matches!(f, Fail::Closing(_))
    }

    /// Runs one command's outcome through [`Conn::fail`]: whether the loop goes on.
    fn settle(&mut self, r: Result<Flow>) -> bool {
        match r {
            Ok(Flow::Continue) => true,
            Ok(Flow::Close) => false,
            Err(f) => self.fail(f),
        }
    }
}

impl Session {
    /// The post-login loop, until the session ends or idles: then it hands itself to the
    /// accept loop (`idle.rs`), which calls this again on a new thread when its client
    /// speaks (`expired`: when its idle timeout passed first).
    fn serve(mut self: Box<Self>, mut expired: bool) {
        loop {
            let mut next = if expired {
                expired = false;
                Err(self.conn.timed_out(Closing::IdleTimeout))
            } else {
                self.conn.next_line(None, Some(&mut self.data))
            };
            if let Ok(None) = next {
                // (The idle timeout counts from here: half a second late.)
                let until = Instant::now() + self.conn.ctx.cfg.idle_timeout;
                match idle::park(self, until) {
                    Ok(()) => return,
                    // No accept loop to take it (`--inetd`): it waits on this thread.
                    Err(back) => {
                        self = back;
                        next = self.conn.next_line(None, None);
                    }
                }
            }
            let r = match next {
                Ok(Some(line)) => {
                    let r = self.command(&line);
                    if let Err(f) = &r {
                        self.log_refusal(&line, f);
                    }
                    r
                }
                // (Not from a wait without a data channel.)
                Ok(None) => Ok(Flow::Continue),
                Err(f) => Err(f),
            };
            if !self.conn.settle(r) {
                break;
            }
        }
        log::info!("{}: disconnected", self.from);
    }

    fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> Result {
        self.conn.reply(code, text)
    }

    /// Logs why a command was refused: at info for the commands that change or fetch a
    /// file (an admin looking for a failed upload finds it), at debug for the rest (SIZE,
    /// MDTM, CWD and listings of missing paths: clients probe with them all the time).
    /// Transfers that began log their own line ([`Session::conclude`]); a line that is not
    /// a command is no refusal.
    fn log_refusal(&self, line: &[u8], f: &Fail) {
        let why = match f {
            Fail::Fs(e) => e.to_string(),
            Fail::Path(crate::vfs::PathError::Nul) => "a NUL byte in the path".into(),
            Fail::Path(crate::vfs::PathError::TooLong) => "the path is too long".into(),
            Fail::Reply(_, text) => text.trim_end_matches('.').to_string(),
            _ => return,
        };
        let verb = command::verb_of(line).map_or("", |v| v.name);
        let level = if REFUSALS_AT_INFO.contains(&verb) {
            log::Level::Info
        } else {
            log::Level::Debug
        };
        log::log!(
            level,
            "{} {}: {} refused: {why}",
            self.conn.peer,
            self.login.name,
            display(line)
        );
    }

    fn path(&self, arg: &[u8]) -> Result<VPath> {
        Ok(self.cwd.join(arg)?)
    }

    /// One command after login: parse and dispatch.
    fn command(&mut self, line: &[u8]) -> Result<Flow> {
        let cmd = command::parse(line)?;
        // RNTO must come right after RNFR.
        let rename_from = self.rename_from.take();
        match cmd {
            Command::User(_) => {
                return Err(Fail::Reply(NOT_LOGGED_IN, "Can't change to another user."));
            }
            Command::Pass(_) => self.reply(LOGGED_IN, "Already logged in.")?,
            Command::Host(_) => self.reply(BAD_SEQUENCE, "HOST must come before USER.")?,
            Command::Acct => self.reply(SUPERFLUOUS, "ACCT not needed.")?,
            Command::Quit => {
                self.reply(GOODBYE, "Goodbye.")?;
                return Ok(Flow::Close);
            }
            Command::Noop => self.reply(OK, "NOOP ok.")?,
            Command::Syst => self.conn.syst()?,
            Command::Feat => self.conn.feat()?,
            Command::Opts(o) => self.conn.opts(&o)?,
            Command::Help(topic) => self.conn.help(&topic)?,
            Command::Stat(arg) if arg.is_empty() => self.status()?,
            Command::Stat(arg) => self.stat_path(&arg)?,
            Command::Auth(mech) => self.conn.auth(&mech, None)?,
            Command::Pbsz(size) => self.conn.pbsz(&size)?,
            Command::Prot(level) => self.conn.prot(&level)?,
            Command::Ccc => self.conn.ccc()?,
            Command::Pwd => {
                let mut text = reply::quote_path(&self.cwd.to_bytes());
                text.extend_from_slice(b" is the current directory.");
                self.reply(PATH_CREATED, text)?;
            }
            Command::Cwd(arg) => self.cwd(&arg, FILE_ACTION_OK)?,
            // RFC 959 gives CDUP 200 and CWD 250 (also for `CWD ..`).
            Command::Cdup => self.cwd(b"..", OK)?,
            Command::Type(t) => {
                self.ty = t;
                let text = match t {
                    Type::Ascii => "Switching to ASCII mode.",
                    Type::Image => "Switching to Binary mode.",
                };
                self.reply(OK, text)?;
            }
            Command::Mode => self.reply(OK, "Mode set to S.")?,
            Command::Stru => self.reply(OK, "Structure set to F.")?,
            // 200, not 202: a Dahua camera sends ALLO again and again on a 202
            // (hassio-addons/app-ftp#245); space is checked as the upload goes.
            Command::Allo => self.reply(OK, "ALLO ok.")?,
            Command::Rest(n) => {
                self.rest = n;
                let text = format!("Restart position accepted ({n}).");
                self.reply(PENDING_MORE_INFO, text)?;
            }
            Command::Pasv => self.pasv()?,
            Command::Epsv(arg) => self.epsv(arg)?,
            Command::Port(a) => self.port(a, "PORT")?,
            Command::Eprt(a) => self.port(a, "EPRT")?,
            Command::List(arg) => self.list(&arg, Style::Long)?,
            Command::Nlst(arg) => self.list(&arg, Style::Names)?,
            Command::Mlsd(path) => self.list(&LsArg { path, all: true }, Style::Machine)?,
            Command::Mlst(arg) => self.mlst(&arg)?,
            Command::Retr(arg) => self.retr(&arg)?,
            Command::Stor(arg) => self.store(&arg, StoreVerb::Stor)?,
            Command::Appe(arg) => self.store(&arg, StoreVerb::Appe)?,
            Command::Stou(arg) => self.store(&arg, StoreVerb::Stou)?,
            Command::Size(arg) => self.size(&arg)?,
            Command::Mdtm(arg) => self.mdtm(&arg)?,
            Command::Mfmt(t, arg) => self.mfmt(t, &arg)?,
            Command::Dele(arg) => self.dele(&arg)?,
            Command::Rmd(arg) => self.rmd(&arg)?,
            Command::Mkd(arg) => self.mkd(&arg)?,
            Command::Rnfr(arg) => self.rnfr(&arg)?,
            Command::Rnto(arg) => self.rnto(rename_from, &arg)?,
            Command::Abor => {
                self.data.forget();
                self.reply(TRANSFER_OK, "No transfer to abort.")?;
            }
            Command::SiteChmod(mode, arg) => self.chmod(mode, &arg)?,
            Command::SiteHelp => self.reply(HELP, "SITE commands: CHMOD HELP")?,
            Command::Hash(p) => self.hash(&p)?,
            Command::XHash {
                algo,
                path,
                start,
                end,
            } => self.xhash(algo, &path, start, end)?,
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_is_escaped() {
        assert_eq!(display(b"plain name.txt"), "plain name.txt");
        assert_eq!(display("Grüße".as_bytes()), "Grüße");
        assert_eq!(display(b"a\rlogin admin\x1b[K"), "a\\x0dlogin admin\\x1b[K");
        assert_eq!(display(b"caf\xe9\n"), "caf\\xe9\\x0a");
        assert_eq!(display(b"back\\slash"), "back\\x5cslash");
        assert_eq!(display("\u{85}".as_bytes()), "\\xc2\\x85");
    }
}
