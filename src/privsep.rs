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

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};

use crate::config::{self, Config, Files};
use crate::server::{Listener, Server};
use crate::sys::{self, Forked, SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use crate::{limits, start};

/// The user the serving process runs as.
pub struct Serving {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
}

/// Message kinds on the link: the configuration's files, the certificate and key.
const CONFIG: u8 = b'F';
#[cfg(feature = "tls")]
const CERTS: u8 = b'C';

/// Forks the serving process and watches it until it ends; in the serving process, serves
/// and never returns. Called as root with the listeners bound and no other thread.
pub fn split(mut cfg: Config, listeners: Vec<Listener>, who: Serving) -> Result<(), String> {
    let set = sys::block_signals(&[SIGHUP, SIGTERM, SIGINT, SIGCHLD])
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
                let code = match serving_process(cfg, listeners, &who, theirs, monitor) {
                    Ok(()) => 0,
                    Err(msg) => {
                        log::error!("{msg}");
                        2
                    }
                };
                std::process::exit(code);
            }
            Forked::Parent(pid) => {
                drop(theirs);
                log::info!(
                    "privilege separation: process {monitor} stays root to read the \
                     configuration, the users file and the TLS key on SIGHUP; process {pid} \
                     serves as {}",
                    who.user
                );
                match watch(&set, pid, ours, &mut cfg) {
                    Ended::Exit(0) => return Ok(()),
                    Ended::Exit(code) => {
                        start::remove_pidfile();
                        std::process::exit(code)
                    }
                    Ended::Died => {}
                    Ended::Restart(changed) => {
                        start::restart_in_place(&changed);
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
            start::remove_pidfile();
            std::process::exit(1);
        }
        // A SIGTERM during the pause ends it all; a SIGHUP is for the next process, which
        // gets the files as the monitor holds them anyway.
        let pause = Duration::from_secs(limits::RESPAWN_DELAY_SECS);
        let deadline = Instant::now() + pause;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match sys::wait_signal_for(&set, left) {
                Some(SIGTERM | SIGINT) => return Ok(()),
                Some(SIGHUP) => {
                    let changed = reload(&mut cfg, None);
                    if !changed.is_empty() {
                        start::restart_in_place(&changed);
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

/// The serving process: drops privileges for good, then serves.
fn serving_process(
    cfg: Config,
    listeners: Vec<Listener>,
    who: &Serving,
    link: UnixStream,
    monitor: Pid,
) -> Result<(), String> {
    sys::unblock_signals(&[SIGCHLD]).map_err(|e| format!("signals: {e}"))?;
    start::drop_to(who)?;
    // SECURITY: the serving process dies with the monitor, whatever kills it: it must not
    // go on serving with no one left to stop it (a second server would then fail to bind,
    // or the init script would lose track of it). Set after the user change, which clears
    // it (the kernel resets the death signal whenever a process's credentials change), and
    // then the monitor is looked for: had it died before, no signal would ever come. The
    // link's end is the second watch (see [`take_reloads`]).
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| format!("privilege separation: PR_SET_PDEATHSIG: {e}"))?;
    if rustix::process::getppid() != Some(monitor) {
        return Err("privilege separation: the monitor process ended".into());
    }
    start::serve(cfg, listeners, Some(link))
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
/// and, when they are good, sends them to the serving process (if there is one: `link`),
/// which puts them in place and logs it. What fails to load is logged here and changes
/// nothing. `cfg` keeps what was read, for a serving process started later. Returns the
/// settings that changed and only a start applies, if any; then nothing is sent, for the
/// monitor starts again (see [`start::restart_in_place`]).
fn reload(cfg: &mut Config, mut link: Option<&mut UnixStream>) -> Vec<&'static str> {
    let mut files = Files::recording();
    match config::reparse(&cfg.args, &mut files) {
        Ok(mut new) => {
            let changed = new.keep_restart_only(cfg);
            if !changed.is_empty() {
                return changed;
            }
            if let Some(link) = &mut link {
                send(link, CONFIG, &files.encode());
            }
            *cfg = new;
        }
        Err(e) => log::error!("SIGHUP: {e}; keeping the configuration loaded before"),
    }
    #[cfg(feature = "tls")]
    if let Some(certs) = &cfg.tls.certs {
        match certs.reload() {
            Ok(pair) => {
                if let Some(link) = &mut link {
                    send(link, CERTS, &pair.encode());
                }
            }
            Err(e) => log::error!("SIGHUP: {e}; keeping the certificate loaded before"),
        }
    }
    Vec::new()
}

/// One message: its kind, its length (4 bytes, big-endian), its bytes.
fn send(link: &mut UnixStream, kind: u8, body: &[u8]) {
    let mut msg = Vec::with_capacity(5 + body.len());
    msg.push(kind);
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes());
    msg.extend_from_slice(body);
    if let Err(e) = link.write_all(&msg) {
        log::error!("SIGHUP: cannot reach the serving process: {e}");
    }
}

/// In the serving process: a thread that takes the monitor's reloads and puts them in
/// place, logging each as a SIGHUP would without privilege separation.
pub fn take_reloads(server: Arc<Server>, mut link: UnixStream) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("reloads".into())
        .stack_size(limits::SESSION_STACK)
        .spawn(move || {
            loop {
                let mut head = [0u8; 5];
                if link.read_exact(&mut head).is_err() {
                    // The monitor keeps its end open until this process has ended: it is
                    // gone, and so must this process be (the death signal does the same).
                    log::error!("privilege separation: the monitor process ended; exiting");
                    std::process::exit(1);
                }
                let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                if len > limits::RELOAD_BYTES_MAX {
                    log::error!("privilege separation: a message of {len} bytes; reloads stop");
                    return;
                }
                let mut body = vec![0u8; len];
                if link.read_exact(&mut body).is_err() {
                    log::error!("privilege separation: the monitor process ended; exiting");
                    std::process::exit(1);
                }
                apply(&server, head[0], &body);
            }
        })?;
    Ok(())
}

fn apply(server: &Server, kind: u8, body: &[u8]) {
    match kind {
        CONFIG => match Files::decode(body) {
            Some(mut files) => {
                // The monitor starts again itself when such a setting changes; this is
                // only a safeguard.
                for flag in server.reload(&mut files) {
                    log::warn!("SIGHUP: --{flag} changed; it takes effect at the next restart");
                }
            }
            None => log::error!("privilege separation: a configuration message out of form"),
        },
        #[cfg(feature = "tls")]
        CERTS => {
            let ctx = server.context();
            let installed = match (crate::tls::KeyPair::decode(body), &ctx.cfg.tls.certs) {
                (Some(pair), Some(certs)) => certs.install(&pair),
                _ => Err("not a certificate and key".into()),
            };
            match installed {
                Ok(()) => log::info!("SIGHUP: reloaded the TLS certificate and key"),
                Err(e) => log::error!("privilege separation: certificate from the monitor: {e}"),
            }
        }
        _ => log::error!("privilege separation: unknown message {kind}"),
    }
}
