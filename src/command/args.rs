//! The argument parsers of the verb table: PORT and EPRT addresses, TYPE, SITE, `ls`
//! options and the small word helpers. Pure functions on bytes, no I/O.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::{Command, EpsvArg, ParseError, Type};
use crate::calendar;

pub(super) fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

pub(super) fn nonempty(s: &[u8], why: &'static str) -> Result<Vec<u8>, ParseError> {
    if s.is_empty() {
        Err(ParseError::Syntax(why))
    } else {
        Ok(s.to_vec())
    }
}

pub(super) fn digits(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty() && s.len() <= 20 && s.iter().all(u8::is_ascii_digit)).then_some(s)
}

pub(super) fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    }
}

pub(super) fn parse_type(w: &[u8]) -> Result<Type, ParseError> {
    let up = w.to_ascii_uppercase();
    let parts: Vec<&[u8]> = up.split(|&b| b == b' ').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [b"A"] | [b"A", b"N"] => Ok(Type::Ascii),
        [b"I"] | [b"L", b"8"] => Ok(Type::Image),
        [b"A", b"T" | b"C"] | [b"E"] | [b"E", _] | [b"L", _] => Err(ParseError::Unsupported(
            "only TYPE A, A N, I and L 8 are supported",
        )),
        _ => Err(ParseError::Syntax("TYPE takes A, I or L 8")),
    }
}

/// Leading `-options` of LIST/NLST (`LIST -la dir`) are accepted and ignored: clients send
/// them whatever the server is (wget `LIST -a`, ncftp `LIST -a ./dir`).
#[inline(never)] // LIST, NLST and STAT share one copy
/// Returns the rest and whether `-a` or `-A` was among the options (`-la`, `-al`, `-lA`):
/// only then does a listing show names starting with `.`, as `ls` does.
pub fn strip_ls_options(mut arg: &[u8]) -> (&[u8], bool) {
    let mut all = false;
    loop {
        arg = arg.trim_ascii_start();
        if arg.first() != Some(&b'-') {
            return (arg, all);
        }
        let (opts, rest) = split_word(arg);
        all |= opts.iter().any(|&b| b == b'a' || b == b'A');
        arg = rest;
    }
}

pub(super) fn parse_port(w: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(w).ok()?;
    let mut n = [0u8; 6];
    let mut it = s.split(',');
    for v in n.iter_mut() {
        *v = it.next()?.trim().parse().ok()?;
    }
    if it.next().is_some() {
        return None;
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
    Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
}

pub(super) fn parse_eprt(w: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(w).ok()?;
    let d = s.chars().next()?;
    if !(33..=126).contains(&(d as u32)) {
        return None;
    }
    let f: Vec<&str> = s.split(d).collect();
    if f.len() != 5 || !f[0].is_empty() || !f[4].is_empty() {
        return None;
    }
    let ip: IpAddr = f[2].parse().ok()?;
    match (f[1], ip) {
        ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)) => {}
        _ => return None,
    }
    let port: u16 = f[3].parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

pub(super) fn parse_site(arg: &[u8]) -> Result<Command, ParseError> {
    let (sub, rest) = split_word(arg.trim_ascii_start());
    match sub.to_ascii_uppercase().as_slice() {
        b"CHMOD" => {
            let (mode, p) = split_word(rest.trim_ascii_start());
            let mode = std::str::from_utf8(mode)
                .ok()
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .filter(|&m| m <= 0o7777)
                .ok_or(ParseError::Syntax(
                    "SITE CHMOD takes an octal mode and a path",
                ))?;
            if p.is_empty() {
                return Err(ParseError::Syntax(
                    "SITE CHMOD takes an octal mode and a path",
                ));
            }
            Ok(Command::SiteChmod(mode, p.to_vec()))
        }
        b"HELP" | b"" => Ok(Command::SiteHelp),
        _ => Err(ParseError::NotImplemented),
    }
}

pub(super) fn parse_port_command(a: &[u8]) -> Result<Command, ParseError> {
    let addr = parse_port(trim(a)).ok_or(ParseError::Syntax("PORT takes h1,h2,h3,h4,p1,p2"));
    Ok(Command::Port(addr?))
}

pub(super) fn parse_eprt_command(a: &[u8]) -> Result<Command, ParseError> {
    let addr = parse_eprt(trim(a)).ok_or(ParseError::Syntax("EPRT takes |proto|address|port|"));
    Ok(Command::Eprt(addr?))
}

pub(super) fn parse_epsv(a: &[u8]) -> Result<Command, ParseError> {
    Ok(Command::Epsv(
        match trim(a).to_ascii_uppercase().as_slice() {
            b"" => EpsvArg::Any,
            b"ALL" => EpsvArg::All,
            b"1" => EpsvArg::Proto(1),
            b"2" => EpsvArg::Proto(2),
            _ => return Err(ParseError::Syntax("EPSV takes 1, 2 or ALL")),
        },
    ))
}

pub(super) fn parse_mfmt(a: &[u8]) -> Result<Command, ParseError> {
    let (t, p) = split_word(a);
    match calendar::parse_time(t) {
        Some(t) if !p.is_empty() => Ok(Command::Mfmt(t, p.to_vec())),
        _ => Err(ParseError::Syntax("MFMT takes YYYYMMDDHHMMSS and a path")),
    }
}

pub(super) fn parse_mode(a: &[u8]) -> Result<Command, ParseError> {
    match trim(a).to_ascii_uppercase().as_slice() {
        b"S" => Ok(Command::Mode),
        b"B" | b"C" => Err(ParseError::Unsupported("only MODE S is supported")),
        _ => Err(ParseError::Syntax("MODE takes S, B or C")),
    }
}

pub(super) fn parse_stru(a: &[u8]) -> Result<Command, ParseError> {
    match trim(a).to_ascii_uppercase().as_slice() {
        b"F" => Ok(Command::Stru),
        b"R" | b"P" => Err(ParseError::Unsupported("only STRU F is supported")),
        _ => Err(ParseError::Syntax("STRU takes F, R or P")),
    }
}

pub(super) fn parse_rest(a: &[u8]) -> Result<Command, ParseError> {
    let n = digits(trim(a)).and_then(|d| std::str::from_utf8(d).ok()?.parse().ok());
    Ok(Command::Rest(
        n.ok_or(ParseError::Syntax("REST takes a byte offset"))?,
    ))
}

/// The argument of XMD5, XSHA1, XSHA256, XSHA512 and XCRC: a path as it is, or a path in
/// double quotes optionally followed by a start offset and an end offset (exclusive), as
/// Serv-U and FileZilla send them (`XCRC "a b.iso" 0 1048576`).
pub(super) fn parse_xhash(algo: super::Algo, a: &[u8]) -> Result<Command, ParseError> {
    const BAD: ParseError = ParseError::Syntax("expected a path, or \"path\" [start [end]]");
    if a.is_empty() {
        return Err(ParseError::Syntax("a path is required"));
    }
    let (path, rest) = match a.strip_prefix(b"\"") {
        Some(q) => {
            let close = q.iter().position(|&b| b == b'"').ok_or(BAD)?;
            (&q[..close], &q[close + 1..])
        }
        None => (a, &b""[..]),
    };
    let mut nums = rest
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.parse::<u64>().ok())
        });
    let start = nums.next().map(|n| n.ok_or(BAD)).transpose()?.unwrap_or(0);
    let end = nums.next().map(|n| n.ok_or(BAD)).transpose()?;
    if nums.next().is_some() || path.is_empty() || end.is_some_and(|e| e < start) {
        return Err(BAD);
    }
    Ok(Command::XHash {
        algo,
        path: path.to_vec(),
        start,
        end,
    })
}
