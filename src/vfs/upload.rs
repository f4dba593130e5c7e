//! Uploads: atomic STOR through a temporary file in the target's directory, STOU's unique
//! names, and the start-up sweep of temporary files a crash left behind. The temporary
//! names carry a reserved prefix; nothing else in the server creates or removes such names.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use super::{Jail, Kind, Meta, cname, err};
use crate::limits;
use crate::vfs::VPath;

/// Prefix of the temporary files uploads are written to before being renamed into place.
/// Files with this prefix are hidden from listings and removed at start-up if stale.
pub const TEMP_PREFIX: &[u8] = b".edgeftpd-upload.";

impl Jail {
    /// Starts an atomic upload to `path`: a new temporary file in the same directory that
    /// [`Upload::commit`] renames over the target. Until then the old file is untouched.
    pub fn create_upload(&self, path: &VPath) -> io::Result<(File, Upload)> {
        let loc = self.resolve(path, false)?;
        let Some(name) = loc.name else {
            return Err(err(rustix::io::Errno::ISDIR));
        };
        let c = cname(&name)?;
        let old = match rustix::fs::statat(&loc.dir, &c, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(Meta::from_stat(&st)),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        if old.is_some_and(|m| m.kind == Kind::Dir) {
            return Err(err(rustix::io::Errno::ISDIR));
        }
        let (fd, tmp) = create_temp(&loc.dir)?;
        let upload = Upload {
            dir: loc.dir,
            tmp,
            target: c,
            done: false,
            replaces: old.is_some_and(|m| m.kind == Kind::File),
            new: old.is_none(),
        };
        // A replaced file keeps its permission bits. SECURITY: but no set-id or sticky bit.
        if let Some(m) = old.filter(|m| m.kind == Kind::File) {
            rustix::fs::fchmod(&fd, Mode::from_bits_truncate(m.mode & 0o777))?;
        }
        Ok((File::from(fd), upload))
    }

    /// Creates a file that does not exist yet (STOU), trying `base`, then `base.1`, `base.2`...
    pub fn create_unique(&self, dir: &VPath, base: &[u8]) -> io::Result<(File, VPath)> {
        let dloc = self.resolve(dir, true)?;
        let dfd = match &dloc.name {
            Some(_) => Self::open_loc(&dloc, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?,
            None => dloc.dir,
        };
        for i in 0..limits::MAX_UNIQUE_TRIES {
            let mut name = base.to_vec();
            if i > 0 {
                name.extend_from_slice(format!(".{i}").as_bytes());
            }
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(
                &dfd,
                cname(&name)?.as_c_str(),
                flags,
                Mode::from_bits_truncate(0o644),
            ) {
                Ok(fd) => return Ok((File::from(fd), dir.child(&name))),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(err(rustix::io::Errno::EXIST))
    }

    /// Removes stale temporary upload files (ours only, by name) below the root; bounded depth.
    pub fn sweep_temp_files(&self) -> usize {
        fn walk(dir: &OwnedFd, depth: usize, removed: &mut usize) {
            let Ok(entries) = Dir::read_from(dir) else {
                return;
            };
            let mut subdirs = Vec::new();
            for ent in entries.flatten() {
                let name = ent.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                if name.starts_with(TEMP_PREFIX) && ent.file_type() == FileType::RegularFile {
                    if rustix::fs::unlinkat(dir, ent.file_name(), AtFlags::empty()).is_ok() {
                        *removed += 1;
                    }
                } else if ent.file_type() == FileType::Directory && depth < limits::SWEEP_DEPTH {
                    subdirs.push(ent.file_name().to_owned());
                }
            }
            for name in subdirs {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(fd) = rustix::fs::openat(dir, &name, flags, Mode::empty()) {
                    walk(&fd, depth + 1, removed);
                }
            }
        }
        let mut removed = 0;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if let Ok(fd) = rustix::fs::openat(&self.root, c".", flags, Mode::empty()) {
            walk(&fd, 0, &mut removed);
        }
        removed
    }
}

/// An upload in progress: removed on drop unless committed.
pub struct Upload {
    dir: OwnedFd,
    tmp: CString,
    target: CString,
    done: bool,
    replaces: bool,
    /// Nothing had the target's name when the upload started.
    new: bool,
}

impl Upload {
    /// True when the upload will replace an existing file (which must not be lost).
    pub fn replaces(&self) -> bool {
        self.replaces
    }

    /// True when nothing had the target's name when the upload started: then an upload cut
    /// short loses nothing by keeping what arrived (a client resumes it with REST or APPE).
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// Renames the finished temporary file over the target, atomically.
    pub fn commit(mut self) -> io::Result<()> {
        rustix::fs::renameat(&self.dir, &self.tmp, &self.dir, &self.target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            let _ = rustix::fs::unlinkat(&self.dir, &self.tmp, AtFlags::empty());
        }
    }
}

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn create_temp(dir: &OwnedFd) -> io::Result<(OwnedFd, CString)> {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    for _ in 0..limits::MAX_UNIQUE_TRIES {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = TEMP_PREFIX.to_vec();
        name.extend_from_slice(format!("{pid}.{n}").as_bytes());
        let c = cname(&name)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(dir.as_fd(), &c, flags, Mode::from_bits_truncate(0o644)) {
            Ok(fd) => return Ok((fd, c)),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(err(rustix::io::Errno::EXIST))
}
