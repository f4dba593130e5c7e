//! One FTP session: what it gets from the server, its two command loops, and the one place
//! where a failure becomes a reply.
//!
//! Each session runs on its own thread and owns everything it touches: the control
//! connection, its jail descriptor, its data connection. It starts in the pre-login loop
//! (`login.rs`: USER, PASS and the few verbs allowed before login); a successful login
//! hands over to the post-login loop here, where the session holds a [`Login`] and its jail
//! for good. Handlers return `Result<_, Fail>`; [`Conn::fail`] tells the client.
//!
//! The files of this folder are one concern each: `login.rs` (pre-login), `info.rs` (FEAT,
//! OPTS, HELP, STAT), `files.rs` (navigation and file commands), `datachan.rs` (how a data
//! connection is set up, accepted or made), `transfer.rs` (RETR, STOR, APPE, STOU) and
//! `dirlist.rs` (LIST, NLST, MLSD, MLST, STAT of a path). Nothing here knows about the accept
//! loop or admission limits: the server hands each session a [`Context`].

mod datachan;
mod dirlist;
mod files;
mod info;
mod login;
mod transfer;

use std::io;
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::auth::Login;
use crate::command::{self, Command, Type};
use crate::config::Config;
use crate::control::{Control, Input};
use crate::data::Setup;
use crate::listing::Style;
use crate::net::Stream;
use crate::reply::{self, Closing, Fail, *};
use crate::vfs::{Jail, VPath};

use transfer::StoreKind;

/// What every session gets from the server: the configuration, the anonymous root, and
/// the count of transfers in flight (shutdown waits for them).
pub struct Context {
    pub cfg: Config,
    /// The anonymous root, opened once at start-up.
    pub anon_jail: Option<Jail>,
    transfers: AtomicUsize,
}

impl Context {
    pub fn new(cfg: Config, anon_jail: Option<Jail>) -> Context {
        Context {
            cfg,
            anon_jail,
            transfers: AtomicUsize::new(0),
        }
    }

    /// Marks a transfer in flight until the guard is dropped.
    pub fn transfer_started(&self) -> TransferGuard<'_> {
        self.transfers.fetch_add(1, Ordering::SeqCst);
        TransferGuard(self)
    }

    /// Transfers in flight now.
    pub fn transfers(&self) -> usize {
        self.transfers.load(Ordering::SeqCst)
    }
}

/// A transfer in flight; counted until dropped, even if the session panics.
pub struct TransferGuard<'a>(&'a Context);

impl Drop for TransferGuard<'_> {
    fn drop(&mut self) {
        self.0.transfers.fetch_sub(1, Ordering::SeqCst);
    }
}

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
    data: Setup,
    /// EPSV ALL was sent: only EPSV may set up data connections (RFC 2428).
    epsv_all: bool,
}

/// Runs a session on an accepted control connection until it ends.
pub fn run(ctx: Arc<Context>, stream: TcpStream) {
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let stream = Stream::plain(stream);
    stream.set_timeouts(ctx.cfg.idle_timeout);
    let _ = stream.socket().set_nodelay(true);
    let conn = Conn {
        ctx,
        ctl: Control::new(stream),
        peer: peer.ip().to_canonical(),
        local: local.ip().to_canonical(),
    };
    log::info!("{peer}: connected");
    if let Some((conn, login, jail)) = login::PreLogin::new(conn).serve() {
        Session {
            conn,
            login,
            jail,
            cwd: VPath::root(),
            ty: Type::Ascii,
            rest: 0,
            rename_from: None,
            data: Setup::None,
            epsv_all: false,
        }
        .serve();
    }
    log::info!("{peer}: disconnected");
}

/// Client bytes (names, paths) for a log line.
fn display(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Conn {
    fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> Result {
        self.ctl.reply(code, text).map_err(Fail::Ctl)
    }

    fn multi(&mut self, code: u16, first: &str, body: &[Vec<u8>], last: &str) -> Result {
        self.ctl
            .multi(code, first.as_bytes(), body, last.as_bytes())
            .map_err(Fail::Ctl)
    }

    /// The next command line. A line over the limit is an error the session survives; the
    /// idle timeout and a closed connection end it.
    fn next_line(&mut self) -> Result<Vec<u8>> {
        let line = match self.ctl.read_line(self.ctx.cfg.idle_timeout) {
            Ok(Input::Line(line)) => line,
            Ok(Input::TooLong) => return Err(Fail::LineTooLong),
            Ok(Input::Eof) => return Err(Fail::Ctl(io::ErrorKind::UnexpectedEof.into())),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                log::info!("{}: idle timeout", self.peer);
                return Err(Fail::Closing(Closing::IdleTimeout));
            }
            Err(e) => return Err(Fail::Ctl(e)),
        };
        // SECURITY: passwords never reach the log.
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"PASS") {
            log::debug!("{}: > PASS <hidden>", self.peer);
        } else {
            log::debug!("{}: > {}", self.peer, display(&line));
        }
        Ok(line)
    }

    /// The one place that turns a failure into a reply. Returns whether the session goes on.
    fn fail(&mut self, f: Fail) -> bool {
        let Some(answer) = f.answer() else {
            log::debug!("{}: control connection: {f:?}", self.peer);
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
    /// The post-login loop.
    fn serve(&mut self) {
        loop {
            let r = self.conn.next_line().and_then(|line| self.command(&line));
            if !self.conn.settle(r) {
                return;
            }
        }
    }

    fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> Result {
        self.conn.reply(code, text)
    }

    fn path(&self, arg: &[u8]) -> Result<VPath> {
        Ok(self.cwd.join(arg)?)
    }

    /// SECURITY: every command that changes the file system passes here first.
    fn need_write(&self) -> Result {
        if self.login.writable {
            Ok(())
        } else {
            Err(Fail::Denied)
        }
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
            Command::Auth => self.reply(NOT_IMPLEMENTED, "TLS is not supported.")?,
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
            Command::Allo => self.reply(SUPERFLUOUS, "ALLO not needed.")?,
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
            Command::Mlsd(arg) => self.list(&arg, Style::Machine)?,
            Command::Mlst(arg) => self.mlst(&arg)?,
            Command::Retr(arg) => self.retr(&arg)?,
            Command::Stor(arg) => self.store(&arg, StoreKind::Stor)?,
            Command::Appe(arg) => self.store(&arg, StoreKind::Appe)?,
            Command::Stou(arg) => self.store(&arg, StoreKind::Stou)?,
            Command::Size(arg) => self.size(&arg)?,
            Command::Mdtm(arg) => self.mdtm(&arg)?,
            Command::Mfmt(t, arg) => self.mfmt(t, &arg)?,
            Command::Dele(arg) => self.dele(&arg)?,
            Command::Rmd(arg) => self.rmd(&arg)?,
            Command::Mkd(arg) => self.mkd(&arg)?,
            Command::Rnfr(arg) => self.rnfr(&arg)?,
            Command::Rnto(arg) => self.rnto(rename_from, &arg)?,
            Command::Abor => {
                self.data = Setup::None;
                self.reply(TRANSFER_OK, "No transfer to abort.")?;
            }
            Command::SiteChmod(mode, arg) => self.chmod(mode, &arg)?,
            Command::SiteHelp => self.reply(HELP, "SITE commands: CHMOD HELP")?,
        }
        Ok(Flow::Continue)
    }
}
