//! Command-line flags and start-up errors: every bad configuration is one line on stderr
//! and exit status 2, before anything listens; --help and --version.

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs the binary with `args` (nothing added), waiting at most [`WAIT`]; kills it then.
fn run(args: &[&str]) -> Output {
    let mut cmd = server_command();
    cmd.args(args)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start edgeftpd");
    let end = Instant::now() + WAIT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "edgeftpd {args:?} did not exit; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs with `args` plus a `--listen` on a port held by this test; asserts exit status 2,
/// nothing on stdout, and exactly one stderr line, which is returned (without the newline).
fn config_error(args: &[&str]) -> String {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = held.local_addr().unwrap().to_string();
    let mut all = vec!["--listen", &listen];
    all.extend_from_slice(args);
    let out = run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr:?}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    assert_eq!(
        stderr.matches('\n').count(),
        1,
        "{args:?}: not one line: {stderr:?}"
    );
    assert!(stderr.ends_with('\n'));
    assert!(!stderr.contains("listening"), "{stderr}");
    stderr.trim_end().to_string()
}

/// Writes `body` to the config file `conf`: the server exits 2 with the one line `want`.
fn assert_config_file_error(conf: &std::path::Path, body: &str, want: &str) {
    std::fs::write(conf, body).unwrap();
    let out = run(&["--config", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{body}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("edgeftpd: {want}\n"),
        "{body}"
    );
}

fn dir() -> TempDir {
    TempDir::new("cli")
}

#[test]
fn bad_flag_is_one_line_and_status_2() {
    let d = dir();
    let root = d.path().to_str().unwrap();
    let e = config_error(&["--anonymous", "--root", root, "--bogus"]);
    assert!(e.starts_with("edgeftpd: ") && e.contains("bogus"), "{e}");
    let e = config_error(&["--anonymous", "--root", root, "stray"]);
    assert_eq!(e, "edgeftpd: unexpected argument: stray");
    let e = config_error(&["--anonymous", "--root"]);
    assert!(e.starts_with("edgeftpd: ") && e.contains("root"), "{e}");
}

#[test]
fn missing_or_non_directory_root_is_refused() {
    let d = dir();
    let missing = d.join("no-such-dir");
    let e = config_error(&["--anonymous", "--root", missing.to_str().unwrap()]);
    assert_eq!(
        e,
        format!("edgeftpd: --root {}: not a directory", missing.display())
    );
    let file = d.write("plain-file", b"x");
    let e = config_error(&["--anonymous", "--root", file.to_str().unwrap()]);
    assert_eq!(
        e,
        format!("edgeftpd: --root {}: not a directory", file.display())
    );
}

#[test]
fn unreadable_users_file_is_refused() {
    let d = dir();
    let missing = d.join("no-users");
    let e = config_error(&["--users", missing.to_str().unwrap()]);
    assert!(
        e.starts_with(&format!("edgeftpd: --users {}: ", missing.display())),
        "{e}"
    );
    assert!(e.contains("No such file"), "{e}");
    // A directory can't be read as a file, even by root.
    let e = config_error(&["--users", d.path().to_str().unwrap()]);
    assert!(
        e.starts_with(&format!("edgeftpd: --users {}: ", d.path().display())),
        "{e}"
    );
    // Without read permission (only meaningful when not root: root reads anything).
    if !rustix::process::getuid().is_root() {
        let f = d.write("locked-users", b"");
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
        let e = config_error(&["--users", f.to_str().unwrap()]);
        assert!(e.contains("Permission denied"), "{e}");
    }
}

#[test]
fn malformed_users_file_names_the_line() {
    let d = dir();
    let home = d.path().to_str().unwrap();
    let good = user_line("alice", "pw", d.path(), "rw");
    let hash = good.split(':').nth(1).unwrap().to_string();
    let cases: Vec<(String, usize, String)> = vec![
        (
            format!("# comment\n\n{good}bob:{hash}:{home}\n"),
            4,
            "expected name:hash:home:perm (4 fields)".into(),
        ),
        (
            format!("{good}bob:{hash}:{home}:rx\n"),
            2,
            "perm \"rx\": expected ro, rw, upload or none first".into(),
        ),
        (
            format!("bob:{hash}:relative/home:ro\n"),
            1,
            "home relative/home must be an absolute path".into(),
        ),
        (
            format!("bob:{hash}:{home}/missing:ro\n"),
            1,
            format!("home {home}/missing is not a directory"),
        ),
        (
            format!("\n\nbob:plaintext:{home}:ro\n"),
            3,
            "hash must be a $1$, $5$ or $6$ crypt string (openssl passwd -6)".into(),
        ),
        (
            format!("{good}alice:{hash}:{home}:ro\n"),
            2,
            "user alice appears twice".into(),
        ),
    ];
    for (i, (text, line, msg)) in cases.iter().enumerate() {
        let f = d.write(&format!("users-{i}"), text.as_bytes());
        let e = config_error(&["--users", f.to_str().unwrap()]);
        assert_eq!(e, format!("edgeftpd: {}:{line}: {msg}", f.display()));
    }
}

#[test]
fn empty_reversed_or_privileged_port_ranges_are_refused() {
    let d = dir();
    let root = d.path().to_str().unwrap();
    for r in [
        "50099-50000",
        "",
        "-",
        "50000-",
        "5000",
        "100-200",
        "0-0",
        "a-b",
    ] {
        let e = config_error(&["--anonymous", "--root", root, "--pasv-ports", r]);
        assert_eq!(
            e,
            format!(
                "edgeftpd: --pasv-ports {r}: expected MIN-MAX with 1024 <= MIN <= MAX <= 65535"
            )
        );
    }
}

#[test]
fn bad_numbers_and_addresses_are_refused() {
    let d = dir();
    let root = d.path().to_str().unwrap();
    let base = ["--anonymous", "--root", root];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        config_error(&a)
    };
    for flag in [
        "--max-clients",
        "--max-per-ip",
        "--idle-timeout",
        "--data-timeout",
    ] {
        for v in ["0", "x", "-1"] {
            assert_eq!(
                with(&[flag, v]),
                format!("edgeftpd: {flag} {v}: expected a whole number from 1 to 1000000")
            );
        }
    }
    assert_eq!(
        with(&["--listen", "nowhere"]),
        "edgeftpd: --listen nowhere: expected ADDR:PORT, such as 0.0.0.0:21 or [::]:21"
    );
    assert_eq!(
        config_error(&["--listen", "localhost:21", "--anonymous", "--root", "/"]),
        "edgeftpd: --listen localhost:21: an IP address is needed, not a host name (such as \
         0.0.0.0:21, 127.0.0.1:21 or [::]:21)"
    );
    for bad in ["not an ip", "::1", "1.2.3"] {
        assert_eq!(
            with(&["--pasv-address", bad]),
            format!("edgeftpd: --pasv-address {bad}: not an IPv4 address or a host name")
        );
    }
    assert_eq!(
        with(&["--pasv-local-nets", "10.0.0.0/40"]),
        "edgeftpd: --pasv-local-nets 10.0.0.0/40: expected networks such as \
         192.168.0.0/16,fd00::/8, or none"
    );
    assert_eq!(
        with(&["--ban-exempt", "x"]),
        "edgeftpd: --ban-exempt x: expected networks such as 192.168.0.0/16,fd00::/8, or none"
    );
    assert_eq!(
        with(&["--ban-after", "-1"]),
        "edgeftpd: --ban-after -1: expected a whole number from 0 to 1000000"
    );
    for flag in ["--anon-max-rate", "--max-rate", "--total-max-rate"] {
        assert_eq!(
            with(&[flag, "fast"]),
            format!("edgeftpd: {flag} fast: expected bytes per second, such as 500K or 2M")
        );
    }
}

#[test]
fn nobody_able_to_log_in_is_refused() {
    let e = config_error(&[]);
    assert_eq!(
        e,
        "edgeftpd: nobody can log in: give --anonymous, --users FILE, or both"
    );
    let d = dir();
    let e = config_error(&["--write", "--root", d.path().to_str().unwrap()]);
    assert_eq!(
        e,
        "edgeftpd: --anon-write needs --anonymous (it applies to anonymous users)"
    );
}

#[test]
fn help_lists_every_flag_and_exits_0() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--root",
        "--anonymous",
        "--anon-write",
        "--users",
        "--pasv-ports",
        "--pasv-address",
        "--max-clients",
        "--max-per-ip",
        "--idle-timeout",
        "--data-timeout",
        "--login-timeout",
        "--pasv-local-nets",
        "--ban-after",
        "--ban-window",
        "--ban-time",
        "--ban-exempt",
        "--anon-max-rate",
        "--max-rate",
        "--total-max-rate",
        "--hash-password",
        "--add-user",
        "--del-user",
        "--passwd",
        "--log-level",
        "--daemon",
        "--pidfile",
        "--check",
        "--config",
        "--allow",
        "--deny",
        "--max-upload",
        "--inetd",
        "--help",
        "--version",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}

#[test]
fn version_prints_name_and_version() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    // The flavour and the target, so an admin can tell the binaries of dist/ apart (the
    // tests run the flavour they were built for; the target may be another, under qemu).
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let flavour = if cfg!(feature = "tls") {
        "with FTPS"
    } else {
        "plain, no FTPS"
    };
    let head = format!("edgeftpd {} ({flavour}; ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&head), "{text}");
    assert!(
        text.ends_with("-linux-musl, little-endian)\n")
            || text.ends_with("-linux-musl, big-endian)\n")
            || text.ends_with("-linux-gnu, little-endian)\n"),
        "{text}"
    );
}

/// The plain flavour's --help lists no FTPS flag it would refuse.
#[cfg(not(feature = "tls"))]
#[test]
fn help_of_the_plain_flavour_lists_no_tls_flags() {
    let text = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    assert!(text.contains("FTPS:\n  not in this build"), "{text}");
    for flag in [
        "--tls-cert",
        "--tls-key",
        "--tls ",
        "--tls-reuse",
        "--listen-tls",
    ] {
        assert!(!text.contains(flag), "{flag}: {text}");
    }
}

#[test]
fn inetd_without_a_socket_exits_2() {
    let d = dir();
    let out = run(&[
        "--inetd",
        "--anonymous",
        "--root",
        d.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--inetd"), "{stderr}");
}

/// The plain flavour (built without the `tls` feature, as the router binaries are) refuses
/// every FTPS flag with one line, before anything listens.
#[cfg(not(feature = "tls"))]
#[test]
fn tls_flags_are_refused_by_a_build_without_tls() {
    for args in [
        &["--tls-cert", "c.pem", "--tls-key", "k.pem"][..],
        &["--tls", "required"][..],
        &["--listen-tls", "127.0.0.1:990"][..],
        &["--tls-reuse", "optional"][..],
    ] {
        let mut all = vec!["--anonymous", "--root", "/"];
        all.extend_from_slice(args);
        let e = config_error(&all);
        assert!(
            e.starts_with("edgeftpd: built without TLS support"),
            "{args:?}: {e}"
        );
    }
}

/// Regression (the admin's day, defect 7): with a second `--listen` in use, the server
/// logged "listening on" for the first and then two error lines. Every address is bound
/// before any is announced: one line, exit 2.
#[test]
fn a_second_listen_in_use_is_one_line_and_nothing_listens() {
    let d = dir();
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    // The busy address alone, then after a free one.
    for listens in [&[busy.as_str()][..], &["127.0.0.1:0", &busy]] {
        let mut args = Vec::new();
        for l in listens {
            args.extend(["--listen", l]);
        }
        args.extend(["--anonymous", "--root", d.path().to_str().unwrap()]);
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        // (musl words it "Address in use", and MIPS numbers it 125.)
        assert!(
            stderr.starts_with(&format!("edgeftpd: --listen {busy}: Address "))
                && stderr.contains("in use (os error ")
                && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
}

/// Regression (defect 7): `--run-as` with an unknown user was found only after binding;
/// it is found first, so the error is about the user even when the port is taken too.
#[test]
fn run_as_an_unknown_user_is_found_before_binding() {
    let d = dir();
    let line = config_error(&[
        "--anonymous",
        "--root",
        d.path().to_str().unwrap(),
        "--run-as",
        "no-such-user-edgeftpd",
    ]);
    assert_eq!(
        line,
        "edgeftpd: --run-as no-such-user-edgeftpd: no such user in /etc/passwd"
    );
}

/// Regression (defect 5): an account named `ftp` or `anonymous` (any case) could never log
/// in with --anonymous on (the name is the anonymous login), and nothing said so.
#[test]
fn an_account_named_like_the_anonymous_login_is_refused_with_anonymous() {
    let d = dir();
    let hash = hash("openssl passwd -6 -salt abcdefgh pw");
    for name in ["ftp", "Anonymous"] {
        let users = d.write(
            "users.txt",
            format!("{name}:{hash}:{}:ro\n", d.path().display()).as_bytes(),
        );
        let line = config_error(&[
            "--anonymous",
            "--root",
            d.path().to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
        ]);
        assert_eq!(
            line,
            format!(
                "edgeftpd: --users {}: account {name}: with --anonymous that name is the \
                 anonymous login; rename the account",
                users.display()
            )
        );
    }
}

/// Start-up says how many accounts the users file has, and warns when nobody can log in.
#[test]
fn start_up_counts_the_accounts_and_warns_when_nobody_can_log_in() {
    let d = dir();
    let empty = d.write("empty-users.txt", b"# nobody yet\n");
    let srv = Server::start(&["--users", empty.to_str().unwrap()]);
    assert!(srv.wait_log(&format!(
        "WARN  {}: no accounts, and no --anonymous: nobody can log in",
        empty.display()
    )));
    let one = d.write(
        "users.txt",
        user_line("alice", "pw", d.path(), "ro").as_bytes(),
    );
    let srv = Server::start(&["--users", one.to_str().unwrap()]);
    assert!(srv.wait_log(&format!("INFO  {}: 1 accounts", one.display())));
    assert!(!srv.log().contains("nobody can log in"));
}

/// `--config FILE`: `name = value` lines named as the long flags, comments, flags without
/// a value as `name` or `name = yes|no`; the command line wins (for listen, all of the
/// file's listens give way); every error in the file names its line.
#[test]
fn config_file_settings_with_line_numbers_and_the_command_line_winning() {
    let d = dir();
    d.write("f.txt", b"x");
    let root = d.path().to_str().unwrap();
    let conf = d.write(
        "edgeftpd.conf",
        format!(
            "# the family NAS\n\nlisten = 127.0.0.1:1\nanonymous\nanon-write = no\n\
             root = \"{root}\"\nmax-clients = 7\n"
        )
        .as_bytes(),
    );
    let c = conf.to_str().unwrap();
    // The command line's listen replaces the file's (port 1 could not be bound).
    let srv = Server::start(&["--config", c]);
    let mut cl = srv.anon_client();
    assert_eq!(cl.retr("f.txt"), b"x");
    assert!(cl.cmd("MKD d").starts_with("550 "), "anon-write = no");
    let out = run(&["--config", c, "--check", "--listen", "127.0.0.1:2"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("listen 127.0.0.1:2\n")
            && text.contains(&format!("anonymous: {root} (read-only)")),
        "{text}"
    );
    for (body, want) in [
        (
            "anonymous\nbogus = 1\n",
            format!("{c}:2: unknown setting bogus (edgeftpd --help lists them)"),
        ),
        (
            "anonymous\nroot = /\n\nmax-clients = 0\n",
            format!("{c}:4: --max-clients 0: expected a whole number from 1 to 1000000"),
        ),
        (
            "anonymous = maybe\n",
            format!("{c}:1: anonymous = maybe: expected yes or no"),
        ),
        ("root\n", format!("{c}:1: root needs a value (root = ...)")),
        (
            "anonymous\nroot = /\nlisten = 127.0.0.1:21\nlisten = nowhere\n",
            format!("{c}:4: --listen nowhere: expected ADDR:PORT, such as 0.0.0.0:21 or [::]:21"),
        ),
    ] {
        assert_config_file_error(&conf, body, &want);
    }
}

/// What UCI writes, as the OpenWrt init script hands it on: `1`/`0` for yes and no, and a
/// `list` as the same setting on several lines, which add up for a setting that takes a
/// comma-separated list. Any other setting given twice is an error naming both lines.
#[test]
fn config_file_takes_uci_booleans_and_lists_on_several_lines() {
    let d = dir();
    d.write("f.txt", b"x");
    let root = d.path().to_str().unwrap();
    let conf = d.path().join("edgeftpd.conf");
    let c = conf.to_str().unwrap();
    // Only the second line of the list lets this client in: it adds up.
    std::fs::write(
        &conf,
        format!(
            "anonymous = 1\nanon-write = 0\nroot = {root}\nallow = 10.0.0.0/8\n\
             allow = 127.0.0.0/8\n"
        ),
    )
    .unwrap();
    let srv = Server::start(&["--config", c]);
    let mut cl = srv.anon_client();
    assert_eq!(cl.retr("f.txt"), b"x");
    assert!(cl.cmd("MKD d").starts_with("550 "), "anon-write = 0");
    drop(cl);
    drop(srv);
    for (body, want) in [
        (
            format!("root = {root}\nanonymous\nroot = /tmp\n"),
            format!("{c}:3: root is given again (first at line 1); it takes one value"),
        ),
        (
            // Its own root: without one the default (/srv/ftp) is checked first, and the
            // test passed only where an earlier package install had left /srv/ftp.
            format!("anonymous\nroot = {root}\nallow = 10.0.0.0/8\n# a comment\nallow = bogus\n"),
            format!(
                "{c}:3: --allow 10.0.0.0/8,bogus: expected networks such as \
                 192.168.0.0/16,fd00::/8, or none"
            ),
        ),
    ] {
        assert_config_file_error(&conf, &body, &want);
    }
}
