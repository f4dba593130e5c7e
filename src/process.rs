//! The process itself, apart from the clients it serves: its name, the `--run-as` user it
//! becomes, `--daemon` and `--pidfile`, and starting again in place when SIGHUP changed a
//! setting only a start applies. Start-up (`start.rs`), the accept loop's signal thread
//! (`server.rs`) and the monitor of privilege separation (`privsep.rs`) all come here; this
//! module knows nothing of them, nor of the configuration.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::{limits, sys};

/// The user the server runs as (`--run-as`).
pub struct RunAs {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
}

/// After a restart in place the kernel names the process after the file it executed,
/// `/proc/self/exe`: `exe` to `ps`, `top`, `pidof` and `ps -C edgeftpd`. At every start the
/// process names itself as the kernel does at an ordinary one: the last part of argv[0],
/// 15 bytes at most.
pub fn keep_name() {
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

/// `--daemon`: everything that can fail at start-up has been checked and the listeners are
/// bound, so the process the init script started may now exit 0 and leave a child serving
/// in the background: a new session with no terminal, stdin, stdout and stderr on
/// /dev/null (logging goes to syslog). The pid file names the child.
pub fn daemonize(pidfile: Option<&std::path::Path>) -> Result<(), String> {
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
pub fn write_pidfile(path: &std::path::Path, pid: rustix::process::Pid) -> Result<(), String> {
    let aside = path.with_extension("pid-new");
    std::fs::write(&aside, format!("{}\n", pid.as_raw_nonzero()))
        .and_then(|()| std::fs::rename(&aside, path))
        .map_err(|e| format!("--pidfile {}: {e}", path.display()))?;
    let _ = PIDFILE.set(path.to_path_buf());
    PIDFILE_OWNER.store(pid.as_raw_nonzero().get(), Ordering::SeqCst);
    Ok(())
}

/// Removes the `--pidfile` at exit, when this process wrote it (or was named in it).
pub fn remove_pidfile() {
    if PIDFILE_OWNER.load(Ordering::SeqCst) == rustix::process::getpid().as_raw_nonzero().get()
        && let Some(path) = PIDFILE.get()
    {
        let _ = std::fs::remove_file(path);
    }
}

/// SIGHUP changed `changed`, settings only a start applies (see
/// `config::reload`: the listen address, TLS, the process's
/// shape): the process runs its own program again, with the same command line and the same
/// pid, and so checks, binds and loads everything anew, as a restart would; sessions still
/// open end. procd and systemd keep watching the same process; with `--daemon` the new
/// start forks once more and writes the pidfile again. Returns only if the exec fails (the
/// callers then exit 1, for the init system to start it).
pub fn restart_in_place(changed: &[&str]) {
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
pub fn drop_to(who: &RunAs) -> Result<(), String> {
    sys::drop_privileges(who.uid, who.gid).map_err(|e| format!("--run-as {}: {e}", who.user))?;
    log::info!("running as {} (uid {}, gid {})", who.user, who.uid, who.gid);
    Ok(())
}

impl RunAs {
    /// `--run-as USER`: its uid and gid from /etc/passwd (read directly: no NSS in a static
    /// binary).
    pub fn lookup(user: &str) -> Result<RunAs, String> {
        let text =
            std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4 && f[0] == user {
                let uid = f[2]
                    .parse()
                    .map_err(|_| format!("/etc/passwd: bad uid for {user}"))?;
                let gid = f[3]
                    .parse()
                    .map_err(|_| format!("/etc/passwd: bad gid for {user}"))?;
                return Ok(RunAs {
                    user: user.to_string(),
                    uid,
                    gid,
                });
            }
        }
        Err(format!("--run-as {user}: no such user in /etc/passwd"))
    }
}

/// The server's threads alive now: [`spawn`] counts them.
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// The most threads the sessions may take ([`set_thread_room`]; 0: no bound known).
static THREAD_ROOM: AtomicUsize = AtomicUsize::new(0);

/// Starts one of the server's threads: named `name`, on a stack of
/// [`limits::SESSION_STACK`]. Every thread goes through here (the sessions, the signals,
/// the reloads, the upload hook's workers, the passive name's lookup, the idle sessions
/// resumed): each closure type spawned on its own costs some 2 KiB of code on mipsel, one
/// boxed closure type costs that once. Counted while it lives ([`threads_full`]).
pub fn spawn(name: &str, f: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            THREADS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    THREADS.fetch_add(1, Ordering::SeqCst);
    // Dropped when the thread ends, or with the closure when it can't be made.
    let counted = Counted;
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(limits::SESSION_STACK)
        .spawn(move || {
            let _counted = counted;
            f();
        })
        .map(drop)
}

/// Bounds the threads the server may have alive (kernel.threads-max is the machine's, for
/// every program on it: see `memory::fit_sessions`).
pub fn set_thread_room(most: usize) {
    THREAD_ROOM.store(most, Ordering::SeqCst);
}

/// Whether the server has as many threads alive as it may: a new session waits or is
/// refused (421) rather than take the last threads the rest of the router needs.
pub fn threads_full() -> bool {
    let room = THREAD_ROOM.load(Ordering::SeqCst);
    room != 0 && THREADS.load(Ordering::SeqCst) >= room
}
