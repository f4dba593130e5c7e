//! Producing a directory listing: the names are read in one pass and sorted first, then each
//! entry is stat'ed and formatted in pieces of [`limits::LIST_CHUNK`] entries that are sent in
//! order as soon as they are ready. A listing is never held whole, so a huge directory costs
//! its names (about 30 bytes an entry) and a few pieces of output.
//!
//! Stat'ing is nearly all of a listing's cost (a name lookup in the kernel per entry). On a
//! machine with more than one core, a big directory's pieces are shared with helper threads:
//! each thread claims the next unclaimed piece and makes it; the session thread sends them in
//! order, making a piece itself whenever the next one to send is still being made. Output is
//! identical either way; one core means no helpers.
//!
//! ```text
//!  pieces (sorted names)  [ 0 | 1 | 2 | 3 | 4 | 5 | ... ]
//!  session thread:          make 0, send 0; make 2; send 1 (made by a helper), send 2; ...
//!  helper:                  make 1; make 3; make 4; ...  (at most LIST_AHEAD ahead of sending)
//! ```

mod format;

pub use format::{facts, ls_line, timeval};

use std::ops::Range;
use std::os::fd::OwnedFd;
use std::sync::{Condvar, Mutex, OnceLock};

use crate::limits;
use crate::vfs::{Jail, Kind, Names, VPath};

/// Which listing: `LIST` (`ls -l` lines), `NLST` (names), `MLSD` (RFC 3659 facts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    Long,
    Names,
    Machine,
}

/// Everything needed to produce the lines of one listing.
pub struct Listing<'a> {
    pub jail: &'a Jail,
    /// The directory the names are in.
    pub dir: &'a OwnedFd,
    /// Its path in the jail (MLSD describes a symlink by its target, looked up from here).
    pub path: &'a VPath,
    /// Sorted names to list.
    pub names: &'a Names,
    pub style: Style,
    /// Put before each name by LIST and NLST (`NLST sub` lists `sub/a`, `sub/b`).
    pub prefix: &'a [u8],
    /// Whether the session may write (MLSD's `perm` fact).
    pub writable: bool,
    /// Seconds since the epoch, for `ls`'s recent/old date format.
    pub now: i64,
}

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
    /// The transfer ended early: helpers stop.
    stop: bool,
}

impl Listing<'_> {
    /// Appends the lines of entries `range` to `out`, looking the names up in `dir` (which
    /// is `self.dir` or a reopened copy). Entries that vanished since the directory was read
    /// are left out.
    fn render(&self, dir: &OwnedFd, range: Range<usize>, out: &mut Vec<u8>) {
        let mut prefixed = Vec::new();
        for i in range {
            let name = self.names.get(i);
            if self.style == Style::Names {
                out.extend_from_slice(self.prefix);
                out.extend_from_slice(name);
                out.extend_from_slice(b"\r\n");
                continue;
            }
            let Some((meta, link)) = self.jail.stat_entry(dir, self.names.c_name(i)) else {
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
                ls_line(out, shown, &meta, link.as_deref(), self.now);
            } else {
                // A symlink is described by what it points to inside the jail.
                let m = if meta.kind == Kind::Symlink {
                    self.jail.stat(&self.path.child(name)).unwrap_or(meta)
                } else {
                    meta
                };
                facts(out, &m, false, self.writable);
                out.extend_from_slice(name);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// The entries of piece `p`.
    fn piece(&self, p: usize) -> Range<usize> {
        p * limits::LIST_CHUNK..((p + 1) * limits::LIST_CHUNK).min(self.names.len())
    }

    /// Streams the lines to `send` piece by piece ([`limits::LIST_CHUNK`] entries), in
    /// order. `send` returns false to stop (the transfer failed or was aborted).
    ///
    /// With helpers, every thread claims the next unclaimed piece, makes it, and hands it
    /// over; the session thread sends the pieces in order, and makes one itself whenever
    /// the piece it must send next is still being made. Work is shared piece by piece, so no
    /// thread idles while another has a backlog, and helpers stay at most
    /// [`limits::LIST_AHEAD`] pieces ahead of what is sent (bounding what is held).
    /// (`send` is a trait object: one copy of this code serves every caller.)
    pub fn stream(&self, send: &mut dyn FnMut(&[u8]) -> bool) {
        let n = self.names.len();
        let pieces = n.div_ceil(limits::LIST_CHUNK);
        let helpers = if self.style == Style::Names {
            0 // no stat: nothing worth sharing
        } else {
            (n / limits::LIST_PARALLEL_MIN)
                .min(cores())
                .saturating_sub(1)
                .min(limits::LIST_HELPERS_MAX)
        };
        let mut out = Vec::new();
        if helpers == 0 {
            for p in 0..pieces {
                out.clear();
                self.render(self.dir, self.piece(p), &mut out);
                if !out.is_empty() && !send(&out) {
                    return;
                }
            }
            return;
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
            for _ in 0..helpers {
                let (work, changed) = (&work, &changed);
                // No thread to be had (a process limit): the session thread does more.
                let _ = std::thread::Builder::new()
                    .name("edgeftpd-list".into())
                    .stack_size(limits::SESSION_STACK)
                    .spawn_scoped(scope, move || self.help(work, changed, pieces));
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
                            self.render(self.dir, self.piece(q), &mut out);
                            if q == p {
                                break std::mem::take(&mut out);
                            }
                            lock().made[q] = Some(std::mem::take(&mut out));
                        }
                        // Being made by a helper: wait for it.
                        None => drop(changed.wait(w).unwrap_or_else(|e| e.into_inner())),
                    }
                };
                let ok = piece.is_empty() || send(&piece);
                let mut w = lock();
                w.sent = p + 1;
                w.stop = !ok;
                drop(w);
                changed.notify_all();
                if !ok {
                    return;
                }
            }
        });
    }

    /// A helper thread of [`Self::stream`]: makes unclaimed pieces until there are none left
    /// or the transfer stopped.
    fn help(&self, work: &Mutex<Work>, changed: &Condvar, pieces: usize) {
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
            let mut buf = Vec::new();
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.render(dir, self.piece(p), &mut buf)
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
