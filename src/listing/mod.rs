//! Producing a directory listing. A directory whose names fit in
//! [`limits::LIST_SORT_BYTES`] is read whole, sorted, then each entry is stat'ed and
//! formatted in pieces (at most [`limits::LIST_CHUNK`] entries and
//! [`limits::LIST_PIECE_NAMES`] bytes of names) that are sent in order as soon as they are
//! ready. A bigger directory is listed in directory order, that many names at a time
//! (clients sort anyway). Either way a listing holds a bounded amount, whatever the
//! directory's size and however slowly the client reads.
//!
//! Stat'ing is nearly all of a listing's cost (a name lookup in the kernel per entry). On a
//! machine with more than one core, a big sorted directory's pieces are shared with helper
//! threads: each thread claims the next unclaimed piece and makes it; the session thread
//! sends them in order, making a piece itself whenever the next one to send is still being
//! made. Output is identical either way; one core means no helpers.
//!
//! ```text
//!  pieces (sorted names)  [ 0 | 1 | 2 | 3 | 4 | 5 | ... ]
//!  session thread:          make 0, send 0; make 2; send 1 (made by a helper), send 2; ...
//!  helper:                  make 1; make 3; make 4; ...  (at most LIST_AHEAD ahead of sending)
//! ```
//!
//! If the session thread panics (or the client stops the transfer), a guard tells the helpers
//! to stop: they never wait for a piece to be sent that never will be.

mod format;

pub use format::{facts, ls_line, timeval};

use std::ops::Range;
use std::os::fd::OwnedFd;
use std::sync::{Condvar, Mutex, OnceLock};

use crate::glob::Pattern;
use crate::limits;
use crate::vfs::{DirReader, Jail, Kind, Names, VPath};

/// Which listing: `LIST` (`ls -l` lines), `NLST` (names), `MLSD` (RFC 3659 facts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    Long,
    Names,
    Machine,
}

/// Which of a directory's names a listing shows.
pub enum Keep {
    /// Every name (MLSD, `LIST -a`).
    All,
    /// Names not starting with `.`, as `ls`.
    Visible,
    /// Names a shell pattern matches (`NLST *.txt`).
    Matching(Pattern),
}

impl Keep {
    pub fn accepts(&self, name: &[u8]) -> bool {
        match self {
            Keep::All => true,
            Keep::Visible => !name.starts_with(b"."),
            Keep::Matching(p) => p.matches(name),
        }
    }
}

/// A directory's entries to list: the names read so far (all of them, when `rest` is
/// `None`) and the reader of the rest.
pub struct Entries {
    pub names: Names,
    pub rest: Option<DirReader>,
    pub keep: Keep,
}

/// Everything needed to produce the lines of one listing.
pub struct Listing<'a> {
    pub jail: &'a Jail,
    /// The directory the names are in.
    pub dir: &'a OwnedFd,
    /// Its path in the jail (MLSD describes a symlink by its target, looked up from here).
    pub path: &'a VPath,
    pub style: Style,
    /// Put before each name by LIST and NLST (`NLST sub` lists `sub/a`, `sub/b`).
    pub prefix: &'a [u8],
    /// Whether the session may write (MLSD's `perm` fact).
    pub writable: bool,
    /// Seconds since the epoch, for `ls`'s recent/old date format.
    pub now: i64,
}

/// What a listing line takes, about: an MLSD line of a file with a 20-byte name is 120
/// bytes, an `ls -l` line 90.
const LINE_GUESS: usize = 128;

/// Cores this process may run on (its CPU affinity), looked up once. Not std's
/// `available_parallelism`, which also parses cgroup files: 8 KiB of code on MIPS for a
/// quota no router sets.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        rustix::thread::sched_getaffinity(None).map_or(1, |set| set.count().max(1) as usize)
    })
}

/// The pieces of a listing being made by several threads, under one lock.
struct Work {
    /// The next piece nobody has claimed yet.
    next: usize,
    /// Pieces sent so far (all before this one).
    sent: usize,
    /// Pieces made ahead of sending, by index.
    made: Vec<Option<Vec<u8>>>,
    /// Pieces a helper claimed and could not make (it panicked): the session thread makes
    /// them itself rather than wait forever.
    abandoned: Vec<usize>,
    /// The transfer ended early, or the session thread panicked: helpers stop.
    stop: bool,
}

/// Tells the helpers to stop when the session thread leaves [`Listing::stream_names`] in any
/// way, a panic included: otherwise they would wait for ever for pieces to be sent, and
/// `thread::scope` would never return (the session would hang, holding its slot).
struct StopHelpers<'a> {
    work: &'a Mutex<Work>,
    changed: &'a Condvar,
}

impl Drop for StopHelpers<'_> {
    fn drop(&mut self) {
        self.work.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.changed.notify_all();
    }
}

impl Listing<'_> {
    /// Appends the lines of entries `range` to `out`, looking the names up in `dir` (which
    /// is `self.dir` or a reopened copy). Entries that vanished since the directory was read
    /// are left out.
    fn render(&self, dir: &OwnedFd, names: &Names, range: Range<usize>, out: &mut Vec<u8>) {
        let mut prefixed = Vec::new();
        let mut head = format::Head::new();
        for i in range {
            let name = names.get(i);
            if self.style == Style::Names {
                out.extend_from_slice(self.prefix);
                out.extend_from_slice(name);
                out.extend_from_slice(b"\r\n");
                continue;
            }
            // (Metadata is borrowed, never moved: a move of it is a call to memcpy on
            // MIPS, where the listing code is built for size.)
            let Some(meta) = self.jail.stat_nth(dir, names, i) else {
                continue;
            };
            if self.style == Style::Long {
                let shown = if self.prefix.is_empty() {
                    name
                } else {
                    prefixed.clear();
                    prefixed.extend_from_slice(self.prefix);
                    prefixed.extend_from_slice(name);
                    &prefixed
                };
                let link = match meta.kind {
                    Kind::Symlink => self.jail.link_text(dir, names.c_name(i)),
                    _ => None,
                };
                format::ls_line_in(&mut head, out, shown, &meta, link.as_deref(), self.now);
            } else {
                // A symlink is described by what it points to inside the jail.
                let target;
                let m = match meta.kind {
                    Kind::Symlink => {
                        target = self.jail.stat(&self.path.child(name)).unwrap_or(meta);
                        &target
                    }
                    _ => &meta,
                };
                format::facts_line_in(&mut head, out, m, self.writable, name);
            }
        }
    }

    /// Streams the lines of `entries` to `send`, in order: sorted when all the names were
    /// read, else in directory order one getdents call at a time. `send` returns false to
    /// stop (the transfer failed or was aborted). An error reading the directory ends the
    /// listing early.
    pub fn stream(
        &self,
        entries: Entries,
        send: &mut dyn FnMut(&[u8]) -> bool,
    ) -> std::io::Result<()> {
        let Entries {
            mut names,
            rest,
            keep,
        } = entries;
        let Some(mut rest) = rest else {
            names.sort();
            self.stream_names(&names, send);
            return Ok(());
        };
        loop {
            if !self.stream_names(&names, send) {
                return Ok(());
            }
            names.clear();
            let more = rest.fill(&mut names, &|n| keep.accepts(n))?;
            if !more {
                self.stream_names(&names, send);
                return Ok(());
            }
        }
    }

    /// Helper threads worth starting for `names`.
    fn helpers_for(&self, names: &Names) -> usize {
        if self.style == Style::Names {
            return 0; // no stat: nothing worth sharing
        }
        (names.len() / limits::LIST_PARALLEL_MIN)
            .min(cores())
            .saturating_sub(1)
            .min(limits::LIST_HELPERS_MAX)
    }

    /// Where `names` is cut into pieces: at most [`limits::LIST_CHUNK`] entries and
    /// [`limits::LIST_PIECE_NAMES`] bytes of names each (what a piece's lines take follows).
    /// Piece `p` is `cuts[p]..cuts[p + 1]`.
    fn cuts(names: &Names) -> Vec<usize> {
        let mut cuts = vec![0];
        let (mut start, mut bytes) = (0, 0);
        for i in 0..names.len() {
            if i - start == limits::LIST_CHUNK || bytes >= limits::LIST_PIECE_NAMES {
                cuts.push(i);
                (start, bytes) = (i, 0);
            }
            bytes += names.name_len(i);
        }
        cuts.push(names.len());
        cuts
    }

    /// Streams the lines of `names` to `send` piece by piece, in order, sharing the work
    /// with helper threads where it is worth it; false when `send` said stop.
    ///
    /// With helpers, every thread claims the next unclaimed piece, makes it, and hands it
    /// over; the session thread sends the pieces in order, and makes one itself whenever
    /// the piece it must send next is still being made. Work is shared piece by piece, so no
    /// thread idles while another has a backlog, and helpers stay at most
    /// [`limits::LIST_AHEAD`] pieces ahead of what is sent (bounding what is held).
    /// (`send` is a trait object: one copy of this code serves every caller.)
    fn stream_names(&self, names: &Names, send: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        self.stream_with(names, self.helpers_for(names), send)
    }

    /// [`Self::stream_names`] with `helpers` threads.
    fn stream_with(
        &self,
        names: &Names,
        helpers: usize,
        send: &mut dyn FnMut(&[u8]) -> bool,
    ) -> bool {
        let cuts = Self::cuts(names);
        let piece = |p: usize| cuts[p]..cuts[p + 1];
        let pieces = cuts.len() - 1;
        // Room for a piece's lines at once (most are shorter than LINE_GUESS): grown a
        // doubling at a time, the buffer was copied whole each time.
        let mut out = Vec::with_capacity(names.len().min(limits::LIST_CHUNK) * LINE_GUESS);
        if helpers == 0 {
            for p in 0..pieces {
                out.clear();
                self.render(self.dir, names, piece(p), &mut out);
                if !out.is_empty() && !send(&out) {
                    return false;
                }
            }
            return true;
        }
        let work = Mutex::new(Work {
            next: 0,
            sent: 0,
            made: vec![None; pieces],
            abandoned: Vec::new(),
            stop: false,
        });
        let changed = Condvar::new();
        let lock = || work.lock().unwrap_or_else(|e| e.into_inner());
        std::thread::scope(|scope| {
            let _stop = StopHelpers {
                work: &work,
                changed: &changed,
            };
            for _ in 0..helpers {
                let (work, changed, cuts) = (&work, &changed, &cuts[..]);
                // No thread to be had (a process limit): the session thread does more.
                let _ = std::thread::Builder::new()
                    .name("edgeftpd-list".into())
                    .stack_size(limits::SESSION_STACK)
                    .spawn_scoped(scope, move || self.help(names, cuts, work, changed));
            }
            for p in 0..pieces {
                // Piece `p` to send: made by a helper, or made here.
                let piece = loop {
                    let mut w = lock();
                    if let Some(made) = w.made[p].take() {
                        break made;
                    }
                    let mine = if let Some(i) = w.abandoned.iter().position(|&a| a == p) {
                        Some(w.abandoned.swap_remove(i))
                    } else if w.next < pieces && w.next - w.sent < limits::LIST_AHEAD {
                        w.next += 1;
                        Some(w.next - 1)
                    } else {
                        None
                    };
                    match mine {
                        Some(q) => {
                            drop(w);
                            out.clear();
                            self.render(self.dir, names, piece(q), &mut out);
                            if q == p {
                                break std::mem::take(&mut out);
                            }
                            let room = Vec::with_capacity(out.capacity());
                            lock().made[q] = Some(std::mem::replace(&mut out, room));
                        }
                        // Being made by a helper: wait for it.
                        None => drop(changed.wait(w).unwrap_or_else(|e| e.into_inner())),
                    }
                };
                let ok = piece.is_empty() || send(&piece);
                lock().sent = p + 1;
                changed.notify_all();
                if !ok {
                    return false;
                }
            }
            true
        })
    }

    /// A helper thread of [`Self::stream`]: makes unclaimed pieces until there are none left
    /// or the transfer stopped.
    fn help(&self, names: &Names, cuts: &[usize], work: &Mutex<Work>, changed: &Condvar) {
        let pieces = cuts.len() - 1;
        // Its own open of the directory: threads looking up thousands of names through one
        // open file contend for its reference count in the kernel.
        let own = self.jail.reopen_dir(self.dir).ok();
        let dir = own.as_ref().unwrap_or(self.dir);
        let lock = || work.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let p = {
                let mut w = lock();
                loop {
                    if w.stop || w.next >= pieces {
                        return;
                    }
                    if w.next - w.sent < limits::LIST_AHEAD {
                        break;
                    }
                    w = changed.wait(w).unwrap_or_else(|e| e.into_inner());
                }
                w.next += 1;
                w.next - 1
            };
            let mut buf = Vec::with_capacity((cuts[p + 1] - cuts[p]) * LINE_GUESS);
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.render(dir, names, cuts[p]..cuts[p + 1], &mut buf)
            }));
            let mut w = lock();
            match made {
                Ok(()) => w.made[p] = Some(buf),
                Err(_) => w.abandoned.push(p),
            }
            drop(w);
            changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A directory of `n` empty files, removed when dropped.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn with_files(tag: &str, n: usize) -> Dir {
            let d = std::env::temp_dir().join(format!("edgeftpd-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                std::fs::File::create(d.join(format!("entry-{i:05}"))).unwrap();
            }
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    // A panic on the session thread while helpers were making pieces left them waiting for
    // ever for pieces to be sent: `thread::scope` never returned, and the session hung,
    // holding its slot. Now the panic ends the listing (and so the session) at once.
    #[test]
    fn a_panic_while_listing_stops_the_helpers() {
        let dir = Dir::with_files("list-panic", 3000);
        let (tx, rx) = mpsc::channel();
        let root = dir.0.clone();
        std::thread::spawn(move || {
            let jail = Jail::open(&root).unwrap();
            let fd = jail.open_dir(&VPath::root()).unwrap();
            let (names, rest) = jail.read_names(&fd, &|_| true).unwrap();
            assert!(rest.is_none() && names.len() == 3000);
            let listing = Listing {
                jail: &jail,
                dir: &fd,
                path: &VPath::root(),
                style: Style::Long,
                prefix: b"",
                writable: false,
                now: 0,
            };
            // One helper whatever the cores: it makes pieces ahead while the first is sent.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                listing.stream_with(&names, 1, &mut |_| panic!("forced by the test"))
            }));
            let _ = tx.send(r.is_err());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(true));
    }

    // Pieces are cut by entries and by bytes of names, so a piece of long names stays small.
    #[test]
    fn pieces_are_bounded_by_entries_and_name_bytes() {
        let short: Vec<Vec<u8>> = (0..1200).map(|i| format!("{i:04}").into_bytes()).collect();
        let names = Names::from_names(short.iter().map(|n| &n[..]));
        assert_eq!(Listing::cuts(&names), vec![0, 512, 1024, 1200]);
        let long: Vec<Vec<u8>> = (0..200).map(|i| format!("{i:0200}").into_bytes()).collect();
        let names = Names::from_names(long.iter().map(|n| &n[..]));
        let cuts = Listing::cuts(&names);
        assert_eq!(cuts[1], limits::LIST_PIECE_NAMES.div_ceil(200));
        assert_eq!(*cuts.last().unwrap(), 200);
        assert_eq!(Listing::cuts(&Names::default()), vec![0, 0]);
    }
}
