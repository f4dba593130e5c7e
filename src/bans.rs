//! Bans for password guessers: after `--ban-after` failed logins from one address within
//! `--ban-window`, the address is banned for `--ban-time` (new connections get 421 before any
//! password is checked; sessions already open are not touched). A successful login resets
//! the address's count. IPv6 addresses count by /64 (one host usually has a whole /64).
//!
//! The table is bounded ([`limits::BAN_TABLE`]): when it is full, the entry seen longest ago
//! goes first (counters before bans), so a flood from many addresses costs bounded memory.
//! One log line per ban and per unban. This module does no network I/O.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cidr::{self, Cidr};
use crate::limits;

/// The ban rules from the command line.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Failed logins that lead to a ban; 0 turns bans off.
    pub after: u32,
    pub window: Duration,
    pub time: Duration,
    pub exempt: Vec<Cidr>,
}

/// What is known of one address (or IPv6 /64).
#[derive(Clone, Copy, Debug)]
struct Entry {
    fails: u32,
    /// When the first failure still counted happened.
    since: Instant,
    banned_until: Option<Instant>,
    last_seen: Instant,
}

/// The ban table.
pub struct Bans {
    rules: Rules,
    /// A plain list: at most [`limits::BAN_TABLE`] entries, looked through once per
    /// connection or failed login (a hash map's code costs more flash than the scan costs
    /// time).
    /// Shared with the [`Bans::with_rules`] made from it.
    table: Arc<Mutex<Vec<(IpAddr, Entry)>>>,
}

/// The key an address counts under: IPv4 as it is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (!0u128 << 64))),
        v4 => v4,
    }
}

/// How an address is written in the log (an IPv6 /64 as such).
fn shown(k: IpAddr) -> String {
    match k {
        IpAddr::V6(_) => format!("{k}/64"),
        IpAddr::V4(_) => k.to_string(),
    }
}

impl Bans {
    pub fn new(rules: Rules) -> Bans {
        Bans {
            rules,
            table: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The same table under new rules (SIGHUP): the counts and bans so far stay.
    pub fn with_rules(&self, rules: Rules) -> Bans {
        Bans {
            rules,
            table: Arc::clone(&self.table),
        }
    }

    fn on(&self, ip: IpAddr) -> bool {
        self.rules.after > 0 && !cidr::any_contains(&self.rules.exempt, ip)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(IpAddr, Entry)>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SECURITY: whether connections from `ip` are refused now.
    pub fn banned(&self, ip: IpAddr) -> bool {
        if self.rules.after == 0 {
            return false;
        }
        let now = Instant::now();
        let k = key(ip);
        let t = self.lock();
        t.iter()
            .find(|(a, _)| *a == k)
            .and_then(|(_, e)| e.banned_until)
            .is_some_and(|until| until > now)
    }

    /// A failed login from `ip`; bans it when that makes `--ban-after` within the window.
    pub fn failed(&self, ip: IpAddr) {
        if !self.on(ip) {
            return;
        }
        let now = Instant::now();
        let k = key(ip);
        let mut t = self.lock();
        let at = match t.iter().position(|(a, _)| *a == k) {
            Some(i) => i,
            None => {
                if t.len() >= limits::BAN_TABLE {
                    evict(&mut t);
                }
                let e = Entry {
                    fails: 0,
                    since: now,
                    banned_until: None,
                    last_seen: now,
                };
                t.push((k, e));
                t.len() - 1
            }
        };
        let e = &mut t[at].1;
        if now.duration_since(e.since) > self.rules.window {
            e.fails = 0;
            e.since = now;
        }
        e.fails += 1;
        e.last_seen = now;
        if e.fails >= self.rules.after && e.banned_until.is_none_or(|u| u <= now) {
            e.banned_until = Some(now + self.rules.time);
            log::warn!(
                "ban {} for {} s after {} failed logins",
                shown(k),
                self.rules.time.as_secs(),
                e.fails
            );
        }
    }

    /// A successful login from `ip`: its count starts again.
    pub fn succeeded(&self, ip: IpAddr) {
        if !self.on(ip) {
            return;
        }
        let k = key(ip);
        self.lock()
            .retain(|(a, e)| *a != k || e.banned_until.is_some());
    }

    /// Ends bans that are over (one log line each) and forgets counts older than the
    /// window. Called about once a second by the accept loop.
    pub fn sweep(&self) {
        if self.rules.after == 0 {
            return;
        }
        let now = Instant::now();
        let window = self.rules.window;
        let mut t = self.lock();
        t.retain(|(k, e)| match e.banned_until {
            Some(until) if until <= now => {
                log::info!("unban {}", shown(*k));
                false
            }
            Some(_) => true,
            None => now.duration_since(e.since) <= window,
        });
    }

    /// Entries in the table now (the tests check the table's bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room: the entry seen longest ago goes, counters before bans.
fn evict(t: &mut Vec<(IpAddr, Entry)>) {
    let victim = t
        .iter()
        .enumerate()
        .min_by_key(|(_, (_, e))| (e.banned_until.is_some(), e.last_seen))
        .map(|(i, _)| i);
    if let Some(i) = victim {
        t.swap_remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(after: u32) -> Rules {
        Rules {
            after,
            window: Duration::from_secs(600),
            time: Duration::from_secs(900),
            exempt: cidr::parse_list("192.0.2.0/24").unwrap(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_ban_and_success_resets() {
        let b = Bans::new(rules(3));
        let a = ip("203.0.113.9");
        b.failed(a);
        b.failed(a);
        b.succeeded(a);
        b.failed(a);
        b.failed(a);
        assert!(!b.banned(a));
        b.failed(a);
        assert!(b.banned(a));
        assert!(!b.banned(ip("203.0.113.10")));
        // A success does not lift a ban.
        b.succeeded(a);
        assert!(b.banned(a));
        // Exempt networks and bans turned off.
        let e = ip("192.0.2.1");
        for _ in 0..10 {
            b.failed(e);
        }
        assert!(!b.banned(e));
        let off = Bans::new(rules(0));
        for _ in 0..10 {
            off.failed(a);
        }
        assert!(!off.banned(a) && off.is_empty());
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_as_ipv4() {
        let b = Bans::new(rules(2));
        b.failed(ip("2001:db8:1:2::1"));
        b.failed(ip("2001:db8:1:2:ffff::9"));
        assert!(b.banned(ip("2001:db8:1:2::77")));
        assert!(!b.banned(ip("2001:db8:1:3::1")));
        b.failed(ip("::ffff:198.51.100.1"));
        b.failed(ip("198.51.100.1"));
        assert!(b.banned(ip("198.51.100.1")));
    }

    #[test]
    fn the_table_is_bounded() {
        let b = Bans::new(rules(5));
        for i in 0..(limits::BAN_TABLE as u32 + 500) {
            b.failed(IpAddr::from((0x0a00_0000u32 + i).to_be_bytes()));
        }
        assert_eq!(b.len(), limits::BAN_TABLE);
    }

    #[test]
    fn bans_end() {
        let mut r = rules(1);
        r.time = Duration::from_millis(50);
        let b = Bans::new(r);
        let a = ip("203.0.113.9");
        b.failed(a);
        assert!(b.banned(a));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!b.banned(a));
        b.sweep();
        assert!(b.is_empty());
    }
}
