//! Logging through the `log` facade: to stderr by default, or to syslog's `/dev/log` in
//! RFC 3164 form (facility daemon) with `--syslog`; while there is no syslog daemon to take
//! the lines (none at boot yet, or none at all), they go to stderr, and the first such line
//! says why. `--log-level`, else `RUST_LOG`, sets the level (`error`, `warn`, `info`, the
//! default, `debug`, `trace` or `off`; in RUST_LOG's `target=level` form only the level
//! counts). A logger of our own rather than env_logger: a router needs a level and
//! two destinations, not module filters, and env_logger cost some 8 KiB of flash.
//!
//! Every line is one `write` (stderr) or one datagram (syslog), so lines of different
//! threads never mix.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::calendar;

/// Where the lines go.
enum Sink {
    Stderr,
    /// The syslog socket, connected again when syslogd restarts; `lost` while lines go to
    /// stderr instead (said once each time syslog goes away).
    Syslog {
        sock: Mutex<Option<UnixDatagram>>,
        lost: AtomicBool,
    },
}

/// The level is log's own max level ([`set_level`]).
struct Logger {
    sink: Sink,
}

fn connect_syslog() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect("/dev/log").ok()?;
    Some(s)
}

fn severity(l: log::Level) -> u8 {
    match l {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// The level `RUST_LOG` asks for (its last `level` or `target=level` part), or info.
fn level_from(spec: Option<&str>) -> log::LevelFilter {
    spec.and_then(|s| {
        s.rsplit(',')
            .find_map(|part| part.rsplit('=').next()?.trim().parse().ok())
    })
    .unwrap_or(log::LevelFilter::Info)
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mut line = Vec::with_capacity(128);
        match &self.sink {
            Sink::Stderr => {
                stderr_line(&mut line, r.level(), r.args());
                let _ = std::io::stderr().write_all(&line);
            }
            Sink::Syslog { sock, lost } => {
                syslog_line(&mut line, r.level(), r.args());
                let mut sock = sock.lock().unwrap_or_else(|p| p.into_inner());
                if sock.is_none() {
                    *sock = connect_syslog();
                }
                let mut sent = sock.as_ref().is_some_and(|s| s.send(&line).is_ok());
                if !sent {
                    // syslogd restarted: reconnect once and retry.
                    *sock = connect_syslog();
                    sent = sock.as_ref().is_some_and(|s| s.send(&line).is_ok());
                }
                drop(sock);
                if sent {
                    lost.store(false, Ordering::Relaxed);
                    return;
                }
                let mut text = Vec::with_capacity(line.len() + 64);
                if !lost.swap(true, Ordering::Relaxed) {
                    let _ = writeln!(
                        text,
                        "edgeftpd: --syslog: nothing takes lines at /dev/log (no syslog \
                         daemon?): logging to stderr until one does"
                    );
                }
                stderr_line(&mut text, r.level(), r.args());
                let _ = std::io::stderr().write_all(&text);
            }
        }
    }

    fn flush(&self) {}
}

/// A line for stderr: `2026-12-01T08:45:02Z INFO  message`.
fn stderr_line(line: &mut Vec<u8>, level: log::Level, msg: &std::fmt::Arguments<'_>) {
    let (y, mo, d, h, mi, s) = calendar::civil(calendar::now());
    let _ = writeln!(
        line,
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z {level:<5} {msg}"
    );
}

/// A line in RFC 3164 form: `<PRI>Mmm dd hh:mm:ss TAG[pid]: MSG`, facility daemon (3).
fn syslog_line(line: &mut Vec<u8>, level: log::Level, msg: &std::fmt::Arguments<'_>) {
    let (_, mo, d, h, mi, s) = calendar::civil(calendar::now());
    let _ = write!(
        line,
        "<{}>{} {d:>2} {h:02}:{mi:02}:{s:02} edgeftpd[{}]: {msg}",
        3 * 8 + severity(level),
        calendar::MONTHS[(mo - 1) as usize],
        std::process::id(),
    );
}

/// Sends one error line to syslog if a syslog daemon takes it, and nowhere else: for an
/// error found before the logger exists (the flags), which stderr gets anyway.
pub fn syslog_error(msg: &str) {
    let mut line = Vec::new();
    syslog_line(&mut line, log::Level::Error, &format_args!("{msg}"));
    if let Some(s) = connect_syslog() {
        let _ = s.send(&line);
    }
}

/// The levels `--log-level` takes.
pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
    s.parse().ok()
}

/// Installs the logger: `level` from `--log-level`, else RUST_LOG's. Never fails: logging
/// problems must not stop the server.
pub fn init(syslog: bool, level: Option<log::LevelFilter>) {
    let sink = if syslog {
        Sink::Syslog {
            sock: Mutex::new(connect_syslog()),
            lost: AtomicBool::new(false),
        }
    } else {
        Sink::Stderr
    };
    let logger: &'static Logger = Box::leak(Box::new(Logger { sink }));
    if log::set_logger(logger).is_ok() {
        set_level(level);
    }
}

/// Sets the level: `level` from `--log-level`, else RUST_LOG's (at start-up and SIGHUP).
pub fn set_level(level: Option<log::LevelFilter>) {
    log::set_max_level(
        level.unwrap_or_else(|| level_from(std::env::var("RUST_LOG").ok().as_deref())),
    );
}

/// Client bytes (names, paths, command lines) for a log line. SECURITY: control bytes,
/// backslashes and bytes that are not UTF-8 are written as `\xNN`, so a name can't forge
/// a log line or move a terminal's cursor (`\r`, ESC).
pub fn display(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
            } else {
                out.push(c);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_levels() {
        use log::LevelFilter::*;
        assert_eq!(level_from(None), Info);
        assert_eq!(level_from(Some("debug")), Debug);
        assert_eq!(level_from(Some("WARN")), Warn);
        assert_eq!(level_from(Some("edgeftpd=trace")), Trace);
        assert_eq!(level_from(Some("off")), Off);
        assert_eq!(level_from(Some("nonsense")), Info);
    }
}
