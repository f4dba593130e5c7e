//! Listings: LIST, NLST and MLSD on a data connection, MLST and STAT of a path on the
//! control connection. All of them find what is listed the same way
//! ([`Session::listed`]): a directory's entries, one file, or the entries a shell pattern
//! in the last component matches (`NLST *.txt`, as `mget` sends). Producing the lines is
//! `listing`'s job; a directory's lines are streamed piece by piece, never held whole, on
//! either connection.

use std::io;
use std::os::fd::OwnedFd;

use super::{Result, Session};
use crate::command;
use crate::glob;
use crate::listing::{self, Listing, Style};
use crate::reply::{self, Fail, *};
use crate::vfs::{Kind, Meta, Names, VPath};

/// What a listing argument names.
enum Listed {
    /// A directory: its open descriptor and sorted names.
    Dir {
        fd: OwnedFd,
        path: VPath,
        meta: Meta,
        names: Names,
    },
    /// One object that is not a directory.
    File { meta: Meta },
    /// The entries of `parent` that a pattern matched, sorted.
    Matches {
        fd: OwnedFd,
        parent: VPath,
        names: Names,
    },
}

impl Session {
    /// Resolves a listing argument. `patterns`: a last component with `*`, `?` or `[` that
    /// names nothing is matched against its directory's entries.
    fn listed(&self, p: &VPath, patterns: bool) -> Result<Listed> {
        let pattern = p.file_name().filter(|n| patterns && glob::has_glob(n));
        let meta = match self.jail.stat(p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && pattern.is_some() => {
                let pattern = pattern.unwrap_or_default();
                let parent = p.parent();
                let fd = self.jail.open_dir(&parent)?;
                let mut names = self.jail.read_names(&fd)?;
                names.retain(|n| glob::glob_match(pattern, n));
                if names.is_empty() {
                    return Err(Fail::Fs(io::ErrorKind::NotFound.into()));
                }
                names.sort();
                return Ok(Listed::Matches { fd, parent, names });
            }
            Err(e) => return Err(e.into()),
        };
        if meta.kind != Kind::Dir {
            return Ok(Listed::File { meta });
        }
        let fd = self.jail.open_dir(p)?;
        let mut names = self.jail.read_names(&fd)?;
        names.sort();
        Ok(Listed::Dir {
            fd,
            path: p.clone(),
            meta,
            names,
        })
    }

    /// LIST, NLST and MLSD.
    pub(super) fn list(&mut self, arg: &[u8], style: Style) -> Result {
        self.rest = 0;
        let p = self.path(arg)?;
        let writable = self.login.writable;
        let listed = self.listed(&p, style != Style::Machine)?;
        // The lines before the entries (MLSD's `cdir`, or the one file), and the prefix of
        // each entry's name (`NLST sub` lists `sub/a`; `NLST sub/*.c` lists `sub/a.c`).
        let mut head = Vec::new();
        let mut prefix = Vec::new();
        let (dir, dir_path, names) = match listed {
            Listed::Dir {
                fd,
                path,
                meta,
                names,
            } => {
                if style == Style::Machine {
                    listing::facts(&mut head, &meta, true, writable);
                    head.extend_from_slice(b".\r\n");
                }
                if style == Style::Names && !arg.is_empty() {
                    prefix.extend_from_slice(arg);
                    if !arg.ends_with(b"/") {
                        prefix.push(b'/');
                    }
                }
                (Some(fd), path, names)
            }
            Listed::File { .. } if style == Style::Machine => {
                return Err(Fail::Reply(
                    BAD_ARGUMENTS,
                    "MLSD needs a directory; use MLST.",
                ));
            }
            Listed::File { meta } => {
                if style == Style::Long {
                    listing::ls_line(&mut head, arg, &meta, None, crate::calendar::now());
                } else {
                    head.extend_from_slice(arg);
                    head.extend_from_slice(b"\r\n");
                }
                (None, p, Names::default())
            }
            Listed::Matches { fd, parent, names } => {
                if let Some(i) = arg.iter().rposition(|&b| b == b'/') {
                    prefix.extend_from_slice(&arg[..=i]);
                }
                (Some(fd), parent, names)
            }
        };
        let stream = self.connect_data()?;
        self.reply(OPENING_DATA, "Here comes the directory listing.")?;
        let jail = &self.jail;
        let moved = Self::move_data(&mut self.conn, stream, &mut |t| {
            t.send_bytes(&head)?;
            if let Some(dir) = &dir {
                let listing = Listing {
                    jail,
                    dir,
                    path: &dir_path,
                    names: &names,
                    style,
                    prefix: &prefix,
                    writable,
                    now: crate::calendar::now(),
                };
                let mut sent = Ok(());
                listing.stream(&mut |piece| {
                    sent = t.send_bytes(piece);
                    sent.is_ok()
                });
                sent?;
            }
            t.finish()
        });
        moved.done?;
        self.reply(TRANSFER_OK, "Directory send OK.")
    }

    pub(super) fn mlst(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        let m = self.jail.stat(&p)?;
        let mut line = Vec::new();
        listing::facts(&mut line, &m, false, self.login.writable);
        line.extend_from_slice(&p.to_bytes());
        self.conn.multi(FILE_ACTION_OK, "Listing", &[line], "End")
    }

    /// STAT with a path: its `ls -l` lines as a multi-line reply on the control
    /// connection. A directory's lines are sent piece by piece as they are made, like a
    /// LIST, so a client that does not read holds up one piece, not the whole listing.
    pub(super) fn stat_path(&mut self, arg: &[u8]) -> Result {
        // `STAT -la dir`: options before the path are ignored, as for LIST.
        let arg = command::strip_ls_options(arg);
        let p = self.path(arg)?;
        let now = crate::calendar::now();
        let (code, fd, names) = match self.listed(&p, false)? {
            Listed::Dir { fd, names, .. } => (DIR_STATUS, Some(fd), names),
            Listed::File { .. } | Listed::Matches { .. } => (FILE_STATUS, None, Names::default()),
        };
        let mut out = Vec::new();
        reply::multi_first(&mut out, code, b"Status follows:");
        match &fd {
            Some(dir) => {
                self.conn.ctl.send(&out).map_err(Fail::Ctl)?;
                let listing = Listing {
                    jail: &self.jail,
                    dir,
                    path: &p,
                    names: &names,
                    style: Style::Long,
                    prefix: b"",
                    writable: false,
                    now,
                };
                let ctl = &mut self.conn.ctl;
                let mut sent = Ok(());
                listing.stream(&mut |piece| {
                    out.clear();
                    body_lines(&mut out, piece);
                    sent = ctl.send(&out);
                    sent.is_ok()
                });
                sent.map_err(Fail::Ctl)?;
                out.clear();
            }
            None => {
                let m = self.jail.lstat(&p)?;
                let mut line = Vec::new();
                listing::ls_line(&mut line, p.file_name().unwrap_or(b"/"), &m, None, now);
                body_lines(&mut out, &line);
            }
        }
        reply::line(&mut out, code, b"End of status");
        self.conn.ctl.send(&out).map_err(Fail::Ctl)
    }
}

/// Listing lines (CRLF-ended) as the body lines of a multi-line reply.
fn body_lines(out: &mut Vec<u8>, lines: &[u8]) {
    for l in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        reply::body_line(out, l.strip_suffix(b"\r").unwrap_or(l));
    }
}
