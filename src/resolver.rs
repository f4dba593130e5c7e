//! The stub resolver behind `--pasv-address HOSTNAME` (a DDNS name): the first IPv4 address
//! of one name, from /etc/hosts, else from the name servers of /etc/resolv.conf (an A query
//! over UDP). Our own rather than getaddrinfo(3): musl's costs 30 KiB of a router's flash,
//! for one name.
//!
//! SECURITY: the answer decides where every internet client's data connections are sent, so
//! a forged one must be as hard to slip in as a stub resolver can make it. A query goes from
//! a fresh socket (a random source port, chosen by the kernel), carries a random id from the
//! kernel's generator (getrandom), and is connected to the name server (the kernel drops
//! datagrams from any other address or port). The answer must carry the same id, be a
//! response, echo our question (one question, our name in any letter case, type A, class
//! IN), and the address is taken only from an A record for that name, or for the name a
//! CNAME chain in the same answer leads to from it (in the order servers list it). An off-path forger must guess the port
//! and the id, and still answer our exact question.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// How long one name server gets to answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Name servers of /etc/resolv.conf asked, in order (glibc's MAXNS).
const MAX_SERVERS: usize = 3;
/// Compression pointers followed in one name: more is a loop (a real name needs a few).
const MAX_POINTERS: usize = 16;
/// Largest DNS message over UDP without EDNS (RFC 1035).
const MAX_MESSAGE: usize = 512;

/// The first IPv4 address of `name`: from /etc/hosts, else from the first name server of
/// /etc/resolv.conf that answers (127.0.0.1 when it names none).
pub fn resolve(name: &str) -> Result<Ipv4Addr, String> {
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
    for ns in servers.into_iter().take(MAX_SERVERS) {
        match query_a(ns, name) {
            Ok(Ok(Some(a))) => return Ok(a),
            Ok(Ok(None)) => return Err("no IPv4 address".into()),
            Ok(Err(rcode)) => last = format!("{ns}: DNS error {rcode}"),
            Err(e) => last = format!("{ns}: {e}"),
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

/// A query id from the kernel's random generator.
fn random_id() -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    random(&mut b)?;
    Ok(u16::from_ne_bytes(b))
}

/// Fills `b` from the kernel's random generator (getrandom(2)): the resolver's query ids
/// and `--hash-password`'s salts.
pub fn random(b: &mut [u8]) -> std::io::Result<()> {
    let mut got = 0;
    while got < b.len() {
        match rustix::rand::getrandom(&mut b[got..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Asks `ns` for `name`'s A record: its address, `Ok(None)` when the name has none, or the
/// server's error code.
fn query_a(ns: IpAddr, name: &str) -> std::io::Result<Result<Option<Ipv4Addr>, u8>> {
    let bind: SocketAddr = if ns.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind)?;
    // SECURITY: connected, so the kernel delivers datagrams from this server's port 53 only.
    sock.connect((ns, 53))?;
    let id = random_id()?;
    let q = dns_query(id, name).ok_or(std::io::ErrorKind::InvalidInput)?;
    sock.send(&q)?;
    let mut buf = [0u8; MAX_MESSAGE];
    // Datagrams that are not the answer to this query (stale, or forged) are skipped until
    // the timeout, which bounds the whole wait.
    let deadline = std::time::Instant::now() + QUERY_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        sock.set_read_timeout(Some(left))?;
        let n = sock.recv(&mut buf)?;
        if let Some(answer) = dns_answer(&buf[..n], id, name) {
            return Ok(answer);
        }
    }
}

/// A DNS query for `name`'s A record, recursion desired. `None` for a name that is not a
/// DNS name (an empty label, or one over 63 bytes).
pub fn dns_query(id: u16, name: &str) -> Option<Vec<u8>> {
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

/// The address the answer `m` gives for `name` to query `id`: `Some(Ok(None))` when the
/// name has none (NXDOMAIN, or no A record for it), `Some(Err(rcode))` for a server's
/// error, `None` when `m` is not the answer to this query (another id, not a response,
/// another question, malformed). SECURITY: see the module's comment.
pub fn dns_answer(m: &[u8], id: u16, name: &str) -> Option<Result<Option<Ipv4Addr>, u8>> {
    if m.len() < 12 || m[..2] != id.to_be_bytes() || m[2] & 0x80 == 0 {
        return None;
    }
    let qd = u16::from_be_bytes([m[4], m[5]]);
    let an = u16::from_be_bytes([m[6], m[7]]);
    // Our question, echoed: one, for our name, type A, class IN.
    if qd != 1 {
        return None;
    }
    let (qname, i) = read_name(m, 12)?;
    if !same_name(&qname, name) || m.get(i..i + 4)? != [0, 1, 0, 1] {
        return None;
    }
    match m[3] & 0x0f {
        0 => {}
        3 => return Some(Ok(None)),
        rcode => return Some(Err(rcode)),
    }
    // The answer records: an A record for our name, or for where its CNAME chain leads
    // (servers list the chain in order, each link before the records of its target).
    let mut wanted = qname;
    let mut i = i + 4;
    for _ in 0..an {
        let (owner, next) = read_name(m, i)?;
        let h = m.get(next..next + 10)?;
        let ty = u16::from_be_bytes([h[0], h[1]]);
        let class = u16::from_be_bytes([h[2], h[3]]);
        let len = usize::from(u16::from_be_bytes([h[8], h[9]]));
        let data = m.get(next + 10..next + 10 + len)?;
        if class == 1 && owner.eq_ignore_ascii_case(&wanted) {
            if ty == 1 && len == 4 {
                return Some(Ok(Some(Ipv4Addr::new(data[0], data[1], data[2], data[3]))));
            }
            if ty == 5 {
                wanted = read_name(m, next + 10)?.0;
            }
        }
        i = next + 10 + len;
    }
    Some(Ok(None))
}

/// The name at `i` of message `m` as dotted bytes (labels joined by `.`, no final dot),
/// following compression pointers; and where the name ends at `i`. `None` if malformed.
fn read_name(m: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *m.get(i)?;
        match len {
            0 => return Some((name, end.unwrap_or(i + 1))),
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, *m.get(i + 1)?]));
                end.get_or_insert(i + 2);
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return None;
                }
                i = target;
            }
            l if l & 0xc0 != 0 => return None,
            l => {
                let label = m.get(i + 1..i + 1 + usize::from(l))?;
                if !name.is_empty() {
                    name.push(b'.');
                }
                name.extend_from_slice(label);
                // A name is at most 255 bytes (RFC 1035).
                if name.len() > 255 {
                    return None;
                }
                i += 1 + usize::from(l);
            }
        }
    }
}

/// Whether a name read from a message is `name` (letter case aside, a final dot aside).
fn same_name(read: &[u8], name: &str) -> bool {
    read.eq_ignore_ascii_case(name.trim_end_matches('.').as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `q` with the given answer records appended.
    fn answer(q: &[u8], records: &[&[u8]]) -> Vec<u8> {
        let mut a = q.to_vec();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = records.len() as u8;
        for r in records {
            a.extend_from_slice(r);
        }
        a
    }

    const CNAME_TO_12: &[u8] = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x0c";
    const A_FOR_QNAME: &[u8] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x07";

    #[test]
    fn hosts_files() {
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
    }

    #[test]
    fn queries_and_answers() {
        let q = dns_query(0x1234, "a.bc").unwrap();
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x02bc\x00\x00\x01\x00\x01"
        );
        // The question, a CNAME (to itself, compressed), then the A record.
        let a = answer(&q, &[CNAME_TO_12, A_FOR_QNAME]);
        let want = Some(Ok(Some("203.0.113.7".parse().unwrap())));
        assert_eq!(dns_answer(&a, 0x1234, "a.bc"), want);
        assert_eq!(dns_answer(&a, 0x1234, "A.BC."), want, "any letter case");
        assert_eq!(dns_answer(&a, 0x9999, "a.bc"), None, "another id");
        let mut nx = answer(&q, &[]);
        nx[3] = 0x83;
        assert_eq!(dns_answer(&nx, 0x1234, "a.bc"), Some(Ok(None)));
        assert!(dns_answer(&a[..a.len() - 2], 0x1234, "a.bc").is_none());
        let mut query = a.clone();
        query[2] = 0x01;
        assert_eq!(dns_answer(&query, 0x1234, "a.bc"), None, "not a response");
    }

    // The answer used to be taken from the first A record whatever the question was: a
    // forged datagram with the right id could name any host.
    #[test]
    fn an_answer_to_another_question_is_not_ours() {
        let ours = dns_query(7, "myhome.example.net").unwrap();
        let other = dns_query(7, "evil.example.org").unwrap();
        let forged = answer(&other, &[A_FOR_QNAME]);
        assert_eq!(dns_answer(&forged, 7, "myhome.example.net"), None);
        // Our question, but an A record for another name: no address.
        let mut a = answer(&ours, &[]);
        a[7] = 1;
        a.extend_from_slice(
            b"\x04evil\x00\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04",
        );
        assert_eq!(dns_answer(&a, 7, "myhome.example.net"), Some(Ok(None)));
        // Two questions, type AAAA, class CH: not our question.
        let mut two = answer(&ours, &[A_FOR_QNAME]);
        two[5] = 2;
        assert_eq!(dns_answer(&two, 7, "myhome.example.net"), None);
        let n = ours.len();
        let mut aaaa = answer(&ours, &[A_FOR_QNAME]);
        aaaa[n - 3] = 28;
        assert_eq!(dns_answer(&aaaa, 7, "myhome.example.net"), None);
        let mut chaos = answer(&ours, &[A_FOR_QNAME]);
        chaos[n - 1] = 3;
        assert_eq!(dns_answer(&chaos, 7, "myhome.example.net"), None);
    }

    #[test]
    fn cname_chains_are_followed() {
        let q = dns_query(9, "cam.home.example").unwrap();
        // cam.home.example CNAME box.example; box.example A 198.51.100.4.
        let mut target = b"\x03box\x07example\x00".to_vec();
        let a_rec = [
            &target[..],
            b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x04",
        ]
        .concat();
        let mut cname = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00".to_vec();
        cname.push(target.len() as u8);
        cname.append(&mut target);
        let a = answer(&q, &[&cname, &a_rec]);
        assert_eq!(
            dns_answer(&a, 9, "cam.home.example"),
            Some(Ok(Some("198.51.100.4".parse().unwrap())))
        );
        // The A record of another name, with no CNAME leading there first, is not taken.
        let a = answer(&q, &[&a_rec, &cname]);
        assert_eq!(dns_answer(&a, 9, "cam.home.example"), Some(Ok(None)));
    }

    #[test]
    fn compression_loops_and_bad_labels_are_malformed() {
        let q = dns_query(3, "a.bc").unwrap();
        // A record whose owner is a pointer to itself.
        let mut a = answer(&q, &[]);
        a[7] = 1;
        let at = a.len() as u8;
        a.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        assert_eq!(dns_answer(&a, 3, "a.bc"), None);
        // A label length with the reserved 0x40 bit.
        let mut bad = answer(&q, &[]);
        bad[12] = 0x41;
        assert_eq!(dns_answer(&bad, 3, "a.bc"), None);
    }

    #[test]
    fn ids_come_from_the_kernel() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id().unwrap()).collect();
        assert!(ids.len() > 48, "{} distinct ids of 64", ids.len());
    }
}
