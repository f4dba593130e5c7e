//! Producing a directory listing: the names are read in one pass and sorted first, then each
//! entry is stat'ed and formatted in pieces of [`limits::LIST_CHUNK`] entries that are sent as
//! soon as they are ready. A listing is never held whole, so a huge directory costs its names
//! (about 30 bytes an entry) and one piece of output.
//!
//! Stat'ing is nearly all of a listing's cost (a name lookup in the kernel per entry). On a
//! machine with more than one core, a big directory is split into contiguous ranges: helper
//! threads stat and format the later ranges while the session thread streams the first, then
//! their output follows in order. Output is identical either way; one core means no helpers.
//!
//! ```text
//!  names (sorted)  [ 0 ......... n/3 | n/3 ....... 2n/3 | 2n/3 ........ n ]
//!                    session thread:   helper 1:          helper 2:
//!                    stat+format+send  stat+format        stat+format
//!                    piece by piece    -> buffer ---send-> -> buffer ---send->
//! ```

use std::ops::Range;
use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::limits;
use crate::list;
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

impl Listing<'_> {
    /// Appends the lines of entries `range` to `out`. Entries that vanished since the
    /// directory was read are left out. Stops early (returns false) when `stop` is set.
    fn render(&self, range: Range<usize>, out: &mut Vec<u8>, stop: &AtomicBool) -> bool {
        self.render_in(self.dir, range, out, stop)
    }

    /// [`Self::render`] looking the names up in `dir`, which is `self.dir` or a reopened copy.
    fn render_in(
        &self,
        dir: &OwnedFd,
        range: Range<usize>,
        out: &mut Vec<u8>,
        stop: &AtomicBool,
    ) -> bool {
        let mut prefixed = Vec::new();
        for i in range {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
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
                list::ls_line(out, shown, &meta, link.as_deref(), self.now);
            } else {
                // A symlink is described by what it points to inside the jail.
                let m = if meta.kind == Kind::Symlink {
                    self.jail.stat(&self.path.child(name)).unwrap_or(meta)
                } else {
                    meta
                };
                list::facts(out, &m, false, self.writable);
                out.extend_from_slice(name);
                out.extend_from_slice(b"\r\n");
            }
        }
        true
    }

    /// All the lines at once (STAT's reply on the control connection).
    pub fn render_all(&self, out: &mut Vec<u8>) {
        self.render(0..self.names.len(), out, &AtomicBool::new(false));
    }

    /// Streams the lines to `send` piece by piece, in order. `send` returns false to stop
    /// (the transfer failed or was aborted); helpers then stop at their next entry.
    pub fn stream(&self, mut send: impl FnMut(&[u8]) -> bool) {
        let n = self.names.len();
        let stop = AtomicBool::new(false);
        let helpers = if self.style == Style::Names {
            0 // no stat: nothing worth sharing
        } else {
            (n / limits::LIST_PARALLEL_MIN)
                .min(cores())
                .saturating_sub(1)
                .min(limits::LIST_HELPERS_MAX)
        };
        let parts = helpers + 1;
        let bounds: Vec<Range<usize>> = (0..parts)
            .map(|p| p * n / parts..(p + 1) * n / parts)
            .collect();
        let mut out = Vec::new();
        std::thread::scope(|scope| {
            let mut later = Vec::new();
            for r in &bounds[1..] {
                let (range, stop) = (r.clone(), &stop);
                let spawned = std::thread::Builder::new()
                    .name("edgeftpd-list".into())
                    .stack_size(limits::SESSION_STACK)
                    .spawn_scoped(scope, move || {
                        let mut buf = Vec::new();
                        match self.jail.reopen_dir(self.dir) {
                            Ok(own) => self.render_in(&own, range, &mut buf, stop),
                            Err(_) => self.render(range, &mut buf, stop),
                        };
                        buf
                    });
                // No thread to be had (a process limit): this range is done inline later.
                later.push((r.clone(), spawned.ok()));
            }
            let first = bounds[0].clone();
            let mut at = first.start;
            while at < first.end {
                let end = (at + limits::LIST_CHUNK).min(first.end);
                out.clear();
                self.render(at..end, &mut out, &stop);
                if !out.is_empty() && !send(&out) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                at = end;
            }
            for (r, helper) in later {
                let buf = match helper {
                    Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    None => {
                        out.clear();
                        self.render(r, &mut out, &stop);
                        std::mem::take(&mut out)
                    }
                };
                if !buf.is_empty() && !send(&buf) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        });
    }
}
