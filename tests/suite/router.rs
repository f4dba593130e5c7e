//! Running on a router: the passive address behind NAT and with a dynamic IP, bans for
//! password guessers, bandwidth caps, SIGHUP reloading the users file, and making a
//! users-file hash on the device (`--hash-password`).

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

/// Runs `edgeftpd --hash-password` with `input` on a pipe: (exit code, stdout, stderr).
fn hash_password(input: &[u8]) -> (Option<i32>, String, String) {
    run_with_input(&["--hash-password"], input)
}

/// Runs the binary with `args` and `input` on a pipe: (exit code, stdout, stderr).
fn run_with_input(args: &[&str], input: &[u8]) -> (Option<i32>, String, String) {
    let mut child = server_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // (A run that fails before it reads stdin closes the pipe first.)
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hash_password_makes_a_users_file_line_that_logs_in() {
    let (code, out, err) = hash_password(b"her password\n");
    assert_eq!(code, Some(0), "{err}");
    let hash = out.trim_end();
    assert!(out.ends_with('\n') && !hash.contains('\n'), "{out:?}");
    let parts: Vec<&str> = hash.split('$').collect();
    assert!(
        parts.len() == 4 && parts[1] == "6" && parts[2].len() == 16 && parts[3].len() == 86,
        "{hash}"
    );
    // The same password gets another salt each time.
    let (_, again, _) = hash_password(b"her password\n");
    assert_ne!(again, out);
    // openssl agrees on the hash.
    let (ok, o, _) = sh(&format!(
        "openssl passwd -6 -salt '{}' 'her password'",
        parts[2]
    ));
    assert!(ok && o.trim() == hash, "{o} vs {hash}");
    let home = TempDir::new("hashpw");
    home.write("hello.txt", b"hi");
    let file = home.write(
        "users.txt",
        format!("alice:{hash}:{}:ro\n", home.path().display()).as_bytes(),
    );
    let srv = Server::start(&["--users", file.to_str().unwrap()]);
    let mut c = srv.client();
    c.login("alice", "her password");
    assert_eq!(c.retr("hello.txt"), b"hi");
    // An empty password is refused.
    let (code, out, err) = hash_password(b"\n");
    assert_eq!((code, out.as_str()), (Some(2), ""));
    assert_eq!(err, "edgeftpd: empty password\n");
}

/// On a terminal it asks twice, without echo (through a pseudo-terminal made by Python).
/// This one runs the host binary even under `make cross-test`: qemu-user does not emulate
/// the TCGETS2 ioctl (termios2) that every kernel since 2.6.20 has, so under qemu the
/// binary can only report "terminal: Function not implemented".
#[test]
fn hash_password_on_a_terminal_asks_twice_without_echo() {
    let argv: Vec<String> = vec![
        env!("CARGO_BIN_EXE_edgeftpd").to_string(),
        "--hash-password".into(),
    ];
    let script = r#"
import os, pty, sys
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""
def until(tok):
    global out
    while tok not in out:
        out += os.read(fd, 100)
answers = sys.argv[1].split(",")
until(b"Password: "); os.write(fd, answers[0].encode() + b"\n")
until(b"Again: "); os.write(fd, answers[1].encode() + b"\n")
try:
    while True:
        d = os.read(fd, 100)
        if not d:
            break
        out += d
except OSError:
    pass
_, st = os.waitpid(pid, 0)
sys.stdout.write(repr(out) + " " + str(os.waitstatus_to_exitcode(st)))
"#;
    let run = |answers: &str| {
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(answers)
            .args(&argv)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let same = run("pw one,pw one");
    assert!(same.ends_with(" 0"), "{same}");
    assert!(same.contains("$6$") && !same.contains("pw one"), "{same}");
    let differ = run("pw one,pw two");
    assert!(differ.ends_with(" 2"), "{differ}");
    assert!(differ.contains("the passwords differ") && !differ.contains("$6$"));
}

fn write_users(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.concat()).unwrap();
}

/// SIGHUP re-reads the users file: new logins use it at once, sessions logged in keep
/// their login, a broken file keeps the old users, and the server never exits on it.
#[test]
fn sighup_reloads_the_users_file() {
    let home = TempDir::new("reload");
    home.write("f.txt", b"file");
    let file = home.join("users.txt");
    let alice = user_line("alice", "a-pw", home.path(), "ro");
    let bob = user_line("bob", "b-pw", home.path(), "ro");
    write_users(&file, std::slice::from_ref(&alice));
    let mut srv = Server::start(&["--users", file.to_str().unwrap()]);
    let mut a = srv.client();
    a.login("alice", "a-pw");
    // alice removed, bob added.
    write_users(&file, std::slice::from_ref(&bob));
    signal(srv.pid(), "HUP");
    assert!(srv.wait_log("reloaded the users file (1 accounts)"));
    let mut b = srv.client();
    b.login("bob", "b-pw");
    let mut gone = srv.client();
    gone.expect("USER alice", 331);
    assert_eq!(gone.cmd("PASS a-pw"), "530 Login incorrect.\r\n");
    // alice's session goes on.
    assert_eq!(a.retr("f.txt"), b"file");
    // A broken file: the error names the line, bob can still log in.
    std::fs::write(&file, format!("{bob}carol:nohash\n")).unwrap();
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("users.txt:2: expected name:hash:home:perm"),
        "{}",
        srv.log()
    );
    assert!(
        srv.log()
            .contains("keeping the configuration loaded before")
    );
    srv.client().login("bob", "b-pw");
    for _ in 0..5 {
        signal(srv.pid(), "HUP");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.alive(), "SIGHUP killed the server");
    assert_eq!(b.cmd("NOOP"), "200 NOOP ok.\r\n");
}

/// SIGHUP re-reads the config file too (and the banner it names): new sessions get the
/// new banner, the new --no-active and a new anonymous root, while a session already open
/// keeps what it started with; a bad line keeps everything and names the file and the
/// line; --log-level applies at once.
#[test]
fn sighup_rereads_the_config_file_for_new_sessions() {
    let d = TempDir::new("reload-config");
    let one = d.join("one");
    let two = d.join("two");
    for (dir, text) in [(&one, "one"), (&two, "two")] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("f.txt"), text).unwrap();
    }
    let b1 = d.write("b1.txt", b"Family NAS\n");
    let b2 = d.write("b2.txt", b"Back soon\n");
    let conf = d.join("edgeftpd.conf");
    let write = |root: &Path, banner: &Path, more: &str| {
        let text = format!(
            "anonymous\nroot = {}\nbanner = {}\n{more}",
            root.display(),
            banner.display()
        );
        std::fs::write(&conf, text).unwrap();
    };
    write(&one, &b1, "no-active\n");
    let mut srv = Server::start(&["--config", conf.to_str().unwrap()]);
    assert!(Client::connect_raw(srv.addr).starts_with("220-Family NAS\r\n220 "));
    let mut old = srv.anon_client();
    assert!(old.cmd("PORT 127,0,0,1,156,64").starts_with("502 "));

    write(&two, &b2, "");
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("SIGHUP: reloaded the configuration"),
        "{}",
        srv.log()
    );
    assert!(Client::connect_raw(srv.addr).starts_with("220-Back soon\r\n220 "));
    let mut new = srv.anon_client();
    assert_eq!(new.retr("f.txt"), b"two");
    let r = new.cmd("PORT 127,0,0,1,156,64");
    assert!(r.starts_with("200 "), "{r}");
    // The session opened before keeps its root and its rules.
    assert_eq!(old.retr("f.txt"), b"one");
    assert!(old.cmd("PORT 127,0,0,1,156,64").starts_with("502 "));

    std::fs::write(
        &conf,
        format!("anonymous\nroot = {}\nmax-clients = none\n", one.display()),
    )
    .unwrap();
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log(&format!(
            "{}:3: --max-clients none: expected a whole number",
            conf.display()
        )),
        "{}",
        srv.log()
    );
    assert!(
        srv.log()
            .contains("keeping the configuration loaded before")
    );
    assert_eq!(srv.anon_client().retr("f.txt"), b"two");

    write(&two, &b2, "log-level = warn\n");
    signal(srv.pid(), "HUP");
    assert!(srv.wait_log("reloaded the configuration"));
    std::thread::sleep(Duration::from_millis(200));
    let before = srv.log().len();
    srv.anon_client().retr("f.txt");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !srv.log()[before..].contains("login anonymous"),
        "{}",
        srv.log()
    );
    assert!(srv.alive());
}

/// SIGHUP after the config file's listen address changed: what only a start applies makes
/// the server start again in place, with the same pid (procd and systemd see no exit, and
/// `service edgeftpd reload` needs no restart of its own): it serves on the new address,
/// the old one is closed, and so are the sessions that were open.
#[test]
fn sighup_with_a_new_listen_address_starts_again_in_place() {
    let d = TempDir::new("reload-listen");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("f.txt"), b"x").unwrap();
    let (one, two) = (free_addr(), free_addr());
    let conf = d.join("edgeftpd.conf");
    let write = |addr: std::net::SocketAddr| {
        let text = format!("anonymous\nroot = {}\nlisten = {addr}\n", root.display());
        std::fs::write(&conf, text).unwrap();
    };
    write(one);
    let mut srv = Server::from_config(&conf);
    assert_eq!(srv.addr, one);
    let mut old = srv.anon_client();
    write(two);
    signal(srv.pid(), "HUP");
    assert!(
        srv.wait_log("SIGHUP: --listen changed; starting again to apply it"),
        "{}",
        srv.log()
    );
    assert_eq!(client_eventually(two).retr("f.txt"), b"x");
    assert!(old.closed(), "a session from before the restart");
    assert!(
        std::net::TcpStream::connect(one).is_err(),
        "the old address"
    );
    assert!(srv.alive(), "the same process: {}", srv.log());
    assert_eq!(
        srv.log().matches("listening on").count(),
        2,
        "{}",
        srv.log()
    );
    // Regression (issue 29): the kernel names a process after the file it executed, and
    // the restart executes /proc/self/exe: it was `exe` to ps, top and `ps -C edgeftpd`.
    // (Under qemu-user the process is qemu's, and so is its name.)
    if binary().1.is_empty() {
        assert_eq!(status_field(srv.pid(), "Name"), "edgeftpd");
    }
}

/// Reads a 227 reply's address.
fn pasv_ip(c: &mut Client) -> String {
    let r = c.expect("PASV", 227);
    pasv_addr(&r).ip().to_string()
}

/// `--pasv-address` is for clients from outside: clients in `--pasv-local-nets` get the
/// address they reached (a LAN client must not hairpin through the WAN address).
#[test]
fn pasv_address_goes_to_remote_clients_only() {
    let root = TempDir::new("localnets");
    root.write("f.txt", b"lan");
    let srv = Server::anon_with(
        root.path(),
        &[
            "--pasv-address",
            "127.0.0.9",
            "--pasv-local-nets",
            "127.0.0.2/32,10.0.0.0/8",
        ],
    );
    // 127.0.0.1 is not in the local nets: it is told the WAN address.
    let mut wan = srv.anon_client();
    assert_eq!(pasv_ip(&mut wan), "127.0.0.9");
    let mut lan = Client::connect_from(v4(127, 0, 0, 2), srv.addr);
    lan.login("anonymous", "x");
    assert_eq!(pasv_ip(&mut lan), "127.0.0.1");
    let d = lan.pasv();
    drop(d);
    assert_eq!(lan.retr("f.txt"), b"lan");
    // EPSV is the same for both.
    assert!(lan.epsv_port() > 0 && wan.epsv_port() > 0);
    // By default loopback and the private ranges are local.
    let srv = Server::anon_with(root.path(), &["--pasv-address", "127.0.0.9"]);
    assert_eq!(pasv_ip(&mut srv.anon_client()), "127.0.0.1");
    // `none`: everybody gets --pasv-address.
    let srv = Server::anon_with(
        root.path(),
        &["--pasv-address", "127.0.0.9", "--pasv-local-nets", "none"],
    );
    let mut lan = Client::connect_from(v4(127, 0, 0, 2), srv.addr);
    lan.login("anonymous", "x");
    assert_eq!(pasv_ip(&mut lan), "127.0.0.9");
}

/// A host name for `--pasv-address` (a DDNS name) is resolved at start and again when the
/// answer is older than 10 s; a failed resolution keeps the last good address, and a name
/// that never resolved falls back to the address the client reached. /etc/hosts is
/// replaced for the server alone, in a mount namespace of its own.
#[test]
fn pasv_address_host_names_follow_a_dynamic_ip() {
    require_root("bind-mounting /etc/hosts in a mount namespace");
    let root = TempDir::new("ddns");
    let hosts = root.write("hosts", b"127.0.0.7 myhome.example.net\n");
    let wrapper = in_mount_namespace(&format!("mount --bind '{}' /etc/hosts", hosts.display()));
    let args = [
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--pasv-address",
        "myhome.example.net",
        "--pasv-local-nets",
        "none",
    ];
    let srv = Server::start_wrapped(&wrapper, &args);
    let mut c = srv.anon_client();
    assert_eq!(pasv_ip(&mut c), "127.0.0.7");
    // The address changes: after the 10 s cache, PASV follows (answering from the cache
    // while the new answer is fetched, so one more PASV may still show the old one).
    std::fs::write(&hosts, b"127.0.0.8 myhome.example.net\n").unwrap();
    std::thread::sleep(Duration::from_secs(11));
    let t0 = Instant::now();
    assert!(eventually(Duration::from_secs(5), || pasv_ip(&mut c) == "127.0.0.8"));
    // No PASV waited for the resolver.
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The name stops resolving: the last good address stays, with one warning.
    std::fs::write(&hosts, b"127.0.0.1 localhost\n").unwrap();
    std::thread::sleep(Duration::from_secs(11));
    for _ in 0..3 {
        assert_eq!(pasv_ip(&mut c), "127.0.0.8");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(srv.wait_log("cannot resolve myhome.example.net"));
    assert_eq!(
        srv.log()
            .matches("cannot resolve myhome.example.net")
            .count(),
        1
    );
    // A name that is not in /etc/hosts is asked of the name server in /etc/resolv.conf
    // (a fake one on 127.5.5.5:53, answering one A record).
    let dns = std::process::Command::new("python3")
        .arg("-c")
        .arg(FAKE_DNS)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut dns = KillOnDrop(dns);
    let mut ready = [0u8; 6];
    dns.0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    assert_eq!(&ready, b"ready\n");
    let resolv = root.write("resolv.conf", b"nameserver 127.5.5.5\n");
    let wrapper2 = in_mount_namespace(&format!(
        "mount --bind '{}' /etc/hosts && mount --bind '{}' /etc/resolv.conf",
        hosts.display(),
        resolv.display()
    ));
    let srv = Server::start_wrapped(&wrapper2, &{
        let mut a = args;
        a[4] = "dyn.example.net";
        a
    });
    assert!(
        srv.wait_log("--pasv-address dyn.example.net is 127.0.0.6"),
        "{}",
        srv.log()
    );
    assert_eq!(pasv_ip(&mut srv.anon_client()), "127.0.0.6");
    drop(srv);
    drop(dns);
    // A name that never resolved: the address the client reached.
    let srv = Server::start_wrapped(&wrapper, &{
        let mut a = args;
        a[4] = "never.example.net";
        a
    });
    let mut c = srv.anon_client();
    assert_eq!(pasv_ip(&mut c), "127.0.0.1");
    assert!(srv.wait_log("never.example.net"));
}

/// A DNS server on 127.5.5.5:53 that answers every A query with 127.0.0.6.
const FAKE_DNS: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.5.5.5", 53))
sys.stdout.write("ready\n"); sys.stdout.flush()
while True:
    q, addr = s.recvfrom(512)
    end = 12
    while q[end] != 0:
        end += 1 + q[end]
    end += 5
    a = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" + q[12:end]
    a += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x06"
    s.sendto(a, addr)
"#;

/// A child process killed when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Failed logins from one address lead to a ban: new connections from it get 421 before
/// any password is checked; sessions already open and other addresses are not touched; a
/// good login resets the count; exempt networks are never banned; bans end.
#[test]
fn password_guessers_are_banned() {
    let home = TempDir::new("bans");
    home.write("f.txt", b"f");
    let file = home.write(
        "users.txt",
        user_line("alice", "right", home.path(), "ro").as_bytes(),
    );
    let srv = Server::start(&[
        "--users",
        file.to_str().unwrap(),
        "--ban-after",
        "3",
        "--ban-window",
        "60",
        "--ban-time",
        "3",
        "--ban-exempt",
        "127.0.0.5/32",
    ]);
    let from = |ip: u8| Client::connect_from(v4(127, 0, 0, ip), srv.addr);
    let fail = |c: &mut Client| {
        c.expect("USER alice", 331);
        assert_eq!(c.cmd("PASS wrong"), "530 Login incorrect.\r\n");
    };
    // A session of 127.0.0.3 that logged in before the ban.
    let mut early = from(3);
    early.login("alice", "right");
    // Two failures, then a good login: the count starts again.
    let mut c = from(3);
    fail(&mut c);
    fail(&mut c);
    c.login("alice", "right");
    let mut c = from(3);
    fail(&mut c);
    fail(&mut c);
    drop(c);
    // Three in a row (over two sessions): banned.
    let mut c = from(3);
    fail(&mut c);
    assert!(fail_then_closed_or_not(&mut c));
    assert!(srv.wait_log("ban 127.0.0.3 for 3 s after 3 failed logins"));
    let s = connect_from(v4(127, 0, 0, 3), srv.addr).unwrap();
    let (greeting, closed) = read_until_closed(&mut { s });
    assert!(closed);
    assert!(
        String::from_utf8_lossy(&greeting).starts_with("421 "),
        "{greeting:?}"
    );
    // Others are not touched.
    from(4).login("alice", "right");
    assert_eq!(early.retr("f.txt"), b"f");
    // An exempt address is never banned.
    let mut e = from(5);
    fail(&mut e);
    fail(&mut e);
    fail(&mut e);
    from(5).login("alice", "right");
    // The ban ends.
    assert!(srv.wait_log("unban 127.0.0.3"));
    from(3).login("alice", "right");
}

/// After one more failure the session may be closed (3 per session) or go on.
fn fail_then_closed_or_not(c: &mut Client) -> bool {
    c.expect("USER alice", 331);
    c.cmd("PASS wrong") == "530 Login incorrect.\r\n"
}

/// Downloads `name` and returns the seconds it took.
fn timed_retr(c: &mut Client, name: &str, len: usize) -> f64 {
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    let t = Instant::now();
    assert!(c.cmd(&format!("RETR {name}")).starts_with("150 "));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(got.len(), len);
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    secs
}

/// `--anon-max-rate` caps a session in both directions; `--total-max-rate` is shared
/// fairly by the sessions running at once. Bounds are wide (a loaded 2-core machine), and
/// catch both a cap that does nothing and one that is far too slow.
#[test]
fn bandwidth_caps_hold_per_session_and_in_total() {
    let root = TempDir::new("caps");
    let size = 1 << 20;
    root.write("a.bin", &pattern(size, 41));
    let srv = Server::anon_with(root.path(), &["--write", "--anon-max-rate", "400K"]);
    let mut c = srv.anon_client();
    // 1 MiB at 400 KiB/s: about 2.5 s (the first 100 KiB may come at once).
    let t = timed_retr(&mut c, "a.bin", size);
    eprintln!("1 MiB at 400 KiB/s: download {t:.2} s");
    assert!((2.0..3.5).contains(&t), "download took {t:.2} s");
    let t = Instant::now();
    let (_, last) = c.put("STOR up.bin", &pattern(size, 42));
    let t = t.elapsed().as_secs_f64();
    assert_eq!(last, "226 Transfer complete.\r\n");
    eprintln!("1 MiB at 400 KiB/s: upload {t:.2} s");
    assert!((2.0..3.5).contains(&t), "upload took {t:.2} s");
    // ABOR works while a transfer waits for its pace.
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    assert!(c.cmd("RETR a.bin").starts_with("150 "));
    let mut buf = [0u8; 4096];
    d.read_exact(&mut buf).unwrap();
    let t = Instant::now();
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
    assert!(t.elapsed() < Duration::from_secs(1));

    // Three downloads at once share 600 KiB/s: each about 200 KiB/s, 1 MiB in 5 s.
    let srv = Server::anon_with(root.path(), &["--total-max-rate", "600K"]);
    let t0 = Instant::now();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let mut c = srv.anon_client();
            std::thread::spawn(move || timed_retr(&mut c, "a.bin", size))
        })
        .collect();
    let times: Vec<f64> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let all = t0.elapsed().as_secs_f64();
    eprintln!("3 x 1 MiB sharing 600 KiB/s: {all:.2} s in all, each {times:?}");
    assert!((4.0..6.5).contains(&all), "3 MiB in {all:.2} s");
    for t in &times {
        assert!(
            (3.8..6.5).contains(t),
            "one share took {t:.2} s ({times:?})"
        );
    }
}

/// Regression (the admin's day, defect 8): the README's one-liner appended whatever a typo
/// made of the line, and the server then refused to start at boot. --add-user, --del-user
/// and --passwd check the file before and after, keep its other lines, mode and owner, and
/// replace it whole.
#[test]
fn add_user_del_user_and_passwd_edit_the_users_file_safely() {
    use std::os::unix::fs::PermissionsExt;
    let home = TempDir::new("accounts");
    home.write("hello.txt", b"hi");
    let h = home.path().to_str().unwrap().to_string();
    let file = home.join("etc/users.txt");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let f = file.to_str().unwrap();
    let mode = || std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    // A new file is made 0600.
    let (code, out, err) = run_with_input(
        &["--users", f, "--add-user", &format!("alice:{h}:ro")],
        b"a-pw\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with(&format!("edgeftpd: added alice to {f}; reload")),
        "{out}"
    );
    assert_eq!(mode(), 0o600);
    // The admin's comment and mode stay.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# family\n{text}")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, _, err) = run_with_input(
        &["--users", f, "--add-user", &format!("bob:{h}:rw")],
        b"b-pw\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(mode(), 0o640);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# family\nalice:$6$"), "{text}");
    // Typos and duplicates change nothing.
    for (spec, want) in [
        (
            "carol::rw".to_string(),
            "home  must be an absolute path; nothing was changed",
        ),
        (
            format!("carol:{h}"),
            "expected NAME:HOME:PERM, such as alice:/mnt/usb/alice:rw",
        ),
        (
            format!("carol:{h}:write"),
            "perm \"write\": expected ro, rw, upload or none first; nothing was changed",
        ),
        (
            format!("carol:{h}/nope:rw"),
            "is not a directory; nothing was changed",
        ),
        (format!("Alice:{h}:rw"), "Alice is in"),
    ] {
        let (code, _, err) = run_with_input(&["--users", f, "--add-user", &spec], b"c-pw\n");
        assert_eq!(code, Some(2), "{spec}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{spec}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text, "{spec}");
    }
    let (code, _, err) = run_with_input(&["--users", f, "--passwd", "alice"], b"new-pw\n");
    assert_eq!(code, Some(0), "{err}");
    let srv = Server::start(&["--users", f]);
    let mut c = srv.client();
    c.login("alice", "new-pw");
    assert_eq!(c.retr("hello.txt"), b"hi");
    srv.client().login("bob", "b-pw");
    let mut old = srv.client();
    old.expect("USER alice", 331);
    assert_eq!(old.cmd("PASS a-pw"), "530 Login incorrect.\r\n");
    let (code, _, err) = run_with_input(&["--users", f, "--del-user", "bob"], b"");
    assert_eq!(code, Some(0), "{err}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with("# family\nalice:") && !after.contains("bob:"),
        "{after}"
    );
    let (code, _, err) = run_with_input(&["--users", f, "--del-user", "bob"], b"");
    assert_eq!(
        (code, err.trim_end()),
        (
            Some(2),
            &*format!("edgeftpd: --del-user: no account bob in {f}")
        )
    );
    // A broken file is not edited: the error names its line.
    std::fs::write(&file, format!("{after}dave:nohash\n")).unwrap();
    let (code, _, err) = run_with_input(&["--users", f, "--passwd", "alice"], b"x\n");
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("{f}:3: expected name:hash:home:perm")),
        "{err}"
    );
    // No file left beside it.
    let left: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

/// `--allow` and `--deny`: a client outside the allowed networks, or in a denied one, gets
/// `421 Not allowed from your address.` before it can send anything, logged; the others
/// are served.
#[test]
fn allow_and_deny_lists_of_client_networks() {
    use std::io::BufRead;
    let root = TempDir::new("allow-deny");
    root.write("f.txt", b"x");
    let greeting = |srv: &Server, from: [u8; 4]| {
        let s = connect_from(v4(from[0], from[1], from[2], from[3]), srv.addr).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).unwrap();
        line
    };
    let refused = "421 Not allowed from your address.\r\n";
    let srv = Server::anon_with(
        root.path(),
        &["--allow", "127.0.0.0/29", "--deny", "127.0.0.2/32"],
    );
    assert_eq!(greeting(&srv, [127, 0, 0, 2]), refused);
    assert_eq!(greeting(&srv, [127, 0, 0, 9]), refused);
    assert!(greeting(&srv, [127, 0, 0, 3]).starts_with("220 "));
    assert_eq!(srv.anon_client().retr("f.txt"), b"x");
    assert!(srv.wait_log("127.0.0.9: refused: its network is not allowed (--allow, --deny)"));
    assert!(
        srv.log()
            .contains("127.0.0.2: refused: its network is not allowed")
    );
}

/// An account's own limits in the users file (`sessions=2,up=300K,down=300K`, as pure-pw's
/// -y, -t and -T): a third session gets 421 at PASS with the reason logged while another
/// account logs in, a session that ends gives its place back, and the account's sessions
/// share its caps on top of the server's: two downloads at once of 600 KiB each take about
/// 4 s together, one upload of 600 KiB about 2 s. (Bounds as wide as the other cap tests.)
#[test]
fn an_account_has_its_own_session_limit_and_shared_caps() {
    let home = TempDir::new("peruser");
    let size = 600 << 10;
    home.write("a.bin", &pattern(size, 51));
    let etc = TempDir::new("peruser-etc");
    let file = etc.join("users.txt");
    write_users(
        &file,
        &[
            crypt_line(
                "kid",
                "kid-pw",
                "6",
                home.path(),
                "rw,sessions=2,up=300K,down=300K",
            ),
            user_line("mum", "mum-pw", home.path(), "ro"),
        ],
    );
    let srv = Server::start(&["--users", file.to_str().unwrap()]);
    let mut a = srv.client();
    a.login("kid", "kid-pw");
    let mut b = srv.client();
    b.login("kid", "kid-pw");
    let mut third = srv.client();
    third.expect("USER kid", 331);
    assert_eq!(
        third.cmd("PASS kid-pw"),
        "421 Too many sessions for this account.\r\n"
    );
    assert!(third.closed());
    assert!(srv.wait_log("login kid refused: the account has 2 sessions (sessions=)"));
    srv.client().login("mum", "mum-pw");

    let t0 = Instant::now();
    let runs: Vec<_> = [a, b]
        .into_iter()
        .map(|mut c| {
            std::thread::spawn(move || {
                timed_retr(&mut c, "a.bin", size);
                c
            })
        })
        .collect();
    let mut back: Vec<Client> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    let all = t0.elapsed().as_secs_f64();
    eprintln!("2 x 600 KiB sharing the account's 300 KiB/s: {all:.2} s");
    assert!((3.0..6.0).contains(&all), "1200 KiB in {all:.2} s");
    let t = Instant::now();
    let (_, last) = back[0].put("STOR up.bin", &pattern(size, 52));
    let t = t.elapsed().as_secs_f64();
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!((1.5..3.5).contains(&t), "600 KiB up in {t:.2} s");
    // A session that ends gives its place back.
    let gone = back.pop().unwrap();
    let port = gone.stream().local_addr().unwrap().port();
    drop(gone);
    assert!(srv.wait_log(&format!("127.0.0.1:{port}: disconnected")));
    srv.client().login("kid", "kid-pw");
}
