//! The command-line flags: one table (name, value, help) that the command line is read by
//! ([`parse`], getopts' rules) and that `--help` prints. Parsing the values is the parent
//! module's work.

/// How a flag takes its value.
#[derive(Clone, Copy)]
enum Takes {
    /// No value.
    Flag,
    /// One value.
    Opt,
    /// A value, repeatable.
    Multi,
    /// Not a flag: the heading of the flags that follow, in `--help`.
    Heading,
}

/// Every flag under its heading: how it takes its value, short and long names, help text,
/// value hint. (One table and a loop: forty calls written out cost several KiB of code.)
const FLAGS: &[(Takes, &str, &str, &str, &str)] = &[
    (Takes::Heading, "", "", "Listening and the process", ""),
    (
        Takes::Multi,
        "l",
        "listen",
        "address to listen on; repeatable; IPv6 as [::1]:2121 (default [::]:21)",
        "ADDR:PORT",
    ),
    (
        Takes::Flag,
        "",
        "inetd",
        "serve one session on stdin/stdout (inetd, tcpsvd), then exit",
        "",
    ),
    (
        Takes::Flag,
        "",
        "daemon",
        "go to the background once listening (logs then go to syslog); for init scripts",
        "",
    ),
    (
        Takes::Opt,
        "",
        "pidfile",
        "write the server's process id to FILE (removed at exit)",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "run-as",
        "serve as this user; a small process stays root only to reread the configuration and the TLS key on SIGHUP",
        "USER",
    ),
    (
        Takes::Flag,
        "",
        "no-syscall-filter",
        "serve without the system call filter (seccomp) that keeps sessions from exec, ptrace, mount and the rest",
        "",
    ),
    (Takes::Heading, "", "", "Accounts", ""),
    (
        Takes::Flag,
        "a",
        "anonymous",
        "allow USER anonymous/ftp, read-only, jailed in --root",
        "",
    ),
    (
        Takes::Flag,
        "w",
        "anon-write",
        "let anonymous users upload, mkdir, rename and delete too (old name: --write)",
        "",
    ),
    (
        Takes::Opt,
        "",
        "anon-perm",
        "anonymous rights per folder, as a users-file perm: ro,/incoming=upload (a drop box)",
        "RIGHTS",
    ),
    (
        Takes::Opt,
        "r",
        "root",
        "directory served to anonymous users (default /srv/ftp)",
        "DIR",
    ),
    (
        Takes::Opt,
        "u",
        "users",
        "users file: name:crypt-hash:home:perm per line (perm: ro|rw|upload|none, then /FOLDER=RIGHT, umask=OOO, quota=SIZE, files=N, sessions=N, up=RATE, down=RATE, comma-separated)",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "umask",
        "umask of uploaded files and made directories (default 022; 002 shares them with a group)",
        "OOO",
    ),
    (
        Takes::Opt,
        "",
        "add-user",
        "add an account to the --users file (asks for its password twice)",
        "NAME:HOME:PERM",
    ),
    (
        Takes::Opt,
        "",
        "del-user",
        "delete an account from the --users file",
        "NAME",
    ),
    (
        Takes::Opt,
        "",
        "passwd",
        "change an account's password in the --users file",
        "NAME",
    ),
    (
        Takes::Flag,
        "",
        "hash-password",
        "read a password on stdin, print its $6$ hash for the users file",
        "",
    ),
    (
        Takes::Opt,
        "",
        "banner",
        "show the lines of FILE before the 220 greeting (20 lines, 2 KiB at most)",
        "FILE",
    ),
    (Takes::Heading, "", "", "Passive mode and NAT", ""),
    (
        Takes::Opt,
        "",
        "pasv-ports",
        "passive data ports (default 50000-50099)",
        "MIN-MAX",
    ),
    (
        Takes::Opt,
        "",
        "pasv-address",
        "address or host name (DDNS) to advertise in PASV replies, behind NAT",
        "HOST",
    ),
    (
        Takes::Opt,
        "",
        "pasv-local-nets",
        "clients in these networks get the address they reached (default: loopback and private)",
        "CIDR,...",
    ),
    (
        Takes::Flag,
        "",
        "no-active",
        "refuse active mode (PORT, EPRT): data connections are passive only",
        "",
    ),
    (Takes::Heading, "", "", "FTPS", ""),
    (
        Takes::Opt,
        "",
        "tls-cert",
        "PEM certificate chain for FTPS",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "tls-key",
        "PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
        "FILE",
    ),
    (
        Takes::Opt,
        "",
        "tls",
        "off | optional | required (default: optional with --tls-cert, else off)",
        "MODE",
    ),
    (
        Takes::Opt,
        "",
        "tls-reuse",
        "data connections must resume a TLS session of the same user and address: required (default) | optional",
        "MODE",
    ),
    (
        Takes::Multi,
        "",
        "listen-tls",
        "implicit FTPS listener (TLS from the first byte, port 990); repeatable",
        "ADDR:PORT",
    ),
    (Takes::Heading, "", "", "Limits and bans", ""),
    (
        Takes::Opt,
        "",
        "max-clients",
        "most sessions at once (default: a quarter of the memory at 64 KiB a session, 16 to 1000)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "max-per-ip",
        "most sessions from one address (default 8)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "idle-timeout",
        "close an idle session after SECS (default 300)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "login-timeout",
        "close a session not logged in after SECS, whatever it sends (default 60)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "data-timeout",
        "wait for a data connection or a stalled transfer (default 60)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "ban-after",
        "ban an address after N failed logins (default 10; 0: no bans)",
        "N",
    ),
    (
        Takes::Opt,
        "",
        "ban-window",
        "count failed logins over SECS (default 600)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "ban-time",
        "ban for SECS (default 900)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "ban-exempt",
        "never ban these networks (default none)",
        "CIDR,...",
    ),
    (
        Takes::Opt,
        "",
        "allow",
        "serve only clients in these networks (default: all); others get 421",
        "CIDR,...",
    ),
    (
        Takes::Opt,
        "",
        "deny",
        "never serve clients in these networks (default none)",
        "CIDR,...",
    ),
    (
        Takes::Opt,
        "",
        "max-upload",
        "largest file an upload may make; K, M or G suffix (default: no limit); past it: 552",
        "SIZE",
    ),
    (
        Takes::Opt,
        "",
        "min-free",
        "free space uploads must leave on the disk, as a size (500M) or a share (5%); below it: 452",
        "SIZE|PCT",
    ),
    (
        Takes::Opt,
        "",
        "on-upload",
        "run PROGRAM FILE after each completed upload (no shell; EDGEFTPD_USER, _CLIENT, _PATH, _SIZE set)",
        "PROGRAM",
    ),
    (
        Takes::Opt,
        "",
        "on-upload-timeout",
        "seconds an --on-upload run may take before it is killed (default 60)",
        "SECS",
    ),
    (
        Takes::Opt,
        "",
        "anon-max-rate",
        "bytes/s per anonymous session, K or M suffix (default unlimited)",
        "RATE",
    ),
    (
        Takes::Opt,
        "",
        "max-rate",
        "bytes/s per users-file session (default unlimited)",
        "RATE",
    ),
    (
        Takes::Opt,
        "",
        "total-max-rate",
        "bytes/s for all sessions together (default unlimited)",
        "RATE",
    ),
    (Takes::Heading, "", "", "Logging", ""),
    (
        Takes::Flag,
        "",
        "syslog",
        "log to syslog (/dev/log, facility daemon) instead of stderr",
        "",
    ),
    (
        Takes::Opt,
        "",
        "log-level",
        "error | warn | info (default) | debug | off; overrides RUST_LOG",
        "LEVEL",
    ),
    (
        Takes::Opt,
        "",
        "xferlog",
        "log each transfer to FILE in the xferlog format of vsftpd and log analysers; reopened on SIGHUP",
        "FILE",
    ),
    (Takes::Heading, "", "", "Other", ""),
    (
        Takes::Opt,
        "",
        "config",
        "read settings from FILE: one `name = value` per line, named as these flags; flags given here win",
        "FILE",
    ),
    (
        Takes::Flag,
        "",
        "check",
        "check the flags, users file, certificate and homes (as the --run-as user), print what would be served, exit 0 or 2",
        "",
    ),
    (Takes::Flag, "h", "help", "print this help", ""),
    (Takes::Flag, "V", "version", "print the version", ""),
];

/// How a config file's setting takes its value (see `read_config`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Setting {
    /// A flag without a value: yes or no.
    Flag,
    /// One value; the setting may appear once.
    Once,
    /// A comma-separated list (its hint ends in `,...`): each line adds to it, as a UCI
    /// `list` does.
    List,
    /// Repeatable: each line is one more flag (`listen`).
    Repeat,
}

/// How the flag `long` takes its value; `None` for no such flag (or a heading).
pub(super) fn setting(long: &str) -> Option<Setting> {
    FLAGS
        .iter()
        .find_map(|&(takes, _, l, _, hint)| match takes {
            _ if l != long => None,
            Takes::Flag => Some(Setting::Flag),
            Takes::Opt if hint.ends_with(",...") => Some(Setting::List),
            Takes::Opt => Some(Setting::Once),
            Takes::Multi => Some(Setting::Repeat),
            Takes::Heading => None,
        })
}

/// The heading of the flags that only a build with FTPS has.
const TLS_HEADING: &str = "FTPS";

/// The old name of --anon-write, still taken (not in `--help`).
const OLD_WRITE: &str = "write";

/// The flags a command line gave, and its other arguments.
pub(super) struct Matches {
    /// Each flag given, as its place in [`FLAGS`] ([`FLAGS`]`.len()`: [`OLD_WRITE`]), with
    /// its value, in the order given.
    given: Vec<(usize, Option<String>)>,
    /// The arguments that are not flags (all of them after `--`).
    pub free: Vec<String>,
}

impl Matches {
    fn values(&self, long: &str) -> impl Iterator<Item = &Option<String>> {
        let named = |i: usize| FLAGS.get(i).map_or(OLD_WRITE, |f| f.2);
        self.given
            .iter()
            .filter(move |(i, _)| named(*i) == long)
            .map(|(_, v)| v)
    }

    pub fn opt_present(&self, long: &str) -> bool {
        self.values(long).next().is_some()
    }

    pub fn opt_count(&self, long: &str) -> usize {
        self.values(long).count()
    }

    /// The value of a flag given once.
    pub fn opt_str(&self, long: &str) -> Option<String> {
        self.values(long).next().cloned().flatten()
    }

    /// The values of a repeatable flag, in order.
    pub fn opt_strs(&self, long: &str) -> Vec<String> {
        self.values(long).flatten().cloned().collect()
    }
}

/// Reads a command line (without the program's name) as getopts does, and with its error
/// messages: `--name value`, `--name=value`, `-x value`, `-xvalue`, flags without a value
/// grouped (`-hV`), `--` before arguments that are not flags; each flag that is not
/// repeatable at most once. (Its own code: getopts cost 7 KiB on mipsel for the same.)
pub(super) fn parse(args: &[String]) -> Result<Matches, String> {
    let mut m = Matches {
        given: Vec::new(),
        free: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            m.free.extend(args.cloned());
            break;
        }
        let (mut rest, long) = match (arg.strip_prefix("--"), arg.strip_prefix('-')) {
            (Some(r), _) => (r, true),
            (None, Some(r)) if !r.is_empty() => (r, false),
            _ => {
                m.free.push(arg.clone());
                continue;
            }
        };
        loop {
            let (name, mut inline) = match (long, rest.split_once('=')) {
                (true, Some((n, v))) => (n, Some(v)),
                (true, None) => (rest, None),
                (false, _) => {
                    let n = rest.chars().next().map_or(0, char::len_utf8);
                    (&rest[..n], Some(&rest[n..]).filter(|v| !v.is_empty()))
                }
            };
            let i = FLAGS
                .iter()
                .position(|f| {
                    !matches!(f.0, Takes::Heading) && if long { f.2 == name } else { f.1 == name }
                })
                .or((long && name == OLD_WRITE).then_some(FLAGS.len()))
                .ok_or_else(|| format!("Unrecognized option: '{name}'"))?;
            let (takes, long_name) = FLAGS
                .get(i)
                .map_or((Takes::Flag, OLD_WRITE), |f| (f.0, f.2));
            if !matches!(takes, Takes::Multi) && m.given.iter().any(|g| g.0 == i) {
                return Err(format!("Option '{long_name}' given more than once"));
            }
            if let Takes::Flag = takes {
                m.given.push((i, None));
                match inline.take() {
                    Some(_) if long => {
                        return Err(format!("Option '{name}' does not take an argument"));
                    }
                    // More flags in one: -hV.
                    Some(more) => rest = more,
                    None => break,
                }
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| format!("Argument to option '{name}' missing"))?,
            };
            m.given.push((i, Some(value.to_string())));
            break;
        }
    }
    Ok(m)
}

/// `--help`: the flags under their headings, each help text after its flag or, when the
/// flag is long, on the next line. A build without FTPS says so instead of listing flags
/// it would refuse.
pub(super) fn usage() -> String {
    const COLUMN: usize = 30;
    const WIDTH: usize = 96;
    let mut out =
        String::from("Usage: edgeftpd [options]\nA small FTP server for embedded Linux.\n");
    let mut skipping = false;
    for &(takes, short, long, help, hint) in FLAGS {
        if let Takes::Heading = takes {
            skipping = help == TLS_HEADING && cfg!(not(feature = "tls"));
            out.push_str(&format!("\n{help}:\n"));
            if skipping {
                out.push_str("  not in this build (the -tls binary has FTPS)\n");
            }
            continue;
        }
        if skipping {
            continue;
        }
        let mut head = if short.is_empty() {
            format!("      --{long}")
        } else {
            format!("  -{short}, --{long}")
        };
        if !hint.is_empty() {
            head.push(' ');
            head.push_str(hint);
        }
        if head.len() + 2 > COLUMN {
            out.push_str(&head);
            out.push('\n');
            head.clear();
        }
        // Words wrapped to WIDTH columns, the text indented to COLUMN.
        let mut line = format!("{head:COLUMN$}");
        for word in help.split(' ') {
            if line.len() > COLUMN && line.len() + 1 + word.len() > WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = format!("{:COLUMN$}", "");
            }
            if line.len() > COLUMN {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Result<Matches, String> {
        parse(&line.split(' ').map(String::from).collect::<Vec<_>>())
    }

    /// Each form getopts took is taken the same way; its error messages stay.
    #[test]
    fn the_command_line_reads_as_getopts_read_it() {
        let m = read("-l 127.0.0.1:21 --listen=[::1]:21 -l[::]:2121 --root /srv -aw").unwrap();
        assert_eq!(
            m.opt_strs("listen"),
            ["127.0.0.1:21", "[::1]:21", "[::]:2121"]
        );
        assert_eq!(m.opt_count("listen"), 3);
        assert_eq!(m.opt_str("root").as_deref(), Some("/srv"));
        assert!(m.opt_present("anonymous") && m.opt_present("anon-write"));
        assert!(!m.opt_present("inetd") && m.opt_str("users").is_none());
        // A value may begin with a dash; "-" alone and what follows "--" are no flags.
        let m = read("--banner -x - --write -- --inetd").unwrap();
        assert_eq!(m.opt_str("banner").as_deref(), Some("-x"));
        assert!(m.opt_present("write") && !m.opt_present("inetd"));
        assert_eq!(m.free, ["-", "--inetd"]);
        for (line, error) in [
            ("--bogus", "Unrecognized option: 'bogus'"),
            ("-Z", "Unrecognized option: 'Z'"),
            ("--root", "Argument to option 'root' missing"),
            ("--root /a -r /b", "Option 'root' given more than once"),
            ("-a --anonymous", "Option 'anonymous' given more than once"),
            ("--inetd=yes", "Option 'inetd' does not take an argument"),
        ] {
            assert_eq!(read(line).err().as_deref(), Some(error), "{line}");
        }
    }
}
