//! Limits and hostile peers: total and per-address session limits, idle and data timeouts,
//! slow, stalled, vanishing and flooding clients, EMFILE and thread creation failing. Each
//! limit holds, and the server and other sessions are unaffected.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

const BIG: usize = 32 << 20;

fn big_root(tag: &str) -> TempDir {
    let root = TempDir::new(tag);
    root.write("big.bin", &pattern(BIG, 1));
    root.write("small.txt", b"small\n");
    root
}

fn start(root: &TempDir, extra: &[&str]) -> Server {
    let mut args = vec![
        "--anonymous",
        "--write",
        "--root",
        root.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Starts `RETR big.bin` in passive binary mode: the data connection, after the 150.
fn start_big_retr(cl: &mut Client) -> TcpStream {
    cl.expect("TYPE I", 200);
    let d = cl.epsv();
    let r = cl.cmd("RETR big.bin");
    assert!(r.starts_with("150 "), "{r}");
    d
}

fn read_exact_n(d: &mut TcpStream, n: usize) {
    let mut buf = vec![0u8; n];
    d.read_exact(&mut buf).unwrap();
}

#[test]
fn one_byte_a_second_is_served_and_holds_up_nobody() {
    let root = big_root("slow-bytes");
    let srv = start(&root, &["--idle-timeout", "30"]);
    let mut slow = srv.client();
    let (tx, rx) = mpsc::channel();
    let slow_thread = std::thread::spawn(move || {
        let t0 = Instant::now();
        // One byte a second, each its own TCP segment (no Nagle delay: each is sent at once).
        for b in b"NOOP\r\n" {
            slow.send_raw(&[*b]);
            std::thread::sleep(Duration::from_millis(1000));
        }
        let r = slow.reply();
        tx.send(Instant::now()).unwrap();
        (r, t0.elapsed())
    });
    // Meanwhile others log in and transfer at full speed.
    for _ in 0..3 {
        let mut c = srv.anon_client();
        assert_eq!(c.retr("small.txt"), b"small\n");
        c.expect("QUIT", 221);
    }
    assert!(
        rx.try_recv().is_err(),
        "the slow client finished first: others were held up"
    );
    let (r, took) = slow_thread.join().unwrap();
    assert_eq!(r, "200 NOOP ok.\r\n");
    assert!(took >= Duration::from_secs(5));
}

// A trickling client can't hold a slot forever: each byte arrives well inside the idle
// timeout, but a whole command line must arrive within it.
#[test]
fn a_line_trickled_byte_by_byte_still_times_out() {
    let root = big_root("trickle");
    let srv = start(&root, &["--idle-timeout", "2"]);
    let mut slow = srv.client();
    let t0 = Instant::now();
    let mut closed = false;
    for _ in 0..12 {
        if slow.stream().write_all(b"N").is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        if t0.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let mut rest = String::new();
    let _ = slow.ctl.read_to_string(&mut rest);
    assert!(
        closed || rest.starts_with("421 "),
        "no 421 for a line trickled past the idle timeout: {rest:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(srv.wait_log("idle timeout"));
}

#[test]
fn a_client_that_stops_reading_during_retr_hits_the_data_timeout() {
    let root = big_root("stall");
    let srv = start(&root, &["--data-timeout", "2"]);
    let mut cl = srv.anon_client();
    let d = start_big_retr(&mut cl);
    // Never read: the socket buffers fill and the server can't make progress.
    let t0 = Instant::now();
    assert_eq!(
        cl.reply(),
        "426 Data connection timed out; transfer aborted.\r\n"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(20),
        "{took:?}"
    );
    drop(d);
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(cl.retr("small.txt"), b"small\n");
    assert!(srv.wait_log("RETR /big.bin"));
    assert!(srv.wait_log("timed out"));
}

#[test]
fn data_reset_mid_upload_keeps_the_old_file() {
    let root = big_root("rst-up");
    let old = pattern(1 << 20, 2);
    root.write("target.bin", &old);
    let srv = start(&root, &["--data-timeout", "10"]);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    for verb in ["STOR", "STOR"] {
        let mut d = cl.epsv();
        assert!(cl.cmd(&format!("{verb} target.bin")).starts_with("150"));
        d.write_all(&pattern(512 << 10, 3)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        reset(d);
        assert_eq!(cl.reply(), "426 Connection closed; transfer aborted.\r\n");
        assert!(std::fs::read(root.join("target.bin")).unwrap() == old);
        assert!(
            eventually(WAIT, || temp_files(root.path()).is_empty()),
            "temporary file left: {:?}",
            temp_files(root.path())
        );
        assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    }
    // A new file reset mid-way keeps what arrived before the reset, and nothing else.
    let mut d = cl.epsv();
    assert!(cl.cmd("STOR fresh.bin").starts_with("150"));
    d.write_all(&pattern(256 << 10, 4)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    reset(d);
    assert_eq!(cl.reply(), "426 Connection closed; transfer aborted.\r\n");
    let kept = std::fs::read(root.join("fresh.bin"))
        .unwrap_or_else(|e| panic!("fresh.bin: {e}; log:\n{}", srv.log()));
    assert!(kept.len() <= 256 << 10 && pattern(256 << 10, 4).starts_with(&kept));
    assert!(temp_files(root.path()).is_empty());
    // And a complete upload still works.
    let new = pattern(700_000, 5);
    let (f, l) = cl.put("STOR target.bin", &new);
    assert!(
        f.starts_with("150") && l == "226 Transfer complete.\r\n",
        "{f} {l}"
    );
    assert!(std::fs::read(root.join("target.bin")).unwrap() == new);
}

#[test]
fn data_reset_mid_download_is_426_and_the_session_goes_on() {
    let root = big_root("rst-down");
    let srv = start(&root, &["--data-timeout", "10"]);
    let mut cl = srv.anon_client();
    for _ in 0..2 {
        let mut d = start_big_retr(&mut cl);
        read_exact_n(&mut d, 1 << 20);
        reset(d);
        assert_eq!(cl.reply(), "426 Connection closed; transfer aborted.\r\n");
        assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    }
    assert_eq!(cl.retr("small.txt"), b"small\n");
    let mut srv = srv;
    assert!(srv.alive());
}

#[test]
fn clients_vanishing_without_quit_free_their_slot() {
    let root = big_root("vanish");
    // One client at a time, and a data timeout far longer than the test: the slot must come
    // back because the server notices the control connection go, not by a timeout.
    let srv = start(
        &root,
        &[
            "--max-clients",
            "1",
            "--data-timeout",
            "60",
            "--idle-timeout",
            "60",
        ],
    );
    // Logged in and idle, then gone (FIN).
    let a = srv.anon_client();
    drop(a);
    let mut b = client_eventually(srv.addr);
    // In the middle of a download whose data connection stays open and unread, then gone.
    let d = start_big_retr(&mut b);
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    drop(b);
    let mut c = client_eventually(srv.addr);
    assert!(t0.elapsed() < Duration::from_secs(10));
    drop(d);
    // In the middle of an upload, gone with a reset.
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    assert!(c.cmd("STOR up.bin").starts_with("150"));
    d.write_all(&pattern(100_000, 9)).unwrap();
    let t0 = Instant::now();
    reset(c.ctl.into_inner());
    let mut e = client_eventually(srv.addr);
    assert!(t0.elapsed() < Duration::from_secs(10));
    drop(d);
    // A new file keeps what arrived (the upload can be resumed).
    let kept = std::fs::read(root.join("up.bin"))
        .unwrap_or_else(|e| panic!("up.bin: {e}; log:\n{}", srv.log()));
    assert!(kept == pattern(100_000, 9));
    assert!(eventually(WAIT, || temp_files(root.path()).is_empty()));
    assert_eq!(e.retr("small.txt"), b"small\n");
}

#[test]
fn lines_of_100kb_and_more_are_refused_and_discarded() {
    let root = big_root("long-lines");
    root.write("victim.txt", b"victim\n");
    let srv = start(&root, &[]);
    let pid = srv.pid();
    let mut cl = srv.anon_client();
    let mut line = vec![b'N'; 100_000];
    line.extend_from_slice(b"\r\n");
    cl.send_raw(&line);
    assert_eq!(cl.reply(), "500 Command line too long.\r\n");
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    // The tail of a long line is never run as a command of its own (a server that cut
    // lines into 4096-byte pieces would delete the victim here).
    for k in [1, 2, 25] {
        let mut line = vec![b'X'; 4096 * k];
        line.extend_from_slice(b"DELE victim.txt\r\n");
        cl.send_raw(&line);
        assert_eq!(cl.reply(), "500 Command line too long.\r\n");
        assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    }
    assert!(root.join("victim.txt").exists());
    // Megabytes without a line end: one reply, and the server's memory does not grow.
    let rss0 = rss_kib(pid);
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..64 {
        cl.send_raw(&chunk);
    }
    cl.send_raw(b"\r\nNOOP\r\n");
    assert_eq!(cl.reply(), "500 Command line too long.\r\n");
    assert_eq!(cl.reply(), "200 NOOP ok.\r\n");
    let grew = rss_kib(pid).saturating_sub(rss0);
    assert!(
        grew < 16 << 10,
        "the server grew by {grew} KiB on a 64 MiB line"
    );
    assert_eq!(cl.retr("small.txt"), b"small\n");
}

#[test]
fn random_bytes_on_the_control_connection_are_harmless() {
    let root = big_root("random");
    let srv = start(&root, &[]);
    let mut threads = Vec::new();
    for seed in 0..8u64 {
        let addr = srv.addr;
        threads.push(std::thread::spawn(move || {
            let mut cl = Client::connect(addr);
            if seed % 2 == 1 {
                cl.login("anonymous", "x");
            }
            let junk = pattern(64 << 10, 1000 + seed);
            let mut reader = cl.ctl.get_ref().try_clone().unwrap();
            // Drain replies while sending, so neither side blocks.
            let drain = std::thread::spawn(move || {
                let mut sink = Vec::new();
                reader
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut buf = [0u8; 4096];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.extend_from_slice(&buf[..n]);
                    if sink.ends_with(b"200 NOOP ok.\r\n") {
                        return true;
                    }
                }
                false
            });
            for c in junk.chunks(1000) {
                cl.send_raw(c);
            }
            cl.send_raw(b"\r\n\r\nNOOP\r\n");
            assert!(
                drain.join().unwrap(),
                "no reply to NOOP after junk (seed {seed})"
            );
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut srv = srv;
    assert!(srv.alive());
    let mut c = srv.anon_client();
    assert_eq!(c.retr("small.txt"), b"small\n");
    assert!(!srv.log().contains("panicked"));
}

/// Sends `bytes` as TCP urgent data (MSG_OOB): the last byte is the urgent mark.
fn send_urgent(s: &TcpStream, bytes: &[u8]) {
    let n = rustix::net::send(s, bytes, rustix::net::SendFlags::OOB).unwrap();
    assert_eq!(n, bytes.len());
}

#[test]
fn telnet_commands_and_urgent_data_are_understood() {
    let root = big_root("telnet");
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"tel\xffnet.txt");
        std::fs::write(root.path().join(name), b"iac\n").unwrap();
    }
    let srv = start(&root, &[]);
    let mut cl = srv.anon_client();
    // Option negotiation in the middle of a verb.
    assert_eq!(
        cl.cmd_bytes(b"NO\xff\xfb\x18\xff\xfd\x01OP"),
        "200 NOOP ok.\r\n"
    );
    // IAC IP, then IAC DM sent urgent, as RFC 959 says a client interrupts.
    cl.send_raw(b"\xff\xf4\xff");
    send_urgent(cl.stream(), b"\xf2");
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    // A storm of urgent IAC DMs. Each new urgent byte may push the previous one back into
    // the stream, so what the line holds is unknowable: it gets an error of its own and the
    // session goes on.
    for _ in 0..50 {
        send_urgent(cl.stream(), b"\xff\xf2");
    }
    cl.send_raw(b"\r\n");
    assert!(cl.reply().starts_with("500 "));
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    // IAC IAC is a data byte 255 (in a file name).
    assert_eq!(cl.cmd_bytes(b"SIZE tel\xff\xffnet.txt"), "213 4\r\n");

    // ABOR the RFC 959 way in the middle of a download that the client keeps reading: a
    // server that ignored the control connection until the end would answer 226 instead.
    let mut d = start_big_retr(&mut cl);
    let reader = std::thread::spawn(move || {
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(k) = d.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
            std::thread::sleep(Duration::from_millis(5));
        }
        n
    });
    std::thread::sleep(Duration::from_millis(300));
    cl.send_raw(b"\xff\xf4\xff");
    send_urgent(cl.stream(), b"\xf2");
    cl.send_raw(b"ABOR\r\n");
    assert_eq!(cl.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(cl.reply(), "226 ABOR successful.\r\n");
    let got = reader.join().unwrap();
    assert!(got < BIG, "the whole file was sent despite ABOR");
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(cl.retr("small.txt"), b"small\n");
}

#[test]
fn idle_timeout_is_421_and_close() {
    let root = TempDir::new("idle");
    let srv = Server::anon_with(root.path(), &["--idle-timeout", "1"]);
    let t = Instant::now();
    let mut before = srv.client();
    let mut after = srv.anon_client();
    after.expect("NOOP", 200);
    for c in [&mut before, &mut after] {
        assert_eq!(c.reply(), "421 Timeout; closing control connection.\r\n");
        assert!(c.closed());
    }
    let e = t.elapsed();
    assert!(e >= Duration::from_millis(900) && e < WAIT, "{e:?}");
    assert!(srv.wait_log(": idle timeout"));
}

/// Logged-in sessions that wait for their clients hold no thread (the accept loop waits for
/// them) and go on where they were: the folder, the type, a passive connection made
/// before they idled. They keep their places in the limits while they idle; one whose
/// client leaves then ends and gives its place back.
#[test]
fn idle_sessions_hand_their_threads_back_and_go_on_where_they_were() {
    let root = TempDir::new("idle-threads");
    root.write("sub/f.txt", b"in sub\n");
    let srv = Server::anon_with(root.path(), &["--max-clients", "2"]);
    let pid = srv.pid();
    let mut a = srv.anon_client();
    let b = srv.anon_client();
    a.expect("CWD sub", 250);
    a.expect("TYPE I", 200);
    let mut data = a.pasv();
    assert!(
        eventually(WAIT, || named_threads(pid, "session") == 0),
        "sessions still hold threads while idle"
    );
    // Both still count: a third is refused.
    assert_eq!(
        Client::connect_raw(srv.addr),
        "421 Too many users, sorry. Try again later.\r\n"
    );
    // `a` goes on: its folder, its type, its passive connection.
    a.send_raw(b"RETR f.txt\r\n");
    assert!(a.reply().starts_with("150 "));
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"in sub\n");
    assert_eq!(a.reply(), "226 Transfer complete.\r\n");
    assert_eq!(a.cmd("PWD"), "257 \"/sub\" is the current directory.\r\n");
    // `b`'s client leaves while its session idles: the session ends, its place is free.
    let port = b.stream().local_addr().unwrap().port();
    drop(b);
    assert!(srv.wait_log(&format!("127.0.0.1:{port}: disconnected")));
    let mut c = client_eventually(srv.addr);
    assert_eq!(c.retr("sub/f.txt"), b"in sub\n");
    // Idled again and resumed again.
    assert!(eventually(WAIT, || named_threads(pid, "session") == 0));
    assert_eq!(a.cmd("CDUP"), "200 Directory successfully changed.\r\n");
    assert_eq!(a.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn idle_timeout_does_not_cut_a_transfer() {
    let root = TempDir::new("idle-xfer");
    let data = pattern(8 << 20, 5);
    root.write("f.bin", &data);
    let srv = Server::anon_with(
        root.path(),
        &["--idle-timeout", "1", "--data-timeout", "10"],
    );
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("RETR f.bin", 150);
    // A slow reader: the transfer lasts longer than the idle timeout.
    std::thread::sleep(Duration::from_millis(1600));
    let mut got = Vec::new();
    d.read_to_end(&mut got).unwrap();
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert!(got == data);
}

#[test]
fn max_clients_gets_a_421_greeting_and_close() {
    let root = TempDir::new("maxclients");
    let srv = Server::anon_with(root.path(), &["--max-clients", "2"]);
    let a = srv.anon_client();
    let _b = srv.client();
    let (line, closed) = refused(TcpStream::connect(srv.addr).unwrap());
    assert_eq!(line, "421 Too many users, sorry. Try again later.\r\n");
    assert!(closed);
    // From another address too: the limit is global.
    let (line, _) = refused(connect_from("127.0.0.2".parse().unwrap(), srv.addr).unwrap());
    assert_eq!(line, "421 Too many users, sorry. Try again later.\r\n");
    // A slot comes back when a session ends.
    let port = a.stream().local_addr().unwrap().port();
    drop(a);
    assert!(srv.wait_log(&format!("127.0.0.1:{port}: disconnected")));
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert!(srv.wait_log("refused: Too many users"));
}

#[test]
fn max_clients_is_lowered_to_what_the_open_file_limit_allows() {
    // 100 files: (100 - 64 kept for the rest) / 4 a session = 9 sessions. Past them a
    // client gets 421 at once, not a login broken by EMFILE or an accept() that fails.
    let root = TempDir::new("nofile");
    let srv = Server::start_wrapped(
        &["prlimit", "--nofile=100:100"],
        &[
            "--anonymous",
            "--root",
            root.path().to_str().unwrap(),
            "--max-clients",
            "5000",
            "--max-per-ip",
            "5000",
        ],
    );
    assert!(srv.wait_log("--max-clients 5000 lowered to 9: the open-file limit is 100"));
    let mut held: Vec<_> = (0..9).map(|_| srv.anon_client()).collect();
    let (line, closed) = refused(TcpStream::connect(srv.addr).unwrap());
    assert_eq!(line, "421 Too many users, sorry. Try again later.\r\n");
    assert!(closed);
    for c in &mut held {
        assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    }
}

#[test]
fn max_per_ip_gets_a_421_greeting_and_close() {
    let root = TempDir::new("maxperip");
    let srv = Server::anon_with(root.path(), &["--max-per-ip", "1"]);
    let _a = srv.anon_client();
    let (line, closed) = refused(TcpStream::connect(srv.addr).unwrap());
    assert_eq!(line, "421 Too many connections from your address.\r\n");
    assert!(closed);
    // Another address is still welcome.
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut c = Client::connect_from(other, srv.addr);
    c.login("anonymous", "x");
    assert!(c.cmd("STAT").contains(" Connected to 127.0.0.2\r\n"));
    assert!(srv.wait_log("127.0.0.1: refused: Too many connections"));
}

/// Connects without the harness's greeting check; returns the first line and whether the
/// server then closed the connection.
fn refused(s: TcpStream) -> (String, bool) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut rest = Vec::new();
    let closed = matches!(r.read_to_end(&mut rest), Ok(0));
    (line, closed)
}

#[test]
fn many_idle_connections_from_many_addresses_hit_the_limits() {
    let root = TempDir::new("many-idle");
    root.write("f.txt", b"file\n");
    let srv = Server::anon_with(root.path(), &["--max-clients", "20", "--max-per-ip", "3"]);
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
    let srv = Server::anon_with(root.path(), &["--max-clients", "6", "--idle-timeout", "2"]);
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

#[test]
fn accept_failing_with_emfile_neither_spins_nor_stops_the_server() {
    let root = TempDir::new("emfile");
    root.write("f.txt", b"file\n");
    let mut srv = Server::anon_with(
        root.path(),
        &["--max-clients", "200", "--max-per-ip", "200"],
    );
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
    let mut srv = Server::anon_with(root.path(), &["--run-as", "nobody", "--max-per-ip", "50"]);
    assert!(srv.wait_log("running as nobody"));
    let pid = srv.serving_pid();
    assert_eq!(
        status_field(pid, "Uid").split_whitespace().next(),
        Some("65534")
    );
    // Room for exactly one more thread of nobody's: the first session. The limit is set by a
    // process of the same user (root may not change another user's limits without
    // CAP_SYS_RESOURCE, which containers often lack); it counts the server's own threads,
    // whatever they are (a qemu runner has one more).
    // (The signal thread starts after the "running as" line: wait for it, or the count
    // is one short and the first session finds no room.)
    assert!(eventually(WAIT, || threads(pid) >= 2));
    std::thread::sleep(Duration::from_millis(200));
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

/// Connects from `from` and returns the first reply line (or "" if closed without one).
fn greeting_from(from: IpAddr, to: SocketAddr) -> (TcpStream, String) {
    let s = connect_from(from, to).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    (s, line)
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
