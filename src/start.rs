//! Start-up: what the binary (`main.rs`) runs. [`main`] reads the flags into a validated `Config` (exit 2 on any problem, before anything
//! listens), sets up logging, binds the listeners, drops privileges if asked, and hands over
//! to the accept loop (or, with `--inetd`, serves the one session on stdin/stdout).

use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{self, Action, Config};
use crate::process::{self, RunAs};
use crate::server::{self, Server};
use crate::session::{self, Context};
use crate::{hashpw, logging, memory, privsep, sys, vfs};

/// The whole program: flags, then serving until a signal ends it. Exit status 2 for any
/// problem found at start-up (one line on stderr).
pub fn main() -> ExitCode {
    process::keep_name();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match config::parse(&args) {
        Ok(Action::Serve(cfg)) => *cfg,
        Ok(Action::Help(text)) => {
            print(text.as_bytes());
            return ExitCode::SUCCESS;
        }
        Ok(Action::Version) => {
            // Which binary this is: an admin with several in dist/ must be able to tell.
            let flavour = if cfg!(feature = "tls") {
                "with FTPS"
            } else {
                "plain, no FTPS"
            };
            let libc = if cfg!(target_env = "musl") {
                "musl"
            } else {
                "gnu"
            };
            print(
                format!(
                    "edgeftpd {} ({flavour}; {}-linux-{libc}, {}-endian)\n",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::ARCH,
                    if cfg!(target_endian = "big") {
                        "big"
                    } else {
                        "little"
                    }
                )
                .as_bytes(),
            );
            return ExitCode::SUCCESS;
        }
        Ok(Action::HashPassword) => return outcome(hashpw::run()),
        Ok(Action::EditUsers(path, edit)) => {
            return outcome(crate::accounts::run(&path, &edit).map(|s| format!("edgeftpd: {s}")));
        }
        Err(msg) => {
            // With --syslog, a boot-time error reaches the log too, not only a console
            // nobody reads.
            if args.iter().any(|a| a == "--syslog" || a == "--daemon") {
                logging::syslog_error(&msg);
            }
            eprintln!("edgeftpd: {msg}");
            return ExitCode::from(2);
        }
    };
    // Under inetd, stderr is often the client's socket too: log lines there would corrupt
    // the control connection, so they go to syslog instead.
    logging::init(
        cfg.syslog || (cfg.inetd && stderr_is_socket()),
        cfg.log_level,
    );
    let syslog = cfg.syslog;
    match run(cfg) {
        Ok(()) => {
            process::remove_pidfile();
            ExitCode::SUCCESS
        }
        Err(msg) => {
            // One line on stderr, and the same in syslog when logging goes there.
            if syslog {
                log::error!("{msg}");
            }
            eprintln!("edgeftpd: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout as it is, unbuffered (nothing is left to flush before a fork or
/// an exit; std's buffered stdout would cost the binary its line writer for these few
/// lines). A stdout that is gone loses the text, as a closed pipe does.
fn print(text: &[u8]) {
    let mut left = text;
    while !left.is_empty() {
        match rustix::io::write(rustix::stdio::stdout(), left) {
            Ok(0) => return,
            Ok(n) => left = &left[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// A one-shot action's result: its line on stdout and 0, or its error on stderr and 2.
fn outcome(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(mut line) => {
            line.push('\n');
            print(line.as_bytes());
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("edgeftpd: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(mut cfg: Config) -> Result<(), String> {
    sys::ignore_sigxfsz();
    // What the configuration names: the certificate and key, the xferlog.
    cfg.acquire(None)?;
    // Everything that can be wrong is found before anything listens: one line, exit 2.
    let run_as = match &cfg.run_as {
        Some(user) => Some(RunAs::lookup(user)?),
        None => None,
    };
    if cfg.check {
        return check(&cfg, run_as.as_ref());
    }
    if let (Some(path), Some(users)) = (&cfg.users_path, &cfg.users) {
        let n = users.iter().count();
        log::info!("{}: {n} accounts", path.display());
        if n == 0 && !cfg.anonymous {
            log::warn!(
                "{}: no accounts, and no --anonymous: nobody can log in",
                path.display()
            );
        }
    }
    // The anonymous root must open now (a clear line, exit 2); it is held no longer than
    // the sweep below: each login opens it again (see session/login.rs).
    let anon_jail = if cfg.anonymous {
        let jail = vfs::Jail::open(&cfg.root)
            .map_err(|e| format!("--root {}: {e}", cfg.root.display()))?;
        Some(jail)
    } else {
        None
    };
    // Temporary upload files left by a crash are removed at start-up, in every root a client
    // can write to. Not under inetd: there each connection is a process of its own, and the
    // temporary files may be the uploads in flight of the other sessions.
    if !cfg.inetd {
        if let Some(jail) = &anon_jail {
            sweep(jail, &cfg.root);
        }
        for user in cfg.users.iter().flat_map(|u| u.iter()) {
            match vfs::Jail::open(&user.home) {
                Ok(jail) => sweep(&jail, &user.home),
                Err(e) => log::warn!("user {}: home {}: {e}", user.name, user.home.display()),
            }
        }
    }
    drop(anon_jail);

    if cfg.inetd {
        // One session per process: a reload means nothing here, and must not kill it.
        sys::ignore_sighup();
        rustix::process::umask(rustix::fs::Mode::empty());
        let fd = rustix::stdio::stdin()
            .try_clone_to_owned()
            .map_err(|e| format!("--inetd: stdin: {e}"))?;
        let stream = TcpStream::from(fd);
        stream
            .peer_addr()
            .map_err(|e| format!("--inetd: stdin is not a TCP socket ({e})"))?;
        if let Some(who) = &run_as {
            process::drop_to(who)?;
        }
        // Only what a session needs: no admission state, no signal thread.
        confine(&cfg);
        // (Its session keeps its thread while idle: nothing else waits for it here.)
        let admitted = Box::new(());
        session::run(Arc::new(Context::new(cfg)), stream, false, admitted);
        return Ok(());
    }

    let mut listeners = Vec::new();
    let plain = cfg.listen.iter().map(|a| (a, false));
    for (addr, implicit_tls) in plain.chain(cfg.tls.listen.iter().map(|a| (a, true))) {
        let flag = if implicit_tls {
            "--listen-tls"
        } else {
            "--listen"
        };
        let l = TcpListener::bind(addr).map_err(|e| format!("{flag} {addr}: {e}"))?;
        listeners.push(server::Listener {
            socket: l,
            implicit_tls,
        });
    }
    for l in &listeners {
        let local = l.socket.local_addr().map_err(|e| e.to_string())?;
        let what = if l.implicit_tls {
            " (implicit FTPS)"
        } else {
            ""
        };
        log::info!("listening on {local}{what}");
    }

    if cfg.daemon {
        process::daemonize(cfg.pidfile.as_deref())?;
    } else if let Some(path) = &cfg.pidfile {
        process::write_pidfile(path, rustix::process::getpid())?;
    }

    match run_as {
        // SECURITY: root keeps only the monitor process, which reads the users file and
        // the key again on SIGHUP; clients are served by a process that is the --run-as
        // user for good (privsep.rs). The monitor returns from the split only to end.
        Some(who) if rustix::process::getuid().is_root() => match privsep::split(&mut cfg, &who)? {
            Some(link) => serve(cfg, listeners, Some(link)),
            None => Ok(()),
        },
        Some(who) => {
            process::drop_to(&who)?;
            serve(cfg, listeners, None)
        }
        None => {
            if rustix::process::getuid().is_root() {
                log::warn!("running as root; consider --run-as USER");
            }
            serve(cfg, listeners, None)
        }
    }
}

/// `--check`: the flags, the users file and the certificate were checked when they were
/// read; this prints what would be served and checks each home as the user that would
/// serve it (in a child process that becomes that user, when started as root for
/// `--run-as`). Nothing is bound. Problems go to stderr; any makes the exit status 2.
fn check(cfg: &Config, run_as: Option<&RunAs>) -> Result<(), String> {
    let mut out = String::new();
    for a in &cfg.listen {
        out.push_str(&format!("listen {a}\n"));
    }
    for a in &cfg.tls.listen {
        out.push_str(&format!("listen {a} (implicit FTPS)\n"));
    }
    // (Not {:?}: the router binaries are built without Debug formatting.)
    let tls = match cfg.tls.mode {
        config::TlsMode::Off => "off",
        config::TlsMode::Optional => "optional",
        config::TlsMode::Required => "required",
    };
    out.push_str(&format!("FTPS: {tls}\n"));
    if cfg.anonymous {
        let how = match cfg.anon_rights.to_string().as_str() {
            "ro" => "read-only".to_string(),
            "rw" => "read-write".to_string(),
            rules => rules.to_string(),
        };
        out.push_str(&format!("anonymous: {} ({how})\n", cfg.root.display()));
    }
    if let (Some(path), Some(users)) = (&cfg.users_path, &cfg.users) {
        out.push_str(&format!("users file {}:\n", path.display()));
        for u in users.iter() {
            let perm = &u.rights;
            let umask = u
                .umask
                .map(|m| format!(", umask {m:03o}"))
                .unwrap_or_default();
            let locked = if u.locked() { ", locked" } else { "" };
            out.push_str(&format!(
                "  {}: {} ({perm}{umask}{locked})\n",
                u.name,
                u.home.display()
            ));
        }
    }
    out.push_str(&format!(
        "passive ports {}-{}\n",
        cfg.pasv_min, cfg.pasv_max
    ));
    match run_as {
        Some(who) => out.push_str(&format!(
            "serving as {} (uid {}, gid {})\n",
            who.user, who.uid, who.gid
        )),
        None => out.push_str("serving as the user that starts it\n"),
    }
    print(out.as_bytes());
    let problems = |cfg: &Config| {
        let p = session::home_problems(cfg, cfg.users.as_ref());
        for line in &p {
            eprintln!("edgeftpd: {line}");
        }
        p.len()
    };
    let found = match run_as {
        Some(who) if rustix::process::getuid().is_root() => {
            match sys::fork().map_err(|e| format!("--check: fork: {e}"))? {
                sys::Forked::Child => {
                    let code = match sys::drop_privileges(who.uid, who.gid) {
                        Ok(()) => problems(cfg).min(100) as i32,
                        Err(e) => {
                            eprintln!("edgeftpd: --run-as {}: {e}", who.user);
                            1
                        }
                    };
                    std::process::exit(code);
                }
                sys::Forked::Parent(pid) => {
                    match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                    {
                        Ok(Some((_, st))) => st.exit_status().unwrap_or(1) as usize,
                        _ => 1,
                    }
                }
            }
        }
        _ => problems(cfg),
    };
    if found > 0 {
        return Err(format!("--check: {found} problems (above)"));
    }
    print(b"ok\n");
    Ok(())
}

/// Serves clients on `listeners` until a signal ends it. `reloads`: the link to the
/// monitor process under privilege separation, which then does SIGHUP's reading.
fn serve(
    mut cfg: Config,
    listeners: Vec<server::Listener>,
    reloads: Option<UnixStream>,
) -> Result<(), String> {
    cfg.max_clients = memory::fit_sessions(cfg.max_clients);
    // Files and directories made for clients get exactly the mode --umask (or the
    // account's umask) says; nothing else is created from here on.
    rustix::process::umask(rustix::fs::Mode::empty());
    let server = Server::new(Context::new(cfg));
    server.context().check_homes();
    server::handle_signals(Arc::clone(&server), &listeners, reloads.is_none())
        .map_err(|e| format!("signals: {e}"))?;
    if let Some(link) = reloads {
        take_reloads(Arc::clone(&server), link).map_err(|e| format!("reloads: {e}"))?;
    }
    let idle = session::Idle::new().map_err(|e| format!("idle sessions: {e}"))?;
    confine(&server.context().cfg);
    server::run(server, listeners, idle);
    Ok(())
}

/// The threads that serve clients (this one and those it starts) go under the system call
/// filter; the `--on-upload` workers, which fork and exec, start before it.
fn confine(cfg: &Config) {
    if cfg.on_upload.is_some() {
        crate::hook::start();
    }
    if cfg.syscall_filter {
        crate::sandbox::confine();
    }
}

/// In the serving process of privilege separation: a thread that takes the monitor's
/// reloads and puts them in place, logging each as a SIGHUP would without it.
fn take_reloads(server: Arc<Server>, mut link: UnixStream) -> std::io::Result<()> {
    process::spawn(
        "reloads",
        Box::new(move || {
            while let Some(message) = privsep::receive(&mut link) {
                match message {
                    Ok(privsep::Message::Config(mut files)) => {
                        // The monitor starts again itself when such a setting changes;
                        // this is only a safeguard.
                        for flag in server.reload(&mut files) {
                            log::warn!(
                                "SIGHUP: --{flag} changed; it takes effect at the next restart"
                            );
                        }
                    }
                    #[cfg(feature = "tls")]
                    Ok(privsep::Message::Certs(pair)) => server.install_certs(&pair),
                    Err(e) => log::error!("{e}"),
                }
            }
        }),
    )?;
    Ok(())
}

fn stderr_is_socket() -> bool {
    rustix::fs::fstat(std::io::stderr())
        .map(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode as _) == rustix::fs::FileType::Socket
        })
        .unwrap_or(false)
}

/// Removes stale temporary upload files below `dir` (opened as `jail`).
fn sweep(jail: &vfs::Jail, dir: &std::path::Path) {
    let swept = jail.sweep_temp_files();
    if swept > 0 {
        log::info!(
            "removed {swept} stale temporary upload files in {}",
            dir.display()
        );
    }
}
