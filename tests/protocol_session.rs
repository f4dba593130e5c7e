//! Sessions and logging over the protocol: users-file logins with `$1$`, `$5$` and `$6$`
//! hashes (openssl and busybox forms), wrong passwords, locked and unknown users, ro/rw
//! permissions and the jail of each home; three failed logins close the session with at
//! least a second's delay after each; the idle timeout (421 and close, never during a
//! transfer); `--max-clients` and `--max-per-ip` (421 greeting and close); and the log:
//! connections, logins, one line per transfer (user, path, bytes, seconds, result), errors
//! with their cause, the default level, and never a password.
mod support;
use support::*;

use std::io::{BufRead, Read};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn hash(cmd: &str) -> String {
    let (ok, out, err) = sh(cmd);
    assert!(ok, "{cmd}: {err}");
    out.trim().to_string()
}

struct Users {
    homes: TempDir,
    file: std::path::PathBuf,
}

/// alice ($1$, rw), bob ($5$, ro), carol ($6$, rw), dave (locked `!`), eve (`*`), and
/// busybox-made md5/sha256 users; each home holds `whoami.txt`.
fn users() -> Users {
    let homes = TempDir::new("homes");
    let mut text = String::from("# edgeftpd users\n\n");
    let mut add = |name: &str, h: &str, perm: &str| {
        let home = homes.join(name);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("whoami.txt"), name).unwrap();
        text.push_str(&format!("{name}:{h}:{}:{perm}\n", home.display()));
    };
    add("alice", &hash("openssl passwd -1 alice-pw"), "rw");
    add("bob", &hash("openssl passwd -5 'bob pw with spaces'"), "ro");
    add("carol", &hash("openssl passwd -6 carol-pw"), "rw");
    add(
        "dave",
        &format!("!{}", hash("openssl passwd -6 dave-pw")),
        "rw",
    );
    add("eve", "*", "ro");
    add("bbmd5", &hash("busybox mkpasswd -m md5 bb-pw"), "ro");
    add("bbsha", &hash("busybox mkpasswd -m sha256 bb-pw"), "ro");
    let file = homes.write("users.txt", text.as_bytes());
    Users { homes, file }
}

fn users_server(u: &Users, extra: &[&str]) -> Server {
    let mut args = vec!["--users", u.file.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// USER + PASS; returns the PASS reply and how long it took.
fn try_login(c: &mut Client, user: &str, pass: &str) -> (String, Duration) {
    assert_eq!(
        c.cmd(&format!("USER {user}")),
        "331 Please specify the password.\r\n"
    );
    let t = Instant::now();
    let r = c.cmd(&format!("PASS {pass}"));
    (r, t.elapsed())
}

#[test]
fn users_file_logins_with_every_hash_form() {
    let u = users();
    let srv = users_server(&u, &[]);
    for (user, pw) in [
        ("alice", "alice-pw"),
        ("bob", "bob pw with spaces"),
        ("carol", "carol-pw"),
        ("bbmd5", "bb-pw"),
        ("bbsha", "bb-pw"),
    ] {
        let mut c = srv.client();
        let (r, _) = try_login(&mut c, user, pw);
        assert_eq!(r, "230 Login successful.\r\n", "{user}");
        // Jailed in the home: it is `/`, and it holds this user's file only.
        assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
        assert_eq!(c.list("NLST"), "whoami.txt\r\n");
        assert_eq!(c.retr("whoami.txt"), user.as_bytes());
        assert_eq!(c.retr("/../../whoami.txt"), user.as_bytes());
        let (_, first, _) = c.get("RETR ../alice/whoami.txt");
        assert_eq!(first, "550 No such file or directory.\r\n", "{user}");
        assert!(
            c.cmd("STAT")
                .contains(&format!("\r\n Logged in as {user}\r\n"))
        );
        assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    }
}

#[test]
fn wrong_locked_and_unknown_logins_are_530() {
    let u = users();
    let srv = users_server(&u, &["--max-per-ip", "20"]);
    // One connection each, side by side (each failure costs a second).
    let cases = [
        ("alice", "wrong"),
        ("alice", ""),
        ("ALICE", "alice-pw"),
        ("dave", "dave-pw"),
        ("eve", ""),
        ("eve", "*"),
        ("nobody-here", "x"),
        ("anonymous", "x@example.com"),
        ("ftp", "x"),
    ];
    std::thread::scope(|s| {
        for (user, pw) in cases {
            let srv = &srv;
            s.spawn(move || {
                let mut c = srv.client();
                // USER never tells whether the name exists.
                let (r, took) = try_login(&mut c, user, pw);
                assert_eq!(r, "530 Login incorrect.\r\n", "{user}/{pw}");
                assert!(took >= Duration::from_millis(950), "{user}: {took:?}");
                assert_eq!(c.cmd("PWD"), "530 Please login with USER and PASS.\r\n");
            });
        }
    });
}

#[test]
fn read_only_and_read_write_users() {
    let u = users();
    let srv = users_server(&u, &[]);
    let mut bob = srv.client();
    bob.login("bob", "bob pw with spaces");
    let denied = "550 Permission denied.\r\n";
    for line in [
        "STOR x",
        "APPE whoami.txt",
        "STOU",
        "DELE whoami.txt",
        "MKD d",
        "RMD d",
        "RNFR whoami.txt",
        "SITE CHMOD 600 whoami.txt",
        "MFMT 20200101000000 whoami.txt",
    ] {
        assert_eq!(bob.cmd(line), denied, "{line}");
    }
    assert_eq!(
        std::fs::read(u.homes.join("bob/whoami.txt")).unwrap(),
        b"bob"
    );
    let mut alice = srv.client();
    alice.login("alice", "alice-pw");
    alice.expect("TYPE I", 200);
    let (_, last) = alice.put("STOR up.txt", b"from alice");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(alice.cmd("MKD sub"), "257 \"/sub\" created.\r\n");
    assert_eq!(
        alice.cmd("DELE whoami.txt"),
        "250 Delete operation successful.\r\n"
    );
    assert_eq!(
        std::fs::read(u.homes.join("alice/up.txt")).unwrap(),
        b"from alice"
    );
    assert!(u.homes.join("alice/sub").is_dir());
    // Nothing landed outside alice's home.
    assert!(!u.homes.join("up.txt").exists());
}

#[test]
fn anonymous_and_users_side_by_side() {
    let u = users();
    let anon_root = TempDir::new("anonroot");
    anon_root.write("whoami.txt", b"anonymous");
    let srv = users_server(
        &u,
        &["--anonymous", "--root", anon_root.path().to_str().unwrap()],
    );
    for name in ["anonymous", "ANONYMOUS", "ftp", "Ftp"] {
        let mut c = srv.client();
        c.login(name, "any password at all");
        assert_eq!(c.retr("whoami.txt"), b"anonymous");
        assert_eq!(c.cmd("MKD x"), "550 Permission denied.\r\n");
    }
    let mut c = srv.client();
    c.login("carol", "carol-pw");
    assert_eq!(c.retr("whoami.txt"), b"carol");
}

#[test]
fn three_failed_logins_close_the_session() {
    let u = users();
    let srv = users_server(&u, &[]);
    let mut c = srv.client();
    let start = Instant::now();
    for (i, user) in ["alice", "bob", "nobody-here"].iter().enumerate() {
        let (r, took) = try_login(&mut c, user, "wrong");
        assert_eq!(r, "530 Login incorrect.\r\n", "attempt {i}");
        assert!(took >= Duration::from_millis(950), "attempt {i}: {took:?}");
    }
    assert!(c.closed(), "the session stays open after three failures");
    assert!(start.elapsed() >= Duration::from_millis(2900));
    // PASS without USER and a 503 don't count; two failures then a success is fine.
    let mut c = srv.client();
    for _ in 0..2 {
        assert_eq!(
            try_login(&mut c, "alice", "bad").0,
            "530 Login incorrect.\r\n"
        );
    }
    assert_eq!(c.cmd("PASS x"), "503 Login with USER first.\r\n");
    c.login("alice", "alice-pw");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert!(srv.wait_log("failed login for nobody-here (3 of 3)"));
}

#[test]
fn missing_home_is_530_with_the_cause_logged() {
    let u = users();
    let srv = users_server(&u, &[]);
    std::fs::remove_dir_all(u.homes.join("carol")).unwrap();
    let mut c = srv.client();
    c.expect("USER carol", 331);
    assert_eq!(
        c.cmd("PASS carol-pw"),
        "530 Home directory unavailable.\r\n"
    );
    assert!(srv.wait_log("login carol: cannot open home directory: No such file or directory"));
    // Not a password failure: no delay counted against the session, which goes on.
    c.login("alice", "alice-pw");
}

#[test]
fn idle_timeout_is_421_and_close() {
    let root = TempDir::new("idle");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--idle-timeout",
        "1",
    ]);
    let t = Instant::now();
    let mut before = srv.client();
    let mut after = srv.anon_client();
    after.expect("NOOP", 200);
    for c in [&mut before, &mut after] {
        assert_eq!(c.reply(), "421 Timeout; closing control connection.\r\n");
        assert!(c.closed());
    }
    let e = t.elapsed();
    assert!(e >= Duration::from_millis(900) && e < WAIT, "{e:?}");
    assert!(srv.wait_log(": idle timeout"));
}

#[test]
fn idle_timeout_does_not_cut_a_transfer() {
    let root = TempDir::new("idle-xfer");
    let data = pattern(8 << 20, 5);
    root.write("f.bin", &data);
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--idle-timeout",
        "1",
        "--data-timeout",
        "10",
    ]);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("RETR f.bin", 150);
    // A slow reader: the transfer lasts longer than the idle timeout.
    std::thread::sleep(Duration::from_millis(1600));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert!(got == data);
}

/// Connects without the harness's greeting check; returns the first line and whether the
/// server then closed the connection.
fn refused(s: TcpStream) -> (String, bool) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut rest = Vec::new();
    let closed = matches!(r.read_to_end(&mut rest), Ok(0));
    (line, closed)
}

#[test]
fn max_clients_gets_a_421_greeting_and_close() {
    let root = TempDir::new("maxclients");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--max-clients",
        "2",
    ]);
    let a = srv.anon_client();
    let _b = srv.client();
    let (line, closed) = refused(TcpStream::connect(srv.addr).unwrap());
    assert_eq!(line, "421 Too many users, sorry. Try again later.\r\n");
    assert!(closed);
    // From another address too: the limit is global.
    let (line, _) = refused(connect_from("127.0.0.2".parse().unwrap(), srv.addr).unwrap());
    assert_eq!(line, "421 Too many users, sorry. Try again later.\r\n");
    // A slot comes back when a session ends.
    let port = a.stream().local_addr().unwrap().port();
    drop(a);
    assert!(srv.wait_log(&format!("127.0.0.1:{port}: disconnected")));
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert!(srv.wait_log("refused: Too many users"));
}

#[test]
fn max_per_ip_gets_a_421_greeting_and_close() {
    let root = TempDir::new("maxperip");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--max-per-ip",
        "1",
    ]);
    let _a = srv.anon_client();
    let (line, closed) = refused(TcpStream::connect(srv.addr).unwrap());
    assert_eq!(line, "421 Too many connections from your address.\r\n");
    assert!(closed);
    // Another address is still welcome.
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut c = Client::connect_from(other, srv.addr);
    c.login("anonymous", "x");
    assert!(c.cmd("STAT").contains(" Connected to 127.0.0.2\r\n"));
    assert!(srv.wait_log("127.0.0.1: refused: Too many connections"));
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

/// The home directory paths users see never include the server's real paths.
#[test]
fn replies_never_show_real_paths() {
    let u = users();
    let srv = users_server(&u, &[]);
    let mut c = srv.client();
    c.login("carol", "carol-pw");
    let real = u.homes.path().display().to_string();
    let mut all = String::new();
    for line in [
        "PWD",
        "MKD d",
        "CWD d",
        "PWD",
        "MLST",
        "STAT",
        "RETR nothing",
    ] {
        all.push_str(&c.cmd(line));
    }
    assert!(!all.contains(&real), "{all}");
    assert!(!Path::new(&real).join("d").exists());
    assert!(u.homes.join("carol/d").is_dir());
}
