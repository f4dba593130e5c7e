//! Each account's own limits across all its sessions (the users file's `sessions=`, `up=`
//! and `down=`, as pure-pw's `-y`, `-t` and `-T`): how many of its sessions are logged in,
//! and the bandwidth caps they share, on top of the server's. One table for the server,
//! carried over SIGHUP; an account is in it while it has a session.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::auth::UserLimits;
use crate::rate::Limiter;

/// The accounts with sessions now.
#[derive(Default)]
pub struct Seats {
    table: Mutex<Vec<Account>>,
}

struct Account {
    name: String,
    sessions: usize,
    /// Each cap with the rate it was made for.
    up: Option<(u64, Arc<Limiter>)>,
    down: Option<(u64, Arc<Limiter>)>,
}

/// A logged-in session's place in its account's limits; given back when dropped.
pub struct Seat {
    seats: Arc<Seats>,
    name: String,
    /// The account's caps (all its sessions take from the same ones).
    pub up: Option<Arc<Limiter>>,
    pub down: Option<Arc<Limiter>>,
}

/// The account's cap at `rate`: the one its sessions share, or a new one when there is
/// none yet or a reload changed the rate.
fn cap(slot: &mut Option<(u64, Arc<Limiter>)>, rate: Option<u64>) -> Option<Arc<Limiter>> {
    match (rate, &*slot) {
        (None, _) => None,
        (Some(r), Some((had, l))) if *had == r => Some(Arc::clone(l)),
        (Some(r), _) => {
            let l = Arc::new(Limiter::new(r));
            *slot = Some((r, Arc::clone(&l)));
            Some(l)
        }
    }
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
        Ok(Seat {
            seats: Arc::clone(self),
            name: name.to_string(),
            up: cap(&mut a.up, limits.up),
            down: cap(&mut a.down, limits.down),
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
