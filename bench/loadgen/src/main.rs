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
//!       `--tls 1`: explicit FTPS (AUTH TLS, PBSZ 0, PROT P), each data connection resuming
//!       its own control connection's TLS session, as curl and lftp do.
//!   loadgen idle --addr HOST:PORT --sessions N [--duration SECS] [--tls 1]
//!       Opens N sessions and logs each in, prints `READY N`, then holds them idle
//!       until stdin is closed (or SECS elapse), QUITs them and prints `DONE`.
//!   loadgen list --addr HOST:PORT --path DIR --cmd LIST|MLSD --runs N
//!       N times: new session, login, then PASV + CMD DIR, read to EOF and the
//!       226; prints `ms=M lines=L bytes=B` per run, timed from PASV to 226.
//!       A server that rejects CMD (5xx) makes it print `unsupported CODE TEXT`.
//!   loadgen files --addr HOST:PORT --list FILE --sessions N --op get|put [--prefix DIR] [--tls 1]
//!       What a phone backup or `lftp mirror` does: N sessions log in once each and share
//!       the files of FILE (lines `PATH SIZE`) round robin; each file is EPSV, RETR PATH (or
//!       STOR DIR/PATH of SIZE bytes), one data connection, its 226. Sizes are checked.
//!       Prints `files=F bytes=B seconds=T` (T from the first login to the last 226).
//!   loadgen soak --addr HOST:PORT (settings in SOAK_* environment variables: see soak.rs)
//!       `make soak`'s traffic: many clients, honest and faulty, checked as it goes.

use std::env;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod soak;

type Res<T> = Result<T, String>;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One FTP reply: code and full text (all lines).
struct Reply {
    code: u32,
    text: String,
}

/// A connection's bytes: plain, or TLS (the certificate is not checked: a bench).
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(t) => t.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(b),
            Conn::Tls(t) => t.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

/// Accepts any certificate (the bench's own, self-signed), but checks the signatures.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration with a session store of its own: one per control connection,
/// so its data connections resume its session and no other.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // LOADGEN_TLS12=1 (the soak): TLS 1.2 only. A rustls client uses each TLS 1.3 ticket
    // once, and edgeftpd's data connections send none, so a session of ours could resume
    // TLS 1.3 only as many times as its control connection sent tickets (curl and lftp
    // reuse one ticket: their TLS 1.3 is what `make test` covers).
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        if env::var("LOADGEN_TLS12").is_ok_and(|v| v == "1") {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
    let c = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    Arc::new(c)
}

fn tls_wrap(cfg: &Arc<rustls::ClientConfig>, sock: TcpStream, peer: IpAddr) -> Res<Conn> {
    let name = rustls::pki_types::ServerName::IpAddress(peer.into());
    let mut conn = rustls::ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
    let mut sock = sock;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
}

/// A control connection.
struct Ctrl {
    rd: BufReader<Conn>,
    peer: IpAddr,
    /// This session's TLS configuration, after AUTH TLS.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The address connections are made from (None: the kernel's choice).
    local: Option<IpAddr>,
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

/// Connects from `local` (a loopback address of its own, for the soak's many clients).
fn connect_from(sa: &SocketAddr, local: Option<IpAddr>) -> Res<TcpStream> {
    let s = match local {
        None => TcpStream::connect_timeout(sa, IO_TIMEOUT),
        Some(ip) => soak::bound_connect(sa, ip),
    }
    .map_err(|e| format!("connect {sa}: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok();
    s.set_write_timeout(Some(IO_TIMEOUT)).ok();
    s.set_nodelay(true).ok();
    Ok(s)
}

impl Ctrl {
    fn open(sa: &SocketAddr) -> Res<Ctrl> {
        Ctrl::open_from(sa, None)
    }

    fn open_from(sa: &SocketAddr, local: Option<IpAddr>) -> Res<Ctrl> {
        let s = connect_from(sa, local)?;
        let mut c = Ctrl {
            rd: BufReader::with_capacity(4096, Conn::Plain(s)),
            peer: sa.ip(),
            tls: None,
            local,
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

    /// AUTH TLS, the handshake, PBSZ 0 and PROT P.
    fn start_tls(self) -> Res<Ctrl> {
        let mut c = self;
        c.cmd("AUTH TLS", &[234])?;
        let Conn::Plain(sock) = c.rd.into_inner() else {
            return Err("AUTH TLS twice".into());
        };
        // A fresh configuration per session: its own session store (see tls_config).
        let base = tls_config();
        let mut cfg = (*base).clone();
        cfg.resumption = rustls::client::Resumption::in_memory_sessions(4);
        let cfg = Arc::new(cfg);
        let conn = tls_wrap(&cfg, sock, c.peer)?;
        let mut t = Ctrl {
            rd: BufReader::with_capacity(4096, conn),
            peer: c.peer,
            tls: Some(cfg),
            local: c.local,
        };
        t.cmd("PBSZ 0", &[200])?;
        t.cmd("PROT P", &[200])?;
        Ok(t)
    }

    /// A data connection's stream (TLS after PROT P).
    fn data(&self, sock: TcpStream) -> Res<Conn> {
        match &self.tls {
            Some(cfg) => tls_wrap(cfg, sock, self.peer),
            None => Ok(Conn::Plain(sock)),
        }
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
        connect_from(&SocketAddr::new(self.peer, port), self.local)
    }

    /// EPSV: `229 ... (|||port|)`, connected on the control connection's peer address.
    fn epsv(&mut self) -> Res<TcpStream> {
        let r = self.cmd("EPSV", &[229])?;
        let port = r
            .text
            .split('|')
            .nth(3)
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("bad 229: {}", r.text))?;
        connect_from(&SocketAddr::new(self.peer, port), self.local)
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
fn drain(mut data: impl Read, buf: &mut [u8]) -> Res<(u64, u64)> {
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
    let data = c.data(data)?;
    let got = drain(data, buf)?;
    c.expect(&[226, 250], cmd)?;
    Ok(got)
}

fn one_session(
    sa: &SocketAddr,
    path: &str,
    buf: &mut [u8],
    expect: Option<u64>,
    tls: bool,
) -> Res<()> {
    let mut c = Ctrl::open(sa)?;
    if tls {
        c = c.start_tls()?;
    }
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
    tls: bool,
    list: String,
    op: String,
    prefix: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen sessions --addr H:P --path FILE --clients N --duration S [--expect-bytes B]\n       \
         loadgen idle --addr H:P --sessions N [--duration S]\n       \
         loadgen list --addr H:P --path DIR --cmd LIST|MLSD --runs N\n       \
         loadgen files --addr H:P --list FILE --sessions N --op get|put [--prefix DIR] [--tls 1]"
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
        tls: false,
        list: String::new(),
        op: "get".into(),
        prefix: String::new(),
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
            "--tls" => a.tls = num(&v) != 0.0,
            "--list" => a.list = v,
            "--op" => a.op = v,
            "--prefix" => a.prefix = v,
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
        let tls = a.tls;
        hs.push(thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                match one_session(&sa, &path, &mut buf, expect, tls) {
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
        if a.tls {
            c = c
                .start_tls()
                .map_err(|e| format!("session {}: {e}", i + 1))?;
        }
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

/// The bytes every upload sends (its first SIZE bytes, repeated past 64 KiB).
fn pattern() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `size` bytes of `pat` and ends the stream (a TLS close_notify first).
fn send_upload(mut data: Conn, pat: &[u8], size: u64) -> Res<()> {
    let mut left = size;
    while left > 0 {
        let n = left.min(pat.len() as u64) as usize;
        data.write_all(&pat[..n])
            .map_err(|e| format!("write data: {e}"))?;
        left -= n as u64;
    }
    if let Conn::Tls(t) = &mut data {
        t.conn.send_close_notify();
    }
    data.flush().map_err(|e| format!("flush data: {e}"))?;
    let sock = match &data {
        Conn::Plain(s) => s,
        Conn::Tls(t) => &t.sock,
    };
    let _ = sock.shutdown(std::net::Shutdown::Write);
    // Wait for the server's end (FIN, or its close_notify) so the 226 is about whole bytes.
    let mut sink = [0u8; 512];
    while let Ok(n) = data.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// One session's share of `files`: one login, then a data connection per file.
fn files_session(
    sa: &SocketAddr,
    files: &[(String, u64)],
    a: &Args,
    pat: &[u8],
    bytes: &AtomicU64,
) -> Res<()> {
    let mut c = Ctrl::open(sa)?;
    if a.tls {
        c = c.start_tls()?;
    }
    c.login()?;
    c.cmd("TYPE I", &[200])?;
    let mut buf = vec![0u8; 256 * 1024];
    for (path, size) in files {
        let sock = c.epsv()?;
        if a.op == "put" {
            let cmd = format!("STOR {}/{path}", a.prefix);
            c.send(&cmd)?;
            c.expect(&[150, 125], &cmd)?;
            send_upload(c.data(sock)?, pat, *size)?;
            c.expect(&[226, 250], &cmd)?;
        } else {
            let cmd = format!("RETR {path}");
            c.send(&cmd)?;
            c.expect(&[150, 125], &cmd)?;
            let (got, _) = drain(c.data(sock)?, &mut buf)?;
            c.expect(&[226, 250], &cmd)?;
            if got != *size {
                return Err(format!("{cmd}: got {got} bytes, expected {size}"));
            }
        }
        bytes.fetch_add(*size, Ordering::Relaxed);
    }
    let _ = c.quit();
    Ok(())
}

fn mode_files(a: &Args, sa: SocketAddr) -> Res<()> {
    if a.list.is_empty() || a.sessions == 0 || !(a.op == "get" || a.op == "put") {
        usage()
    }
    let text = std::fs::read_to_string(&a.list).map_err(|e| format!("{}: {e}", a.list))?;
    let all: Vec<(String, u64)> = text
        .lines()
        .filter_map(|l| {
            let (p, n) = l.rsplit_once(' ')?;
            Some((p.to_string(), n.parse().ok()?))
        })
        .collect();
    if all.is_empty() {
        return Err(format!("{}: no files listed", a.list));
    }
    let pat = pattern();
    let bytes = AtomicU64::new(0);
    let t0 = Instant::now();
    let results: Vec<Res<()>> = thread::scope(|sc| {
        let hs: Vec<_> = (0..a.sessions)
            .map(|i| {
                let share: Vec<(String, u64)> =
                    all.iter().skip(i).step_by(a.sessions).cloned().collect();
                let (pat, bytes) = (&pat, &bytes);
                sc.spawn(move || files_session(&sa, &share, a, pat, bytes))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    println!(
        "files={} bytes={} seconds={secs:.3}",
        all.len(),
        bytes.load(Ordering::Relaxed)
    );
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
        "files" => mode_files(&a, sa),
        "soak" => soak::run(sa),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        exit(1)
    }
}
