//! `--xferlog FILE`: one line per transfer in the wu-ftpd xferlog format that vsftpd
//! (`xferlog_std_format`), proftpd and pure-ftpd write and log analysers read:
//!
//! ```text
//! Sat Dec  5 07:08:52 2026 1 192.168.1.20 5242880 /mnt/usb/cam/1.jpg b _ i r cam ftp 0 * c
//! ```
//!
//! time (UTC: a static binary reads no time zone), seconds, client, bytes, the file's path on
//! the disk (spaces and control characters as `_`, as the format says), `a`scii or `b`inary,
//! `_`, `o`utgoing or `i`ncoming, `a`nonymous or `r`eal, user, `ftp`, `0`, `*`, `c`omplete
//! or `i`ncomplete.
//!
//! Each line is one append (`O_APPEND`), whole. The file is opened at start (an error is
//! the start-up line, exit 2) and again on SIGHUP, after a log rotation: if that fails the
//! old file is kept. A failed write is logged once and never stops a transfer.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::calendar;

/// The transfer log.
#[derive(Debug)]
pub struct XferLog {
    path: PathBuf,
    file: Mutex<File>,
    /// A write failed (said once, until a reopen).
    failed: AtomicBool,
}

/// One transfer, as logged.
pub struct Entry<'a> {
    pub secs: u64,
    pub client: std::net::IpAddr,
    pub bytes: u64,
    pub file: &'a Path,
    pub ascii: bool,
    pub incoming: bool,
    pub anonymous: bool,
    pub user: &'a str,
    pub complete: bool,
}

fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

impl XferLog {
    /// Opens (creating 0640) `path` for appending.
    pub fn open(path: &Path) -> Result<XferLog, String> {
        let file = open(path).map_err(|e| format!("--xferlog {}: {e}", path.display()))?;
        Ok(XferLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failed: AtomicBool::new(false),
        })
    }

    /// Opens the file again (SIGHUP, after a rotation); on failure keeps the old one.
    pub fn reopen(&self) {
        match open(&self.path) {
            Ok(f) => {
                *self.file.lock().unwrap_or_else(|p| p.into_inner()) = f;
                self.failed.store(false, Ordering::Relaxed);
            }
            Err(e) => log::error!(
                "SIGHUP: --xferlog {}: {e}; writing on to the file opened before",
                self.path.display()
            ),
        }
    }

    /// Appends one transfer's line.
    pub fn write(&self, e: &Entry<'_>) {
        let line = line(calendar::now(), e);
        let res = self
            .file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(&line);
        if let Err(err) = res
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            log::error!(
                "--xferlog {}: {err}; transfers go on unlogged there",
                self.path.display()
            );
        }
    }
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The line for `e` at `now` (seconds since the epoch).
fn line(now: i64, e: &Entry<'_>) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let (y, mo, d, h, mi, s) = calendar::civil(now);
    // 1970-01-01 was a Thursday.
    let wd = DAYS[(now.div_euclid(86_400) + 4).rem_euclid(7) as usize];
    let mon = MONTHS[(mo as usize).saturating_sub(1).min(11)];
    let flag = |b: bool, yes: char, no: char| if b { yes } else { no };
    let mut out = format!(
        "{wd} {mon} {d:>2} {h:02}:{mi:02}:{s:02} {y} {} {} {} ",
        e.secs.max(1),
        e.client,
        e.bytes
    )
    .into_bytes();
    out.extend(
        e.file
            .as_os_str()
            .as_bytes()
            .iter()
            .map(|&b| if b <= b' ' || b == 0x7f { b'_' } else { b }),
    );
    let user: String = e
        .user
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    out.extend_from_slice(
        format!(
            " {} _ {} {} {user} ftp 0 * {}\n",
            flag(e.ascii, 'a', 'b'),
            flag(e.incoming, 'i', 'o'),
            flag(e.anonymous, 'a', 'r'),
            flag(e.complete, 'c', 'i'),
        )
        .as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_the_wu_ftpd_format() {
        let e = Entry {
            secs: 0,
            client: "192.168.1.20".parse().unwrap(),
            bytes: 5,
            file: Path::new("/mnt/usb/cam/a b\tc.jpg"),
            ascii: false,
            incoming: true,
            anonymous: false,
            user: "cam",
            complete: true,
        };
        // 2026-12-05 07:08:52 UTC, a Saturday.
        let t = calendar::days_from_civil(2026, 12, 5) * 86_400 + 7 * 3600 + 8 * 60 + 52;
        assert_eq!(
            String::from_utf8(line(t, &e)).unwrap(),
            "Sat Dec  5 07:08:52 2026 1 192.168.1.20 5 /mnt/usb/cam/a_b_c.jpg b _ i r cam ftp 0 * c\n"
        );
        let e = Entry {
            secs: 12,
            ascii: true,
            incoming: false,
            anonymous: true,
            user: "anonymous",
            complete: false,
            ..e
        };
        let t = calendar::days_from_civil(2027, 1, 14) * 86_400;
        assert_eq!(
            String::from_utf8(line(t, &e)).unwrap(),
            "Thu Jan 14 00:00:00 2027 12 192.168.1.20 5 /mnt/usb/cam/a_b_c.jpg a _ o a anonymous ftp 0 * i\n"
        );
    }
}
