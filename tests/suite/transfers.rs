//! Moving data: TYPE A conversions, TYPE I byte-exactness, REST for RETR and STOR, APPE,
//! offsets above 4 GiB, ABOR in every form, stalled transfers.

use std::io::{Read, Write};
use std::time::Duration;

use crate::support::*;

#[test]
fn type_a_retr_converts_lf_to_crlf() {
    let root = TempDir::new("ascii-retr");
    root.write("t.txt", b"line1\nline2\r\nline3\n\nend");
    // Large enough to cross the server's read buffer, with line ends at every offset.
    let mut big = Vec::new();
    for i in 0..40_000u32 {
        big.extend_from_slice(format!("{}\n", "x".repeat((i % 13) as usize)).as_bytes());
    }
    root.write("big.txt", &big);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("TYPE A"), "200 Switching to ASCII mode.\r\n");
    let (data, first, last) = c.get("RETR t.txt");
    assert_eq!(
        first,
        "150 Opening ASCII mode data connection for t.txt (23 bytes).\r\n"
    );
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(data, b"line1\r\nline2\r\nline3\r\n\r\nend");
    let (data, _, last) = c.get("RETR big.txt");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(data, crlf(&big));
    // TYPE A N is the same.
    c.expect("TYPE A N", 200);
    assert_eq!(c.get("RETR t.txt").0, b"line1\r\nline2\r\nline3\r\n\r\nend");
}

#[test]
fn type_a_stor_converts_crlf_to_lf() {
    let root = TempDir::new("ascii-stor");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE A", 200);
    let (first, last) = c.put("STOR t.txt", b"a\r\nb\r\n\r\nc\rd\ne\r");
    assert_eq!(first, "150 Ok to send data for t.txt\r\n");
    assert_eq!(last, "226 Transfer complete.\r\n");
    // CRLF becomes LF; a lone CR and a bare LF stay as they are.
    assert_eq!(
        std::fs::read(root.join("t.txt")).unwrap(),
        b"a\nb\n\nc\rd\ne\r"
    );
    // A CR and its LF split across the client's writes are still one line end.
    let mut d = c.epsv();
    c.expect("STOR split.txt", 150);
    for part in [&b"one\r"[..], b"\ntwo\r", b"\n"] {
        d.write_all(part).unwrap();
        d.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    drop(d);
    assert_eq!(c.reply(), "226 Transfer complete.\r\n");
    assert_eq!(
        std::fs::read(root.join("split.txt")).unwrap(),
        b"one\ntwo\n"
    );
    // And a round trip through TYPE A gives CRLF back.
    assert_eq!(c.get("RETR split.txt").0, b"one\r\ntwo\r\n");
}

#[test]
fn type_i_is_byte_exact_both_ways() {
    let root = TempDir::new("binary");
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\n\n\r\r\n\xff\xff\xf4\xf2");
    data.extend(pattern(3 << 20, 42));
    root.write("b.bin", &data);
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("TYPE I"), "200 Switching to Binary mode.\r\n");
    let (got, first, last) = c.get("RETR b.bin");
    assert_eq!(
        first,
        format!(
            "150 Opening BINARY mode data connection for b.bin ({} bytes).\r\n",
            data.len()
        )
    );
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(got == data, "RETR changed the bytes");
    let (_, last) = c.put("STOR copy.bin", &data);
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(std::fs::read(root.join("copy.bin")).unwrap() == data);
    // TYPE L 8 is binary too.
    c.expect("TYPE L 8", 200);
    assert!(c.get("RETR copy.bin").0 == data);
}

#[test]
fn rest_retr_resumes_and_applies_to_the_next_transfer_only() {
    let root = TempDir::new("rest-retr");
    let data = pattern(100_000, 7);
    root.write("f.bin", &data);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    assert_eq!(
        c.cmd("REST 12345"),
        "350 Restart position accepted (12345).\r\n"
    );
    let (got, first, last) = c.get("RETR f.bin");
    assert!(first.starts_with("150 "), "{first}");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(got == data[12345..]);
    // The next transfer starts from 0 again.
    assert!(c.get("RETR f.bin").0 == data);
    // REST survives a NOOP, but a listing uses it up.
    c.expect("REST 99999", 350);
    c.expect("NOOP", 200);
    assert!(c.get("RETR f.bin").0 == data[99999..]);
    c.expect("REST 5", 350);
    c.list("NLST");
    assert!(c.get("RETR f.bin").0 == data);
    // At the end: nothing to send. Beyond the end: 554, and the offset is gone.
    c.expect("REST 100000", 350);
    let (got, _, last) = c.get("RETR f.bin");
    assert!(got.is_empty() && last.starts_with("226"));
    c.expect("REST 100001", 350);
    let (_, first, _) = c.get("RETR f.bin");
    assert_eq!(
        first,
        "554 Restart offset is beyond the end of the file.\r\n"
    );
    assert!(c.get("RETR f.bin").0 == data);
    assert_eq!(c.cmd("REST"), "501 REST takes a byte offset\r\n");
    assert_eq!(c.cmd("REST -1"), "501 REST takes a byte offset\r\n");
    assert_eq!(c.cmd("REST abc"), "501 REST takes a byte offset\r\n");
}

#[test]
fn rest_stor_keeps_the_prefix_and_appe_appends() {
    let root = TempDir::new("rest-stor");
    root.write("f.txt", b"0123456789");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    c.expect("REST 4", 350);
    let (first, last) = c.put("STOR f.txt", b"abc");
    assert_eq!(first, "150 Ok to send data for f.txt\r\n");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"0123abc");
    let (first, last) = c.put("APPE f.txt", b"xyz");
    assert_eq!(first, "150 Ok to send data for f.txt\r\n");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"0123abcxyz");
    // REST was for one transfer: a plain STOR replaces the whole file.
    c.put("STOR f.txt", b"new");
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"new");
    // REST beyond the end of the file: 554, file untouched.
    c.expect("REST 10", 350);
    let (first, _) = c.put("STOR f.txt", b"zzz");
    assert_eq!(
        first,
        "554 Restart offset is beyond the end of the file.\r\n"
    );
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"new");
    // APPE to a new file creates it.
    c.put("APPE fresh.txt", b"first");
    c.put("APPE fresh.txt", b" second");
    assert_eq!(
        std::fs::read(root.join("fresh.txt")).unwrap(),
        b"first second"
    );
}

#[test]
fn offsets_above_4_gib() {
    const GIB: u64 = 1 << 30;
    let root = TempDir::new("big");
    let path = root.join("big.bin");
    let near_end = pattern(4096, 1);
    let decoy = pattern(4096, 2);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(5 * GIB).unwrap();
        f.write_all_at(&near_end, 5 * GIB - 4096).unwrap();
        // Where a 32-bit offset would land: 5 GiB - 4096 mod 4 GiB.
        f.write_all_at(&decoy, GIB - 4096).unwrap();
    }
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("SIZE big.bin"), "213 5368709120\r\n");
    assert!(c.list("LIST big.bin").contains(" 5368709120 "));
    assert!(c.list("MLSD").contains(";size=5368709120;"));
    let off = 5 * GIB - 4096; // 4294967296 + 1073737728
    assert_eq!(
        c.cmd(&format!("REST {off}")),
        format!("350 Restart position accepted ({off}).\r\n")
    );
    let (got, _, last) = c.get("RETR big.bin");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(got == near_end, "wrong bytes after REST {off}");
    // REST + STOR and APPE beyond 4 GiB write in place there.
    c.expect(&format!("REST {}", 5 * GIB), 350);
    let (_, last) = c.put("STOR big.bin", b"tail");
    assert_eq!(last, "226 Transfer complete.\r\n");
    c.put("APPE big.bin", b"+more");
    assert_eq!(c.cmd("SIZE big.bin"), "213 5368709129\r\n");
    c.expect(&format!("REST {off}"), 350);
    let (got, _, _) = c.get("RETR big.bin");
    assert!(got == [&near_end[..], b"tail+more"].concat());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 5 * GIB + 9);
}

#[test]
fn abor_during_retr_426_then_226() {
    let root = TempDir::new("abor-retr");
    sparse(&root, "big.bin", 4 << 30);
    root.write("small.txt", b"small");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let d = start_big_retr(&mut c);
    c.send_raw(b"ABOR\r\n");
    after_abort_the_session_works(&mut c, d);
    assert!(srv.wait_log("anonymous: RETR /big.bin "));
    assert!(
        srv.log()
            .lines()
            .any(|l| l.contains("RETR /big.bin ") && l.ends_with("s aborted"))
    );
}

#[test]
fn abor_with_telnet_ip_and_dm_in_band() {
    let root = TempDir::new("abor-iac");
    sparse(&root, "big.bin", 4 << 30);
    root.write("small.txt", b"small");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let d = start_big_retr(&mut c);
    c.send_raw(b"\xff\xf4\xff\xf2abor\r\n");
    after_abort_the_session_works(&mut c, d);
}

// What BSD ftp and tnftp do (RFC 959 section 4.1.3): IAC IP in band, then IAC DM with the DM
// as TCP urgent data, which the server's kernel takes out of the stream.
#[test]
fn abor_with_telnet_sync_as_urgent_data() {
    let root = TempDir::new("abor-urgent");
    sparse(&root, "big.bin", 4 << 30);
    root.write("small.txt", b"small");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let d = start_big_retr(&mut c);
    c.send_raw(b"\xff\xf4");
    rustix::net::send(c.stream(), b"\xff\xf2", rustix::net::SendFlags::OOB).unwrap();
    c.send_raw(b"ABOR\r\n");
    after_abort_the_session_works(&mut c, d);
}

#[test]
fn abor_during_stor_426_then_226() {
    let root = TempDir::new("abor-stor");
    root.write("small.txt", b"small");
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("STOR up.bin", 150);
    d.write_all(&pattern(200_000, 3)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
    drop(d);
    // An aborted upload of a new file leaves nothing behind.
    assert!(!root.join("up.bin").exists());
    assert_eq!(c.list("NLST"), "small.txt\r\n");
    let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
    assert_eq!(c.retr("small.txt"), b"small");
    assert!(srv.wait_log("anonymous: STOR /up.bin "));
}

#[test]
fn stalled_transfers_time_out_with_426() {
    let root = TempDir::new("stall");
    sparse(&root, "big.bin", 1 << 30);
    root.write("keep.txt", b"old contents");
    let srv = Server::anon_with(root.path(), &["--write", "--data-timeout", "1"]);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    // A download the client stops reading.
    let _d = c.epsv();
    c.expect("RETR big.bin", 150);
    assert_eq!(
        c.reply(),
        "426 Data connection timed out; transfer aborted.\r\n"
    );
    // An upload that sends nothing.
    let d = c.epsv();
    c.expect("STOR keep.txt", 150);
    assert_eq!(
        c.reply(),
        "426 Data connection timed out; transfer aborted.\r\n"
    );
    drop(d);
    assert_eq!(
        std::fs::read(root.join("keep.txt")).unwrap(),
        b"old contents"
    );
    assert_eq!(c.retr("keep.txt"), b"old contents");
    assert!(srv.wait_log("s timed out"));
}

/// LF -> CRLF for lone LFs, as TYPE A sends a Unix text file.
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// A sparse file the client can't possibly read before it asks for ABOR.
fn sparse(root: &TempDir, name: &str, len: u64) {
    let f = std::fs::File::create(root.join(name)).unwrap();
    f.set_len(len).unwrap();
}

/// Starts `RETR big.bin` and reads a little, then stops reading; returns the data socket.
fn start_big_retr(c: &mut Client) -> std::net::TcpStream {
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    let first = c.cmd("RETR big.bin");
    assert!(first.starts_with("150 "), "{first}");
    let mut buf = vec![0u8; 65536];
    d.read_exact(&mut buf).unwrap();
    // Let the server fill the socket buffers and block.
    std::thread::sleep(Duration::from_millis(200));
    d
}

fn after_abort_the_session_works(c: &mut Client, mut d: std::net::TcpStream) {
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
    // The data connection was closed, long before 4 GiB.
    let (rest, closed) = read_until_closed(&mut d);
    assert!(closed);
    assert!((rest.len() as u64) < 1 << 31);
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.retr("small.txt"), b"small");
}

/// A checksum of a big file counts against the bandwidth caps, so at 256 KiB/s a 4 MiB file
/// takes 16 s; meanwhile ABOR stops it (426, then 226) and the session goes on, a QUIT
/// stops it and then runs (221), and a third checksum while two run gets 450.
#[test]
fn checksums_are_paced_and_stopped_by_abor_and_quit_and_two_run_at_once() {
    let root = TempDir::new("hash-big");
    root.write("big.bin", &pattern(4 << 20, 3));
    let srv = Server::anon_with(root.path(), &["--anon-max-rate", "256K"]);
    let mut a = srv.anon_client();
    a.send_raw(b"XSHA256 big.bin\r\n");
    std::thread::sleep(Duration::from_millis(300));
    a.send_raw(b"ABOR\r\n");
    assert_eq!(a.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(a.reply(), "226 ABOR successful.\r\n");
    assert_eq!(a.cmd("NOOP"), "200 NOOP ok.\r\n");
    let mut b = srv.anon_client();
    let mut c = srv.anon_client();
    b.send_raw(b"XMD5 big.bin\r\n");
    c.send_raw(b"HASH big.bin\r\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        a.cmd("XCRC big.bin"),
        "450 Too many checksums at once; try again shortly.\r\n"
    );
    b.send_raw(b"QUIT\r\n");
    assert_eq!(b.reply(), "426 Stopped: QUIT came.\r\n");
    assert!(b.reply().starts_with("221 "));
    assert!(b.closed());
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
}

/// Python's ftplib asks for every checksum of a 3 MiB file; each equals hashlib's (and
/// zlib's CRC-32) over the same bytes.
#[test]
fn ftplib_checksums_equal_hashlib_on_a_big_file() {
    let root = TempDir::new("hash-ftplib");
    let big = root.write("big file.bin", &pattern(3 << 20, 8));
    let srv = Server::anon(root.path());
    let script = r#"
import ftplib, hashlib, sys, zlib
data = open(sys.argv[2], "rb").read()
f = ftplib.FTP()
f.connect("127.0.0.1", int(sys.argv[1]), timeout=20)
f.login()
want = {"XSHA256": hashlib.sha256(data).hexdigest(), "XSHA512": hashlib.sha512(data).hexdigest(),
        "XSHA1": hashlib.sha1(data).hexdigest(), "XMD5": hashlib.md5(data).hexdigest(),
        "XCRC": "%08x" % zlib.crc32(data)}
for verb, w in want.items():
    got = f.sendcmd('%s "big file.bin"' % verb)
    assert got == "250 " + w, (verb, got, w)
got = f.sendcmd("HASH big file.bin").split()
assert got[:4] == ["213", "SHA-256", "0-%d" % len(data), want["XSHA256"]], got
f.sendcmd("OPTS HASH SHA-1")
assert f.sendcmd("HASH big file.bin").split()[3] == want["XSHA1"]
part = f.sendcmd('XMD5 "big file.bin" 1000 2000000')
assert part == "250 " + hashlib.md5(data[1000:2000000]).hexdigest(), part
print("ok")
f.quit()
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(srv.port().to_string())
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
