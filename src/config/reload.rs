//! SIGHUP's policy, decided in one place for every process that reloads (the server
//! alone, or the monitor of privilege separation and then the serving process): the
//! configuration is read again from the same command line; what fails to read or check
//! changes nothing; a setting only a start applies makes the process start again in place;
//! anything else applies to new sessions at once.

use super::{Action, Config, Files};

/// The flags only a start applies: they bind sockets, start the process or decide how it
/// logs and speaks TLS (the certificate and key themselves are read again). A reload that
/// changes one of them makes the server start again in place (`process::restart_in_place`).
pub(super) const NEEDS_RESTART: &[&str] = &[
    "listen",
    "listen-tls",
    "inetd",
    "daemon",
    "pidfile",
    "run-as",
    "no-syscall-filter",
    "syslog",
    "tls",
    "tls-cert",
    "tls-key",
    "tls-reuse",
    "xferlog",
];

/// What a reload found.
pub enum Reloaded {
    /// The configuration read again (checked; the settings only a start applies are the
    /// old ones, unchanged).
    New(Box<Config>),
    /// These settings only a start applies changed: the process starts again in place.
    Restart(Vec<&'static str>),
    /// It failed to read or check (logged): the old configuration stays.
    Kept,
}

/// SIGHUP: the command line of `old` parsed again (and so the config file, the users file
/// and the banner), from `files` (the disk, or what the monitor process read from it).
pub fn reload(old: &Config, files: &mut Files) -> Reloaded {
    match reparse(&old.args, files) {
        Ok(mut new) => {
            let changed = new.restart_changes(old);
            if !changed.is_empty() {
                return Reloaded::Restart(changed);
            }
            match new.acquire(Some(old)) {
                Ok(()) => Reloaded::New(Box::new(new)),
                Err(e) => {
                    log::error!("SIGHUP: {e}; keeping the configuration loaded before");
                    Reloaded::Kept
                }
            }
        }
        Err(e) => {
            log::error!("SIGHUP: {e}; keeping the configuration loaded before");
            Reloaded::Kept
        }
    }
}

/// SIGHUP's second half: the TLS certificate and key read again; new handshakes use them
/// (a pair that fails to load is logged and the old one stays). Returns the pair read, for
/// the monitor to send on.
#[cfg(feature = "tls")]
pub fn reload_certs(cfg: &Config) -> Option<crate::tls::KeyPair> {
    let certs = cfg.tls.certs.as_ref()?;
    match certs.reload() {
        Ok(pair) => Some(pair),
        Err(e) => {
            log::error!("SIGHUP: {e}; keeping the certificate loaded before");
            None
        }
    }
}

/// SIGHUP: parses the command line (and so the config file, the users file and the
/// banner) again, from `files`.
fn reparse(args: &[String], files: &mut Files) -> Result<Config, String> {
    match super::parse_with(args, files)? {
        Action::Serve(cfg) => Ok(*cfg),
        _ => Err("the command line is not one that serves".into()),
    }
}

impl Config {
    /// The [`NEEDS_RESTART`] flags whose values differ from `old`'s. When there are none,
    /// every such setting is as it was, and [`Config::acquire`] takes `old`'s resources.
    fn restart_changes(&self, old: &Config) -> Vec<&'static str> {
        NEEDS_RESTART
            .iter()
            .zip(self.restart_only.iter().zip(&old.restart_only))
            .filter(|(_, (new, old))| new != old)
            .map(|(name, _)| *name)
            .collect()
    }
}
