//! Who may log in: the users file, crypt(3) hashes and anonymous access, and the one
//! function that decides a login, [`authenticate`]. Pure: no sockets, no jails (the session
//! opens the home a [`Login`] names), no files (the configuration reads the users file).
//!
//! The users file has one account per line, `name:hash:home:perm`, where `hash` is a crypt(3)
//! string as `openssl passwd -1/-5/-6` or busybox `mkpasswd` write it, `home` the absolute
//! directory the user is jailed in and `perm` `ro` or `rw`. `#` comments and blank lines are
//! ignored. A hash starting with `!` or `*` locks the account.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::crypt;
use crate::vfs::{Quota, Rights};

/// A password as the client sent it. Its `Debug` never shows it.
pub struct Password(pub Vec<u8>);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(*******)")
    }
}

/// Constant time in the contents (only the lengths may show): no early exit at the first
/// differing byte.
impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        let mut diff = u8::from(a.len() != b.len());
        for (x, y) in a.iter().zip(b.iter()) {
            diff |= x ^ y;
        }
        std::hint::black_box(diff) == 0
    }
}
impl Eq for Password {}

/// What a successful login grants: who the user is, where they are jailed, what they may
/// do where, and the umask of what they create (None: `--umask`).
#[derive(Debug, PartialEq, Eq)]
pub struct Login {
    /// The name logs show (`anonymous` for every anonymous login).
    pub name: String,
    pub home: Home,
    pub rights: Arc<Rights>,
    pub umask: Option<u32>,
    /// The perm field's `quota=` and `files=` (None: no quota).
    pub quota: Option<Quota>,
    /// The perm field's `sessions=`, `up=` and `down=`.
    pub limits: UserLimits,
}

/// An account's own limits, on top of the server's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// Sessions logged in at once.
    pub sessions: Option<usize>,
    /// Bytes per second up and down, for all its sessions together.
    pub up: Option<u64>,
    pub down: Option<u64>,
}

/// The directory a login is jailed in.
#[derive(Debug, PartialEq, Eq)]
pub enum Home {
    /// `--root`, shared by every anonymous session.
    Anonymous,
    /// A users-file account's home.
    Dir(PathBuf),
}

impl Home {
    /// The folder on the disk: `root` (`--root`) for anonymous sessions.
    pub fn dir<'a>(&'a self, root: &'a Path) -> &'a Path {
        match self {
            Home::Anonymous => root,
            Home::Dir(d) => d,
        }
    }
}

/// Why a login was refused. The client is told only "Login incorrect." whichever it is.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such account (or anonymous logins are off).
    UnknownUser,
    /// The account's hash starts with `!` or `*`.
    Locked,
    WrongPassword,
}

/// Who may log in: the users file and the anonymous settings.
pub struct Policy<'a> {
    pub users: Option<&'a Users>,
    pub anonymous: bool,
    /// What anonymous users may do where.
    pub anon_rights: &'a Arc<Rights>,
}

/// SECURITY: the decision who gets in, and where their jail is. Anonymous names
/// (`anonymous`, `ftp`, any case) with any password when `--anonymous` is on; otherwise
/// the users-file account of that exact name, unlocked, with a matching password.
pub fn authenticate(policy: &Policy<'_>, name: &[u8], pw: &Password) -> Result<Login, Refusal> {
    if policy.anonymous && is_anonymous_name(name) {
        return Ok(Login {
            name: "anonymous".into(),
            home: Home::Anonymous,
            rights: Arc::clone(policy.anon_rights),
            umask: None,
            quota: None,
            limits: UserLimits::default(),
        });
    }
    let Some(users) = policy.users else {
        return Err(Refusal::UnknownUser);
    };
    // SECURITY: a refusal costs one crypt whatever the name, so timing can't tell which
    // names exist: an unknown name is checked against a dummy hash of the first account's
    // cost, a locked one against a dummy of its own.
    let Some(user) = users.get(name) else {
        std::hint::black_box(crypt::verify(&pw.0, &users.dummy));
        return Err(Refusal::UnknownUser);
    };
    if user.locked() {
        let own = crypt::dummy_like(user.hash.trim_start_matches(['!', '*']));
        std::hint::black_box(crypt::verify(&pw.0, own.as_ref().unwrap_or(&users.dummy)));
        return Err(Refusal::Locked);
    }
    if !user.check(pw) {
        return Err(Refusal::WrongPassword);
    }
    Ok(Login {
        name: user.name.clone(),
        home: Home::Dir(user.home.clone()),
        rights: Arc::clone(&user.rights),
        umask: user.umask,
        quota: user.quota,
        limits: user.limits,
    })
}

/// One account of the users file.
#[derive(Debug)]
pub struct User {
    pub name: String,
    hash: String,
    pub home: PathBuf,
    /// The perm field: what the account may do where.
    pub rights: Arc<Rights>,
    /// The perm field's `umask=`, if any.
    pub umask: Option<u32>,
    /// The perm field's `quota=` and `files=`, if any.
    pub quota: Option<Quota>,
    /// The perm field's `sessions=`, `up=` and `down=`.
    pub limits: UserLimits,
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
    /// A hash no password matches, of the first account's scheme and cost: what an unknown
    /// name is checked against (see [`authenticate`]).
    dummy: String,
}

/// The dummy hash when no account has one: SHA-512-crypt's default cost.
const DEFAULT_DUMMY: &str = "$6$edgeftpdummy$\
    ......................................................................................";

impl Users {
    /// Parses users-file text; errors carry the 1-based line number.
    pub fn parse(text: &str) -> Result<Users, (usize, String)> {
        Users::parse_homes(text, &mut |home| home.is_dir())
    }

    /// `is_dir` says whether a home is a directory (the configuration asks its files: the
    /// disk, or what the monitor process read from it).
    pub fn parse_homes(
        text: &str,
        is_dir: &mut dyn FnMut(&Path) -> bool,
    ) -> Result<Users, (usize, String)> {
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
                return Err((n, format!("bad user name \"{name}\"")));
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
            if !is_dir(Path::new(home)) {
                return Err((n, format!("home {home} is not a directory")));
            }
            let Perm {
                rights,
                umask,
                quota,
                limits,
            } = parse_perm(perm).map_err(|e| (n, format!("perm {e}")))?;
            users.push(User {
                name: name.to_string(),
                hash: hash.to_string(),
                home: PathBuf::from(home),
                rights: Arc::new(rights),
                umask,
                quota,
                limits,
            });
        }
        let dummy = users
            .iter()
            .find_map(|u| crypt::dummy_like(&u.hash))
            .unwrap_or_else(|| DEFAULT_DUMMY.into());
        Ok(Users { users, dummy })
    }

    /// Refuses a users file with an account named like an anonymous login (`anonymous`,
    /// `ftp`, any case) when `--anonymous` is on: that name would log in anonymously, never
    /// as the account, with no word about it.
    pub fn check_anonymous(&self, anonymous: bool) -> Result<(), String> {
        match self
            .users
            .iter()
            .find(|u| is_anonymous_name(u.name.as_bytes()))
        {
            Some(u) if anonymous => Err(format!(
                "account {}: with --anonymous that name is the anonymous login; \
                 rename the account",
                u.name
            )),
            _ => Ok(()),
        }
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

/// What the users file's perm field says.
pub struct Perm {
    pub rights: Rights,
    pub umask: Option<u32>,
    pub quota: Option<Quota>,
    pub limits: UserLimits,
}

/// The users file's perm field: rights (`ro`, `rw`, `upload`, `none`, then `/FOLDER=RIGHT`
/// rules: see `vfs/rights.rs`), and optionally `umask=OOO`, `quota=SIZE` (bytes, K, M or G)
/// and `files=N` (see `vfs/quota.rs`), `sessions=N`, `up=RATE` and `down=RATE` (bytes per
/// second for all the account's sessions), comma-separated.
pub fn parse_perm(perm: &str) -> Result<Perm, String> {
    let mut umask = None;
    let mut quota: Option<Quota> = None;
    let mut limits = UserLimits::default();
    let mut rules = Vec::new();
    let rate = |part: &str, v: &str| {
        crate::rate::parse(v)
            .flatten()
            .ok_or_else(|| format!("\"{part}\": expected bytes per second such as 500K or 2M"))
    };
    for part in perm.split(',') {
        if let Some(m) = part.strip_prefix("umask=") {
            umask = Some(parse_umask(m).ok_or_else(|| {
                format!("\"{part}\": expected an octal umask such as 022 or 002")
            })?);
        } else if let Some(b) = part.strip_prefix("quota=") {
            let bytes = crate::rate::parse(b)
                .flatten()
                .ok_or_else(|| format!("\"{part}\": expected a size such as 500M or 2G"))?;
            quota.get_or_insert_default().bytes = Some(bytes);
        } else if let Some(f) = part.strip_prefix("files=") {
            let files =
                f.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("\"{part}\": expected a number of files such as 10000")
                })?;
            quota.get_or_insert_default().files = Some(files);
        } else if let Some(n) = part.strip_prefix("sessions=") {
            limits.sessions =
                Some(n.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    format!("\"{part}\": expected a number of sessions such as 2")
                })?);
        } else if let Some(r) = part.strip_prefix("up=") {
            limits.up = Some(rate(part, r)?);
        } else if let Some(r) = part.strip_prefix("down=") {
            limits.down = Some(rate(part, r)?);
        } else {
            rules.push(part);
        }
    }
    Ok(Perm {
        rights: Rights::parse(&rules.join(","))?,
        umask,
        quota,
        limits,
    })
}

/// An octal umask, such as `022`.
pub fn parse_umask(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 4)
        .then(|| u32::from_str_radix(s, 8).ok())
        .flatten()
        .filter(|&m| m <= 0o777)
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
    fn perm_fields_with_folder_rules_and_a_umask() {
        let u =
            Users::parse("cam:!:/tmp:none,/cam=rw,umask=002\nguest:!:/tmp:ro,/incoming=upload\n")
                .unwrap();
        let cam = u.get(b"cam").unwrap();
        assert_eq!(
            (cam.rights.to_string(), cam.umask),
            ("none,/cam=rw".into(), Some(0o002))
        );
        assert_eq!(u.get(b"guest").unwrap().umask, None);
        for (perm, want) in [
            ("rx", "perm \"rx\": expected ro, rw, upload or none first"),
            ("ro,umask=9", "perm \"umask=9\": expected an octal umask"),
            (
                "ro,/a=xx",
                "perm \"/a=xx\": the right must be ro, rw, upload or none",
            ),
        ] {
            let e = Users::parse(&format!("bob:!:/tmp:{perm}\n")).unwrap_err();
            assert_eq!((e.0, e.1.starts_with(want)), (1, true), "{}", e.1);
        }
        assert_eq!(parse_umask("0022"), Some(0o22));
        assert_eq!(parse_umask("1777"), None);
        assert_eq!(parse_umask(""), None);
    }

    #[test]
    fn locked_users_parse_and_never_match() {
        let u = Users::parse("bob:!$6$x$y:/tmp:rw\nann:*:/tmp:ro\n").unwrap();
        let bob = u.get(b"bob").unwrap();
        assert!(bob.locked() && bob.rights.is_all_write());
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

    fn pw(s: &str) -> Password {
        Password(s.as_bytes().to_vec())
    }

    #[test]
    fn authenticate_decides_every_case() {
        // "secret" (openssl passwd -5 -salt salt secret).
        let hash = "$5$salt$kpa26zwgX83BPSR8d7w93OIXbFt/d3UOTZaAu5vsTM6";
        let text = format!("bob:{hash}:/tmp:rw\nann:!{hash}:/tmp:ro\n");
        let users = Users::parse(&text).unwrap();
        let ro = Arc::new(Rights::parse("ro").unwrap());
        let mut policy = Policy {
            users: Some(&users),
            anonymous: false,
            anon_rights: &ro,
        };
        let bob = authenticate(&policy, b"bob", &pw("secret")).unwrap();
        assert_eq!(bob.home, Home::Dir("/tmp".into()));
        assert!(bob.rights.is_all_write() && bob.name == "bob");
        assert_eq!(
            authenticate(&policy, b"bob", &pw("Secret")),
            Err(Refusal::WrongPassword)
        );
        assert_eq!(
            authenticate(&policy, b"ann", &pw("secret")),
            Err(Refusal::Locked)
        );
        assert_eq!(
            authenticate(&policy, b"BOB", &pw("secret")),
            Err(Refusal::UnknownUser)
        );
        assert_eq!(
            authenticate(&policy, b"anonymous", &pw("x")),
            Err(Refusal::UnknownUser)
        );
        policy.anonymous = true;
        let anon = authenticate(&policy, b"FTP", &pw("")).unwrap();
        assert_eq!(
            (anon.name.as_str(), anon.home, anon.rights.to_string()),
            ("anonymous", Home::Anonymous, "ro".to_string())
        );
    }

    #[test]
    fn the_default_dummy_is_a_hash_nothing_matches() {
        assert!(crypt::is_supported(DEFAULT_DUMMY));
        assert!(!crypt::verify(b"", DEFAULT_DUMMY));
    }

    #[test]
    fn password_equality() {
        assert_eq!(pw("abc"), pw("abc"));
        assert_ne!(pw("abc"), pw("abd"));
        assert_ne!(pw("abc"), pw("abcd"));
        assert_ne!(pw(""), pw("a"));
    }

    #[test]
    fn anonymous_names() {
        assert!(is_anonymous_name(b"Anonymous"));
        assert!(is_anonymous_name(b"FTP"));
        assert!(!is_anonymous_name(b"ftpuser"));
    }
}
