//! The control-line parser: one pure function from a line's bytes to a [`Command`].
//!
//! It does no I/O and knows nothing of session state, so it can be unit-tested and fuzzed.
//! The line reaching it has already lost its CRLF and Telnet sequences (see `control.rs`).
//! Paths stay bytes: a name that is not UTF-8 passes through unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::auth::Password;

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
    Auth,
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
    List(Vec<u8>),
    Nlst(Vec<u8>),
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
}

impl PartialEq for Password {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Password {}

/// Why a line is not a command we can run; each maps to one reply.
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

/// The verbs accepted before login; everything else is answered 530 until then.
pub fn allowed_before_login(c: &Command) -> bool {
    matches!(
        c,
        Command::User(_)
            | Command::Pass(_)
            | Command::Quit
            | Command::Feat
            | Command::Syst
            | Command::Noop
            | Command::Opts(_)
            | Command::Host(_)
            | Command::Help(_)
    )
}

/// The verb of a line is one of those accepted before login (checked on the raw line, so a
/// pre-login verb with a bad argument gets its syntax error rather than 530).
pub fn verb_allowed_before_login(line: &[u8]) -> bool {
    let verb = line.split(|&b| b == b' ').next().unwrap_or(b"");
    [
        "USER", "PASS", "QUIT", "FEAT", "SYST", "NOOP", "OPTS", "HOST", "HELP",
    ]
    .iter()
    .any(|v| v.as_bytes().eq_ignore_ascii_case(verb))
}

/// Parses one control line (without CRLF). Verbs are case-insensitive.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let (verb, arg) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    if verb.len() > 4 || verb.is_empty() {
        return Err(ParseError::Unknown);
    }
    let mut v = [0u8; 4];
    for (d, s) in v.iter_mut().zip(verb) {
        *d = s.to_ascii_uppercase();
    }
    let v = &v[..verb.len()];
    let path = || -> Result<Vec<u8>, ParseError> {
        if arg.is_empty() {
            Err(ParseError::Syntax("a path is required"))
        } else {
            Ok(arg.to_vec())
        }
    };
    let word = trim(arg);
    Ok(match v {
        b"USER" => Command::User(nonempty(word, "a user name is required")?),
        // Passwords may be empty (anonymous) and may contain spaces.
        b"PASS" => Command::Pass(Password(arg.to_vec())),
        b"ACCT" => Command::Acct,
        b"QUIT" => Command::Quit,
        b"NOOP" => Command::Noop,
        b"SYST" => Command::Syst,
        b"FEAT" => Command::Feat,
        b"OPTS" => Command::Opts(nonempty(word, "an option is required")?),
        b"HELP" => Command::Help(word.to_vec()),
        b"STAT" => Command::Stat(arg.to_vec()),
        b"HOST" => Command::Host(nonempty(word, "a host name is required")?),
        // lftp probes AUTH TLS even when FEAT doesn't list it; a clean 5xx lets it go on.
        b"AUTH" | b"PBSZ" | b"PROT" | b"CCC" => Command::Auth,
        b"PWD" | b"XPWD" => Command::Pwd,
        b"CWD" | b"XCWD" => Command::Cwd(path()?),
        b"CDUP" | b"XCUP" => Command::Cdup,
        b"TYPE" => Command::Type(parse_type(word)?),
        b"MODE" => match word.to_ascii_uppercase().as_slice() {
            b"S" => Command::Mode,
            b"B" | b"C" => return Err(ParseError::Unsupported("only MODE S is supported")),
            _ => return Err(ParseError::Syntax("MODE takes S, B or C")),
        },
        b"STRU" => match word.to_ascii_uppercase().as_slice() {
            b"F" => Command::Stru,
            b"R" | b"P" => return Err(ParseError::Unsupported("only STRU F is supported")),
            _ => return Err(ParseError::Syntax("STRU takes F, R or P")),
        },
        b"ALLO" => Command::Allo,
        b"REST" => Command::Rest(
            digits(word)
                .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok())
                .ok_or(ParseError::Syntax("REST takes a byte offset"))?,
        ),
        b"PASV" => Command::Pasv,
        b"EPSV" => Command::Epsv(match word.to_ascii_uppercase().as_slice() {
            b"" => EpsvArg::Any,
            b"ALL" => EpsvArg::All,
            b"1" => EpsvArg::Proto(1),
            b"2" => EpsvArg::Proto(2),
            _ => return Err(ParseError::Syntax("EPSV takes 1, 2 or ALL")),
        }),
        b"PORT" => Command::Port(
            parse_port(word).ok_or(ParseError::Syntax("PORT takes h1,h2,h3,h4,p1,p2"))?,
        ),
        b"EPRT" => Command::Eprt(
            parse_eprt(word).ok_or(ParseError::Syntax("EPRT takes |proto|address|port|"))?,
        ),
        b"LIST" => Command::List(strip_ls_options(arg).to_vec()),
        b"NLST" => Command::Nlst(strip_ls_options(arg).to_vec()),
        b"MLSD" => Command::Mlsd(arg.to_vec()),
        b"MLST" => Command::Mlst(arg.to_vec()),
        b"RETR" => Command::Retr(path()?),
        b"STOR" => Command::Stor(path()?),
        b"APPE" => Command::Appe(path()?),
        b"STOU" => Command::Stou(arg.to_vec()),
        b"SIZE" => Command::Size(path()?),
        b"MDTM" => Command::Mdtm(path()?),
        b"MFMT" => {
            let (t, p) = split_word(arg);
            let t =
                parse_time(t).ok_or(ParseError::Syntax("MFMT takes YYYYMMDDHHMMSS and a path"))?;
            if p.is_empty() {
                return Err(ParseError::Syntax("MFMT takes YYYYMMDDHHMMSS and a path"));
            }
            Command::Mfmt(t, p.to_vec())
        }
        b"DELE" => Command::Dele(path()?),
        b"RMD" | b"XRMD" => Command::Rmd(path()?),
        b"MKD" | b"XMKD" => Command::Mkd(path()?),
        b"RNFR" => Command::Rnfr(path()?),
        b"RNTO" => Command::Rnto(path()?),
        b"ABOR" => Command::Abor,
        b"SITE" => parse_site(arg)?,
        b"REIN" | b"SMNT" => return Err(ParseError::NotImplemented),
        _ => return Err(ParseError::Unknown),
    })
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn nonempty(s: &[u8], why: &'static str) -> Result<Vec<u8>, ParseError> {
    if s.is_empty() {
        Err(ParseError::Syntax(why))
    } else {
        Ok(s.to_vec())
    }
}

fn digits(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty() && s.len() <= 20 && s.iter().all(u8::is_ascii_digit)).then_some(s)
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    }
}

fn parse_type(w: &[u8]) -> Result<Type, ParseError> {
    let up = w.to_ascii_uppercase();
    let parts: Vec<&[u8]> = up.split(|&b| b == b' ').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [b"A"] | [b"A", b"N"] => Ok(Type::Ascii),
        [b"I"] | [b"L", b"8"] => Ok(Type::Image),
        [b"A", b"T" | b"C"] | [b"E"] | [b"E", _] | [b"L", _] => Err(ParseError::Unsupported(
            "only TYPE A, A N, I and L 8 are supported",
        )),
        _ => Err(ParseError::Syntax("TYPE takes A, I or L 8")),
    }
}

/// Leading `-options` of LIST/NLST (`LIST -la dir`) are accepted and ignored: clients send
/// them whatever the server is (wget `LIST -a`, ncftp `LIST -a ./dir`).
pub fn strip_ls_options(mut arg: &[u8]) -> &[u8] {
    loop {
        arg = arg.trim_ascii_start();
        if arg.first() != Some(&b'-') {
            return arg;
        }
        let (_, rest) = split_word(arg);
        arg = rest;
    }
}

fn parse_port(w: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(w).ok()?;
    let mut n = [0u8; 6];
    let mut it = s.split(',');
    for v in n.iter_mut() {
        *v = it.next()?.trim().parse().ok()?;
    }
    if it.next().is_some() {
        return None;
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
    Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
}

fn parse_eprt(w: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(w).ok()?;
    let d = s.chars().next()?;
    if !(33..=126).contains(&(d as u32)) {
        return None;
    }
    let f: Vec<&str> = s.split(d).collect();
    if f.len() != 5 || !f[0].is_empty() || !f[4].is_empty() {
        return None;
    }
    let ip: IpAddr = f[2].parse().ok()?;
    match (f[1], ip) {
        ("1", IpAddr::V4(_)) | ("2", IpAddr::V6(_)) => {}
        _ => return None,
    }
    let port: u16 = f[3].parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// `YYYYMMDDHHMMSS` (optionally `.sss`, ignored) as seconds since the epoch, UTC.
pub fn parse_time(t: &[u8]) -> Option<i64> {
    let t = match t.iter().position(|&b| b == b'.') {
        Some(i) if t[i + 1..].iter().all(u8::is_ascii_digit) => &t[..i],
        Some(_) => return None,
        None => t,
    };
    if t.len() != 14 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize, b: usize| -> i64 {
        t[a..b]
            .iter()
            .fold(0, |acc, &d| acc * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d, h, mi, s) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(crate::list::days_from_civil(y, mo as u32, d as u32) * 86400 + h * 3600 + mi * 60 + s)
}

fn parse_site(arg: &[u8]) -> Result<Command, ParseError> {
    let (sub, rest) = split_word(arg.trim_ascii_start());
    match sub.to_ascii_uppercase().as_slice() {
        b"CHMOD" => {
            let (mode, p) = split_word(rest.trim_ascii_start());
            let mode = std::str::from_utf8(mode)
                .ok()
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .filter(|&m| m <= 0o7777)
                .ok_or(ParseError::Syntax(
                    "SITE CHMOD takes an octal mode and a path",
                ))?;
            if p.is_empty() {
                return Err(ParseError::Syntax(
                    "SITE CHMOD takes an octal mode and a path",
                ));
            }
            Ok(Command::SiteChmod(mode, p.to_vec()))
        }
        b"HELP" | b"" => Ok(Command::SiteHelp),
        _ => Err(ParseError::NotImplemented),
    }
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
        assert_eq!(p(b"LIST -a"), Ok(Command::List(Vec::new())));
        assert_eq!(
            p(b"LIST -la sub dir"),
            Ok(Command::List(b"sub dir".to_vec()))
        );
        assert_eq!(p(b"LIST -a ./dir"), Ok(Command::List(b"./dir".to_vec())));
        assert_eq!(p(b"NLST -l"), Ok(Command::Nlst(Vec::new())));
    }

    #[test]
    fn mfmt_and_time() {
        assert_eq!(
            p(b"MFMT 20200102030405 a b"),
            Ok(Command::Mfmt(1577934245, b"a b".to_vec()))
        );
        assert!(p(b"MFMT 2020 a").is_err());
        assert_eq!(parse_time(b"19700101000000"), Some(0));
        assert_eq!(parse_time(b"19700101000001.123"), Some(1));
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
    fn pass_keeps_spaces_and_may_be_empty() {
        assert_eq!(p(b"PASS"), Ok(Command::Pass(Password(Vec::new()))));
        assert_eq!(
            p(b"PASS a b "),
            Ok(Command::Pass(Password(b"a b ".to_vec())))
        );
    }
}
