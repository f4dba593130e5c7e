//! The control-line parser: one pure function from a line's bytes to a [`Command`].
//!
//! It does no I/O and knows nothing of session state, so it can be unit-tested and fuzzed.
//! The line reaching it has already lost its CRLF and Telnet sequences (see `control.rs`).
//! Paths stay bytes: a name that is not UTF-8 passes through unchanged.

use std::net::SocketAddr;

use crate::auth::Password;
pub use crate::digest::Algo;

mod args;

pub use args::strip_ls_options;
use args::*;

/// Representation type set by TYPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Ascii,
    Image,
}

/// The argument of EPSV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpsvArg {
    Any,
    Proto(u8),
    All,
}

/// The argument of LIST and NLST: a path (or pattern), and whether `-a`/`-A` asked for
/// names starting with `.` too.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LsArg {
    pub path: Vec<u8>,
    pub all: bool,
}

/// A parsed command. Path arguments are raw bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    User(Vec<u8>),
    Pass(Password),
    Acct,
    Quit,
    Noop,
    Syst,
    Feat,
    Opts(Vec<u8>),
    Help(Vec<u8>),
    Stat(Vec<u8>),
    Host(Vec<u8>),
    /// AUTH with its mechanism (`TLS`, `SSL`), upper-cased.
    Auth(Vec<u8>),
    Pbsz(Vec<u8>),
    /// PROT with its level (`C`, `S`, `E`, `P`), upper-cased.
    Prot(Vec<u8>),
    Ccc,
    Pwd,
    Cwd(Vec<u8>),
    Cdup,
    Type(Type),
    Mode,
    Stru,
    Allo,
    Rest(u64),
    Pasv,
    Epsv(EpsvArg),
    Port(SocketAddr),
    Eprt(SocketAddr),
    List(LsArg),
    Nlst(LsArg),
    Mlsd(Vec<u8>),
    Mlst(Vec<u8>),
    Retr(Vec<u8>),
    Stor(Vec<u8>),
    Appe(Vec<u8>),
    Stou(Vec<u8>),
    Size(Vec<u8>),
    Mdtm(Vec<u8>),
    Mfmt(i64, Vec<u8>),
    Dele(Vec<u8>),
    Rmd(Vec<u8>),
    Mkd(Vec<u8>),
    Rnfr(Vec<u8>),
    Rnto(Vec<u8>),
    Abor,
    SiteChmod(u32, Vec<u8>),
    SiteHelp,
    /// HASH (draft-bryan-ftpext-hash): the file's checksum in the algorithm OPTS HASH chose.
    Hash(Vec<u8>),
    /// XMD5, XSHA1, XSHA256, XSHA512, XCRC: the checksum of a path, or of the bytes from
    /// `start` to `end` (exclusive) when the path is quoted and followed by them.
    XHash {
        algo: Algo,
        path: Vec<u8>,
        start: u64,
        end: Option<u64>,
    },
}

/// Why a line is not a command we can run; each maps to one reply (see `reply::Fail`).
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not an FTP verb we know: 500.
    Unknown,
    /// A verb we know but don't implement (REIN, SMNT, ...): 502.
    NotImplemented,
    /// Missing or malformed argument: 501.
    Syntax(&'static str),
    /// A valid parameter we don't support (TYPE E, MODE B, STRU R): 504.
    Unsupported(&'static str),
}

/// When a verb may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before and after login.
    Always,
    /// Only after login; before it, the answer is 530 whatever the argument.
    LoggedIn,
}

/// One verb: its name, when it may be used, whether HELP lists it, and how its argument
/// becomes a [`Command`].
pub struct Verb {
    pub name: &'static str,
    pub phase: Phase,
    /// Listed by HELP (verbs we only answer with a refusal are not).
    pub listed: bool,
    arg: Arg,
}

/// The form of a verb's argument, and the command it makes. The common forms are parsed
/// in one place ([`parse`]); only verbs with an argument syntax of their own have a
/// function of their own.
enum Arg {
    /// Any argument is ignored.
    Ignored(fn() -> Command),
    /// A path is required: everything after the verb's space, as it is (spaces included).
    Path(fn(Vec<u8>) -> Command),
    /// The argument as it is, possibly empty (MLSD, STAT, STOU).
    Raw(fn(Vec<u8>) -> Command),
    /// The argument with leading `ls` options removed (LIST, NLST).
    LsOptions(fn(LsArg) -> Command),
    /// A word, trimmed; the text is the syntax error when it is missing.
    Word(fn(Vec<u8>) -> Command, &'static str),
    /// A syntax of its own.
    Own(fn(&[u8]) -> Result<Command, ParseError>),
}

const fn verb(name: &'static str, phase: Phase, arg: Arg) -> Verb {
    Verb {
        name,
        phase,
        listed: true,
        arg,
    }
}

/// A verb that is only ever refused; HELP does not list it.
const fn unlisted(name: &'static str, arg: Arg) -> Verb {
    Verb {
        name,
        phase: Phase::LoggedIn,
        listed: false,
        arg,
    }
}

use Arg::{Ignored, LsOptions, Own, Path, Raw, Word};
use Phase::{Always, LoggedIn};

/// Every verb, in alphabetical order: the one list behind the parser, HELP and the
/// pre-login gate. `X...` verbs are RFC 775's old names, still sent by some clients.
pub const VERBS: &[Verb] = &[
    verb("ABOR", LoggedIn, Ignored(|| Command::Abor)),
    verb("ACCT", LoggedIn, Ignored(|| Command::Acct)),
    verb("ALLO", LoggedIn, Ignored(|| Command::Allo)),
    verb("APPE", LoggedIn, Path(Command::Appe)),
    // RFC 4217. lftp probes AUTH TLS even when FEAT doesn't list it: without TLS, a clean
    // 5xx lets it go on.
    verb(
        "AUTH",
        Always,
        Word(|w| Command::Auth(w.to_ascii_uppercase()), "AUTH takes TLS"),
    ),
    Verb {
        name: "CCC",
        phase: Always,
        listed: false,
        arg: Ignored(|| Command::Ccc),
    },
    verb("CDUP", LoggedIn, Ignored(|| Command::Cdup)),
    verb("CWD", LoggedIn, Path(Command::Cwd)),
    verb("DELE", LoggedIn, Path(Command::Dele)),
    verb("EPRT", LoggedIn, Own(parse_eprt_command)),
    verb("EPSV", LoggedIn, Own(parse_epsv)),
    verb("FEAT", Always, Ignored(|| Command::Feat)),
    verb("HASH", LoggedIn, Path(Command::Hash)),
    verb("HELP", Always, Own(|a| Ok(Command::Help(trim(a).to_vec())))),
    verb(
        "HOST",
        Always,
        Word(Command::Host, "a host name is required"),
    ),
    verb("LIST", LoggedIn, LsOptions(Command::List)),
    verb("MDTM", LoggedIn, Path(Command::Mdtm)),
    verb("MFMT", LoggedIn, Own(parse_mfmt)),
    verb("MKD", LoggedIn, Path(Command::Mkd)),
    verb("MLSD", LoggedIn, Raw(Command::Mlsd)),
    verb("MLST", LoggedIn, Raw(Command::Mlst)),
    verb("MODE", LoggedIn, Own(parse_mode)),
    verb("NLST", LoggedIn, LsOptions(Command::Nlst)),
    verb("NOOP", Always, Ignored(|| Command::Noop)),
    verb("OPTS", Always, Word(Command::Opts, "an option is required")),
    // Passwords may be empty (anonymous) and may contain spaces.
    verb("PASS", Always, Raw(|a| Command::Pass(Password(a)))),
    verb("PASV", LoggedIn, Ignored(|| Command::Pasv)),
    verb("PBSZ", Always, Word(Command::Pbsz, "PBSZ takes 0")),
    verb("PORT", LoggedIn, Own(parse_port_command)),
    verb(
        "PROT",
        Always,
        Word(
            |w| Command::Prot(w.to_ascii_uppercase()),
            "PROT takes C or P",
        ),
    ),
    verb("PWD", LoggedIn, Ignored(|| Command::Pwd)),
    verb("QUIT", Always, Ignored(|| Command::Quit)),
    unlisted("REIN", Own(|_| Err(ParseError::NotImplemented))),
    verb("REST", LoggedIn, Own(parse_rest)),
    verb("RETR", LoggedIn, Path(Command::Retr)),
    verb("RMD", LoggedIn, Path(Command::Rmd)),
    verb("RNFR", LoggedIn, Path(Command::Rnfr)),
    verb("RNTO", LoggedIn, Path(Command::Rnto)),
    verb("SITE", LoggedIn, Own(parse_site)),
    verb("SIZE", LoggedIn, Path(Command::Size)),
    unlisted("SMNT", Own(|_| Err(ParseError::NotImplemented))),
    verb("STAT", LoggedIn, Raw(Command::Stat)),
    verb("STOR", LoggedIn, Path(Command::Stor)),
    verb("STOU", LoggedIn, Raw(Command::Stou)),
    verb("STRU", LoggedIn, Own(parse_stru)),
    verb("SYST", Always, Ignored(|| Command::Syst)),
    verb(
        "TYPE",
        LoggedIn,
        Own(|a| Ok(Command::Type(parse_type(trim(a))?))),
    ),
    verb(
        "USER",
        Always,
        Word(Command::User, "a user name is required"),
    ),
    // The checksum verbs of proftpd's mod_digest, FileZilla and Serv-U.
    verb("XCRC", LoggedIn, Own(|a| parse_xhash(Algo::Crc32, a))),
    verb("XCUP", LoggedIn, Ignored(|| Command::Cdup)),
    verb("XCWD", LoggedIn, Path(Command::Cwd)),
    verb("XMD5", LoggedIn, Own(|a| parse_xhash(Algo::Md5, a))),
    verb("XMKD", LoggedIn, Path(Command::Mkd)),
    verb("XPWD", LoggedIn, Ignored(|| Command::Pwd)),
    verb("XRMD", LoggedIn, Path(Command::Rmd)),
    verb("XSHA1", LoggedIn, Own(|a| parse_xhash(Algo::Sha1, a))),
    verb("XSHA256", LoggedIn, Own(|a| parse_xhash(Algo::Sha256, a))),
    verb("XSHA512", LoggedIn, Own(|a| parse_xhash(Algo::Sha512, a))),
];

/// Splits a line into its verb and the argument after the first space.
fn split_verb(line: &[u8]) -> (&[u8], &[u8]) {
    split_word(line)
}

/// The longest verb of [`VERBS`] (`XSHA256`, `XSHA512`).
const LONGEST_VERB: usize = 7;

/// The table entry for a line's verb (case-insensitive), if it is one we know: the verb
/// in upper case, looked up in the sorted table by halves (a line went through every verb
/// before it, 4,000 instructions a transfer on mipsel, a thirteenth of the server's own).
pub fn verb_of(line: &[u8]) -> Option<&'static Verb> {
    let (v, _) = split_verb(line);
    if v.len() > LONGEST_VERB {
        return None;
    }
    let mut up = [0u8; LONGEST_VERB];
    let up = &mut up[..v.len()];
    up.copy_from_slice(v);
    up.make_ascii_uppercase();
    let i = VERBS.binary_search_by(|e| e.name.as_bytes().cmp(up)).ok()?;
    Some(&VERBS[i])
}

/// Whether the line's verb may be used before login. Checked on the raw line, so a
/// pre-login verb with a bad argument gets its syntax error rather than 530.
pub fn allowed_before_login(line: &[u8]) -> bool {
    verb_of(line).is_some_and(|v| v.phase == Phase::Always)
}

/// Parses one control line (without CRLF). Verbs are case-insensitive.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let (_, arg) = split_verb(line);
    let v = verb_of(line).ok_or(ParseError::Unknown)?;
    Ok(match v.arg {
        Ignored(make) => make(),
        Path(_) if arg.is_empty() => return Err(ParseError::Syntax("a path is required")),
        Path(make) | Raw(make) => make(arg.to_vec()),
        LsOptions(make) => {
            let (path, all) = strip_ls_options(arg);
            make(LsArg {
                path: path.to_vec(),
                all,
            })
        }
        Word(make, why) => make(nonempty(trim(arg), why)?),
        Own(parse) => parse(arg)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> Result<Command, ParseError> {
        parse(s)
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(p(b"user Bob"), Ok(Command::User(b"Bob".to_vec())));
        assert_eq!(p(b"qUiT"), Ok(Command::Quit));
        assert_eq!(p(b"xpwd"), Ok(Command::Pwd));
    }

    #[test]
    fn unknown_and_unimplemented() {
        assert_eq!(p(b"FOO"), Err(ParseError::Unknown));
        assert_eq!(p(b"TOOLONGVERB x"), Err(ParseError::Unknown));
        assert_eq!(p(b""), Err(ParseError::Unknown));
        assert_eq!(p(b"REIN"), Err(ParseError::NotImplemented));
        assert_eq!(p(b"SITE EXEC x"), Err(ParseError::NotImplemented));
    }

    #[test]
    fn paths_keep_spaces_and_bytes() {
        assert_eq!(
            p(b"RETR  two  spaces "),
            Ok(Command::Retr(b" two  spaces ".to_vec()))
        );
        assert_eq!(p(b"RETR caf\xe9"), Ok(Command::Retr(b"caf\xe9".to_vec())));
        assert!(matches!(p(b"RETR"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn types() {
        assert_eq!(p(b"TYPE A"), Ok(Command::Type(Type::Ascii)));
        assert_eq!(p(b"TYPE a n"), Ok(Command::Type(Type::Ascii)));
        assert_eq!(p(b"TYPE I"), Ok(Command::Type(Type::Image)));
        assert_eq!(p(b"TYPE L 8"), Ok(Command::Type(Type::Image)));
        assert!(matches!(p(b"TYPE E"), Err(ParseError::Unsupported(_))));
        assert!(matches!(p(b"TYPE L 7"), Err(ParseError::Unsupported(_))));
        assert!(matches!(p(b"TYPE A T"), Err(ParseError::Unsupported(_))));
        assert!(matches!(p(b"TYPE X"), Err(ParseError::Syntax(_))));
        assert!(matches!(p(b"MODE B"), Err(ParseError::Unsupported(_))));
        assert!(matches!(p(b"STRU R"), Err(ParseError::Unsupported(_))));
    }

    #[test]
    fn port_and_eprt() {
        assert_eq!(
            p(b"PORT 127,0,0,1,4,1"),
            Ok(Command::Port("127.0.0.1:1025".parse().unwrap()))
        );
        assert!(p(b"PORT 127,0,0,1,4").is_err());
        assert!(p(b"PORT 127,0,0,1,4,256").is_err());
        assert_eq!(
            p(b"EPRT |1|127.0.0.1|2000|"),
            Ok(Command::Eprt("127.0.0.1:2000".parse().unwrap()))
        );
        assert_eq!(
            p(b"EPRT |2|::1|2000|"),
            Ok(Command::Eprt("[::1]:2000".parse().unwrap()))
        );
        assert!(p(b"EPRT |2|127.0.0.1|2000|").is_err());
        assert!(p(b"EPRT |1|127.0.0.1|99999|").is_err());
        assert_eq!(p(b"EPSV ALL"), Ok(Command::Epsv(EpsvArg::All)));
        assert_eq!(p(b"EPSV 2"), Ok(Command::Epsv(EpsvArg::Proto(2))));
    }

    #[test]
    fn rest_offsets_above_4gib() {
        assert_eq!(p(b"REST 5000000000"), Ok(Command::Rest(5_000_000_000)));
        assert!(p(b"REST -1").is_err());
        assert!(p(b"REST 99999999999999999999999").is_err());
    }

    // wget sends `LIST -a`, ncftp `LIST -a ./dir`, some clients `LIST -la`.
    #[test]
    fn list_options_are_ignored() {
        let ls = |path: &[u8], all| LsArg {
            path: path.to_vec(),
            all,
        };
        assert_eq!(p(b"LIST -a"), Ok(Command::List(ls(b"", true))));
        assert_eq!(
            p(b"LIST -la sub dir"),
            Ok(Command::List(ls(b"sub dir", true)))
        );
        assert_eq!(p(b"LIST -a ./dir"), Ok(Command::List(ls(b"./dir", true))));
        assert_eq!(p(b"NLST -l"), Ok(Command::Nlst(ls(b"", false))));
        assert_eq!(p(b"LIST -lA x"), Ok(Command::List(ls(b"x", true))));
        assert_eq!(p(b"NLST x"), Ok(Command::Nlst(ls(b"x", false))));
    }

    #[test]
    fn mfmt_and_time() {
        assert_eq!(
            p(b"MFMT 20200102030405 a b"),
            Ok(Command::Mfmt(1577934245, b"a b".to_vec()))
        );
        assert!(p(b"MFMT 2020 a").is_err());
        assert!(p(b"MFMT 20200102030405").is_err());
    }

    #[test]
    fn site_chmod() {
        assert_eq!(
            p(b"SITE CHMOD 644 f"),
            Ok(Command::SiteChmod(0o644, b"f".to_vec()))
        );
        assert!(p(b"SITE CHMOD 999 f").is_err());
    }

    #[test]
    fn the_verb_table_is_sorted_and_gates_login() {
        assert!(VERBS.windows(2).all(|w| w[0].name < w[1].name));
        assert!(VERBS.iter().all(|v| v.name.len() <= LONGEST_VERB));
        // Every verb is found in any case, and nothing else.
        for v in VERBS {
            let lower = v.name.to_ascii_lowercase();
            for line in [v.name.to_string(), lower.clone(), format!("{lower} x")] {
                assert_eq!(verb_of(line.as_bytes()).map(|e| e.name), Some(v.name));
            }
        }
        for line in ["XSHA2567", "STO", "STORE", "", " STOR", "ST\u{d6}R"] {
            assert!(verb_of(line.as_bytes()).is_none(), "{line:?}");
        }
        assert!(allowed_before_login(b"user bob"));
        assert!(allowed_before_login(b"FEAT"));
        assert!(!allowed_before_login(b"RETR x"));
        assert!(allowed_before_login(b"AUTH TLS"));
        assert!(!allowed_before_login(b"BOGUS"));
        // A pre-login verb with a bad argument still gets through to its syntax error.
        assert!(allowed_before_login(b"USER"));
        assert!(matches!(p(b"USER"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn pass_keeps_spaces_and_may_be_empty() {
        assert_eq!(p(b"PASS"), Ok(Command::Pass(Password(Vec::new()))));
        assert_eq!(
            p(b"PASS a b "),
            Ok(Command::Pass(Password(b"a b ".to_vec())))
        );
    }
}
