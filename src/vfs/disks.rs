//! The disks the served folders are on: a folder whose disk is not mounted any more is
//! never served in its place.
//!
//! Nothing of a disk is held while no session is in it (every login opens its root anew),
//! so a USB disk can be unmounted while the server runs, and mounted again. In between, the
//! mount point is an empty folder of the router's own flash (or RAM): served, a camera's
//! uploads would fill the flash, and the files would vanish under the disk when it came
//! back. So the server notes, for each folder it serves (the anonymous root and each home,
//! at start-up and at each reload), the mount point of the disk it is on then; a login
//! whose folder's mount point is no longer a mount point is refused (530, with the reason
//! in the log), until the disk is back. A folder on the root file system at start-up has
//! nothing to lose and is not watched. (A disk that is not there at start-up is the init
//! script's to wait for: procd's mount trigger, the busybox script's fstab check.)

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::Jail;

/// Served folders and the mount points their disks had when they were noted.
#[derive(Default)]
pub struct Disks(Mutex<Vec<(PathBuf, PathBuf)>>);

/// The device a path is on (the empty path, where a relative one's ancestors end, is `.`).
#[allow(clippy::unnecessary_cast)]
fn dev(p: &Path) -> Option<u64> {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    rustix::fs::stat(p).ok().map(|st| st.st_dev as u64)
}

/// The mount point of the file system `dir` is on (the highest ancestor on the same
/// device), or None for the root file system, a folder that is not there, or a relative
/// path on the file system of the working directory.
fn mount_point(dir: &Path) -> Option<PathBuf> {
    let d = dev(dir)?;
    let mut top = dir;
    for up in dir.ancestors().skip(1) {
        if dev(up) != Some(d) {
            break;
        }
        top = up;
    }
    (!top.as_os_str().is_empty() && top.parent().is_some()).then(|| top.to_path_buf())
}

/// Whether `mp` is a mount point still: on another device than its parent.
fn mounted(mp: &Path) -> bool {
    match (dev(mp), mp.parent().and_then(dev)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

impl Disks {
    /// Notes the disks `dirs` are on now.
    pub fn note<'a>(&self, dirs: impl Iterator<Item = &'a Path>) {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for dir in dirs {
            if known.iter().any(|(d, _)| d.as_os_str() == dir.as_os_str()) {
                continue;
            }
            if let Some(mp) = mount_point(dir) {
                known.push((dir.to_path_buf(), mp));
            }
        }
    }

    /// The mount point of the disk `dir` was on when it was noted (None: the root file
    /// system, or not noted), for the log to name the disk.
    pub fn mount_of(&self, dir: &Path) -> Option<PathBuf> {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        known
            .iter()
            .find(|(d, _)| d.as_os_str() == dir.as_os_str())
            .map(|(_, mp)| mp.clone())
    }

    /// Opens `dir` as a jail root, unless the disk it was on is not mounted now.
    pub fn open(&self, dir: &Path) -> io::Result<Jail> {
        if let Some(mp) = self.mount_of(dir)
            && !mounted(&mp)
        {
            return Err(io::Error::other(format!(
                "its disk is not mounted at {} (it was at start-up): not served until it is",
                mp.display()
            )));
        }
        Jail::open(dir)
    }
}
