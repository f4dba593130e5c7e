//! Logging in: users-file accounts with every hash form, wrong, locked and unknown users,
//! read-only and read-write, anonymous beside accounts, three failures closing the session,
//! a missing home, and replies that never show a real path.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

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
