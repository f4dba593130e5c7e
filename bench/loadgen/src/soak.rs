//! `loadgen soak`: the traffic of `make soak` (bench/soak.py starts the server, watches its
//! resources and checks the tree; this module makes the load and checks every reply).
//!
//! SOAK_WORKERS threads, worker `i` connecting from 127.0.0.`10 + i` and owning the folder
//! `w<i>/` of the account's home (SOAK_ROOT on disk), run sessions one after another until
//! SOAK_SECS have passed. Each session logs in (FTPS with resumed data sessions for a
//! SOAK_TLS_SHARE of them), does 1 to 20 random operations and QUITs, or is abandoned.
//! Honest operations: uploads of new files and overwrites (0 to 1 MiB), downloads checked
//! byte for byte, resumed downloads, MLSD (every file the worker knows must be listed),
//! slow readers. Faults, each with the outcome it must have:
//! - `cut_overwrite`: an overwrite whose data connection is reset halfway gets 4xx and the
//!   old file is still there, byte-exact;
//! - `cut_new`: a new upload reset halfway, then completed with SIZE + REST + STOR;
//! - `abor`: ABOR during a download gets 426 + 226 (or 226 when it had ended);
//! - `data_reset`: a download whose data connection is reset gets 426/451;
//! - `garbage`: a line of junk gets 5xx, and the session goes on;
//! - `abandon_retr`, `abandon_stor`: the session vanishes mid-transfer (an abandoned
//!   overwrite must leave the old file; it is checked at the end);
//! - `bad_login`: a wrong password from an address of its own gets 530 (or 421 once that
//!   address is banned);
//! - `over_per_ip`: SOAK_MAX_PER_IP + 1 connections from one address: the last gets 421;
//! - `escape`: SIZE, DELE, MKD and RNFR through a symlink that points out of the root
//!   get 550 (soak.py also checks that nothing out there changed).
//!
//! Any other outcome is an error of its kind. At the end every file the server acknowledged
//! is compared with what was sent. Prints `key=value` lines, then `SOAK DONE`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::FromRawFd;

use super::*;

fn env_or(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_string())
}

/// Connects to `sa` from `local` (bind, then connect). Loopback only: `sa` was checked.
pub fn bound_connect(sa: &SocketAddr, local: IpAddr) -> io::Result<TcpStream> {
    let (SocketAddr::V4(dst), IpAddr::V4(src)) = (sa, local) else {
        return Err(io::Error::other("IPv4 only"));
    };
    // SAFETY: a fresh socket whose fd is owned by the TcpStream made from it at once; the
    // sockaddr structs are locals whose sizes are passed with them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = TcpStream::from_raw_fd(fd);
        let sin = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(ip.octets()),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let a = sin(src, 0);
        if libc::bind(fd, (&a as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        let b = sin(*dst.ip(), dst.port());
        if libc::connect(fd, (&b as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(s)
    }
}

/// Resets a connection (RST, not FIN): SO_LINGER 0, then close.
fn reset(sock: TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a local linger struct of the size passed.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(sock);
}

fn conn_socket(c: Conn) -> TcpStream {
    match c {
        Conn::Plain(s) => s,
        Conn::Tls(t) => t.sock,
    }
}

/// A small fast random generator (xorshift64*), one per worker.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / ((1u64 << 53) as f64) < p
    }
}

/// The bytes of a file made from `seed`.
fn content(seed: u64, size: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut v = Vec::with_capacity(size as usize);
    while (v.len() as u64) < size {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(size as usize);
    v
}

/// What a worker knows of one of its files.
#[derive(Clone, Copy)]
struct Known {
    seed: u64,
    size: u64,
    /// An abandoned overwrite: not touched again, checked at the end.
    frozen: bool,
}

/// Totals across workers.
#[derive(Default)]
struct Stats {
    counts: Mutex<HashMap<String, u64>>,
    first_errors: Mutex<Vec<String>>,
}

impl Stats {
    fn add(&self, key: &str, n: u64) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_insert(0) += n;
    }
    fn error(&self, kind: &str, msg: String) {
        self.add(&format!("errors.{kind}"), 1);
        let mut f = self.first_errors.lock().unwrap();
        if f.len() < 20 {
            f.push(format!("{kind}: {msg}"));
        }
    }
}

struct Cfg {
    sa: SocketAddr,
    root: String,
    user: String,
    pass: String,
    tls_share: f64,
    max_per_ip: usize,
    deadline: Instant,
    /// Names of this run's files start with it (a warm-up run and the main run differ).
    tag: String,
}

struct Worker<'a> {
    id: usize,
    cfg: &'a Cfg,
    stats: &'a Stats,
    rng: Rng,
    files: HashMap<String, Known>,
    next_name: u64,
    buf: Vec<u8>,
}

/// The outcome of one operation: Ok, or an error of a kind (the session is then dropped).
type Op = Result<(), (&'static str, String)>;

fn fail(kind: &'static str) -> impl FnOnce(String) -> (&'static str, String) {
    move |m| (kind, m)
}

impl Worker<'_> {
    fn addr(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + self.id as u8))
    }

    fn dir(&self) -> String {
        format!("w{}", self.id)
    }

    fn login(&mut self, tls: bool) -> Result<Ctrl, (&'static str, String)> {
        let mut c = Ctrl::open_from(&self.cfg.sa, Some(self.addr())).map_err(fail("connect"))?;
        if tls {
            c = c.start_tls().map_err(fail("tls"))?;
        }
        c.cmd(&format!("USER {}", self.cfg.user), &[331])
            .map_err(fail("login"))?;
        c.cmd(&format!("PASS {}", self.cfg.pass), &[230])
            .map_err(fail("login"))?;
        c.cmd("TYPE I", &[200]).map_err(fail("login"))?;
        self.stats.add("commands", 4);
        Ok(c)
    }

    fn pick(&mut self) -> Option<(String, Known)> {
        let live: Vec<_> = self.files.iter().filter(|(_, k)| !k.frozen).collect();
        if live.is_empty() {
            return None;
        }
        let (n, k) = live[self.rng.below(live.len() as u64) as usize];
        Some((n.clone(), *k))
    }

    fn size(&mut self) -> u64 {
        match self.rng.below(10) {
            0 => 0,
            1..=6 => self.rng.below(64 << 10),
            _ => self.rng.below(1 << 20),
        }
    }

    /// Opens a transfer: EPSV, CMD, 150. Returns the data stream.
    fn open(&mut self, c: &mut Ctrl, cmd: &str) -> Result<Conn, (&'static str, String)> {
        let sock = c.epsv().map_err(fail("epsv"))?;
        c.send(cmd).map_err(fail("send"))?;
        self.stats.add("commands", 2);
        let r = c.reply().map_err(fail("reply"))?;
        if r.code != 150 && r.code != 125 {
            return Err(("transfer_refused", format!("{cmd}: {}", r.text)));
        }
        c.data(sock).map_err(fail("data_tls"))
    }

    fn put(&mut self, c: &mut Ctrl, name: &str, data: &[u8], rest: u64) -> Op {
        if rest > 0 {
            c.cmd(&format!("REST {rest}"), &[350])
                .map_err(fail("rest"))?;
            self.stats.add("commands", 1);
        }
        let path = format!("{}/{name}", self.dir());
        let d = self.open(c, &format!("STOR {path}"))?;
        send_upload(d, &data[rest as usize..], data.len() as u64 - rest)
            .map_err(fail("stor_data"))?;
        c.expect(&[226], "STOR").map_err(fail("stor_reply"))?;
        self.stats.add("bytes_up", data.len() as u64 - rest);
        Ok(())
    }

    fn get(&mut self, c: &mut Ctrl, name: &str, k: Known, rest: u64) -> Op {
        if rest > 0 {
            c.cmd(&format!("REST {rest}"), &[350])
                .map_err(fail("rest"))?;
            self.stats.add("commands", 1);
        }
        let d = self.open(c, &format!("RETR {}/{name}", self.dir()))?;
        let mut got = Vec::new();
        let mut d = d;
        d.read_to_end(&mut got)
            .map_err(|e| ("retr_data", e.to_string()))?;
        c.expect(&[226], "RETR").map_err(fail("retr_reply"))?;
        self.stats.add("bytes_down", got.len() as u64);
        if got[..] != content(k.seed, k.size)[rest as usize..] {
            return Err(("retr_mismatch", format!("{name}: {} bytes", got.len())));
        }
        Ok(())
    }

    fn on_disk(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(format!("{}/{}/{name}", self.cfg.root, self.dir())).ok()
    }

    /// A name of this run no file of the worker has had.
    fn new_name(&mut self) -> String {
        self.next_name += 1;
        format!("f{}-{}", self.cfg.tag, self.next_name)
    }

    /// Uploads new random content as `name` (new or an overwrite) and records it.
    fn upload(&mut self, c: &mut Ctrl, name: String) -> Op {
        let (seed, size) = (self.rng.next(), self.size());
        self.put(c, &name, &content(seed, size), 0)?;
        let k = Known {
            seed,
            size,
            frozen: false,
        };
        self.files.insert(name, k);
        Ok(())
    }

    /// Starts downloading the big file and resets the data connection after a first read.
    fn reset_download(&mut self, c: &mut Ctrl) -> Op {
        let mut d = self.open(c, &format!("RETR {BIG_NAME}"))?;
        let _ = d.read(&mut self.buf);
        reset(conn_socket(d));
        Ok(())
    }

    /// One random operation on a logged-in session. Ok(false): the session was abandoned.
    fn op(&mut self, c: &mut Ctrl) -> Result<bool, (&'static str, String)> {
        let roll = self.rng.below(100);
        match roll {
            0..=19 => {
                let name = self.new_name();
                self.upload(c, name)?;
            }
            20..=29 => {
                let Some((name, _)) = self.pick() else {
                    return Ok(true);
                };
                self.upload(c, name)?;
            }
            30..=49 => {
                let Some((name, k)) = self.pick() else {
                    return Ok(true);
                };
                let rest = if self.rng.chance(0.3) {
                    self.rng.below(k.size + 1)
                } else {
                    0
                };
                self.get(c, &name, k, rest)?;
            }
            50..=56 => {
                let r = self.open(c, &format!("MLSD {}", self.dir()))?;
                let mut text = String::new();
                let mut r = r;
                r.read_to_string(&mut text)
                    .map_err(|e| ("mlsd_data", e.to_string()))?;
                c.expect(&[226], "MLSD").map_err(fail("mlsd_reply"))?;
                let names: std::collections::HashSet<&str> = text
                    .lines()
                    .filter_map(|l| l.split_once("; ").map(|x| x.1))
                    .collect();
                for n in self.files.keys() {
                    if !names.contains(n.as_str()) {
                        return Err(("mlsd_missing", n.clone()));
                    }
                }
            }
            57..=60 => {
                // Slow reader: a file read 4 KiB every 5 ms.
                let Some((name, k)) = self.pick() else {
                    return Ok(true);
                };
                let mut d = self.open(c, &format!("RETR {}/{name}", self.dir()))?;
                let mut got = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match d.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&chunk[..n]),
                        Err(e) => return Err(("slow_data", e.to_string())),
                    }
                    thread::sleep(Duration::from_millis(5));
                }
                c.expect(&[226], "RETR").map_err(fail("slow_reply"))?;
                if got != content(k.seed, k.size) {
                    return Err(("retr_mismatch", name));
                }
                self.stats.add("bytes_down", got.len() as u64);
            }
            61..=66 => {
                self.stats.add("faults.cut_overwrite", 1);
                let Some((name, k)) = self.pick() else {
                    return Ok(true);
                };
                let data = content(self.rng.next(), (k.size + 1).max(256 << 10));
                let d = self.open(c, &format!("STOR {}/{name}", self.dir()))?;
                let mut d = d;
                let _ = d.write_all(&data[..data.len() / 2]);
                reset(conn_socket(d));
                let r = c.reply().map_err(fail("cut_reply"))?;
                if r.code / 100 != 4 {
                    return Err(("cut_overwrite_reply", r.text));
                }
                if self.on_disk(&name) != Some(content(k.seed, k.size)) {
                    return Err(("lost_file", format!("{name}: old file not intact")));
                }
            }
            67..=71 => {
                self.stats.add("faults.cut_new", 1);
                let name = self.new_name();
                let (seed, size) = (self.rng.next(), 64 * 1024 + self.rng.below(512 << 10));
                let data = content(seed, size);
                let mut d = self.open(c, &format!("STOR {}/{name}", self.dir()))?;
                let _ = d.write_all(&data[..(size / 2) as usize]);
                reset(conn_socket(d));
                let r = c.reply().map_err(fail("cut_reply"))?;
                if r.code / 100 != 4 {
                    return Err(("cut_new_reply", r.text));
                }
                c.send(&format!("SIZE {}/{name}", self.dir()))
                    .map_err(fail("send"))?;
                let r = c.reply().map_err(fail("size"))?;
                self.stats.add("commands", 1);
                let have = match r.code {
                    213 => r.text[4..]
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| ("size", r.text.clone()))?,
                    550 => 0,
                    _ => return Err(("size", r.text)),
                };
                if have > size / 2 {
                    return Err(("cut_new_size", format!("{have} > {}", size / 2)));
                }
                // The start of what was kept must be what was sent.
                if let Some(disk) = self.on_disk(&name) {
                    if disk[..] != data[..disk.len()] {
                        return Err(("lost_file", format!("{name}: kept bytes differ")));
                    }
                }
                self.put(c, &name, &data, have)?;
                self.files.insert(
                    name,
                    Known {
                        seed,
                        size,
                        frozen: false,
                    },
                );
            }
            72..=77 => {
                self.stats.add("faults.abor", 1);
                let mut d = self.open(c, &format!("RETR {}", BIG_NAME))?;
                let _ = d.read(&mut self.buf);
                c.send("ABOR").map_err(fail("send"))?;
                self.stats.add("commands", 1);
                // Read on until the server closes the data connection.
                let _ = drain(d, &mut self.buf);
                let r = c.reply().map_err(fail("abor_reply"))?;
                if r.code == 426 {
                    c.expect(&[226], "ABOR").map_err(fail("abor_reply"))?;
                } else if r.code != 226 {
                    return Err(("abor_reply", r.text));
                }
            }
            78..=81 => {
                self.stats.add("faults.data_reset", 1);
                self.reset_download(c)?;
                let r = c.reply().map_err(fail("reset_reply"))?;
                if r.code != 426 && r.code != 451 {
                    return Err(("data_reset_reply", r.text));
                }
            }
            82..=86 => {
                self.stats.add("faults.garbage", 1);
                let junk: Vec<u8> = (0..1 + self.rng.below(300))
                    .map(|_| match self.rng.below(4) {
                        0 => b' ' + self.rng.below(95) as u8,
                        1 => 0x80 + self.rng.below(128) as u8,
                        _ => b'A' + self.rng.below(26) as u8,
                    })
                    .filter(|&b| b != b'\n' && b != b'\r' && b != 0xff)
                    .collect();
                let s = c.rd.get_mut();
                let mut line = b"XJUNK ".to_vec();
                line.extend_from_slice(&junk);
                line.extend_from_slice(b"\r\n");
                s.write_all(&line).map_err(|e| ("send", e.to_string()))?;
                self.stats.add("commands", 1);
                let r = c.reply().map_err(fail("garbage_reply"))?;
                if r.code / 100 != 5 {
                    return Err(("garbage_reply", r.text));
                }
            }
            87..=88 => {
                self.stats.add("faults.abandon_retr", 1);
                self.reset_download(c)?;
                return Ok(false);
            }
            89..=90 => {
                self.stats.add("faults.abandon_stor", 1);
                let Some((name, k)) = self.pick() else {
                    return Ok(true);
                };
                let mut d = self.open(c, &format!("STOR {}/{name}", self.dir()))?;
                let _ = d.write_all(&content(self.rng.next(), 100_000));
                self.files.insert(name, Known { frozen: true, ..k });
                reset(conn_socket(d));
                return Ok(false);
            }
            91..=93 => {
                // A file of the worker's own removed now and then keeps the tree small.
                let Some((name, _)) = self.pick() else {
                    return Ok(true);
                };
                c.cmd(&format!("DELE {}/{name}", self.dir()), &[250])
                    .map_err(fail("dele"))?;
                self.stats.add("commands", 1);
                self.files.remove(&name);
            }
            94..=95 => {
                // Out of the root through the symlink soak.py planted: refused, every way.
                self.stats.add("faults.escape", 1);
                for cmd in [
                    "SIZE escape/secret.txt",
                    "DELE escape/secret.txt",
                    "MKD escape/made-by-soak",
                    "RNFR escape/sub/keep.bin",
                ] {
                    c.send(cmd).map_err(fail("send"))?;
                    self.stats.add("commands", 1);
                    let r = c.reply().map_err(fail("escape_reply"))?;
                    if r.code != 550 {
                        return Err(("escape", format!("{cmd}: {}", r.text)));
                    }
                }
            }
            _ => {
                c.cmd("NOOP", &[200]).map_err(fail("noop"))?;
                c.cmd("PWD", &[257]).map_err(fail("pwd"))?;
                self.stats.add("commands", 2);
            }
        }
        Ok(true)
    }

    /// Faults that need connections of their own, from addresses of their own.
    fn side_fault(&mut self) -> Op {
        let cfg = self.cfg;
        if self.rng.chance(0.5) {
            self.stats.add("faults.bad_login", 1);
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 10 + self.id as u8));
            let (mut c, g) = greeted(cfg, ip)?;
            if g.code == 421 {
                return Ok(()); // banned: what repeated wrong passwords earn
            }
            c.cmd(&format!("USER {}", cfg.user), &[331])
                .map_err(fail("bad_login"))?;
            c.cmd("PASS wrong-password", &[530, 421])
                .map_err(fail("bad_login"))?;
        } else {
            self.stats.add("faults.over_per_ip", 1);
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 10 + self.id as u8));
            let mut held = Vec::new();
            for i in 0..=cfg.max_per_ip {
                let (c, g) = greeted(cfg, ip)?;
                let want = if i < cfg.max_per_ip { 220 } else { 421 };
                if g.code != want {
                    return Err(("over_per_ip", format!("connection {}: {}", i + 1, g.text)));
                }
                held.push(c);
            }
            for mut c in held {
                let _ = c.quit();
            }
        }
        Ok(())
    }

    fn run(&mut self) {
        while Instant::now() < self.cfg.deadline {
            if self.rng.chance(0.05) {
                if let Err((kind, m)) = self.side_fault() {
                    self.stats.error(kind, m);
                }
                continue;
            }
            let tls = self.rng.chance(self.cfg.tls_share);
            self.stats.add(
                if tls {
                    "sessions_tls"
                } else {
                    "sessions_plain"
                },
                1,
            );
            let mut c = match self.login(tls) {
                Ok(c) => c,
                Err((kind, m)) => {
                    self.stats.error(kind, m);
                    thread::sleep(Duration::from_millis(200));
                    continue;
                }
            };
            let n = 1 + self.rng.below(20);
            let mut quit = true;
            for _ in 0..n {
                match self.op(&mut c) {
                    Ok(true) => {}
                    Ok(false) => {
                        quit = false;
                        break;
                    }
                    Err((kind, m)) => {
                        self.stats.error(kind, m);
                        quit = false;
                        break;
                    }
                }
            }
            if quit {
                if let Err(e) = c.cmd("QUIT", &[221]) {
                    self.stats.error("quit", e);
                }
                self.stats.add("commands", 1);
            }
        }
    }

    /// Every file the server acknowledged is on disk as sent. Returns the lost ones.
    fn check(&self) -> u64 {
        let mut lost = 0;
        for (name, k) in &self.files {
            if self.on_disk(name) != Some(content(k.seed, k.size)) {
                lost += 1;
                self.stats
                    .error("lost_file", format!("{}/{name}", self.dir()));
            }
        }
        lost
    }
}

/// A control connection from `ip` and its greeting (whatever it is).
fn greeted(cfg: &Cfg, ip: IpAddr) -> Result<(Ctrl, Reply), (&'static str, String)> {
    let s = connect_from(&cfg.sa, Some(ip)).map_err(fail("connect"))?;
    let mut c = Ctrl {
        rd: BufReader::new(Conn::Plain(s)),
        peer: cfg.sa.ip(),
        tls: None,
        local: Some(ip),
    };
    let g = c.reply().map_err(fail("greeting"))?;
    Ok((c, g))
}

/// The shared big file the faulty downloads read (made by soak.py).
const BIG_NAME: &str = "big.bin";

pub fn run(sa: SocketAddr) -> Res<()> {
    let secs: f64 = env_or("SOAK_SECS", "600")
        .parse()
        .map_err(|_| "SOAK_SECS")?;
    let workers: usize = env_or("SOAK_WORKERS", "16")
        .parse()
        .map_err(|_| "SOAK_WORKERS")?;
    let cfg = Cfg {
        sa,
        root: env::var("SOAK_ROOT").map_err(|_| "SOAK_ROOT is needed")?,
        user: env_or("SOAK_USER", "soak"),
        pass: env_or("SOAK_PASS", "soak-pw"),
        tls_share: env_or("SOAK_TLS_SHARE", "0.25")
            .parse()
            .map_err(|_| "SOAK_TLS_SHARE")?,
        max_per_ip: env_or("SOAK_MAX_PER_IP", "8")
            .parse()
            .map_err(|_| "SOAK_MAX_PER_IP")?,
        deadline: Instant::now() + Duration::from_secs_f64(secs),
        tag: env_or("SOAK_TAG", "a"),
    };
    let seed: u64 = env_or("SOAK_SEED", "1").parse().map_err(|_| "SOAK_SEED")?;
    let stats = Stats::default();
    let t0 = Instant::now();
    let lost: u64 = thread::scope(|sc| {
        let hs: Vec<_> = (0..workers)
            .map(|id| {
                let (cfg, stats) = (&cfg, &stats);
                sc.spawn(move || {
                    let mut w = Worker {
                        id,
                        cfg,
                        stats,
                        rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (id as u64 + 1) << 32),
                        files: HashMap::new(),
                        next_name: 0,
                        buf: vec![0u8; 64 * 1024],
                    };
                    w.run();
                    // Abandoned sessions may still be ending on the server.
                    thread::sleep(Duration::from_secs(3));
                    w.check()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(1)).sum()
    });
    let counts = stats.counts.lock().unwrap();
    let mut keys: Vec<_> = counts.keys().collect();
    keys.sort();
    println!("seconds={:.0}", t0.elapsed().as_secs_f64());
    for k in keys {
        println!("{k}={}", counts[k]);
    }
    println!("lost_files={lost}");
    for e in stats.first_errors.lock().unwrap().iter() {
        println!("first_error {e}");
    }
    println!("SOAK DONE");
    Ok(())
}
