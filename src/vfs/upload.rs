//! Uploads: what each kind of upload writes to ([`Target`]: open, commit, clean-up), the
//! atomic STOR through a temporary file in the target's directory, STOU's unique names, and
//! the start-up sweep of temporary files a crash left behind. The temporary names carry a
//! reserved prefix; nothing else in the server creates or removes such names.
//!
//! | kind | writes to | commit | cut off by the network | failed or aborted |
//! |---|---|---|---|---|
//! | STOR | a temporary file | synced, renamed over the name, synced again, directory synced | kept if the name was free | removed |
//! | REST+STOR | the file, truncated at the offset | synced, directory synced | kept | kept |
//! | APPE | the file, appended to | synced, directory synced | kept | kept |
//! | STOU | a new file under a name of ours | synced, directory synced | removed | removed |
//!
//! (On FAT "directory synced" is the directory and its parent: see [`super::sync_entries`].)
//!
//! A commit is what the 226 reply stands for: the data and the name are on the disk, so
//! an acknowledged upload survives a power cut (a router's USB disk loses power with it).
//!
//! In a drop box (a folder whose right is `upload`) a STOR makes only new files: the commit
//! never replaces a name that appeared meanwhile (`RENAME_NOREPLACE`), and what the network
//! cut off is dropped (its uploader could neither resume nor replace it).
//!
//! An upload's room is the target's to say ([`Target::room`]): how many bytes it may still
//! receive under `--max-upload` and the home's quota ([`super::quota`]), and how far the
//! disk is above `--min-free`; [`Jail::check_upload`] refuses one with no room at all
//! before its data connection. [`Target::commit`] and [`Target::keep_partial`] tell the
//! home's usage what the file is now. (The upload hook runs from the session, after the
//! 226.)

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{Jail, Kind, Meta, Need, Right, Usage, cname, err, in_disk_order, sync_entries};
use crate::limits;
use crate::vfs::VPath;

/// Prefix of the temporary files uploads are written to before being renamed into place.
/// Files with this prefix are hidden from listings and removed at start-up if stale.
pub const TEMP_PREFIX: &[u8] = b".edgeftpd-upload.";

/// The bounds of every upload of a jail besides its quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// `--max-upload`: the largest file an upload may make, in bytes.
    pub max_size: Option<u64>,
    /// `--min-free`: the free space uploads must leave on their file system.
    pub min_free: Option<MinFree>,
}

/// `--min-free`: bytes, or a share of the file system's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinFree {
    Bytes(u64),
    Percent(u8),
}

impl MinFree {
    /// The floor in bytes on a file system of `total` bytes.
    pub fn floor(self, total: u64) -> u64 {
        match self {
            MinFree::Bytes(b) => b,
            MinFree::Percent(p) => total / 100 * u64::from(p),
        }
    }
}

/// How much one upload may write, as the transfer keeps it.
#[derive(Clone, Copy, Debug)]
pub struct Room {
    /// Bytes it may still receive (`--max-upload` and the quota, less where it starts).
    pub limit: Option<u64>,
    /// `--min-free`: the floor, and how far above it the disk was at the upload's start.
    pub min_free: Option<(u64, u64)>,
}

/// The kinds of upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadKind {
    /// STOR: the whole file, atomically.
    Stor,
    /// REST n + STOR: the file from offset n on, written in place.
    Resume(u64),
    /// APPE: appended to the file (created if missing).
    Append,
    /// STOU: a new file under a name made from the path's last component.
    Unique,
}

/// Where one upload's data goes, and what becomes of it: [`Target::commit`] when every byte
/// arrived, [`Target::keep_partial`] when the network cut it off, dropped otherwise.
pub struct Target {
    file: File,
    path: VPath,
    how: How,
    /// Under a quota: the home's usage, and the size of the file replaced or written to
    /// (None: a new file).
    quota: Option<(Arc<Usage>, Option<u64>)>,
    room: Room,
    /// An atomic upload's name is marked from its start until it is in place or the upload
    /// is dropped (pending.rs); what is written in place or under a name of its own is
    /// visible as it grows. (Last, so dropped after the temporary file is gone.)
    marked: Option<super::pending::Uploading>,
}

enum How {
    Atomic(Upload),
    /// Written in place, in this directory.
    InPlace(OwnedFd),
    /// STOU's file under the name it was given: removed unless committed.
    Unique {
        dir: OwnedFd,
        name: CString,
        done: bool,
    },
}

/// The commit on ext3/ext4 with a journal. The data is on the disk already
/// (sync_data); the blocks it was given, the file's size and the rename are metadata of
/// the running transaction, and fsync of the file commits it, all three at once (and
/// every transaction before it, the folder's own included): one journal commit and one
/// cache flush for a 226, where [`Target::sync_and_name`] costs two commits and a third
/// flush. A power cut before the commit leaves the old state whole, one after it the
/// new. No [`super::DISK_ORDER`] (a transaction is never half on the disk): uploads
/// that end together share a commit, which the journal makes for all of them at once.
fn name_in_journal(up: &mut Upload, file: &File) -> io::Result<()> {
    let _replaced = up.hold_replaced();
    up.commit()?;
    file.sync_all()
}

impl Target {
    /// The file the data is written to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The path the upload is stored under (for STOU, the name it was given).
    pub fn path(&self) -> &VPath {
        &self.path
    }

    /// Whether what arrived is kept when the network cuts the upload off: where keeping it
    /// can't hurt (a new file, or one written in place), so SIZE shows it and REST+STOR or
    /// APPE can complete it, as with vsftpd and pure-ftpd. An overwrite cut short is
    /// dropped and the old file stays; STOU's made-up name is no use to a client.
    pub fn keeps_partial(&self) -> bool {
        match &self.how {
            How::Atomic(up) => up.new && !up.no_replace,
            How::InPlace(_) => true,
            How::Unique { .. } => false,
        }
    }

    /// Makes the upload the file under its name, once every byte arrived, durably: the data
    /// is synced first (a rename must never point the name at data still in the page cache:
    /// after a power cut it would be an empty or torn file), then the name is put in place,
    /// then the directory is synced (else the new name itself may be lost). Only then may
    /// the client be told 226. A failure leaves the old file as it was (STOR) and is a 451.
    /// The data goes to the disk first, alone; the rest is done in [`super::DISK_ORDER`].
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(m) = &self.marked {
            m.committing();
        }
        crate::sys::sync_data(&self.file, true)?;
        match &mut self.how {
            How::Atomic(up) if super::journaled(&up.dir) => name_in_journal(up, &self.file)?,
            _ => in_disk_order(|| self.sync_and_name())?,
        }
        self.count();
        Ok(())
    }

    /// How much this upload may write: the transfer stops it past its limit (552) or when
    /// the disk reaches the `--min-free` floor (452).
    pub fn room(&self) -> Room {
        self.room
    }

    /// Under a quota: the file is what it is now; the home's usage follows.
    fn count(&self) {
        if let Some((usage, old)) = &self.quota {
            let now = self.file.metadata().map_or(0, |m| m.len());
            usage.changed(*old, Some(now));
        }
    }

    fn sync_and_name(&mut self) -> io::Result<()> {
        match &mut self.how {
            How::Atomic(up) => {
                self.file.sync_data()?;
                // The file replaced stays open until the new name is on the disk: on FAT its
                // clusters are freed when its last reference goes, and a background
                // writeback of the FAT in between would leave the name pointing at freed
                // clusters (which fsck then cuts to nothing: the old version lost too).
                let _replaced = up.hold_replaced();
                up.commit()?;
                // On FAT a file's metadata (its start and size) lives in its directory
                // entry, which the rename moved: it is written by syncing the file itself.
                self.file.sync_all()?;
                sync_entries(&up.dir)
            }
            How::InPlace(dir) => {
                self.file.sync_data()?;
                sync_entries(dir)
            }
            How::Unique { dir, done, .. } => {
                self.file.sync_data()?;
                sync_entries(dir)?;
                *done = true;
                Ok(())
            }
        }
    }

    /// The network cut the upload off: what arrived becomes the file where
    /// [`Target::keeps_partial`] says so, else it goes. True when a new file was made of it
    /// (what is written in place stays anyway).
    pub fn keep_partial(mut self) -> io::Result<bool> {
        let kept = match &mut self.how {
            How::Atomic(up) if up.new && !up.no_replace => up.commit().map(|()| true)?,
            How::InPlace(_) => {
                self.count();
                return Ok(false);
            }
            _ => false,
        };
        if kept {
            self.count();
        }
        Ok(kept)
    }
}

impl Drop for How {
    fn drop(&mut self) {
        if let How::Unique {
            dir,
            name,
            done: false,
        } = self
        {
            let _ = rustix::fs::unlinkat(&*dir, &*name, AtFlags::empty());
        }
    }
}

impl Jail {
    /// Opens what an upload of `kind` to `path` writes to. Nothing existing is changed
    /// before the data arrives but a resumed file's tail past the offset (REST+STOR, as
    /// every server does); a new or temporary file is created.
    /// `client` is the uploading session's control socket (see pending.rs).
    pub fn open_upload(
        &self,
        path: &VPath,
        kind: UploadKind,
        client: std::os::fd::RawFd,
    ) -> io::Result<Target> {
        let (file, path, how, old) = match kind {
            UploadKind::Stor => {
                let (file, up) = self.create_upload(path)?;
                let old = up.old;
                (file, path.clone(), How::Atomic(up), old)
            }
            UploadKind::Resume(offset) => {
                let (mut file, dir, old) = self.open_write_in_place(path, false)?;
                file.set_len(offset)?;
                file.seek(SeekFrom::Start(offset))?;
                (file, path.clone(), How::InPlace(dir), old)
            }
            UploadKind::Append => {
                let (file, dir, old) = self.open_write_in_place(path, true)?;
                (file, path.clone(), How::InPlace(dir), old)
            }
            UploadKind::Unique => {
                let base = path.file_name().unwrap_or(b"ftp").to_vec();
                let (file, dir, name, made) = self.create_unique(&path.parent(), &base)?;
                let how = How::Unique {
                    dir,
                    name,
                    done: false,
                };
                (file, made, how, None)
            }
        };
        // Under a quota: is there room at all (552 now, nothing written), and how much?
        let (quota, quota_max) = match &self.quota {
            Some(usage) => (Some((Arc::clone(usage), old)), usage.room(old)?),
            None => (None, None),
        };
        let start = match kind {
            UploadKind::Append => file.metadata().map_or(0, |m| m.len()),
            UploadKind::Resume(offset) => offset,
            UploadKind::Stor | UploadKind::Unique => 0,
        };
        let limit = [self.bounds.max_size, quota_max]
            .into_iter()
            .flatten()
            .min()
            .map(|max| max.saturating_sub(start));
        let min_free = match self.bounds.min_free {
            Some(min) => {
                let (free, total) = super::free_space(&file)?;
                let floor = min.floor(total);
                Some((floor, free.saturating_sub(floor)))
            }
            None => None,
        };
        let marked = match &how {
            How::Atomic(up) => Some(super::pending::uploading(
                &up.dir,
                up.target.to_bytes(),
                client,
            )),
            _ => None,
        };
        Ok(Target {
            file,
            path,
            how,
            quota,
            room: Room { limit, min_free },
            marked,
        })
    }

    /// Whether the account may upload to `path` at all, and whether the disk has room above
    /// `--min-free` (before a data connection is opened); [`Jail::open_upload`] decides
    /// again, on what it finds.
    pub fn check_upload(&self, path: &VPath, kind: UploadKind) -> io::Result<()> {
        // Nothing to check for an account that may write anywhere, with no quota: no walk
        // and no stat on the way to every upload of a camera's.
        if !self.rights.is_all_write() || self.quota.is_some() {
            let old = match kind {
                UploadKind::Unique => {
                    self.check(&self.resolve(&path.parent(), true)?, Need::Create)?;
                    None
                }
                UploadKind::Stor => self.stor_target(&self.resolve(path, false)?)?,
                UploadKind::Resume(_) | UploadKind::Append => {
                    let loc = self.resolve(path, true)?;
                    self.check(&loc, Need::Write)?;
                    Self::check_openable(&loc)?
                }
            };
            // Under a quota, a full home refuses the upload before its data connection.
            if let Some(usage) = &self.quota {
                usage.room(old.filter(|m| m.kind == Kind::File).map(|m| m.size))?;
            }
        }
        if let Some(min) = self.bounds.min_free {
            let (free, total) = self.space_at(path)?;
            let floor = min.floor(total);
            if free < floor {
                return Err(super::below_min_free(free, floor));
            }
        }
        Ok(())
    }

    /// What a STOR to `loc` would replace (None: a new name), once the account's right to
    /// do that there is checked. SECURITY: a new name needs the right to upload, an
    /// existing one the right to write.
    fn stor_target(&self, loc: &super::Loc) -> io::Result<Option<Meta>> {
        // (Nothing about a folder the account can't enter, not even whether a name is free.)
        self.check(loc, Need::Enter)?;
        let Some(name) = &loc.name else {
            return Err(err(rustix::io::Errno::ISDIR));
        };
        let c = cname(name)?;
        let old = match rustix::fs::statat(&loc.dir, &c, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(Meta::from_stat(&st)),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(e.into()),
        };
        self.check(
            loc,
            if old.is_some() {
                Need::Write
            } else {
                Need::Create
            },
        )?;
        if old.is_some_and(|m| m.kind == Kind::Dir) {
            return Err(err(rustix::io::Errno::ISDIR));
        }
        Ok(old)
    }

    /// Starts an atomic upload to `path`: a new temporary file in the same directory that
    /// [`Upload::commit`] renames over the target. Until then the old file is untouched.
    fn create_upload(&self, path: &VPath) -> io::Result<(File, Upload)> {
        let loc = self.resolve(path, false)?;
        let old = self.stor_target(&loc)?;
        let c = cname(loc.name.as_deref().unwrap_or_default())?;
        let (fd, tmp) = create_temp(&loc.dir, self.file_mode())?;
        let upload = Upload {
            old: old.filter(|m| m.kind == Kind::File).map(|m| m.size),
            no_replace: self.rights.at(&loc.parts()) != Right::Write,
            dir: loc.dir,
            tmp,
            target: c,
            done: false,
            new: old.is_none(),
        };
        // A replaced file keeps its permission bits. SECURITY: but no set-id or sticky bit.
        if let Some(m) = old.filter(|m| m.kind == Kind::File) {
            rustix::fs::fchmod(&fd, Mode::from_bits_truncate(m.mode & 0o777))?;
        }
        Ok((File::from(fd), upload))
    }

    /// Creates a file that does not exist yet (STOU), trying `base`, then `base.1`, `base.2`...
    /// Returns it, its directory and name there, and its path.
    fn create_unique(
        &self,
        dir: &VPath,
        base: &[u8],
    ) -> io::Result<(File, OwnedFd, CString, VPath)> {
        let dloc = self.resolve(dir, true)?;
        self.check(&dloc, Need::Create)?;
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
            let c = cname(&name)?;
            match rustix::fs::openat(&dfd, c.as_c_str(), flags, self.file_mode()) {
                Ok(fd) => return Ok((File::from(fd), dfd, c, dir.child(&name))),
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(err(rustix::io::Errno::EXIST))
    }

    /// Removes stale temporary upload files (ours only, by name) below the root; bounded depth.
    pub fn sweep_temp_files(&self) -> usize {
        let mut removed = 0;
        super::walk_tree(&self.root, &mut |dir, name, kind, _| {
            if name.to_bytes().starts_with(TEMP_PREFIX)
                && kind == FileType::RegularFile
                && rustix::fs::unlinkat(dir, name, AtFlags::empty()).is_ok()
            {
                removed += 1;
            }
        });
        removed
    }
}

/// An atomic upload's temporary file: removed on drop unless committed.
struct Upload {
    dir: OwnedFd,
    tmp: CString,
    target: CString,
    done: bool,
    /// Nothing had the target's name when the upload started.
    new: bool,
    /// A drop box: the commit fails (EEXIST) rather than replace a file.
    no_replace: bool,
    /// The size of the file it replaces.
    old: Option<u64>,
}

impl Upload {
    /// The file the upload replaces, opened (None for a new name, or what can't be opened
    /// without following a link or blocking).
    fn hold_replaced(&self) -> Option<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        (!self.new)
            .then(|| rustix::fs::openat(&self.dir, &self.target, flags, Mode::empty()).ok())
            .flatten()
    }

    /// Renames the finished temporary file over the target, atomically (in a drop box,
    /// only to a name still free).
    fn commit(&mut self) -> io::Result<()> {
        if self.no_replace {
            use rustix::fs::RenameFlags;
            let flags = RenameFlags::NOREPLACE;
            match rustix::fs::renameat_with(&self.dir, &self.tmp, &self.dir, &self.target, flags) {
                Ok(()) => {}
                // A file system without RENAME_NOREPLACE (older vfat): look, then rename.
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                    match rustix::fs::statat(&self.dir, &self.target, AtFlags::SYMLINK_NOFOLLOW) {
                        Err(rustix::io::Errno::NOENT) => {
                            rustix::fs::renameat(&self.dir, &self.tmp, &self.dir, &self.target)?
                        }
                        Ok(_) => return Err(err(rustix::io::Errno::EXIST)),
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            rustix::fs::renameat(&self.dir, &self.tmp, &self.dir, &self.target)?;
        }
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

fn create_temp(dir: &OwnedFd, mode: Mode) -> io::Result<(OwnedFd, CString)> {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    for _ in 0..limits::MAX_UNIQUE_TRIES {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = TEMP_PREFIX.to_vec();
        name.extend_from_slice(format!("{pid}.{n}").as_bytes());
        let c = cname(&name)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(dir.as_fd(), &c, flags, mode) {
            Ok(fd) => return Ok((fd, c)),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(err(rustix::io::Errno::EXIST))
}
