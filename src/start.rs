//! Start-up: what the binary (`main.rs`) runs. [`main`] reads the flags into a validated `Config` (exit 2 on any problem, before anything
//! listens), sets up logging, binds the listeners, drops privileges if asked, and hands over
//! to the accept loop (or, with `--inetd`, serves the one session on stdin/stdout).

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::{self, Action, Config};
use crate::server::{self, Server};
use crate::session::{self, Context};
use crate::{hashpw, limits, logging, privsep, sys, vfs};

/// The whole program: flags, then serving until a signal ends it. Exit status 2 for any
/// problem found at start-up (one line on stderr).
pub fn main() -> ExitCode {
    keep_name();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match config::parse(&args) {
        Ok(Action::Serve(cfg)) => *cfg,
        Ok(Action::Help(text)) => {
            print!("{text}");
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
            println!(
                "edgeftpd {} ({flavour}; {}-linux-{libc}, {}-endian)",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH,
                if cfg!(target_endian = "big") {
                    "big"
                } else {
                    "little"
                }
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
            remove_pidfile();
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

/// After a restart in place the kernel names the process after the file it executed,
/// `/proc/self/exe`: `exe` to `ps`, `top`, `pidof` and `ps -C edgeftpd`. At every start the
/// process names itself as the kernel does at an ordinary one: the last part of argv[0],
/// 15 bytes at most.
fn keep_name() {
    use std::os::unix::ffi::OsStrExt;
    let Some(arg0) = std::env::args_os().next() else {
        return;
    };
    let base = arg0
        .as_bytes()
        .rsplit(|&b| b == b'/')
        .next()
        .unwrap_or_default();
    if let Ok(name) = std::ffi::CString::new(&base[..base.len().min(15)]) {
        let _ = rustix::thread::set_name(&name);
    }
}

/// A one-shot action's result: its line on stdout and 0, or its error on stderr and 2.
fn outcome(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("edgeftpd: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cfg: Config) -> Result<(), String> {
    sys::ignore_sigxfsz();
    // Everything that can be wrong is found before anything listens: one line, exit 2.
    let run_as = match &cfg.run_as {
        Some(user) => {
            let (uid, gid) = lookup_user(user)?;
            Some(privsep::Serving {
                user: user.clone(),
                uid,
                gid,
            })
        }
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
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("--inetd: stdin: {e}"))?;
        let stream = TcpStream::from(fd);
        stream
            .peer_addr()
            .map_err(|e| format!("--inetd: stdin is not a TCP socket ({e})"))?;
        if let Some(who) = &run_as {
            drop_to(who)?;
        }
        // Only what a session needs: no admission state, no signal thread.
        session::run(Arc::new(Context::new(cfg)), stream, false);
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
        daemonize(cfg.pidfile.as_deref())?;
    } else if let Some(path) = &cfg.pidfile {
        write_pidfile(path, rustix::process::getpid())?;
    }

    match run_as {
        // SECURITY: root keeps only the monitor process, which reads the users file and
        // the key again on SIGHUP; clients are served by a process that is the --run-as
        // user for good (privsep.rs).
        Some(who) if rustix::process::getuid().is_root() => privsep::split(cfg, listeners, who),
        Some(who) => {
            drop_to(&who)?;
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
fn check(cfg: &Config, run_as: Option<&privsep::Serving>) -> Result<(), String> {
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
    print!("{out}");
    let problems = |cfg: &Config| {
        let p = session::home_problems(cfg, cfg.users.as_ref());
        for line in &p {
            eprintln!("edgeftpd: {line}");
        }
        p.len()
    };
    let found = match run_as {
        Some(who) if rustix::process::getuid().is_root() => {
            use std::io::Write;
            let _ = std::io::stdout().flush();
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
    println!("ok");
    Ok(())
}

/// `--daemon`: everything that can fail at start-up has been checked and the listeners are
/// bound, so the process the init script started may now exit 0 and leave a child serving
/// in the background: a new session with no terminal, stdin, stdout and stderr on
/// /dev/null (logging goes to syslog). The pid file names the child.
fn daemonize(pidfile: Option<&std::path::Path>) -> Result<(), String> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("--daemon: /dev/null: {e}"))?;
    if let Some(path) = pidfile {
        let _ = PIDFILE.set(path.to_path_buf());
    }
    match sys::fork().map_err(|e| format!("--daemon: fork: {e}"))? {
        sys::Forked::Parent(child) => {
            if let Some(path) = pidfile
                && let Err(e) = write_pidfile(path, child)
            {
                let _ = rustix::process::kill_process(child, rustix::process::Signal::KILL);
                return Err(e);
            }
            std::process::exit(0);
        }
        sys::Forked::Child => {
            // Not a process group leader (a fresh child), so setsid succeeds.
            let _ = rustix::process::setsid();
            let redirect = rustix::stdio::dup2_stdin(&null)
                .and_then(|()| rustix::stdio::dup2_stdout(&null))
                .and_then(|()| rustix::stdio::dup2_stderr(&null));
            if let Err(e) = redirect {
                log::warn!("--daemon: stdin, stdout and stderr to /dev/null: {e}");
            }
            PIDFILE_OWNER.store(
                rustix::process::getpid().as_raw_nonzero().get(),
                Ordering::SeqCst,
            );
            Ok(())
        }
    }
}

/// The process that wrote `--pidfile` (0: none): only it removes the file at exit, not the
/// serving process of privilege separation, which inherits the path.
static PIDFILE_OWNER: AtomicI32 = AtomicI32::new(0);
static PIDFILE: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Writes `pid` to `path` (replacing it whole: written aside, then renamed).
fn write_pidfile(path: &std::path::Path, pid: rustix::process::Pid) -> Result<(), String> {
    let aside = path.with_extension("pid-new");
    std::fs::write(&aside, format!("{}\n", pid.as_raw_nonzero()))
        .and_then(|()| std::fs::rename(&aside, path))
        .map_err(|e| format!("--pidfile {}: {e}", path.display()))?;
    let _ = PIDFILE.set(path.to_path_buf());
    PIDFILE_OWNER.store(pid.as_raw_nonzero().get(), Ordering::SeqCst);
    Ok(())
}

/// Removes the `--pidfile` at exit, when this process wrote it (or was named in it).
pub(crate) fn remove_pidfile() {
    if PIDFILE_OWNER.load(Ordering::SeqCst) == rustix::process::getpid().as_raw_nonzero().get()
        && let Some(path) = PIDFILE.get()
    {
        let _ = std::fs::remove_file(path);
    }
}

/// SIGHUP changed `changed`, settings only a start applies (see
/// [`crate::config::Config::keep_restart_only`]: the listen address, TLS, the process's
/// shape): the process runs its own program again, with the same command line and the same
/// pid, and so checks, binds and loads everything anew, as a restart would; sessions still
/// open end. procd and systemd keep watching the same process; with `--daemon` the new
/// start forks once more and writes the pidfile again. Returns only if the exec fails (the
/// callers then exit 1, for the init system to start it).
pub(crate) fn restart_in_place(changed: &[&str]) {
    use std::os::unix::ffi::OsStringExt;
    let names: Vec<String> = changed.iter().map(|f| format!("--{f}")).collect();
    log::warn!(
        "SIGHUP: {} changed; starting again to apply it",
        names.join(", ")
    );
    remove_pidfile();
    let args: Vec<std::ffi::CString> = std::env::args_os()
        .filter_map(|a| std::ffi::CString::new(a.into_vec()).ok())
        .collect();
    // The signals this process blocks stay blocked across the exec, and the new start
    // blocks the same ones before it waits for them: none is lost in between. Every socket
    // and file is close-on-exec (std opens them so).
    let e = sys::exec_self(&args);
    log::error!("SIGHUP: starting again: {e}");
}

/// Switches the whole process to the `--run-as` user (no other thread exists yet).
pub(crate) fn drop_to(who: &privsep::Serving) -> Result<(), String> {
    sys::drop_privileges(who.uid, who.gid).map_err(|e| format!("--run-as {}: {e}", who.user))?;
    log::info!("running as {} (uid {}, gid {})", who.user, who.uid, who.gid);
    Ok(())
}

/// Serves clients on `listeners` until a signal ends it. `reloads`: the link to the
/// monitor process under privilege separation, which then does SIGHUP's reading.
pub fn serve(
    cfg: Config,
    listeners: Vec<server::Listener>,
    reloads: Option<std::os::unix::net::UnixStream>,
) -> Result<(), String> {
    let cfg = fit_sessions_to_system(cfg);
    // Files and directories made for clients get exactly the mode --umask (or the
    // account's umask) says; nothing else is created from here on.
    rustix::process::umask(rustix::fs::Mode::empty());
    let server = Server::new(Context::new(cfg));
    server.context().check_homes();
    server::handle_signals(Arc::clone(&server), &listeners, reloads.is_none())
        .map_err(|e| format!("signals: {e}"))?;
    if let Some(link) = reloads {
        privsep::take_reloads(Arc::clone(&server), link).map_err(|e| format!("reloads: {e}"))?;
    }
    server::run(server, listeners);
    Ok(())
}

/// Raises the open-file limit to its hard limit (busybox and procd leave the soft one at
/// 1024, which idle sessions at two files each reached on the 128 MB board before its
/// memory ran short: logins then failed with "530 Home directory unavailable"), and lowers
/// `--max-clients` to what that limit and the machine's threads allow, so a session too
/// many gets 421, not a broken login, an accept() that fails or a router whose other
/// programs can no longer start (a session is a thread, and the kernel sizes
/// kernel.threads-max from the memory: 1,024 on the 128 MB board).
#[inline(never)]
pub(crate) fn fit_sessions_to_system(mut cfg: Config) -> Config {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    // None is no limit at all.
    let below = match (lim.current, lim.maximum) {
        (Some(soft), Some(hard)) => soft < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if below {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            log::warn!("raising the open-file limit: {e}");
        }
    }
    if let Some(files) = getrlimit(Resource::Nofile).current {
        let most = files.saturating_sub(limits::FILES_RESERVED) / limits::FILES_PER_SESSION;
        let why = format!(
            "the open-file limit is {files} ({} a session)",
            limits::FILES_PER_SESSION
        );
        lower_max_clients(&mut cfg, most, &why);
    }
    let threads = std::fs::read_to_string("/proc/sys/kernel/threads-max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(threads) = threads {
        let why =
            format!("the machine has {threads} threads (kernel.threads-max), half for the rest");
        lower_max_clients(&mut cfg, threads / limits::THREADS_SHARE, &why);
    }
    cfg
}

fn lower_max_clients(cfg: &mut Config, most: u64, why: &str) {
    let most = usize::try_from(most.max(limits::FITTED_CLIENTS_MIN)).unwrap_or(usize::MAX);
    if cfg.max_clients > most {
        log::warn!("--max-clients {} lowered to {most}: {why}", cfg.max_clients);
        cfg.max_clients = most;
    }
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

/// uid and gid of `user` from /etc/passwd (read directly: no NSS in a static binary).
fn lookup_user(user: &str) -> Result<(u32, u32), String> {
    let text = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == user {
            let uid = f[2]
                .parse()
                .map_err(|_| format!("/etc/passwd: bad uid for {user}"))?;
            let gid = f[3]
                .parse()
                .map_err(|_| format!("/etc/passwd: bad gid for {user}"))?;
            return Ok((uid, gid));
        }
    }
    Err(format!("--run-as {user}: no such user in /etc/passwd"))
}
