//! Per-folder rights: what an account may do where, as one readable line
//! (`ro,/incoming=upload,/cam=rw`): a right for the whole home, then folders with rights
//! of their own. The longest folder that holds a path decides; its subfolders follow it.
//!
//! | right | enter | list, download | upload a new file | overwrite, append, delete, rename, mkdir |
//! |---|---|---|---|---|
//! | `none` | – | – | – | – |
//! | `upload` (a drop box) | yes | – | yes | – |
//! | `ro` | yes | yes | – | – |
//! | `rw` | yes | yes | yes | yes |
//!
//! SECURITY: rights are decided in the jail (`vfs/mod.rs`), on where a path really leads
//! after the walk (symlinks followed inside the jail, `..` resolved): every spelling of a
//! path, and every symlink to a folder, gets the folder's rule. A folder with a rule of its
//! own, or one holding such a folder, can't be renamed or removed (moving `/a` away from
//! `/a/locked=ro` would otherwise take the rule off its files).

use std::io;

/// What an account may do in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right {
    None,
    Upload,
    Read,
    Write,
}

/// What an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// CWD into a directory; a directory's own metadata.
    Enter,
    /// Listing a directory; a file's metadata; downloading.
    Read,
    /// A new file (STOR to a free name, STOU).
    Create,
    /// Writing over or onto a file, making, removing, renaming, changing anything.
    Write,
}

impl Right {
    fn parse(s: &str) -> Option<Right> {
        match s {
            "none" => Some(Right::None),
            "upload" => Some(Right::Upload),
            "ro" => Some(Right::Read),
            "rw" => Some(Right::Write),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Right::None => "none",
            Right::Upload => "upload",
            Right::Read => "ro",
            Right::Write => "rw",
        }
    }

    fn allows(self, need: Need) -> bool {
        match need {
            Need::Enter => self != Right::None,
            Need::Read => matches!(self, Right::Read | Right::Write),
            Need::Create => matches!(self, Right::Upload | Right::Write),
            Need::Write => self == Right::Write,
        }
    }
}

/// An account's rights: one for its whole home, and folders with their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rights {
    home: Right,
    /// Each folder as its components from the home, with its right.
    folders: Vec<(Vec<Vec<u8>>, Right)>,
}

impl Rights {
    /// The same right everywhere.
    pub fn all(right: Right) -> Rights {
        Rights {
            home: right,
            folders: Vec::new(),
        }
    }

    /// `RIGHT[,/FOLDER=RIGHT]...`: a right for the whole home first, then folders (absolute
    /// paths inside the home, no `.` or `..`). The error says what is wrong.
    pub fn parse(s: &str) -> Result<Rights, String> {
        let mut parts = s.split(',');
        let first = parts.next().unwrap_or("");
        let home = Right::parse(first)
            .ok_or_else(|| format!("\"{first}\": expected ro, rw, upload or none first"))?;
        let mut folders: Vec<(Vec<Vec<u8>>, Right)> = Vec::new();
        for rule in parts {
            let (dir, right) = rule
                .split_once('=')
                .ok_or_else(|| format!("\"{rule}\": expected /FOLDER=RIGHT"))?;
            let right = Right::parse(right)
                .ok_or_else(|| format!("\"{rule}\": the right must be ro, rw, upload or none"))?;
            let parts: Vec<Vec<u8>> = dir
                .split('/')
                .filter(|c| !c.is_empty())
                .map(|c| c.as_bytes().to_vec())
                .collect();
            if !dir.starts_with('/')
                || parts.is_empty()
                || parts.iter().any(|c| c == b"." || c == b"..")
            {
                return Err(format!(
                    "\"{rule}\": the folder must be an absolute path inside the home, such as /incoming"
                ));
            }
            if folders.iter().any(|(f, _)| *f == parts) {
                return Err(format!("\"{rule}\": {dir} has a rule already"));
            }
            folders.push((parts, right));
        }
        Ok(Rights { home, folders })
    }

    /// The right at the path `parts` (components from the home).
    pub fn at(&self, parts: &[&[u8]]) -> Right {
        self.folders
            .iter()
            .filter(|(f, _)| f.len() <= parts.len() && f.iter().zip(parts).all(|(a, b)| a == b))
            .max_by_key(|(f, _)| f.len())
            .map_or(self.home, |(_, r)| *r)
    }

    /// Whether a folder with a rule is at `parts` or below it.
    pub fn ruled_at_or_below(&self, parts: &[&[u8]]) -> bool {
        self.folders
            .iter()
            .any(|(f, _)| f.len() >= parts.len() && f.iter().zip(parts).all(|(a, b)| a == b))
    }

    /// Whether the account may write or upload anywhere.
    pub fn writes_somewhere(&self) -> bool {
        let w = |r: Right| matches!(r, Right::Upload | Right::Write);
        w(self.home) || self.folders.iter().any(|(_, r)| w(*r))
    }

    /// True when the whole home is `rw` and no folder has a rule.
    pub fn is_all_write(&self) -> bool {
        self.home == Right::Write && self.folders.is_empty()
    }

    /// Checks `need` at `parts`; the error names the folder's right, for the log (the
    /// client sees 550 Permission denied).
    pub fn check(&self, parts: &[&[u8]], need: Need) -> io::Result<()> {
        let right = self.at(parts);
        if right.allows(need) {
            return Ok(());
        }
        let what = match need {
            Need::Enter => "no access",
            Need::Read => "no listing or download",
            Need::Create => "no upload",
            Need::Write => "no change",
        };
        Err(denied(format!(
            "{} is {}: {what}",
            shown(parts),
            right.name()
        )))
    }
}

impl std::fmt::Display for Rights {
    /// As written in the users file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.home.name())?;
        for (dir, right) in &self.folders {
            f.write_str(",")?;
            for c in dir {
                write!(f, "/{}", String::from_utf8_lossy(c))?;
            }
            write!(f, "={}", right.name())?;
        }
        Ok(())
    }
}

/// A path from the home, as a log shows it.
pub(super) fn shown(parts: &[&[u8]]) -> String {
    if parts.is_empty() {
        return "/".into();
    }
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&crate::logging::display(p));
    }
    s
}

/// A refusal by the rights: 550 Permission denied for the client, `why` in the log.
pub fn denied(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<&[u8]> {
        s.split('/')
            .filter(|c| !c.is_empty())
            .map(str::as_bytes)
            .collect()
    }

    #[test]
    fn the_longest_folder_decides() {
        let r = Rights::parse("ro,/incoming=upload,/cam=rw,/cam/private=none").unwrap();
        assert_eq!(r.at(&p("/")), Right::Read);
        assert_eq!(r.at(&p("/photos/a.jpg")), Right::Read);
        assert_eq!(r.at(&p("/incoming")), Right::Upload);
        assert_eq!(r.at(&p("/incoming/x/y")), Right::Upload);
        assert_eq!(r.at(&p("/incomingx")), Right::Read);
        assert_eq!(r.at(&p("/cam/1.jpg")), Right::Write);
        assert_eq!(r.at(&p("/cam/private/k")), Right::None);
        assert!(r.ruled_at_or_below(&p("/")));
        assert!(r.ruled_at_or_below(&p("/cam")));
        assert!(!r.ruled_at_or_below(&p("/cam/1.jpg")));
        assert_eq!(
            r.to_string(),
            "ro,/incoming=upload,/cam=rw,/cam/private=none"
        );
        assert!(r.writes_somewhere());
        assert!(!Rights::parse("ro,/x=none").unwrap().writes_somewhere());
    }

    #[test]
    fn what_each_right_allows() {
        let r = Rights::parse("none,/in=upload,/pub=ro,/rw=rw").unwrap();
        let ok = |path: &str, need| r.check(&p(path), need).is_ok();
        assert!(!ok("/", Need::Enter) && !ok("/x", Need::Read));
        assert!(ok("/in", Need::Enter) && ok("/in/f", Need::Create));
        assert!(!ok("/in", Need::Read) && !ok("/in/f", Need::Write));
        assert!(ok("/pub/f", Need::Read) && !ok("/pub/f", Need::Create));
        assert!(ok("/rw/f", Need::Write) && ok("/rw/f", Need::Create));
        let e = r.check(&p("/in"), Need::Read).unwrap_err();
        assert_eq!(e.to_string(), "/in is upload: no listing or download");
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (s, want) in [
            ("", "expected ro, rw, upload or none first"),
            ("write", "expected ro, rw, upload or none first"),
            ("ro,incoming=rw", "absolute path inside the home"),
            ("ro,/a/../b=rw", "absolute path inside the home"),
            ("ro,/=rw", "absolute path inside the home"),
            ("ro,/a", "expected /FOLDER=RIGHT"),
            ("ro,/a=all", "the right must be"),
            ("ro,/a=rw,/a/=ro", "has a rule already"),
        ] {
            let e = Rights::parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
        assert_eq!(Rights::parse("rw").unwrap(), Rights::all(Right::Write));
    }
}
