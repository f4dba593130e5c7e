//! Logging through `log` + `env_logger`: to stderr by default, or to syslog's `/dev/log` in
//! RFC 3164 form (facility daemon) with `--syslog`. `RUST_LOG` sets the level (default info).

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;

use crate::calendar;

/// Sends each formatted record as one datagram to the local syslog daemon.
struct Syslog {
    sock: Option<UnixDatagram>,
}

impl Syslog {
    fn connect() -> Option<UnixDatagram> {
        let s = UnixDatagram::unbound().ok()?;
        s.connect("/dev/log").ok()?;
        Some(s)
    }
}

impl Write for Syslog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let msg = buf.strip_suffix(b"\n").unwrap_or(buf);
        if self.sock.is_none() {
            self.sock = Syslog::connect();
        }
        if let Some(s) = &self.sock
            && s.send(msg).is_err()
        {
            // syslogd restarted: reconnect once and retry.
            self.sock = Syslog::connect();
            if let Some(s) = &self.sock {
                let _ = s.send(msg);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn severity(l: log::Level) -> u8 {
    match l {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Installs the logger. Never fails: logging problems must not stop the server.
pub fn init(syslog: bool) {
    let env = env_logger::Env::default().default_filter_or("info");
    let mut b = env_logger::Builder::from_env(env);
    if syslog {
        let pid = std::process::id();
        b.format(move |f, r| {
            // RFC 3164: <PRI>Mmm dd hh:mm:ss TAG[pid]: MSG ; facility daemon = 3.
            let (_, mo, d, h, mi, s) = calendar::civil(calendar::now());
            writeln!(
                f,
                "<{}>{} {:>2} {h:02}:{mi:02}:{s:02} edgeftpd[{pid}]: {}",
                3 * 8 + severity(r.level()),
                calendar::MONTHS[(mo - 1) as usize],
                d,
                r.args()
            )
        });
        b.target(env_logger::Target::Pipe(Box::new(Syslog {
            sock: Syslog::connect(),
        })));
    } else {
        b.format(|f, r| {
            let (y, mo, d, h, mi, s) = calendar::civil(calendar::now());
            writeln!(
                f,
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z {:<5} {}",
                r.level(),
                r.args()
            )
        });
    }
    let _ = b.try_init();
}
