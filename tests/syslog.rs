//! `--syslog`: log lines go to /dev/log as RFC 3164 datagrams (facility daemon), not stderr.
//!
//! The server runs in a private mount namespace where /dev is a directory of ours holding a
//! datagram socket named `log`, so the test reads exactly what a syslog daemon would get.

mod support;

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::*;

/// Reads datagrams until one contains `needle` (or the wait runs out); returns all so far.
fn read_until(sock: &UnixDatagram, seen: &mut Vec<String>, needle: &str) -> bool {
    let end = Instant::now() + WAIT;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if seen.iter().any(|m| m.contains(needle)) {
            return true;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    false
}

#[test]
fn syslog_gets_rfc3164_datagrams_and_stderr_stays_quiet() {
    let dev = TempDir::new("syslog-dev");
    let root = TempDir::new("syslog-root");
    root.write("f.txt", b"syslog\n");
    let sock = UnixDatagram::bind(dev.join("log")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let dev_path = dev.path().to_str().unwrap().to_string();
    let mut cmd = wrapped_command(&[
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount --bind \"$1\" /dev && shift && exec \"$@\"",
        "sh",
        &dev_path,
    ]);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--pasv-ports",
        "40000-44999",
        "--syslog",
    ])
    .args(["--anonymous", "--root", root.path().to_str().unwrap()])
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("start edgeftpd under unshare (needs root)");

    let mut seen = Vec::new();
    assert!(read_until(&sock, &mut seen, "listening on "), "{seen:?}");
    let line = seen
        .iter()
        .find(|m| m.contains("listening on "))
        .unwrap()
        .clone();
    let addr: std::net::SocketAddr = line[line.find("listening on ").unwrap() + 13..]
        .trim()
        .parse()
        .unwrap();

    let mut c = Client::connect(addr);
    c.login("anonymous", "x@example.com");
    assert_eq!(c.retr("f.txt"), b"syslog\n");
    c.expect("QUIT", 221);
    assert!(
        read_until(&sock, &mut seen, "RETR /f.txt 7 bytes"),
        "{seen:?}"
    );

    // <PRI>Mmm dd hh:mm:ss edgeftpd[pid]: message ; daemon.info = 3*8+6 = 30.
    let pid = child.id();
    for m in &seen {
        assert!(m.starts_with('<') && !m.ends_with('\n'), "{m:?}");
        let rest = &m[m.find('>').unwrap() + 1..];
        assert_eq!(&rest[3..4], " ", "{m:?}");
        assert_eq!(&rest[6..7], " ", "{m:?}");
        assert_eq!(&rest[9..10], ":", "{m:?}");
        assert!(
            rest[16..].starts_with(&format!("edgeftpd[{pid}]: ")),
            "{m:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|m| m.starts_with("<30>") && m.contains("login anonymous"))
    );
    // Warnings carry severity 4: root without --run-as warns.
    assert!(
        seen.iter()
            .any(|m| m.starts_with("<28>") && m.contains("running as root"))
    );

    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        !stderr.contains("listening on"),
        "log lines leaked to stderr: {stderr}"
    );
}
