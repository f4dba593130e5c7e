//! The accept loop: admission (total and per-address limits, stopping), a thread for each
//! new session, waiting for the clients of the idle ones (`session/idle.rs`), and an
//! orderly shutdown on SIGTERM/SIGINT.
//!
//! A refused client (over `--max-clients` or `--max-per-ip`, the machine short of memory
//! or of threads, or a thread that could not be created) gets a 421 greeting and is closed;
//! the server itself never stops accepting.
//! accept() failures such as EMFILE back off briefly instead of spinning. Admission state
//! is private to this module: a session gets only its [`Context`].

use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use crate::config::Reloaded;
use crate::limits;
use crate::reply::{self, Closing, Fail};
use crate::session::{self, Context};

/// The server: what sessions get, and the admission state only the accept loop sees.
pub struct Server {
    /// What new sessions get; SIGHUP replaces it ([`Server::reload`]).
    ctx: RwLock<Arc<Context>>,
    sessions: AtomicUsize,
    /// Sessions per address: one entry per address with a session (at most
    /// --max-clients), scanned; a hash map cost 3 KiB of flash for nothing at this size.
    per_ip: Mutex<Vec<(IpAddr, usize)>>,
    stopping: AtomicBool,
}

impl Server {
    pub fn new(ctx: Context) -> Arc<Server> {
        Arc::new(Server {
            ctx: RwLock::new(Arc::new(ctx)),
            sessions: AtomicUsize::new(0),
            per_ip: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        })
    }

    /// What a new session gets.
    pub fn context(&self) -> Arc<Context> {
        Arc::clone(&self.ctx.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// SIGHUP: reads the configuration again (the config file, the users file, the banner:
    /// from `files`, the disk or what the monitor process read from it; `config::reload`
    /// decides) and puts it in place for new sessions. What fails to read or check changes
    /// nothing and is logged; the settings only a start applies that changed are returned,
    /// for the caller to start again in place (see [`crate::process::restart_in_place`]).
    pub fn reload(&self, files: &mut crate::config::Files) -> Vec<&'static str> {
        let old = self.context();
        let mut cfg = match crate::config::reload(&old.cfg, files) {
            Reloaded::New(cfg) => *cfg,
            Reloaded::Restart(changed) => return changed,
            Reloaded::Kept => return Vec::new(),
        };
        cfg.max_clients = crate::memory::fit_sessions(cfg.max_clients);
        if let Some(x) = &cfg.xferlog {
            x.reopen();
        }
        let users = cfg.users.as_ref().map(|u| u.iter().count());
        let level = cfg.log_level;
        match old.reloaded(cfg) {
            Ok(ctx) => *self.ctx.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ctx),
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the configuration loaded before");
                return Vec::new();
            }
        }
        log::info!("SIGHUP: reloaded the configuration");
        if self.context().cfg.on_upload.is_some() {
            // (Here, outside the sessions' system call filter: see hook::start.)
            crate::hook::start();
        }
        if let Some(n) = users {
            log::info!("SIGHUP: reloaded the users file ({n} accounts)");
        }
        self.context().check_homes();
        crate::logging::set_level(level);
        Vec::new()
    }

    /// SIGHUP's certificate and key, read again here (without privilege separation): new
    /// handshakes use them.
    #[cfg(feature = "tls")]
    fn reload_certs(&self) {
        if crate::config::reload_certs(&self.context().cfg).is_some() {
            log::info!("SIGHUP: reloaded the TLS certificate and key");
        }
    }

    /// The certificate and key the monitor process read on SIGHUP: new handshakes use them.
    #[cfg(feature = "tls")]
    pub fn install_certs(&self, pair: &crate::tls::KeyPair) {
        let ctx = self.context();
        let installed = match &ctx.cfg.tls.certs {
            Some(certs) => certs.install(pair),
            None => Err("no certificate was loaded at start".into()),
        };
        match installed {
            Ok(()) => log::info!("SIGHUP: reloaded the TLS certificate and key"),
            Err(e) => log::error!("privilege separation: certificate from the monitor: {e}"),
        }
    }

    /// Takes a session slot for `ip`, or says which limit is hit.
    /// SECURITY: a banned address is refused before it can send a password.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Closing> {
        // SECURITY: a network the admin shut out gets no further than a 421.
        let ctx = self.context();
        let cfg = &ctx.cfg;
        let allowed = cfg.allow.is_empty() || cfg.allow.iter().any(|n| n.contains(ip));
        if !allowed || cfg.deny.iter().any(|n| n.contains(ip)) {
            log::info!("{ip}: refused: its network is not allowed (--allow, --deny)");
            return Err(Closing::NotAllowed);
        }
        if ctx.bans.banned(ip) {
            return Err(Closing::Banned);
        }
        // Whatever --max-clients says, the kernel's OOM killer must never have to choose.
        // (Read before the lock: no file is read while other admissions wait.)
        if let Some(m) = crate::memory::short() {
            log::warn!("{ip}: refused: {m}");
            return Err(Closing::LowMemory);
        }
        // A new session needs a thread; the router's other programs need the rest.
        if crate::process::threads_full() {
            log::warn!("{ip}: refused: the server has half of kernel.threads-max in threads");
            return Err(Closing::Busy);
        }
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if self.sessions.load(Ordering::SeqCst) >= cfg.max_clients {
            return Err(Closing::ServerFull);
        }
        match map.iter_mut().find(|(a, _)| *a == ip) {
            Some((_, n)) if *n >= cfg.max_per_ip => return Err(Closing::AddressFull),
            Some((_, n)) => *n += 1,
            None if cfg.max_per_ip == 0 => return Err(Closing::AddressFull),
            None => map.push((ip, 1)),
        }
        self.sessions.fetch_add(1, Ordering::SeqCst);
        Ok(Slot {
            server: Arc::clone(self),
            ip,
        })
    }
}

/// A session's place in the limits; released when dropped, even if the session panics.
struct Slot {
    server: Arc<Server>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.server.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = map.iter().position(|(a, _)| *a == self.ip) {
            map[i].1 -= 1;
            if map[i].1 == 0 {
                map.swap_remove(i);
            }
        }
        self.server.sessions.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Tells a client we can't serve it, without ever blocking the accept loop.
fn refuse(stream: &TcpStream, why: Closing) {
    let Some(answer) = Fail::Closing(why).answer() else {
        return;
    };
    let mut out = Vec::new();
    reply::line(&mut out, answer.code, answer.text.as_bytes());
    // Non-blocking: a reply this short fits any socket buffer, and a peer that has not
    // read its buffer empty gets nothing rather than holding up the accept loop.
    if stream.set_nonblocking(true).is_ok() {
        let _ = std::io::Write::write_all(&mut &*stream, &out);
    }
}

/// A listening socket, and whether its sessions are FTPS from the first byte.
pub struct Listener {
    pub socket: TcpListener,
    pub implicit_tls: bool,
}

/// Accepts connections on every listener until shutdown, and waits for the `idle` sessions'
/// clients.
pub fn run(shared: Arc<Server>, listeners: Vec<Listener>, mut idle: session::Idle) {
    let mut last_error_log: Option<Instant> = None;
    let mut last_sweep = Instant::now();
    loop {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = listeners
                .iter()
                .map(|l| PollFd::new(&l.socket, PollFlags::IN))
                .collect();
            // Until the first idle session's timeout ends; with bans on, at most a second,
            // to end the bans that are over.
            let mut wait = idle.watch(&mut fds);
            if shared.context().cfg.bans.after > 0 {
                wait = Some(wait.unwrap_or(Duration::MAX).min(Duration::from_secs(1)));
            }
            let timeout = wait.map(crate::net::timespec);
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    log::error!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(limits::ACCEPT_BACKOFF_MS));
                }
            }
            fds.iter().map(|f| !f.revents().is_empty()).collect()
        };
        idle.tend(&ready[listeners.len()..]);
        // Ends the bans that are over, once a second (not on every connection).
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            shared.context().bans.sweep();
            last_sweep = Instant::now();
        }
        if shared.stopping.load(Ordering::SeqCst) {
            // No more accepting. The signal thread ends the process once the transfers in
            // flight are done (or the grace period is over): returning here would end `main`
            // and cut them short at once.
            loop {
                std::thread::park();
            }
        }
        for (l, _) in listeners.iter().zip(ready).filter(|(_, r)| *r) {
            match l.socket.accept() {
                Ok((stream, peer)) => {
                    let ip = peer.ip().to_canonical();
                    start_session(&shared, stream, ip, l.implicit_tls);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOMEM, ENOBUFS: the connection waits in the backlog.
                    // Don't spin on it; log at most once a second.
                    if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                        log::error!("accept: {e}");
                        last_error_log = Some(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(limits::ACCEPT_BACKOFF_MS));
                }
            }
        }
    }
}

fn start_session(shared: &Arc<Server>, stream: TcpStream, ip: IpAddr, implicit_tls: bool) {
    let slot = match shared.admit(ip) {
        Ok(s) => s,
        Err(why) => {
            let text = Fail::Closing(why)
                .answer()
                .map(|a| a.text)
                .unwrap_or_default();
            // (Those two log their reason where they are decided.)
            if !matches!(why, Closing::LowMemory | Closing::Busy) {
                log::warn!("{ip}: refused: {text}");
            }
            refuse(&stream, why);
            return;
        }
    };
    // A second handle so the client can be told if the thread can't be created.
    let spare = stream.try_clone().ok();
    let ctx = shared.context();
    let spawned = crate::process::spawn(
        "session",
        Box::new(move || session::run(ctx, stream, implicit_tls, Box::new(slot))),
    );
    match spawned {
        Ok(()) => drop(spare),
        Err(e) => {
            log::error!("{ip}: cannot start a session thread: {e}");
            if let Some(s) = spare {
                refuse(&s, Closing::Busy);
            }
        }
    }
}

/// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in every thread and handles them on a
/// dedicated one. SIGUSR1 logs the sessions logged in now (`Context::report_sessions`).
/// SIGHUP re-reads the configuration ([`Server::reload`]) and the TLS certificate and key
/// (the server never exits on it; a changed listen address or other setting only a start
/// applies makes it start again in place), unless `reload_here` is false: under privilege separation the monitor process
/// reads them and sends them over (`privsep.rs`), and a SIGHUP sent to this process too
/// (`killall -HUP`) is ignored. SIGTERM and SIGINT: stop
/// accepting, give transfers in flight a few seconds, then exit 0. Must be called before
/// any other thread is started (the signal mask is inherited).
pub fn handle_signals(
    shared: Arc<Server>,
    listeners: &[Listener],
    reload_here: bool,
) -> std::io::Result<()> {
    let wake: Vec<std::os::fd::OwnedFd> = listeners
        .iter()
        .map(|l| l.socket.as_fd().try_clone_to_owned())
        .collect::<Result<_, _>>()?;
    let set = crate::sys::block_server_signals()?;
    crate::process::spawn(
        "signals",
        Box::new(move || {
            let sig = loop {
                let sig = crate::sys::wait_signal(&set);
                if sig == crate::sys::SIGUSR1 {
                    shared.context().report_sessions();
                    continue;
                }
                if sig != crate::sys::SIGHUP {
                    break sig;
                }
                if !reload_here {
                    log::debug!("SIGHUP: the monitor process reloads; ignored here");
                    continue;
                }
                let restart = shared.reload(&mut crate::config::Files::disk());
                if !restart.is_empty() {
                    drain(&shared, &wake);
                    crate::process::restart_in_place(&restart);
                    std::process::exit(1);
                }
                #[cfg(feature = "tls")]
                shared.reload_certs();
            };
            log::info!("signal {sig}: no longer accepting; waiting for transfers in flight");
            let left = drain(&shared, &wake);
            log::info!("exiting ({left} transfers cut short)");
            crate::process::remove_pidfile();
            std::process::exit(0);
        }),
    )
}

/// Stops accepting (the accept loops see `stopping` when their poll wakes) and gives the
/// transfers in flight [`limits::SHUTDOWN_GRACE_SECS`] to end. Returns how many did not.
fn drain(shared: &Server, wake: &[std::os::fd::OwnedFd]) -> usize {
    shared.stopping.store(true, Ordering::SeqCst);
    for fd in wake {
        let _ = rustix::net::shutdown(fd, rustix::net::Shutdown::Read);
    }
    let deadline = Instant::now() + Duration::from_secs(limits::SHUTDOWN_GRACE_SECS);
    let ctx = shared.context();
    while ctx.transfers() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    ctx.transfers()
}
