//! Which address a PASV reply advertises. Behind NAT it must be the router's public
//! address (`--pasv-address`), which with a dynamic IP is a DDNS host name; but clients on
//! the LAN (`--pasv-local-nets`) must get the address they reached, not hairpin through the
//! WAN. A host name is resolved at start and again when a PASV reply needs it and the answer
//! is older than [`limits::PASV_NAME_TTL_SECS`]: the reply uses the cached answer while a
//! helper thread looks the name up, so a slow resolver never holds up a PASV. A failed
//! look-up keeps the last good address (and warns once); a name that never resolved means
//! the address the client reached.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cidr::{self, Cidr};
use crate::limits;

/// `--pasv-address` as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasvHost {
    Ip(Ipv4Addr),
    Name(String),
}

impl PasvHost {
    /// An IPv4 address or a host name (letters, digits, `-` and `.`).
    pub fn parse(s: &str) -> Option<PasvHost> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return match ip {
                IpAddr::V4(v4) => Some(PasvHost::Ip(v4)),
                IpAddr::V6(_) => None,
            };
        }
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && s.bytes().any(|b| b.is_ascii_alphabetic());
        ok.then(|| PasvHost::Name(s.to_string()))
    }
}

/// What a PASV reply to one client advertises.
#[derive(Debug, PartialEq, Eq)]
pub enum Advertise {
    /// The address the client reached (a LAN client, or no `--pasv-address`).
    Reached,
    Address(Ipv4Addr),
    /// `--pasv-address` is a name that has not resolved yet: the address reached, too.
    Unresolved,
}

/// The passive-address policy of the server.
pub struct PasvAddress {
    host: Option<Source>,
    local_nets: Vec<Cidr>,
}

enum Source {
    Fixed(Ipv4Addr),
    Name(Arc<NameCache>),
}

struct NameCache {
    name: String,
    state: Mutex<State>,
}

struct State {
    addr: Option<Ipv4Addr>,
    checked: Instant,
    refreshing: bool,
    /// A failure was logged since the last success.
    warned: bool,
}

/// The first IPv4 address of `name`: from /etc/hosts, else from the first name server of
/// /etc/resolv.conf that answers. A small resolver of our own (an A query over UDP) rather
/// than getaddrinfo(3): musl's costs 30 KiB of a router's flash, for one name.
fn resolve(name: &str) -> Result<Ipv4Addr, String> {
    if let Some(a) = std::fs::read_to_string("/etc/hosts")
        .ok()
        .and_then(|t| from_hosts(&t, name))
    {
        return Ok(a);
    }
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut servers: Vec<IpAddr> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    if servers.is_empty() {
        servers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let mut last = String::from("no name server answered");
    for ns in servers.into_iter().take(3) {
        match query_a(ns, name) {
            Ok(Some(a)) => return Ok(a),
            Ok(None) => return Err("no IPv4 address".into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `name`'s address in hosts-file text (first IPv4 line naming it, any case).
fn from_hosts(text: &str, name: &str) -> Option<Ipv4Addr> {
    text.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut f = l.split_whitespace();
        let ip: Ipv4Addr = f.next()?.parse().ok()?;
        f.any(|n| n.eq_ignore_ascii_case(name)).then_some(ip)
    })
}

/// Asks `ns` for `name`'s A record. `Ok(None)`: the name has no IPv4 address.
fn query_a(ns: IpAddr, name: &str) -> Result<Option<Ipv4Addr>, String> {
    let bind: std::net::SocketAddr = if ns.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = std::net::UdpSocket::bind(bind).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    sock.connect((ns, 53)).map_err(|e| e.to_string())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let id = (nanos as u16) ^ (std::process::id() as u16);
    let q = dns_query(id, name).ok_or("bad name")?;
    sock.send(&q).map_err(|e| format!("{ns}: {e}"))?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).map_err(|e| format!("{ns}: {e}"))?;
    dns_answer(&buf[..n], id).ok_or_else(|| format!("{ns}: bad answer"))?
}

/// A DNS query for `name`'s A record, recursion desired.
fn dns_query(id: u16, name: &str) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Some(q)
}

/// The first A record of the answer to query `id`: `Some(None)` when the name has none,
/// `None` when the answer is malformed or not ours.
fn dns_answer(m: &[u8], id: u16) -> Option<Result<Option<Ipv4Addr>, String>> {
    if m.len() < 12 || m[..2] != id.to_be_bytes() || m[2] & 0x80 == 0 {
        return None;
    }
    match m[3] & 0x0f {
        0 => {}
        3 => return Some(Ok(None)),
        rcode => return Some(Err(format!("DNS error {rcode}"))),
    }
    let qd = u16::from_be_bytes([m[4], m[5]]);
    let an = u16::from_be_bytes([m[6], m[7]]);
    let mut i = 12;
    // Skips a (possibly compressed) name.
    let skip = |mut i: usize| -> Option<usize> {
        loop {
            let len = *m.get(i)?;
            if len & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            if len == 0 {
                return Some(i + 1);
            }
            i += 1 + usize::from(len);
        }
    };
    for _ in 0..qd {
        i = skip(i)? + 4;
    }
    for _ in 0..an {
        i = skip(i)?;
        let h = m.get(i..i + 10)?;
        let (ty, class) = (
            u16::from_be_bytes([h[0], h[1]]),
            u16::from_be_bytes([h[2], h[3]]),
        );
        let len = usize::from(u16::from_be_bytes([h[8], h[9]]));
        let data = m.get(i + 10..i + 10 + len)?;
        if ty == 1 && class == 1 && len == 4 {
            return Some(Ok(Some(Ipv4Addr::new(data[0], data[1], data[2], data[3]))));
        }
        i += 10 + len;
    }
    Some(Ok(None))
}

impl PasvAddress {
    /// Resolves a host name once, now (at start-up).
    pub fn new(host: Option<&PasvHost>, local_nets: Vec<Cidr>) -> PasvAddress {
        let host = host.map(|h| match h {
            PasvHost::Ip(ip) => Source::Fixed(*ip),
            PasvHost::Name(name) => {
                let addr = match resolve(name) {
                    Ok(a) => {
                        log::info!("--pasv-address {name} is {a}");
                        Some(a)
                    }
                    Err(e) => {
                        log::warn!(
                            "--pasv-address: cannot resolve {name} ({e}); PASV replies \
                             advertise the address each client reached until it resolves"
                        );
                        None
                    }
                };
                Source::Name(Arc::new(NameCache {
                    name: name.clone(),
                    state: Mutex::new(State {
                        addr,
                        checked: Instant::now(),
                        refreshing: false,
                        warned: addr.is_none(),
                    }),
                }))
            }
        });
        PasvAddress { host, local_nets }
    }

    /// What a PASV reply to `peer` advertises.
    pub fn for_client(&self, peer: IpAddr) -> Advertise {
        if cidr::any_contains(&self.local_nets, peer) {
            return Advertise::Reached;
        }
        match &self.host {
            None => Advertise::Reached,
            Some(Source::Fixed(a)) => Advertise::Address(*a),
            Some(Source::Name(cache)) => match cache.current() {
                Some(a) => Advertise::Address(a),
                None => Advertise::Unresolved,
            },
        }
    }
}

impl NameCache {
    /// The cached answer; starts a look-up in the background when it is stale.
    fn current(self: &Arc<Self>) -> Option<Ipv4Addr> {
        let ttl = Duration::from_secs(limits::PASV_NAME_TTL_SECS);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.checked.elapsed() >= ttl && !s.refreshing {
            s.refreshing = true;
            let me = Arc::clone(self);
            let started = std::thread::Builder::new()
                .name("pasv-resolve".into())
                .stack_size(limits::SESSION_STACK)
                .spawn(move || me.refresh());
            if started.is_err() {
                s.refreshing = false;
                s.checked = Instant::now();
            }
        }
        s.addr
    }

    fn refresh(&self) {
        let found = resolve(&self.name);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.refreshing = false;
        s.checked = Instant::now();
        match found {
            Ok(a) => {
                if s.addr != Some(a) {
                    log::info!("--pasv-address {} is now {a}", self.name);
                }
                s.addr = Some(a);
                s.warned = false;
            }
            Err(e) if !s.warned => {
                s.warned = true;
                match s.addr {
                    Some(a) => log::warn!("cannot resolve {} ({e}); keeping {a}", self.name),
                    None => log::warn!("cannot resolve {} ({e})", self.name),
                }
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses() {
        assert_eq!(
            PasvHost::parse("203.0.113.5"),
            Some(PasvHost::Ip("203.0.113.5".parse().unwrap()))
        );
        assert_eq!(
            PasvHost::parse("myhome.example.net"),
            Some(PasvHost::Name("myhome.example.net".into()))
        );
        assert_eq!(PasvHost::parse("::1"), None);
        assert_eq!(PasvHost::parse("bad name"), None);
        assert_eq!(PasvHost::parse("1.2.3"), None);
        assert_eq!(PasvHost::parse(""), None);
    }

    #[test]
    fn hosts_files_and_dns_messages() {
        let hosts = "# comment\n127.0.0.1 localhost\n203.0.113.5  MyHome.example.net home # x\n";
        assert_eq!(
            from_hosts(hosts, "myhome.example.net"),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(
            from_hosts(hosts, "home"),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(from_hosts(hosts, "other"), None);
        let q = dns_query(0x1234, "a.bc").unwrap();
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x02bc\x00\x00\x01\x00\x01"
        );
        // The answer: the question, a CNAME, then the A record (names compressed).
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 2;
        a.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c");
        a.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x07");
        assert_eq!(
            dns_answer(&a, 0x1234),
            Some(Ok(Some("203.0.113.7".parse().unwrap())))
        );
        assert_eq!(dns_answer(&a, 0x9999), None);
        let mut nx = q.clone();
        nx[2] = 0x81;
        nx[3] = 0x83;
        assert_eq!(dns_answer(&nx, 0x1234), Some(Ok(None)));
        assert!(dns_answer(&a[..a.len() - 2], 0x1234).is_none());
    }

    #[test]
    fn local_clients_get_the_address_they_reached() {
        let nets = cidr::parse_list(cidr::PRIVATE_NETS).unwrap();
        let p = PasvAddress::new(Some(&PasvHost::Ip("203.0.113.5".parse().unwrap())), nets);
        assert_eq!(
            p.for_client("192.168.1.9".parse().unwrap()),
            Advertise::Reached
        );
        assert_eq!(
            p.for_client("198.51.100.7".parse().unwrap()),
            Advertise::Address("203.0.113.5".parse().unwrap())
        );
        let none = PasvAddress::new(None, vec![]);
        assert_eq!(
            none.for_client("198.51.100.7".parse().unwrap()),
            Advertise::Reached
        );
    }
}
