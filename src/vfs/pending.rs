//! Names whose upload is being committed right now, so that another session asking about
//! such a name waits for the commit instead of seeing the moment before it.
//!
//! An atomic upload (STOR) is written under a temporary name and renamed into place only
//! once its data is on the disk ([`super::Target::commit`]), which on a slow USB stick takes
//! a while for a large file. A client whose connections dropped comes straight back and
//! asks SIZE to resume (goftp, FileZilla, lftp's `put -c`): while the commit ran it was
//! told 550 (a new file) or the old size (an overwrite), and resumed from nothing or from
//! the wrong offset. vsftpd and pure-ftpd write to the final name, so the question never
//! came up there.
//!
//! An atomic upload marks its name from its start ([`Uploading`]); [`settle`], which the
//! jail's resolve calls for every final name a command acts on (SIZE, MLST, MDTM, RETR,
//! REST+STOR, APPE, STOR, DELE, RNFR...), waits while that upload is settling: its commit
//! has begun, or its client has closed the control connection (the kernel knows at once,
//! even while the session still drains what was sent), at most
//! [`limits::COMMIT_WAIT_SECS`]. A healthy upload in flight is no reason to wait. Names are
//! kept as the directory's device and inode and the name in it, so two accounts whose
//! homes share a folder see each other's commits. With no upload of the same name in
//! flight (nearly always) a look costs one uncontended lock.

use std::os::fd::{OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limits;

/// A name in a directory: (device, inode) of the directory, and the name.
type Key = (u64, u64, Vec<u8>);

/// An atomic upload in flight.
struct Mark {
    key: Key,
    /// The uploading session's control socket: closed by its client means the upload is
    /// ending with whatever is still in the socket buffers.
    client: RawFd,
    /// Every byte arrived and the commit (sync, rename) has begun.
    committing: bool,
}

impl Mark {
    /// Whether a look at its name waits: while it is committed, or once its client is gone
    /// (the upload then ends within moments, as what was sent is drained). An upload whose
    /// client is still there may last hours: a look at its name is answered at once with
    /// what the disk has, as before it began.
    fn settling(&self) -> bool {
        self.committing || crate::sys::peer_closed(self.client)
    }
}

static MARKS: Mutex<Vec<Mark>> = Mutex::new(Vec::new());

/// How often a look waiting for a name checks again. (A poll, not a Condvar: waits are rare
/// and short, and a timed Condvar wait cost the mipsel binary more than this loop.)
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// The mark of one atomic upload: while it lives, `name` in its directory has an upload in
/// flight.
pub(super) struct Uploading(Option<Key>);

#[allow(clippy::unnecessary_cast)]
fn key(dir: &OwnedFd, name: &[u8]) -> Option<Key> {
    let st = rustix::fs::fstat(dir).ok()?;
    Some((st.st_dev as u64, st.st_ino as u64, name.to_vec()))
}

/// Marks an upload to `name` in `dir` by the session whose control socket is `client`
/// (which outlives the mark: the session drops its upload before it closes). A directory
/// that can't be stat'ed is not marked: nobody could look the name up there either.
pub(super) fn uploading(dir: &OwnedFd, name: &[u8], client: RawFd) -> Uploading {
    let k = key(dir, name);
    if let Some(k) = &k {
        lock().push(Mark {
            key: k.clone(),
            client,
            committing: false,
        });
    }
    Uploading(k)
}

impl Uploading {
    /// Every byte arrived: the commit begins, and looks at the name wait for it.
    pub(super) fn committing(&self) {
        if let Some(k) = &self.0
            && let Some(m) = lock().iter_mut().find(|m| m.key == *k)
        {
            m.committing = true;
        }
    }
}

impl Drop for Uploading {
    fn drop(&mut self) {
        if let Some(k) = self.0.take() {
            let mut marks = lock();
            if let Some(i) = marks.iter().position(|m| m.key == k) {
                marks.swap_remove(i);
            }
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Mark>> {
    MARKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits while an upload of `name` in `dir` is settling (see [`Mark::settling`]), at most
/// [`limits::COMMIT_WAIT_SECS`]; then whatever the disk holds is the answer (and the log
/// says the wait ran out).
pub(super) fn settle(dir: &OwnedFd, name: &[u8]) {
    // Every command on a name comes here: with uploads in flight (a camera's, all day) the
    // directory is stat'ed only for a name one of them has.
    if !lock().iter().any(|m| m.key.2 == name) {
        return;
    }
    let Some(k) = key(dir, name) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(limits::COMMIT_WAIT_SECS);
    while lock().iter().any(|m| m.key == k && m.settling()) {
        if Instant::now() >= deadline {
            log::warn!(
                "an upload to {} is still being committed after {} s; answering with what \
                 the disk has",
                String::from_utf8_lossy(name),
                limits::COMMIT_WAIT_SECS
            );
            return;
        }
        std::thread::sleep(SETTLE_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};
    use std::time::Instant;

    fn tmpdir(tag: &str) -> (std::path::PathBuf, OwnedFd) {
        let p = std::env::temp_dir().join(format!("edgeftpd-pending-{tag}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&p);
        let fd = rustix::fs::open(&p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        (p, fd)
    }

    #[test]
    fn a_look_waits_for_the_commit_of_its_name_only() {
        let (p, dir) = tmpdir("wait");
        let client = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mark = uploading(&dir, b"f.bin", std::os::fd::AsRawFd::as_raw_fd(&client));
        // An upload in flight whose client is there: a look does not wait.
        let t0 = Instant::now();
        settle(&dir, b"f.bin");
        assert!(t0.elapsed() < Duration::from_secs(1));
        mark.committing();
        let t0 = Instant::now();
        // Another name in the same directory does not wait.
        settle(&dir, b"g.bin");
        assert!(t0.elapsed() < Duration::from_secs(1));
        let dir2 = dir.try_clone().unwrap();
        let waiter = std::thread::spawn(move || {
            let t = Instant::now();
            settle(&dir2, b"f.bin");
            t.elapsed()
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(mark);
        let waited = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(limits::COMMIT_WAIT_SECS));
        assert!(lock().iter().all(|m| m.key.2 != b"f.bin"));
        let _ = std::fs::remove_dir_all(p);
    }
}
