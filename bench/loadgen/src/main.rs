//! loadgen — a minimal FTP client load generator for `make bench`.
//!
//! Speaks FTP directly over std::net (USER/PASS, TYPE I, PASV + 227 parsing,
//! RETR/LIST/MLSD, QUIT) so that the client is not the bottleneck. Only talks
//! to loopback addresses (127.0.0.0/8, ::1): anything else is refused.
//!
//! Modes:
//!   loadgen sessions --addr HOST:PORT --path FILE --clients N --duration SECS [--expect-bytes B]
//!       Each of N threads loops: connect, anonymous login, TYPE I, PASV, RETR FILE
//!       (read to EOF, then 226), QUIT. Prints one line:
//!       `sessions=S errors=E seconds=T rate=R` (R = completed sessions / second).
//!   loadgen idle --addr HOST:PORT --sessions N [--duration SECS]
//!       Opens N sessions and logs each in, prints `READY N`, then holds them idle
//!       until stdin is closed (or SECS elapse), QUITs them and prints `DONE`.
//!   loadgen list --addr HOST:PORT --path DIR --cmd LIST|MLSD --runs N
//!       N times: new session, login, then PASV + CMD DIR, read to EOF and the
//!       226; prints `ms=M lines=L bytes=B` per run, timed from PASV to 226.
//!       A server that rejects CMD (5xx) makes it print `unsupported CODE TEXT`.

use std::env;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One FTP reply: code and full text (all lines).
struct Reply {
    code: u32,
    text: String,
}

/// A control connection.
struct Ctrl {
    rd: BufReader<TcpStream>,
    peer: IpAddr,
}

fn is_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn resolve(addr: &str) -> Res<SocketAddr> {
    let sa = addr
        .to_socket_addrs()
        .map_err(|e| format!("bad address {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("address {addr} resolves to nothing"))?;
    if !is_loopback(&sa.ip()) {
        return Err(format!(
            "refusing non-loopback address {sa}: benchmarks stay on loopback"
        ));
    }
    Ok(sa)
}

fn connect(sa: &SocketAddr) -> Res<TcpStream> {
    let s = TcpStream::connect_timeout(sa, IO_TIMEOUT).map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok();
    s.set_write_timeout(Some(IO_TIMEOUT)).ok();
    s.set_nodelay(true).ok();
    Ok(s)
}

impl Ctrl {
    fn open(sa: &SocketAddr) -> Res<Ctrl> {
        let s = connect(sa)?;
        let mut c = Ctrl {
            rd: BufReader::with_capacity(4096, s),
            peer: sa.ip(),
        };
        c.expect(&[220], "greeting")?;
        Ok(c)
    }

    fn read_line(&mut self) -> Res<String> {
        let mut line = String::new();
        let n = self
            .rd
            .read_line(&mut line)
            .map_err(|e| format!("read reply: {e}"))?;
        if n == 0 {
            return Err("control connection closed by server".into());
        }
        Ok(line)
    }

    /// Reads one (possibly multi-line) reply.
    fn reply(&mut self) -> Res<Reply> {
        let first = self.read_line()?;
        let code: u32 = first
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("malformed reply: {first:?}"))?;
        let mut text = first.clone();
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            loop {
                let l = self.read_line()?;
                text.push_str(&l);
                if l.starts_with(&end) {
                    break;
                }
            }
        }
        Ok(Reply {
            code,
            text: text.trim_end().to_string(),
        })
    }

    fn expect(&mut self, codes: &[u32], what: &str) -> Res<Reply> {
        let r = self.reply()?;
        if codes.contains(&r.code) {
            Ok(r)
        } else {
            Err(format!("{what}: unexpected reply {}", r.text))
        }
    }

    fn send(&mut self, cmd: &str) -> Res<()> {
        let s = self.rd.get_mut();
        s.write_all(format!("{cmd}\r\n").as_bytes())
            .map_err(|e| format!("send {cmd}: {e}"))
    }

    fn cmd(&mut self, cmd: &str, codes: &[u32]) -> Res<Reply> {
        self.send(cmd)?;
        self.expect(codes, cmd)
    }

    fn login(&mut self) -> Res<()> {
        let r = self.cmd("USER anonymous", &[230, 331])?;
        if r.code == 331 {
            self.cmd("PASS bench@example.invalid", &[230])?;
        }
        Ok(())
    }

    /// PASV: parses `227 ... (h1,h2,h3,h4,p1,p2)` and connects to the port on
    /// the control connection's peer address (the advertised host is only used
    /// for its port, so a data connection can never leave loopback).
    fn pasv(&mut self) -> Res<TcpStream> {
        let r = self.cmd("PASV", &[227])?;
        let open = r
            .text
            .find('(')
            .ok_or_else(|| format!("227 without '(': {}", r.text))?;
        let close = r.text[open..]
            .find(')')
            .ok_or_else(|| format!("227 without ')': {}", r.text))?
            + open;
        let nums: Vec<u32> = r.text[open + 1..close]
            .split(',')
            .map(|x| x.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("bad 227: {}", r.text))?;
        if nums.len() != 6 || nums.iter().any(|&n| n > 255) {
            return Err(format!("bad 227: {}", r.text));
        }
        let port = (nums[4] * 256 + nums[5]) as u16;
        connect(&SocketAddr::new(self.peer, port))
    }

    fn quit(&mut self) -> Res<()> {
        self.send("QUIT")?;
        // Some servers close without a 221 on QUIT; either is fine.
        match self.reply() {
            Ok(_) | Err(_) => Ok(()),
        }
    }
}

/// Reads a data connection to EOF; returns (bytes, newlines).
fn drain(mut data: TcpStream, buf: &mut [u8]) -> Res<(u64, u64)> {
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        match data.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                bytes += n as u64;
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read data: {e}")),
        }
    }
    Ok((bytes, lines))
}

/// Opens a data transfer with CMD, reads it to EOF, then the final reply.
fn transfer(c: &mut Ctrl, cmd: &str, buf: &mut [u8]) -> Res<(u64, u64)> {
    let data = c.pasv()?;
    c.send(cmd)?;
    let r = c.reply()?;
    if r.code != 150 && r.code != 125 {
        return Err(format!("{cmd}: unexpected reply {}", r.text));
    }
    let got = drain(data, buf)?;
    c.expect(&[226, 250], cmd)?;
    Ok(got)
}

fn one_session(sa: &SocketAddr, path: &str, buf: &mut [u8], expect: Option<u64>) -> Res<()> {
    let mut c = Ctrl::open(sa)?;
    c.login()?;
    c.cmd("TYPE I", &[200])?;
    let (bytes, _) = transfer(&mut c, &format!("RETR {path}"), buf)?;
    if let Some(e) = expect {
        if bytes != e {
            return Err(format!("RETR {path}: got {bytes} bytes, expected {e}"));
        }
    }
    c.send("QUIT")?;
    c.expect(&[221], "QUIT")?;
    Ok(())
}

struct Args {
    mode: String,
    addr: String,
    path: String,
    cmd: String,
    clients: usize,
    sessions: usize,
    runs: usize,
    duration: f64,
    expect: Option<u64>,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen sessions --addr H:P --path FILE --clients N --duration S [--expect-bytes B]\n       \
         loadgen idle --addr H:P --sessions N [--duration S]\n       \
         loadgen list --addr H:P --path DIR --cmd LIST|MLSD --runs N"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut it = env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    let mut a = Args {
        mode,
        addr: String::new(),
        path: String::new(),
        cmd: "LIST".into(),
        clients: 1,
        sessions: 1,
        runs: 1,
        duration: 0.0,
        expect: None,
    };
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        let num = |v: &str| -> f64 { v.parse().unwrap_or_else(|_| usage()) };
        match k.as_str() {
            "--addr" => a.addr = v,
            "--path" => a.path = v,
            "--cmd" => a.cmd = v,
            "--clients" => a.clients = num(&v) as usize,
            "--sessions" => a.sessions = num(&v) as usize,
            "--runs" => a.runs = num(&v) as usize,
            "--duration" => a.duration = num(&v),
            "--expect-bytes" => a.expect = Some(num(&v) as u64),
            _ => usage(),
        }
    }
    if a.addr.is_empty() {
        usage()
    }
    a
}

fn mode_sessions(a: &Args, sa: SocketAddr) -> Res<()> {
    if a.duration <= 0.0 || a.clients == 0 || a.path.is_empty() {
        usage()
    }
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let first_err: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.duration);
    let mut hs = Vec::new();
    for _ in 0..a.clients {
        let (done, errors, stop, first_err) = (
            done.clone(),
            errors.clone(),
            stop.clone(),
            first_err.clone(),
        );
        let path = a.path.clone();
        let expect = a.expect;
        hs.push(thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                match one_session(&sa, &path, &mut buf, expect) {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let n = errors.fetch_add(1, Ordering::Relaxed) + 1;
                        first_err.lock().unwrap().get_or_insert(e);
                        // A server that refuses everything should not spin us for the whole run.
                        if n > 1000 {
                            stop.store(true, Ordering::Relaxed);
                        }
                        thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }));
    }
    for h in hs {
        h.join().map_err(|_| "worker panicked".to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    let (d, e) = (done.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    if let Some(msg) = first_err.lock().unwrap().as_ref() {
        eprintln!("loadgen: {e} failed sessions; first error: {msg}");
    }
    println!(
        "sessions={d} errors={e} seconds={secs:.3} rate={:.1}",
        d as f64 / secs
    );
    Ok(())
}

fn mode_idle(a: &Args, sa: SocketAddr) -> Res<()> {
    let mut held = Vec::with_capacity(a.sessions);
    for i in 0..a.sessions {
        let mut c = Ctrl::open(&sa).map_err(|e| format!("session {}: {e}", i + 1))?;
        c.login().map_err(|e| format!("session {}: {e}", i + 1))?;
        held.push(c);
    }
    println!("READY {}", held.len());
    io::stdout().flush().ok();
    // Wait for stdin to close (or a line), or for the duration if one was given.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = io::stdin().read_line(&mut s);
        let _ = tx.send(());
    });
    if a.duration > 0.0 {
        let _ = rx.recv_timeout(Duration::from_secs_f64(a.duration));
    } else {
        let _ = rx.recv();
    }
    for c in held.iter_mut() {
        let _ = c.quit();
    }
    drop(held);
    println!("DONE");
    Ok(())
}

fn mode_list(a: &Args, sa: SocketAddr) -> Res<()> {
    if a.path.is_empty() || a.runs == 0 {
        usage()
    }
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..a.runs {
        let mut c = Ctrl::open(&sa)?;
        c.login()?;
        let t0 = Instant::now();
        let data = c.pasv()?;
        c.send(&format!("{} {}", a.cmd, a.path))?;
        let r = c.reply()?;
        if r.code >= 500 {
            println!("unsupported {}", r.text.lines().next().unwrap_or(""));
            drop(data);
            let _ = c.quit();
            return Ok(());
        }
        if r.code != 150 && r.code != 125 {
            return Err(format!("{}: unexpected reply {}", a.cmd, r.text));
        }
        let (bytes, lines) = drain(data, &mut buf)?;
        c.expect(&[226, 250], &a.cmd)?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let _ = c.quit();
        println!("ms={ms:.3} lines={lines} bytes={bytes}");
    }
    Ok(())
}

fn main() {
    let a = parse_args();
    let sa = match resolve(&a.addr) {
        Ok(sa) => sa,
        Err(e) => {
            eprintln!("loadgen: {e}");
            exit(1)
        }
    };
    let r = match a.mode.as_str() {
        "sessions" => mode_sessions(&a, sa),
        "idle" => mode_idle(&a, sa),
        "list" => mode_list(&a, sa),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        exit(1)
    }
}
