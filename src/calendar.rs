//! UTC calendar arithmetic: civil dates from seconds since the epoch and back, the month
//! names, and `YYYYMMDDHHMMSS` time values. Routers have no time-zone database, and the
//! protocol wants UTC anyway (MDTM, MFMT, MLSD's `modify`). Pure functions, no I/O but the
//! clock read of [`now`].

use std::time::{SystemTime, UNIX_EPOCH};

/// English month abbreviations, as `ls` and syslog (RFC 3164) write them.
pub const MONTHS: [&str; 12] = [
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
    match u32::try_from(secs) {
        Ok(s) => civil_u32(s),
        Err(_) => civil_i64(secs),
    }
}

/// [`civil`] of any time, before 1970 too.
fn civil_i64(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
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

/// [`civil`] of 1970 to 2106 in 32-bit arithmetic: on a 32-bit router CPU each 64-bit
/// division is a call into the runtime (MIPS has no 64-bit divide), a dozen of them per
/// date, and MLSD and LIST make a date per entry (on the mipsel board, 10,000 entries cost
/// more CPU than pure-ftpd's whole listing). The same algorithm, every value unsigned.
fn civil_u32(secs: u32) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs / 86400;
    let rem = secs % 86400;
    let z = days + 719468;
    let era = z / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u32::from(m <= 2);
    (i64::from(y), m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYYMMDDHHMMSS` (optionally `.sss`, ignored) as seconds since the epoch, UTC.
#[inline(never)] // MDTM and MFMT share one copy
pub fn parse_time(t: &[u8]) -> Option<i64> {
    let t = match t.iter().position(|&b| b == b'.') {
        Some(i) if t[i + 1..].iter().all(u8::is_ascii_digit) => &t[..i],
        Some(_) => return None,
        None => t,
    };
    if t.len() != 14 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize, b: usize| -> i64 {
        t[a..b]
            .iter()
            .fold(0, |acc, &d| acc * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d, h, mi, s) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_32_bit_dates_are_the_64_bit_ones() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let check = |s: i64| assert_eq!(civil(s), civil_i64(s), "{s}");
        for s in [
            0,
            1,
            86399,
            86400,
            951782400,
            951868800,
            4102444800,
            u32::MAX as i64,
        ] {
            check(s);
            check(s - 1);
        }
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check((x % (1u64 << 33)) as i64 - (1 << 31));
        }
    }

    #[test]
    fn calendar_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        for s in [-86400 * 400, 951_782_400, 4_102_444_800, 1_700_000_000] {
            let (y, mo, d, h, mi, se) = civil(s);
            let back = days_from_civil(y, mo, d) * 86400 + i64::from(h * 3600 + mi * 60 + se);
            assert_eq!(back, s);
        }
    }

    #[test]
    fn time_values() {
        assert_eq!(parse_time(b"19700101000000"), Some(0));
        assert_eq!(parse_time(b"19700101000001.123"), Some(1));
        assert_eq!(parse_time(b"19701301000000"), None);
        assert_eq!(parse_time(b"1970010100000"), None);
    }
}
