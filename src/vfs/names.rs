//! Reading a directory's names (getdents, no stat) into one compact buffer, and sorting them
//! bytewise. A listing holds at most [`limits::LIST_SORT_BYTES`] of names (and one getdents
//! call's more): a directory whose names fit is read whole and sorted; a bigger one is read
//! and listed that much at a time ([`DirReader`]), in directory order. Entries are looked up
//! again, one by one, through the jail's descriptor.

use std::ffi::CStr;
use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{Jail, Meta, TEMP_PREFIX};
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

    /// Metadata of entry `name` of `dir` itself (a symlink is not followed). `None` when the
    /// entry vanished since the directory was read.
    ///
    /// statx(2) itself, read in place (`sys::statx_nofollow`), where rustix's stat on a
    /// 32-bit CPU is a statx turned into a `struct stat` and copied twice more (mipsel:
    /// 800 instructions an entry, of an MLSD line's 5,400). A kernel before 4.11 has none:
    /// stat then.
    pub fn stat_entry(&self, dir: &OwnedFd, name: &CStr) -> Option<Meta> {
        stat_with_nul(dir, name.to_bytes_with_nul())
    }

    /// [`Jail::stat_entry`] of `names`' entry `i`, read from the names as they are kept.
    pub fn stat_nth(&self, dir: &OwnedFd, names: &Names, i: usize) -> Option<Meta> {
        stat_with_nul(dir, names.with_nul(i))
    }

    /// The raw text of symlink `name` in `dir` (`None` if it is gone or is none).
    pub fn link_text(&self, dir: &OwnedFd, name: &CStr) -> Option<Vec<u8>> {
        let text = rustix::fs::readlinkat(dir, name, Vec::new()).ok()?;
        Some(text.into_bytes())
    }
}

/// [`Jail::stat_entry`] of `name`, a name and the NUL after it.
fn stat_with_nul(dir: &OwnedFd, name: &[u8]) -> Option<Meta> {
    match crate::sys::statx_nofollow(dir, name, Meta::from_statx) {
        Ok(m) => Some(m),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let name = CStr::from_bytes_with_nul(name).ok()?;
            let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
            Some(Meta::from_stat(&st))
        }
        Err(_) => None,
    }
}

/// The names of a directory's entries, kept in one buffer (each followed by its NUL, so
/// it can be handed to the kernel as is): some 30 bytes per entry instead of a heap string
/// each, and sorting moves 8-byte spans, never the names. A name holds no NUL of its own
/// (the kernel's names never do; [`Names::from_names`] leaves out one that would).
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

    /// Builds a list from plain names (tests, fuzzing), leaving out any with a NUL.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Names {
        let mut n = Names::default();
        for name in names {
            if !name.contains(&0) {
                n.push(name);
            }
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

    /// Name `i` and the NUL kept after it.
    pub fn with_nul(&self, i: usize) -> &[u8] {
        let (start, len) = self.spans[i];
        &self.buf[start as usize..=(start + len) as usize]
    }

    /// Name `i` as the kernel wants it.
    pub fn c_name(&self, i: usize) -> &CStr {
        // A kept name never holds a NUL (see [`Names`]): the fallback is unreachable.
        CStr::from_bytes_with_nul(self.with_nul(i)).unwrap_or(c"")
    }

    /// Sorts bytewise (as `ls` does in the C locale). A name's first 16 bytes, as one
    /// big-endian number, decide almost every comparison of real names (`IMG_0001.JPG`,
    /// `entry-00042.dat`) without touching the names themselves; the names are compared
    /// only when those are equal. The sort is [`merge_order`]'s, not std's: built for size,
    /// as the router binaries are (`optimize_for_size`), std's sorts are a heapsort and a
    /// merge sort that move each 24-byte (key, span) pair with a call to memcpy, and on
    /// mipsel sorting 2,000 names cost 1,850 instructions a name, a quarter of an MLSD's
    /// own work (qemu's count of the server's instructions).
    pub fn sort(&mut self) {
        let keys: Vec<u128> = (0..self.len()).map(|i| key(self.get(i))).collect();
        let keys = &keys[..];
        let order = merge_order(self.len(), |a, b| {
            let (ka, kb) = (keys[a], keys[b]);
            ka < kb || (ka == kb && self.get(a) < self.get(b))
        });
        self.spans = order.iter().map(|&i| self.spans[i as usize]).collect();
    }
}

/// A name's first 16 bytes as a big-endian number (zeros after a shorter name): keys
/// compare as the names' first 16 bytes do.
fn key(name: &[u8]) -> u128 {
    let mut k = [0u8; 16];
    // (Byte by byte: a copy of a length not known is a call to memcpy.)
    for (d, s) in k.iter_mut().zip(name) {
        *d = *s;
    }
    u128::from_be_bytes(k)
}

/// The positions `0..n` in the order `less` sorts them, stably: a bottom-up merge sort of
/// 4-byte positions (runs of 1, 2, 4... merged from one buffer into the other), about
/// n log2 n comparisons.
fn merge_order(n: usize, less: impl Fn(usize, usize) -> bool) -> Vec<u32> {
    let mut src: Vec<u32> = (0..n as u32).collect();
    let mut dst = vec![0u32; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        let (from, to) = (&src[..], &mut dst[..]);
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut a, mut b) = (start, mid);
            for slot in &mut to[start..end] {
                // Ties take the left run's first: stable.
                let take_b = a == mid || (b < end && less(from[b] as usize, from[a] as usize));
                if take_b {
                    *slot = from[b];
                    b += 1;
                } else {
                    *slot = from[a];
                    a += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    src
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

    // An entry's metadata from statx is what stat says of it, `unique`'s device included
    // (MLST of one file and MLSD of its folder name it alike).
    #[test]
    fn entries_from_statx_are_what_stat_says() {
        let d = std::env::temp_dir().join(format!("edgeftpd-statx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", d.join("l")).unwrap();
        let jail = Jail::open(&d).unwrap();
        let dir = jail.open_dir(&super::super::VPath::root()).unwrap();
        for name in [c"f", c"sub", c"l"] {
            let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).unwrap();
            assert_eq!(
                jail.stat_entry(&dir, name),
                Some(Meta::from_stat(&st)),
                "{name:?}"
            );
        }
        assert_eq!(jail.stat_entry(&dir, c"gone"), None);
        // A listing's names, read as they are kept, are the same.
        let names = Names::from_names([&b"f"[..], b"sub", b"l", b"gone", b"f\0sub"]);
        assert_eq!(names.len(), 4, "a name with a NUL is left out");
        for (i, name) in [c"f", c"sub", c"l", c"gone"].into_iter().enumerate() {
            assert_eq!(jail.stat_nth(&dir, &names, i), jail.stat_entry(&dir, name));
        }
        // A name without its NUL is never handed to the kernel.
        let e = crate::sys::statx_nofollow(&dir, b"f", |_| ()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        std::fs::remove_dir_all(&d).unwrap();
    }

    // The hand-made merge sort orders as std's stable sort does, ties in their first
    // order, at every length around the run widths it merges (1, 2, 4, ... 64).
    #[test]
    fn merge_order_sorts_stably_at_every_length() {
        let mut x: u32 = 1;
        for n in 0..130 {
            let v: Vec<u32> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) % 8
                })
                .collect();
            let got = merge_order(n, |a, b| v[a] < v[b]);
            let mut want: Vec<u32> = (0..n as u32).collect();
            want.sort_by_key(|&i| v[i as usize]);
            assert_eq!(got, want, "{n} values");
        }
    }
}
