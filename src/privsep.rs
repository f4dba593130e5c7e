//! Privilege separation under `--run-as`, as vsftpd's and OpenSSH's privileged parent: the
//! process started as root stays root and serves nobody (the *monitor*); a process it forks
//! drops to the `--run-as` user and serves every client (the *serving process*).
//!
//! SECURITY: the monitor never reads from a client and never reads what the serving process
//! sends (the link carries messages one way only, monitor to serving process). Its one job
//! besides starting and stopping the serving process is SIGHUP: it reads the configuration
//! again (the config file, the users file, the banner) and the TLS certificate and key,
//! which may be readable by root only (openssl writes keys 0600), and checks them. Only
//! what passed crosses the link: the configuration's files as the monitor read them, which
//! the serving process parses with the same code ([`Files`]), and the certificate and key
//! as DER ([`KeyPair::encode`]). So an account added, a setting changed or a certificate
//! renewed applies without a restart, and a compromised serving process can read none of
//! those files from the disk itself.
//!
//! SIGTERM or SIGINT to the monitor is passed on; the monitor exits with the serving
//! process's status once it has ended. If the serving process dies of a signal (the OOM
//! killer, a crash), the monitor starts a new one after [`limits::RESPAWN_DELAY_SECS`],
//! and gives up after [`limits::RESPAWN_QUICK_MAX`] deaths in a row each within
//! [`limits::RESPAWN_QUICK_SECS`] of their start. If the monitor dies, whatever kills it,
//! the serving process ends at once: the kernel sends it SIGKILL (PR_SET_PDEATHSIG, set
//! after the user change that would clear it), and the link's end closing says the same.
//!
//! The cost: one more process, which shares its pages with the serving process until one
//! of them writes to them (see the README's figures).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

use crate::config::{self, Config, Files, Reloaded};
use crate::process::{self, RunAs};
use crate::sys::{self, Forked, SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use crate::{frame, limits};

/// Message kinds on the link: the configuration's files, the certificate and key.
const CONFIG: u8 = b'F';
#[cfg(feature = "tls")]
const CERTS: u8 = b'C';

/// Forks the serving process and watches it until it ends. Returns, as fork does, in the
/// serving process only: there it has become `who` for good, and serves with the link's
/// end it returns (see [`receive`]). The monitor never returns but to end the program
/// (`Ok(None)`: the serving process ended after SIGTERM or SIGINT). Called as root with the
/// listeners bound, which the monitor holds for the serving processes it starts, and no
/// other thread.
pub fn split(cfg: &mut Config, who: &RunAs) -> Result<Option<UnixStream>, String> {
    let set = sys::block_signals(&[SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGUSR1])
        .map_err(|e| format!("signals: {e}"))?;
    let monitor = rustix::process::getpid();
    let mut quick_deaths = 0;
    loop {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| format!("privilege separation: {e}"))?;
        let started = Instant::now();
        match sys::fork().map_err(|e| format!("privilege separation: fork: {e}"))? {
            Forked::Child => {
                drop(ours);
                become_serving(who, monitor)?;
                return Ok(Some(theirs));
            }
            Forked::Parent(pid) => {
                drop(theirs);
                log::info!(
                    "privilege separation: process {monitor} stays root to read the \
                     configuration, the users file and the TLS key on SIGHUP; process {pid} \
                     serves as {}",
                    who.user
                );
                match watch(&set, pid, ours, cfg) {
                    Ended::Exit(0) => return Ok(None),
                    Ended::Exit(code) => {
                        process::remove_pidfile();
                        std::process::exit(code)
                    }
                    Ended::Died => {}
                    Ended::Restart(changed) => {
                        process::restart_in_place(&changed);
                        std::process::exit(1);
                    }
                }
            }
        }
        if started.elapsed() < Duration::from_secs(limits::RESPAWN_QUICK_SECS) {
            quick_deaths += 1;
        } else {
            quick_deaths = 1;
        }
        if quick_deaths >= limits::RESPAWN_QUICK_MAX {
            log::error!(
                "the serving process died {quick_deaths} times in a row within {} s of its \
                 start; giving up",
                limits::RESPAWN_QUICK_SECS
            );
            process::remove_pidfile();
            std::process::exit(1);
        }
        // A SIGTERM during the pause ends it all; a SIGHUP is for the next process, which
        // gets the files as the monitor holds them anyway.
        let pause = Duration::from_secs(limits::RESPAWN_DELAY_SECS);
        let deadline = Instant::now() + pause;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match sys::wait_signal_for(&set, left) {
                Some(SIGTERM | SIGINT) => return Ok(None),
                Some(SIGHUP) => {
                    let changed = reload(cfg, None);
                    if !changed.is_empty() {
                        process::restart_in_place(&changed);
                        std::process::exit(1);
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        log::warn!("starting a new serving process");
    }
}

/// In the serving process, just forked: drops privileges for good, and dies with the
/// monitor.
fn become_serving(who: &RunAs, monitor: Pid) -> Result<(), String> {
    sys::unblock_signals(&[SIGCHLD]).map_err(|e| format!("signals: {e}"))?;
    process::drop_to(who)?;
    // SECURITY: the serving process dies with the monitor, whatever kills it: it must not
    // go on serving with no one left to stop it (a second server would then fail to bind,
    // or the init script would lose track of it). Set after the user change, which clears
    // it (the kernel resets the death signal whenever a process's credentials change), and
    // then the monitor is looked for: had it died before, no signal would ever come. The
    // link's end is the second watch (see [`receive`]).
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("privilege separation: PR_SET_PDEATHSIG: {e}"))?;
    if rustix::process::getppid() != Some(monitor) {
        return Err("privilege separation: the monitor process ended".into());
    }
    Ok(())
}

/// How the serving process ended.
enum Ended {
    /// It exited with this status (0 after SIGTERM), or can't be waited for (1).
    Exit(i32),
    /// A signal killed it that the monitor did not send.
    Died,
    /// The monitor ended it to start again: SIGHUP changed these settings.
    Restart(Vec<&'static str>),
}

/// The monitor's loop: signals in, reloads out, until the serving process ends.
fn watch(set: &sys::SigSet, pid: Pid, mut link: UnixStream, cfg: &mut Config) -> Ended {
    let mut stopping = false;
    let mut restart = Vec::new();
    loop {
        match sys::wait_signal(set) {
            SIGHUP if !stopping => {
                let changed = reload(cfg, Some(&mut link));
                if !changed.is_empty() {
                    // The serving process ends as on SIGTERM; then the monitor starts again.
                    restart = changed;
                    stopping = true;
                    let _ = rustix::process::kill_process(pid, Signal::TERM);
                }
            }
            // The serving process says who is logged in (the monitor knows no sessions).
            SIGUSR1 => {
                let _ = rustix::process::kill_process(pid, Signal::USR1);
            }
            sig @ (SIGTERM | SIGINT) => {
                stopping = true;
                restart.clear();
                if let Some(s) = Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(pid, s);
                }
            }
            _ => {}
        }
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(None) => {}
            Ok(Some((_, status))) => {
                if !restart.is_empty() {
                    return Ended::Restart(restart);
                }
                if let Some(code) = status.exit_status() {
                    return Ended::Exit(code);
                }
                let sig = status.terminating_signal().unwrap_or(0);
                if stopping {
                    return Ended::Exit(0);
                }
                let why = if sig == Signal::KILL.as_raw() {
                    " (the kernel's OOM killer, or kill -9)"
                } else {
                    ""
                };
                log::error!("the serving process {pid} was killed by signal {sig}{why}");
                return Ended::Died;
            }
            Err(e) => {
                log::error!("waiting for the serving process {pid}: {e}");
                return Ended::Exit(1);
            }
        }
    }
}

/// SIGHUP in the monitor: reads the configuration and the certificate and key as root
/// (`config::reload`, the policy the serving process applies too) and, when they are good,
/// sends them to the serving process (if there is one: `link`), which puts them in place
/// and logs it. What fails to load is logged there and changes nothing. `cfg` keeps what
/// was read, for a serving process started later. Returns the settings that changed and
/// only a start applies, if any; then nothing is sent, for the monitor starts again (see
/// [`process::restart_in_place`]).
fn reload(cfg: &mut Config, mut link: Option<&mut UnixStream>) -> Vec<&'static str> {
    let mut files = Files::recording();
    match config::reload(cfg, &mut files) {
        Reloaded::Restart(changed) => return changed,
        Reloaded::New(new) => {
            if let Some(link) = &mut link {
                send(link, CONFIG, &files.encode());
            }
            *cfg = *new;
        }
        Reloaded::Kept => {}
    }
    #[cfg(feature = "tls")]
    if let (Some(pair), Some(link)) = (config::reload_certs(cfg), &mut link) {
        send(link, CERTS, &pair.encode());
    }
    Vec::new()
}

/// One message: one item (`frame.rs`) of its kind.
fn send(link: &mut UnixStream, kind: u8, body: &[u8]) {
    let mut msg = Vec::with_capacity(5 + body.len());
    frame::put(&mut msg, kind, body);
    if let Err(e) = link.write_all(&msg) {
        log::error!("SIGHUP: cannot reach the serving process: {e}");
    }
}

/// What the monitor sends the serving process.
pub enum Message {
    /// The configuration's files, as the monitor read them on SIGHUP.
    Config(Files),
    /// The certificate and key the monitor read on SIGHUP.
    #[cfg(feature = "tls")]
    Certs(crate::tls::KeyPair),
}

/// In the serving process: the monitor's next message, None when no more are to be taken
/// (a message too long, [`limits::RELOAD_BYTES_MAX`]: the link is out of step; logged).
/// The process exits when the link ends (the monitor keeps its end open until this process
/// has ended: it is gone, and so must this process be; the death signal does the same).
/// Err: a message out of form, for the caller to log.
pub fn receive(link: &mut UnixStream) -> Option<Result<Message, String>> {
    let (kind, body) = match frame::read(link, limits::RELOAD_BYTES_MAX) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            log::error!(
                "privilege separation: a message over {} bytes; reloads stop",
                limits::RELOAD_BYTES_MAX
            );
            return None;
        }
        Err(_) => {
            log::error!("privilege separation: the monitor process ended; exiting");
            std::process::exit(1);
        }
    };
    Some(match kind {
        CONFIG => Files::decode(&body)
            .map(Message::Config)
            .ok_or_else(|| "privilege separation: a configuration message out of form".into()),
        #[cfg(feature = "tls")]
        CERTS => crate::tls::KeyPair::decode(&body)
            .map(Message::Certs)
            .ok_or_else(|| {
                "privilege separation: certificate from the monitor: not a certificate and key"
                    .into()
            }),
        _ => Err(format!("privilege separation: unknown message {kind}")),
    })
}
