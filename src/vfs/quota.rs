//! Per-account quotas (pure-ftpd's `-n`, proftpd's mod_quotatab): the most bytes and files
//! a home may hold (`quota=2G`, `files=10000` in the users file's perm field).
//!
//! The usage is not found by walking the tree at every login: as with pure-ftpd, each home
//! keeps it in a file of its own, `.ftpquota` (`FILES BYTES`, pure-ftpd's format), read at
//! the first login of the server's life, counted afresh by one bounded walk when it is
//! missing or unreadable (deleting it makes the next start count again: for files changed
//! by other programs), and written after each change. All sessions of a home share one
//! count in memory ([`Usage`]): an upload is refused (552) when the home is full, and stops
//! (552, nothing kept) when it would fill it; sessions uploading at once each see the room
//! left when they started, so together they overshoot by at most their one file each.
//! Deletes and overwrites give the space back. Clients can't read, replace or delete
//! `.ftpquota` (SECURITY: see [`Jail::check`]). A home's count lives while a session of it
//! does: with none, nothing of it is held open (the USB disk can be unmounted), and the next
//! login reads `.ftpquota` again (from the disk mounted now).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{Jail, TEMP_PREFIX};

/// The file that holds a home's usage.
pub const QUOTA_FILE: &[u8] = b".ftpquota";

/// An account's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

/// What a home holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    files: u64,
    bytes: u64,
}

/// A home's usage, shared by its sessions, and its limits.
#[derive(Debug)]
pub struct Usage {
    home: PathBuf,
    /// The home's root, where `.ftpquota` is written.
    root: OwnedFd,
    counts: Mutex<Counts>,
    pub limits: Quota,
}

/// The usage of every home with a quota that a session uses now, loaded once each.
static HOMES: Mutex<Vec<Weak<Usage>>> = Mutex::new(Vec::new());

impl Usage {
    /// The usage of `home` (opened as `jail`), under `limits`: the one already loaded, else
    /// from its `.ftpquota`, else counted.
    pub fn of(home: &Path, jail: &Jail, limits: Quota) -> io::Result<Arc<Usage>> {
        let mut homes = HOMES.lock().unwrap_or_else(|p| p.into_inner());
        // (Paths compared as bytes: Path's == walks components, code the router pays for.)
        let same = |u: &Usage| u.home.as_os_str() == home.as_os_str();
        homes.retain(|u| u.strong_count() > 0);
        if let Some(u) = homes
            .iter()
            .filter_map(Weak::upgrade)
            .find(|u| same(u) && u.limits == limits)
        {
            return Ok(u);
        }
        let counts = match read(&jail.root) {
            Some(c) => c,
            None => {
                let c = count(&jail.root);
                log::info!(
                    "quota: {}: {} files, {} bytes (counted; written to {})",
                    home.display(),
                    c.files,
                    c.bytes,
                    String::from_utf8_lossy(QUOTA_FILE)
                );
                write(&jail.root, c);
                c
            }
        };
        homes.retain(|u| u.upgrade().is_none_or(|u| !same(&u)));
        let u = Arc::new(Usage {
            home: home.to_path_buf(),
            root: jail.root.try_clone()?,
            counts: Mutex::new(counts),
            limits,
        });
        homes.push(Arc::downgrade(&u));
        Ok(u)
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes an upload may still write, replacing `old` bytes (None: no byte limit); an
    /// error (552) when a new file would be one too many or the home is full.
    pub fn room(&self, old: Option<u64>) -> io::Result<Option<u64>> {
        let c = *self.lock();
        if old.is_none() && self.limits.files.is_some_and(|f| c.files >= f) {
            return Err(over(format!(
                "{} files, the quota is {}",
                c.files,
                self.limits.files.unwrap_or(0)
            )));
        }
        match self.limits.bytes {
            None => Ok(None),
            Some(b) => {
                let room = (b + old.unwrap_or(0)).saturating_sub(c.bytes);
                if room == 0 {
                    return Err(over(format!("{} bytes, the quota is {b}", c.bytes)));
                }
                Ok(Some(room))
            }
        }
    }

    /// A file of `old` bytes (None: none) became one of `new` bytes (None: removed).
    pub fn changed(&self, old: Option<u64>, new: Option<u64>) {
        let c = {
            let mut c = self.lock();
            c.files = (c.files + u64::from(new.is_some())).saturating_sub(u64::from(old.is_some()));
            c.bytes = (c.bytes + new.unwrap_or(0)).saturating_sub(old.unwrap_or(0));
            *c
        };
        write(&self.root, c);
    }
}

/// Over quota: 552 for the client, the figures in the log.
fn over(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::QuotaExceeded, format!("over quota: {why}"))
}

fn read(root: &OwnedFd) -> Option<Counts> {
    let name = std::ffi::CString::new(QUOTA_FILE).ok()?;
    let fd = rustix::fs::openat(
        root,
        &name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    Some(Counts {
        files: it.next()??,
        bytes: it.next()??,
    })
}

fn write(root: &OwnedFd, c: Counts) {
    let Ok(name) = std::ffi::CString::new(QUOTA_FILE) else {
        return;
    };
    let flags =
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let res = rustix::fs::openat(root, &name, flags, Mode::from_bits_truncate(0o600))
        .and_then(|fd| rustix::io::write(&fd, format!("{} {}\n", c.files, c.bytes).as_bytes()));
    if let Err(e) = res {
        log::warn!(
            "quota: writing {}: {e}",
            String::from_utf8_lossy(QUOTA_FILE)
        );
    }
}

/// Counts the regular files below `root` and their bytes (ours: temporary uploads and the
/// quota file, left out), [`limits::SWEEP_DEPTH`] deep at most.
fn count(root: &OwnedFd) -> Counts {
    let mut c = Counts::default();
    super::walk_tree(root, &mut |dir, name, kind, depth| {
        let n = name.to_bytes();
        if kind != FileType::RegularFile
            || n.starts_with(TEMP_PREFIX)
            || (depth == 0 && n == QUOTA_FILE)
        {
            return;
        }
        if let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            c.files += 1;
            c.bytes += st.st_size.max(0) as u64;
        }
    });
    c
}
