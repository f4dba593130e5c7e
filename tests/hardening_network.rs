//! Hardening, network: FTP bounce and data theft, and exhaustion.
//!
//! - PORT/EPRT to another address of this machine (127.0.0.2, ::1, an IPv4-mapped form) or to
//!   a port below 1024 is refused and never connected to (a listener waits there to catch it).
//! - A passive data connection from another address (127.0.0.2) gets no data and does not
//!   spoil the honest client's download or upload.
//! - Many idle connections from many source addresses (127.0.0.x) up to and past
//!   `--max-clients` and `--max-per-ip`; slots come back when clients go or idle out.
//! - The passive port range used up: 425, no leak from repeated PASV, recovery.
//! - A low open-file limit (accept fails with EMFILE): no spinning (CPU time from
//!   /proc/PID/stat), no crash, accepting again once descriptors are free.
//! - Thread creation failing (RLIMIT_NPROC for the unprivileged `--run-as` user): 421, and
//!   the server lives on; a big listing that can't have its helper thread is still whole.

mod hardening_util;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use hardening_util::*;
use support::*;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn port_cmd(ip: [u8; 4], port: u16) -> String {
    format!(
        "PORT {},{},{},{},{},{}",
        ip[0],
        ip[1],
        ip[2],
        ip[3],
        port >> 8,
        port & 0xff
    )
}

/// After a refused PORT/EPRT there is no data connection set up at all.
fn assert_no_data_setup(cl: &mut Client) {
    assert_eq!(
        cl.cmd("LIST"),
        "425 Use PORT, PASV or EPSV first.\r\n",
        "a refused PORT must not leave a data connection set up"
    );
}

#[test]
fn port_and_eprt_to_another_address_are_refused_and_never_connected() {
    let root = TempDir::new("bounce");
    root.write("inside.txt", b"inside\n");
    let srv = Server::anon(root.path());
    let victim = TcpListener::bind("127.0.0.2:0").unwrap();
    let vport = victim.local_addr().unwrap().port();
    let victim6 = TcpListener::bind("[::1]:0").ok();
    let mut cl = srv.anon_client();

    // A valid setup first, so that a refused PORT must also cancel it.
    let _mine = cl.active(false);
    assert_eq!(
        cl.cmd(&port_cmd([127, 0, 0, 2], vport)),
        "500 Illegal PORT command.\r\n"
    );
    assert_no_data_setup(&mut cl);
    assert_eq!(
        cl.cmd(&format!("EPRT |1|127.0.0.2|{vport}|")),
        "500 Illegal EPRT command.\r\n"
    );
    assert_no_data_setup(&mut cl);
    assert_eq!(
        cl.cmd(&format!("EPRT |2|::ffff:127.0.0.2|{vport}|")),
        "500 Illegal EPRT command.\r\n"
    );
    assert_no_data_setup(&mut cl);
    if let Some(l6) = &victim6 {
        let p6 = l6.local_addr().unwrap().port();
        assert_eq!(
            cl.cmd(&format!("EPRT |2|::1|{p6}|")),
            "500 Illegal EPRT command.\r\n"
        );
        assert_no_data_setup(&mut cl);
        assert!(!connection_arrives(l6, Duration::from_millis(300)));
    }
    // Odd spellings of an address are syntax errors, not a way around the check.
    for bad in [
        "PORT 127,0,0,258,4,1".to_string(),
        "PORT 2130706434,4,1".into(),
        "PORT 127,0,0,2,4,1,0".into(),
        "PORT 0x7f,0,0,2,4,1".into(),
        format!("EPRT |1|127.000.000.002|{vport}|"),
        format!("EPRT |1|0x7f.0.0.2|{vport}|"),
        format!("EPRT |1|2130706434|{vport}|"),
        format!("EPRT |2|127.0.0.2|{vport}|"),
    ] {
        let r = cl.cmd(&bad);
        assert!(r.starts_with("501 ") || r.starts_with("500 "), "{bad}: {r}");
        assert_no_data_setup(&mut cl);
    }
    assert!(
        !connection_arrives(&victim, Duration::from_millis(500)),
        "the server connected to 127.0.0.2"
    );
    assert!(srv.wait_log("refused PORT to 127.0.0.2"), "{}", srv.log());
    // The session is fine and active mode to the client itself still works.
    let l = cl.active(true);
    cl.expect("TYPE I", 200);
    cl.send_raw(b"RETR inside.txt\r\n");
    assert!(cl.reply().starts_with("150"));
    let (mut d, _) = l.accept().unwrap();
    let mut data = Vec::new();
    d.read_to_end(&mut data).unwrap();
    assert_eq!(data, b"inside\n");
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
}

#[test]
fn port_and_eprt_to_privileged_ports_are_refused_and_never_connected() {
    require_root("binding a port below 1024 to catch a bounce");
    let root = TempDir::new("bounce-low");
    let srv = Server::anon(root.path());
    let (low, port) = (600..1024)
        .find_map(|p| TcpListener::bind(("127.0.0.1", p)).ok().map(|l| (l, p)))
        .expect("a free port below 1024");
    let mut cl = srv.anon_client();
    for line in [
        port_cmd([127, 0, 0, 1], port),
        format!("EPRT |1|127.0.0.1|{port}|"),
        port_cmd([127, 0, 0, 1], 21),
        port_cmd([127, 0, 0, 1], 1023),
        port_cmd([127, 0, 0, 1], 0),
        "EPRT |1|127.0.0.1|0|".into(),
    ] {
        let r = cl.cmd(&line);
        assert!(r.starts_with("500 Illegal "), "{line}: {r}");
        assert_no_data_setup(&mut cl);
    }
    cl.expect("TYPE I", 200);
    assert!(cl.cmd("RETR x").starts_with("5"));
    assert!(
        !connection_arrives(&low, Duration::from_millis(500)),
        "the server connected to a privileged port"
    );
}

/// Starts a passive transfer whose port a thief on 127.0.0.2 connects to first.
fn thief_first(cl: &mut Client) -> (TcpStream, TcpStream) {
    let port = cl.epsv_port();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let thief = connect_from(v4(127, 0, 0, 2), to).expect("thief connects");
    // Let the thief's connection reach the listen queue ahead of the client's.
    std::thread::sleep(Duration::from_millis(100));
    let honest = TcpStream::connect(to).unwrap();
    honest.set_read_timeout(Some(WAIT)).unwrap();
    (thief, honest)
}

#[test]
fn passive_connection_from_another_address_gets_nothing() {
    let root = TempDir::new("theft");
    let secret = pattern(3 << 20, 7);
    root.write("secret.bin", &secret);
    let srv = rw_server(root.path());
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);

    // Download: the thief is first in the queue and gets nothing; the client gets it all.
    let (mut thief, mut honest) = thief_first(&mut cl);
    assert!(cl.cmd("RETR secret.bin").starts_with("150"));
    let mut got = Vec::new();
    honest.read_to_end(&mut got).unwrap();
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
    assert!(got == secret, "the honest download is incomplete or wrong");
    let (stolen, closed) = read_until_closed(&mut thief);
    assert!(stolen.is_empty(), "the thief got {} bytes", stolen.len());
    assert!(closed, "the thief's connection was not closed");
    assert!(
        srv.wait_log("data connection from 127.0.0.2:"),
        "{}",
        srv.log()
    );

    // Upload: what the thief sends is not stored; the client's data is.
    let (mut thief, mut honest) = thief_first(&mut cl);
    let _ = thief.write_all(b"EVIL DATA FROM THE THIEF\n");
    assert!(cl.cmd("STOR up.bin").starts_with("150"));
    let up = pattern(1 << 20, 8);
    honest.write_all(&up).unwrap();
    drop(honest);
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
    assert!(std::fs::read(root.join("up.bin")).unwrap() == up);

    // A thief alone: nothing is sent, and the client gets 425 when the data timeout ends.
    let port = cl.epsv_port();
    let mut thief = connect_from(
        v4(127, 0, 0, 2),
        format!("127.0.0.1:{port}").parse().unwrap(),
    )
    .unwrap();
    let t0 = Instant::now();
    assert_eq!(
        cl.cmd("RETR secret.bin"),
        "425 Failed to establish data connection.\r\n"
    );
    assert!(t0.elapsed() < Duration::from_secs(15));
    let (stolen, _) = read_until_closed(&mut thief);
    assert!(stolen.is_empty());
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
}

/// Anonymous read-write with a short data timeout.
fn rw_server(root: &std::path::Path) -> Server {
    Server::start(&[
        "--anonymous",
        "--write",
        "--root",
        root.to_str().unwrap(),
        "--data-timeout",
        "2",
    ])
}

/// Connects from `from` and returns the first reply line (or "" if closed without one).
fn greeting_from(from: IpAddr, to: SocketAddr) -> (TcpStream, String) {
    let s = connect_from(from, to).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    (s, line)
}

#[test]
fn many_idle_connections_from_many_addresses_hit_the_limits() {
    let root = TempDir::new("many-idle");
    root.write("f.txt", b"file\n");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--max-clients",
        "20",
        "--max-per-ip",
        "3",
    ]);
    // Per address: three get in, the fourth is refused.
    let mut held = Vec::new();
    for _ in 0..3 {
        let (s, g) = greeting_from(v4(127, 0, 0, 10), srv.addr);
        assert_eq!(g, "220 edgeftpd ready.\r\n");
        held.push(s);
    }
    let (mut s, g) = greeting_from(v4(127, 0, 0, 10), srv.addr);
    assert_eq!(g, "421 Too many connections from your address.\r\n");
    assert!(
        read_until_closed(&mut s).1,
        "a refused client must be closed"
    );
    // Up to the total from other addresses, then everyone is refused.
    let mut a = 11;
    while held.len() < 20 {
        let (s, g) = greeting_from(v4(127, 0, 0, a), srv.addr);
        assert_eq!(g, "220 edgeftpd ready.\r\n", "connection {}", held.len());
        held.push(s);
        if held.len() % 3 == 0 {
            a += 1;
        }
    }
    for a in 40..50 {
        let (mut s, g) = greeting_from(v4(127, 0, 0, a), srv.addr);
        assert_eq!(g, "421 Too many users, sorry. Try again later.\r\n");
        assert!(read_until_closed(&mut s).1);
    }
    // Clients that vanish without QUIT give their slots back.
    held.truncate(15);
    assert!(
        eventually(WAIT, || greeting_from(v4(127, 0, 0, 60), srv.addr).1
            == "220 edgeftpd ready.\r\n"),
        "slots were not given back"
    );
    drop(held);
    // Once all are gone, an honest client is served as usual.
    let mut c = client_eventually(srv.addr);
    assert_eq!(c.retr("f.txt"), b"file\n");
    assert!(srv.wait_log("refused: Too many users"));
}

#[test]
fn idle_connections_holding_every_slot_are_timed_out() {
    let root = TempDir::new("idle-slots");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--max-clients",
        "6",
        "--idle-timeout",
        "2",
    ]);
    let mut held: Vec<BufReader<TcpStream>> = (0..6)
        .map(|i| {
            let (s, g) = greeting_from(v4(127, 0, 1, i + 1), srv.addr);
            assert_eq!(g, "220 edgeftpd ready.\r\n");
            BufReader::new(s)
        })
        .collect();
    assert!(
        greeting_from(v4(127, 0, 1, 100), srv.addr)
            .1
            .starts_with("421 ")
    );
    let t0 = Instant::now();
    for r in &mut held {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "421 Timeout; closing control connection.\r\n");
    }
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert!(eventually(WAIT, || greeting_from(
        v4(127, 0, 1, 100),
        srv.addr
    )
    .1 == "220 edgeftpd ready.\r\n"));
}

fn pasv_port(r: &str) -> u16 {
    let inner = &r[r.find('(').unwrap() + 1..r.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    n[4] * 256 + n[5]
}

#[test]
fn passive_range_used_up_gives_425_and_recovers() {
    let root = TempDir::new("pasv-range");
    root.write("f.txt", b"file\n");
    let (lo, hi) = free_port_range(3);
    let range = format!("{lo}-{hi}");
    let srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--pasv-ports",
        &range,
    ]);
    let mut a = srv.anon_client();
    let mut b = srv.anon_client();
    let mut c = srv.anon_client();
    let mut d = srv.anon_client();
    // Repeated PASV replaces the session's listener: it never holds more than one port.
    for _ in 0..10 {
        let p = pasv_port(&a.expect("PASV", 227));
        assert!((lo..=hi).contains(&p), "port {p} outside {range}");
    }
    for _ in 0..3 {
        b.epsv_port();
    }
    let p = pasv_port(&c.expect("PASV", 227));
    assert!((lo..=hi).contains(&p));
    // Every port is taken now.
    assert_eq!(
        d.cmd("PASV"),
        "425 No passive port available; try again later.\r\n"
    );
    assert_eq!(
        d.cmd("EPSV"),
        "425 No passive port available; try again later.\r\n"
    );
    assert_eq!(d.cmd("NOOP"), "200 NOOP ok.\r\n");
    // A finished transfer frees its port, and so does a client leaving.
    // (EPSV drops the session's PASV listener before taking a port: the same one.)
    assert_eq!(a.retr("f.txt"), b"file\n");
    assert!(d.cmd("PASV").starts_with("227 "));
    assert_eq!(
        a.cmd("EPSV"),
        "425 No passive port available; try again later.\r\n"
    );
    assert_eq!(b.cmd("QUIT"), "221 Goodbye.\r\n");
    let ok = eventually(WAIT, || a.cmd("EPSV").starts_with("229 "));
    assert!(ok, "the port of a client that left was not freed");
    assert_eq!(d.retr("f.txt"), b"file\n");
    assert!(srv.wait_log("no passive port"), "{}", srv.log());
}

#[test]
fn accept_failing_with_emfile_neither_spins_nor_stops_the_server() {
    let root = TempDir::new("emfile");
    root.write("f.txt", b"file\n");
    let mut srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--max-clients",
        "200",
        "--max-per-ip",
        "200",
    ]);
    let pid = srv.pid();
    let mut early = srv.anon_client();
    // Room for a few more descriptors than the server holds now, then no more. (Counted,
    // not the highest number: a descriptor inherited from the test runner may be high.)
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = open + 6;
    prlimit(pid, &format!("--nofile={limit}:{limit}"));

    let conns: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(srv.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut greeted = 0;
    for s in &conns {
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut b = [0u8; 64];
        if matches!((&*s).read(&mut b), Ok(n) if n > 0) {
            greeted += 1;
        }
    }
    assert!(greeted < 20, "{greeted} greeted: the limit did not bite");
    assert!(srv.wait_log("(os error 24)"), "{}", srv.log());
    // The server sits at EMFILE with connections waiting: it must not spin.
    let errors0 = srv.log().matches("(os error 24)").count();
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - t0;
    assert!(
        used < 40,
        "the server used {used} ticks of CPU in 2 s at EMFILE"
    );
    let errors = srv.log().matches("(os error 24)").count() - errors0;
    assert!(
        errors <= 4,
        "{errors} accept errors logged in 2 s: a log flood"
    );
    // A session that was already in keeps working and gets replies, not a crash.
    assert_eq!(early.cmd("NOOP"), "200 NOOP ok.\r\n");
    let r = early.cmd("PASV");
    assert!(r.starts_with("227 ") || r.starts_with("425 "), "{r}");
    assert!(srv.alive());

    // Descriptors come back: the server accepts again.
    drop(conns);
    drop(early);
    let mut c = client_eventually(srv.addr);
    assert_eq!(c.retr("f.txt"), b"file\n");
    assert!(srv.alive());
}

/// Tasks (threads) of uid `uid` on the machine: what RLIMIT_NPROC counts.
fn tasks_of(uid: u32) -> usize {
    let mut n = 0;
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(s) = std::fs::read_to_string(t.path().join("status")) else {
                continue;
            };
            let real = s
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().next().map(String::from));
            if real.as_deref() == Some(&uid.to_string()) {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn thread_creation_failing_gives_421_and_the_server_lives_on() {
    // RLIMIT_NPROC does not bind root, so the server runs as nobody (--run-as), and its
    // thread limit is set so that exactly one session thread fits.
    require_root("--run-as nobody");
    let root = TempDir::new("nproc");
    root.write("f.txt", b"file\n");
    // Big enough for a listing to want a helper thread on a multi-core machine.
    for i in 0..5000 {
        root.write(&format!("big/f{i:05}"), &vec![b'x'; i % 10]);
    }
    let mut srv = Server::start(&[
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
        "--run-as",
        "nobody",
        "--max-per-ip",
        "50",
    ]);
    assert!(srv.wait_log("running as nobody"));
    let pid = srv.pid();
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().next(),
        Some("65534")
    );
    // Room for exactly one more thread of nobody's: the first session. The limit is set by a
    // process of the same user (root may not change another user's limits without
    // CAP_SYS_RESOURCE, which containers often lack); it counts the server's own threads,
    // whatever they are (a qemu runner has one more).
    let limit = tasks_of(65534) + 1;
    let (ok, _, err) = sh(&format!(
        "setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
         prlimit --pid {pid} --nproc={limit}:{limit}"
    ));
    assert!(ok, "prlimit as nobody: {err}");
    let mut first = srv.anon_client();
    for _ in 0..3 {
        let s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        assert_eq!(line, "421 Server busy, try again later.\r\n");
    }
    assert!(srv.wait_log("cannot start a session thread"));
    assert!(srv.alive());
    assert_eq!(first.retr("f.txt"), b"file\n");
    // No thread for a listing helper either: the session does the whole listing itself.
    let list = first.list("LIST big");
    let names: Vec<&str> = list
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    let want: Vec<String> = (0..5000).map(|i| format!("f{i:05}")).collect();
    assert_eq!(names, want);
    for (i, line) in list.lines().enumerate() {
        let size = line.split_whitespace().nth(4).unwrap();
        assert_eq!(size, (i % 10).to_string(), "{line}");
    }
    assert_eq!(first.cmd("QUIT"), "221 Goodbye.\r\n");
    drop(first);
    // The thread is gone, so there is room for one again.
    let mut c = client_eventually(srv.addr);
    assert_eq!(c.retr("f.txt"), b"file\n");
    assert!(srv.alive());
}
