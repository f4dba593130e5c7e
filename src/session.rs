//! One FTP session: its state and its command loop (read a line, parse, dispatch, reply).
//!
//! Each session runs on its own thread and owns everything it touches: the control
//! connection, its jail descriptor, its data connection. Handlers return `Result<_, Fail>`;
//! [`Session::fail`] is the one place an error becomes a reply.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{self, Password};
use crate::command::{self, Command, EpsvArg, ParseError, Type};
use crate::config::limits;
use crate::control::{Control, Input};
use crate::data::{self, Outcome, Setup, Transfer};
use crate::list;
use crate::listing::{Listing, Style};
use crate::reply::{self, *};
use crate::server::Shared;
use crate::vfs::{Jail, Kind, Names, PathError, VPath};

/// Why a command failed. Everything but `Ctl` becomes a reply and the session goes on.
#[derive(Debug)]
enum Fail {
    /// The control connection itself failed: the session ends.
    Ctl(io::Error),
    /// A file-system error, mapped by errno.
    Fs(io::Error),
    /// A path refused before reaching the file system.
    Path(PathError),
    /// The user lacks write permission.
    Denied,
    /// A specific reply.
    Reply(u16, &'static str),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Fs(e)
    }
}

impl From<PathError> for Fail {
    fn from(e: PathError) -> Fail {
        Fail::Path(e)
    }
}

type Result<T = ()> = std::result::Result<T, Fail>;

/// Keep going or close the connection after this command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// A logged-in user.
struct Login {
    name: String,
    jail: Jail,
    writable: bool,
}

pub struct Session {
    shared: Arc<Shared>,
    ctl: Control,
    /// The client's address (IPv4-mapped addresses as plain IPv4).
    peer: IpAddr,
    /// The address the client reached us on.
    local: IpAddr,
    /// Name given by USER, waiting for PASS.
    pending_user: Option<Vec<u8>>,
    login: Option<Login>,
    failed_logins: u32,
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
pub fn run(shared: Arc<Shared>, stream: TcpStream) {
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let idle = shared.cfg.idle_timeout;
    let _ = stream.set_read_timeout(Some(idle));
    let _ = stream.set_write_timeout(Some(idle));
    let _ = stream.set_nodelay(true);
    let mut s = Session {
        shared,
        ctl: Control::new(stream),
        peer: peer.ip().to_canonical(),
        local: local.ip().to_canonical(),
        pending_user: None,
        login: None,
        failed_logins: 0,
        cwd: VPath::root(),
        ty: Type::Ascii,
        rest: 0,
        rename_from: None,
        data: Setup::None,
        epsv_all: false,
    };
    log::info!("{peer}: connected");
    s.serve();
    log::info!("{peer}: disconnected");
}

fn display(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Session {
    fn serve(&mut self) {
        if self.reply(SERVICE_READY, "edgeftpd ready.").is_err() {
            return;
        }
        loop {
            let input = match self.ctl.read_line(self.shared.cfg.idle_timeout) {
                Ok(i) => i,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    log::info!("{}: idle timeout", self.peer);
                    let _ = self.reply(CLOSING, "Timeout; closing control connection.");
                    return;
                }
                Err(_) => return,
            };
            let flow = match input {
                Input::Eof => return,
                Input::TooLong => self
                    .reply(UNKNOWN_COMMAND, "Command line too long.")
                    .map(|_| Flow::Continue),
                Input::Line(line) => self.command(&line),
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::Close) => return,
                Err(e) => {
                    log::debug!("{}: control connection: {e:?}", self.peer);
                    return;
                }
            }
        }
    }

    fn reply(&mut self, code: u16, text: impl AsRef<[u8]>) -> Result {
        self.ctl.reply(code, text).map_err(Fail::Ctl)
    }

    fn multi(&mut self, code: u16, first: &str, body: &[Vec<u8>], last: &str) -> Result {
        self.ctl
            .multi(code, first.as_bytes(), body, last.as_bytes())
            .map_err(Fail::Ctl)
    }

    /// One command: parse, check the login phase, dispatch, turn a failure into a reply.
    fn command(&mut self, line: &[u8]) -> Result<Flow> {
        let verb_is_pass = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"PASS");
        // SECURITY: passwords never reach the log.
        if verb_is_pass {
            log::debug!("{}: > PASS <hidden>", self.peer);
        } else {
            log::debug!("{}: > {}", self.peer, display(line));
        }
        let cmd = command::parse(line);
        if self.login.is_none() {
            let allowed = match &cmd {
                Ok(c) => command::allowed_before_login(c),
                // A known pre-login verb with a bad argument gets its syntax error.
                Err(ParseError::Syntax(_)) => command::verb_allowed_before_login(line),
                Err(_) => false,
            };
            if !allowed {
                self.reply(NOT_LOGGED_IN, "Please login with USER and PASS.")?;
                return Ok(Flow::Continue);
            }
        }
        let cmd = match cmd {
            Ok(c) => c,
            Err(e) => {
                let (code, text) = match e {
                    ParseError::Unknown => (UNKNOWN_COMMAND, "Unknown command."),
                    ParseError::NotImplemented => (NOT_IMPLEMENTED, "Command not implemented."),
                    ParseError::Syntax(t) => (BAD_ARGUMENTS, t),
                    ParseError::Unsupported(t) => (BAD_PARAMETER, t),
                };
                self.reply(code, text)?;
                return Ok(Flow::Continue);
            }
        };
        // RNTO must come right after RNFR.
        let rename_from = self.rename_from.take();
        match self.dispatch(cmd, rename_from) {
            Ok(flow) => Ok(flow),
            Err(Fail::Ctl(e)) => Err(Fail::Ctl(e)),
            Err(f) => {
                self.fail(f)?;
                Ok(Flow::Continue)
            }
        }
    }

    /// The one place that turns a failure into a reply.
    fn fail(&mut self, f: Fail) -> Result {
        let (code, text): (u16, String) = match f {
            Fail::Ctl(e) => return Err(Fail::Ctl(e)),
            Fail::Reply(c, t) => (c, t.into()),
            Fail::Denied => (NO_PERMISSION, "Permission denied.".into()),
            Fail::Path(PathError::Nul) => (BAD_ARGUMENTS, "Invalid character in path.".into()),
            Fail::Path(PathError::TooLong) => (BAD_FILE_NAME, "File name too long.".into()),
            Fail::Fs(e) => fs_error(&e),
        };
        self.reply(code, text)
    }

    fn logged_in(&self) -> &Login {
        self.login.as_ref().expect("checked before dispatch")
    }

    fn path(&self, arg: &[u8]) -> Result<VPath> {
        Ok(self.cwd.join(arg)?)
    }

    /// SECURITY: every command that changes the file system passes here first.
    fn need_write(&self) -> Result {
        if self.logged_in().writable {
            Ok(())
        } else {
            Err(Fail::Denied)
        }
    }

    fn dispatch(&mut self, cmd: Command, rename_from: Option<VPath>) -> Result<Flow> {
        match cmd {
            Command::User(name) => self.user(name)?,
            Command::Pass(pw) => return self.pass(pw),
            Command::Acct => self.reply(SUPERFLUOUS, "ACCT not needed.")?,
            Command::Quit => {
                self.reply(GOODBYE, "Goodbye.")?;
                return Ok(Flow::Close);
            }
            Command::Noop => self.reply(OK, "NOOP ok.")?,
            Command::Syst => self.reply(SYSTEM_TYPE, "UNIX Type: L8")?,
            Command::Feat => self.feat()?,
            Command::Opts(o) => self.opts(&o)?,
            Command::Help(topic) => self.help(&topic)?,
            Command::Stat(arg) => self.stat(&arg)?,
            Command::Host(_) => {
                if self.pending_user.is_some() || self.login.is_some() {
                    self.reply(BAD_SEQUENCE, "HOST must come before USER.")?;
                } else {
                    // One virtual host is served, whatever name the client asked for.
                    self.reply(SERVICE_READY, "Host accepted.")?;
                }
            }
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
                self.reply(
                    PENDING_MORE_INFO,
                    format!("Restart position accepted ({n})."),
                )?;
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
            Command::Size(arg) => {
                let m = self.logged_in().jail.stat(&self.path(&arg)?)?;
                if m.kind != Kind::File {
                    return Err(Fail::Reply(FILE_UNAVAILABLE, "Not a regular file."));
                }
                self.reply(FILE_STATUS, m.size.to_string())?;
            }
            Command::Mdtm(arg) => self.mdtm(&arg)?,
            Command::Mfmt(t, arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.set_mtime(&p, t)?;
                let mut text = format!("Modify={}; ", list::timeval(t)).into_bytes();
                text.extend_from_slice(&arg);
                self.reply(FILE_STATUS, text)?;
            }
            Command::Dele(arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.unlink(&p)?;
                log::info!(
                    "{} {}: deleted {}",
                    self.peer,
                    self.logged_in().name,
                    display(&p.to_bytes())
                );
                self.reply(FILE_ACTION_OK, "Delete operation successful.")?;
            }
            Command::Rmd(arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.rmdir(&p)?;
                self.reply(FILE_ACTION_OK, "Remove directory operation successful.")?;
            }
            Command::Mkd(arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.mkdir(&p)?;
                let mut text = reply::quote_path(&p.to_bytes());
                text.extend_from_slice(b" created.");
                self.reply(PATH_CREATED, text)?;
            }
            Command::Rnfr(arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.lstat(&p)?;
                self.rename_from = Some(p);
                self.reply(PENDING_MORE_INFO, "Ready for RNTO.")?;
            }
            Command::Rnto(arg) => {
                let Some(from) = rename_from else {
                    return Err(Fail::Reply(BAD_SEQUENCE, "RNFR required first."));
                };
                self.need_write()?;
                let to = self.path(&arg)?;
                self.logged_in().jail.rename(&from, &to)?;
                self.reply(FILE_ACTION_OK, "Rename successful.")?;
            }
            Command::Abor => {
                self.data = Setup::None;
                self.reply(TRANSFER_OK, "No transfer to abort.")?;
            }
            Command::SiteChmod(mode, arg) => {
                self.need_write()?;
                let p = self.path(&arg)?;
                self.logged_in().jail.chmod(&p, mode)?;
                self.reply(OK, "SITE CHMOD command ok.")?;
            }
            Command::SiteHelp => self.reply(HELP, "SITE commands: CHMOD HELP")?,
        }
        Ok(Flow::Continue)
    }

    fn user(&mut self, name: Vec<u8>) -> Result {
        if self.login.is_some() {
            return Err(Fail::Reply(NOT_LOGGED_IN, "Can't change to another user."));
        }
        self.pending_user = Some(name);
        self.reply(NEED_PASSWORD, "Please specify the password.")
    }

    fn pass(&mut self, pw: Password) -> Result<Flow> {
        if self.login.is_some() {
            self.reply(LOGGED_IN, "Already logged in.")?;
            return Ok(Flow::Continue);
        }
        let Some(name) = self.pending_user.take() else {
            self.reply(BAD_SEQUENCE, "Login with USER first.")?;
            return Ok(Flow::Continue);
        };
        let cfg = &self.shared.cfg;
        // SECURITY: the decision who gets in, and where their jail is.
        let granted: Option<(String, io::Result<Jail>, bool)> =
            if cfg.anonymous && auth::is_anonymous_name(&name) {
                let jail = match &self.shared.anon_jail {
                    Some(j) => j.try_clone(),
                    None => Jail::open(&cfg.root),
                };
                Some(("anonymous".into(), jail, cfg.anon_write))
            } else {
                cfg.users
                    .as_ref()
                    .and_then(|u| u.get(&name))
                    .filter(|u| u.check(&pw))
                    .map(|u| (u.name.clone(), Jail::open(&u.home), u.writable))
            };
        match granted {
            Some((user, Ok(jail), writable)) => {
                log::info!(
                    "{}: login {user} ({})",
                    self.peer,
                    if writable { "rw" } else { "ro" }
                );
                self.login = Some(Login {
                    name: user,
                    jail,
                    writable,
                });
                self.reply(LOGGED_IN, "Login successful.")?;
                Ok(Flow::Continue)
            }
            Some((user, Err(e), _)) => {
                log::error!(
                    "{}: login {user}: cannot open home directory: {e}",
                    self.peer
                );
                self.reply(NOT_LOGGED_IN, "Home directory unavailable.")?;
                Ok(Flow::Continue)
            }
            None => {
                self.failed_logins += 1;
                log::warn!(
                    "{}: failed login for {} ({} of {})",
                    self.peer,
                    display(&name),
                    self.failed_logins,
                    limits::MAX_LOGIN_FAILS
                );
                std::thread::sleep(Duration::from_millis(limits::LOGIN_FAIL_DELAY_MS));
                self.reply(NOT_LOGGED_IN, "Login incorrect.")?;
                if self.failed_logins >= limits::MAX_LOGIN_FAILS {
                    return Ok(Flow::Close);
                }
                Ok(Flow::Continue)
            }
        }
    }

    fn feat(&mut self) -> Result {
        let feats: Vec<Vec<u8>> = [
            "EPRT",
            "EPSV",
            "HOST",
            "MDTM",
            "MFMT",
            "MLST type*;size*;modify*;perm*;unique*;",
            "PASV",
            "REST STREAM",
            "SIZE",
            "TVFS",
            "UTF8",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        self.multi(SYSTEM_STATUS, "Features:", &feats, "End")
    }

    fn opts(&mut self, o: &[u8]) -> Result {
        let up = o.to_ascii_uppercase();
        if up == b"UTF8 ON" || up == b"UTF8" || up == b"UTF-8 ON" {
            // Names are bytes end to end, so UTF-8 names just work.
            return self.reply(OK, "Always in UTF8 mode.");
        }
        if up == b"UTF8 OFF" {
            return self.reply(OK, "UTF8 off; names are passed through as bytes.");
        }
        if let Some(facts) = up.strip_prefix(b"MLST") {
            // We always send every fact; confirm the ones asked for that we know.
            let known = ["TYPE", "SIZE", "MODIFY", "PERM", "UNIQUE"];
            let mut ok = String::new();
            for f in facts.trim_ascii().split(|&b| b == b';') {
                if let Some(k) = known.iter().find(|k| k.as_bytes() == f) {
                    ok.push_str(&k.to_ascii_lowercase());
                    ok.push(';');
                }
            }
            return self.reply(OK, format!("MLST OPTS {ok}"));
        }
        Err(Fail::Reply(BAD_ARGUMENTS, "Option not understood."))
    }

    fn help(&mut self, topic: &[u8]) -> Result {
        const VERBS: &str = "ABOR ACCT ALLO APPE CDUP CWD DELE EPRT EPSV FEAT HELP HOST LIST MDTM MFMT \
                             MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PORT PWD QUIT REST RETR RMD \
                             RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD XMKD \
                             XPWD XRMD";
        if topic.is_empty() {
            let body: Vec<Vec<u8>> = VERBS
                .split_whitespace()
                .collect::<Vec<_>>()
                .chunks(8)
                .map(|c| c.join(" ").into_bytes())
                .collect();
            return self.multi(
                HELP,
                "The following commands are recognized:",
                &body,
                "Help OK.",
            );
        }
        let t = topic.to_ascii_uppercase();
        if VERBS.split_whitespace().any(|v| v.as_bytes() == t) {
            let mut text = t;
            text.extend_from_slice(b" is supported.");
            self.reply(HELP, text)
        } else {
            Err(Fail::Reply(NOT_IMPLEMENTED, "Unknown command."))
        }
    }

    fn stat(&mut self, arg: &[u8]) -> Result {
        if arg.is_empty() {
            let login = self.logged_in();
            let body = vec![
                format!("Connected to {}", self.peer).into_bytes(),
                format!("Logged in as {}", login.name).into_bytes(),
                format!(
                    "TYPE: {}; STRU: F; MODE: S",
                    if self.ty == Type::Ascii {
                        "ASCII"
                    } else {
                        "BINARY"
                    }
                )
                .into_bytes(),
                format!(
                    "Session timeout in seconds is {}",
                    self.shared.cfg.idle_timeout.as_secs()
                )
                .into_bytes(),
                b"No data connection".to_vec(),
            ];
            return self.multi(SYSTEM_STATUS, "edgeftpd status:", &body, "End of status");
        }
        // `STAT -la dir`: options before the path are ignored, as for LIST.
        let arg = command::strip_ls_options(arg);
        let p = self.path(arg)?;
        let jail = &self.logged_in().jail;
        let meta = jail.stat(&p)?;
        let now = list::now();
        let mut text = Vec::new();
        let code = if meta.kind == Kind::Dir {
            let fd = jail.open_dir(&p)?;
            let mut names = jail.read_names(&fd)?;
            names.sort();
            let listing = Listing {
                jail,
                dir: &fd,
                path: &p,
                names: &names,
                style: Style::Long,
                prefix: b"",
                writable: false,
                now,
            };
            listing.render_all(&mut text);
            DIR_STATUS
        } else {
            let m = jail.lstat(&p)?;
            let name = p.file_name().unwrap_or(b"/").to_vec();
            list::ls_line(&mut text, &name, &m, None, now);
            FILE_STATUS
        };
        let body: Vec<Vec<u8>> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        self.multi(code, "Status follows:", &body, "End of status")
    }

    fn cwd(&mut self, arg: &[u8], code: u16) -> Result {
        let p = self.path(arg)?;
        let m = self.logged_in().jail.stat(&p)?;
        if m.kind != Kind::Dir {
            return Err(Fail::Reply(FILE_UNAVAILABLE, "Not a directory."));
        }
        // A directory without search permission can't be entered (550, as chdir says).
        self.logged_in().jail.check_search(&p)?;
        self.cwd = p;
        self.reply(code, "Directory successfully changed.")
    }

    fn mdtm(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        let jail = &self.logged_in().jail;
        match jail.stat(&p) {
            Ok(m) => self.reply(FILE_STATUS, list::timeval(m.mtime)),
            // ncftp sets times with the two-argument form `MDTM YYYYMMDDHHMMSS path`.
            Err(e) => {
                let (t, rest) =
                    arg.split_at(arg.iter().position(|&b| b == b' ').unwrap_or(arg.len()));
                match command::parse_time(t) {
                    Some(secs) if rest.len() > 1 => {
                        self.need_write()?;
                        let p = self.path(&rest[1..])?;
                        self.logged_in().jail.set_mtime(&p, secs)?;
                        self.reply(FILE_STATUS, list::timeval(secs))
                    }
                    _ => Err(Fail::Fs(e)),
                }
            }
        }
    }

    /// SECURITY: passive connections are accepted only from the control connection's peer
    /// (checked in `data::accept_passive`).
    fn open_passive(&mut self) -> Result<u16> {
        self.data = Setup::None;
        let cfg = &self.shared.cfg;
        match data::listen_passive(self.local, cfg.pasv_min, cfg.pasv_max) {
            Ok(l) => {
                let port = l.local_addr().map_err(Fail::Fs)?.port();
                self.data = Setup::Passive(l);
                Ok(port)
            }
            Err(e) => {
                log::warn!("{}: no passive port: {e}", self.peer);
                Err(Fail::Reply(
                    CANT_OPEN_DATA,
                    "No passive port available; try again later.",
                ))
            }
        }
    }

    fn pasv(&mut self) -> Result {
        if self.epsv_all {
            return Err(Fail::Reply(BAD_SEQUENCE, "EPSV ALL in effect; use EPSV."));
        }
        let advertised = match (self.shared.cfg.pasv_address, self.local) {
            (Some(IpAddr::V4(a)), _) => a,
            (_, IpAddr::V4(a)) => a,
            _ => return Err(Fail::Reply(BAD_PROTOCOL, "PASV is IPv4 only; use EPSV.")),
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

    fn epsv(&mut self, arg: EpsvArg) -> Result {
        let ours = if self.local.is_ipv4() { 1 } else { 2 };
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

    /// SECURITY: active mode connects only back to the control connection's peer and only to
    /// unprivileged ports; anything else would let a client use us to attack a third host
    /// (the FTP bounce attack) or our own privileged services. Refused requests are logged.
    fn port(&mut self, addr: SocketAddr, verb: &'static str) -> Result {
        self.data = Setup::None;
        if self.epsv_all {
            return Err(Fail::Reply(BAD_SEQUENCE, "EPSV ALL in effect; use EPSV."));
        }
        let ip = addr.ip().to_canonical();
        if ip != self.peer || addr.port() < 1024 {
            log::warn!(
                "{}: refused {verb} to {addr} (bounce protection)",
                self.peer
            );
            let text = if verb == "PORT" {
                "Illegal PORT command."
            } else {
                "Illegal EPRT command."
            };
            return Err(Fail::Reply(UNKNOWN_COMMAND, text));
        }
        self.data = Setup::Active(SocketAddr::new(ip, addr.port()));
        self.reply(
            OK,
            format!("{verb} command successful. Consider using PASV."),
        )
    }

    /// Makes the data connection set up by PASV/EPSV/PORT/EPRT (once).
    fn connect_data(&mut self) -> Result<TcpStream> {
        let timeout = self.shared.cfg.data_timeout;
        let r = match std::mem::take(&mut self.data) {
            Setup::None => {
                return Err(Fail::Reply(CANT_OPEN_DATA, "Use PORT, PASV or EPSV first."));
            }
            Setup::Passive(l) => data::accept_passive(l, self.peer, timeout),
            Setup::Active(a) => data::connect_active(a, timeout),
        };
        r.map_err(|e| {
            log::info!("{}: data connection failed: {e}", self.peer);
            Fail::Reply(CANT_OPEN_DATA, "Failed to establish data connection.")
        })
    }

    /// Replies for the end of a transfer; returns the word logged for the result.
    fn finish(&mut self, outcome: Outcome, ok_text: &'static str) -> Result<&'static str> {
        match outcome {
            Outcome::Complete => {
                self.reply(TRANSFER_OK, ok_text)?;
                Ok("ok")
            }
            Outcome::Aborted => {
                self.reply(TRANSFER_ABORTED, "Connection closed; transfer aborted.")?;
                self.reply(TRANSFER_OK, "ABOR successful.")?;
                Ok("aborted")
            }
            Outcome::ClientGone => Err(Fail::Ctl(io::ErrorKind::ConnectionAborted.into())),
            Outcome::DataError(e) => {
                log::info!("{}: data connection: {e}", self.peer);
                self.reply(TRANSFER_ABORTED, "Connection closed; transfer aborted.")?;
                Ok("data connection failed")
            }
            Outcome::TimedOut => {
                self.reply(
                    TRANSFER_ABORTED,
                    "Data connection timed out; transfer aborted.",
                )?;
                Ok("timed out")
            }
            Outcome::LocalError(e) => {
                log::warn!("{}: transfer: {e}", self.peer);
                let (code, text) = fs_error(&e);
                let code = if code == FILE_UNAVAILABLE {
                    LOCAL_ERROR
                } else {
                    code
                };
                self.reply(code, text)?;
                Ok("local error")
            }
        }
    }

    fn log_transfer(&self, verb: &str, p: &VPath, bytes: u64, start: Instant, result: &str) {
        log::info!(
            "{} {}: {verb} {} {bytes} bytes {:.3}s {result}",
            self.peer,
            self.logged_in().name,
            display(&p.to_bytes()),
            start.elapsed().as_secs_f64()
        );
    }

    fn retr(&mut self, arg: &[u8]) -> Result {
        let rest = std::mem::take(&mut self.rest);
        let p = self.path(arg)?;
        let (mut file, meta) = self.logged_in().jail.open_read(&p)?;
        if rest > meta.size {
            return Err(Fail::Reply(
                INVALID_REST,
                "Restart offset is beyond the end of the file.",
            ));
        }
        let stream = self.connect_data()?;
        let mode = if self.ty == Type::Ascii {
            "ASCII"
        } else {
            "BINARY"
        };
        let mut text = format!("Opening {mode} mode data connection for ").into_bytes();
        text.extend_from_slice(p.file_name().unwrap_or(b"/"));
        text.extend_from_slice(format!(" ({} bytes).", meta.size).as_bytes());
        self.reply(OPENING_DATA, text)?;
        let start = Instant::now();
        let shared = Arc::clone(&self.shared);
        let _busy = shared.transfer_started();
        let mut t = Transfer::new(&mut self.ctl, stream, self.shared.cfg.data_timeout);
        let outcome = t.send_file(&mut file, rest, self.ty == Type::Ascii);
        let bytes = t.bytes;
        drop(t);
        let result = self.finish(outcome, "Transfer complete.");
        self.log_transfer(
            "RETR",
            &p,
            bytes,
            start,
            result.as_ref().map_or("client gone", |r| r),
        );
        result.map(|_| ())
    }

    fn store(&mut self, arg: &[u8], kind: StoreKind) -> Result {
        let rest = std::mem::take(&mut self.rest);
        self.need_write()?;
        // Checks that touch nothing come first, then the data connection, and only then is a
        // file created or truncated: a refused or failed upload leaves no trace.
        let p = match kind {
            StoreKind::Stou => self.path(if arg.is_empty() { b"ftp" } else { arg })?,
            _ => self.path(arg)?,
        };
        if kind == StoreKind::Stor && rest > 0 {
            let meta = self.logged_in().jail.stat(&p)?;
            if meta.kind != Kind::File || rest > meta.size {
                return Err(Fail::Reply(
                    INVALID_REST,
                    "Restart offset is beyond the end of the file.",
                ));
            }
        }
        let stream = self.connect_data()?;
        let jail = &self.logged_in().jail;
        let (mut file, upload, p, unique) = match kind {
            StoreKind::Stou => {
                let name = p.file_name().unwrap_or(b"ftp").to_vec();
                let (f, p) = jail.create_unique(&p.parent(), &name)?;
                (f, None, p, true)
            }
            StoreKind::Appe => {
                let (f, _) = jail.open_write_in_place(&p, true)?;
                (f, None, p, false)
            }
            StoreKind::Stor if rest > 0 => {
                let (mut f, _) = jail.open_write_in_place(&p, false)?;
                use std::io::{Seek, SeekFrom};
                f.set_len(rest)?;
                f.seek(SeekFrom::Start(rest))?;
                (f, None, p, false)
            }
            StoreKind::Stor => {
                // Atomic: the data goes to a temporary file renamed over the target at the end.
                let (f, up) = jail.create_upload(&p)?;
                (f, Some(up), p, false)
            }
        };
        let mut text = if unique {
            b"FILE: ".to_vec()
        } else {
            b"Ok to send data for ".to_vec()
        };
        text.extend_from_slice(p.file_name().unwrap_or(b"/"));
        self.reply(OPENING_DATA, text)?;
        let start = Instant::now();
        let shared = Arc::clone(&self.shared);
        let _busy = shared.transfer_started();
        let mut t = Transfer::new(&mut self.ctl, stream, self.shared.cfg.data_timeout);
        let mut outcome = t.recv_file(&mut file, self.ty == Type::Ascii);
        let bytes = t.bytes;
        drop(t);
        // Before a rename replaces a good file, the new data must be on disk: after a power
        // cut the directory could otherwise point at an empty file. New files skip the cost.
        if matches!(outcome, Outcome::Complete)
            && upload.as_ref().is_some_and(|u| u.replaces())
            && let Err(e) = file.sync_data()
        {
            outcome = Outcome::LocalError(e);
        }
        drop(file);
        if let (Outcome::Complete, Some(up)) = (&outcome, upload)
            && let Err(e) = up.commit()
        {
            outcome = Outcome::LocalError(e);
        }
        // (An upload not committed removes its temporary file when dropped.)
        let ok_text = if unique {
            "Transfer complete (unique file name stored)."
        } else {
            "Transfer complete."
        };
        // STOU writes in place under a name it made up: a failed one leaves nothing behind.
        if unique && !matches!(outcome, Outcome::Complete) {
            let _ = self.logged_in().jail.unlink(&p);
        }
        let result = self.finish(outcome, ok_text);
        let verb = match kind {
            StoreKind::Stor => "STOR",
            StoreKind::Appe => "APPE",
            StoreKind::Stou => "STOU",
        };
        self.log_transfer(
            verb,
            &p,
            bytes,
            start,
            result.as_ref().map_or("client gone", |r| r),
        );
        result.map(|_| ())
    }

    fn list(&mut self, arg: &[u8], style: Style) -> Result {
        self.rest = 0;
        let p = self.path(arg)?;
        let writable = self.logged_in().writable;
        let jail = &self.logged_in().jail;
        // `NLST *.txt` / `LIST sub/*.c` (tnftp's mget): a pattern in the last component
        // that names nothing is matched against the directory's entries.
        let pattern = p
            .file_name()
            .filter(|n| list::has_glob(n))
            .map(<[u8]>::to_vec);
        let meta = match jail.stat(&p) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound && pattern.is_some() => None,
            Err(e) => return Err(e.into()),
        };
        // What is listed: the lines of one file, or the entries of a directory (`dir`).
        let mut head = Vec::new();
        let (dir, dir_path, names, prefix) = match meta {
            Some(meta) if meta.kind == Kind::Dir => {
                let fd = jail.open_dir(&p)?;
                let mut names = jail.read_names(&fd)?;
                names.sort();
                if style == Style::Machine {
                    list::facts(&mut head, &meta, true, writable);
                    head.extend_from_slice(b".\r\n");
                }
                let mut prefix = Vec::new();
                if style == Style::Names && !arg.is_empty() {
                    prefix.extend_from_slice(arg);
                    if !arg.ends_with(b"/") {
                        prefix.push(b'/');
                    }
                }
                (Some(fd), p, names, prefix)
            }
            Some(_) if style == Style::Machine => {
                return Err(Fail::Reply(
                    BAD_ARGUMENTS,
                    "MLSD needs a directory; use MLST.",
                ));
            }
            Some(meta) => {
                if style == Style::Long {
                    list::ls_line(&mut head, arg, &meta, None, list::now());
                } else {
                    head.extend_from_slice(arg);
                    head.extend_from_slice(b"\r\n");
                }
                (None, p, Names::default(), Vec::new())
            }
            None => {
                let pattern = pattern.unwrap_or_default();
                if style == Style::Machine {
                    return Err(Fail::Fs(io::ErrorKind::NotFound.into()));
                }
                let parent = p.parent();
                let fd = jail.open_dir(&parent)?;
                let mut names = jail.read_names(&fd)?;
                names.retain(|n| list::glob_match(&pattern, n));
                if names.is_empty() {
                    return Err(Fail::Fs(io::ErrorKind::NotFound.into()));
                }
                names.sort();
                let prefix = match arg.iter().rposition(|&b| b == b'/') {
                    Some(i) => arg[..=i].to_vec(),
                    None => Vec::new(),
                };
                (Some(fd), parent, names, prefix)
            }
        };
        let stream = self.connect_data()?;
        self.reply(OPENING_DATA, "Here comes the directory listing.")?;
        let mut t = Transfer::new(&mut self.ctl, stream, self.shared.cfg.data_timeout);
        let mut outcome = t.send_bytes(&head);
        if let (None, Some(dir)) = (&outcome, &dir) {
            let listing = Listing {
                jail: &self.login.as_ref().expect("checked before dispatch").jail,
                dir,
                path: &dir_path,
                names: &names,
                style,
                prefix: &prefix,
                writable,
                now: list::now(),
            };
            listing.stream(|piece| {
                outcome = t.send_bytes(piece);
                outcome.is_none()
            });
        }
        drop(t);
        self.finish(outcome.unwrap_or(Outcome::Complete), "Directory send OK.")
            .map(|_| ())
    }

    fn mlst(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        let writable = self.logged_in().writable;
        let m = self.logged_in().jail.stat(&p)?;
        let mut line = Vec::new();
        list::facts(&mut line, &m, false, writable);
        line.extend_from_slice(&p.to_bytes());
        self.multi(FILE_ACTION_OK, "Listing", &[line], "End")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Stor,
    Appe,
    Stou,
}

/// Maps a file-system error to a reply: the table every handler shares.
fn fs_error(e: &io::Error) -> (u16, String) {
    use rustix::io::Errno;
    let Some(raw) = e.raw_os_error() else {
        return (FILE_UNAVAILABLE, format!("{}.", capitalise(&e.to_string())));
    };
    let errno = Errno::from_raw_os_error(raw);
    let (code, text) = match errno {
        Errno::NOENT => (FILE_UNAVAILABLE, "No such file or directory."),
        Errno::ACCESS | Errno::PERM => (NO_PERMISSION, "Permission denied."),
        Errno::EXIST => (FILE_UNAVAILABLE, "File exists."),
        Errno::NOTEMPTY => (FILE_UNAVAILABLE, "Directory not empty."),
        Errno::NOTDIR => (FILE_UNAVAILABLE, "Not a directory."),
        Errno::ISDIR => (FILE_UNAVAILABLE, "Is a directory."),
        Errno::LOOP => (FILE_UNAVAILABLE, "Too many levels of symbolic links."),
        Errno::NAMETOOLONG => (BAD_FILE_NAME, "File name too long."),
        Errno::INVAL => (FILE_UNAVAILABLE, "Invalid argument."),
        Errno::BUSY => (FILE_UNAVAILABLE, "Resource busy."),
        // Opening a FIFO that has no reader for writing.
        Errno::NXIO => (FILE_UNAVAILABLE, "Not a regular file."),
        Errno::ROFS => (NO_PERMISSION, "Read-only file system."),
        Errno::XDEV => (FILE_UNAVAILABLE, "Cannot move across file systems."),
        Errno::NOSPC => (NO_SPACE, "Insufficient storage space."),
        Errno::DQUOT | Errno::FBIG => (EXCEEDED_STORAGE, "Exceeded storage allocation."),
        _ => return (LOCAL_ERROR, format!("Local error: {e}.")),
    };
    (code, text.into())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
