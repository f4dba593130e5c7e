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
//!
//! Per-folder rights ([`Rights`], `rights.rs`) are checked here too, on where the walk really
//! led (its trail of real directories), so no spelling of a path and no symlink escapes a
//! folder's rule, and no command handler can forget one.

use std::collections::VecDeque;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timestamps};

use crate::limits;

mod disks;
mod names;
mod path;
mod pending;
mod quota;
mod rights;
mod upload;

pub use disks::Disks;
pub use names::{DirReader, Names};
pub use path::{PathError, VPath};
pub use quota::{QUOTA_FILE, Quota, Usage};
pub use rights::{Need, Right, Rights};
pub use upload::{Bounds, MinFree, Room, TEMP_PREFIX, Target, UploadKind};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl Kind {
    /// The kind a `st_mode` says.
    fn of_mode(mode: u32) -> Kind {
        match FileType::from_raw_mode(mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

impl Meta {
    // The field widths of `struct stat` differ between targets; on some the casts are no-ops.
    #[allow(clippy::unnecessary_cast)]
    fn from_stat(st: &rustix::fs::Stat) -> Meta {
        let mode = st.st_mode as u32;
        Meta {
            kind: Kind::of_mode(mode),
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

    /// [`Meta::from_stat`] of what statx(2) says (the same fields, `dev` made as `st_dev`).
    pub(crate) fn from_statx(st: &libc::statx) -> Meta {
        let mode = u32::from(st.stx_mode);
        Meta {
            kind: Kind::of_mode(mode),
            mode,
            nlink: u64::from(st.stx_nlink),
            uid: st.stx_uid,
            gid: st.stx_gid,
            size: st.stx_size,
            mtime: st.stx_mtime.tv_sec,
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor) as u64,
            ino: st.stx_ino,
        }
    }
}

/// An opened jail: the root descriptor every path is resolved from, what the account may
/// do where, and the umask of what it creates.
pub struct Jail {
    root: OwnedFd,
    rights: Arc<Rights>,
    umask: u32,
    /// The home's usage, under a quota.
    quota: Option<Arc<Usage>>,
    /// `--max-upload` and `--min-free`.
    bounds: Bounds,
}

/// The umask of files and directories a jail creates unless told otherwise (`--umask`).
pub const DEFAULT_UMASK: u32 = 0o022;

/// A resolved location: the directory that holds it and the final name in it
/// (`None` when the path is a directory reached as a whole, such as `/`), and the real
/// directories that lead to that directory from the root.
pub(super) struct Loc {
    dir: OwnedFd,
    name: Option<Vec<u8>>,
    trail: Vec<Vec<u8>>,
}

impl Loc {
    /// Where this is from the root, as components (what rights are decided on).
    fn parts(&self) -> Vec<&[u8]> {
        self.trail
            .iter()
            .map(Vec::as_slice)
            .chain(self.name.as_deref())
            .collect()
    }
}

/// Held by every sync of a commit, from the first sync of the data through the rename to
/// the directory's sync, and by MKD's sync: so no sync of one session's metadata lands in
/// the middle of another's rename.
///
/// On FAT a rename is not atomic on the disk: the new name's directory entry is made with
/// no data (start cluster 0, size 0), and an overwritten file's clusters are freed in the
/// FAT, until the moved file itself is synced. Any fsync in that window (another upload's,
/// which writes the FAT and the directory's blocks) puts that half-done state on the disk,
/// and a power cut then leaves an empty or cut file where the old one was. Measured on the
/// armv7 board: 1 torn file in 3 to 10 cuts on vfat without this order, 0 in 50 with it.
/// A router has one disk, whose syncs are one after another anyway; the data itself is
/// written before the lock is taken ([`crate::sys::sync_data`]).
static DISK_ORDER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` (syncs and renames) in [`DISK_ORDER`].
fn in_disk_order<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let _order = DISK_ORDER.lock().unwrap_or_else(|e| e.into_inner());
    f()
}

/// Writes a directory's entries to the disk (`dir` is an O_PATH descriptor, which fsync
/// refuses: the directory is opened for it). Called in [`DISK_ORDER`].
fn sync_dir(dir: &OwnedFd) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let d = rustix::fs::openat(dir, c".", flags, Mode::empty())?;
    Ok(rustix::fs::fsync(d)?)
}

/// `statfs` type of FAT (vfat, msdos): MSDOS_SUPER_MAGIC.
const FAT_MAGIC: i64 = 0x4d44;
/// ext2, ext3 and ext4's statfs magic (EXT4_SUPER_MAGIC; the three share it).
const EXT_MAGIC: i64 = 0xef53;

/// Whether `dir` is on a file system whose journal puts a rename and the allocation and
/// size of the file renamed into one transaction, so that one commit makes them durable
/// together: ext3 or ext4 with its journal loaded (/proc/fs/jbd2/DEVICE-8 is there; not
/// ext2, nor ext4 made without a journal, nor one mounted with noload). False where that
/// can't be told (no /proc or /sys): the upload then takes the path every file system
/// takes.
///
/// The answer for a file system (its device, size and number of inodes) stands for
/// [`limits::JOURNAL_ANSWER_STANDS_SECS`]: asking /sys and /proc is a path walk through
/// each and two strings made for it, which a camera's burst of uploads to one disk would
/// pay for every picture. What a disk mounted anew on the same device could change in
/// that time is only which of the two durable paths an upload takes (see
/// `JOURNAL_ANSWER_STANDS_SECS`).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn journaled(dir: &OwnedFd) -> bool {
    static LAST: std::sync::Mutex<Option<JournalAnswer>> = std::sync::Mutex::new(None);
    let Ok(fs) = rustix::fs::fstatfs(dir) else {
        return false;
    };
    if fs.f_type as i64 != EXT_MAGIC {
        return false;
    }
    let Ok(st) = rustix::fs::fstat(dir) else {
        return false;
    };
    let fs = (st.st_dev as u64, fs.f_blocks as u64, fs.f_files as u64);
    let now = crate::sys::monotonic().0;
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(answer) = last.as_ref().and_then(|a| a.stands(fs, now)) {
        return answer;
    }
    let answer = journal_loaded(fs.0);
    *last = Some(JournalAnswer {
        fs,
        answer,
        until: now.saturating_add(limits::JOURNAL_ANSWER_STANDS_SECS),
    });
    answer
}

/// [`journaled`]'s last answer: for which file system (device, blocks, inodes), and until
/// which second of the monotonic clock it stands.
struct JournalAnswer {
    fs: (u64, u64, u64),
    answer: bool,
    until: u64,
}

impl JournalAnswer {
    /// The answer, if it is for `fs` and still stands at second `now`.
    fn stands(&self, fs: (u64, u64, u64), now: u64) -> Option<bool> {
        (self.fs == fs && now < self.until).then_some(self.answer)
    }
}

/// Whether the block device `dev` has its ext3/ext4 journal loaded (jbd2 lists it in
/// /proc/fs/jbd2 under the device's name, which /sys/dev/block/MAJOR:MINOR links to).
fn journal_loaded(dev: u64) -> bool {
    let link = format!(
        "/sys/dev/block/{}:{}",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    );
    let Ok(target) = std::fs::read_link(link) else {
        return false;
    };
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    Path::new("/proc/fs/jbd2")
        .join(format!("{name}-8"))
        .exists()
}

/// Makes the entries an upload's commit changed in `dir` durable: `dir` synced, and on FAT
/// its parent too. Called in [`DISK_ORDER`].
///
/// Why the parent (Linux fs/fat, 6.1 as on the boards, and every kernel since 2.6): FAT
/// keeps directories in the block device's buffers, and fsync of a directory writes the
/// buffers on that directory's own list (`mark_buffer_dirty_inode`). But a buffer joins a
/// list only when it is on none: `fat_alloc_new_dir` puts a new directory's first cluster
/// on its *parent's* list, and there its buffers stay, dirtied again and again by the
/// entries written into the directory, until the parent itself is synced. A rename there
/// (the commit of a STOR) removed the temporary name in such a buffer: fsync of the
/// directory did not write it, the kernel's writeback did some 30 s later, and a power cut
/// in between left both names on the disk sharing the file's clusters, which fsck.vfat
/// "repairs" by cutting the file to nothing (the board: 10 uploads then 1 s of quiet, the
/// last file lost 5 times in 5; the directory made by `mkdir` on the router). Syncing the
/// parent writes those buffers and takes them off its list; after that they join the
/// directory's own. exFAT syncs the whole block device in every fsync and ext4 commits its
/// journal, so neither needs it. The cost on the armv7 board: 0.3 ms a small upload on
/// vfat (9.2 ms; syncfs would cost 1 ms). The parent is synced only when it is on the same
/// file system (not above a disk's mount point). SECURITY: it may be above the jail's
/// root; it is only synced, never read or written.
// (statfs's f_type is i64 on some targets, u32 or i32 on others.)
#[allow(clippy::unnecessary_cast)]
fn sync_entries(dir: &OwnedFd) -> io::Result<()> {
    sync_dir(dir)?;
    let on_fat = rustix::fs::fstatfs(dir).is_ok_and(|st| st.f_type as i64 == FAT_MAGIC);
    if on_fat {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let parent = rustix::fs::openat(dir, c"..", flags, Mode::empty())?;
        let same_fs = |fd: &OwnedFd| rustix::fs::fstat(fd).map(|st| st.st_dev);
        if same_fs(&parent)? == same_fs(dir)? {
            rustix::fs::fsync(parent)?;
        }
    }
    Ok(())
}

fn err(kind: rustix::io::Errno) -> io::Error {
    io::Error::from(kind)
}

/// Error for "exists but is not a regular file" (a FIFO or device must never be opened:
/// reading a FIFO would block the session forever).
pub fn not_regular() -> io::Error {
    io::Error::other("not a regular file")
}

/// One step down: a directory entry that must be a directory itself (never followed).
fn open_subdir(dir: &OwnedFd, name: &CString) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
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
        Ok(Jail {
            root,
            rights: Arc::new(Rights::all(Right::Write)),
            umask: DEFAULT_UMASK,
            quota: None,
            bounds: Bounds::default(),
        })
    }

    /// Another handle on the same root (each session gets its own descriptor).
    pub fn try_clone(&self) -> io::Result<Jail> {
        Ok(Jail {
            root: self.root.try_clone()?,
            rights: Arc::clone(&self.rights),
            umask: self.umask,
            quota: self.quota.clone(),
            bounds: self.bounds,
        })
    }

    /// The same root under a quota: `home` is where the jail is on the disk (the usage is
    /// shared by every session of that home).
    pub fn with_quota(self, home: &Path, limits: Quota) -> io::Result<Jail> {
        let usage = Usage::of(home, &self, limits)?;
        Ok(Jail {
            quota: Some(usage),
            ..self
        })
    }

    /// The same root with the server's bounds on every upload.
    pub fn with_bounds(self, bounds: Bounds) -> Jail {
        Jail { bounds, ..self }
    }

    /// The same root for an account with `rights`, creating with `umask`.
    pub fn with_access(self, rights: Arc<Rights>, umask: u32) -> Jail {
        Jail {
            rights,
            umask: umask & 0o777,
            ..self
        }
    }

    /// SECURITY: whether the account may do what `need` says at `loc`. Under a quota the
    /// usage file is the server's, whatever the rights.
    fn check(&self, loc: &Loc, need: Need) -> io::Result<()> {
        if self.quota.is_some() && loc.trail.is_empty() && loc.name.as_deref() == Some(QUOTA_FILE) {
            return Err(rights::denied(format!(
                "/{} is the server's usage file",
                String::from_utf8_lossy(QUOTA_FILE)
            )));
        }
        if self.rights.is_all_write() {
            return Ok(());
        }
        self.rights.check(&loc.parts(), need)
    }

    /// SECURITY: a name that is removed or renamed (either end) needs the right to write
    /// there, and must not be, nor hold, a folder with a rule of its own.
    fn check_movable(&self, loc: &Loc) -> io::Result<()> {
        self.check(loc, Need::Write)?;
        if self.rights.ruled_at_or_below(&loc.parts()) {
            return Err(rights::denied(format!(
                "{}: a folder with rights of its own (or holding one) stays where it is",
                rights::shown(&loc.parts())
            )));
        }
        Ok(())
    }

    /// Where `path` really is, relative to the root (the walk's real directories, and the
    /// last name): for telling another program about a file.
    pub fn real_path(&self, path: &VPath) -> io::Result<std::path::PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        let loc = self.resolve(path, false)?;
        Ok(loc
            .parts()
            .into_iter()
            .map(std::ffi::OsStr::from_bytes)
            .collect())
    }

    /// Whether the account may change things in the directory `path` (MLSD's perm fact).
    pub fn writable(&self, path: &VPath) -> bool {
        self.rights.is_all_write()
            || self
                .resolve(path, true)
                .is_ok_and(|loc| self.check(&loc, Need::Write).is_ok())
    }

    /// The umask of what this jail creates.
    pub fn umask(&self) -> u32 {
        self.umask
    }

    /// The mode of a new file.
    fn file_mode(&self) -> Mode {
        Mode::from_bits_truncate(0o666 & !self.umask)
    }

    fn root_dup(&self) -> io::Result<OwnedFd> {
        self.root.try_clone()
    }

    /// The walk. SECURITY: this is the only place a path is turned into a descriptor. Every
    /// step is `*at()` relative to a held descriptor with `O_NOFOLLOW`; symlink targets are
    /// re-walked from the jail root (absolute) or the current directory (relative), and `..`
    /// never climbs above the root.
    ///
    /// A walk holds two descriptors at most, whatever the depth: the directory it is in and
    /// the names of the real directories that lead there from the root. `..` drops the last
    /// name and walks down again from the root ([`Jail::walk_down`]). Client paths are
    /// normalised lexically, so only a symlink's target can hold `..`.
    fn resolve(&self, path: &VPath, follow_last: bool) -> io::Result<Loc> {
        let loc = self.walk(path, follow_last)?;
        // A name another session's upload is putting in place is acted on once it is there.
        if let Some(name) = &loc.name {
            pending::settle(&loc.dir, name);
        }
        Ok(loc)
    }

    /// [`Self::resolve`]'s walk.
    fn walk(&self, path: &VPath, follow_last: bool) -> io::Result<Loc> {
        // Where the walk is; the root itself is borrowed, not duplicated, until a Loc must
        // own it.
        let mut cur: Option<OwnedFd> = None;
        let mut trail: Vec<Vec<u8>> = Vec::new();
        let mut queue: VecDeque<Vec<u8>> = path.parts.iter().cloned().collect();
        let mut links = 0;
        let owned = |cur: Option<OwnedFd>| -> io::Result<OwnedFd> {
            match cur {
                Some(fd) => Ok(fd),
                None => self.root_dup(),
            }
        };
        while let Some(comp) = queue.pop_front() {
            match comp.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if trail.pop().is_some() {
                        cur = Some(self.walk_down(&trail)?);
                    }
                    continue;
                }
                _ => {}
            }
            let last = queue.is_empty();
            let c = cname(&comp)?;
            let here = cur.as_ref().unwrap_or(&self.root);
            // On the way (not the last name) a real directory is the usual case: opening it
            // with O_NOFOLLOW|O_DIRECTORY answers in one call. ENOTDIR (a symlink or a
            // file) is looked at more closely below.
            if !last {
                match open_subdir(here, &c) {
                    Ok(fd) => {
                        cur = Some(fd);
                        trail.push(comp);
                        continue;
                    }
                    Err(e)
                        if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {}
                    Err(e) => return Err(e),
                }
            }
            let st = match rustix::fs::statat(here, &c, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(rustix::io::Errno::NOENT) if last => {
                    return Ok(Loc {
                        dir: owned(cur)?,
                        name: Some(comp),
                        trail,
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
                    let target = rustix::fs::readlinkat(here, &c, Vec::new())?;
                    let target = target.as_bytes();
                    if target.first() == Some(&b'/') {
                        cur = None;
                        trail.clear();
                    }
                    for part in target.rsplit(|&b| b == b'/') {
                        queue.push_front(part.to_vec());
                    }
                }
                FileType::Directory if !last => {
                    // (Swapped in since the open above failed.)
                    cur = Some(open_subdir(here, &c)?);
                    trail.push(comp);
                }
                _ if last => {
                    return Ok(Loc {
                        dir: owned(cur)?,
                        name: Some(comp),
                        trail,
                    });
                }
                _ => return Err(err(rustix::io::Errno::NOTDIR)),
            }
        }
        Ok(Loc {
            dir: owned(cur)?,
            name: None,
            trail,
        })
    }

    /// The directory `trail` names from the root: each name was a real directory when the
    /// walk passed it, and must still be one (a swapped-in symlink fails `O_NOFOLLOW`).
    fn walk_down(&self, trail: &[Vec<u8>]) -> io::Result<OwnedFd> {
        let mut cur = self.root_dup()?;
        for name in trail {
            cur = open_subdir(&cur, &cname(name)?)?;
        }
        Ok(cur)
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

    /// Metadata of `path`, following symlinks inside the jail. (A directory's needs the
    /// right to enter it, anything else's the right to read it.)
    pub fn stat(&self, path: &VPath) -> io::Result<Meta> {
        self.checked_stat(&self.resolve(path, true)?)
    }

    /// Metadata of `path` itself (a final symlink is not followed).
    pub fn lstat(&self, path: &VPath) -> io::Result<Meta> {
        self.checked_stat(&self.resolve(path, false)?)
    }

    fn checked_stat(&self, loc: &Loc) -> io::Result<Meta> {
        // Nothing about a folder with no access, and in a drop box nothing but its folders:
        // not even whether a name exists there.
        self.check(loc, Need::Enter)?;
        let meta = match self.stat_loc(loc) {
            Ok(meta) => meta,
            Err(e) => return Err(self.check(loc, Need::Read).err().unwrap_or(e)),
        };
        if meta.kind != Kind::Dir {
            self.check(loc, Need::Read)?;
        }
        Ok(meta)
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

    /// SECURITY: what `loc` names is looked at (no follow) before anything opens it: a FIFO
    /// or device node is refused unopened, since opening one has side effects (a FIFO's
    /// blocked writer is released, a driver acts on open). `Ok(None)`: nothing is there.
    fn check_openable(loc: &Loc) -> io::Result<Option<Meta>> {
        let Some(n) = &loc.name else {
            return Err(err(rustix::io::Errno::ISDIR));
        };
        match rustix::fs::statat(&loc.dir, cname(n)?.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match Meta::from_stat(&st) {
                m if m.kind == Kind::File => Ok(Some(m)),
                m if m.kind == Kind::Dir => Err(err(rustix::io::Errno::ISDIR)),
                _ => Err(not_regular()),
            },
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a regular file for reading. Directories give `EISDIR`, FIFOs and devices an
    /// error without being opened.
    pub fn open_read(&self, path: &VPath) -> io::Result<(File, Meta)> {
        let loc = self.resolve(path, true)?;
        self.check(&loc, Need::Read)?;
        Self::check_openable(&loc)?;
        let fd = Self::open_loc(&loc, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
        regular_file(fd)
    }

    /// Checks that the directory `path` may be entered, as chdir(2) would: the walk uses
    /// `O_PATH`, which never checks the last directory's own search permission, so look up
    /// `.` inside it (EACCES without search permission).
    pub fn check_search(&self, path: &VPath) -> io::Result<()> {
        let loc = self.resolve(path, true)?;
        self.check(&loc, Need::Enter)?;
        let fd = Self::open_loc(&loc, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        rustix::fs::statat(&fd, c".", AtFlags::empty())?;
        Ok(())
    }

    /// Whether the directory `path` may be listed (before a data connection is opened;
    /// [`Jail::open_dir`] decides again).
    pub fn check_list(&self, path: &VPath) -> io::Result<()> {
        self.check(&self.resolve(path, true)?, Need::Read)
    }

    /// Opens a directory for reading its entries.
    pub fn open_dir(&self, path: &VPath) -> io::Result<OwnedFd> {
        let loc = self.resolve(path, true)?;
        self.check(&loc, Need::Read)?;
        Self::open_loc(&loc, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
    }

    /// Opens (creating if needed) a regular file for writing in place, for APPE and REST+STOR;
    /// with its directory (to sync once the upload is complete).
    /// Also says how big the file was (None: it is new).
    fn open_write_in_place(
        &self,
        path: &VPath,
        append: bool,
    ) -> io::Result<(File, OwnedFd, Option<u64>)> {
        let loc = self.resolve(path, true)?;
        self.check(&loc, Need::Write)?;
        let old = Self::check_openable(&loc)?.map(|m| m.size);
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK;
        if append {
            flags |= OFlags::APPEND;
        }
        let fd = Self::open_loc(&loc, flags, self.file_mode())?;
        let (file, meta) = regular_file(fd)?;
        // SECURITY: a file a client writes to keeps no set-id or sticky bit.
        if meta.mode & 0o7000 != 0 {
            rustix::fs::fchmod(&file, Mode::from_bits_truncate(meta.mode & 0o777))?;
        }
        Ok((file, loc.dir, old))
    }

    /// The directory that holds `path` and its name there, for removing or renaming it
    /// (SECURITY: [`Jail::check_movable`]) or making it (`need`: [`Need::Write`]).
    fn parent_and_name(&self, path: &VPath, making: bool) -> io::Result<(OwnedFd, CString)> {
        let loc = self.resolve(path, false)?;
        if making {
            self.check(&loc, Need::Write)?;
        } else {
            self.check_movable(&loc)?;
        }
        match loc.name {
            Some(n) => Ok((loc.dir, cname(&n)?)),
            // The root (or a path that resolves to a directory as a whole) cannot be removed
            // or renamed by a client.
            None => Err(err(rustix::io::Errno::BUSY)),
        }
    }

    /// Creates a directory.
    /// The new directory is on the disk before the reply (its parent is synced): files
    /// uploaded into it are made durable by their own commit, which syncs only their
    /// directory, and without a journal (vfat) the new directory would otherwise vanish in
    /// a power cut with every acknowledged file in it.
    pub fn mkdir(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path, true)?;
        rustix::fs::mkdirat(&dir, &name, Mode::from_bits_truncate(0o777 & !self.umask))?;
        in_disk_order(|| sync_dir(&dir))
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path, false)?;
        Ok(rustix::fs::unlinkat(&dir, &name, AtFlags::REMOVEDIR)?)
    }

    /// Removes a file (or a symlink itself, never its target).
    pub fn unlink(&self, path: &VPath) -> io::Result<()> {
        let (dir, name) = self.parent_and_name(path, false)?;
        let st = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = FileType::from_raw_mode(st.st_mode as _);
        if kind == FileType::Directory {
            return Err(err(rustix::io::Errno::ISDIR));
        }
        rustix::fs::unlinkat(&dir, &name, AtFlags::empty())?;
        if let Some(q) = &self.quota
            && kind == FileType::RegularFile
        {
            q.changed(Some(Meta::from_stat(&st).size), None);
        }
        Ok(())
    }

    /// Whether `path` exists and may be renamed (RNFR, before its RNTO).
    pub fn check_rename_from(&self, path: &VPath) -> io::Result<()> {
        let loc = self.resolve(path, false)?;
        self.check_movable(&loc)?;
        self.stat_loc(&loc).map(|_| ())
    }

    /// Renames `from` to `to` (replacing a file at `to`, as rename(2) does).
    pub fn rename(&self, from: &VPath, to: &VPath) -> io::Result<()> {
        let (fdir, fname) = self.parent_and_name(from, false)?;
        let (tdir, tname) = self.parent_and_name(to, false)?;
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

    /// Changes permission bits (SITE CHMOD), through an opened descriptor for the same
    /// reason. SECURITY: only the permission bits: no set-uid, set-gid or sticky bit (an
    /// anonymous writer could otherwise make a set-uid file owned by the server's user).
    pub fn chmod(&self, path: &VPath, mode: u32) -> io::Result<()> {
        let fd = self.open_any(path)?;
        Ok(rustix::fs::fchmod(
            &fd,
            Mode::from_bits_truncate(mode & 0o777),
        )?)
    }

    /// Opens a file or a directory to change its metadata; anything else is refused
    /// unopened.
    fn open_any(&self, path: &VPath) -> io::Result<OwnedFd> {
        let loc = self.resolve(path, true)?;
        self.check(&loc, Need::Write)?;
        let flags = match Self::check_openable(&loc) {
            Ok(Some(_)) => OFlags::RDONLY | OFlags::NONBLOCK,
            Ok(None) => return Err(err(rustix::io::Errno::NOENT)),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error()) => {
                OFlags::RDONLY | OFlags::DIRECTORY
            }
            Err(e) => return Err(e),
        };
        let fd = Self::open_loc(&loc, flags, Mode::empty())?;
        let kind = Meta::from_stat(&rustix::fs::fstat(&fd)?).kind;
        if kind != Kind::File && kind != Kind::Dir {
            return Err(not_regular());
        }
        Ok(fd)
    }
}

/// The free space (for an unprivileged user) and the size of the file system `fd` is on,
/// in bytes.
pub fn free_space(fd: impl std::os::fd::AsFd) -> io::Result<(u64, u64)> {
    let st = rustix::fs::fstatvfs(fd)?;
    let unit = st.f_frsize.max(1);
    Ok((
        st.f_bavail.saturating_mul(unit),
        st.f_blocks.saturating_mul(unit),
    ))
}

/// `--min-free` reached: 452 Insufficient storage space for the client, the figures in
/// the log.
pub fn below_min_free(free: u64, floor: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!(
            "--min-free: {} KiB free on the disk, the floor is {} KiB",
            free >> 10,
            floor >> 10
        ),
    )
}

impl Jail {
    /// The free space and size of the file system `path`'s directory is on.
    pub fn space_at(&self, path: &VPath) -> io::Result<(u64, u64)> {
        free_space(&self.resolve(path, false)?.dir)
    }
}

/// Walks the directories below `root`, [`limits::SWEEP_DEPTH`] deep at most and never
/// through a symlink, calling `visit` with each entry's directory, name, type and depth
/// (0 for the root's own entries). For the start-up sweep and the quota's count.
fn walk_tree(root: &OwnedFd, visit: &mut dyn FnMut(&OwnedFd, &std::ffi::CStr, FileType, usize)) {
    fn walk(
        dir: &OwnedFd,
        depth: usize,
        visit: &mut dyn FnMut(&OwnedFd, &std::ffi::CStr, FileType, usize),
    ) {
        let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
            return;
        };
        let mut subdirs = Vec::new();
        for ent in entries.flatten() {
            let name = ent.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            visit(dir, name, ent.file_type(), depth);
            if ent.file_type() == FileType::Directory && depth < limits::SWEEP_DEPTH {
                subdirs.push(name.to_owned());
            }
        }
        for name in subdirs {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(fd) = rustix::fs::openat(dir, &name, flags, Mode::empty()) {
                walk(&fd, depth + 1, visit);
            }
        }
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if let Ok(fd) = rustix::fs::openat(root, c".", flags, Mode::empty()) {
        walk(&fd, 0, visit);
    }
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
    fn a_journal_answer_stands_for_its_file_system_and_seconds_only() {
        let a = JournalAnswer {
            fs: (0x801, 1 << 20, 65536),
            answer: true,
            until: 110,
        };
        assert_eq!(a.stands((0x801, 1 << 20, 65536), 100), Some(true));
        assert_eq!(a.stands((0x801, 1 << 20, 65536), 109), Some(true));
        // Its time is up: asked again.
        assert_eq!(a.stands((0x801, 1 << 20, 65536), 110), None);
        // Another device, or another file system on the same one.
        assert_eq!(a.stands((0x811, 1 << 20, 65536), 100), None);
        assert_eq!(a.stands((0x801, 1 << 21, 65536), 100), None);
        assert_eq!(a.stands((0x801, 1 << 20, 65537), 100), None);
    }
}
