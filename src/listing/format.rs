//! Listing line formats: `ls -l` lines for LIST and STAT, RFC 3659 facts for MLSD/MLST, and
//! `YYYYMMDDHHMMSS` time values (MDTM, MFMT). Pure functions on a [`Meta`]: no I/O, no
//! session state. Producing and streaming a whole listing is the parent module's job.

use crate::calendar::{MONTHS, civil};
use crate::vfs::{Kind, Meta};

/// Whether lines are made with copies of a known length and two digits at a time (x86, ARM)
/// or byte by byte and a digit at a time (MIPS). Measured on the boards in instructions, a
/// LIST and an MLSD of 10,000 entries: with the copies, MLSD 10% less on aarch64 and 5% on
/// armv7, LIST 1-3% (valgrind on x86: the server's own instructions 14% less); on mipsel
/// LIST 5% more, MLSD 3%.
const WIDE_COPIES: bool = !cfg!(target_arch = "mips");

/// "00" to "99": two digits at once.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Six months, the `ls` threshold between `Mon dd HH:MM` and `Mon dd  YYYY`.
const SIX_MONTHS: i64 = 183 * 86400;

/// `YYYYMMDDHHMMSS` in UTC, as MDTM and MLSD's `modify` fact want it.
pub fn timeval(secs: i64) -> String {
    let mut h = Head::new();
    h.timeval(secs);
    String::from_utf8_lossy(h.as_bytes()).into_owned()
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

/// A listing line, built on the stack and copied into the output at once: listings format
/// tens of thousands of lines, and appending each small piece to a `Vec` (a capacity check
/// and a copy call each) cost more than the formatting itself. Every head fits (an `ls -l`
/// head is at most 90 bytes, MLSD facts at most 183) and so does the name after it, up to
/// [`LINE_ROOM`] (a longer one, or a long symlink target, is appended after the line).
pub(super) struct Head {
    buf: [u8; LINE_ROOM],
    len: usize,
    /// The date of the last line's time: (days since the epoch, year, month, day). The
    /// entries of a folder mostly share a few days (a camera's folder one), and a civil
    /// date costs a dozen divisions.
    day: Option<(u32, i64, u32, u32)>,
    /// The run of the last line that [`Head::repeat`] made, and what it was made of.
    run: [u8; RUN_ROOM],
    run_len: usize,
    run_key: Option<RunKey>,
    /// The device part of MLSD's `unique` fact in the last line ([`Head::dev_hex`]), and
    /// of which device: the same for most lines of a folder.
    dev_digits: [u8; 16],
    dev_len: usize,
    dev_key: Option<u64>,
}

/// What a repeated run of a line is made of: whether it is an `ls -l` line's, the mode,
/// links, owner and group.
type RunKey = (bool, u32, u64, u32, u32);

/// Room for a repeated run: an `ls -l` line's mode, links, owner and group take at most
/// 54 bytes, MLSD's UNIX facts 59.
const RUN_ROOM: usize = 64;

/// Room for a line: the longest head and a name of 255 bytes (Linux's NAME_MAX) and CRLF
/// fit; ntfs-3g's names (255 UTF-16 units) may take up to 765 bytes of UTF-8 and go after.
const LINE_ROOM: usize = 512;

impl Head {
    pub(super) fn new() -> Head {
        Head {
            buf: [0; LINE_ROOM],
            len: 0,
            day: None,
            run: [0; RUN_ROOM],
            run_len: 0,
            run_key: None,
            dev_digits: [0; 16],
            dev_len: 0,
            dev_key: None,
        }
    }

    /// `dev` in hexadecimal ([`Head::hex`]), copied from the last line's when it was the
    /// same device: a copy of its digits costs less than making them (a dozen shifts; on
    /// mipsel 87 instructions an MLSD line of 2,800). Byte by byte, as [`Head::put`] on
    /// MIPS: a copy call would cost more than the digits. (A date's
    /// digits, made by multiplications, cost less than such a copy: they are made anew.)
    fn dev_hex(&mut self, dev: u64) {
        if self.dev_key == Some(dev) {
            for i in 0..self.dev_len {
                self.buf[self.len] = self.dev_digits[i];
                self.len += 1;
            }
            return;
        }
        let start = self.len;
        self.hex(dev);
        // (At most 16 digits: a u64's.)
        let n = self.len - start;
        for i in 0..n {
            self.dev_digits[i] = self.buf[start + i];
        }
        self.dev_len = n;
        self.dev_key = Some(dev);
    }

    /// A run of the line that depends only on `key`: copied whole from the last line's
    /// when its key was the same (a folder's entries mostly share their owner and mode),
    /// else made by `make` and kept.
    fn repeat(&mut self, key: RunKey, make: impl FnOnce(&mut Head)) {
        let start = self.len;
        if self.run_key == Some(key) {
            let n = self.run_len;
            self.buf[start..start + n].copy_from_slice(&self.run[..n]);
            self.len += n;
            return;
        }
        make(self);
        let n = self.len - start;
        self.run_key = None;
        if n <= RUN_ROOM {
            self.run[..n].copy_from_slice(&self.buf[start..start + n]);
            self.run_len = n;
            self.run_key = Some(key);
        }
    }

    /// Ends the line with `name`, ` -> link` and CRLF, and appends it to `out`: one copy a
    /// line (on mipsel a copy call costs about 100 instructions, whatever its length).
    fn end_line(&mut self, out: &mut Vec<u8>, name: &[u8], link: Option<&[u8]>) {
        self.tail(out, name);
        if let Some(t) = link {
            self.tail(out, b" -> ");
            self.tail(out, t);
        }
        self.tail(out, b"\r\n");
        out.extend_from_slice(self.as_bytes());
    }

    /// Puts `s` after the line so far; what does not fit in [`LINE_ROOM`] is appended to
    /// `out` (the line so far first).
    #[inline(never)]
    fn tail(&mut self, out: &mut Vec<u8>, s: &[u8]) {
        if self.len + s.len() > LINE_ROOM {
            out.extend_from_slice(self.as_bytes());
            out.extend_from_slice(s);
            self.len = 0;
            return;
        }
        self.put(s);
    }

    /// Inlined where it is called: a literal's length is then known, and the copy is a few
    /// moves ([`WIDE_COPIES`]); byte by byte on MIPS, where a copy call costs more.
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        if WIDE_COPIES {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s);
            self.len += s.len();
        } else {
            // (Not through `byte`, which the optimiser may leave a call: one per byte.)
            for &b in s {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `n` spaces, by hand: a fill is a call to memset, mostly for none or a few.
    #[inline(always)]
    fn spaces(&mut self, n: usize) {
        for _ in 0..n {
            self.byte(b' ');
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// `n` in decimal, padded with spaces to `width` (right-aligned, or left-aligned when
    /// `left`); `core::fmt` with padding costs several times more. The digits are written
    /// in place, last first.
    fn num(&mut self, n: u64, width: usize, left: bool) {
        let digits = match u32::try_from(n) {
            Ok(v) => {
                let mut d = 1;
                while d < 10 && v >= POWERS[d] {
                    d += 1;
                }
                d
            }
            // 4 GiB and more: ten digits at least.
            Err(_) => {
                let (mut d, mut rest) = (10, n / 10_000_000_000);
                while rest > 0 {
                    rest /= 10;
                    d += 1;
                }
                d
            }
        };
        let pad = width.saturating_sub(digits);
        if !left {
            self.spaces(pad);
        }
        let end = self.len + digits;
        let mut i = end;
        // 64-bit digits only while the number needs them: on a 32-bit CPU each 64-bit
        // division is a call into the runtime, two per digit.
        let mut wide = n;
        while wide > u64::from(u32::MAX) {
            i -= 1;
            self.buf[i] = b'0' + (wide % 10) as u8;
            wide /= 10;
        }
        let mut v = wide as u32;
        while WIDE_COPIES && v >= 10 {
            let p = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            self.buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[p..p + 2]);
            if v == 0 {
                break; // (they were its first two digits)
            }
        }
        while i > end - digits {
            i -= 1;
            self.buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len = end;
        if left {
            self.spaces(pad);
        }
    }

    /// `n` (< 100) as two digits. Dates are made of these: constant divisors compile to
    /// multiplications, where a loop over a variable divisor costs a division per digit.
    #[inline(always)]
    fn two(&mut self, n: u32) {
        if WIDE_COPIES {
            let i = (n % 100) as usize * 2;
            self.put(&DIGIT_PAIRS[i..i + 2]);
        } else {
            self.byte(b'0' + (n / 10 % 10) as u8);
            self.byte(b'0' + (n % 10) as u8);
        }
    }

    /// `n` (< 10000) as four digits.
    fn four(&mut self, n: u32) {
        self.two(n / 100 % 100);
        self.two(n % 100);
    }

    /// A permission mode in octal with a leading zero, as `0644` (four digits at least).
    fn octal(&mut self, n: u32) {
        let digits = if n > 0o7777 { 6 } else { 4 };
        for i in (0..digits).rev() {
            self.byte(b'0' + ((n >> (i * 3)) & 7) as u8);
        }
    }

    /// `n` in lower-case hexadecimal without leading zeros (32-bit shifts where it fits:
    /// a 64-bit shift by a variable is a dozen instructions on a 32-bit CPU).
    fn hex(&mut self, n: u64) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if let Ok(v) = u32::try_from(n) {
            let digits = (8 - v.leading_zeros() as usize / 4).max(1);
            for i in (0..digits).rev() {
                self.byte(HEX[((v >> (i * 4)) & 0xf) as usize]);
            }
            return;
        }
        let digits = 16 - n.leading_zeros() as usize / 4;
        for i in (0..digits).rev() {
            self.byte(HEX[((n >> (i * 4)) & 0xf) as usize]);
        }
    }

    /// [`civil`] of `secs`, the date part from the last line's where it is the same day.
    fn civil(&mut self, secs: i64) -> (i64, u32, u32, u32, u32, u32) {
        let Ok(s) = u32::try_from(secs) else {
            return civil(secs);
        };
        let (days, rem) = (s / 86400, s % 86400);
        let (h, mi, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
        match self.day {
            Some((d, y, mo, md)) if d == days => (y, mo, md, h, mi, sec),
            _ => {
                let (y, mo, md, ..) = civil(secs);
                self.day = Some((days, y, mo, md));
                (y, mo, md, h, mi, sec)
            }
        }
    }

    /// `YYYYMMDDHHMMSS`.
    fn timeval(&mut self, secs: i64) {
        let (y, mo, d, h, mi, s) = self.civil(secs);
        self.four(y.clamp(0, 9999) as u32);
        self.two(mo);
        self.two(d);
        self.two(h);
        self.two(mi);
        self.two(s);
    }
}

/// 10^i: where a 32-bit number's digits end.
const POWERS: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// One `ls -l` line (with CRLF), as every client's LIST parser expects:
/// `-rw-r--r--    1 0        0            1048576 Nov 21 16:00 big.bin`.
pub fn ls_line(out: &mut Vec<u8>, name: &[u8], m: &Meta, link: Option<&[u8]>, now: i64) {
    ls_line_in(&mut Head::new(), out, name, m, link, now);
}

/// [`ls_line`] made in `l`, a listing's one [`Head`] for all its lines (a new one would be
/// zeroed first, 576 bytes a line, and would keep no date or run from the line before).
pub(super) fn ls_line_in(
    l: &mut Head,
    out: &mut Vec<u8>,
    name: &[u8],
    m: &Meta,
    link: Option<&[u8]>,
    now: i64,
) {
    let (y, mo, d, h, mi, _) = l.civil(m.mtime);
    l.len = 0;
    l.repeat((true, m.mode, m.nlink, m.uid, m.gid), |l| {
        l.put(&mode_string(m));
        l.byte(b' ');
        l.num(m.nlink, 4, false);
        l.byte(b' ');
        l.num(u64::from(m.uid), 8, true);
        l.byte(b' ');
        l.num(u64::from(m.gid), 8, true);
        l.byte(b' ');
    });
    l.num(m.size, 12, false);
    l.byte(b' ');
    l.put(MONTHS[(mo - 1) as usize].as_bytes());
    l.byte(b' ');
    l.num(u64::from(d), 2, false);
    l.byte(b' ');
    if m.mtime > now - SIX_MONTHS && m.mtime <= now + 3600 {
        l.two(h);
        l.byte(b':');
        l.two(mi);
    } else {
        l.byte(b' ');
        l.num(y.max(0) as u64, 4, false);
    }
    l.byte(b' ');
    l.end_line(out, name, link);
}

/// MLSD/MLST facts followed by one space (RFC 3659 section 7): the caller appends the name.
/// `kind` may differ from `m.kind` for a symlink whose target was looked up.
pub fn facts(out: &mut Vec<u8>, m: &Meta, cdir: bool, writable: bool) {
    let mut l = Head::new();
    facts_head(&mut l, m, cdir, writable);
    out.extend_from_slice(l.as_bytes());
}

/// An MLSD line, its facts and `name`, made in `l` (see [`ls_line_in`]).
pub(super) fn facts_line_in(
    l: &mut Head,
    out: &mut Vec<u8>,
    m: &Meta,
    writable: bool,
    name: &[u8],
) {
    facts_head(l, m, false, writable);
    l.end_line(out, name, None);
}

/// The facts of [`facts`], made in `l`.
fn facts_head(l: &mut Head, m: &Meta, cdir: bool, writable: bool) {
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
    l.len = 0;
    l.put(b"type=");
    l.put(ty);
    if m.kind == Kind::File {
        l.put(b";size=");
        l.num(m.size, 0, false);
    }
    l.put(b";modify=");
    l.timeval(m.mtime);
    l.put(b";perm=");
    l.put(perm);
    l.put(b";unique=");
    l.dev_hex(m.dev);
    l.byte(b'U');
    l.hex(m.ino);
    // RFC 3659's extension facts as pure-ftpd sends them: Go and Node clients show
    // permissions from these.
    let mode = m.mode & 0o7777;
    l.repeat((false, mode, 0, m.uid, m.gid), |l| {
        l.put(b";UNIX.mode=");
        l.octal(mode);
        l.put(b";UNIX.uid=");
        l.num(u64::from(m.uid), 0, false);
        l.put(b";UNIX.gid=");
        l.num(u64::from(m.gid), 0, false);
        l.put(b"; ");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_values() {
        assert_eq!(timeval(1_795_219_200), "20261121000000");
        assert_eq!(timeval(0), "19700101000000");
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

    // A name or symlink target too long for the line's room is appended after it: the
    // same line, whatever fits.
    #[test]
    fn lines_too_long_for_the_room_are_the_same_lines() {
        let now = 1_795_219_200;
        let m = meta(Kind::Symlink, 0o120777, 3, now);
        let mut head = Vec::new();
        ls_line(&mut head, b"", &m, None, now);
        head.truncate(head.len() - 2);
        for (name, target) in [(250, 0), (250, 300), (700, 10), (10, 4000)] {
            let (name, target) = (vec![b'n'; name], vec![b't'; target]);
            let link = (!target.is_empty()).then_some(&target[..]);
            let mut want = head.clone();
            want.extend_from_slice(&name);
            if let Some(t) = link {
                want.extend_from_slice(b" -> ");
                want.extend_from_slice(t);
            }
            want.extend_from_slice(b"\r\n");
            let mut o = b"before".to_vec();
            ls_line_in(&mut Head::new(), &mut o, &name, &m, link, now);
            assert_eq!(o[6..], want[..]);
            let mut facts_line = Vec::new();
            facts(&mut facts_line, &m, false, true);
            facts_line.extend_from_slice(&name);
            facts_line.extend_from_slice(b"\r\n");
            let mut o = Vec::new();
            facts_line_in(&mut Head::new(), &mut o, &m, true, &name);
            assert_eq!(o, facts_line);
        }
    }

    // Lines made one after another in a listing's one head (its date, owner and mode
    // runs kept from line to line) are those of each entry alone, whatever changes between
    // them.
    #[test]
    fn a_listings_lines_are_each_entrys_own() {
        let now = 1_795_219_200;
        let base = meta(Kind::File, 0o100644, 5, now - 100);
        let entries = [
            base,
            base,
            Meta { nlink: 3, ..base },
            Meta { uid: 1000, ..base },
            Meta { uid: 1000, ..base },
            Meta { gid: 7, ..base },
            Meta {
                mode: 0o104755,
                ..base
            },
            Meta {
                nlink: u64::MAX,
                uid: u32::MAX,
                gid: u32::MAX,
                ..base
            },
            Meta {
                kind: Kind::Dir,
                mode: 0o040755,
                nlink: 2,
                ..base
            },
            Meta {
                mtime: now - 86_400 * 400,
                ..base
            },
            Meta { mtime: -1, ..base },
            Meta {
                mtime: i64::from(u32::MAX) + 86_400,
                ..base
            },
            Meta {
                mtime: now - 1,
                size: 5_000_000_000,
                ..base
            },
            base,
            // MLSD's device part of `unique` and its date, each kept from line to line.
            Meta {
                dev: 0x10302,
                ..base
            },
            Meta {
                dev: 0x10302,
                ino: 99,
                ..base
            },
            Meta {
                dev: 0x20302,
                ..base
            },
            Meta {
                dev: u64::MAX,
                ..base
            },
            Meta { dev: 0, ..base },
            base,
            Meta {
                mtime: now - 3 * 3600,
                ..base
            },
            Meta {
                mtime: now - 100 - 86_400 * 365,
                ..base
            },
            Meta {
                mtime: now - 100 - 86_400 * 31,
                ..base
            },
            Meta {
                mtime: now - 100 - 86_400,
                ..base
            },
            base,
        ];
        let (mut head, mut long, mut facts_lines) = (Head::new(), Vec::new(), Vec::new());
        let mut facts_head = Head::new();
        let (mut want_long, mut want_facts) = (Vec::new(), Vec::new());
        for (i, m) in entries.iter().enumerate() {
            let name = format!("n{i}").into_bytes();
            ls_line_in(&mut head, &mut long, &name, m, None, now);
            facts_line_in(&mut facts_head, &mut facts_lines, m, i % 2 == 0, &name);
            ls_line(&mut want_long, &name, m, None, now);
            facts(&mut want_facts, m, false, i % 2 == 0);
            want_facts.extend_from_slice(&name);
            want_facts.extend_from_slice(b"\r\n");
        }
        assert_eq!(String::from_utf8(long), String::from_utf8(want_long));
        assert_eq!(
            String::from_utf8(facts_lines),
            String::from_utf8(want_facts)
        );
    }

    #[test]
    fn numbers() {
        let mut o = Head::new();
        o.num(0, 4, false);
        o.num(42, 8, true);
        o.num(u64::MAX, 4, false);
        o.byte(b'|');
        o.hex(0);
        o.hex(0xfe00);
        o.byte(b'|');
        o.hex(u64::MAX);
        o.four(7);
        o.two(59);
        assert_eq!(
            o.as_bytes(),
            b"   042      18446744073709551615|0fe00|ffffffffffffffff000759"
        );
        // Either side of the 32-bit digits.
        for n in [4294967295u64, 4294967296, 10_000_000_000, 99_999_999_999] {
            let mut o = Head::new();
            o.num(n, 0, false);
            assert_eq!(o.as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn longest_heads_fit() {
        let m = Meta {
            kind: Kind::Other,
            mode: 0o177777,
            nlink: u64::MAX,
            uid: u32::MAX,
            gid: u32::MAX,
            size: u64::MAX,
            mtime: i64::MAX / 2,
            dev: u64::MAX,
            ino: u64::MAX,
        };
        let mut o = Vec::new();
        ls_line(&mut o, b"n", &m, None, 0);
        facts(&mut o, &m, false, true);
        let file = Meta {
            kind: Kind::File,
            ..m
        };
        facts(&mut o, &file, false, true);
        assert!(o.len() > 200);
    }

    #[test]
    fn mlsd_facts() {
        let mut o = Vec::new();
        facts(&mut o, &meta(Kind::File, 0o100644, 5, 0), false, false);
        assert_eq!(
            o,
            b"type=file;size=5;modify=19700101000000;perm=r;unique=1U2;\
              UNIX.mode=0644;UNIX.uid=0;UNIX.gid=0; "
        );
        let mut o = Vec::new();
        facts(&mut o, &meta(Kind::Dir, 0o41777, 0, 0), false, true);
        assert!(o.ends_with(b";UNIX.mode=1777;UNIX.uid=0;UNIX.gid=0; "));
    }
}
