//! Each account's own limits across all its sessions (the users file's `sessions=`, `up=`
//! and `down=`, as pure-pw's `-y`, `-t` and `-T`): how many of its sessions are logged in,
//! and the bandwidth caps they share, on top of the server's. One table for the server,
//! carried over SIGHUP; an account is in it while it has a session. It also says who is
//! logged in now, from where and what each moves ([`Seats::report`], on SIGUSR1, as
//! pure-ftpwho and ftpwho tell).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::auth::UserLimits;
use crate::rate::{Limiter, at_rate};

/// The accounts with sessions now.
#[derive(Default)]
pub struct Seats {
    table: Mutex<Vec<Account>>,
    /// The last session's number.
    last: AtomicU32,
}

struct Account {
    name: String,
    /// Its sessions now.
    sessions: Vec<Who>,
    /// The caps its sessions share.
    up: Option<Arc<Limiter>>,
    down: Option<Arc<Limiter>>,
}

/// A logged-in session, as [`Seats::report`] tells it.
struct Who {
    id: u32,
    peer: IpAddr,
    since: Instant,
    /// The transfer in flight (`STOR /cam/a.jpg`), or empty.
    doing: Vec<u8>,
}

/// A logged-in session's place in its account's limits; given back when dropped.
pub struct Seat {
    seats: Arc<Seats>,
    name: String,
    id: u32,
    /// The account's caps (all its sessions take from the same ones).
    pub up: Option<Arc<Limiter>>,
    pub down: Option<Arc<Limiter>>,
}

impl Seats {
    fn lock(&self) -> MutexGuard<'_, Vec<Account>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A seat for a session of `name` from `peer` under `limits`; Err with the sessions
    /// it has when `sessions=` are open already.
    pub fn take(
        self: &Arc<Self>,
        name: &str,
        peer: IpAddr,
        limits: &UserLimits,
    ) -> Result<Seat, usize> {
        let id = self.last.fetch_add(1, Ordering::Relaxed);
        let mut t = self.lock();
        let i = match t.iter().position(|a| a.name == name) {
            Some(i) => i,
            None => {
                t.push(Account {
                    name: name.to_string(),
                    sessions: Vec::new(),
                    up: None,
                    down: None,
                });
                t.len() - 1
            }
        };
        let a = &mut t[i];
        if limits.sessions.is_some_and(|max| a.sessions.len() >= max) {
            return Err(a.sessions.len());
        }
        a.sessions.push(Who {
            id,
            peer,
            since: Instant::now(),
            doing: Vec::new(),
        });
        // (A reload that changed a rate gives the sessions from then on a new cap.)
        a.up = at_rate(a.up.as_ref(), limits.up);
        a.down = at_rate(a.down.as_ref(), limits.down);
        Ok(Seat {
            seats: Arc::clone(self),
            name: name.to_string(),
            id,
            up: a.up.clone(),
            down: a.down.clone(),
        })
    }

    /// SIGUSR1: logs who is logged in now, from where, since when and what each moves, a
    /// line each, then how many (the line that ends a report).
    pub fn report(&self) {
        let t = self.lock();
        let mut n = 0;
        for a in t.iter() {
            for w in &a.sessions {
                n += 1;
                let doing = if w.doing.is_empty() {
                    b"idle"
                } else {
                    &w.doing[..]
                };
                log::info!(
                    "session: {} from {}, logged in {} s ago, {}",
                    a.name,
                    w.peer,
                    w.since.elapsed().as_secs(),
                    super::display(doing)
                );
            }
        }
        log::info!("sessions: {n} logged in");
    }

    /// Sets what session `id` moves now (empty: nothing).
    fn set(&self, id: u32, doing: Vec<u8>) {
        for a in self.lock().iter_mut() {
            for w in &mut a.sessions {
                if w.id == id {
                    w.doing = doing;
                    return;
                }
            }
        }
    }
}

impl Seat {
    /// The transfer this session runs until the guard is dropped: `verb` and the path, as
    /// [`Seats::report`] tells it.
    pub fn doing(&self, verb: &str, path: &[u8]) -> Doing<'_> {
        let mut doing = verb.as_bytes().to_vec();
        doing.push(b' ');
        doing.extend_from_slice(path);
        self.seats.set(self.id, doing);
        Doing(self)
    }
}

/// A transfer [`Seats::report`] tells of; over when dropped.
pub struct Doing<'a>(&'a Seat);

impl Drop for Doing<'_> {
    fn drop(&mut self) {
        self.0.seats.set(self.0.id, Vec::new());
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut t = self.seats.lock();
        if let Some(i) = t.iter().position(|a| a.name == self.name) {
            t[i].sessions.retain(|w| w.id != self.id);
            if t[i].sessions.is_empty() {
                t.swap_remove(i);
            }
        }
    }
}
