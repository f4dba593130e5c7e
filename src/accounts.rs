//! `edgeftpd --users FILE --add-user NAME:HOME:PERM`, `--del-user NAME` and `--passwd NAME`:
//! the users file edited safely, in the manner of pure-pw. The file must be valid before
//! (an error names its line) and is valid after: the new text is checked by the same parser
//! the server uses, then written beside the file with its mode and owner, synced, and
//! renamed over it, so a typo or a power cut never leaves a file the server refuses at boot.
//! Other lines, comments included, stay as they were. Passwords are asked twice without
//! echo on a terminal, else read from one line of stdin (`--hash-password`'s rules).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::auth::Users;
use crate::hashpw;

/// What to change.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    /// `NAME:HOME:PERM`, with a password asked for.
    Add(String),
    Delete(String),
    Password(String),
}

/// Applies `edit` to the users file at `path` (created, mode 0600, when absent for an
/// addition). Returns the line to print.
pub fn run(path: &Path, edit: &Edit) -> Result<String, String> {
    let shown = path.display();
    let old = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && matches!(edit, Edit::Add(_)) => None,
        Err(e) => return Err(format!("--users {shown}: {e}")),
    };
    let text = old.clone().unwrap_or_default();
    let users = Users::parse(&text)
        .map_err(|(n, e)| format!("{shown}:{n}: {e} (fix this line first: nothing was changed)"))?;
    let (new, said) = match edit {
        Edit::Add(spec) => {
            let f: Vec<&str> = spec.split(':').collect();
            let [name, home, perm] = f[..] else {
                return Err(format!(
                    "--add-user {spec}: expected NAME:HOME:PERM, such as alice:/mnt/usb/alice:rw"
                ));
            };
            if users.iter().any(|u| u.name.eq_ignore_ascii_case(name)) {
                return Err(format!("--add-user: {name} is in {shown} already"));
            }
            let line = format!("{name}:{}:{home}:{perm}\n", hashpw::run()?);
            let mut new = text.clone();
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str(&line);
            (new, format!("added {name} to {shown}"))
        }
        Edit::Delete(name) => {
            let new = edit_line(&text, name, |_| None)
                .ok_or_else(|| format!("--del-user: no account {name} in {shown}"))?;
            (new, format!("deleted {name} from {shown}"))
        }
        Edit::Password(name) => {
            if !users.iter().any(|u| u.name == *name) {
                return Err(format!("--passwd: no account {name} in {shown}"));
            }
            let hash = hashpw::run()?;
            let new = edit_line(&text, name, |fields| {
                Some(format!("{}:{hash}:{}:{}", fields[0], fields[2], fields[3]))
            })
            .ok_or_else(|| format!("--passwd: no account {name} in {shown}"))?;
            (new, format!("changed the password of {name} in {shown}"))
        }
    };
    // The new file must load as the server will load it.
    Users::parse(&new).map_err(|(n, e)| format!("{shown}:{n}: {e}; nothing was changed"))?;
    replace(path, new.as_bytes(), old.is_some())?;
    Ok(format!(
        "{said}; reload the server (/etc/init.d/edgeftpd reload) for logins to use it"
    ))
}

/// `text` with the line of account `name` replaced by what `f` makes of its fields (or
/// removed: `None`); `None` when there is no such line.
fn edit_line(text: &str, name: &str, f: impl Fn(&[&str]) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim();
        let fields: Vec<&str> = body.split(':').collect();
        if !found && !body.starts_with('#') && fields.len() == 4 && fields[0] == name {
            found = true;
            if let Some(new) = f(&fields) {
                out.push_str(&new);
                out.push('\n');
            }
            continue;
        }
        out.push_str(line);
    }
    found.then_some(out)
}

/// Writes `bytes` beside `path`, with the old file's mode and owner (or 0600 for a new
/// one), syncs it, renames it over `path` and syncs the directory.
fn replace(path: &Path, bytes: &[u8], existed: bool) -> Result<(), String> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{shown}: not a file name"))?;
    let aside = dir.join(format!(".{}.edgeftpd-new", name.to_string_lossy()));
    let meta = if existed {
        Some(std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?)
    } else {
        None
    };
    let mode = meta.as_ref().map_or(0o600, |m| m.mode() & 0o7777);
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&aside);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&aside)?;
        if let Some(m) = &meta {
            // The umask may have taken bits away; an owner other than ours needs root.
            std::fs::set_permissions(&aside, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            if m.uid() != rustix::process::getuid().as_raw()
                || m.gid() != rustix::process::getgid().as_raw()
            {
                std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()))?;
            }
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&aside, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&aside);
        format!("{shown}: {e}; nothing was changed")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_line_keeps_every_other_line() {
        let text = "# accounts\nalice:$6$a$b:/srv/a:rw\n\nbob:!:/srv/b:ro\n";
        assert_eq!(
            edit_line(text, "alice", |_| None).unwrap(),
            "# accounts\n\nbob:!:/srv/b:ro\n"
        );
        assert_eq!(
            edit_line(text, "bob", |f| Some(format!(
                "{}:NEW:{}:{}",
                f[0], f[2], f[3]
            )))
            .unwrap(),
            "# accounts\nalice:$6$a$b:/srv/a:rw\n\nbob:NEW:/srv/b:ro\n"
        );
        assert!(edit_line(text, "carol", |_| None).is_none());
        assert!(edit_line("#alice:x:/a:rw\n", "#alice", |_| None).is_none());
    }
}
