//! What one hostile or careless session must not be able to do to a router, and interop
//! gaps found by other people's client libraries: each test pins one defect that was
//! reproduced on an earlier build (the regression it names), and fails on that build.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

/// STAT of a big directory to clients that never read the reply was held whole (three
/// times): 4 such sessions took a router's worth of memory. It is streamed like LIST now.
#[test]
fn stat_of_a_big_directory_to_readers_that_never_read_holds_little_memory() {
    let root = TempDir::new("stat-big");
    let n = 20_000;
    let long = "n".repeat(190);
    for i in 0..n {
        std::fs::write(root.join(&format!("{long}-{i:06}")), b"").unwrap();
    }
    let srv = Server::anon(root.path());
    let pid = srv.pid();
    let before = kib_field(pid, "VmHWM");
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut c = srv.anon_client();
        c.send_raw(b"STAT /\r\n");
        stalled.push(c);
    }
    // Let every session make (and get stuck sending) its listing.
    std::thread::sleep(Duration::from_secs(3));
    let peak = kib_field(pid, "VmHWM");
    // Each session holds its names (about 4 MiB here) and a few pieces of output; the
    // whole listing is 5 MiB a session, and was held three times over.
    let grown = peak.saturating_sub(before);
    eprintln!("4 stalled STATs of {n} entries: peak RSS grew by {grown} KiB");
    assert!(
        grown < 40 * 1024,
        "peak RSS grew by {grown} KiB for 4 stalled STATs"
    );
    // The replies are whole once read.
    let mut c = stalled.pop().unwrap();
    let r = c.reply();
    assert!(r.starts_with("212-Status follows:\r\n"), "{}", &r[..60]);
    assert!(r.ends_with("212 End of status\r\n"));
    assert_eq!(r.matches(&long).count(), n);
    drop(stalled);
    assert_eq!(srv.anon_client().cmd("NOOP"), "200 NOOP ok.\r\n");
}

fn kib_field(pid: u32, name: &str) -> u64 {
    let v = status_field(pid, name);
    v.split_whitespace().next().unwrap().parse().unwrap()
}

/// Shell patterns cost CPU only once a data connection is there, and one too complex to
/// match in linear time is refused (pipelined `NLST <pattern>` without PASV burned seconds
/// of CPU each, then answered 550).
#[test]
fn patterns_wait_for_the_data_connection_and_are_bounded() {
    let root = TempDir::new("glob-cpu");
    let long = "n".repeat(220);
    for i in 0..500 {
        std::fs::write(root.join(&format!("{long}{i:04}")), b"").unwrap();
    }
    root.write("a.txt", b"a");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let class: String = (0..225)
        .map(|i| char::from(b'a' + (i % 25) as u8))
        .collect();
    let worst = format!("NLST /*[{class}n]X");
    for _ in 0..3 {
        assert_eq!(c.cmd(&worst), "425 Use PORT, PASV or EPSV first.\r\n");
    }
    // With a data connection it is matched (nothing matches: 550), and quickly.
    let (_, first, _) = c.get(&worst);
    assert_eq!(first, "550 No such file or directory.\r\n");
    let (_, first, _) = c.get(&format!("NLST {}", "?".repeat(200)));
    assert_eq!(first, "501 Pattern too complex.\r\n");
    assert_eq!(c.list("NLST *.txt"), "a.txt\r\n");
    assert_eq!(c.list("NLST [a]?txt"), "a.txt\r\n");
}

/// A walk held one descriptor per directory level: a deep MKD or SIZE ran the process out
/// of descriptors. Now a walk holds two, whatever the depth.
#[test]
fn deep_directories_cost_a_few_descriptors() {
    let root = TempDir::new("deep");
    let depth = 300;
    let deep: String = (0..depth).map(|_| "d/").collect();
    std::fs::create_dir_all(root.join(&deep)).unwrap();
    root.write(&format!("{deep}f.txt"), b"deep!");
    root.write("top.txt", b"top");
    // A symlink at the bottom whose target climbs back to the top.
    let up: String = (0..depth).map(|_| "../").collect();
    std::os::unix::fs::symlink(format!("{up}top.txt"), root.join(&format!("{deep}up"))).unwrap();
    let srv = Server::start_wrapped(
        &["prlimit", "--nofile=40:40"],
        &[
            "--anonymous",
            "--write",
            "--root",
            root.path().to_str().unwrap(),
        ],
    );
    let mut c = srv.anon_client();
    let p = format!("/{deep}f.txt");
    assert_eq!(c.cmd(&format!("SIZE {p}")), "213 5\r\n");
    assert_eq!(c.cmd(&format!("SIZE /{deep}up")), "213 3\r\n");
    assert_eq!(c.retr(&p), b"deep!");
    assert!(c.cmd(&format!("MKD /{deep}new")).starts_with("257 "));
    assert!(root.join(&format!("{deep}new")).is_dir());
    c.expect(&format!("CWD /{deep}"), 250);
    assert_eq!(c.list("NLST"), "f.txt\r\nnew\r\nup\r\n");
    // Many sessions at once, each deep: nobody runs out.
    let mut others: Vec<Client> = (0..4).map(|_| srv.anon_client()).collect();
    for o in &mut others {
        assert_eq!(o.cmd(&format!("SIZE {p}")), "213 5\r\n");
    }
}

/// Unauthenticated clients that send NOOP every few seconds kept their slots forever.
#[test]
fn a_session_not_logged_in_by_the_login_timeout_is_closed() {
    let root = TempDir::new("login-timeout");
    root.write("f.txt", b"f");
    let srv = Server::anon_with(root.path(), &["--login-timeout", "2"]);
    let mut idle = srv.client();
    let mut busy = srv.client();
    let mut user = srv.client();
    user.login("anonymous", "x");
    let t0 = Instant::now();
    let closed = loop {
        let r = busy.cmd("NOOP");
        if r != "200 NOOP ok.\r\n" {
            break r;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "never closed");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(closed, "421 Login timeout; closing control connection.\r\n");
    assert!(t0.elapsed() >= Duration::from_millis(1500));
    assert!(busy.closed());
    assert_eq!(
        idle.reply(),
        "421 Login timeout; closing control connection.\r\n"
    );
    assert!(idle.closed());
    // A logged-in session is not affected.
    assert_eq!(user.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(user.retr("f.txt"), b"f");
    assert!(srv.wait_log("login timeout"));
}

/// More than 4 KiB of commands during a transfer (keep-alive NOOPs) cut it as if the
/// client had gone. They now wait for the transfer's end and are answered after it.
#[test]
fn commands_sent_during_a_download_wait_for_its_end() {
    let root = TempDir::new("noop-flood");
    let big = pattern(8 << 20, 21);
    root.write("big.bin", &big);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    let first = c.cmd("RETR big.bin");
    assert!(first.starts_with("150 "), "{first}");
    let noops = 700;
    c.send_raw(&b"NOOP\r\n".repeat(noops));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert!(
        got.len() == big.len() && got == big,
        "got {} bytes",
        got.len()
    );
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    for _ in 0..noops {
        assert_eq!(c.reply(), "200 NOOP ok.\r\n");
    }
    // ABOR still stops a transfer.
    let mut d = c.epsv();
    assert!(c.cmd("RETR big.bin").starts_with("150 "));
    let mut buf = vec![0u8; 65536];
    d.read_exact(&mut buf).unwrap();
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
}

/// SITE CHMOD set set-uid, set-gid and sticky bits, and an overwrite kept them.
#[test]
fn no_set_id_or_sticky_bit_is_ever_set_or_kept() {
    let root = TempDir::new("setid");
    root.write("f", b"f");
    root.write("old", b"old");
    root.write("app", b"app");
    std::fs::create_dir(root.join("d")).unwrap();
    let mode = |name: &str| std::fs::metadata(root.join(name)).unwrap().mode() & 0o7777;
    let set = |name: &str, m: u32| {
        std::fs::set_permissions(root.join(name), std::fs::Permissions::from_mode(m)).unwrap()
    };
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("SITE CHMOD 6755 f"), "200 SITE CHMOD command ok.\r\n");
    assert_eq!(mode("f"), 0o755);
    assert_eq!(c.cmd("SITE CHMOD 1777 d"), "200 SITE CHMOD command ok.\r\n");
    assert_eq!(mode("d"), 0o777);
    assert_eq!(c.cmd("SITE CHMOD 4640 f"), "200 SITE CHMOD command ok.\r\n");
    assert_eq!(mode("f"), 0o640);
    // Files that have the bits (set by someone else) lose them when a client writes them.
    set("old", 0o6755);
    let (_, last) = c.put("STOR old", b"new contents");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(mode("old"), 0o755);
    set("app", 0o4750);
    let (_, last) = c.put("APPE app", b"+");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(mode("app"), 0o750);
    assert_eq!(std::fs::read(root.join("app")).unwrap(), b"app+");
}

/// PASS for an unknown or a locked name skipped the crypt, so timing told which names
/// exist. All three refusals now cost a crypt of the same cost. Measured in the server's
/// CPU time, which the rest of the machine's work does not stretch (in wall time the test
/// failed now and then with other tests running beside it); each refusal also waits out
/// the failure delay.
#[test]
fn refusals_take_as_long_for_unknown_and_locked_names() {
    let home = TempDir::new("timing");
    // A deliberately slow hash, so its cost stands out of the 1 s failure delay.
    let hash = edgeftpd::sha512_crypt(b"right", "timingsalt", 400_000);
    let text = format!(
        "real:{hash}:{h}:ro\nlocked:!{hash}:{h}:ro\n",
        h = home.path().display()
    );
    let file = home.write("users.txt", text.as_bytes());
    let srv = Server::start(&["--users", file.to_str().unwrap()]);
    let pid = srv.pid();
    // (wall seconds, the server's CPU ticks) of one refused PASS.
    let time = |user: &str| {
        let mut c = srv.client();
        c.expect(&format!("USER {user}"), 331);
        let (t, cpu) = (Instant::now(), cpu_ticks(pid));
        assert_eq!(c.cmd("PASS wrong"), "530 Login incorrect.\r\n");
        (t.elapsed().as_secs_f64(), cpu_ticks(pid) - cpu)
    };
    let mut c = srv.client();
    c.login("real", "right");
    // The least of three tries each, the three names taking turns.
    let least = |a: (f64, u64), b: (f64, u64)| (a.0.min(b.0), a.1.min(b.1));
    let (mut real, mut unknown, mut locked) = (
        (f64::MAX, u64::MAX),
        (f64::MAX, u64::MAX),
        (f64::MAX, u64::MAX),
    );
    for _ in 0..3 {
        real = least(real, time("real"));
        unknown = least(unknown, time("nosuchuser"));
        locked = least(locked, time("locked"));
    }
    eprintln!(
        "PASS refused in {:.4} s, {} ticks (real name); {:.4} s, {} (unknown); {:.4} s, {} (locked)",
        real.0, real.1, unknown.0, unknown.1, locked.0, locked.1
    );
    assert!(
        real.1 >= 3,
        "the hash is too cheap to tell ({} ticks)",
        real.1
    );
    for (what, t) in [("real", real), ("unknown", unknown), ("locked", locked)] {
        assert!(
            t.0 >= 1.0,
            "{what}: refused in {:.3} s, before the delay",
            t.0
        );
    }
    for (what, t) in [("unknown", unknown), ("locked", locked)] {
        assert!(
            t.1 as f64 > 0.6 * real.1 as f64,
            "{what}: {} ticks of CPU against {} for a real name",
            t.1,
            real.1
        );
    }
}

/// A FIFO or device node was opened before its type was checked: an anonymous RETR of a
/// FIFO released a local writer blocked in open(). No command opens one now.
#[test]
fn fifos_are_refused_without_being_opened() {
    let root = TempDir::new("fifo-open");
    let w = root.join("w.fifo");
    let r = root.join("r.fifo");
    for f in [&w, &r] {
        let (ok, _, err) = sh(&format!("mkfifo '{}'", f.display()));
        assert!(ok, "mkfifo: {err}");
    }
    // A local writer waiting for a reader, and a local reader waiting for a writer: if the
    // server opens either FIFO, one of them is released.
    let (tx, rx) = std::sync::mpsc::channel();
    for (path, write) in [(w.clone(), true), (r.clone(), false)] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let f = if write {
                std::fs::OpenOptions::new().write(true).open(&path)
            } else {
                std::fs::File::open(&path)
            };
            let _ = tx.send((path, f.is_ok()));
        });
    }
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let refused = "550 Not a regular file.\r\n";
    for name in ["w.fifo", "r.fifo"] {
        assert_eq!(c.get(&format!("RETR {name}")).1, refused, "RETR {name}");
        assert_eq!(c.put_lossy(&format!("APPE {name}"), b"x").0, refused);
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "RETR or APPE opened a FIFO"
    );
    for name in ["w.fifo", "r.fifo"] {
        c.expect("REST 1", 350);
        assert_eq!(c.put_lossy(&format!("STOR {name}"), b"x").0, refused);
        assert_eq!(c.cmd(&format!("SITE CHMOD 600 {name}")), refused);
        assert_eq!(c.cmd(&format!("MFMT 20200101000000 {name}")), refused);
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "the server opened a FIFO"
    );
    // Release the two threads ourselves.
    let _reader = std::fs::File::open(&w).unwrap();
    let _writer = std::fs::OpenOptions::new().write(true).open(&r).unwrap();
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

/// A USER name with CR and ESC[K was written raw into the log and showed as a forged
/// line in a terminal. Client bytes are escaped in every log line.
#[test]
fn client_bytes_are_escaped_in_the_log() {
    let root = TempDir::new("log-forge");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.client();
    c.expect("USER adm\rin\x1b[K\u{7f}", 331);
    assert_eq!(c.cmd("PASS x"), "530 Login incorrect.\r\n");
    c.login("anonymous", "x");
    c.put("STOR caf\u{e9}\x1b[2J.txt", b"x");
    assert!(srv.wait_log("STOR /caf\u{e9}\\x1b[2J.txt 1 bytes"));
    let log = srv.log();
    assert!(
        log.contains("failed login for adm\\x0din\\x1b[K\\x7f (1 of 3)"),
        "{log}"
    );
    assert!(log.contains("> USER adm\\x0din\\x1b[K\\x7f"), "{log}");
    assert!(!log.contains('\r') && !log.contains('\x1b') && !log.contains('\u{7f}'));
}

/// `MKD pub/.edgeftpd-upload.stash` made a directory hidden from every listing, and files
/// with that prefix were deleted by the next start-up sweep.
#[test]
fn the_temporary_upload_prefix_is_reserved() {
    let root = TempDir::new("prefix");
    root.write("pub/a.txt", b"a");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    let refused = "550 Reserved file name.\r\n";
    assert_eq!(c.cmd("MKD pub/.edgeftpd-upload.stash"), refused);
    assert_eq!(c.cmd("MKD .edgeftpd-upload.x/y"), refused);
    assert_eq!(c.put("STOR pub/.edgeftpd-upload.1", b"x").0, refused);
    assert_eq!(c.put("APPE .edgeftpd-upload.2", b"x").0, refused);
    assert_eq!(c.put("STOU .edgeftpd-upload.3", b"x").0, refused);
    c.expect("RNFR pub/a.txt", 350);
    assert_eq!(c.cmd("RNTO pub/.edgeftpd-upload.4"), refused);
    // Lookalikes are ordinary names.
    assert!(c.cmd("MKD .edgeftpd-uploads").starts_with("257 "));
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .chain(std::fs::read_dir(root.join("pub")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".edgeftpd-uploads", "a.txt", "pub"]);
}

/// A new file whose upload was cut off by a network drop could not be resumed: its
/// partial temporary file was deleted, and which socket the server noticed first decided.
/// Now the bytes that arrived become the file, in either order, and REST+STOR or APPE
/// completes it. An overwrite cut short still leaves the old file whole.
#[test]
fn a_new_file_cut_off_keeps_what_arrived_and_can_be_resumed() {
    let root = TempDir::new("resume-new");
    let old = pattern(50_000, 30);
    root.write("keep.bin", &old);
    let srv = Server::anon_rw(root.path());
    let whole = pattern(300_000, 31);
    let sent = 120_000;
    for i in 0..16 {
        let name = format!("new-{i}.bin");
        let mut c = srv.anon_client();
        c.expect("TYPE I", 200);
        let mut d = c.epsv();
        c.expect(&format!("STOR {name}"), 150);
        d.write_all(&whole[..sent]).unwrap();
        let ctl = c.ctl.into_inner();
        // Half the time the control connection goes first, half the time the data one.
        if i % 2 == 0 {
            drop(ctl);
            std::thread::sleep(Duration::from_millis(i as u64 * 3));
            drop(d);
        } else {
            drop(d);
            std::thread::sleep(Duration::from_millis(i as u64 * 3));
            drop(ctl);
        }
        let mut c = srv.anon_client();
        let want = format!("213 {sent}\r\n");
        assert!(
            eventually(WAIT, || c.cmd(&format!("SIZE {name}")) == want),
            "{name}: {}",
            c.cmd(&format!("SIZE {name}"))
        );
        // Resume: REST + STOR for the even ones, APPE for the odd ones.
        c.expect("TYPE I", 200);
        let (_, last) = if i % 2 == 0 {
            c.expect(&format!("REST {sent}"), 350);
            c.put(&format!("STOR {name}"), &whole[sent..])
        } else {
            c.put(&format!("APPE {name}"), &whole[sent..])
        };
        assert_eq!(last, "226 Transfer complete.\r\n");
        assert!(std::fs::read(root.join(&name)).unwrap() == whole, "{name}");
    }
    // An overwrite cut off the same way changes nothing.
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("STOR keep.bin", 150);
    d.write_all(&whole[..sent]).unwrap();
    drop(c);
    drop(d);
    let _c = client_eventually(srv.addr);
    assert!(eventually(WAIT, || temp_files(root.path()).is_empty()));
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
}

/// `ls`, vsftpd and pure-ftpd hide names starting with `.` unless `-a`; LIST showed them.
#[test]
fn dotfiles_are_listed_only_with_dash_a() {
    let root = TempDir::new("dotfiles");
    root.write(".hidden", b"h");
    root.write("seen.txt", b"s");
    root.write("sub/.inner", b"i");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let names = |l: String| -> Vec<String> {
        l.lines()
            .map(|x| x.rsplit(' ').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(c.list("LIST")), ["seen.txt", "sub"]);
    assert_eq!(c.list("NLST"), "seen.txt\r\nsub\r\n");
    for opts in ["-a", "-la", "-al", "-A", "-l -a"] {
        assert_eq!(
            names(c.list(&format!("LIST {opts}"))),
            [".hidden", "seen.txt", "sub"],
            "LIST {opts}"
        );
    }
    assert_eq!(c.list("NLST -a"), ".hidden\r\nseen.txt\r\nsub\r\n");
    assert_eq!(c.list("NLST sub"), "");
    assert_eq!(c.list("NLST -a sub"), "sub/.inner\r\n");
    // MLSD lists everything (RFC 3659); a hidden file stays reachable by its name.
    let mlsd = c.list("MLSD");
    assert!(mlsd.contains("; .hidden\r\n") && mlsd.contains("; seen.txt\r\n"));
    assert!(c.list("LIST .hidden").ends_with(" .hidden\r\n"));
    assert_eq!(c.retr(".hidden"), b"h");
    assert!(c.cmd("MLST .hidden").contains("; /.hidden\r\n"));
    assert!(!c.cmd("STAT /").contains(".hidden"));
    assert!(c.cmd("STAT -a /").contains(" .hidden\r\n"));
    assert_eq!(c.list("NLST .h*"), ".hidden\r\n");
}
