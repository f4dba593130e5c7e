//! Hardening, slow and broken peers: a client sending one byte a second, one that stops
//! reading during RETR (the data timeout applies), data connections reset (RST) in the middle
//! of an upload and of a download, clients vanishing without QUIT (idle and mid-transfer),
//! control lines of 100 KB and more (and megabytes without a line end), random bytes, Telnet
//! IAC/IP/DM sequences and TCP urgent data on the control connection.
//!
//! In each case the server answers what it must, the session (where it still exists) goes
//! on, other clients are not held up, and the process lives.

mod hardening_util;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hardening_util::*;
use support::*;

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

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".edgeftpd-upload."))
        .collect()
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
    // A new file reset mid-way is not created at all.
    let mut d = cl.epsv();
    assert!(cl.cmd("STOR fresh.bin").starts_with("150"));
    d.write_all(&pattern(256 << 10, 4)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    reset(d);
    assert_eq!(cl.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert!(!root.join("fresh.bin").exists());
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
    assert!(!root.join("up.bin").exists(), "a half upload was committed");
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
