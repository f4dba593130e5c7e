//! The process: --run-as, signals (SIGTERM lets transfers finish, SIGKILL loses nothing),
//! the start-up sweep of stale uploads, --inetd, and the busybox init script.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

#[test]
fn run_as_switches_uid_gid_and_groups_after_binding_a_low_port() {
    require_root("--run-as");
    let root = TempDir::new("run-as");
    root.write("f.txt", b"file\n");
    // A privileged port proves the listener is bound before the switch. Another process
    // may take a free-looking port between our probe and the server's bind: try the next.
    let srv = (700..1024)
        .filter(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .take(20)
        .find_map(|port| {
            let listen = format!("127.0.0.1:{port}");
            let mut cmd = server_command();
            with_test_defaults(
                &mut cmd,
                &[
                    "--listen",
                    &listen,
                    "--anonymous",
                    "--root",
                    root.path().to_str().unwrap(),
                    "--run-as",
                    "nobody",
                ],
            );
            match Server::try_spawn(cmd) {
                Ok(s) => Some(s),
                Err(log) if log.contains("Address already in use") => None,
                Err(log) => panic!("server did not start; log:\n{log}"),
            }
        })
        .expect("a free port below 1024");
    assert!(srv.wait_log("running as nobody (uid 65534, gid 65534)"));
    // Started as root, the server keeps a monitor process (root, serving nobody) and serves
    // from its child: that child is the one checked here.
    let pid = srv.serving_pid();
    assert_ne!(pid, srv.pid());
    // Every thread: real, effective, saved and file-system ids; no groups, no capabilities.
    // Under qemu-user (EDGEFTPD_RUNNER) the emulator has a helper thread of its own that
    // keeps root's ids; the emulated program is checked through its main task there.
    let tasks: Vec<std::path::PathBuf> =
        if std::env::var("EDGEFTPD_RUNNER").is_ok_and(|r| !r.is_empty()) {
            vec![format!("/proc/{pid}").into()]
        } else {
            std::fs::read_dir(format!("/proc/{pid}/task"))
                .unwrap()
                .map(|t| t.unwrap().path())
                .collect()
        };
    for t in tasks {
        let status = std::fs::read_to_string(t.join("status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(field("Uid"), "65534 65534 65534 65534");
        assert_eq!(field("Gid"), "65534 65534 65534 65534");
        assert_eq!(field("Groups"), "");
        assert_eq!(field("CapEff"), "0000000000000000");
        assert_eq!(field("CapPrm"), "0000000000000000");
    }
    assert!(!srv.log().contains("running as root"));
    let mut c = srv.anon_client();
    assert_eq!(c.retr("f.txt"), b"file\n");
}

/// Runs the binary with `args` (as `wrapper` if given) to its end: (exit code, stderr).
fn run_to_exit(wrapper: &[&str], args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = if wrapper.is_empty() {
        server_command()
    } else {
        wrapped_command(wrapper)
    };
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + WAIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the server kept running: it must refuse to go on");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// Makes `dir` and its ancestors enterable by anyone (a TempDir is created 0700 by a
/// umask-077 shell or root), so that nobody can reach what is inside.
fn open_to_all(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Two homes nobody can enter: one only root may write (`locked`), one nobody owns.
fn homes_for_nobody(tag: &str) -> (TempDir, TempDir) {
    let locked = TempDir::new(&format!("{tag}-locked"));
    open_to_all(locked.path());
    let open = TempDir::new(&format!("{tag}-open"));
    open_to_all(open.path());
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(open.path(), Some(uid), Some(gid)).unwrap();
    (locked, open)
}

/// The uids (real, effective, saved, file system) of a process.
fn uids(pid: u32) -> String {
    status_field(pid, "Uid")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Regression (the admin's day, defect 1): under --run-as a users file only root can read
/// (0600, as admins keep files with password hashes) was read at start only, and SIGHUP
/// then failed with "Permission denied" until a restart. Root now keeps a monitor process
/// that reads it on SIGHUP and hands the accounts to the serving process, which is nobody.
#[test]
fn run_as_reloads_a_users_file_only_root_can_read() {
    use std::os::unix::fs::PermissionsExt;
    require_root("--run-as");
    let home = TempDir::new("privsep-users");
    open_to_all(home.path());
    home.write("f.txt", b"file");
    let etc = TempDir::new("privsep-etc");
    let file = etc.join("users.txt");
    let write = |line: &str| {
        std::fs::write(&file, line).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write(&user_line("alice", "a-pw", home.path(), "ro"));
    let mut srv = Server::start(&["--users", file.to_str().unwrap(), "--run-as", "nobody"]);
    assert!(srv.wait_log("running as nobody"));
    let serving = srv.serving_pid();
    assert_eq!(uids(serving), "65534 65534 65534 65534");
    assert_eq!(uids(srv.pid()), "0 0 0 0");
    // The monitor's line and the serving process's come from two processes: either may
    // be written first.
    assert!(srv.wait_log(&format!(
        "privilege separation: process {} stays root",
        srv.pid()
    )));
    let mut a = srv.client();
    a.login("alice", "a-pw");
    write(&user_line("bob", "b-pw", home.path(), "ro"));
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("SIGHUP: reloaded the users file (1 accounts)"),
        "{}",
        srv.log()
    );
    srv.client().login("bob", "b-pw");
    let mut gone = srv.client();
    gone.expect("USER alice", 331);
    assert_eq!(gone.cmd("PASS a-pw"), "530 Login incorrect.\r\n");
    assert_eq!(a.retr("f.txt"), b"file");
    // A broken file keeps bob, and says why.
    std::fs::write(&file, "carol:nohash\n").unwrap();
    signal(srv.pid(), "HUP");
    assert!(srv.wait_log("users.txt:1: expected name:hash:home:perm"));
    assert!(
        srv.log()
            .contains("keeping the configuration loaded before")
    );
    srv.client().login("bob", "b-pw");
    // killall -HUP reaches the serving process too: it leaves the reading to the monitor.
    signal(serving, "HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.alive());
    assert_eq!(srv.serving_pid(), serving);
    assert!(!srv.log().contains("Permission denied"), "{}", srv.log());
}

/// Under `--run-as`, SIGHUP re-reads a config file and a banner that only root can read:
/// the monitor reads them, and the serving process (nobody) puts what they say in place,
/// for new sessions.
#[test]
fn run_as_reloads_a_config_file_only_root_can_read() {
    use std::os::unix::fs::PermissionsExt;
    require_root("--run-as");
    let root = TempDir::new("privsep-conf-root");
    open_to_all(root.path());
    root.write("f.txt", b"file");
    let etc = TempDir::new("privsep-conf-etc");
    let (conf, banner) = (etc.join("edgeftpd.conf"), etc.join("banner.txt"));
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let settings = format!(
        "anonymous\nroot = {}\nbanner = {}\nrun-as = nobody\n",
        root.path().display(),
        banner.display()
    );
    write(&banner, "Hello one\n");
    write(&conf, &settings);
    let srv = Server::start(&["--config", conf.to_str().unwrap()]);
    assert!(srv.wait_log("running as nobody"));
    assert!(Client::connect_raw(srv.addr).starts_with("220-Hello one\r\n"));
    write(&banner, "Hello two\n");
    write(&conf, &format!("{settings}no-active\n"));
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("SIGHUP: reloaded the configuration"),
        "{}",
        srv.log()
    );
    assert!(Client::connect_raw(srv.addr).starts_with("220-Hello two\r\n"));
    let mut c = srv.anon_client();
    assert!(c.cmd("PORT 127,0,0,1,156,64").starts_with("502 "));
    assert_eq!(c.retr("f.txt"), b"file");
    assert!(!srv.log().contains("Permission denied"), "{}", srv.log());
}

/// Under --run-as, a new listen address on SIGHUP: the monitor, still root, ends the
/// serving process, starts itself again in place (same pid) and binds the new port, which
/// the serving process alone could not (it is nobody; port 21 takes root).
#[test]
fn run_as_monitor_starts_again_in_place_for_a_new_listen_address() {
    require_root("--run-as");
    let root = TempDir::new("privsep-relisten-root");
    open_to_all(root.path());
    root.write("f.txt", b"file");
    let etc = TempDir::new("privsep-relisten-etc");
    let conf = etc.join("edgeftpd.conf");
    let (one, two) = (free_addr(), free_addr());
    let write = |addr: std::net::SocketAddr| {
        let text = format!(
            "anonymous\nroot = {}\nrun-as = nobody\nlisten = {addr}\n",
            root.path().display()
        );
        std::fs::write(&conf, text).unwrap();
    };
    write(one);
    let mut srv = Server::from_config(&conf);
    let first = srv.serving_pid();
    write(two);
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("SIGHUP: --listen changed; starting again to apply it"),
        "{}",
        srv.log()
    );
    assert_eq!(client_eventually(two).retr("f.txt"), b"file");
    assert!(
        srv.alive(),
        "the monitor is the same process: {}",
        srv.log()
    );
    assert_ne!(srv.serving_pid(), first);
    assert!(
        std::net::TcpStream::connect(one).is_err(),
        "the old address"
    );
    assert_eq!(
        status_field(srv.serving_pid(), "Uid")
            .split_whitespace()
            .next(),
        Some(nobody().0.to_string()).as_deref()
    );
}

/// The monitor process starts a new serving process when the OOM killer (SIGKILL) ends
/// the old one, and SIGTERM to the monitor stops both, exit status 0.
#[test]
fn run_as_monitor_restarts_a_killed_serving_process_and_stops_on_sigterm() {
    require_root("--run-as");
    let root = TempDir::new("privsep-respawn");
    open_to_all(root.path());
    root.write("f.txt", b"file\n");
    let srv = Server::anon_with(root.path(), &["--run-as", "nobody"]);
    let first = srv.serving_pid();
    assert_eq!(srv.anon_client().retr("f.txt"), b"file\n");
    signal(first, "KILL");
    assert!(
        srv.wait_log(&format!("serving process {first} was killed by signal 9")),
        "{}",
        srv.log()
    );
    assert!(srv.wait_log("starting a new serving process"));
    assert!(eventually(WAIT, || srv.serving_pid() != first));
    let second = srv.serving_pid();
    // A fresh fork is root until it drops privileges, which it says in its second line.
    assert!(eventually(WAIT, || srv
        .log()
        .matches("running as nobody")
        .count()
        == 2));
    assert_eq!(uids(second), "65534 65534 65534 65534");
    let mut c = client_eventually(srv.addr);
    assert_eq!(c.retr("f.txt"), b"file\n");
    drop(c);
    let st = srv.terminate();
    assert_eq!(st.code(), Some(0));
    assert!(eventually(WAIT, || !std::path::Path::new(&format!(
        "/proc/{second}"
    ))
    .exists()));
}

/// Regression (issue 29): the kernel clears PR_SET_PDEATHSIG when a process changes its
/// user, which the serving process does right after it was set: a monitor killed with
/// SIGKILL (the OOM killer, `kill -9` of the pidfile's pid) left it serving as an orphan
/// of init, holding the port with no one to reload or stop it. It ends with the monitor
/// now, and the port is free within a second, for the init system's next start.
#[test]
fn run_as_serving_process_ends_when_the_monitor_is_killed() {
    require_root("--run-as");
    let root = TempDir::new("privsep-orphan");
    open_to_all(root.path());
    root.write("f.txt", b"file\n");
    let srv = Server::anon_with(root.path(), &["--run-as", "nobody"]);
    let serving = srv.serving_pid();
    // Logged in, so the serving process is nobody for good.
    assert_eq!(srv.anon_client().retr("f.txt"), b"file\n");
    assert_eq!(uids(serving), "65534 65534 65534 65534");
    signal(srv.pid(), "KILL");
    // Under qemu-user (cross-test) everything is slower; natively, a second.
    let within = if binary().1.is_empty() {
        Duration::from_secs(1)
    } else {
        WAIT
    };
    assert!(
        eventually(within, || ended(serving)),
        "the serving process {serving} outlived its monitor"
    );
    assert!(
        eventually(within, || TcpListener::bind(srv.addr).is_ok()),
        "the port is still held"
    );
}

#[test]
fn run_as_an_unknown_user_exits_2() {
    let root = TempDir::new("run-as-unknown");
    let (code, err) = run_to_exit(
        &[],
        &[
            "--listen",
            "127.0.0.1:0",
            "--anonymous",
            "--root",
            root.path().to_str().unwrap(),
            "--run-as",
            "no-such-user-edgeftpd",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--run-as no-such-user-edgeftpd: no such user"),
        "{err}"
    );
}

#[test]
fn run_as_that_cannot_switch_exits_2() {
    // Started as nobody, the server cannot switch to daemon: it must not go on as nobody.
    require_root("setpriv to nobody");
    let root = TempDir::new("run-as-fail");
    let (code, err) = run_to_exit(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
        ],
        &[
            "--listen",
            "127.0.0.1:0",
            "--anonymous",
            "--root",
            root.path().to_str().unwrap(),
            "--run-as",
            "daemon",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--run-as daemon: "), "{err}");
}

#[test]
fn root_without_run_as_logs_a_warning() {
    require_root("the root warning");
    let root = TempDir::new("root-warn");
    let srv = Server::anon(root.path());
    assert!(
        srv.wait_log("running as root; consider --run-as USER"),
        "{}",
        srv.log()
    );
    // Not as an ordinary user.
    let srv2 = Server::start_wrapped(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--",
        ],
        &["--anonymous", "--root", root.path().to_str().unwrap()],
    );
    let mut c = srv2.anon_client();
    c.expect("NOOP", 200);
    assert!(!srv2.log().contains("running as root"), "{}", srv2.log());
}

/// Files that look like ours but are not (or are not files): the start-up sweep keeps them.
const LOOKALIKES: &[&str] = &[
    ".edgeftpd-upload",
    ".edgeftpd-upload-1.2",
    ".edgeftpd-uploadX.1",
    "edgeftpd-upload.1.2",
    "x.edgeftpd-upload.1.2",
    ".Edgeftpd-upload.1.2",
];

#[test]
fn sigkill_mid_upload_leaves_the_old_file_and_the_next_start_sweeps_only_ours() {
    let c = Canary::new("kill");
    let root = &c.root;
    let old = pattern(1 << 20, 1);
    std::fs::write(root.join("target.bin"), &old).unwrap();
    for n in LOOKALIKES {
        std::fs::write(root.join(n), b"keep me\n").unwrap();
    }
    // A directory and a symlink with our prefix are not our temporary files either, and the
    // sweep must never follow a link out of the root (outside holds a file with our prefix).
    std::fs::create_dir(root.join(".edgeftpd-upload.dir")).unwrap();
    std::fs::write(root.join(".edgeftpd-upload.dir/keep"), b"keep\n").unwrap();
    symlink(
        c.outside.join("secret-canary.txt"),
        root.join(".edgeftpd-upload.link"),
    )
    .unwrap();
    std::fs::write(c.outside.join(".edgeftpd-upload.1.1"), MARKER).unwrap();
    std::fs::write(c.outside.join("sub/.edgeftpd-upload.2.2"), MARKER).unwrap();
    // Stale ones of ours below the root, at two depths.
    std::fs::create_dir_all(root.join("pub/deeper")).unwrap();
    std::fs::write(root.join("pub/.edgeftpd-upload.77.1"), b"stale").unwrap();
    std::fs::write(root.join("pub/deeper/.edgeftpd-upload.77.2"), b"stale").unwrap();
    let before = c.snapshot();

    let mut srv = Server::anon_rw(root);
    assert!(
        srv.wait_log("removed 2 stale temporary upload files"),
        "{}",
        srv.log()
    );
    assert!(!root.join("pub/.edgeftpd-upload.77.1").exists());
    assert!(!root.join("pub/deeper/.edgeftpd-upload.77.2").exists());

    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let mut d = cl.epsv();
    assert!(cl.cmd("STOR target.bin").starts_with("150"));
    d.write_all(&pattern(3 << 20, 2)).unwrap();
    let grew = eventually(WAIT, || {
        temp_files(root).iter().any(|n| {
            std::fs::metadata(root.join(n))
                .map(|m| m.len())
                .unwrap_or(0)
                > 1 << 20
        })
    });
    assert!(
        grew,
        "no temporary file is being written: {:?}",
        temp_files(root)
    );
    signal(srv.pid(), "KILL");
    assert!(srv.wait_exit(WAIT).is_some());
    drop(d);

    // The target is untouched; beside it there is at most the one temporary file.
    assert!(
        std::fs::read(root.join("target.bin")).unwrap() == old,
        "target damaged"
    );
    let left: Vec<String> = temp_files(root)
        .into_iter()
        .filter(|n| n != ".edgeftpd-upload.dir" && n != ".edgeftpd-upload.link")
        .collect();
    assert!(left.len() <= 1, "{left:?}");

    // The next start removes it, and nothing else.
    let srv = Server::anon_rw(root);
    let n = left.len();
    assert!(
        srv.wait_log(&format!("removed {n} stale temporary upload files")) || n == 0,
        "{}",
        srv.log()
    );
    assert_eq!(
        temp_files(root),
        vec![".edgeftpd-upload.dir", ".edgeftpd-upload.link"]
    );
    for n in LOOKALIKES {
        assert_eq!(std::fs::read(root.join(n)).unwrap(), b"keep me\n", "{n}");
    }
    assert!(root.join(".edgeftpd-upload.dir/keep").exists());
    assert!(std::fs::read(root.join("target.bin")).unwrap() == old);
    assert_eq!(
        c.snapshot(),
        before,
        "the sweep touched something outside the root"
    );
    let mut cl = srv.anon_client();
    assert!(cl.retr("target.bin") == old);
}

#[test]
fn stale_temporary_files_in_user_homes_are_swept_at_start() {
    let base = TempDir::new("sweep-homes");
    let home = base.join("home");
    std::fs::create_dir_all(home.join("sub")).unwrap();
    std::fs::write(home.join(".edgeftpd-upload.5.5"), b"stale").unwrap();
    std::fs::write(home.join("sub/.edgeftpd-upload.5.6"), b"stale").unwrap();
    std::fs::write(home.join(".edgeftpd-upload-x"), b"keep").unwrap();
    let users = base.write(
        "users",
        user_line("alice", "secret", &home, "rw").as_bytes(),
    );
    let srv = Server::start(&["--users", users.to_str().unwrap()]);
    assert!(
        srv.wait_log("removed 2 stale temporary upload files"),
        "{}",
        srv.log()
    );
    assert!(!home.join(".edgeftpd-upload.5.5").exists());
    assert!(!home.join("sub/.edgeftpd-upload.5.6").exists());
    assert!(home.join(".edgeftpd-upload-x").exists());
}

/// The server refuses new connections: connecting fails, or gets no greeting.
fn not_accepting(addr: std::net::SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Err(_) => true,
        Ok(s) => {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut b = [0u8; 3];
            !matches!((&s).read(&mut b), Ok(3) if &b == b"220")
        }
    }
}

#[test]
fn sigterm_lets_a_transfer_in_flight_finish_then_exits_0() {
    let root = TempDir::new("sigterm");
    let file = pattern(24 << 20, 3);
    root.write("big.bin", &file);
    let mut srv = Server::anon(root.path());
    let addr = srv.addr;
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let mut d = cl.epsv();
    assert!(cl.cmd("RETR big.bin").starts_with("150"));
    // Take 2 MB and stop reading: the server, with at most the socket buffers sent ahead,
    // is in the middle of the transfer when the signal comes.
    let mut head = vec![0u8; 2 << 20];
    d.read_exact(&mut head).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    signal(srv.pid(), "TERM");
    // Then read the rest at full speed, well within the grace period.
    let reader = std::thread::spawn(move || {
        d.read_to_end(&mut head).unwrap();
        head
    });
    assert!(
        eventually(WAIT, || not_accepting(addr)),
        "still accepting after SIGTERM"
    );
    let got = reader.join().unwrap();
    assert!(
        got == file,
        "the transfer was cut: {} of {} bytes",
        got.len(),
        file.len()
    );
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
    let st = srv.wait_exit(WAIT).expect("the server did not exit");
    assert_eq!(st.code(), Some(0));
    assert!(
        srv.wait_log("signal 15: no longer accepting"),
        "{}",
        srv.log()
    );
    assert!(
        srv.wait_log("exiting (0 transfers cut short)"),
        "{}",
        srv.log()
    );
}

#[test]
fn sigint_with_idle_sessions_exits_0_at_once() {
    let root = TempDir::new("sigint");
    let mut srv = Server::anon(root.path());
    let mut idle = srv.anon_client();
    idle.expect("NOOP", 200);
    let t0 = Instant::now();
    signal(srv.pid(), "INT");
    let st = srv.wait_exit(WAIT).expect("the server did not exit");
    assert_eq!(st.code(), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(srv.wait_log("signal 2: no longer accepting"));
    assert!(idle.closed());
}

#[test]
fn sigterm_cuts_a_stalled_transfer_after_the_grace_period() {
    let root = TempDir::new("sigterm-stall");
    root.write("big.bin", &pattern(32 << 20, 4));
    let mut srv = Server::anon_with(root.path(), &["--data-timeout", "120"]);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let d = cl.epsv();
    assert!(cl.cmd("RETR big.bin").starts_with("150"));
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    signal(srv.pid(), "TERM");
    let st = srv.wait_exit(WAIT).expect("the server did not exit");
    let took = t0.elapsed();
    assert_eq!(st.code(), Some(0));
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert!(
        srv.wait_log("exiting (1 transfers cut short)"),
        "{}",
        srv.log()
    );
    drop(d);
}

/// One `--inetd` session: the server process gets the accepted connection as stdin.
struct Inetd {
    child: std::process::Child,
}

impl Inetd {
    fn start(l: &TcpListener, args: &[&str]) -> (Inetd, Client) {
        let addr = l.local_addr().unwrap();
        let client = std::thread::spawn(move || Client::connect(addr));
        let (s, _) = l.accept().unwrap();
        let fd = std::os::fd::OwnedFd::from(s);
        let mut child = server_command()
            .arg("--inetd")
            .args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::from(fd))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let c = client.join().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("no greeting from the inetd session")
        });
        (Inetd { child }, c)
    }
}

impl Drop for Inetd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_inetd_session_starting_does_not_remove_another_sessions_upload() {
    // Under inetd every connection is a new process: one starting must not take another's
    // upload in progress for a stale temporary file.
    let root = TempDir::new("inetd-sweep");
    let r = root.path().to_str().unwrap();
    let args = [
        "--anonymous",
        "--write",
        "--root",
        r,
        "--pasv-ports",
        "40000-44999",
    ];
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (_a, mut a) = Inetd::start(&l, &args);
    a.login("anonymous", "x");
    a.expect("TYPE I", 200);
    let data = pattern(2 << 20, 9);
    let mut d = a.epsv();
    assert!(a.cmd("STOR up.bin").starts_with("150"));
    d.write_all(&data[..1 << 20]).unwrap();
    assert!(eventually(WAIT, || !temp_files(root.path()).is_empty()));
    // Another session starts while the upload is in flight.
    let (_b, mut b) = Inetd::start(&l, &args);
    b.login("anonymous", "x");
    b.expect("NOOP", 200);
    d.write_all(&data[1 << 20..]).unwrap();
    drop(d);
    assert_eq!(a.reply(), "226 Transfer complete.\r\n");
    assert!(std::fs::read(root.join("up.bin")).unwrap() == data);
}

#[test]
fn init_script_starts_restarts_and_stops_the_server() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{dir}/tests/init_script.sh"))
        .current_dir(dir)
        .env("EDGEFTPD_BIN", env!("CARGO_BIN_EXE_edgeftpd"))
        .env_remove("EDGEFTPD_RUNNER")
        .output()
        .expect("run bash tests/init_script.sh");
    assert!(
        out.status.success(),
        "tests/init_script.sh failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn inetd_serves_one_session_on_stdin_stdout() {
    let root = TempDir::new("inetd");
    root.write("f.txt", b"served by inetd");
    // What inetd does: accept, then run the server with the connection as stdin and stdout.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client_side = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server_side, _) = l.accept().unwrap();
    let fd = OwnedFd::from(server_side);
    let fd2 = fd.try_clone().unwrap();
    let mut cmd = server_command();
    cmd.args([
        "--inetd",
        "--anonymous",
        "--write",
        "--root",
        root.path().to_str().unwrap(),
        "--pasv-ports",
        "40000-44999",
    ])
    .env("RUST_LOG", "debug")
    .stdin(Stdio::from(fd))
    .stdout(Stdio::from(fd2))
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start edgeftpd --inetd");
    // Our copies of the server's end must go, or its exit would not close the connection.
    drop(cmd);
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });

    client_side.set_read_timeout(Some(WAIT)).unwrap();
    let mut c = Client {
        ctl: BufReader::new(client_side),
    };
    assert_eq!(c.reply(), "220 edgeftpd ready.\r\n");
    c.login("anonymous", "inetd@example.com");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    // Idle (on its own thread: no accept loop here waits for it), then on.
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    // Passive.
    assert_eq!(c.retr("f.txt"), b"served by inetd");
    // Active.
    let active = c.active(false);
    c.expect("RETR f.txt", 150);
    let (mut d, _) = active.accept().unwrap();
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert_eq!(got, b"served by inetd");
    // An upload too, passive.
    let (_, last) = c.put("STOR up.txt", b"via inetd");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(std::fs::read(root.join("up.txt")).unwrap(), b"via inetd");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    assert!(c.closed());
    // The process exits by itself, successfully.
    let end = Instant::now() + WAIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("edgeftpd --inetd did not exit after QUIT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let log = log.join().unwrap();
    assert!(log.contains("login anonymous (rw)"), "{log}");
    assert!(log.contains("anonymous: RETR /f.txt 15 bytes "), "{log}");
    // Nothing was listening: no "listening on" in inetd mode.
    assert!(!log.contains("listening on"), "{log}");
}

/// Regression (the admin's day, defect 2): under --run-as, a rw account whose home the
/// serving user cannot write got "550 Permission denied." on every upload and nothing was
/// logged. Start-up warns about such a home; each refusal is logged at info with its
/// reason; changes that succeed are logged too.
#[test]
fn run_as_warns_about_homes_it_cannot_write_and_logs_every_refusal() {
    use std::os::unix::fs::PermissionsExt;
    require_root("--run-as");
    let (locked, open) = homes_for_nobody("refusals");
    let etc = TempDir::new("refusals-etc");
    let users = etc.write(
        "users.txt",
        [
            user_line("alice", "a-pw", locked.path(), "rw"),
            user_line("bob", "b-pw", open.path(), "rw"),
            user_line("carol", "c-pw", open.path(), "ro"),
        ]
        .concat()
        .as_bytes(),
    );
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    let srv = Server::start(&["--users", users.to_str().unwrap(), "--run-as", "nobody"]);
    let warning = format!(
        "user alice: home: {}: this server (uid 65534) cannot enter, read and write it \
         (Permission denied (os error 13))",
        locked.path().display()
    );
    assert!(srv.wait_log(&warning), "{}", srv.log());
    assert!(!srv.log().contains("user bob: home"), "{}", srv.log());
    let mut a = srv.client();
    a.login("alice", "a-pw");
    let (first, _) = a.put("STOR up.txt", b"x");
    assert!(first.starts_with("550 "), "{first}");
    assert!(a.cmd("MKD d").starts_with("550 "));
    assert!(srv.wait_log("127.0.0.1 alice: STOR up.txt refused: Permission denied (os error 13)"));
    assert!(srv.wait_log("alice: MKD d refused: Permission denied (os error 13)"));
    let mut c = srv.client();
    c.login("carol", "c-pw");
    assert!(c.cmd("MKD d").starts_with("550 "));
    assert!(srv.wait_log("carol: MKD d refused: /d is ro: no change"));
    let mut b = srv.client();
    b.login("bob", "b-pw");
    b.expect("MKD d", 257);
    b.put("STOR d/f.txt", b"x");
    b.expect("RNFR d/f.txt", 350);
    b.expect("RNTO d/g.txt", 250);
    b.expect("SITE CHMOD 600 d/g.txt", 200);
    b.expect("MFMT 20200102030405 d/g.txt", 213);
    b.expect("DELE d/g.txt", 250);
    b.expect("RMD d", 250);
    for line in [
        "bob: made the directory /d",
        "bob: renamed /d/f.txt to /d/g.txt",
        "bob: changed the mode of /d/g.txt to 0600",
        "bob: set the time of /d/g.txt to 20200102030405",
        "bob: deleted /d/g.txt",
        "bob: removed the directory /d",
    ] {
        assert!(srv.wait_log(line), "{line}: {}", srv.log());
    }
    // A missing file probed with SIZE is no news at info (the tests log at debug: it is
    // there, marked DEBUG).
    assert!(b.cmd("SIZE nope").starts_with("550 "));
    assert!(srv.wait_log("DEBUG 127.0.0.1 bob: SIZE nope refused: No such file"));
}

/// `--check`: describes what would be served, checks each home as the --run-as user (in a
/// child that becomes that user), binds nothing; exit 0, or 2 with each problem on stderr.
#[test]
fn check_describes_the_setup_and_finds_homes_the_run_as_user_cannot_use() {
    use std::os::unix::fs::PermissionsExt;
    require_root("--check as nobody");
    let (locked, open) = homes_for_nobody("check");
    let etc = TempDir::new("check-etc");
    let users = etc.write(
        "users.txt",
        user_line("bob", "b-pw", open.path(), "rw").as_bytes(),
    );
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The port is taken: --check must not try to bind it.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = held.local_addr().unwrap().to_string();
    let args = |users: &std::path::Path| {
        vec![
            "--check".to_string(),
            "--listen".into(),
            listen.clone(),
            "--users".into(),
            users.to_str().unwrap().into(),
            "--run-as".into(),
            "nobody".into(),
        ]
    };
    let out = server_command().args(args(&users)).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "listen {listen}\nFTPS: off\nusers file {}:\n  bob: {} (rw)\npassive ports \
             50000-50099\nserving as nobody (uid 65534, gid 65534)\nok\n",
            users.display(),
            open.path().display()
        )
    );
    std::fs::write(
        &users,
        [
            user_line("bob", "b-pw", open.path(), "rw"),
            user_line("alice", "a-pw", locked.path(), "rw"),
        ]
        .concat(),
    )
    .unwrap();
    let out = server_command().args(args(&users)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "edgeftpd: user alice: home: {}: this server (uid 65534) cannot enter, read and \
             write it (Permission denied (os error 13))\nedgeftpd: --check: 1 problems (above)\n",
            locked.path().display()
        )
    );
}

/// Each thread of `pid` with its name and its status line `Seccomp:` (0 none, 2 a filter).
fn seccomp_by_thread(pid: u32) -> Vec<(String, String)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?.path();
            let name = std::fs::read_to_string(t.join("comm")).ok()?;
            let status = std::fs::read_to_string(t.join("status")).ok()?;
            let mode = status.lines().find_map(|l| l.strip_prefix("Seccomp:"))?;
            Some((name.trim().to_string(), mode.trim().to_string()))
        })
        .collect()
}

/// The threads that serve clients (the accept loop and each session) run under the system
/// call filter; the signal thread and the `--on-upload` workers, which fork and exec, do
/// not, also when a reload is what sets --on-upload; `--no-syscall-filter` turns it off.
#[test]
fn sessions_serve_under_the_system_call_filter_and_the_upload_hook_outside_it() {
    if std::env::var("EDGEFTPD_RUNNER").is_ok_and(|r| !r.is_empty()) {
        // qemu-user refuses a guest's seccomp filter (EINVAL): the server says so and
        // serves; the boards' kernels run it (make board-test).
        let root = TempDir::new("seccomp-qemu");
        let srv = Server::anon(root.path());
        assert!(srv.wait_log("no system call filter: "), "{}", srv.log());
        srv.anon_client().expect("NOOP", 200);
        return;
    }
    let d = TempDir::new("seccomp");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    let done = d.join("hook-ran");
    let hook = d.script(
        "hook.sh",
        &format!("#!/bin/sh\necho \"$1\" > '{}'\n", done.display()),
    );
    let conf = d.join("edgeftpd.conf");
    let base = format!(
        "anonymous\nanon-write\nroot = {}\nlisten = {}\n",
        root.display(),
        free_addr()
    );
    std::fs::write(&conf, &base).unwrap();
    let srv = Server::from_config(&conf);
    assert!(
        srv.wait_log("system call filter on: sessions may make "),
        "{}",
        srv.log()
    );
    let mut c = srv.anon_client();
    c.expect("NOOP", 200);
    let threads = seccomp_by_thread(srv.pid());
    let filtered = |name: &str| {
        threads
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(filtered("signals"), ["0"], "{threads:?}");
    // The accept loop (the main thread, named after the program) and the session.
    assert!(
        threads.iter().filter(|(_, m)| m == "2").count() >= 2,
        "{threads:?}"
    );
    assert!(
        threads.iter().all(|(n, m)| m == "2" || n == "signals"),
        "{threads:?}"
    );

    // A reload sets --on-upload: its workers start outside the filter, and run.
    std::fs::write(&conf, format!("{base}on-upload = {}\n", hook.display())).unwrap();
    signal(srv.pid(), "HUP");
    assert!(srv.wait_log("SIGHUP: reloaded the configuration"));
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let (_, last) = c.put("STOR pic.jpg", b"picture");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&done)
            .is_ok_and(|t| t.trim().ends_with("/pic.jpg"))),
        "{}",
        srv.log()
    );
    let threads = seccomp_by_thread(srv.pid());
    assert!(
        threads.iter().any(|(n, m)| n == "on-upload" && m == "0"),
        "{threads:?}"
    );

    // Off: no thread has it.
    let off = Server::anon_with(&root, &["--no-syscall-filter"]);
    off.anon_client().expect("NOOP", 200);
    assert!(
        seccomp_by_thread(off.pid()).iter().all(|(_, m)| m == "0"),
        "{:?}",
        seccomp_by_thread(off.pid())
    );
    assert!(!off.log().contains("system call filter on"));
}
