//! Which address a PASV reply advertises. Behind NAT it must be the router's public
//! address (`--pasv-address`), which with a dynamic IP is a DDNS host name; but clients on
//! the LAN (`--pasv-local-nets`) must get the address they reached, not hairpin through the
//! WAN. A host name is resolved at start and again when a PASV reply needs it and the answer
//! is older than [`limits::PASV_NAME_TTL_SECS`]: the reply uses the cached answer while a
//! helper thread looks the name up, so a slow resolver never holds up a PASV. A failed
//! look-up keeps the last good address (and warns once); a name that never resolved means
//! the address the client reached. The look-up itself is `resolver.rs`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cidr::{self, Cidr};
use crate::limits;
use crate::resolver::resolve;

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
            let started = crate::process::spawn("pasv-resolve", Box::new(move || me.refresh()));
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
