//! The memory the kernel says the machine has (/proc/meminfo), and the two decisions made
//! from it: the default `--max-clients`, and refusing new sessions and transfers while
//! the machine runs short, so the kernel's OOM killer never has to pick edgeftpd (it would
//! take every session with it).
//!
//! Measured on the 64 MB armv7 board (board/README.md) when each session held a thread: an
//! idle logged-in session cost about 49 KB of the board's MemAvailable, nearly all the
//! kernel's (the thread's stacks, slab); with no floor, the OOM killer killed the server at
//! about 380 sessions. Idle sessions now hold no thread (`session/idle.rs`): 7-8 KB each,
//! and the open-file limit comes before the floor; a session at work still costs its
//! thread, and transfers their buffers.
//!
//! MemAvailable alone is not enough on such a board: after a fragmenting allocation the
//! kernel raises its watermarks by a "boost" of up to a pageblock (8 MiB seen on the
//! armv7 board, a sixth of its memory) until kswapd has tidied up, and an ordinary
//! allocation under the boosted minimum ends in the OOM killer although MemAvailable
//! showed 7 MB (measured: the kernel killed the server at 324 sessions with a floor of an
//! eighth). So while boosting is on (`vm.watermark_boost_factor`, on by default) the floor
//! keeps that much more: [`limits::MEMORY_BOOST_ALLOWANCE`].

use std::sync::atomic::{AtomicU32, Ordering};

use crate::limits;

/// What /proc/meminfo says, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    pub available: u64,
    /// The kernel raises its watermarks after fragmenting allocations.
    pub boosting: bool,
}

/// The first 512 bytes of a /proc file.
fn read_start(path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0u8; 512];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

impl Memory {
    /// Reads /proc/meminfo (and whether the kernel boosts its watermarks); `None` where
    /// there is none (no /proc in a chroot): then no memory decision is made and the fixed
    /// defaults apply.
    pub fn read() -> Option<Memory> {
        // MemTotal and MemAvailable are its first and third lines.
        let mut m = parse(&read_start("/proc/meminfo")?)?;
        // Read once: a sysctl set at boot. No such file: a kernel before 5.0, which never
        // boosts.
        static BOOSTING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        m.boosting = *BOOSTING.get_or_init(|| {
            read_start("/proc/sys/vm/watermark_boost_factor")
                .is_some_and(|f| f.trim_ascii() != b"0")
        });
        Some(m)
    }

    /// Below this much available memory no session or transfer is started: an eighth of
    /// the machine ([`limits::MEMORY_FLOOR_SHARE`]) and never less than
    /// [`limits::MEMORY_FLOOR_MIN`], plus [`limits::MEMORY_BOOST_ALLOWANCE`] while the
    /// kernel boosts its watermarks.
    pub fn floor(&self) -> u64 {
        let boost = if self.boosting {
            limits::MEMORY_BOOST_ALLOWANCE
        } else {
            0
        };
        (self.total / limits::MEMORY_FLOOR_SHARE).max(limits::MEMORY_FLOOR_MIN) + boost
    }

    /// Whether the machine is too short of memory for one more session or transfer.
    pub fn low(&self) -> bool {
        self.available < self.floor()
    }

    /// Whether this reading is so far above the floor that it stands for
    /// [`limits::MEMORY_READING_TRUSTED_MS`] ([`limits::MEMORY_READING_MARGIN`] above it).
    fn roomy(&self) -> bool {
        self.available >= self.floor() + limits::MEMORY_READING_MARGIN
    }
}

/// The machine's memory now if it is too short for one more session or transfer (`None`
/// when it is not, or can't be told); its Display is the reason logged with a refusal.
/// A reading far above the floor ([`Memory::roomy`]) stands for a short while; near the
/// floor every call reads the file.
pub fn short() -> Option<Memory> {
    /// The tenth of a second ([`tenth`]) whose last reading was roomy; 0: none.
    static ROOMY_IN: AtomicU32 = AtomicU32::new(0);
    let now = tenth();
    if ROOMY_IN.load(Ordering::Relaxed) == now {
        return None;
    }
    let m = Memory::read()?;
    ROOMY_IN.store(if m.roomy() { now } else { 0 }, Ordering::Relaxed);
    Some(m).filter(Memory::low)
}

/// The tenth of a second it is on the monotonic clock, never 0: a reading stands to the
/// end of the tenth it was made in ([`limits::MEMORY_READING_TRUSTED_MS`]). (A count that
/// wraps, after 13 years, compared only for equality; a lock and `Instant`s cost 0.4 KiB
/// more on mipsel, where 32-bit MIPS has no 64-bit atomics.)
fn tenth() -> u32 {
    const PER_SECOND: u32 = (1000 / limits::MEMORY_READING_TRUSTED_MS) as u32;
    let (secs, nanos) = crate::sys::monotonic();
    let whole = (secs as u32).wrapping_mul(PER_SECOND);
    whole
        .wrapping_add(nanos / (1_000_000_000 / PER_SECOND))
        .max(1)
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} KiB of memory available, under the floor of {} KiB",
            self.available >> 10,
            self.floor() >> 10
        )
    }
}

/// The default `--max-clients`: a quarter of the machine's memory at
/// [`limits::SESSION_MEMORY`] a session, within [`limits::DEFAULT_CLIENTS_MIN`] and
/// [`limits::DEFAULT_CLIENTS_MAX`] (the lower bound without /proc). The 64 MB armv7 board
/// (46 MB left by its kernel): 180 sessions.
pub fn default_max_clients(mem: Option<Memory>) -> usize {
    let Some(m) = mem else {
        return limits::DEFAULT_CLIENTS_MIN;
    };
    let n = (m.total / 4 / limits::SESSION_MEMORY) as usize;
    n.clamp(limits::DEFAULT_CLIENTS_MIN, limits::DEFAULT_CLIENTS_MAX)
}

fn parse(text: &[u8]) -> Option<Memory> {
    let mut total = None;
    let mut available = None;
    for line in text.split(|&b| b == b'\n') {
        let slot = if let Some(rest) = line.strip_prefix(b"MemTotal:") {
            (&mut total, rest)
        } else if let Some(rest) = line.strip_prefix(b"MemAvailable:") {
            (&mut available, rest)
        } else {
            continue;
        };
        let digits = slot.1.trim_ascii().strip_suffix(b" kB")?.trim_ascii();
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let kib = digits.iter().fold(0u64, |n, d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        *slot.0 = Some(kib * 1024);
    }
    Some(Memory {
        total: total?,
        available: available?,
        boosting: false,
    })
}

/// Raises the open-file limit to its hard limit (busybox and procd leave the soft one at
/// 1024, which idle sessions at two files each reached on the 128 MB board before its
/// memory ran short: logins then failed with "530 Home directory unavailable"), and lowers
/// `--max-clients` to what that limit allows, so a session too many gets 421, not a broken
/// login or an accept() that fails. The machine's threads bound the server's threads, not
/// its sessions (an idle session has none: `session/idle.rs`): half of kernel.threads-max,
/// which the kernel sizes from the memory (1,024 on the 128 MB board), so the router's
/// other programs can always start ([`crate::process::threads_full`]).
/// Returns `max_clients` (`--max-clients`), lowered where the machine can't hold as many.
#[inline(never)]
pub fn fit_sessions(mut max_clients: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    // None is no limit at all.
    let below = match (lim.current, lim.maximum) {
        (Some(soft), Some(hard)) => soft < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if below {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            log::warn!("raising the open-file limit: {e}");
        }
    }
    if let Some(files) = getrlimit(Resource::Nofile).current {
        let most = files.saturating_sub(limits::FILES_RESERVED) / limits::FILES_PER_SESSION;
        let why = format!(
            "the open-file limit is {files} ({} a session)",
            limits::FILES_PER_SESSION
        );
        lower_max_clients(&mut max_clients, most, &why);
    }
    let threads = std::fs::read_to_string("/proc/sys/kernel/threads-max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(threads) = threads {
        let room = usize::try_from(threads / limits::THREADS_SHARE).unwrap_or(usize::MAX);
        crate::process::set_thread_room(room.max(limits::FITTED_CLIENTS_MIN as usize));
    }
    max_clients
}

fn lower_max_clients(max_clients: &mut usize, most: u64, why: &str) {
    let most = usize::try_from(most.max(limits::FITTED_CLIENTS_MIN)).unwrap_or(usize::MAX);
    if *max_clients > most {
        log::warn!("--max-clients {max_clients} lowered to {most}: {why}");
        *max_clients = most;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOARD: &[u8] = b"MemTotal:          60284 kB\nMemFree:           40112 kB\nMemAvailable:      45000 kB\nBuffers:            1000 kB\n";

    #[test]
    fn meminfo_gives_total_and_available_in_bytes() {
        let m = parse(BOARD).unwrap();
        assert_eq!(m.total, 60284 * 1024);
        assert_eq!(m.available, 45000 * 1024);
        // A kernel before 3.14 has no MemAvailable: no decision rather than a wrong one.
        assert_eq!(parse(b"MemTotal: 60284 kB\nMemFree: 40112 kB\n"), None);
        assert_eq!(parse(b"MemTotal: lots kB\nMemAvailable: 1 kB\n"), None);
    }

    #[test]
    fn a_64_mb_board_gets_a_floor_of_an_eighth_and_a_few_hundred_sessions() {
        let mut m = parse(BOARD).unwrap();
        assert_eq!(m.floor(), 60284 * 1024 / 8);
        assert!(!m.low());
        m.available = m.floor() - 1;
        assert!(m.low());
        // A reading stands a while only far above the floor; near it, each is read anew.
        m.available = m.floor() + limits::MEMORY_READING_MARGIN;
        assert!(m.roomy() && !m.low());
        m.available -= 1;
        assert!(!m.roomy() && !m.low());
        // A kernel that boosts its watermarks may take 8 MiB more at any moment.
        m.boosting = true;
        assert_eq!(m.floor(), 60284 * 1024 / 8 + (8 << 20));
        m.available = 12 << 20;
        assert!(m.low());
        let n = default_max_clients(Some(m));
        assert!((200..=260).contains(&n), "{n}");
        // A big machine is capped; none known: the smallest default.
        let big = Memory {
            total: 24 << 30,
            available: 20 << 30,
            boosting: true,
        };
        assert_eq!(default_max_clients(Some(big)), limits::DEFAULT_CLIENTS_MAX);
        assert_eq!(default_max_clients(None), limits::DEFAULT_CLIENTS_MIN);
        // A tiny machine's floor is never under the minimum.
        let tiny = Memory {
            total: 8 << 20,
            available: 3 << 20,
            boosting: false,
        };
        assert_eq!(tiny.floor(), limits::MEMORY_FLOOR_MIN);
        assert!(tiny.low());
    }
}
