//! Bandwidth caps: token buckets that transfers take their bytes from. A session has one
//! when `--anon-max-rate` or `--max-rate` applies to it, and all sessions share one for
//! `--total-max-rate` (what protects a router's uplink). Rates are bytes per second.
//!
//! A bucket holds at most a tenth of a second of bytes (between [`limits::RATE_BURST_MIN`]
//! and [`limits::RATE_BURST_MAX`]), so no transfer starts with a burst larger than 256 KiB
//! and one of 2 s is within 5% of its cap, and it hands out at most 20 ms worth at a time,
//! so transfers sharing one take turns (fair shares). An uncapped transfer never touches this module. No I/O here: the transfer
//! waits (watching for ABOR) for as long as [`Limiter::take`] says.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::limits;

/// A token bucket, kept as the time it is next free to send (the generic cell rate
/// algorithm): each caller reserves its bytes in turn and waits for its slot, so transfers
/// sharing a bucket are served in the order they ask (fair shares).
pub struct Limiter {
    rate: u64,
    /// How far behind now the next slot may lag: the burst, in time.
    burst: Duration,
    quantum: u64,
    next: Mutex<Instant>,
}

impl Limiter {
    /// A bucket for `rate` bytes per second (> 0), full.
    pub fn new(rate: u64) -> Limiter {
        let burst = (rate / 10).clamp(limits::RATE_BURST_MIN, limits::RATE_BURST_MAX);
        let burst = Duration::from_nanos(burst * 1_000_000_000 / rate);
        let now = Instant::now();
        Limiter {
            rate,
            burst,
            quantum: (rate / 50).clamp(512, limits::RATE_BURST_MAX),
            next: Mutex::new(now.checked_sub(burst).unwrap_or(now)),
        }
    }

    fn time_for(&self, bytes: u64) -> Duration {
        // u64 arithmetic (u128 division costs 2 KiB of code on 32-bit targets): a grant is at
        // most 256 KiB, far from overflowing.
        Duration::from_nanos(bytes.saturating_mul(1_000_000_000) / self.rate)
    }

    /// Reserves up to `want` bytes (at most 20 ms of the rate): how many, and how long to
    /// wait before moving them.
    pub fn take(&self, want: usize) -> (usize, Duration) {
        let n = (want as u64).clamp(1, self.quantum);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let earliest = now.checked_sub(self.burst).unwrap_or(now);
        let start = (*next).max(earliest);
        *next = start + self.time_for(n);
        // The bytes may go when their slot begins.
        (n as usize, start.saturating_duration_since(now))
    }

    /// Returns bytes reserved but not moved (a read that brought fewer bytes).
    pub fn give_back(&self, n: usize) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let back = self.time_for(n as u64);
        let floor = Instant::now().checked_sub(self.burst);
        let t = next.checked_sub(back).unwrap_or(*next);
        *next = match floor {
            Some(f) => t.max(f),
            None => t,
        };
    }
}

/// A cap of `rate` bytes per second (None: none): `old` when it has that rate (whoever
/// shares it goes on sharing it), else a new one. For SIGHUP's `--total-max-rate` and an
/// account's `up=`/`down=`.
pub fn at_rate(old: Option<&Arc<Limiter>>, rate: Option<u64>) -> Option<Arc<Limiter>> {
    let rate = rate?;
    match old {
        Some(l) if l.rate == rate => Some(Arc::clone(l)),
        _ => Some(Arc::new(Limiter::new(rate))),
    }
}

/// Parses a rate (or a size: `--max-upload`): bytes, with an optional `K` (×1024), `M` or `G` suffix.
/// 0 means unlimited (`None`).
pub fn parse(s: &str) -> Option<Option<u64>> {
    let s = s.trim();
    let (digits, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1024),
        b'm' | b'M' => (&s[..s.len() - 1], 1024 * 1024),
        b'g' | b'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    let n: u64 = digits.parse().ok()?;
    let bytes = n.checked_mul(mult)?;
    Some((bytes > 0).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(parse("1000"), Some(Some(1000)));
        assert_eq!(parse("100K"), Some(Some(102_400)));
        assert_eq!(parse("2m"), Some(Some(2 << 20)));
        assert_eq!(parse("4G"), Some(Some(4 << 30)));
        assert_eq!(parse("0"), Some(None));
        assert_eq!(parse("fast"), None);
        assert_eq!(parse("-1"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn a_bucket_starts_full_then_paces() {
        let l = Limiter::new(500 * 1024);
        // Full: a tenth of a second's worth goes at once, in 20 ms quanta.
        let mut free = 0;
        loop {
            let (n, wait) = l.take(1 << 20);
            assert_eq!(n, 10 * 1024);
            if wait > Duration::ZERO {
                assert!(wait <= Duration::from_millis(21), "{wait:?}");
                break;
            }
            free += n;
        }
        // The burst, and the quantum whose slot begins now.
        assert!(free == 50 * 1024 || free == 60 * 1024, "{free}");
        // The next reservations queue up 20 ms apart.
        let (_, w1) = l.take(1 << 20);
        let (_, w2) = l.take(1 << 20);
        let gap = w2 - w1;
        assert!(gap > Duration::from_millis(19) && gap <= Duration::from_millis(21));
        l.give_back(10 * 1024);
        let (_, w3) = l.take(1 << 20);
        assert!(w3 <= w2 + Duration::from_millis(1));
        // Small rates still move a little at a time; large ones are bounded bursts.
        assert_eq!(Limiter::new(100).take(1 << 20).0, 512);
        let big = Limiter::new(1 << 30);
        assert_eq!(
            big.burst,
            Duration::from_nanos(256 * 1024 * 1_000_000_000 / (1 << 30))
        );
    }
}
