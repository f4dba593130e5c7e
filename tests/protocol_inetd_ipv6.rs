//! The other ways in: `--inetd` (one session on a connected socket given as stdin/stdout, a
//! passive and an active transfer, exit after QUIT) and IPv6 (`--listen [::1]:0`: EPSV and
//! `EPRT |2|::1|port|` work, PASV is refused, PORT/EPRT to IPv4 refused; and a dual-stack
//! `[::]` listener serving an IPv4 client with PASV).
mod support;
use support::*;

use std::io::{BufReader, Read};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Instant;

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

/// IPv6 loopback is part of the test machine: a machine without it fails these tests rather
/// than skipping them (a skipped test must not report success).
fn have_ipv6() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).expect("these tests need IPv6 loopback (::1)");
    true
}

#[test]
fn ipv6_epsv_and_eprt_work_pasv_is_refused() {
    if !have_ipv6() {
        return;
    }
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
    if !have_ipv6() {
        return;
    }
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
