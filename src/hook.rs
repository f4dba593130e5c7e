//! `--on-upload PROGRAM`: after each completed upload, PROGRAM runs with the file's path as
//! its argument and the upload's facts in its environment (pure-ftpd's uploadscript,
//! proftpd's mod_exec). Never through a shell: nothing a client names is ever parsed as a
//! command.
//!
//! The session queues the run and goes on at once: the 226 is already sent, and the next
//! command does not wait. [`limits::HOOKS_AT_ONCE`] workers run the queue, each run bounded
//! by `--on-upload-timeout` (then killed); at most [`limits::HOOK_QUEUE`] runs wait, and an
//! upload past that is logged and gets no run. Every failure (cannot start, exit status,
//! signal, timeout) is logged and changes nothing else. The workers start with the server
//! or the reload that sets `--on-upload` ([`start`]), so a server without it pays nothing.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::limits;

/// One run of the upload hook.
pub struct Run {
    pub program: PathBuf,
    /// The file on the disk (the program's one argument).
    pub file: PathBuf,
    pub timeout: Duration,
    /// The umask the program starts with (the uploader's).
    pub umask: u32,
    /// `EDGEFTPD_*` variables: the user, the client's address, the path as the client sees
    /// it, the size.
    pub env: Vec<(&'static str, String)>,
}

/// The runs waiting, and the signal to the workers that one came. (A Mutex and a Condvar
/// in statics: std's channels cost the mipsel binary 20 KiB (8 KiB gzip) more.)
static RUNS: Mutex<VecDeque<Run>> = Mutex::new(VecDeque::new());
static ARRIVED: Condvar = Condvar::new();
/// Whether the workers were started (by the first upload).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Starts the workers, once. The server starts them before the system call filter
/// (`sandbox.rs`), which would keep their forks and execs from them, when `--on-upload`
/// is set at start or by a reload; a session's first upload starts them otherwise.
pub fn start() {
    if !STARTED.swap(true, Ordering::SeqCst) {
        start_workers();
    }
}

/// Queues `run`; never blocks.
pub fn queue(run: Run) {
    start();
    let mut runs = RUNS.lock().unwrap_or_else(|p| p.into_inner());
    if runs.len() >= limits::HOOK_QUEUE {
        log::warn!(
            "--on-upload: {} runs wait already (limits::HOOK_QUEUE); none for {}",
            limits::HOOK_QUEUE,
            run.file.display()
        );
        return;
    }
    runs.push_back(run);
    ARRIVED.notify_one();
}

fn start_workers() {
    for i in 0..limits::HOOKS_AT_ONCE {
        let started = crate::process::spawn("on-upload", Box::new(work));
        if let Err(e) = started {
            log::error!("--on-upload: cannot start worker {i}: {e}");
        }
    }
}

fn work() {
    loop {
        let run = {
            let mut runs = RUNS.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                match runs.pop_front() {
                    Some(run) => break run,
                    None => runs = ARRIVED.wait(runs).unwrap_or_else(|p| p.into_inner()),
                }
            }
        };
        execute(&run);
    }
}

/// Runs one hook to its end or its timeout, and logs how it went.
fn execute(run: &Run) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let shown = format!(
        "--on-upload {} {}",
        run.program.display(),
        run.file.display()
    );
    let c = |b: &[u8]| CString::new(b).map_err(|_| "a NUL byte in it".to_string());
    let args = c(run.program.as_os_str().as_bytes()).and_then(|p| {
        let a = c(run.file.as_os_str().as_bytes())?;
        let mut env = vec![c(b"PATH=/usr/sbin:/usr/bin:/sbin:/bin")?];
        for (k, v) in &run.env {
            env.push(c(format!("{k}={v}").as_bytes())?);
        }
        Ok((p, a, env))
    });
    let spawned = args.and_then(|(p, a, env)| {
        crate::sys::spawn(&p, &a, &env, run.umask).map_err(|e| e.to_string())
    });
    let pid = match spawned {
        Ok(pid) => pid,
        Err(e) => {
            log::error!("{shown}: cannot start: {e}");
            return;
        }
    };
    use rustix::process::{Signal, WaitOptions, kill_process, waitpid};
    let deadline = Instant::now() + run.timeout;
    loop {
        match waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(Some((_, st))) if st.exit_status() == Some(0) => {
                log::debug!("{shown}: done");
                return;
            }
            Ok(Some((_, st))) => {
                log::warn!("{shown}: failed ({})", exit_text(st));
                return;
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = kill_process(pid, Signal::KILL);
                let _ = waitpid(Some(pid), WaitOptions::empty());
                log::warn!(
                    "{shown}: still running after {} s (--on-upload-timeout); killed",
                    run.timeout.as_secs()
                );
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(limits::HOOK_POLL_MS)),
            Err(e) => {
                log::error!("{shown}: {e}");
                return;
            }
        }
    }
}

/// `exit status 3` or `signal 9` (not `{:?}`: the router builds have no Debug formatting).
fn exit_text(st: rustix::process::WaitStatus) -> String {
    match (st.exit_status(), st.terminating_signal()) {
        (Some(127), _) => "exit status 127: it could not be run".into(),
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}
