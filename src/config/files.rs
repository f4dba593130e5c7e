//! The files the configuration is read from (`--config`, `--users`, `--banner`) and the
//! directories it checks (`--root`, the homes), taken from the disk, or from what another
//! process read from the disk.
//!
//! Under privilege separation the monitor process parses the configuration as root on
//! SIGHUP, remembering every answer the disk gave ([`Files::recording`]); the serving
//! process, which may not read those files, parses the same command line again from those
//! answers ([`Files::replaying`]), and so ends with the same configuration, checked by the
//! same code. The answers cross the link as [`Files::encode`] gives them (`frame.rs`). The TLS key never
//! goes this way: a reload parses with the certificate already loaded (see `privsep.rs`).

use std::io;
use std::path::{Path, PathBuf};

use crate::frame;

/// One answer the disk gave.
enum Answer {
    /// A file's bytes.
    Bytes(Vec<u8>),
    /// Whether a path is a directory.
    Dir(bool),
}

enum Mode {
    Disk,
    Record,
    Replay,
}

/// Where the configuration's files come from.
pub struct Files {
    mode: Mode,
    seen: Vec<(PathBuf, Answer)>,
}

impl Files {
    /// The disk, as this process sees it.
    pub fn disk() -> Files {
        Files {
            mode: Mode::Disk,
            seen: Vec::new(),
        }
    }

    /// The disk, remembering each answer for [`Files::encode`].
    pub fn recording() -> Files {
        Files {
            mode: Mode::Record,
            seen: Vec::new(),
        }
    }

    /// Whether the answers come from another process, which checked the files already.
    pub fn replaying(&self) -> bool {
        matches!(self.mode, Mode::Replay)
    }

    /// A file's bytes.
    pub fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        if let Mode::Replay = self.mode {
            return self
                .seen
                .iter()
                .find_map(|(p, a)| match a {
                    Answer::Bytes(b) if p.as_os_str() == path.as_os_str() => Some(b.clone()),
                    _ => None,
                })
                .ok_or_else(|| io::Error::other("not read by the monitor process"));
        }
        let bytes = std::fs::read(path)?;
        if let Mode::Record = self.mode {
            self.seen
                .push((path.to_path_buf(), Answer::Bytes(bytes.clone())));
        }
        Ok(bytes)
    }

    /// A file's text (UTF-8).
    pub fn read_text(&mut self, path: &Path) -> io::Result<String> {
        String::from_utf8(self.read(path)?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
    }

    /// Whether `path` is a directory (following symlinks).
    pub fn is_dir(&mut self, path: &Path) -> bool {
        if let Mode::Replay = self.mode {
            return self
                .seen
                .iter()
                .any(|(p, a)| p.as_os_str() == path.as_os_str() && matches!(a, Answer::Dir(true)));
        }
        let dir = path.is_dir();
        if let Mode::Record = self.mode {
            self.seen.push((path.to_path_buf(), Answer::Dir(dir)));
        }
        dir
    }

    /// The answers, as one message of items (`frame.rs`): per answer the path, tagged `F`
    /// for a file or `D` for a directory, then `B` with the file's bytes, or `1` or `0`.
    pub fn encode(&self) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = Vec::new();
        for (path, answer) in &self.seen {
            let path = path.as_os_str().as_bytes();
            match answer {
                Answer::Bytes(b) => {
                    frame::put(&mut out, b'F', path);
                    frame::put(&mut out, b'B', b);
                }
                Answer::Dir(d) => {
                    frame::put(&mut out, b'D', path);
                    frame::put(&mut out, b'B', if *d { b"1" } else { b"0" });
                }
            }
        }
        out
    }

    /// The answers [`Files::encode`] sent, to replay. None when the message is not of
    /// that form.
    pub fn decode(mut msg: &[u8]) -> Option<Files> {
        use std::os::unix::ffi::OsStrExt;
        let path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
        let mut seen = Vec::new();
        while let Some((tag, body)) = frame::take(&mut msg)? {
            let Some((b'B', value)) = frame::take(&mut msg)? else {
                return None;
            };
            let answer = match tag {
                b'F' => Answer::Bytes(value.to_vec()),
                b'D' => Answer::Dir(value == b"1"),
                _ => return None,
            };
            seen.push((path(body), answer));
        }
        Some(Files {
            mode: Mode::Replay,
            seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_answers_replay_the_same_after_the_link() {
        let dir = std::env::temp_dir().join(format!("files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("users.txt");
        std::fs::write(&f, b"alice:x\n").unwrap();
        let mut rec = Files::recording();
        assert_eq!(rec.read(&f).unwrap(), b"alice:x\n");
        assert!(rec.is_dir(&dir));
        assert!(!rec.is_dir(&f));
        let mut replay = Files::decode(&rec.encode()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(replay.read(&f).unwrap(), b"alice:x\n");
        assert!(replay.is_dir(&dir));
        assert!(!replay.is_dir(&f));
        assert!(replay.read(&dir.join("other")).is_err());
    }

    #[test]
    fn a_cut_or_odd_message_is_refused() {
        let mut rec = Files::recording();
        assert!(rec.is_dir(Path::new("/")));
        let msg = rec.encode();
        assert!(Files::decode(&msg).is_some_and(|mut f| f.is_dir(Path::new("/"))));
        assert!(Files::decode(&msg[..msg.len() - 1]).is_none());
        assert!(Files::decode(b"F\0\0\0\x01/").is_none());
        assert!(Files::decode(b"Z\0\0\0\0B\0\0\0\0").is_none());
        assert!(Files::decode(b"").is_some());
    }
}
