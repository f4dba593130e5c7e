//! Test harness: starts the real edgeftpd binary on 127.0.0.1 port 0 with a temporary root,
//! and speaks FTP to it over real loopback sockets. One support module for every test:
//! temporary trees, the server, a raw client, users files, and (in `canary`) the tree with
//! canaries outside the root that the path tests and the fuzz checks share.
//!
//! `EDGEFTPD_BIN` overrides the binary (a cross-built one) and `EDGEFTPD_RUNNER` a command
//! prefix to run it with (`qemu-arm-static`), as ripgrep's cross runner does.

#![allow(dead_code)]

pub mod canary;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// How long to wait for anything: generous, because the binary may run under qemu.
pub const WAIT: Duration = Duration::from_secs(30);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("edgeftpd-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }
    /// Writes a program (a shell script) that may be run: mode 0755.
    pub fn script(&self, rel: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(rel, text.as_bytes());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server binary and the runner prefix (empty for native).
pub fn binary() -> (PathBuf, Vec<String>) {
    let bin = std::env::var_os("EDGEFTPD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_edgeftpd")));
    let runner = std::env::var("EDGEFTPD_RUNNER")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    (bin, runner)
}

/// A `Command` for the server binary with the runner applied.
pub fn server_command() -> Command {
    let (bin, runner) = binary();
    match runner.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// Pseudo-random data of `len` bytes (deterministic per seed).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Adds `--listen 127.0.0.1:0` and a passive range unless `args` name them, then `args`,
/// and debug logging (every command is in the log).
pub fn with_test_defaults(cmd: &mut Command, args: &[&str]) {
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    if !args.contains(&"--pasv-ports") {
        cmd.args(["--pasv-ports", "40000-44999"]);
    }
    cmd.args(args).env("RUST_LOG", "debug");
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server with `args`; adds `--listen 127.0.0.1:0` unless `--listen` is given.
    pub fn start(args: &[&str]) -> Server {
        Server::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = server_command();
        with_test_defaults(&mut cmd, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Server::spawn(cmd)
    }

    /// Started with `--config FILE` alone (and the test passive range): the listen
    /// address is the file's.
    pub fn from_config(conf: &Path) -> Server {
        let mut cmd = server_command();
        cmd.args([
            "--config",
            conf.to_str().unwrap(),
            "--pasv-ports",
            "40000-44999",
        ])
        .env("RUST_LOG", "debug");
        Server::spawn(cmd)
    }

    /// Anonymous, read-only, on `root`.
    pub fn anon(root: &Path) -> Server {
        Server::start(&["--anonymous", "--root", root.to_str().unwrap()])
    }

    /// Anonymous on `root`, with more flags (`--write` among them, for write access).
    pub fn anon_with(root: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["--anonymous", "--root", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start(&args)
    }

    /// Anonymous with write access, on `root`.
    pub fn anon_rw(root: &Path) -> Server {
        Server::start(&["--anonymous", "--write", "--root", root.to_str().unwrap()])
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> bool {
        let end = Instant::now() + WAIT;
        while Instant::now() < end {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process that serves clients: under `--run-as` started as root, the one child of
    /// the monitor process ([`Self::pid`]); else the server's own.
    pub fn serving_pid(&self) -> u32 {
        let monitor = self.pid().to_string();
        let end = Instant::now() + WAIT;
        while Instant::now() < end {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
                    continue;
                };
                let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:"));
                if ppid.map(str::trim) == Some(monitor.as_str()) {
                    return e.file_name().to_str().unwrap().parse().unwrap();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no serving process under {monitor}; log:\n{}", self.log());
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A logged-in anonymous client.
    pub fn anon_client(&self) -> Client {
        let mut c = self.client();
        c.login("anonymous", "guest@example.com");
        c
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + WAIT;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            assert!(Instant::now() < end, "server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw FTP control connection.
pub struct Client {
    pub ctl: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut c = Client {
            ctl: BufReader::new(s),
        };
        let greet = c.reply();
        assert!(greet.starts_with("220"), "greeting: {greet}");
        c
    }

    /// Connects and returns the greeting as it came (all its lines), CRLFs kept.
    pub fn connect_raw(addr: SocketAddr) -> String {
        let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        Client {
            ctl: BufReader::new(s),
        }
        .reply()
    }

    pub fn stream(&self) -> &TcpStream {
        self.ctl.get_ref()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.ctl.get_mut().write_all(bytes).unwrap();
    }

    /// Reads one reply (all lines of a multi-line one), lossily as text, CRLFs kept.
    pub fn reply(&mut self) -> String {
        String::from_utf8_lossy(&self.reply_bytes()).into_owned()
    }

    pub fn reply_bytes(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut first = Vec::new();
        self.ctl.read_until(b'\n', &mut first).unwrap();
        assert!(
            !first.is_empty(),
            "connection closed while waiting for a reply"
        );
        all.extend_from_slice(&first);
        if first.len() >= 4 && first[3] == b'-' {
            let code = first[..3].to_vec();
            loop {
                let mut l = Vec::new();
                self.ctl.read_until(b'\n', &mut l).unwrap();
                assert!(!l.is_empty(), "closed inside a multi-line reply");
                all.extend_from_slice(&l);
                if l.len() >= 4 && l[..3] == code[..] && l[3] == b' ' {
                    break;
                }
            }
        }
        all
    }

    /// Sends a command line (CRLF added) and returns the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    pub fn cmd_bytes(&mut self, line: &[u8]) -> String {
        let mut l = line.to_vec();
        l.extend_from_slice(b"\r\n");
        self.send_raw(&l);
        self.reply()
    }

    /// Sends a command and asserts the reply's code; returns the reply.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        let r = self.cmd(line);
        assert!(
            r.starts_with(&format!("{code}")),
            "{line:?}: expected {code}, got {r:?}"
        );
        r
    }

    /// True when the server has closed the connection (reads EOF within the wait time).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.ctl.read(&mut b), Ok(0) | Err(_))
    }

    pub fn login(&mut self, user: &str, pass: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {pass}"), 230);
    }

    /// PASV and connect to the advertised address and port.
    pub fn pasv(&mut self) -> TcpStream {
        let r = self.expect("PASV", 227);
        // From the control connection's own address: the server serves no other.
        let from = self.stream().local_addr().unwrap().ip();
        let s = connect_from(from, pasv_addr(&r)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s
    }

    /// The port of an EPSV reply (not connected).
    pub fn epsv_port(&mut self) -> u16 {
        let r = self.expect("EPSV", 229);
        let inner = &r[r.find("(|||").unwrap() + 4..];
        inner[..inner.find('|').unwrap()].parse().unwrap()
    }

    /// EPSV and connect.
    pub fn epsv(&mut self) -> TcpStream {
        let port = self.epsv_port();
        let ip = self.stream().peer_addr().unwrap().ip();
        let from = self.stream().local_addr().unwrap().ip();
        let s = connect_from(from, SocketAddr::new(ip, port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s
    }

    /// Runs a download-style command over passive mode: returns (data, 150 reply, final reply).
    pub fn get(&mut self, line: &str) -> (Vec<u8>, String, String) {
        self.get_bytes(line.as_bytes())
    }

    /// Downloads a file in binary mode; asserts success.
    pub fn retr(&mut self, path: &str) -> Vec<u8> {
        self.expect("TYPE I", 200);
        let (data, first, last) = self.get(&format!("RETR {path}"));
        assert!(first.starts_with("150"), "RETR {path}: {first}");
        assert!(last.starts_with("226"), "RETR {path}: {last}");
        data
    }

    /// Uploads with `verb` (STOR/APPE/STOU) in passive mode: returns (150 reply, final reply).
    pub fn put(&mut self, line: &str, data: &[u8]) -> (String, String) {
        let mut d = self.epsv();
        let first = self.cmd(line);
        if !first.starts_with("150") {
            return (first, String::new());
        }
        d.write_all(data).unwrap();
        drop(d);
        let last = self.reply();
        (first, last)
    }

    /// A listing command's data, as text.
    pub fn list(&mut self, line: &str) -> String {
        let (data, first, last) = self.get(line);
        assert!(first.starts_with("150"), "{line}: {first}");
        assert!(last.starts_with("226"), "{line}: {last}");
        String::from_utf8_lossy(&data).into_owned()
    }
}

/// Runs a shell command line; returns (success, stdout, stderr).
pub fn sh(script: &str) -> (bool, String, String) {
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The address and port of a 227 reply, `(h1,h2,h3,h4,p1,p2)`.
pub fn pasv_addr(reply: &str) -> SocketAddr {
    let inner = &reply[reply.find('(').unwrap() + 1..reply.find(')').unwrap()];
    let n: Vec<u8> = inner
        .split(',')
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let ip = std::net::Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    SocketAddr::from((ip, u16::from(n[4]) << 8 | u16::from(n[5])))
}

/// The port of a 227 reply.
pub fn pasv_port(reply: &str) -> u16 {
    pasv_addr(reply).port()
}

/// Fails (never skips) when the machine has no IPv6 loopback.
pub fn require_ipv6() {
    std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0))
        .expect("these tests need IPv6 loopback (::1)");
}

/// An IPv4 address.
pub fn v4(a: u8, b: u8, c: u8, d: u8) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
}

/// The last component of a path, as text.
pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

/// Names in `dir` that look like our temporary upload files, sorted.
pub fn temp_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".edgeftpd-upload."))
        .collect();
    v.sort();
    v
}

/// The one way the tests make a password hash: a shell command that prints one
/// (`openssl passwd -6 pw`, `busybox mkpasswd -m md5 pw`).
pub fn hash(cmd: &str) -> String {
    let (ok, out, err) = sh(cmd);
    assert!(ok, "{cmd}: {err}");
    out.trim().to_string()
}

/// A users-file line for `name` with password `pw` hashed with crypt scheme `algo` (`1`,
/// `5` or `6`) by openssl, or busybox where openssl is missing.
pub fn crypt_line(name: &str, pw: &str, algo: &str, home: &Path, perm: &str) -> String {
    let bb = match algo {
        "1" => "md5",
        "5" => "sha256",
        _ => "sha512",
    };
    let h = hash(&format!(
        "openssl passwd -{algo} -salt testsalt '{pw}' 2>/dev/null || busybox mkpasswd -m {bb} '{pw}' testsalt"
    ));
    assert!(h.starts_with(&format!("${algo}$")), "{h}");
    format!("{name}:{h}:{}:{perm}\n", home.display())
}

/// A users-file line for `name` with password `pw` (SHA-512 crypt).
pub fn user_line(name: &str, pw: &str, home: &Path, perm: &str) -> String {
    crypt_line(name, pw, "6", home, perm)
}

/// A users file and the homes it names.
pub struct Users {
    pub homes: TempDir,
    pub file: PathBuf,
}

/// alice ($1$, rw), bob ($5$, ro), carol ($6$, rw), dave (locked `!`), eve (`*`), and
/// busybox-made md5/sha256 users; each home holds `whoami.txt`.
pub fn users() -> Users {
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

/// A server for the accounts of [`users`], with `extra` flags.
pub fn users_server(u: &Users, extra: &[&str]) -> Server {
    let mut args = vec!["--users", u.file.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

// ---- Helpers for the protocol conformance tests (commands.rs, data_channel.rs, listing.rs, paths.rs, cli.rs and the rest) ----

/// A `Command` running the server binary behind `wrapper` (such as `["prlimit", "--fsize=1"]`
/// or `["unshare", "-m", "sh", "-c", "...; exec \"$@\"", "sh"]`), runner applied.
pub fn wrapped_command<S: AsRef<std::ffi::OsStr>>(wrapper: &[S]) -> Command {
    let (bin, runner) = binary();
    let mut c = Command::new(&wrapper[0]);
    c.args(&wrapper[1..]).args(runner).arg(bin);
    c
}

/// A wrapper (for [`wrapped_command`] and [`Server::start_wrapped`]) that runs the server in
/// a mount namespace of its own after the shell commands `setup` (mounts): nothing leaks
/// into the host's mount table, even if the test dies. Needs root.
pub fn in_mount_namespace(setup: &str) -> Vec<String> {
    let script = format!("{setup} && exec \"$@\"");
    [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
    ]
    .map(String::from)
    .to_vec()
}

impl Server {
    /// Starts the server from a prepared command, capturing stderr as `start` does. Nothing
    /// is added: give `--listen`, `--pasv-ports` and `RUST_LOG` yourself.
    pub fn spawn(cmd: Command) -> Server {
        Server::try_spawn(cmd).unwrap_or_else(|log| panic!("server did not start; log:\n{log}"))
    }

    /// Like `spawn`; a server that does not start gives its log instead of a panic.
    pub fn try_spawn(mut cmd: Command) -> Result<Server, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start edgeftpd");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l2 = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(i) = line.find("listening on ") {
                    let addr: SocketAddr = line[i + 13..].trim().parse().unwrap();
                    let _ = tx.send(addr);
                    sent = true;
                }
                let mut g = l2.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let addr = match rx.recv_timeout(WAIT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                // The reader thread may still be appending the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Err(log.lock().unwrap().clone());
            }
        };
        Ok(Server { child, addr, log })
    }

    /// Like `start`, with the binary run behind `wrapper` (see [`wrapped_command`]).
    pub fn start_wrapped<S: AsRef<std::ffi::OsStr>>(wrapper: &[S], args: &[&str]) -> Server {
        let mut cmd = wrapped_command(wrapper);
        with_test_defaults(&mut cmd, args);
        Server::spawn(cmd)
    }
}

/// A TCP connection to `to` from the local address `from` (such as 127.0.0.2), port chosen
/// by the kernel: lets a test be "another host" on loopback.
pub fn connect_from(from: std::net::IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = if from.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    // Close-on-exec, as std's sockets are: a server started later must not inherit it.
    let fd = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    rustix::net::bind(&fd, &SocketAddr::new(from, 0))?;
    rustix::net::connect(&fd, &to)?;
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(WAIT))?;
    Ok(s)
}

/// Closes `s` with a TCP reset (SO_LINGER 0) instead of an orderly FIN.
pub fn reset(s: TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO));
    drop(s);
}

/// Reads until EOF (or a reset, or the wait time): true when the peer closed.
pub fn read_until_closed(s: &mut TcpStream) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (all, true),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (all, true),
            Err(_) => return (all, false),
        }
    }
}

/// True when a connection arrives on `l` within `within`.
pub fn connection_arrives(l: &std::net::TcpListener, within: Duration) -> bool {
    l.set_nonblocking(true).unwrap();
    let end = Instant::now() + within;
    while Instant::now() < end {
        if l.accept().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Client {
    /// Connects to `addr` from the local address `from`; asserts the 220 greeting.
    pub fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> Client {
        let s = connect_from(from, addr).expect("connect");
        let mut c = Client {
            ctl: BufReader::new(s),
        };
        let greet = c.reply();
        assert!(greet.starts_with("220"), "greeting: {greet}");
        c
    }

    /// Like `get` with a command line given as bytes (names that are not UTF-8).
    pub fn get_bytes(&mut self, line: &[u8]) -> (Vec<u8>, String, String) {
        let mut d = self.epsv();
        let first = self.cmd_bytes(line);
        if !first.starts_with("150") {
            return (Vec::new(), first, String::new());
        }
        let mut data = Vec::new();
        d.read_to_end(&mut data).unwrap();
        let last = self.reply();
        (data, first, last)
    }

    /// Like `put`, but a data connection the server closes early (a refused upload) is not a
    /// test failure: returns (150 reply, final reply) all the same.
    pub fn put_lossy(&mut self, line: &str, data: &[u8]) -> (String, String) {
        let mut d = self.epsv();
        let first = self.cmd(line);
        if !first.starts_with("150") {
            return (first, String::new());
        }
        let _ = d.write_all(data);
        drop(d);
        let last = self.reply();
        (first, last)
    }

    /// Sends PORT (or EPRT when `eprt`) for a fresh listener on the control connection's
    /// local address and returns the listener; asserts the 200.
    pub fn active(&mut self, eprt: bool) -> std::net::TcpListener {
        let ip = self.stream().local_addr().unwrap().ip();
        let l = std::net::TcpListener::bind(SocketAddr::new(ip, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        let line = match (eprt, ip) {
            (false, std::net::IpAddr::V4(v4)) => {
                let o = v4.octets();
                format!(
                    "PORT {},{},{},{},{},{}",
                    o[0],
                    o[1],
                    o[2],
                    o[3],
                    port >> 8,
                    port & 0xff
                )
            }
            (_, std::net::IpAddr::V4(v4)) => format!("EPRT |1|{v4}|{port}|"),
            (_, std::net::IpAddr::V6(v6)) => format!("EPRT |2|{v6}|{port}|"),
        };
        self.expect(&line, 200);
        l
    }
}

// ---- Helpers for the hardening tests (abuse.rs, limits.rs, process.rs) ----

impl Server {
    /// Waits up to `within` for the process to exit: its status, or `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + within;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
