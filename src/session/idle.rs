//! Idle sessions without a thread. A logged-in session that has waited
//! [`limits::STACK_TRIM_AFTER_MS`] for its next command hands itself over and its thread
//! ends; the accept loop, which waits on its listeners anyway, waits on these sessions'
//! control connections too ([`Idle`]) and, when a command (or the client's close) arrives
//! or the idle timeout passes, gives the session a new thread, which goes on where the old
//! one stopped.
//!
//! Why: on a 64 MB board an idle session with a thread cost about 50 KiB of MemAvailable,
//! nearly all the kernel's (the thread's kernel stack and task, its stack's pages and
//! mappings), against some 5 KiB for the session itself and its socket. A camera or a phone
//! app stays logged in for hours between uploads; idle sessions are most sessions.
//!
//! The session moves whole (its control connection with any TLS state, its jail, its place
//! among its account's sessions and in the server's limits); only a passive port kept open
//! is let go first, as before. Without an accept loop (`--inetd`), or while the server has
//! all the threads it may ([`process::threads_full`]: the session then stays handed over
//! until one is free), sessions keep or wait for a thread; if a new thread can't be made for
//! a session whose client spoke, the session ends and the log says why.

use std::os::fd::OwnedFd;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use super::Session;
use crate::{limits, process};

/// A session handed over, and when its idle timeout ends.
type Parked = (Box<Session>, Instant);

/// The sessions handed over since the accept loop last looked.
static ARRIVED: Mutex<Vec<Parked>> = Mutex::new(Vec::new());
/// The pipe that wakes the accept loop for them: set by [`Idle::new`].
static WAKE: OnceLock<OwnedFd> = OnceLock::new();

/// Hands `s` over until its client speaks or `until` passes. Gives it back when no accept
/// loop takes sessions (`--inetd`): it then waits on its own thread.
pub(super) fn park(s: Box<Session>, until: Instant) -> Result<(), Box<Session>> {
    let Some(wake) = WAKE.get() else {
        return Err(s);
    };
    ARRIVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((s, until));
    // Non-blocking: a full pipe already holds a wake-up.
    let _ = rustix::io::write(wake, &[1]);
    Ok(())
}

/// The idle sessions, as the accept loop holds them.
pub struct Idle {
    parked: Vec<Parked>,
    /// The read end of [`WAKE`].
    woken: OwnedFd,
}

impl Idle {
    /// The pipe that wakes the accept loop, made at start.
    pub fn new() -> Result<Idle, String> {
        use rustix::pipe::PipeFlags;
        let (woken, wake) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
            .map_err(|e| format!("pipe: {e}"))?;
        let _ = WAKE.set(wake);
        Ok(Idle {
            parked: Vec::new(),
            woken,
        })
    }

    /// Adds what to wait for to `fds` (the wake-up pipe, then each session's control
    /// connection) and returns how long until the first idle timeout ends.
    pub fn watch<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) -> Option<Duration> {
        fds.push(PollFd::new(&self.woken, PollFlags::IN));
        let mut soonest: Option<Instant> = None;
        for (s, until) in &self.parked {
            fds.push(s.conn.ctl.stream().poll_fd(PollFlags::IN));
            if soonest.is_none_or(|t| *until < t) {
                soonest = Some(*until);
            }
        }
        soonest.map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// After the wait: resumes the sessions whose clients spoke (`ready`, in the order of
    /// [`Idle::watch`]) or whose timeout passed, and takes the sessions handed over since.
    pub fn tend(&mut self, ready: &[bool]) {
        if ready.first() == Some(&true) {
            let _ = rustix::io::read(&self.woken, &mut [0; 64]);
        }
        // No thread to give: the sessions wait (their clients' commands stay queued in the
        // sockets) until the server has one to spare; the loop looks again a little later.
        if process::threads_full() {
            std::thread::sleep(Duration::from_millis(limits::ACCEPT_BACKOFF_MS));
        } else {
            let now = Instant::now();
            // From the back: swap_remove moves only entries already looked at.
            for i in (0..self.parked.len()).rev() {
                let spoke = ready.get(i + 1) == Some(&true);
                if spoke || self.parked[i].1 <= now {
                    resume(self.parked.swap_remove(i).0, !spoke);
                }
            }
        }
        let mut arrived = ARRIVED.lock().unwrap_or_else(|p| p.into_inner());
        self.parked.append(&mut arrived);
    }
}

/// Gives `s` a thread again. `expired`: its idle timeout passed with no word from its client.
/// If none can be made the session ends there (its client sees the connection close).
fn resume(s: Box<Session>, expired: bool) {
    let peer = s.conn.peer;
    if let Err(e) = process::spawn("session", Box::new(move || s.serve(expired))) {
        log::error!("{peer}: cannot give an idle session a thread again: {e}");
    }
}
