//! The path jail: every file-system call a client can cause goes through this module.
//!
//! A session's root is an open directory descriptor, never a string. Client paths are first
//! normalised lexically into a [`VPath`] (components only, `..` clamped at `/`), then walked one
//! component at a time with `openat(O_NOFOLLOW)` from the root descriptor. Symbolic links are
//! read with `readlinkat` and their targets are walked the same way, *relative to the jail*:
//! an absolute target restarts at the jail's root and `..` never climbs above it. This is the
//! semantics of `openat2(RESOLVE_IN_ROOT)` (and of `chroot`), done in user space so it also
//! works on the 3.x/4.x kernels many routers still run, and it cannot be raced: every step is
//! relative to a descriptor we already hold, and the final open uses `O_NOFOLLOW`, so a link
//! swapped in after we looked fails instead of being followed.
//!
//! ```text
//!  client "../../etc/passwd" from cwd /pub   ->  VPath [etc, passwd]  ->  <root>/etc/passwd
//!  link   <root>/pub/up -> /                 ->  walked as <root>/     (never the host's /)
//!  link   <root>/pub/x  -> ../../../tmp      ->  walked as <root>/tmp  (`..` clamped at root)
//! ```
//!
//! Operations that act on a name itself (delete, rename, mkdir, rmdir) resolve only the parent
//! and then act on the final name with the `*at` system calls, which never follow it.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Timestamps};

use crate::config::limits;

/// Prefix of the temporary files uploads are written to before being renamed into place.
/// Files with this prefix are hidden from listings and removed at start-up if stale.
pub const TEMP_PREFIX: &[u8] = b".edgeftpd-upload.";

/// A normalised virtual path inside a jail: plain components, no `.`, `..` or empty ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VPath {
    parts: Vec<Vec<u8>>,
}

/// Why a client-supplied path was refused before touching the file system.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// A NUL byte cannot be passed to the kernel.
    Nul,
    /// Longer than [`limits::MAX_PATH`] or a component longer than [`limits::MAX_NAME`].
    TooLong,
}

impl VPath {
    /// The jail's root, `/`.
    pub fn root() -> VPath {
        VPath::default()
    }

    /// Resolves a client path (absolute, or relative to `self`) lexically.
    pub fn join(&self, arg: &[u8]) -> Result<VPath, PathError> {
        if arg.contains(&0) {
            return Err(PathError::Nul);
        }
        if arg.len() > limits::MAX_PATH {
            return Err(PathError::TooLong);
        }
        let mut parts = if arg.first() == Some(&b'/') {
            Vec::new()
        } else {
            self.parts.clone()
        };
        for comp in arg.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                name if name.len() > limits::MAX_NAME => return Err(PathError::TooLong),
                name => parts.push(name.to_vec()),
            }
        }
        Ok(VPath { parts })
    }

    /// The last component (`None` at the root).
    pub fn file_name(&self) -> Option<&[u8]> {
        self.parts.last().map(Vec::as_slice)
    }

    /// The containing directory (the root is its own parent).
    pub fn parent(&self) -> VPath {
        let mut parts = self.parts.clone();
        parts.pop();
        VPath { parts }
    }

    /// The path with one more component.
    pub fn child(&self, name: &[u8]) -> VPath {
        let mut parts = self.parts.clone();
        parts.push(name.to_vec());
        VPath { parts }
    }

    /// The path as the client sees it: `/`, `/pub`, `/pub/file`.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.parts.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for p in &self.parts {
            out.push(b'/');
            out.extend_from_slice(p);
        }
        out
    }
}

/// What kind of object a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The metadata the protocol needs, in widths that are the same on every target
/// (sizes above 4 GiB work on 32-bit boards too).
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: Kind,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub dev: u64,
    pub ino: u64,
}

impl Meta {
    // The field widths of `struct stat` differ between targets; on some the casts are no-ops.
    #[allow(clippy::unnecessary_cast)]
    fn from_stat(st: &rustix::fs::Stat) -> Meta {
        let mode = st.st_mode as u32;
        let kind = match FileType::from_raw_mode(mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Meta {
            kind,
            mode,
            nlink: st.st_nlink as u64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: st.st_size.max(0) as u64,
            mtime: st.st_mtime as i64,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        }
    }
}

/// An opened jail: the root descriptor every path is resolved from.
pub struct Jail {
    root: OwnedFd,
}

/// A resolved location: the directory that holds it and the final name in it
/// (`None` when the path is a directory reached as a whole, such as `/`).
struct Loc {
    dir: OwnedFd,
    name: Option<Vec<u8>>,
}

fn err(kind: rustix::io::Errno) -> io::Error {
    io::Error::from(kind)
}

/// Error for "exists but is not a regular file" (a FIFO or device must never be opened:
/// reading a FIFO would block the session forever).
pub fn not_regular() -> io::Error {
    io::Error::other("not a regular file")
}

fn cname(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| err(rustix::io::Errno::INVAL))
}

impl Jail {
    /// Opens `dir` as a jail root. The path is the administrator's, so it may be followed.
    pub fn open(dir: &Path) -> io::Result<Jail> {
        let root = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Jail { root })
    }

    /// Another handle on the same root (each session gets its own descriptor).
    pub fn try_clone(&self) -> io::Result<Jail> {
        Ok(Jail {
            root: self.root.try_clone()?,
        })
    }

    fn root_dup(&self) -> io::Result<OwnedFd> {
        self.root.try_clone()
    }

    /// The walk. SECURITY: this is the only place a path is turned into a descriptor. Every
    /// step is `*at()` relative to a held descriptor with `O_NOFOLLOW`; symlink targets are
    /// re-walked from the jail root (absolute) or the current directory (relative), and `..`
    /// pops our own stack of descriptors, never below the root.
    fn resolve(&self, path: &VPath, follow_last: bool) -> io::Result<Loc> {
        let mut stack: Vec<OwnedFd> = vec![self.root_dup()?];
        let mut queue: VecDeque<Vec<u8>> = path.parts.iter().cloned().collect();
        let mut links = 0;
        while let Some(comp) = queue.pop_front() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let last = queue.is_empty();
            let cur = stack.last().expect("stack never empty");
            let c = cname(&comp)?;
            let st = match rustix::fs::statat(cur, &c, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(rustix::io::Errno::NOENT) if last => {
                    let dir = stack.pop().expect("stack never empty");
                    return Ok(Loc {
                        dir,
                        name: Some(comp),
                    });
                }
                Err(e) => return Err(e.into()),
            };
            match FileType::from_raw_mode(st.st_mode as _) {
                FileType::Symlink if !last || follow_last => {
                    links += 1;
                    if links > limits::MAX_SYMLINKS {
                        return Err(err(rustix::io::Errno::LOOP));
                    }
                    let target = rustix::fs::readlinkat(cur, &c, Vec::new())?;
                    let target = target.as_bytes();
                    if target.first() == Some(&b'/') {
                        stack.truncate(1);
                    }
                    for part in target.rsplit(|&b| b == b'/') {
                        queue.push_front(part.to_vec());
                    }
                }
                FileType::Directory if !last => {
                    let fd = rustix::fs::openat(
                        cur,
                        &c,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    stack.push(fd);
                }
                _ if last => {
                    let dir = stack.pop().expect("stack never empty");
                    return Ok(Loc {
                        dir,
                        name: Some(comp),
                    });
                }
                _ => return Err(err(rustix::io::Errno::NOTDIR)),
            }
        }
        let dir = stack.pop().expect("stack never empty");
        Ok(Loc { dir, name: None })
    }

    /// Opens the final object of `loc` with `flags` (always `O_NOFOLLOW`).
    fn open_loc(loc: &Loc, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
        match &loc.name {
            Some(n) => Ok(rustix::fs::openat(
                &loc.dir,
                cname(n)?.as_c_str(),
                flags,
                mode,
            )?),
            None => Ok(rustix::fs::openat(&loc.dir, c".", flags, mode)?),
        }
    }

    /// Metadata of `path`, following symlinks inside the jail.
    pub fn stat(&self, path: &VPath) -> io::Result<Meta> {
        self.stat_loc(&self.resolve(path, true)?)
    }

    /// Metadata of `path` itself (a final symlink is not followed).
    pub fn lstat(&self, path: &VPath) -> io::Result<Meta> {
        self.stat_loc(&self.resolve(path, false)?)
    }

    fn stat_loc(&self, loc: &Loc) -> io::Result<Meta> {
        let st = match &loc.name {
            Some(n) => {
                rustix::fs::statat(&loc.dir, cname(n)?.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?
            }
            None => rustix::fs::fstat(&loc.dir)?,
        };
        Ok(Meta::from_stat(&st))
    }

    /// Opens a regular file for reading. Directories give `EISDIR`, FIFOs and devices an error.
    pub fn open_read(&self, path: &VPath) -> io::Result<(File, Meta)> {
        let loc = self.resolve(path, true)?;
        let fd = Self::open_loc(&loc, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
        regular_file(fd)
    }

    /// Checks that the directory `path` may be entered, as chdir(2) would: the walk uses
    /// `O_PATH`, which never checks the last directory's own search permission, so look up
    /// `.` inside it (EACCES without search permission).
    pub fn check_search(&self, path: &VPath) -> io::Result<()> {
        let loc = self.resolve(path, true)?;
        let fd = Self::open_loc(&loc, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        rustix::fs::statat(&fd, c".", AtFlags::empty())?;
        Ok(())
    }

    /// Opens a directory for reading its entries.
    pub fn open_dir(&self, path: &VPath) -> io::Result<OwnedFd> {
        let loc = self.resolve(path, true)?;
        Self::open_loc(&loc, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
    }

    /// Opens (creating if needed) a regular file for writing in place, for APPE and REST+STOR.
    pub fn open_write_in_place(&self, path: &VPath, append: bool) -> io::Result<(File, Meta)> {
        let loc = self.resolve(path, true)?;
        if loc.name.is_none() {
            return Err(err(rustix::io::Errno::ISDIR));
        }
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK;
        if append {
            flags |= OFlags::APPEND;
        }
        let fd = Self::open_loc(&loc, flags, Mode::from_bits_truncate(0o644))?;
        regular_file(fd)
    }

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
        };
        // A replaced file keeps its permission bits.
        if let Some(m) = old.filter(|m| m.kind == Kind::File) {
            rustix::fs::fchmod(&fd, Mode::from_bits_truncate(m.mode & 0o7777))?;
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

    fn parent_and_name(&self, path: &VPath) -> io::Result<(OwnedFd, CString)> {
        let loc = self.resolve(path, false)?;
        match loc.name {
            Some(n) => Ok((loc.dir, cname(&n)?)),
            // The root (or a path that resolves to a directory as a whole) cannot be removed
            // or renamed by a client.
            None => Err(err(rustix::io::Errno::BUSY)),
        }
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path)?;
        Ok(rustix::fs::mkdirat(
            &dir,
            &name,
            Mode::from_bits_truncate(0o755),
        )?)
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path)?;
        Ok(rustix::fs::unlinkat(&dir, &name, AtFlags::REMOVEDIR)?)
    }

    /// Removes a file (or a symlink itself, never its target).
    pub fn unlink(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path)?;
        let st = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode as _) == FileType::Directory {
            return Err(err(rustix::io::Errno::ISDIR));
        }
        Ok(rustix::fs::unlinkat(&dir, &name, AtFlags::empty())?)
    }

    /// Renames `from` to `to` (replacing a file at `to`, as rename(2) does).
    pub fn rename(&self, from: &VPath, to: &VPath) -> io::Result<()> {
        let (fdir, fname) = self.parent_and_name(from)?;
        let (tdir, tname) = self.parent_and_name(to)?;
        Ok(rustix::fs::renameat(&fdir, &fname, &tdir, &tname)?)
    }

    /// Sets the modification time (MFMT). Opened first, so a swapped-in symlink is not followed.
    pub fn set_mtime(&self, path: &VPath, secs: i64) -> io::Result<()> {
        let fd = self.open_any(path)?;
        let omit = rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        };
        let times = Timestamps {
            last_access: omit,
            last_modification: rustix::fs::Timespec {
                tv_sec: secs,
                tv_nsec: 0,
            },
        };
        Ok(rustix::fs::futimens(&fd, &times)?)
    }

    /// Changes permission bits (SITE CHMOD), through an opened descriptor for the same reason.
    pub fn chmod(&self, path: &VPath, mode: u32) -> io::Result<()> {
        let fd = self.open_any(path)?;
        Ok(rustix::fs::fchmod(
            &fd,
            Mode::from_bits_truncate(mode & 0o7777),
        )?)
    }

    fn open_any(&self, path: &VPath) -> io::Result<OwnedFd> {
        let loc = self.resolve(path, true)?;
        Self::open_loc(&loc, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())
    }

    /// The names in a directory (one getdents pass, no stat), without `.`, `..` and our
    /// temporary upload files. `dir` must be freshly opened: it is read from its current
    /// position. getdents fills a 64 KiB buffer per call (some 2,000 names), where
    /// `rustix::fs::Dir` starts at 768 bytes and grows slowly: a tenth off reading 10,000
    /// names.
    pub fn read_names(&self, dir: &OwnedFd) -> io::Result<Names> {
        let mut names = Names::default();
        let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 64 * 1024];
        let mut entries = rustix::fs::RawDir::new(dir, &mut buf);
        while let Some(ent) = entries.next() {
            let ent = ent?;
            let name = ent.file_name().to_bytes();
            if name == b"." || name == b".." || name.starts_with(TEMP_PREFIX) {
                continue;
            }
            names.push(name);
        }
        Ok(names)
    }

    /// A second descriptor of an open directory (its own open file, not a `dup`): threads
    /// that each look up thousands of names in it then don't contend for one file's
    /// reference count in the kernel.
    pub fn reopen_dir(&self, dir: &OwnedFd) -> io::Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(dir, c".", flags, Mode::empty())?)
    }

    /// Metadata of entry `name` of `dir` itself (a symlink is not followed) and, for a
    /// symlink, its raw text. `None` when the entry vanished since the directory was read.
    pub fn stat_entry(&self, dir: &OwnedFd, name: &CStr) -> Option<(Meta, Option<Vec<u8>>)> {
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let meta = Meta::from_stat(&st);
        let link = if meta.kind == Kind::Symlink {
            rustix::fs::readlinkat(dir, name, Vec::new())
                .ok()
                .map(|t| t.into_bytes())
        } else {
            None
        };
        Some((meta, link))
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

/// The names of a directory's entries, kept in one buffer (each followed by its NUL, so
/// it can be handed to the kernel as is): some 30 bytes per entry instead of a heap string
/// each, and sorting moves 8-byte spans, never the names.
#[derive(Default)]
pub struct Names {
    buf: Vec<u8>,
    /// (start in `buf`, length without the NUL).
    spans: Vec<(u32, u32)>,
}

impl Names {
    fn push(&mut self, name: &[u8]) {
        let start = self.buf.len() as u32;
        self.buf.extend_from_slice(name);
        self.buf.push(0);
        self.spans.push((start, name.len() as u32));
    }

    /// Builds a list from plain names (tests, fuzzing).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Names {
        let mut n = Names::default();
        for name in names {
            n.push(name);
        }
        n
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Name `i` (without its NUL).
    pub fn get(&self, i: usize) -> &[u8] {
        let (start, len) = self.spans[i];
        &self.buf[start as usize..(start + len) as usize]
    }

    /// Name `i` as the kernel wants it.
    pub fn c_name(&self, i: usize) -> &CStr {
        let (start, len) = self.spans[i];
        let bytes = &self.buf[start as usize..=(start + len) as usize];
        // A directory entry's name never holds a NUL: the fallback is unreachable.
        CStr::from_bytes_with_nul(bytes).unwrap_or(c"")
    }

    /// Keeps the names `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let buf = &self.buf;
        self.spans
            .retain(|&(s, l)| keep(&buf[s as usize..(s + l) as usize]));
    }

    /// Sorts bytewise (as `ls` does in the C locale). Sorts (key, span) pairs where the key
    /// is a name's first 16 bytes: that decides almost every comparison of real names
    /// (`IMG_0001.JPG`, `entry-00042.dat`) without touching the names themselves.
    pub fn sort(&mut self) {
        let buf = &self.buf;
        let name = |(s, l): (u32, u32)| &buf[s as usize..(s + l) as usize];
        let mut keyed: Vec<(u128, (u32, u32))> = self
            .spans
            .iter()
            .map(|&span| {
                let n = name(span);
                let mut k = [0u8; 16];
                let len = n.len().min(16);
                k[..len].copy_from_slice(&n[..len]);
                (u128::from_be_bytes(k), span)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| name(a.1).cmp(name(b.1))));
        for (slot, (_, span)) in self.spans.iter_mut().zip(keyed) {
            *slot = span;
        }
    }
}

/// An upload in progress: removed on drop unless committed.
pub struct Upload {
    dir: OwnedFd,
    tmp: CString,
    target: CString,
    done: bool,
    replaces: bool,
}

impl Upload {
    /// True when the upload will replace an existing file (which must not be lost).
    pub fn replaces(&self) -> bool {
        self.replaces
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
    let pid = std::process::id();
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

/// Accepts a descriptor opened with `O_NONBLOCK` only if it is a regular file, then makes it
/// blocking again. (A FIFO opened without `O_NONBLOCK` would have blocked the open itself.)
fn regular_file(fd: OwnedFd) -> io::Result<(File, Meta)> {
    let meta = Meta::from_stat(&rustix::fs::fstat(&fd)?);
    match meta.kind {
        Kind::File => {}
        Kind::Dir => return Err(err(rustix::io::Errno::ISDIR)),
        _ => return Err(not_regular()),
    }
    clear_nonblock(&fd)?;
    Ok((File::from(fd), meta))
}

fn clear_nonblock(fd: &OwnedFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags - OFlags::NONBLOCK)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_bytewise() {
        let input: [&[u8]; 9] = [
            b"b",
            b"entry-00000.dat-long-Z",
            b"entry-00000.dat-long-A",
            b"entry-00000.dat",
            b"a",
            b"a\x01",
            b"\xff",
            b"IMG_0002.JPG",
            b"IMG_0001.JPG",
        ];
        let mut n = Names::from_names(input);
        n.retain(|name| name != b"b");
        n.sort();
        let got: Vec<&[u8]> = (0..n.len()).map(|i| n.get(i)).collect();
        let want: [&[u8]; 8] = [
            b"IMG_0001.JPG",
            b"IMG_0002.JPG",
            b"a",
            b"a\x01",
            b"entry-00000.dat",
            b"entry-00000.dat-long-A",
            b"entry-00000.dat-long-Z",
            b"\xff",
        ];
        assert_eq!(got, want);
        assert_eq!(n.c_name(2).to_bytes(), b"a");
    }

    fn vp(s: &str) -> VPath {
        VPath::root().join(s.as_bytes()).unwrap()
    }

    #[test]
    fn lexical_dotdot_is_clamped_at_root() {
        assert_eq!(vp("../../etc/passwd").to_bytes(), b"/etc/passwd");
        assert_eq!(vp("/a/b/../../../..").to_bytes(), b"/");
        assert_eq!(vp("a/./b//c/..").to_bytes(), b"/a/b");
        assert_eq!(vp("a").join(b"../b").unwrap().to_bytes(), b"/b");
    }

    #[test]
    fn nul_and_long_names_are_refused() {
        assert_eq!(VPath::root().join(b"a\0b"), Err(PathError::Nul));
        assert_eq!(VPath::root().join(&[b'x'; 300]), Err(PathError::TooLong));
    }

    #[test]
    fn names_are_bytes() {
        let p = VPath::root().join(b"caf\xe9/\\x").unwrap();
        assert_eq!(p.to_bytes(), b"/caf\xe9/\\x");
    }
}
