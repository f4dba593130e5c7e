//! Listing formats: `ls -l` lines for LIST and STAT, bare names for NLST, RFC 3659 facts for
//! MLSD/MLST, and the UTC calendar arithmetic they need (no time-zone database on a router).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::vfs::{Kind, Meta};

/// Six months, the `ls` threshold between `Mon dd HH:MM` and `Mon dd  YYYY`.
const SIX_MONTHS: i64 = 183 * 86400;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Civil date and time (UTC) of seconds since the epoch: (year, month, day, h, m, s).
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `YYYYMMDDHHMMSS` in UTC, as MDTM and MLSD's `modify` fact want it.
pub fn timeval(secs: i64) -> String {
    let mut out = Vec::with_capacity(14);
    push_timeval(&mut out, secs);
    String::from_utf8(out).unwrap_or_default()
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn mode_string(m: &Meta) -> [u8; 10] {
    let mut s = *b"----------";
    s[0] = match m.kind {
        Kind::Dir => b'd',
        Kind::Symlink => b'l',
        Kind::File => b'-',
        Kind::Other => match m.mode & 0o170000 {
            0o010000 => b'p',
            0o020000 => b'c',
            0o060000 => b'b',
            0o140000 => b's',
            _ => b'?',
        },
    };
    let bits = b"rwxrwxrwx";
    for (i, b) in bits.iter().enumerate() {
        if m.mode & (0o400 >> i) != 0 {
            s[1 + i] = *b;
        }
    }
    if m.mode & 0o4000 != 0 {
        s[3] = if s[3] == b'x' { b's' } else { b'S' };
    }
    if m.mode & 0o2000 != 0 {
        s[6] = if s[6] == b'x' { b's' } else { b'S' };
    }
    if m.mode & 0o1000 != 0 {
        s[9] = if s[9] == b'x' { b't' } else { b'T' };
    }
    s
}

/// Appends `n` in decimal, padded with spaces to `width` (right-aligned, or left-aligned
/// when `left`). Listings format tens of thousands of numbers: this is the hot path of LIST,
/// and `core::fmt` with padding costs several times more.
fn push_num(out: &mut Vec<u8>, n: u64, width: usize, left: bool) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    let pad = width.saturating_sub(len);
    if !left {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(&digits[i..]);
    if left {
        out.resize(out.len() + pad, b' ');
    }
}

/// Appends `n` (< 100) as two digits. Dates are made of these: constant divisors compile to
/// multiplications, where a loop over a variable divisor costs a division per digit.
fn push_2(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

/// Appends `n` (< 10000) as four digits.
fn push_4(out: &mut Vec<u8>, n: u32) {
    push_2(out, n / 100 % 100);
    push_2(out, n % 100);
}

/// Appends `n` in lower-case hexadecimal without leading zeros.
fn push_hex(out: &mut Vec<u8>, n: u64) {
    let digits = (16 - n.leading_zeros() as usize / 4).max(1);
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[((n >> (i * 4)) & 0xf) as usize]);
    }
}

/// `YYYYMMDDHHMMSS` appended to `out`.
fn push_timeval(out: &mut Vec<u8>, secs: i64) {
    let (y, mo, d, h, mi, s) = civil(secs);
    push_4(out, y.clamp(0, 9999) as u32);
    for v in [mo, d, h, mi, s] {
        push_2(out, v);
    }
}

/// One `ls -l` line (with CRLF), as every client's LIST parser expects:
/// `-rw-r--r--    1 0        0            1048576 Nov 21 16:00 big.bin`.
pub fn ls_line(out: &mut Vec<u8>, name: &[u8], m: &Meta, link: Option<&[u8]>, now: i64) {
    let (y, mo, d, h, mi, _) = civil(m.mtime);
    out.extend_from_slice(&mode_string(m));
    out.push(b' ');
    push_num(out, m.nlink, 4, false);
    out.push(b' ');
    push_num(out, u64::from(m.uid), 8, true);
    out.push(b' ');
    push_num(out, u64::from(m.gid), 8, true);
    out.push(b' ');
    push_num(out, m.size, 12, false);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(mo - 1) as usize].as_bytes());
    out.push(b' ');
    push_num(out, u64::from(d), 2, false);
    out.push(b' ');
    if m.mtime > now - SIX_MONTHS && m.mtime <= now + 3600 {
        push_2(out, h);
        out.push(b':');
        push_2(out, mi);
    } else {
        out.push(b' ');
        push_num(out, y.max(0) as u64, 4, false);
    }
    out.push(b' ');
    out.extend_from_slice(name);
    if let Some(t) = link {
        out.extend_from_slice(b" -> ");
        out.extend_from_slice(t);
    }
    out.extend_from_slice(b"\r\n");
}

/// MLSD/MLST facts followed by one space (RFC 3659 section 7): the caller appends the name.
/// `kind` may differ from `m.kind` for a symlink whose target was looked up.
pub fn facts(out: &mut Vec<u8>, m: &Meta, cdir: bool, writable: bool) {
    let ty: &[u8] = match m.kind {
        _ if cdir => b"cdir",
        Kind::Dir => b"dir",
        Kind::File => b"file",
        Kind::Symlink => b"OS.unix=symlink",
        Kind::Other => b"OS.unix=special",
    };
    let perm: &[u8] = match (m.kind, writable) {
        (Kind::Dir, true) => b"flcdmpe",
        (Kind::Dir, false) => b"el",
        (_, true) => b"adfrw",
        (_, false) => b"r",
    };
    out.extend_from_slice(b"type=");
    out.extend_from_slice(ty);
    if m.kind == Kind::File {
        out.extend_from_slice(b";size=");
        push_num(out, m.size, 0, false);
    }
    out.extend_from_slice(b";modify=");
    push_timeval(out, m.mtime);
    out.extend_from_slice(b";perm=");
    out.extend_from_slice(perm);
    out.extend_from_slice(b";unique=");
    push_hex(out, m.dev);
    out.push(b'U');
    push_hex(out, m.ino);
    out.extend_from_slice(b"; ");
}

/// True when a name contains shell pattern characters.
pub fn has_glob(name: &[u8]) -> bool {
    name.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Shell-style matching of one name: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`. A leading `.` must
/// be matched explicitly, as in the shell. Iterative, so no pattern can blow the stack.
pub fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class(&pat[p..], name[n])
                .map(|(ok, len)| (ok, p + len))
                .and_then(|(ok, np)| ok.then_some(np)),
            Some(&c) if c == name[n] => Some(p + 1),
            _ => None,
        };
        match (step, star) {
            (Some(np), _) => {
                p = np;
                n += 1;
            }
            (None, Some((sp, sn))) => {
                star = Some((sp, sn + 1));
                p = sp + 1;
                n = sn + 1;
            }
            (None, None) => return false,
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

/// Matches `c` against a bracket class at the start of `pat`: (matched, class length).
/// An unterminated `[` is taken literally.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(1), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            matched |= pat[i] <= c && c <= pat[i + 2];
            i += 3;
        } else {
            matched |= pat[i] == c;
            i += 1;
        }
    }
    Some((c == b'[', 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(timeval(1_795_219_200), "20261121000000");
        for s in [-86400 * 400, 951_782_400, 4_102_444_800, 1_700_000_000] {
            let (y, mo, d, h, mi, se) = civil(s);
            let back = days_from_civil(y, mo, d) * 86400 + i64::from(h * 3600 + mi * 60 + se);
            assert_eq!(back, s);
        }
    }

    fn meta(kind: Kind, mode: u32, size: u64, mtime: i64) -> Meta {
        Meta {
            kind,
            mode,
            nlink: 1,
            uid: 0,
            gid: 0,
            size,
            mtime,
            dev: 1,
            ino: 2,
        }
    }

    #[test]
    fn ls_lines() {
        let now = 1_795_219_200; // 2026-11-21
        let mut o = Vec::new();
        ls_line(
            &mut o,
            b"big.bin",
            &meta(Kind::File, 0o100644, 1048576, now - 3600),
            None,
            now,
        );
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "-rw-r--r--    1 0        0             1048576 Nov 20 23:00 big.bin\r\n"
        );
        let mut o = Vec::new();
        ls_line(
            &mut o,
            b"old",
            &meta(Kind::Dir, 0o040755, 4096, 1_591_660_800),
            None,
            now,
        );
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "drwxr-xr-x    1 0        0                4096 Jun  9  2020 old\r\n"
        );
        let mut o = Vec::new();
        ls_line(
            &mut o,
            b"l",
            &meta(Kind::Symlink, 0o120777, 3, now),
            Some(b"sub"),
            now,
        );
        assert!(o.starts_with(b"lrwxrwxrwx") && o.ends_with(b" l -> sub\r\n"));
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*.txt", b"a.txt"));
        assert!(!glob_match(b"*.txt", b"a.txt.gz"));
        assert!(!glob_match(b"*", b".hidden"));
        assert!(glob_match(b".*", b".hidden"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[!a-c]x", b"bx"));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc"));
        assert!(glob_match(b"[x", b"[x"));
        assert!(!glob_match(b"a*b", b"a"));
        let long = vec![b'a'; 5000];
        assert!(!glob_match(b"*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn numbers() {
        let mut o = Vec::new();
        push_num(&mut o, 0, 4, false);
        push_num(&mut o, 42, 8, true);
        push_num(&mut o, u64::MAX, 4, false);
        o.push(b'|');
        push_hex(&mut o, 0);
        push_hex(&mut o, 0xfe00);
        o.push(b'|');
        push_hex(&mut o, u64::MAX);
        push_4(&mut o, 7);
        push_2(&mut o, 59);
        assert_eq!(
            o,
            b"   042      18446744073709551615|0fe00|ffffffffffffffff000759"
        );
    }

    #[test]
    fn mlsd_facts() {
        let mut o = Vec::new();
        facts(&mut o, &meta(Kind::File, 0o100644, 5, 0), false, false);
        assert_eq!(
            o,
            b"type=file;size=5;modify=19700101000000;perm=r;unique=1U2; "
        );
    }
}
