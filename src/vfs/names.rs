//! Reading a directory's names (getdents, no stat) into one compact buffer, and sorting them
//! bytewise. A listing holds at most [`limits::LIST_SORT_BYTES`] of names (and one getdents
//! call's more): a directory whose names fit is read whole and sorted; a bigger one is read
//! and listed that much at a time ([`DirReader`]), in directory order. Entries are looked up
//! again, one by one, through the jail's descriptor.

use std::ffi::CStr;
use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{Jail, Kind, Meta, TEMP_PREFIX};
use crate::limits;

/// A directory being read one getdents call at a time.
pub struct DirReader {
    /// A `dup` of the listing's descriptor: the two share the read position, and the
    /// listing looks entries up through its own.
    fd: OwnedFd,
    buf: Vec<std::mem::MaybeUninit<u8>>,
}

impl DirReader {
    /// Appends to `names` the names `keep` accepts until they take more than
    /// [`limits::LIST_SORT_BYTES`]; false once the directory has no more.
    pub fn fill(&mut self, names: &mut Names, keep: &dyn Fn(&[u8]) -> bool) -> io::Result<bool> {
        while self.next_batch(names, keep)? {
            if names.bytes() > limits::LIST_SORT_BYTES {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Appends to `names` the names of one getdents call that `keep` accepts (never `.`,
    /// `..` or our temporary upload files). False once the directory has no more.
    fn next_batch(&mut self, names: &mut Names, keep: &dyn Fn(&[u8]) -> bool) -> io::Result<bool> {
        let mut entries = rustix::fs::RawDir::new(&self.fd, &mut self.buf);
        loop {
            let Some(ent) = entries.next() else {
                return Ok(false);
            };
            let ent = ent?;
            let name = ent.file_name().to_bytes();
            if name != b"." && name != b".." && !name.starts_with(TEMP_PREFIX) && keep(name) {
                names.push(name);
            }
            if entries.is_buffer_empty() {
                return Ok(true);
            }
        }
    }
}

impl Jail {
    /// The names in a directory that `keep` accepts (getdents, no stat). `dir` must be
    /// freshly opened: it is read from its current position. All of them when they fit in
    /// [`limits::LIST_SORT_BYTES`]; else those read so far and the reader for the rest.
    pub fn read_names(
        &self,
        dir: &OwnedFd,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<(Names, Option<DirReader>)> {
        let mut reader = DirReader {
            fd: dir.try_clone()?,
            buf: vec![std::mem::MaybeUninit::<u8>::uninit(); limits::GETDENTS_BUF],
        };
        let mut names = Names::default();
        let more = reader.fill(&mut names, keep)?;
        Ok((names, more.then_some(reader)))
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

    /// Length of name `i`.
    pub fn name_len(&self, i: usize) -> usize {
        self.spans[i].1 as usize
    }

    /// What the names take: their bytes and a span each.
    pub fn bytes(&self) -> usize {
        self.buf.len() + self.spans.len() * std::mem::size_of::<(u32, u32)>()
    }

    /// Forgets every name (keeping the buffers for the next batch).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
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
        let mut n = Names::from_names(input.into_iter().filter(|name| name != b"b"));
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
}
