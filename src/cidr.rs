//! Networks written as CIDR (`192.168.0.0/16`, `fc00::/7`), for `--pasv-local-nets` and
//! `--ban-exempt`. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as IPv4. Pure.

use std::net::IpAddr;

/// One network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Loopback, RFC 1918, link-local and IPv6 ULA: the networks a router's LAN clients use.
pub const PRIVATE_NETS: &str =
    "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,::1/128,fc00::/7,fe80::/10";

impl Cidr {
    /// `ADDR/LEN` or a bare address (a network of one).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = a.trim().parse::<IpAddr>().ok()?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(
                u128::from(u32::from(n)) << 96,
                u128::from(u32::from(a)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(u128::from(n), u128::from(a), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (128 - u32::from(prefix)) == 0
}

/// A comma-separated list of networks; `none` is the empty list. `None` when one is bad.
pub fn parse_list(s: &str) -> Option<Vec<Cidr>> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    s.split(',').map(|n| Cidr::parse(n.trim())).collect()
}

/// Whether `ip` is in any of `nets`.
pub fn any_contains(nets: &[Cidr], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_and_members() {
        let nets = parse_list(PRIVATE_NETS).unwrap();
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.1.20",
            "169.254.9.9",
            "::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:192.168.1.20",
        ] {
            assert!(any_contains(&nets, ip(a)), "{a}");
        }
        for a in [
            "172.32.0.1",
            "8.8.8.8",
            "192.169.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!any_contains(&nets, ip(a)), "{a}");
        }
        assert_eq!(parse_list("none"), Some(vec![]));
        assert!(parse_list("10.0.0.0/33").is_none());
        assert!(parse_list("10.0.0.0/8,bogus").is_none());
        let one = Cidr::parse("127.0.0.2").unwrap();
        assert!(one.contains(ip("127.0.0.2")) && !one.contains(ip("127.0.0.3")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("::2")));
    }
}
