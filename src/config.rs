//! Command-line flags turned into a validated [`Config`], and every limit with its reason.
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

/// Every limit of the server, in one place, each with the reason for its value.
pub mod limits {
    /// Longest control line accepted (RFC 959 sets none; vsftpd uses 4096 too). A longer line
    /// gets 500 and is discarded up to its end: a peer may send a gigabyte without a newline.
    pub const MAX_LINE: usize = 4096;
    /// Longest client path (Linux PATH_MAX); a line can't carry more anyway.
    pub const MAX_PATH: usize = 4096;
    /// Longest single name (Linux NAME_MAX).
    pub const MAX_NAME: usize = 255;
    /// Symlinks followed while resolving one path, as the kernel's own limit (ELOOP).
    pub const MAX_SYMLINKS: usize = 40;
    /// TLS sessions a session's own store keeps (the control connection's, and what the
    /// data connections of this one client need to resume it).
    pub const TLS_SESSIONS_PER_SESSION: usize = 4;
    /// Names tried for STOU and for temporary upload files before giving up.
    pub const MAX_UNIQUE_TRIES: usize = 1000;
    /// Failed logins before the session is closed (vsftpd's max_login_fails default).
    pub const MAX_LOGIN_FAILS: u32 = 3;
    /// Delay after each failed login: slows password guessing to a crawl per connection.
    pub const LOGIN_FAIL_DELAY_MS: u64 = 1000;
    /// Stack of a session thread. Sessions do no recursion; 128 KiB leaves room for
    /// formatting and unwinding, and only touched pages cost memory.
    pub const SESSION_STACK: usize = 128 * 1024;
    /// Pipe size asked for splice(2) transfers, which is also how much moves between checks
    /// of the control connection for ABOR (the kernel's default cap for unprivileged
    /// processes, /proc/sys/fs/pipe-max-size, is 1 MiB). The pipe holds page references,
    /// not copies.
    pub const PIPE_SIZE: usize = 1024 * 1024;
    /// Commands held while a transfer runs (RFC 959 answers them after it): past this the
    /// control connection is not read until the transfer ends, and TCP's flow control
    /// holds the client back. Keep-alive NOOPs during a long transfer must not end it.
    pub const CONTROL_QUEUE: usize = 4096;
    /// After the control connection of an upload closes, how long the data connection may
    /// stay silent before the upload ends with what arrived: a client that closes both
    /// loses nothing, and one that leaves its data connection open holds its slot only
    /// this long, not the whole data timeout.
    pub const DRAIN_IDLE_MS: u64 = 2000;
    /// Entries of the ban table (addresses with failed logins, or banned): 80 bytes each,
    /// so a flood from many addresses costs at most 80 KiB; the entry seen longest ago goes
    /// first.
    pub const BAN_TABLE: usize = 1024;
    /// Smallest and largest burst of a bandwidth cap (a tenth of a second of its rate in
    /// between): a transfer never starts faster than its cap by more than 256 KiB.
    pub const RATE_BURST_MIN: u64 = 4096;
    pub const RATE_BURST_MAX: u64 = 256 * 1024;
    /// How long a `--pasv-address` host name's answer is used before it is looked up again
    /// (a DDNS name follows a dynamic IP within this).
    pub const PASV_NAME_TTL_SECS: u64 = 10;
    /// Receive buffer for uploads and ASCII transfers; allocated only while transferring.
    pub const RECV_BUF: usize = 256 * 1024;
    /// How deep the start-up sweep of stale temporary files descends.
    pub const SWEEP_DEPTH: usize = 16;
    /// Pause after accept() fails (EMFILE, ENOMEM): never spin, retry soon.
    pub const ACCEPT_BACKOFF_MS: u64 = 100;
    /// Time allowed to write the "too many connections" greeting to a refused client.
    pub const REFUSE_WRITE_MS: u64 = 1000;
    /// Time transfers in flight get to finish after SIGTERM before the process exits.
    pub const SHUTDOWN_GRACE_SECS: u64 = 5;
    /// Entries stat'ed and formatted per piece of a listing sent (about 32 KiB of `ls` lines):
    /// a listing is streamed, never held whole, so a huge directory costs its names only.
    pub const LIST_CHUNK: usize = 512;
    /// Entries per helper thread before a listing is split between threads: stat'ing 2048
    /// entries takes a few milliseconds of kernel time, a thread costs some 30 microseconds.
    pub const LIST_PARALLEL_MIN: usize = 2048;
    /// Pieces of a listing helper threads may make ahead of what has been sent (about
    /// 32 KiB each): what a listing holds when the client reads slowly.
    pub const LIST_AHEAD: usize = 16;
    /// Most tokens (`*`, `?`, a class, a byte) in a LIST/NLST shell pattern: the matcher keeps
    /// one bit per token in a 128-bit word, which makes matching linear in the name's
    /// length. Longer patterns get 501; real ones (`*.jpg`, `IMG_20??*`) have a few tokens.
    pub const MAX_GLOB_TOKENS: usize = 127;
    /// Most helper threads one listing uses (besides the session's own), whatever the cores.
    pub const LIST_HELPERS_MAX: usize = 3;
}

/// Whether clients may, must or can't use FTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Off,
    Optional,
    /// No login (anonymous included) and no data connection without TLS.
    Required,
}

/// The FTPS settings.
#[derive(Debug)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// Data connections must resume their control connection's TLS session.
    pub reuse_required: bool,
    /// Implicit FTPS listeners (TLS from the first byte).
    pub listen: Vec<SocketAddr>,
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
    pub anon_write: bool,
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
    pub max_clients: usize,
    pub max_per_ip: usize,
    pub idle_timeout: Duration,
    /// A session not logged in by then is closed (421), whatever it sends.
    pub login_timeout: Duration,
    pub data_timeout: Duration,
    pub inetd: bool,
    pub syslog: bool,
    pub run_as: Option<String>,
}

/// What the command line asked for.
pub enum Action {
    Serve(Box<Config>),
    Help(String),
    Version,
    /// `--hash-password`: print a users-file hash of a password read on stdin.
    HashPassword,
}

/// How a flag takes its value.
#[derive(Clone, Copy)]
enum Takes {
    /// No value.
    Flag,
    /// One value.
    Opt,
    /// A value, repeatable.
    Multi,
}

/// Every flag: how it takes its value, short and long names, help text, value hint. (One
/// table and a loop: forty calls written out cost several KiB of code.)
const FLAGS: &[(Takes, &str, &str, &str, &str)] = &[
    (
        Takes::Multi,
        "l",
        "listen",
        "address to listen on; repeatable; IPv6 as [::1]:2121 (default [::]:21)",
        "ADDR:PORT",
    ),
    (
        Takes::Opt,
        "r",
        "root",
        "directory served to anonymous users (default /srv/ftp)",
        "DIR",
    ),
    (
        Takes::Flag,
        "a",
        "anonymous",
        "allow USER anonymous/ftp, read-only, jailed in --root",
        "",
    ),
    (
        Takes::Flag,
        "w",
        "write",
        "let anonymous users upload, mkdir, rename and delete too",
        "",
    ),
    (
        Takes::Opt,
        "u",
        "users",
        "users file: name:crypt-hash:home:ro|rw per line",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "pasv-ports",
        "passive data ports (default 50000-50099)",
        "MIN-MAX",
    ),
    (
        Takes::Opt,
        "",
        "pasv-address",
        "address or host name (DDNS) to advertise in PASV replies, behind NAT",
        "HOST",
    ),
    (
        Takes::Opt,
        "",
        "pasv-local-nets",
        "clients in these networks get the address they reached (default: loopback and private)",
        "CIDR,...",
    ),
    (
        Takes::Opt,
        "",
        "ban-after",
        "ban an address after N failed logins (default 10; 0: no bans)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "ban-window",
        "count failed logins over SECS (default 600)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "ban-time",
        "ban for SECS (default 900)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "ban-exempt",
        "never ban these networks (default none)",
        "CIDR,...",
    ),
    (
        Takes::Opt,
        "",
        "anon-max-rate",
        "bytes/s per anonymous session, K or M suffix (default unlimited)",
        "RATE",
    ),
    (
        Takes::Opt,
        "",
        "max-rate",
        "bytes/s per users-file session (default unlimited)",
        "RATE",
    ),
    (
        Takes::Opt,
        "",
        "total-max-rate",
        "bytes/s for all sessions together (default unlimited)",
        "RATE",
    ),
    (
        Takes::Opt,
        "",
        "max-clients",
        "most sessions at once (default 50)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "max-per-ip",
        "most sessions from one address (default 8)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "idle-timeout",
        "close an idle session after SECS (default 300)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "login-timeout",
        "close a session not logged in after SECS, whatever it sends (default 60)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "data-timeout",
        "wait for a data connection or a stalled transfer (default 60)",
        "SECS",
    ),
    (
        Takes::Flag,
        "",
        "inetd",
        "serve one session on stdin/stdout (inetd, tcpsvd), then exit",
        "",
    ),
    (
        Takes::Flag,
        "",
        "syslog",
        "log to syslog (/dev/log, facility daemon) instead of stderr",
        "",
    ),
    (
        Takes::Opt,
        "",
        "run-as",
        "after binding, switch to this user's uid and gid",
        "USER",
    ),
    (
        Takes::Opt,
        "",
        "tls-cert",
        "PEM certificate chain for FTPS",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "tls-key",
        "PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "tls",
        "off | optional | required (default: optional with --tls-cert, else off)",
        "MODE",
    ),
    (
        Takes::Opt,
        "",
        "tls-reuse",
        "data connections must resume the control TLS session: required (default) | optional",
        "MODE",
    ),
    (
        Takes::Multi,
        "",
        "listen-tls",
        "implicit FTPS listener (TLS from the first byte, port 990); repeatable",
        "ADDR:PORT",
    ),
    (
        Takes::Flag,
        "",
        "hash-password",
        "read a password on stdin, print its $6$ hash for the users file",
        "",
    ),
    (Takes::Flag, "h", "help", "print this help", ""),
    (Takes::Flag, "V", "version", "print the version", ""),
];

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    for &(takes, short, long, help, hint) in FLAGS {
        match takes {
            Takes::Flag => o.optflag(short, long, help),
            Takes::Opt => o.optopt(short, long, help, hint),
            Takes::Multi => o.optmulti(short, long, help, hint),
        };
    }
    o
}

/// Parses the command line (without the program name).
pub fn parse(args: &[String]) -> Result<Action, String> {
    let opts = options();
    let m = opts.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("help") {
        let brief = "Usage: edgeftpd [options]\nA small FTP server for embedded Linux.";
        return Ok(Action::Help(opts.usage(brief)));
    }
    if m.opt_present("version") {
        return Ok(Action::Version);
    }
    if m.opt_present("hash-password") {
        return Ok(Action::HashPassword);
    }
    if !m.free.is_empty() {
        return Err(format!("unexpected argument: {}", m.free[0]));
    }

    let mut listen = Vec::new();
    for a in m.opt_strs("listen") {
        let addr: SocketAddr = a.parse().map_err(|_| {
            format!("--listen {a}: expected ADDR:PORT, such as 0.0.0.0:21 or [::]:21")
        })?;
        listen.push(addr);
    }
    if listen.is_empty() {
        listen.push(default_listen());
    }

    let root = PathBuf::from(m.opt_str("root").unwrap_or_else(|| "/srv/ftp".into()));
    let anonymous = m.opt_present("anonymous");
    let anon_write = m.opt_present("write");
    if anon_write && !anonymous {
        return Err("--write needs --anonymous (it applies to anonymous users)".into());
    }
    if anonymous && !root.is_dir() {
        return Err(format!("--root {}: not a directory", root.display()));
    }

    let users_path = m.opt_str("users").map(PathBuf::from);
    let users = match &users_path {
        Some(f) => Some(Users::load(f)?),
        None => None,
    };
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
        anon_write,
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
        max_clients: number(&m, "max-clients", 50)?,
        max_per_ip: number(&m, "max-per-ip", 8)?,
        idle_timeout: Duration::from_secs(number(&m, "idle-timeout", 300)? as u64),
        login_timeout: Duration::from_secs(number(&m, "login-timeout", 60)? as u64),
        data_timeout: Duration::from_secs(number(&m, "data-timeout", 60)? as u64),
        inetd: m.opt_present("inetd"),
        syslog: m.opt_present("syslog"),
        run_as: m.opt_str("run-as"),
    })))
}

/// The FTPS flags, checked (and the certificate and key loaded) before anything listens.
fn tls_settings(m: &getopts::Matches) -> Result<TlsSettings, String> {
    let cert = m.opt_str("tls-cert");
    let key = m.opt_str("tls-key");
    let mode = m.opt_str("tls");
    let reuse = m.opt_str("tls-reuse");
    let mut listen = Vec::new();
    for a in m.opt_strs("listen-tls") {
        listen.push(a.parse::<SocketAddr>().map_err(|_| {
            format!("--listen-tls {a}: expected ADDR:PORT, such as 0.0.0.0:990 or [::]:990")
        })?);
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
    #[cfg(feature = "tls")]
    let certs = match (&cert, &key) {
        (Some(c), Some(k)) if mode != TlsMode::Off => Some(std::sync::Arc::new(
            crate::tls::Certs::load(std::path::Path::new(c), std::path::Path::new(k))?,
        )),
        _ => None,
    };
    Ok(TlsSettings {
        mode,
        reuse_required,
        listen,
        #[cfg(feature = "tls")]
        certs,
    })
}

fn number(m: &getopts::Matches, name: &str, default: usize) -> Result<usize, String> {
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
