//! Who may log in: the users file, crypt(3) hashes and anonymous access.
//!
//! The users file has one account per line, `name:hash:home:perm`, where `hash` is a crypt(3)
//! string as `openssl passwd -1/-5/-6` or busybox `mkpasswd` write it, `home` the absolute
//! directory the user is jailed in and `perm` `ro` or `rw`. `#` comments and blank lines are
//! ignored. A hash starting with `!` or `*` locks the account.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::crypt;

/// A password as the client sent it. Its `Debug` never shows it.
pub struct Password(pub Vec<u8>);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(*******)")
    }
}

/// One account of the users file.
#[derive(Debug)]
pub struct User {
    pub name: String,
    hash: String,
    pub home: PathBuf,
    pub writable: bool,
}

impl User {
    /// True when the account is locked (`!` or `*` hash).
    pub fn locked(&self) -> bool {
        self.hash.starts_with('!') || self.hash.starts_with('*')
    }

    /// Checks a password. SECURITY: locked accounts never match.
    pub fn check(&self, pw: &Password) -> bool {
        !self.locked() && crypt::verify(&pw.0, &self.hash)
    }
}

/// All accounts of the users file.
#[derive(Debug, Default)]
pub struct Users {
    users: Vec<User>,
}

impl Users {
    /// Reads and validates a users file; an error names the file and the line.
    pub fn load(path: &Path) -> Result<Users, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--users {}: {e}", path.display()))?;
        Users::parse(&text).map_err(|(line, msg)| format!("{}:{line}: {msg}", path.display()))
    }

    /// Parses users-file text; errors carry the 1-based line number.
    pub fn parse(text: &str) -> Result<Users, (usize, String)> {
        let mut users: Vec<User> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split(':').collect();
            if f.len() != 4 {
                return Err((n, "expected name:hash:home:perm (4 fields)".into()));
            }
            let (name, hash, home, perm) = (f[0], f[1], f[2], f[3]);
            if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err((n, format!("bad user name {name:?}")));
            }
            if users.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
                return Err((n, format!("user {name} appears twice")));
            }
            let locked = hash.starts_with('!') || hash.starts_with('*');
            if !locked && !crypt::is_supported(hash) {
                return Err((
                    n,
                    "hash must be a $1$, $5$ or $6$ crypt string (openssl passwd -6)".into(),
                ));
            }
            if !home.starts_with('/') {
                return Err((n, format!("home {home} must be an absolute path")));
            }
            if !Path::new(home).is_dir() {
                return Err((n, format!("home {home} is not a directory")));
            }
            let writable = match perm {
                "rw" => true,
                "ro" => false,
                _ => return Err((n, format!("perm must be ro or rw, not {perm:?}"))),
            };
            users.push(User {
                name: name.to_string(),
                hash: hash.to_string(),
                home: PathBuf::from(home),
                writable,
            });
        }
        Ok(Users { users })
    }

    /// Every account, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.users.iter()
    }

    /// Looks a user up by name (exact, case-sensitive as on Unix).
    pub fn get(&self, name: &[u8]) -> Option<&User> {
        self.users.iter().find(|u| u.name.as_bytes() == name)
    }
}

/// True for the names anonymous users log in with: `anonymous` and `ftp`, any case.
pub fn is_anonymous_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"anonymous") || name.eq_ignore_ascii_case(b"ftp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_carry_line_numbers() {
        let e = Users::parse("# c\n\nbob:x:/tmp\n").unwrap_err();
        assert_eq!(e.0, 3);
        let e = Users::parse("bob:$1$abc$def:/tmp:rx\n").unwrap_err();
        assert_eq!(e.0, 1);
        assert!(e.1.contains("hash") || e.1.contains("perm"), "{}", e.1);
        let e = Users::parse("bob:!:relative:ro\n").unwrap_err();
        assert!(e.1.contains("absolute"));
    }

    #[test]
    fn locked_users_parse_and_never_match() {
        let u = Users::parse("bob:!$6$x$y:/tmp:rw\nann:*:/tmp:ro\n").unwrap();
        let bob = u.get(b"bob").unwrap();
        assert!(bob.locked() && bob.writable);
        assert!(!bob.check(&Password(b"y".to_vec())));
        assert!(u.get(b"Bob").is_none());
    }

    #[test]
    fn password_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Password(b"secret".to_vec())),
            "Password(*******)"
        );
    }

    #[test]
    fn anonymous_names() {
        assert!(is_anonymous_name(b"Anonymous"));
        assert!(is_anonymous_name(b"FTP"));
        assert!(!is_anonymous_name(b"ftpuser"));
    }
}
