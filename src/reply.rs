//! Replies: codes by meaning, the encoding of single- and multi-line replies, and the one
//! map from a failure to what the client is told.
//!
//! Handlers never write bare numbers: they name what happened (`FILE_UNAVAILABLE`), and this
//! module knows the number RFC 959 (and 2389, 2428, 3659, 7151) gives it. Several names may
//! share a number; the name is for the reader. Handlers that fail return a [`Fail`]; only
//! [`Fail::answer`] turns one into reply codes and text: parse errors, file-system errors by
//! errno (and their variant during a transfer), transfer outcomes, and the server's own
//! refusals (421). This module does no I/O.

use std::borrow::Cow;
use std::io;

use crate::command::ParseError;
use crate::vfs::PathError;

pub const OPENING_DATA: u16 = 150;
pub const OK: u16 = 200;
pub const SUPERFLUOUS: u16 = 202;
pub const SYSTEM_STATUS: u16 = 211;
pub const DIR_STATUS: u16 = 212;
pub const FILE_STATUS: u16 = 213;
pub const HELP: u16 = 214;
pub const SYSTEM_TYPE: u16 = 215;
pub const SERVICE_READY: u16 = 220;
pub const AUTH_OK: u16 = 234;
pub const GOODBYE: u16 = 221;
pub const TRANSFER_OK: u16 = 226;
pub const PASSIVE: u16 = 227;
pub const EXT_PASSIVE: u16 = 229;
pub const LOGGED_IN: u16 = 230;
pub const FILE_ACTION_OK: u16 = 250;
pub const PATH_CREATED: u16 = 257;
pub const NEED_PASSWORD: u16 = 331;
pub const PENDING_MORE_INFO: u16 = 350;
pub const CLOSING: u16 = 421;
pub const CANT_OPEN_DATA: u16 = 425;
pub const TRANSFER_ABORTED: u16 = 426;
pub const FILE_BUSY: u16 = 450;
pub const LOCAL_ERROR: u16 = 451;
pub const NO_SPACE: u16 = 452;
pub const UNKNOWN_COMMAND: u16 = 500;
pub const BAD_ARGUMENTS: u16 = 501;
pub const NOT_IMPLEMENTED: u16 = 502;
pub const BAD_SEQUENCE: u16 = 503;
pub const BAD_PARAMETER: u16 = 504;
pub const BAD_PROTOCOL: u16 = 522;
pub const NOT_LOGGED_IN: u16 = 530;
pub const POLICY_DENIED: u16 = 534;
pub const PROT_NOT_SUPPORTED: u16 = 536;
pub const FILE_UNAVAILABLE: u16 = 550;
pub const NO_PERMISSION: u16 = 550;
pub const EXCEEDED_STORAGE: u16 = 552;
pub const BAD_FILE_NAME: u16 = 553;
pub const INVALID_REST: u16 = 554;

/// Why a command (or the session) failed. Everything but [`Fail::Ctl`] is told to the
/// client; [`Fail::Closing`] then ends the session, the rest let it go on.
#[derive(Debug)]
pub enum Fail {
    /// The control connection itself failed or the client went away: nothing to say.
    Ctl(io::Error),
    /// The line is not a command we can run.
    Parse(ParseError),
    /// A control line over the limit.
    LineTooLong,
    /// A command that needs a login, before one.
    NotLoggedIn,
    /// A file-system error, mapped by errno.
    Fs(io::Error),
    /// A path refused before reaching the file system.
    Path(PathError),
    /// A specific reply for a specific refusal.
    Reply(u16, &'static str),
    /// The data connection could not be opened (425).
    NoDataConnection,
    /// ABOR during a transfer (426, then 226 for the ABOR itself).
    Aborted,
    /// The data connection failed during a transfer (reset, closed early).
    DataConnection(io::Error),
    /// No progress on the data connection within the data timeout.
    DataTimeout,
    /// Reading or writing the file failed during a transfer (disk full, I/O error).
    Local(io::Error),
    /// The server refuses to go on with this client: 421, then the connection is closed.
    Closing(Closing),
}

/// Why the server closes a connection with 421.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// `--max-clients` sessions are open.
    ServerFull,
    /// `--max-per-ip` sessions are open from this address.
    AddressFull,
    /// No thread could be created for the session.
    Busy,
    /// The machine's available memory is under the floor (see `memory`).
    LowMemory,
    /// The session was idle for `--idle-timeout`.
    IdleTimeout,
    /// The session did not log in within `--login-timeout`.
    LoginTimeout,
    /// The client's address is banned for failed logins.
    Banned,
    /// The client's network is not in `--allow`, or is in `--deny`.
    NotAllowed,
    /// The account has its `sessions=` sessions open.
    AccountFull,
}

impl From<PathError> for Fail {
    fn from(e: PathError) -> Fail {
        Fail::Path(e)
    }
}

impl From<ParseError> for Fail {
    fn from(e: ParseError) -> Fail {
        Fail::Parse(e)
    }
}

/// What the client is told about a failure: one reply, and after ABOR a second one.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub text: Cow<'static, str>,
    pub then: Option<(u16, &'static str)>,
}

impl Answer {
    fn new(code: u16, text: impl Into<Cow<'static, str>>) -> Answer {
        Answer {
            code,
            text: text.into(),
            then: None,
        }
    }
}

impl Fail {
    /// The one map from failures to replies. `None`: nobody to tell (the control
    /// connection is gone).
    pub fn answer(&self) -> Option<Answer> {
        Some(match self {
            Fail::Ctl(_) => return None,
            Fail::Parse(ParseError::Unknown) => Answer::new(UNKNOWN_COMMAND, "Unknown command."),
            Fail::Parse(ParseError::NotImplemented) => {
                Answer::new(NOT_IMPLEMENTED, "Command not implemented.")
            }
            Fail::Parse(ParseError::Syntax(t)) => Answer::new(BAD_ARGUMENTS, *t),
            Fail::Parse(ParseError::Unsupported(t)) => Answer::new(BAD_PARAMETER, *t),
            Fail::LineTooLong => Answer::new(UNKNOWN_COMMAND, "Command line too long."),
            Fail::NotLoggedIn => Answer::new(NOT_LOGGED_IN, "Please login with USER and PASS."),
            Fail::Fs(e) => fs_error(e),
            Fail::Path(PathError::Nul) => Answer::new(BAD_ARGUMENTS, "Invalid character in path."),
            Fail::Path(PathError::TooLong) => Answer::new(BAD_FILE_NAME, "File name too long."),
            Fail::Reply(code, text) => Answer::new(*code, *text),
            Fail::NoDataConnection => {
                Answer::new(CANT_OPEN_DATA, "Failed to establish data connection.")
            }
            Fail::Aborted => Answer {
                code: TRANSFER_ABORTED,
                text: "Connection closed; transfer aborted.".into(),
                then: Some((TRANSFER_OK, "ABOR successful.")),
            },
            Fail::DataConnection(_) => {
                Answer::new(TRANSFER_ABORTED, "Connection closed; transfer aborted.")
            }
            Fail::DataTimeout => Answer::new(
                TRANSFER_ABORTED,
                "Data connection timed out; transfer aborted.",
            ),
            // During a transfer, "unavailable" is a local error: the file was there.
            Fail::Local(e) => match fs_error(e) {
                Answer {
                    code: FILE_UNAVAILABLE,
                    text,
                    then,
                } => Answer {
                    code: LOCAL_ERROR,
                    text,
                    then,
                },
                other => other,
            },
            Fail::Closing(c) => Answer::new(
                CLOSING,
                match c {
                    Closing::ServerFull => "Too many users, sorry. Try again later.",
                    Closing::AddressFull => "Too many connections from your address.",
                    Closing::AccountFull => "Too many sessions for this account.",
                    Closing::Busy => "Server busy, try again later.",
                    Closing::LowMemory => "Server short of memory, try again later.",
                    Closing::IdleTimeout => "Timeout; closing control connection.",
                    Closing::LoginTimeout => "Login timeout; closing control connection.",
                    Closing::Banned => "Too many failed logins from your address; try later.",
                    Closing::NotAllowed => "Not allowed from your address.",
                },
            ),
        })
    }

    /// The word a transfer's log line ends with.
    pub fn transfer_result(&self) -> &'static str {
        match self {
            Fail::Ctl(_) => "client gone",
            Fail::Aborted => "aborted",
            Fail::DataConnection(_) => "data connection failed",
            Fail::DataTimeout => "timed out",
            Fail::Local(_) => "local error",
            _ => "failed",
        }
    }
}

/// Maps a file-system error to a reply: the table every handler shares.
fn fs_error(e: &io::Error) -> Answer {
    use rustix::io::Errno;
    let Some(raw) = e.raw_os_error() else {
        // A folder's rights (vfs/rights.rs): the reason goes to the log only.
        if e.kind() == io::ErrorKind::PermissionDenied {
            return Answer::new(NO_PERMISSION, "Permission denied.");
        }
        // --min-free and quotas (the figures go to the log).
        if e.kind() == io::ErrorKind::StorageFull {
            return Answer::new(NO_SPACE, "Insufficient storage space.");
        }
        if e.kind() == io::ErrorKind::QuotaExceeded {
            return Answer::new(EXCEEDED_STORAGE, "Exceeded storage allocation.");
        }
        return Answer::new(FILE_UNAVAILABLE, format!("{}.", capitalise(&e.to_string())));
    };
    let (code, text) = match Errno::from_raw_os_error(raw) {
        Errno::NOENT => (FILE_UNAVAILABLE, "No such file or directory."),
        Errno::ACCESS | Errno::PERM => (NO_PERMISSION, "Permission denied."),
        Errno::EXIST => (FILE_UNAVAILABLE, "File exists."),
        Errno::NOTEMPTY => (FILE_UNAVAILABLE, "Directory not empty."),
        Errno::NOTDIR => (FILE_UNAVAILABLE, "Not a directory."),
        Errno::ISDIR => (FILE_UNAVAILABLE, "Is a directory."),
        Errno::LOOP => (FILE_UNAVAILABLE, "Too many levels of symbolic links."),
        Errno::NAMETOOLONG => (BAD_FILE_NAME, "File name too long."),
        Errno::INVAL => (FILE_UNAVAILABLE, "Invalid argument."),
        Errno::BUSY => (FILE_UNAVAILABLE, "Resource busy."),
        // Opening a FIFO that has no reader for writing.
        Errno::NXIO => (FILE_UNAVAILABLE, "Not a regular file."),
        Errno::ROFS => (NO_PERMISSION, "Read-only file system."),
        Errno::XDEV => (FILE_UNAVAILABLE, "Cannot move across file systems."),
        Errno::NOSPC => (NO_SPACE, "Insufficient storage space."),
        // A disk that failed under the server (a USB stick pulled or dying): said as such.
        Errno::IO => (LOCAL_ERROR, "Disk failure (I/O error)."),
        Errno::DQUOT | Errno::FBIG => (EXCEEDED_STORAGE, "Exceeded storage allocation."),
        _ => return Answer::new(LOCAL_ERROR, format!("Local error: {e}.")),
    };
    Answer::new(code, text)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Encodes a one-line reply: `code text\r\n`. CR and LF inside `text` (from a file name)
/// are replaced so they cannot forge a reply line.
pub fn line(out: &mut Vec<u8>, code: u16, text: &[u8]) {
    out.extend_from_slice(format!("{code} ").as_bytes());
    push_safe(out, text);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a multi-line reply: `code-first`, each body line prefixed by a space, `code last`.
pub fn multi(out: &mut Vec<u8>, code: u16, first: &[u8], body: &[Vec<u8>], last: &[u8]) {
    multi_first(out, code, first);
    for l in body {
        body_line(out, l);
    }
    line(out, code, last);
}

/// The first line of a multi-line reply, `code-first` (a reply sent in pieces: STAT).
pub fn multi_first(out: &mut Vec<u8>, code: u16, first: &[u8]) {
    out.extend_from_slice(format!("{code}-").as_bytes());
    push_safe(out, first);
    out.extend_from_slice(b"\r\n");
}

/// One body line of a multi-line reply: a space, then the text (it can't end the reply).
pub fn body_line(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b' ');
    push_safe(out, text);
    out.extend_from_slice(b"\r\n");
}

fn push_safe(out: &mut Vec<u8>, text: &[u8]) {
    // RFC 2640 maps an embedded LF in a path name to NUL on the wire; CR likewise.
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { 0 } else { b }),
    );
}

/// Quotes a path for a 257 reply: inside double quotes, embedded quotes doubled (RFC 959).
pub fn quote_path(path: &[u8]) -> Vec<u8> {
    let mut q = vec![b'"'];
    for &b in path {
        if b == b'"' {
            q.push(b'"');
        }
        q.push(b);
    }
    q.push(b'"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_form() {
        let mut o = Vec::new();
        multi(&mut o, 211, b"Features:", &[b"SIZE".to_vec()], b"End");
        assert_eq!(o, b"211-Features:\r\n SIZE\r\n211 End\r\n");
    }

    #[test]
    fn names_cannot_forge_lines() {
        let mut o = Vec::new();
        line(&mut o, 257, b"\"a\r\n230 x\"");
        assert_eq!(o, b"257 \"a\x00\x00230 x\"\r\n");
        assert_eq!(quote_path(b"/a\"b"), b"\"/a\"\"b\"");
    }

    fn errno(e: rustix::io::Errno) -> io::Error {
        io::Error::from_raw_os_error(e.raw_os_error())
    }

    #[test]
    fn file_system_errors_by_errno() {
        use rustix::io::Errno;
        let a = Fail::Fs(errno(Errno::NOENT)).answer().unwrap();
        assert_eq!((a.code, &*a.text), (550, "No such file or directory."));
        assert_eq!(Fail::Fs(errno(Errno::NOSPC)).answer().unwrap().code, 452);
        assert_eq!(Fail::Fs(errno(Errno::FBIG)).answer().unwrap().code, 552);
        assert_eq!(
            Fail::Fs(errno(Errno::NAMETOOLONG)).answer().unwrap().code,
            553
        );
        assert_eq!(Fail::Fs(errno(Errno::IO)).answer().unwrap().code, 451);
    }

    // The file was there when the transfer started: a 550 becomes 451 during it.
    #[test]
    fn during_a_transfer_unavailable_is_a_local_error() {
        use rustix::io::Errno;
        assert_eq!(Fail::Local(errno(Errno::NOENT)).answer().unwrap().code, 451);
        assert_eq!(Fail::Local(errno(Errno::NOSPC)).answer().unwrap().code, 452);
        let eio = Fail::Local(errno(Errno::IO)).answer().unwrap();
        assert_eq!((eio.code, &*eio.text), (451, "Disk failure (I/O error)."));
        let a = Fail::Aborted.answer().unwrap();
        assert_eq!((a.code, a.then), (426, Some((226, "ABOR successful."))));
        assert!(
            Fail::Ctl(io::ErrorKind::BrokenPipe.into())
                .answer()
                .is_none()
        );
    }

    #[test]
    fn refusals_are_421() {
        for c in [
            Closing::ServerFull,
            Closing::AddressFull,
            Closing::Busy,
            Closing::LowMemory,
            Closing::IdleTimeout,
            Closing::LoginTimeout,
            Closing::Banned,
            Closing::NotAllowed,
        ] {
            assert_eq!(Fail::Closing(c).answer().unwrap().code, CLOSING);
        }
    }
}
