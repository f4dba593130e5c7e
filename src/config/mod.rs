//! Command-line flags (and the `--config` file's settings) turned into a validated
//! [`Config`]; what it names is acquired in a second step ([`Config::acquire`]). The limits
//! with their reasons are in `limits.rs`; the file's syntax in `syntax.rs`; SIGHUP's policy
//! in `reload.rs`.
//!
//! Anything wrong with the configuration is found here, before a socket is bound, and reported
//! as one line naming the problem; `main` then exits with status 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Users;
use crate::bans;
use crate::cidr::{self, Cidr};
use crate::pasvaddr::PasvHost;
use crate::rate;
use crate::vfs::MinFree;

mod files;
mod flags;
mod reload;
mod syntax;

pub use files::Files;
use reload::NEEDS_RESTART;
#[cfg(feature = "tls")]
pub use reload::reload_certs;
pub use reload::{Reloaded, reload};
use syntax::read_config;

/// Whether clients may, must or can't use FTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Off,
    Optional,
    /// No login (anonymous included) and no data connection without TLS.
    Required,
}

/// The FTPS settings.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// Data connections must resume their control connection's TLS session.
    #[cfg(feature = "tls")]
    pub reuse_required: bool,
    /// Implicit FTPS listeners (TLS from the first byte).
    pub listen: Vec<SocketAddr>,
    /// `--tls-cert` and `--tls-key`.
    #[cfg(feature = "tls")]
    pub cert_key: Option<(PathBuf, PathBuf)>,
    /// The certificate and key, loaded by [`Config::acquire`] when FTPS is on.
    #[cfg(feature = "tls")]
    pub certs: Option<std::sync::Arc<crate::tls::Certs>>,
}

/// Who may log in and where they land.
#[derive(Debug)]
pub struct Config {
    pub tls: TlsSettings,
    pub listen: Vec<SocketAddr>,
    pub root: PathBuf,
    pub anonymous: bool,
    /// What anonymous users may do where (`--anon-perm`, else ro or, with `--anon-write`, rw).
    pub anon_rights: std::sync::Arc<crate::vfs::Rights>,
    /// `--umask`: of what uploads and MKD create (a users-file account may have its own).
    pub umask: u32,
    /// The users file as read at start-up (the session context owns it from then on, and
    /// SIGHUP replaces it).
    pub users: Option<Users>,
    pub users_path: Option<PathBuf>,
    pub pasv_min: u16,
    pub pasv_max: u16,
    /// `--pasv-address`: advertised to clients outside `pasv_local_nets`.
    pub pasv_address: Option<PasvHost>,
    pub pasv_local_nets: Vec<Cidr>,
    pub bans: bans::Rules,
    /// Bandwidth caps in bytes per second: per anonymous session, per users-file session,
    /// and for all sessions together.
    pub anon_max_rate: Option<u64>,
    pub max_rate: Option<u64>,
    pub total_max_rate: Option<u64>,
    /// `--max-clients` as given; [`Config::acquire`] sets `max_clients` from it, or from
    /// the machine's memory.
    pub max_clients_given: Option<usize>,
    pub max_clients: usize,
    pub max_per_ip: usize,
    pub idle_timeout: Duration,
    /// A session not logged in by then is closed (421), whatever it sends.
    pub login_timeout: Duration,
    pub data_timeout: Duration,
    pub inetd: bool,
    pub syslog: bool,
    /// `--log-level` (else RUST_LOG decides).
    pub log_level: Option<log::LevelFilter>,
    /// `--daemon`: go to the background once listening.
    pub daemon: bool,
    pub pidfile: Option<PathBuf>,
    pub run_as: Option<String>,
    /// Not `--no-syscall-filter`: the sessions serve under the system call filter
    /// (`sandbox.rs`).
    pub syscall_filter: bool,
    /// `--allow`: only clients in these networks (empty: all); `--deny`: never these.
    pub allow: Vec<Cidr>,
    pub deny: Vec<Cidr>,
    /// `--max-upload`: the largest file an upload may make, in bytes.
    pub max_upload: Option<u64>,
    /// `--min-free`: the free space uploads must leave on their file system.
    pub min_free: Option<MinFree>,
    /// `--on-upload`: the program run after each completed upload, and its time limit.
    pub on_upload: Option<PathBuf>,
    pub on_upload_timeout: Duration,
    /// `--check`: validate and describe, serve nothing.
    pub check: bool,
    /// `--no-active`: PORT and EPRT refused.
    pub no_active: bool,
    /// `--banner`: lines shown before the 220 greeting.
    pub banner: Vec<Vec<u8>>,
    /// `--xferlog`, and the log opened by [`Config::acquire`] (SIGHUP opens it again:
    /// [`XferLog::reopen`]).
    ///
    /// [`XferLog::reopen`]: crate::xferlog::XferLog::reopen
    pub xferlog_path: Option<PathBuf>,
    pub xferlog: Option<std::sync::Arc<crate::xferlog::XferLog>>,
    /// The command line as given, parsed again on SIGHUP ([`reparse`]).
    pub args: Vec<String>,
    /// How often each [`NEEDS_RESTART`] flag is given and its values, command line and
    /// config file together.
    restart_only: Vec<(usize, Vec<String>)>,
}

/// `--min-free`: bytes (`500M`), or a share of the file system's size (`5%`).
fn parse_min_free(s: &str) -> Option<MinFree> {
    match s.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=99).contains(p))
            .map(MinFree::Percent),
        None => rate::parse(s).flatten().map(MinFree::Bytes),
    }
}

/// What the command line asked for.
pub enum Action {
    Serve(Box<Config>),
    Help(String),
    Version,
    /// `--hash-password`: print a users-file hash of a password read on stdin.
    HashPassword,
    /// `--add-user`, `--del-user`, `--passwd`: edit the `--users` file.
    EditUsers(PathBuf, crate::accounts::Edit),
}

/// Parses the command line (without the program name).
pub fn parse(args: &[String]) -> Result<Action, String> {
    parse_with(args, &mut Files::disk())
}

pub(super) fn parse_with(args: &[String], files: &mut Files) -> Result<Action, String> {
    let m = flags::parse(args)?;
    if let Some(file) = m.opt_str("config") {
        let (from_file, lines) = read_config(std::path::Path::new(&file), &m, files)?;
        let mut all = from_file;
        all.extend_from_slice(args);
        // An error about a value from the file names the file and its line.
        let mut action = parse_all(&all, files).map_err(|e| {
            match lines
                .iter()
                .find(|(flag, _)| e.starts_with(&format!("{flag}:")))
            {
                Some((_, n)) => format!("{file}:{n}: {e}"),
                None => e,
            }
        })?;
        if let Action::Serve(cfg) = &mut action {
            cfg.args = args.to_vec();
        }
        return Ok(action);
    }
    parse_all(args, files)
}

fn parse_all(args: &[String], files: &mut Files) -> Result<Action, String> {
    let m = flags::parse(args)?;
    if m.opt_present("help") {
        return Ok(Action::Help(flags::usage()));
    }
    if m.opt_present("version") {
        return Ok(Action::Version);
    }
    if m.opt_present("hash-password") {
        return Ok(Action::HashPassword);
    }
    {
        use crate::accounts::Edit;
        let mut edits: Vec<Edit> = [
            m.opt_str("add-user").map(Edit::Add),
            m.opt_str("del-user").map(Edit::Delete),
            m.opt_str("passwd").map(Edit::Password),
        ]
        .into_iter()
        .flatten()
        .collect();
        if edits.len() > 1 {
            return Err("--add-user, --del-user and --passwd: one at a time".into());
        }
        if let Some(edit) = edits.pop() {
            let path = m
                .opt_str("users")
                .ok_or("--add-user, --del-user and --passwd need --users FILE")?;
            return Ok(Action::EditUsers(PathBuf::from(path), edit));
        }
    }
    if !m.free.is_empty() {
        return Err(format!("unexpected argument: {}", m.free[0]));
    }

    let mut listen = Vec::new();
    for a in m.opt_strs("listen") {
        let addr: SocketAddr = a.parse().map_err(|_| listen_error("--listen", &a, 21))?;
        listen.push(addr);
    }

    let root = PathBuf::from(m.opt_str("root").unwrap_or_else(|| "/srv/ftp".into()));
    let anonymous = m.opt_present("anonymous");
    let anon_write = m.opt_present("anon-write") || m.opt_present("write");
    if anon_write && !anonymous {
        return Err("--anon-write needs --anonymous (it applies to anonymous users)".into());
    }
    let anon_rights = match m.opt_str("anon-perm") {
        Some(_) if anon_write => {
            return Err(
                "--anon-perm and --anon-write: give one (--anon-perm rw is --anon-write)".into(),
            );
        }
        Some(_) if !anonymous => return Err("--anon-perm needs --anonymous".into()),
        Some(r) => crate::vfs::Rights::parse(&r).map_err(|e| format!("--anon-perm {e}"))?,
        None if anon_write => crate::vfs::Rights::all(crate::vfs::Right::Write),
        None => crate::vfs::Rights::all(crate::vfs::Right::Read),
    };
    let umask = match m.opt_str("umask") {
        Some(u) => crate::auth::parse_umask(&u)
            .ok_or_else(|| format!("--umask {u}: expected an octal umask such as 022 or 002"))?,
        None => crate::vfs::DEFAULT_UMASK,
    };
    if anonymous && !files.is_dir(&root) {
        return Err(format!("--root {}: not a directory", root.display()));
    }

    let users_path = m.opt_str("users").map(PathBuf::from);
    let users = match &users_path {
        Some(f) => Some(load_users(f, anonymous, files)?),
        None => None,
    };
    if m.opt_present("daemon") && m.opt_present("inetd") {
        return Err("--daemon and --inetd exclude each other".into());
    }
    if !anonymous && users.is_none() && !m.opt_present("inetd") {
        return Err("nobody can log in: give --anonymous, --users FILE, or both".into());
    }

    let (pasv_min, pasv_max) = match m.opt_str("pasv-ports") {
        Some(r) => parse_range(&r)?,
        None => (50000, 50099),
    };
    let pasv_address = match m.opt_str("pasv-address") {
        Some(a) => Some(
            PasvHost::parse(&a)
                .ok_or_else(|| format!("--pasv-address {a}: not an IPv4 address or a host name"))?,
        ),
        None => None,
    };
    let nets = |flag: &str, default: &str| -> Result<Vec<Cidr>, String> {
        let v = m.opt_str(flag).unwrap_or_else(|| default.into());
        cidr::parse_list(&v).ok_or_else(|| {
            format!("--{flag} {v}: expected networks such as 192.168.0.0/16,fd00::/8, or none")
        })
    };
    let pasv_local_nets = nets("pasv-local-nets", cidr::PRIVATE_NETS)?;
    let bans = bans::Rules {
        after: match m.opt_str("ban-after") {
            None => 10,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= 1_000_000)
                .ok_or_else(|| {
                    format!("--ban-after {s}: expected a whole number from 0 to 1000000")
                })?,
        },
        window: Duration::from_secs(number(&m, "ban-window", 600)? as u64),
        time: Duration::from_secs(number(&m, "ban-time", 900)? as u64),
        exempt: nets("ban-exempt", "none")?,
    };
    let tls = tls_settings(&m)?;
    let rate = |flag: &str| -> Result<Option<u64>, String> {
        match m.opt_str(flag) {
            None => Ok(None),
            Some(v) => rate::parse(&v).ok_or_else(|| {
                format!("--{flag} {v}: expected bytes per second, such as 500K or 2M")
            }),
        }
    };

    Ok(Action::Serve(Box::new(Config {
        tls,
        listen,
        root,
        anonymous,
        anon_rights: std::sync::Arc::new(anon_rights),
        umask,
        users,
        users_path,
        pasv_min,
        pasv_max,
        pasv_address,
        pasv_local_nets,
        bans,
        anon_max_rate: rate("anon-max-rate")?,
        max_rate: rate("max-rate")?,
        total_max_rate: rate("total-max-rate")?,
        max_clients_given: match m.opt_str("max-clients") {
            Some(_) => Some(number(&m, "max-clients", 0)?),
            None => None,
        },
        max_clients: 0,
        max_per_ip: number(&m, "max-per-ip", 8)?,
        idle_timeout: Duration::from_secs(number(&m, "idle-timeout", 300)? as u64),
        login_timeout: Duration::from_secs(number(&m, "login-timeout", 60)? as u64),
        data_timeout: Duration::from_secs(number(&m, "data-timeout", 60)? as u64),
        inetd: m.opt_present("inetd"),
        syslog: m.opt_present("syslog") || m.opt_present("daemon"),
        log_level: match m.opt_str("log-level") {
            None => None,
            Some(l) => Some(crate::logging::parse_level(&l).ok_or_else(|| {
                format!("--log-level {l}: expected error, warn, info, debug, trace or off")
            })?),
        },
        daemon: m.opt_present("daemon"),
        pidfile: m.opt_str("pidfile").map(PathBuf::from),
        run_as: m.opt_str("run-as"),
        syscall_filter: !m.opt_present("no-syscall-filter"),
        no_active: m.opt_present("no-active"),
        check: m.opt_present("check"),
        allow: nets("allow", "none")?,
        max_upload: match m.opt_str("max-upload") {
            None => None,
            Some(v) => Some(rate::parse(&v).flatten().ok_or_else(|| {
                format!("--max-upload {v}: expected a size in bytes, such as 500M or 4G")
            })?),
        },
        deny: nets("deny", "none")?,
        on_upload: match m.opt_str("on-upload") {
            None => None,
            Some(p) => Some(program(&p, files)?),
        },
        on_upload_timeout: Duration::from_secs(number(&m, "on-upload-timeout", 60)? as u64),
        min_free: match m.opt_str("min-free") {
            None => None,
            Some(v) => Some(parse_min_free(&v).ok_or_else(|| {
                format!("--min-free {v}: expected a size such as 500M or a share such as 5%")
            })?),
        },
        banner: match m.opt_str("banner") {
            Some(f) => read_banner(std::path::Path::new(&f), files)?,
            None => Vec::new(),
        },
        xferlog_path: m.opt_str("xferlog").map(PathBuf::from),
        xferlog: None,
        args: args.to_vec(),
        restart_only: NEEDS_RESTART
            .iter()
            .map(|f| (m.opt_count(f), m.opt_strs(f)))
            .collect(),
    })))
}

impl Config {
    /// The second step of a start or a reload, after parsing (which reads the
    /// configuration's files and nothing else): what the configuration names is acquired.
    /// At start (`old` None) the certificate and key are loaded, the xferlog opened (not by
    /// `--check`), and the default listen address chosen by what the kernel has; at a
    /// reload they are the running ones (`old`'s: the settings that name them only a start
    /// applies, and SIGHUP reads the certificate again and reopens the log itself). Either
    /// way the default `--max-clients` comes from the machine's memory now.
    pub fn acquire(&mut self, old: Option<&Config>) -> Result<(), String> {
        self.max_clients = self
            .max_clients_given
            .unwrap_or_else(|| crate::memory::default_max_clients(crate::memory::Memory::read()));
        if let Some(old) = old {
            self.listen = old.listen.clone();
            self.xferlog = old.xferlog.clone();
            #[cfg(feature = "tls")]
            {
                self.tls.certs = old.tls.certs.clone();
            }
            return Ok(());
        }
        if self.listen.is_empty() {
            self.listen.push(default_listen());
        }
        if let Some(f) = self.xferlog_path.as_deref().filter(|_| !self.check) {
            self.xferlog = Some(std::sync::Arc::new(crate::xferlog::XferLog::open(f)?));
        }
        #[cfg(feature = "tls")]
        if let Some((cert, key)) = self
            .tls
            .cert_key
            .as_ref()
            .filter(|_| self.tls.mode != TlsMode::Off)
        {
            self.tls.certs = Some(std::sync::Arc::new(crate::tls::Certs::load(cert, key)?));
        }
        Ok(())
    }
}

/// Reads and validates the users file `f` (from `files`: the disk, or what the monitor
/// process read from it); an error names the file and the line.
fn load_users(f: &std::path::Path, anonymous: bool, files: &mut Files) -> Result<Users, String> {
    let text = files
        .read_text(f)
        .map_err(|e| format!("--users {}: {e}", f.display()))?;
    let users = Users::parse_homes(&text, &mut |home| files.is_dir(home))
        .map_err(|(line, msg)| format!("{}:{line}: {msg}", f.display()))?;
    users
        .check_anonymous(anonymous)
        .map_err(|e| format!("--users {}: {e}", f.display()))?;
    Ok(users)
}

/// The FTPS flags, checked (and the certificate and key loaded) before anything listens.
fn tls_settings(m: &flags::Matches) -> Result<TlsSettings, String> {
    let cert = m.opt_str("tls-cert");
    let key = m.opt_str("tls-key");
    let mode = m.opt_str("tls");
    let reuse = m.opt_str("tls-reuse");
    let mut listen = Vec::new();
    for a in m.opt_strs("listen-tls") {
        listen.push(
            a.parse::<SocketAddr>()
                .map_err(|_| listen_error("--listen-tls", &a, 990))?,
        );
    }
    let any = cert.is_some() || key.is_some() || mode.is_some() || reuse.is_some();
    if cfg!(not(feature = "tls")) && (any || !listen.is_empty()) {
        return Err(
            "built without TLS support: --tls-cert, --tls-key, --tls, --tls-reuse \
                    and --listen-tls are not available"
                .into(),
        );
    }
    let mode = match mode.as_deref() {
        None if cert.is_some() => TlsMode::Optional,
        None => TlsMode::Off,
        Some("off") => TlsMode::Off,
        Some("optional") => TlsMode::Optional,
        Some("required") => TlsMode::Required,
        Some(other) => return Err(format!("--tls {other}: expected off, optional or required")),
    };
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    let reuse_required = match reuse.as_deref() {
        None | Some("required") => true,
        Some("optional") => false,
        Some(other) => {
            return Err(format!(
                "--tls-reuse {other}: expected required or optional"
            ));
        }
    };
    if cert.is_some() != key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if cert.is_none() && (mode == TlsMode::Required || !listen.is_empty()) {
        return Err("--tls required and --listen-tls need --tls-cert and --tls-key".into());
    }
    if mode == TlsMode::Off && !listen.is_empty() {
        return Err("--listen-tls with --tls off".into());
    }
    Ok(TlsSettings {
        mode,
        #[cfg(feature = "tls")]
        reuse_required,
        listen,
        #[cfg(feature = "tls")]
        cert_key: cert
            .zip(key)
            .map(|(c, k)| (PathBuf::from(c), PathBuf::from(k))),
        #[cfg(feature = "tls")]
        certs: None,
    })
}

/// `--on-upload PROGRAM`: an absolute path to an executable file (checked at start, so a
/// typo is one line then, not a failure at every upload).
fn program(p: &str, files: &mut Files) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = PathBuf::from(p);
    if !path.is_absolute() {
        return Err(format!("--on-upload {p}: give the program's absolute path"));
    }
    if files.replaying() {
        return Ok(path);
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path),
        Ok(_) => Err(format!("--on-upload {p}: not an executable file")),
        Err(e) => Err(format!("--on-upload {p}: {e}")),
    }
}

/// The `--banner` file's lines, without control characters; too long a file is an error
/// (a greeting every client must read before it can log in).
fn read_banner(f: &std::path::Path, files: &mut Files) -> Result<Vec<Vec<u8>>, String> {
    let bytes = files
        .read(f)
        .map_err(|e| format!("--banner {}: {e}", f.display()))?;
    let lines: Vec<Vec<u8>> = bytes
        .split(|&b| b == b'\n')
        .map(|l| {
            l.iter()
                .copied()
                .filter(|&b| b == b'\t' || b >= b' ')
                .collect()
        })
        .collect();
    let lines = match lines.split_last() {
        Some((last, rest)) if last.is_empty() => rest.to_vec(),
        _ => lines,
    };
    if bytes.len() > crate::limits::BANNER_BYTES || lines.len() > crate::limits::BANNER_LINES {
        return Err(format!(
            "--banner {}: longer than {} lines or {} bytes",
            f.display(),
            crate::limits::BANNER_LINES,
            crate::limits::BANNER_BYTES
        ));
    }
    Ok(lines)
}

/// What is wrong with a listen address: a host name (the server resolves none: which of a
/// name's addresses to bind would be a guess), or no ADDR:PORT form at all.
fn listen_error(flag: &str, a: &str, port: u16) -> String {
    let named = a.rsplit_once(':').is_some_and(|(host, p)| {
        p.parse::<u16>().is_ok()
            && !host.is_empty()
            && !host.starts_with('[')
            && host.parse::<std::net::IpAddr>().is_err()
    });
    if named {
        return format!(
            "{flag} {a}: an IP address is needed, not a host name (such as \
             0.0.0.0:{port}, 127.0.0.1:{port} or [::]:{port})"
        );
    }
    format!("{flag} {a}: expected ADDR:PORT, such as 0.0.0.0:{port} or [::]:{port}")
}

fn number(m: &flags::Matches, name: &str, default: usize) -> Result<usize, String> {
    match m.opt_str(name) {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 && n <= 1_000_000 => Ok(n),
            _ => Err(format!(
                "--{name} {s}: expected a whole number from 1 to 1000000"
            )),
        },
    }
}

fn parse_range(r: &str) -> Result<(u16, u16), String> {
    let bad = || format!("--pasv-ports {r}: expected MIN-MAX with 1024 <= MIN <= MAX <= 65535");
    let (a, b) = r.split_once('-').ok_or_else(bad)?;
    let a: u16 = a.trim().parse().map_err(|_| bad())?;
    let b: u16 = b.trim().parse().map_err(|_| bad())?;
    if a < 1024 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `[::]:21` where the kernel has IPv6, else `0.0.0.0:21`.
fn default_listen() -> SocketAddr {
    let v6: SocketAddr = "[::]:21".parse().expect("literal");
    if std::path::Path::new("/proc/net/if_inet6").exists() {
        v6
    } else {
        "0.0.0.0:21".parse().expect("literal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("50000-50099"), Ok((50000, 50099)));
        assert!(parse_range("50099-50000").is_err());
        assert!(parse_range("100-200").is_err());
        assert!(parse_range("5000").is_err());
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse(&args("--bogus")).is_err());
        assert!(parse(&args("--listen nowhere --anonymous --root /")).is_err());
        assert!(parse(&args("--anonymous --root /nonexistent/x")).is_err());
        assert!(parse(&args("--anonymous --root / --max-clients 0")).is_err());
        assert!(parse(&args("--root /")).is_err());
    }
}
