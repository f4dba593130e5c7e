//! What every session gets from the server ([`Context`]): the configuration, the users
//! file as it is now, the disks its folders are on, what PASV advertises, the bans, the
//! shared rate limit, the accounts' seats and FTPS; and the count of transfers in flight.
//! Also what the server checks of the folders it serves at start and reload
//! ([`home_problems`]).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::auth::Users;
use crate::bans::Bans;
use crate::config::Config;
use crate::pasvaddr::PasvAddress;
use crate::rate::Limiter;
use crate::vfs::{Disks, Jail};

use super::seats;

/// Each home (and the anonymous root) this process's user cannot enter and read, or write
/// where the account may write, as a line naming it, the user and the errno.
pub fn home_problems(cfg: &Config, users: Option<&Users>) -> Vec<String> {
    use rustix::fs::{Access, access};
    let mut out = Vec::new();
    let mut check = |who: &str, dir: &std::path::Path, writable: bool| {
        let mut need = Access::READ_OK | Access::EXEC_OK;
        if writable {
            need |= Access::WRITE_OK;
        }
        if let Err(e) = access(dir, need) {
            let uid = rustix::process::getuid().as_raw();
            let what = if writable {
                "enter, read and write"
            } else {
                "enter and read"
            };
            out.push(format!(
                "{who}: {}: this server (uid {uid}) cannot {what} it ({})",
                dir.display(),
                io::Error::from(e)
            ));
        }
    };
    if cfg.anonymous {
        check(
            "--root (anonymous)",
            &cfg.root,
            cfg.anon_rights.writes_somewhere(),
        );
    }
    for u in users.iter().flat_map(|u| u.iter()).filter(|u| !u.locked()) {
        check(
            &format!("user {}: home", u.name),
            &u.home,
            u.rights.writes_somewhere(),
        );
    }
    out
}

/// What every session gets from the server: the configuration, the users file as it is now,
/// the disks its folders are on, and the count of transfers in flight (shutdown waits for
/// them).
///
/// SIGHUP makes a new context from the configuration read again ([`Context::reloaded`]):
/// new sessions get it, sessions already open keep the one they started with, and both
/// share the users (a new login uses the newest), the ban table and the transfer count.
pub struct Context {
    pub cfg: Config,
    users: Arc<Mutex<Option<Arc<Users>>>>,
    /// The disks of the anonymous root and the homes, as noted at start-up and reloads.
    pub disks: Arc<Disks>,
    transfers: Arc<AtomicUsize>,
    /// What PASV replies advertise to whom.
    pub pasv: PasvAddress,
    /// Failed logins by address; the server refuses banned ones.
    pub bans: Bans,
    /// `--total-max-rate`, shared by every transfer.
    pub total_rate: Option<Arc<Limiter>>,
    /// Each account's sessions and caps (`sessions=`, `up=`, `down=`).
    pub(super) seats: Arc<seats::Seats>,
    /// FTPS, when a certificate is configured.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::Tls>,
}

/// Notes the disks of the folders `cfg` serves: the anonymous root and every home.
fn note_disks(disks: &Disks, cfg: &Config) {
    let anon = cfg.anonymous.then_some(cfg.root.as_path());
    let homes = cfg
        .users
        .iter()
        .flat_map(|u| u.iter())
        .map(|u| u.home.as_path());
    disks.note(anon.into_iter().chain(homes));
}

impl Context {
    pub fn new(mut cfg: Config) -> Context {
        let disks = Arc::new(Disks::default());
        note_disks(&disks, &cfg);
        let users = cfg.users.take().map(Arc::new);
        let pasv = PasvAddress::new(cfg.pasv_address.as_ref(), cfg.pasv_local_nets.clone());
        Context {
            #[cfg(feature = "tls")]
            tls: cfg.tls.certs.clone().map(crate::tls::Tls::new),
            bans: Bans::new(cfg.bans.clone()),
            total_rate: cfg.total_max_rate.map(|r| Arc::new(Limiter::new(r))),
            cfg,
            users: Arc::new(Mutex::new(users)),
            disks,
            transfers: Arc::new(AtomicUsize::new(0)),
            pasv,
            seats: Arc::default(),
        }
    }

    /// The context after a reload read `cfg` (which keeps this one's listeners and TLS
    /// settings: `config::reload`). Its users replace the ones loaded before,
    /// for the sessions already open too; the ban table and the transfers carry over. A
    /// new anonymous root must open, as at start-up.
    pub fn reloaded(&self, mut cfg: Config) -> std::result::Result<Context, String> {
        if cfg.anonymous && cfg.root.as_os_str() != self.cfg.root.as_os_str() {
            Jail::open(&cfg.root).map_err(|e| format!("--root {}: {e}", cfg.root.display()))?;
        }
        note_disks(&self.disks, &cfg);
        if let Some(users) = cfg.users.take() {
            self.set_users(users);
        } else {
            *self.users.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        Ok(Context {
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
            bans: self.bans.with_rules(cfg.bans.clone()),
            total_rate: crate::rate::at_rate(self.total_rate.as_ref(), cfg.total_max_rate),
            pasv: PasvAddress::new(cfg.pasv_address.as_ref(), cfg.pasv_local_nets.clone()),
            cfg,
            users: Arc::clone(&self.users),
            disks: Arc::clone(&self.disks),
            transfers: Arc::clone(&self.transfers),
            seats: Arc::clone(&self.seats),
        })
    }

    /// The users file now. A login decides on one version of it from start to end.
    pub fn users(&self) -> Option<Arc<Users>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `users` in place for new logins; returns how many accounts it has.
    fn set_users(&self, users: Users) -> usize {
        let n = users.iter().count();
        *self.users.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(users));
        n
    }

    /// Warns about each home (and the anonymous root) that this process's user cannot
    /// enter and read, or cannot write where the account may write: under `--run-as` every
    /// login of such an account would otherwise fail with no line in the log. At start-up
    /// and after each reload of the users file.
    pub fn check_homes(&self) {
        for problem in home_problems(&self.cfg, self.users().as_deref()) {
            log::warn!("{problem}; its logins will fail or be read-only");
        }
    }

    /// Marks a transfer in flight until the guard is dropped.
    pub fn transfer_started(&self) -> TransferGuard<'_> {
        self.transfers.fetch_add(1, Ordering::SeqCst);
        TransferGuard(self)
    }

    /// Transfers in flight now.
    pub fn transfers(&self) -> usize {
        self.transfers.load(Ordering::SeqCst)
    }

    /// SIGUSR1: logs who is logged in, from where and what each moves.
    pub fn report_sessions(&self) {
        self.seats.report();
    }
}

/// A transfer in flight; counted until dropped, even if the session panics.
pub struct TransferGuard<'a>(&'a Context);

impl Drop for TransferGuard<'_> {
    fn drop(&mut self) {
        self.0.transfers.fetch_sub(1, Ordering::SeqCst);
    }
}
