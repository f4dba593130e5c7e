//! Listings: LIST, NLST and MLSD on a data connection, MLST and STAT of a path on the
//! control connection. All of them find what is listed the same way
//! ([`Session::target`], then [`Session::entries`]): a directory's entries, one file, or
//! the entries a shell pattern in the last component matches (`NLST *.txt`, as `mget`
//! sends). Producing the lines is `listing`'s job; a directory's lines are streamed piece
//! by piece, never held whole, on either connection.

use std::io;
use std::os::fd::OwnedFd;

use super::{Result, Session, display};
use crate::command::{self, LsArg};
use crate::glob::{self, Pattern};
use crate::listing::{self, Keep, Listing, Style};
use crate::reply::{self, Fail, *};
use crate::vfs::{Kind, Meta, VPath};

/// What a listing argument names, found with a stat (no entry is read yet).
enum Target {
    /// A directory.
    Dir { path: VPath, meta: Meta },
    /// One object that is not a directory.
    File { meta: Meta },
    /// The entries of `parent` that a shell pattern in the last component may match.
    Pattern { parent: VPath, pattern: Pattern },
}

/// Entries to list: the open directory, its path and its names (see `listing::Entries`).
struct Entries {
    fd: OwnedFd,
    path: VPath,
    list: listing::Entries,
}

impl Session {
    /// Resolves a listing argument with one stat. `patterns`: a last component with `*`,
    /// `?` or `[` that names nothing is a pattern for its directory's entries.
    fn target(&self, p: &VPath, patterns: bool) -> Result<Target> {
        match self.jail.stat(p) {
            Ok(meta) if meta.kind == Kind::Dir => {
                // Before the data connection: may this account list it at all?
                self.jail.check_list(p).map_err(Fail::Fs)?;
                Ok(Target::Dir {
                    path: p.clone(),
                    meta,
                })
            }
            Ok(meta) => Ok(Target::File { meta }),
            Err(e) if e.kind() == io::ErrorKind::NotFound && patterns => {
                let Some(name) = p.file_name().filter(|n| glob::has_glob(n)) else {
                    return Err(Fail::Fs(e));
                };
                let pattern = Pattern::compile(name)
                    .map_err(|_| Fail::Reply(BAD_ARGUMENTS, "Pattern too complex."))?;
                self.jail.check_list(&p.parent()).map_err(Fail::Fs)?;
                Ok(Target::Pattern {
                    parent: p.parent(),
                    pattern,
                })
            }
            Err(e) => Err(Fail::Fs(e)),
        }
    }

    /// Reads the entries a target lists: all of a directory's (names starting with `.` only
    /// when `all`), or those a pattern matches (550 when none does). `None` for a single
    /// file. A huge directory is read here only as far as a listing may hold (see
    /// `listing`); the rest is read as it is sent.
    fn entries(&self, target: Target, all: bool) -> Result<Option<Entries>> {
        let (path, keep) = match target {
            Target::File { .. } => return Ok(None),
            Target::Dir { path, .. } if all => (path, Keep::All),
            Target::Dir { path, .. } => (path, Keep::Visible),
            Target::Pattern { parent, pattern } => (parent, Keep::Matching(pattern)),
        };
        let fd = self.jail.open_dir(&path).map_err(Fail::Fs)?;
        let (names, rest) = self
            .jail
            .read_names(&fd, &|n| keep.accepts(n))
            .map_err(Fail::Fs)?;
        if matches!(keep, Keep::Matching(_)) && names.is_empty() {
            return Err(Fail::Fs(rustix::io::Errno::NOENT.into()));
        }
        Ok(Some(Entries {
            fd,
            path,
            list: listing::Entries { names, rest, keep },
        }))
    }

    /// LIST, NLST and MLSD. The directory is read only once the data connection is there:
    /// a client that never makes one costs a stat.
    pub(super) fn list(&mut self, arg: &LsArg, style: Style) -> Result {
        self.rest = 0;
        let arg_path = &arg.path[..];
        let p = self.path(arg_path)?;
        let writable = self.jail.writable(&p);
        let target = self.target(&p, style != Style::Machine)?;
        // The lines before the entries (MLSD's `cdir`, or the one file), and the prefix of
        // each entry's name (`NLST sub` lists `sub/a`; `NLST sub/*.c` lists `sub/a.c`).
        let mut head = Vec::new();
        let mut prefix = Vec::new();
        match &target {
            Target::Dir { meta, .. } => {
                if style == Style::Machine {
                    listing::facts(&mut head, meta, true, writable);
                    head.extend_from_slice(b".\r\n");
                }
                if style == Style::Names && !arg_path.is_empty() {
                    prefix.extend_from_slice(arg_path);
                    if !arg_path.ends_with(b"/") {
                        prefix.push(b'/');
                    }
                }
            }
            Target::File { .. } if style == Style::Machine => {
                return Err(Fail::Reply(
                    BAD_ARGUMENTS,
                    "MLSD needs a directory; use MLST.",
                ));
            }
            Target::File { meta } => {
                if style == Style::Long {
                    listing::ls_line(&mut head, arg_path, meta, None, crate::calendar::now());
                } else {
                    head.extend_from_slice(arg_path);
                    head.extend_from_slice(b"\r\n");
                }
            }
            Target::Pattern { .. } => {
                if let Some(i) = arg_path.iter().rposition(|&b| b == b'/') {
                    prefix.extend_from_slice(&arg_path[..=i]);
                }
            }
        }
        // MLSD lists every name (RFC 3659); LIST and NLST hide dotfiles unless -a, as ls.
        let all = arg.all || style == Style::Machine;
        let (mut entries, stream) = self.open_data(|s| {
            let entries = s.entries(target, all)?;
            Ok((entries, b"Here comes the directory listing.".to_vec()))
        })?;
        let jail = &self.jail;
        let caps = self.caps(false);
        let moved = Self::move_data(&mut self.conn, caps, stream, &mut |t| {
            t.send_bytes(&head)?;
            if let Some(e) = entries.take() {
                let listing = Listing {
                    jail,
                    dir: &e.fd,
                    path: &e.path,
                    style,
                    prefix: &prefix,
                    writable,
                    now: crate::calendar::now(),
                };
                let mut sent = Ok(());
                listing
                    .stream(e.list, &mut |piece| {
                        sent = t.send_bytes(piece);
                        sent.is_ok()
                    })
                    .map_err(Fail::Local)?;
                sent?;
            }
            t.finish()
        });
        moved.done?;
        self.reply(TRANSFER_OK, "Directory send OK.")
    }

    pub(super) fn mlst(&mut self, arg: &[u8]) -> Result {
        let p = self.path(arg)?;
        let m = self.jail.stat(&p).map_err(Fail::Fs)?;
        let mut line = Vec::new();
        listing::facts(&mut line, &m, false, self.jail.writable(&p));
        line.extend_from_slice(&p.to_bytes());
        self.conn.multi(FILE_ACTION_OK, "Listing", &[line], "End")
    }

    /// STAT with a path: its `ls -l` lines as a multi-line reply on the control
    /// connection. A directory's lines are sent piece by piece as they are made, like a
    /// LIST, so a client that does not read holds up one piece, not the whole listing.
    pub(super) fn stat_path(&mut self, arg: &[u8]) -> Result {
        // `STAT -la dir`: options before the path as for LIST (`-a` shows dotfiles).
        let (arg, all) = command::strip_ls_options(arg);
        let p = self.path(arg)?;
        let now = crate::calendar::now();
        let target = self.target(&p, false)?;
        let entries = self.entries(target, all)?;
        let code = if entries.is_some() {
            DIR_STATUS
        } else {
            FILE_STATUS
        };
        let mut out = Vec::new();
        reply::multi_first(&mut out, code, b"Status follows:");
        match entries {
            Some(e) => {
                self.conn.ctl.send(&out).map_err(Fail::Ctl)?;
                let listing = Listing {
                    jail: &self.jail,
                    dir: &e.fd,
                    path: &e.path,
                    style: Style::Long,
                    prefix: b"",
                    writable: false,
                    now,
                };
                let ctl = &mut self.conn.ctl;
                let mut sent = Ok(());
                let read = listing.stream(e.list, &mut |piece| {
                    out.clear();
                    body_lines(&mut out, piece);
                    sent = ctl.send(&out);
                    sent.is_ok()
                });
                sent.map_err(Fail::Ctl)?;
                // The reply has begun: a directory that fails to read part way ends it early.
                if let Err(e) = read {
                    log::warn!("{}: STAT {}: {e}", self.conn.peer, display(&p.to_bytes()));
                }
                out.clear();
            }
            None => {
                let m = self.jail.lstat(&p).map_err(Fail::Fs)?;
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
