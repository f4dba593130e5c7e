//! Each account's own limits across all its sessions (the users file's `sessions=`, `up=`
//! and `down=`, as pure-pw's `-y`, `-t` and `-T`): how many of its sessions are logged in,
//! and the bandwidth caps they share, on top of the server's. One table for the server,
//! carried over SIGHUP; an account is in it while it has a session.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::auth::UserLimits;
use crate::rate::{Limiter, at_rate};

/// The accounts with sessions now.
#[derive(Default)]
pub struct Seats {
    table: Mutex<Vec<Account>>,
}

struct Account {
    name: String,
    sessions: usize,
    /// The caps its sessions share.
    up: Option<Arc<Limiter>>,
    down: Option<Arc<Limiter>>,
}

/// A logged-in session's place in its account's limits; given back when dropped.
pub struct Seat {
    seats: Arc<Seats>,
    name: String,
    /// The account's caps (all its sessions take from the same ones).
    pub up: Option<Arc<Limiter>>,
    pub down: Option<Arc<Limiter>>,
}

impl Seats {
    fn lock(&self) -> MutexGuard<'_, Vec<Account>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A seat for a session of `name` under `limits`; Err with the sessions it has when
    /// `sessions=` are open already.
    pub fn take(self: &Arc<Self>, name: &str, limits: &UserLimits) -> Result<Seat, usize> {
        let mut t = self.lock();
        let i = match t.iter().position(|a| a.name == name) {
            Some(i) => i,
            None => {
                t.push(Account {
                    name: name.to_string(),
                    sessions: 0,
                    up: None,
                    down: None,
                });
                t.len() - 1
            }
        };
        let a = &mut t[i];
        if limits.sessions.is_some_and(|max| a.sessions >= max) {
            return Err(a.sessions);
        }
        a.sessions += 1;
        // (A reload that changed a rate gives the sessions from then on a new cap.)
        a.up = at_rate(a.up.as_ref(), limits.up);
        a.down = at_rate(a.down.as_ref(), limits.down);
        Ok(Seat {
            seats: Arc::clone(self),
            name: name.to_string(),
            up: a.up.clone(),
            down: a.down.clone(),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut t = self.seats.lock();
        if let Some(i) = t.iter().position(|a| a.name == self.name) {
            t[i].sessions -= 1;
            if t[i].sessions == 0 {
                t.swap_remove(i);
            }
        }
    }
}
