//! Setting up data connections: the passive port range and advertised address, EPSV and EPSV
//! ALL, active mode, IPv6 and dual stack, and the trust rules: PORT/EPRT only back to the
//! client and to unprivileged ports (no bounce), passive connections only from the client (no
//! theft).

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

#[test]
fn port_and_eprt_to_another_address_are_refused_and_never_connected() {
    let root = TempDir::new("bounce");
    root.write("inside.txt", b"inside\n");
    let srv = Server::anon(root.path());
    let victim = TcpListener::bind("127.0.0.2:0").unwrap();
    let vport = victim.local_addr().unwrap().port();
    require_ipv6();
    let victim6 = TcpListener::bind("[::1]:0").unwrap();
    let p6 = victim6.local_addr().unwrap().port();
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
    // An IPv6 address for an IPv4 client is another host too.
    assert_eq!(
        cl.cmd(&format!("EPRT |2|::1|{p6}|")),
        "500 Illegal EPRT command.\r\n"
    );
    assert_no_data_setup(&mut cl);
    // A refused PORT also cancels an earlier PASV.
    cl.expect("PASV", 227);
    cl.expect(&port_cmd([127, 0, 0, 2], vport), 500);
    assert_no_data_setup(&mut cl);
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
    assert!(!connection_arrives(&victim6, Duration::from_millis(100)));
    // Each refusal is logged.
    assert!(srv.wait_log(&format!("refused EPRT to [::1]:{p6} (bounce protection)")));
    let log = srv.log();
    for line in [
        format!("refused PORT to 127.0.0.2:{vport} (bounce protection)"),
        format!("refused EPRT to 127.0.0.2:{vport} (bounce protection)"),
    ] {
        assert!(log.contains(&line), "{line} not in {log}");
    }
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
    let log = srv.log();
    for line in [
        format!("refused PORT to 127.0.0.1:{port} (bounce protection)"),
        format!("refused EPRT to 127.0.0.1:{port} (bounce protection)"),
    ] {
        assert!(log.contains(&line), "{line} not in {log}");
    }
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
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

    // The thief is closed at once, before the client has even connected; the client is
    // served when it connects.
    let port = cl.epsv_port();
    let to = SocketAddr::new(srv.addr.ip(), port);
    let mut thief = connect_from(v4(127, 0, 0, 2), to).unwrap();
    cl.send_raw(b"RETR secret.bin\r\n");
    let (stolen, closed) = read_until_closed(&mut thief);
    assert!(closed, "the thief's connection stays open");
    assert!(stolen.is_empty(), "the thief got {} bytes", stolen.len());
    let mut honest = TcpStream::connect(to).unwrap();
    assert_eq!(
        cl.reply(),
        "150 Opening BINARY mode data connection for secret.bin (3145728 bytes).\r\n"
    );
    let mut got = Vec::new();
    honest.read_to_end(&mut got).unwrap();
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
    assert!(got == secret);
    assert!(srv.wait_log("refused: the client is 127.0.0.1"));

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

#[test]
fn passive_range_used_up_gives_425_and_recovers() {
    let root = TempDir::new("pasv-range");
    root.write("f.txt", b"file\n");
    let (lo, hi) = free_port_range(3);
    let range = format!("{lo}-{hi}");
    let srv = Server::anon_with(root.path(), &["--pasv-ports", &range]);
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
    // A finished transfer frees its port once its session idles (the port is kept for the
    // session's next PASV/EPSV until then), and so does a client leaving.
    // (EPSV drops the session's PASV listener before taking a port: the same one.)
    assert_eq!(a.retr("f.txt"), b"file\n");
    let ok = eventually(WAIT, || d.cmd("PASV").starts_with("227 "));
    assert!(ok, "the port of a finished transfer was not freed");
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

/// Anonymous read-write with a short data timeout.
fn rw_server(root: &std::path::Path) -> Server {
    Server::anon_with(root, &["--write", "--data-timeout", "2"])
}

#[test]
fn passive_ports_come_from_the_range() {
    let root = TempDir::new("range");
    root.write("f.txt", b"data");
    let srv = Server::anon_with(root.path(), &["--pasv-ports", "47311-47313"]);
    let mut c = srv.anon_client();
    for _ in 0..4 {
        let r = c.cmd("PASV");
        assert!(
            r.starts_with("227 Entering Passive Mode (127,0,0,1,"),
            "{r}"
        );
        assert!(r.ends_with(").\r\n"));
        let inner = &r[r.find('(').unwrap() + 1..r.find(')').unwrap()];
        let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
        let port = n[4] * 256 + n[5];
        assert!((47311..=47313).contains(&port), "{port}");
        let port = c.epsv_port();
        assert!((47311..=47313).contains(&port), "{port}");
    }
    let r = c.cmd("EPSV");
    assert!(
        r.starts_with("229 Entering Extended Passive Mode (|||") && r.ends_with("|).\r\n"),
        "{r}"
    );
    assert_eq!(c.retr("f.txt"), b"data");
    assert_eq!(c.list("NLST"), "f.txt\r\n");
}

#[test]
fn pasv_address_is_advertised() {
    let root = TempDir::new("pasvaddr");
    root.write("f.txt", b"nat");
    let srv = Server::anon_with(
        root.path(),
        &["--pasv-local-nets", "none", "--pasv-address", "127.0.0.3"],
    );
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let r = c.cmd("PASV");
    assert!(
        r.starts_with("227 Entering Passive Mode (127,0,0,3,"),
        "{r}"
    );
    let inner = &r[r.find('(').unwrap() + 1..r.find(')').unwrap()];
    let n: Vec<u16> = inner.split(',').map(|x| x.parse().unwrap()).collect();
    // Behind NAT the advertised address is the router's; here we reach the port directly.
    let mut d = std::net::TcpStream::connect(("127.0.0.1", n[4] * 256 + n[5])).unwrap();
    c.expect("RETR f.txt", 150);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert_eq!(got, b"nat");
}

#[test]
fn epsv_protocols_and_epsv_all() {
    let root = TempDir::new("epsv");
    root.write("f.txt", b"x");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    assert!(
        c.cmd("EPSV 1")
            .starts_with("229 Entering Extended Passive Mode (|||")
    );
    assert_eq!(
        c.cmd("EPSV 2"),
        "522 Network protocol not supported, use (1)\r\n"
    );
    assert_eq!(c.cmd("EPSV 3"), "501 EPSV takes 1, 2 or ALL\r\n");
    assert_eq!(c.cmd("EPSV ALL"), "200 EPSV ALL ok.\r\n");
    assert_eq!(c.cmd("PASV"), "503 EPSV ALL in effect; use EPSV.\r\n");
    assert_eq!(
        c.cmd("PORT 127,0,0,1,200,1"),
        "503 EPSV ALL in effect; use EPSV.\r\n"
    );
    assert_eq!(c.retr("f.txt"), b"x");
}

#[test]
fn transfer_without_pasv_or_port_is_425() {
    let root = TempDir::new("nosetup");
    root.write("f.txt", b"x");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    for line in [
        "RETR f.txt",
        "LIST",
        "NLST",
        "MLSD",
        "STOR new.txt",
        "APPE new.txt",
        "STOU",
    ] {
        assert_eq!(
            c.cmd(line),
            "425 Use PORT, PASV or EPSV first.\r\n",
            "{line}"
        );
    }
    // Nothing was created by the refused uploads.
    let names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["f.txt"]);
    // A data connection set up is used once: the next transfer needs another.
    assert_eq!(c.retr("f.txt"), b"x");
    assert_eq!(c.cmd("RETR f.txt"), "425 Use PORT, PASV or EPSV first.\r\n");
}

#[test]
fn no_data_connection_within_data_timeout_is_425() {
    let root = TempDir::new("datatimeout");
    root.write("f.txt", b"x");
    let srv = Server::anon_with(root.path(), &["--write", "--data-timeout", "1"]);
    let mut c = srv.anon_client();
    for line in ["RETR f.txt", "LIST", "STOR up.txt"] {
        c.expect("PASV", 227);
        let t = Instant::now();
        assert_eq!(
            c.cmd(line),
            "425 Failed to establish data connection.\r\n",
            "{line}"
        );
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(900) && e < WAIT, "{line}: {e:?}");
    }
    assert!(!root.join("up.txt").exists());
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.retr("f.txt"), b"x");
}

#[test]
fn active_mode_port_and_eprt() {
    let root = TempDir::new("active");
    root.write("f.txt", b"active data");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    for eprt in [false, true] {
        let l = c.active(eprt);
        c.expect("RETR f.txt", 150);
        let (mut d, from) = l.accept().unwrap();
        // The server connects from the address the client reached it on.
        assert_eq!(from.ip(), srv.addr.ip());
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        assert_eq!(c.reply(), "226 Transfer complete.\r\n");
        assert_eq!(got, b"active data");
    }
    let r = {
        let l = c.active(false);
        assert_eq!(c.cmd("STOR up.txt"), "150 Ok to send data for up.txt\r\n");
        let (mut d, _) = l.accept().unwrap();
        d.write_all(b"uploaded actively").unwrap();
        drop(d);
        c.reply()
    };
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(
        std::fs::read(root.join("up.txt")).unwrap(),
        b"uploaded actively"
    );
    let l = c.active(true);
    c.expect("NLST", 150);
    let (mut d, _) = l.accept().unwrap();
    let mut got = String::new();
    d.read_to_string(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Directory send OK.\r\n");
    assert_eq!(got, "f.txt\r\nup.txt\r\n");
    // The exact 200 text.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    assert_eq!(
        c.cmd(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255)),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    assert_eq!(
        c.cmd(&format!("EPRT |1|127.0.0.1|{p}|")),
        "200 EPRT command successful. Consider using PASV.\r\n"
    );
    // Malformed arguments are 501.
    assert_eq!(c.cmd("PORT 1,2,3"), "501 PORT takes h1,h2,h3,h4,p1,p2\r\n");
    assert_eq!(
        c.cmd("EPRT |1|127.0.0.1|99999|"),
        "501 EPRT takes |proto|address|port|\r\n"
    );
}

#[test]
fn active_connect_refused_is_425() {
    let root = TempDir::new("active-refused");
    root.write("f.txt", b"x");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let p = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    c.expect(&format!("EPRT |1|127.0.0.1|{p}|"), 200);
    assert_eq!(
        c.cmd("RETR f.txt"),
        "425 Failed to establish data connection.\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn ipv6_epsv_and_eprt_work_pasv_is_refused() {
    require_ipv6();
    let root = TempDir::new("ipv6");
    root.write("f.txt", b"over ipv6");
    let srv = Server::start(&[
        "--listen",
        "[::1]:0",
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(srv.addr.ip(), Ipv6Addr::LOCALHOST);
    let mut c = srv.anon_client();
    assert!(c.cmd("STAT").contains("\r\n Connected to ::1\r\n"));
    assert_eq!(c.cmd("PASV"), "522 PASV is IPv4 only; use EPSV.\r\n");
    assert_eq!(
        c.cmd("EPSV 1"),
        "522 Network protocol not supported, use (2)\r\n"
    );
    assert!(
        c.cmd("EPSV 2")
            .starts_with("229 Entering Extended Passive Mode (|||")
    );
    // EPSV (the data connection goes to ::1).
    assert_eq!(c.retr("f.txt"), b"over ipv6");
    assert_eq!(c.list("NLST"), "f.txt\r\n");
    // EPRT |2|::1|port|.
    let l = c.active(true);
    c.expect("RETR f.txt", 150);
    let (mut d, from) = l.accept().unwrap();
    assert_eq!(from.ip(), Ipv6Addr::LOCALHOST);
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert_eq!(got, b"over ipv6");
    // IPv4 data addresses are another host for an IPv6 client.
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = v4.local_addr().unwrap().port();
    assert_eq!(
        c.cmd(&format!("EPRT |1|127.0.0.1|{p}|")),
        "500 Illegal EPRT command.\r\n"
    );
    assert_eq!(
        c.cmd(&format!("PORT 127,0,0,1,{},{}", p >> 8, p & 255)),
        "500 Illegal PORT command.\r\n"
    );
    assert_eq!(c.cmd("RETR f.txt"), "425 Use PORT, PASV or EPSV first.\r\n");
    assert!(!connection_arrives(
        &v4,
        std::time::Duration::from_millis(300)
    ));
    assert!(srv.wait_log("[::1]:"));
}

#[test]
fn dual_stack_listener_serves_ipv4_with_pasv() {
    require_ipv6();
    let root = TempDir::new("dualstack");
    root.write("f.txt", b"dual");
    let srv = Server::start(&[
        "--listen",
        "[::]:0",
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    let port = srv.port();
    // An IPv4 client (seen as ::ffff:127.0.0.1 by the socket) gets plain IPv4 everywhere.
    let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    c.login("anonymous", "x");
    assert!(c.cmd("STAT").contains("\r\n Connected to 127.0.0.1\r\n"));
    let r = c.cmd("PASV");
    assert!(
        r.starts_with("227 Entering Passive Mode (127,0,0,1,"),
        "{r}"
    );
    assert_eq!(c.retr("f.txt"), b"dual");
    let l = c.active(false);
    c.expect("NLST", 150);
    let (mut d, _) = l.accept().unwrap();
    let mut got = String::new();
    d.read_to_string(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Directory send OK.\r\n");
    assert_eq!(got, "f.txt\r\n");
    // And an IPv6 client on the same listener.
    let mut c6 = Client::connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    c6.login("anonymous", "x");
    assert_eq!(c6.retr("f.txt"), b"dual");
}

/// IPv6 loopback is part of the test machine: a machine without it fails these tests rather
/// than skipping them (a skipped test must not report success).

#[test]
fn pasv_answers_with_the_address_the_client_reached() {
    let root = TempDir::new("reached");
    root.write("f.txt", b"two doors");
    // Two listeners (--listen is repeatable); the second one's port is in the log.
    let srv = Server::start(&[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.2:0",
        "--anonymous",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert!(srv.wait_log("listening on 127.0.0.2:"));
    let log = srv.log();
    let second: SocketAddr = log[log.find("listening on 127.0.0.2:").unwrap() + 13..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for (addr, octets) in [(srv.addr, "127,0,0,1"), (second, "127,0,0,2")] {
        let mut c = Client::connect(addr);
        c.login("anonymous", "x");
        let r = c.cmd("PASV");
        assert!(
            r.starts_with(&format!("227 Entering Passive Mode ({octets},")),
            "{addr}: {r}"
        );
        // The harness connects to the advertised address.
        assert_eq!(c.retr("f.txt"), b"two doors");
        let mut d = c.pasv();
        assert_eq!(d.peer_addr().unwrap().ip(), addr.ip());
        c.expect("RETR f.txt", 150);
        let mut got = Vec::new();
        d.read_to_end(&mut got).unwrap();
        assert_eq!(c.reply(), "226 Transfer complete.\r\n");
        assert_eq!(got, b"two doors");
    }
}

/// A session moving file after file gets its passive port back without a new listener each
/// time; a connection that reached the kept port between two transfers (from the client's
/// own address, as from behind the same NAT) is closed unserved, and the client's own data
/// connection gets the file.
#[test]
fn kept_passive_port_serves_the_next_transfer_and_nobody_queued_ahead() {
    let root = TempDir::new("pasv-keep");
    root.write("f.txt", b"file one\n");
    root.write("g.txt", b"file two\n");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let first = c.epsv_port();
    let ip = c.stream().peer_addr().unwrap().ip();
    let from = c.stream().local_addr().unwrap().ip();
    let mut d = connect_from(from, SocketAddr::new(ip, first)).unwrap();
    d.set_read_timeout(Some(WAIT)).unwrap();
    assert!(c.cmd("RETR f.txt").starts_with("150"));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"file one\n");
    assert!(c.reply().starts_with("226"));
    // Ahead of the next EPSV: a connection to the kept port.
    let mut early = connect_from(from, SocketAddr::new(ip, first)).unwrap();
    early.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(c.epsv_port(), first, "the kept port comes back");
    let mut d = connect_from(from, SocketAddr::new(ip, first)).unwrap();
    d.set_read_timeout(Some(WAIT)).unwrap();
    assert!(c.cmd("RETR g.txt").starts_with("150"));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"file two\n");
    assert!(c.reply().starts_with("226"));
    let mut stolen = Vec::new();
    let _ = early.read_to_end(&mut stolen);
    assert!(stolen.is_empty(), "the early connection got {stolen:?}");
    assert!(srv.wait_log("stray data connection"), "{}", srv.log());
}
