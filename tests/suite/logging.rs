//! What reaches the log: one line per transfer, never a password, the default level, and
//! syslog (RFC 3164 datagrams to /dev/log).

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Reads datagrams until one contains `needle` (or the wait runs out); returns all so far.
fn read_until(sock: &UnixDatagram, seen: &mut Vec<String>, needle: &str) -> bool {
    let end = Instant::now() + WAIT;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if seen.iter().any(|m| m.contains(needle)) {
            return true;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    false
}

#[test]
fn syslog_gets_rfc3164_datagrams_and_stderr_stays_quiet() {
    let dev = TempDir::new("syslog-dev");
    let root = TempDir::new("syslog-root");
    root.write("f.txt", b"syslog\n");
    let sock = UnixDatagram::bind(dev.join("log")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut cmd = wrapped_command(&in_mount_namespace(&format!(
        "mount --bind '{}' /dev",
        dev.path().display()
    )));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--pasv-ports",
        "40000-44999",
        "--syslog",
    ])
    .args(["--anonymous", "--root", root.path().to_str().unwrap()])
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("start edgeftpd under unshare (needs root)");

    let mut seen = Vec::new();
    assert!(read_until(&sock, &mut seen, "listening on "), "{seen:?}");
    let line = seen
        .iter()
        .find(|m| m.contains("listening on "))
        .unwrap()
        .clone();
    let addr: std::net::SocketAddr = line[line.find("listening on ").unwrap() + 13..]
        .trim()
        .parse()
        .unwrap();

    let mut c = Client::connect(addr);
    c.login("anonymous", "x@example.com");
    assert_eq!(c.retr("f.txt"), b"syslog\n");
    c.expect("QUIT", 221);
    assert!(
        read_until(&sock, &mut seen, "RETR /f.txt 7 bytes"),
        "{seen:?}"
    );

    // <PRI>Mmm dd hh:mm:ss edgeftpd[pid]: message ; daemon.info = 3*8+6 = 30.
    let pid = child.id();
    for m in &seen {
        assert!(m.starts_with('<') && !m.ends_with('\n'), "{m:?}");
        let rest = &m[m.find('>').unwrap() + 1..];
        assert_eq!(&rest[3..4], " ", "{m:?}");
        assert_eq!(&rest[6..7], " ", "{m:?}");
        assert_eq!(&rest[9..10], ":", "{m:?}");
        assert!(
            rest[16..].starts_with(&format!("edgeftpd[{pid}]: ")),
            "{m:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|m| m.starts_with("<30>") && m.contains("login anonymous"))
    );
    // Warnings carry severity 4: root without --run-as warns.
    assert!(
        seen.iter()
            .any(|m| m.starts_with("<28>") && m.contains("running as root"))
    );

    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        !stderr.contains("listening on"),
        "log lines leaked to stderr: {stderr}"
    );
}

#[test]
fn one_log_line_per_transfer() {
    let u = users();
    let srv = users_server(&u, &[]);
    let mut c = srv.client();
    c.login("alice", "alice-pw");
    c.expect("TYPE I", 200);
    assert_eq!(c.retr("whoami.txt"), b"alice");
    c.put("STOR up.bin", &pattern(12345, 1));
    c.put("APPE up.bin", b"more");
    let (_, first, _) = c.get("RETR missing.txt");
    assert!(first.starts_with("550"));
    // A transfer cut by the client.
    let d = c.epsv();
    c.expect("STOR cut.bin", 150);
    reset(d);
    c.reply();
    assert!(srv.wait_log("alice: STOR /cut.bin "));
    let log = srv.log();
    let peer = "127.0.0.1 alice:";
    assert!(log.contains(&format!("{peer} RETR /whoami.txt ")));
    let (bytes, secs, result) = transfer_line(&log, "alice: RETR /whoami.txt");
    assert_eq!((bytes, result.as_str()), (5, "ok"));
    assert!((0.0..60.0).contains(&secs));
    let (bytes, _, result) = transfer_line(&log, "alice: STOR /up.bin");
    assert_eq!((bytes, result.as_str()), (12345, "ok"));
    let (bytes, _, result) = transfer_line(&log, "alice: APPE /up.bin");
    assert_eq!((bytes, result.as_str()), (4, "ok"));
    let (_, _, result) = transfer_line(&log, "alice: STOR /cut.bin");
    assert_eq!(result, "data connection failed");
    assert_eq!(log.matches("alice: RETR /whoami.txt ").count(), 1);
    assert!(!log.contains("RETR /missing.txt 0 bytes"));
    // Connections and logins.
    assert!(log.contains("127.0.0.1: login alice (rw)"));
    assert!(log.contains(": connected"));
}

#[test]
fn passwords_never_reach_the_log() {
    let u = users();
    let anon_root = TempDir::new("pwlog");
    let srv = users_server(
        &u,
        &["--anonymous", "--root", anon_root.path().to_str().unwrap()],
    );
    // Logins that succeed, fail, come before USER, in lower case, after login, split up.
    let mut c = srv.client();
    c.login("anonymous", "anon-SECRET-1@example.com");
    c.expect("PASS again-SECRET-2", 230);
    let mut c = srv.client();
    c.expect("PASS early-SECRET-3", 503);
    c.expect("USER alice", 331);
    c.expect("pass wrong-SECRET-4", 530);
    c.expect("USER alice", 331);
    c.send_raw(b"Pa\xff\xf1ss alice-");
    std::thread::sleep(Duration::from_millis(30));
    c.send_raw(b"pw\r\n");
    assert_eq!(c.reply(), "230 Login successful.\r\n");
    c.expect("NOOP", 200);
    // The debug log shows other commands (and this is the last line to wait for).
    assert!(srv.wait_log("> NOOP"));
    let log = srv.log();
    assert!(log.contains("> PASS <hidden>"), "{log}");
    assert!(!log.contains("SECRET"), "a password was logged:\n{log}");
    assert!(!log.contains("alice-pw"), "a password was logged:\n{log}");
}

#[test]
fn default_log_level_is_info() {
    let root = TempDir::new("loglevel");
    root.write("f.txt", b"x");
    let mut cmd = server_command();
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--pasv-ports",
        "40000-44999",
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
    ])
    .env_remove("RUST_LOG");
    let srv = Server::spawn(cmd);
    let mut c = srv.anon_client();
    assert_eq!(c.retr("f.txt"), b"x");
    c.expect("QUIT", 221);
    assert!(srv.wait_log("disconnected"));
    let log = srv.log();
    assert!(
        log.contains(" INFO  127.0.0.1: login anonymous (ro)"),
        "{log}"
    );
    assert!(log.contains("anonymous: RETR /f.txt 1 bytes "), "{log}");
    assert!(!log.contains("DEBUG"), "{log}");
    assert!(!log.contains("> RETR"), "{log}");
}

// ---- Logging ----

/// The transfer line for `what` (such as "anonymous: RETR /f.txt"): bytes, seconds, result.
fn transfer_line(log: &str, what: &str) -> (u64, f64, String) {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{what} ")))
        .unwrap_or_else(|| panic!("no log line for {what}:\n{log}"));
    let rest = &line[line.find(what).unwrap() + what.len() + 1..];
    let f: Vec<&str> = rest.splitn(4, ' ').collect();
    assert_eq!(f[1], "bytes", "{line}");
    let secs = f[2].strip_suffix('s').expect(line).parse().expect(line);
    (f[0].parse().expect(line), secs, f[3].to_string())
}

/// Regression (the admin's day, defect 4): `--syslog` with nothing at /dev/log (no syslog
/// daemon, or not yet at boot) dropped every line. They go to stderr, the first saying why,
/// until a syslog daemon takes them again.
#[test]
fn syslog_without_a_daemon_falls_back_to_stderr_and_back() {
    let dev = TempDir::new("syslog-none");
    let root = TempDir::new("syslog-none-root");
    root.write("f.txt", b"x");
    let mut cmd = wrapped_command(&in_mount_namespace(&format!(
        "mount --bind '{}' /dev",
        dev.path().display()
    )));
    cmd.args(["--listen", "127.0.0.1:0", "--pasv-ports", "40000-44999"])
        .args([
            "--syslog",
            "--anonymous",
            "--root",
            root.path().to_str().unwrap(),
        ])
        .env("RUST_LOG", "info");
    let srv = Server::spawn(cmd);
    let notice = "--syslog: nothing takes lines at /dev/log";
    assert!(srv.wait_log(notice), "{}", srv.log());
    let mut c = srv.anon_client();
    assert_eq!(c.retr("f.txt"), b"x");
    assert!(srv.wait_log("RETR /f.txt 1 bytes"));
    assert_eq!(srv.log().matches(notice).count(), 1, "{}", srv.log());
    // A syslog daemon appears: the next lines go to it, not to stderr.
    let sock = UnixDatagram::bind(dev.join("log")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    c.cmd("CWD /nowhere");
    assert_eq!(c.retr("f.txt"), b"x");
    let mut seen = Vec::new();
    assert!(
        read_until(&sock, &mut seen, "RETR /f.txt 1 bytes"),
        "{seen:?}"
    );
    assert_eq!(srv.log().matches("RETR /f.txt 1 bytes").count(), 1);
}

/// `--log-level` sets the level whatever RUST_LOG says (the tests' RUST_LOG is debug); a
/// wrong one is refused.
#[test]
fn log_level_flag_overrides_rust_log() {
    let root = TempDir::new("log-level");
    root.write("f.txt", b"x");
    let srv = Server::anon_with(root.path(), &["--log-level", "info"]);
    let mut c = srv.anon_client();
    assert_eq!(c.retr("f.txt"), b"x");
    c.expect("QUIT", 221);
    assert!(srv.wait_log("RETR /f.txt 1 bytes"));
    assert!(!srv.log().contains("DEBUG"), "{}", srv.log());
    let out = server_command()
        .args(["--anonymous", "--root", "/", "--log-level", "chatty"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "edgeftpd: --log-level chatty: expected error, warn, info, debug, trace or off\n"
    );
}

/// `--xferlog`: one line per transfer in the wu-ftpd xferlog format (vsftpd's
/// `xferlog_std_format`) that log analysers read: the file's path on the disk with its
/// space as `_`, `o`/`i`, `a`nonymous, `c`omplete. A rotation (rename, then SIGHUP) goes on
/// in a new file; a log on a full disk (/dev/full) is said once and transfers go on.
#[test]
fn xferlog_lines_for_each_transfer_rotation_and_a_failing_disk() {
    let d = TempDir::new("xferlog");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a b.txt"), b"hello").unwrap();
    let log = d.join("xferlog");
    let srv = Server::anon_with(&root, &["--anon-write", "--xferlog", log.to_str().unwrap()]);
    let mut c = srv.anon_client();
    assert_eq!(c.retr("a b.txt"), b"hello");
    let (_, last) = c.put("STOR up.bin", &pattern(1000, 1));
    assert!(last.starts_with("226"), "{last}");
    let lines = |p: &std::path::Path| -> Vec<Vec<String>> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    let root_s = root.display().to_string();
    let want = |f: &str, bytes: &str, dir: &str| {
        vec![
            "127.0.0.1".to_string(),
            bytes.into(),
            format!("{root_s}/{f}"),
            "b".into(),
            "_".into(),
            dir.into(),
            "a".into(),
            "anonymous".into(),
            "ftp".into(),
            "0".into(),
            "*".into(),
            "c".into(),
        ]
    };
    assert!(crate::support::canary::eventually(WAIT, || lines(&log)
        .len()
        == 2));
    let l = lines(&log);
    for (line, w) in l
        .iter()
        .zip([want("a_b.txt", "5", "o"), want("up.bin", "1000", "i")])
    {
        assert_eq!(line.len(), 18, "{line:?}");
        assert_eq!(
            line[4],
            line[4].parse::<u32>().unwrap().to_string(),
            "the year"
        );
        assert!(line[5].parse::<u64>().unwrap() >= 1, "{line:?}");
        assert_eq!(line[6..], w[..], "{line:?}");
    }
    // Rotation: the old file is renamed, SIGHUP opens a new one.
    let old = d.join("xferlog.1");
    std::fs::rename(&log, &old).unwrap();
    crate::support::canary::signal(srv.pid(), "HUP");
    assert!(srv.wait_log("SIGHUP: reloaded the configuration"));
    assert_eq!(c.retr("up.bin"), pattern(1000, 1));
    assert!(crate::support::canary::eventually(WAIT, || lines(&log)
        .len()
        == 1));
    assert_eq!(lines(&log)[0][6..], want("up.bin", "1000", "o")[..]);
    assert_eq!(lines(&old).len(), 2);

    // A log that can't be written: said once, transfers go on.
    let full = Server::anon_with(&root, &["--xferlog", "/dev/full"]);
    let mut c = full.anon_client();
    for _ in 0..3 {
        assert_eq!(c.retr("a b.txt"), b"hello");
    }
    assert!(full.wait_log("--xferlog /dev/full: No space left on device"));
    assert_eq!(
        full.log().matches("--xferlog /dev/full").count(),
        1,
        "{}",
        full.log()
    );
}

/// Whether a session line of `who` from 127.0.0.1 doing `what` is in the log.
fn said(srv: &Server, who: &str, what: &str) -> bool {
    let head = format!("session: {who} from 127.0.0.1, logged in ");
    let tail = format!(" s ago, {what}");
    crate::support::canary::eventually(WAIT, || {
        srv.log().lines().any(|l| {
            l.find(&head).is_some_and(|i| {
                let rest = &l[i + head.len()..];
                rest.ends_with(&tail) && rest[..rest.len() - tail.len()].parse::<u64>().is_ok()
            })
        })
    })
}

/// Sends SIGUSR1 until a report has a line with `head` that ends with `tail`; each time
/// waits for that report's last line.
fn report_until(srv: &Server, head: &str, tail: &str) -> bool {
    let reports = || srv.log().matches(" logged in\n").count();
    crate::support::canary::eventually(WAIT, || {
        let before = reports();
        crate::support::canary::signal(srv.pid(), "USR1");
        crate::support::canary::eventually(WAIT, || reports() > before);
        srv.log()
            .lines()
            .any(|l| l.contains(head) && l.ends_with(tail))
    })
}

/// SIGUSR1 logs who is logged in, from where, for how long and what each moves (as
/// pure-ftpwho tells; the LuCI status page shows these lines). Under `--run-as` the
/// monitor, which knows no sessions, passes the signal on; either process survives it.
#[test]
fn sigusr1_logs_each_session_its_address_and_its_transfer_in_flight() {
    let u = users();
    for extra in [&[][..], &["--run-as", "nobody"][..]] {
        if !extra.is_empty() {
            crate::support::canary::require_root("--run-as");
            // nobody must reach the homes.
            sh(&format!("chmod -R a+rwX {}", u.homes.path().display()));
        }
        let srv = users_server(&u, extra);
        let mut idle = srv.client();
        idle.login("bob", "bob pw with spaces");
        let mut up = srv.client();
        up.login("carol", "carol-pw");
        up.expect("TYPE I", 200);
        let mut data = up.pasv();
        up.expect("STOR cam/../pic 1.jpg", 150);
        std::io::Write::write_all(&mut data, b"half a picture").unwrap();
        let mut connected = srv.client();
        connected.expect("USER alice", 331);

        // (A transfer is told of from when its data connection is open, just after the
        // 150 the client has: a report may come before that, so ask until one tells it.)
        assert!(
            report_until(
                &srv,
                "session: carol from 127.0.0.1, logged in ",
                " s ago, STOR /pic 1.jpg"
            ),
            "{}",
            srv.log()
        );
        assert!(srv.log().contains("sessions: 2 logged in"), "{}", srv.log());
        assert!(said(&srv, "bob", "idle"), "{}", srv.log());
        assert!(!srv.log().contains("session: alice"), "{}", srv.log());

        // The upload ends: carol is idle again; bob has gone.
        drop(data);
        assert!(up.reply().starts_with("226"));
        idle.expect("QUIT", 221);
        assert!(idle.closed());
        // (bob's seat is given back just after his connection closes.)
        assert!(
            report_until(&srv, "sessions: 1 logged in", ""),
            "{}",
            srv.log()
        );
        assert!(said(&srv, "carol", "idle"), "{}", srv.log());
        up.expect("NOOP", 200);
        assert!(!srv.log().contains("the serving process"), "{}", srv.log());
    }
}
