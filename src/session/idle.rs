//! Idle sessions without a thread. A logged-in session that has waited
//! [`limits::STACK_TRIM_AFTER_MS`] for its next command hands itself to one watcher thread
//! and its own thread ends; the watcher polls every such session's control connection and,
//! when a command (or the client's close) arrives or the idle timeout passes, gives the
//! session a new thread, which goes on where the old one stopped.
//!
//! Why: on a 64 MB board an idle session with a thread cost about 50 KiB of MemAvailable,
//! nearly all the kernel's (the thread's kernel stack and task, its stack's pages and
//! mappings), against some 5 KiB for the session itself and its socket. A camera or a phone
//! app stays logged in for hours between uploads; idle sessions are most sessions.
//!
//! The session moves whole (its control connection with any TLS state, its jail, its place
//! among its account's sessions and in the server's limits); only a passive port kept open
//! is let go first, as before. The watcher is started by the first session that idles, so
//! it runs under the same system call filter as the sessions. If it can't be started, or
//! the server already has all the threads it may ([`process::threads_full`]), sessions keep
//! their thread, as before; if a new thread can't be made for a session whose client spoke,
//! the client gets 421 and the log says why.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use super::Session;
use crate::reply::{self, Closing};
use crate::{limits, net, process};

/// A session handed over, and when its idle timeout ends.
type Parked = (Box<Session>, Instant);

/// What the sessions see of the watcher: the sessions handed over since it last looked,
/// and the pipe that wakes it.
struct Watcher {
    arrived: Vec<Parked>,
    wake: OwnedFd,
}

/// `None` until the first session idles (and again if the watcher could not be started).
static WATCHER: Mutex<Option<Watcher>> = Mutex::new(None);

/// Hands `s` to the watcher until its client speaks or `until` passes. Gives it back when
/// there is no watcher (none could be started): it then waits on its own thread.
pub(super) fn park(s: Box<Session>, until: Instant) -> Result<(), Box<Session>> {
    let mut w = WATCHER.lock().unwrap_or_else(|p| p.into_inner());
    if w.is_none() {
        match start() {
            Ok(started) => *w = Some(started),
            Err(e) => {
                log::debug!("idle sessions keep their threads: {e}");
                return Err(s);
            }
        }
    }
    let Some(w) = w.as_mut() else {
        return Err(s);
    };
    w.arrived.push((s, until));
    // Non-blocking: a full pipe already holds a wake-up.
    let _ = rustix::io::write(&w.wake, &[1]);
    Ok(())
}

fn start() -> std::io::Result<Watcher> {
    use rustix::pipe::PipeFlags;
    let (read, wake) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    process::spawn("idle", Box::new(move || watch(&read)))?;
    Ok(Watcher {
        arrived: Vec::new(),
        wake,
    })
}

/// The watcher: waits for any parked session's client or its deadline, and resumes it.
fn watch(wake: &OwnedFd) {
    let mut parked: Vec<Parked> = Vec::new();
    loop {
        let soonest = parked.iter().map(|p| p.1).min();
        let timeout = soonest.map(|t| net::timespec(t.saturating_duration_since(Instant::now())));
        let ready: Vec<bool> = {
            let mut fds = Vec::with_capacity(parked.len() + 1);
            fds.push(PollFd::new(wake, PollFlags::IN));
            fds.extend(
                parked
                    .iter()
                    .map(|p| p.0.conn.ctl.stream().poll_fd(PollFlags::IN)),
            );
            if let Err(e) = rustix::event::poll(&mut fds, timeout.as_ref())
                && e != rustix::io::Errno::INTR
            {
                log::error!("idle sessions: poll: {e}");
                std::thread::sleep(Duration::from_millis(limits::ACCEPT_BACKOFF_MS));
            }
            fds.iter().map(|f| !f.revents().is_empty()).collect()
        };
        if ready[0] {
            let _ = rustix::io::read(wake, &mut [0; 64]);
        }
        // No thread to give: the sessions wait (their clients' commands stay queued in the
        // sockets) until the server has one to spare.
        if process::threads_full() {
            std::thread::sleep(Duration::from_millis(limits::ACCEPT_BACKOFF_MS));
        } else {
            let now = Instant::now();
            // From the back: swap_remove moves only entries already looked at.
            for i in (0..parked.len()).rev() {
                let spoke = ready[i + 1];
                if spoke || parked[i].1 <= now {
                    resume(parked.swap_remove(i).0, !spoke);
                }
            }
        }
        let mut w = WATCHER.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = w.as_mut() {
            parked.append(&mut w.arrived);
        }
    }
}

/// Gives `s` a thread again. `expired`: its idle timeout passed with no word from its client.
fn resume(s: Box<Session>, expired: bool) {
    let peer = s.conn.peer;
    // A second handle so the client can be told if the thread can't be made (over FTPS a
    // plain 421 would be garbage to it: it is only closed).
    let stream = s.conn.ctl.stream();
    let spare = (!stream.is_tls())
        .then(|| stream.socket().as_fd().try_clone_to_owned().ok())
        .flatten();
    if let Err(e) = process::spawn("session", Box::new(move || s.serve(expired))) {
        log::error!("{peer}: cannot give an idle session a thread again: {e}");
        if let Some(fd) = spare {
            reply::refuse(&std::net::TcpStream::from(fd), Closing::Busy);
        }
    }
}
