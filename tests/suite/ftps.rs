//! FTPS (RFC 4217): explicit (AUTH TLS) and implicit (`--listen-tls`), with real clients
//! (curl, lftp, Python's ftplib) and a raw TLS client proving that a data connection must
//! resume its own control connection's TLS session. Built with the `tls` feature (the host
//! build); the plain router flavour refuses the flags (tests/suite/cli.rs).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::canary::signal;
use crate::support::*;

/// A certificate and key made by openssl: `ec` (P-256) or `rsa` (2048 bits).
fn cert(dir: &TempDir, kind: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(&format!("{kind}-cert.pem")),
        dir.join(&format!("{kind}-key.pem")),
    );
    let newkey = match kind {
        "rsa" => "-newkey rsa:2048",
        "ed25519" => "-newkey ed25519",
        _ => "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
    };
    let (ok, _, err) = sh(&format!(
        "openssl req -x509 {newkey} -nodes -days 2 -subj /CN=edgeftpd-test \
         -keyout '{}' -out '{}'",
        key.display(),
        cert.display()
    ));
    assert!(ok, "openssl req: {err}");
    (cert, key)
}

/// A users-file account `bob`/`secret` (rw) with a home holding `hello.txt`, and a server
/// with FTPS on (`extra` flags added).
struct Ftps {
    home: TempDir,
    cert: PathBuf,
    key: PathBuf,
    srv: Server,
}

fn ftps(kind: &str, extra: &[&str]) -> Ftps {
    let home = TempDir::new("ftps");
    home.write("hello.txt", b"hello over tls\n");
    let (cert, key) = cert(&home, kind);
    let users = home.write(
        "users.txt",
        (user_line("bob", "secret", home.path(), "rw")
            + &user_line("eve", "evil", home.path(), "ro"))
            .as_bytes(),
    );
    let mut args = vec![
        "--users",
        users.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let srv = Server::start(&args);
    Ftps {
        home,
        cert,
        key,
        srv,
    }
}

/// The implicit FTPS listener's port, from the log.
fn implicit_port(srv: &Server) -> u16 {
    assert!(srv.wait_log("(implicit FTPS)"));
    let log = srv.log();
    let line = log.lines().find(|l| l.contains("(implicit FTPS)")).unwrap();
    let addr = line.split("listening on ").nth(1).unwrap();
    let addr = addr.split_whitespace().next().unwrap();
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn curl(args: &str) -> (bool, String, String) {
    sh(&format!("curl -sS --max-time 30 -k {args}"))
}

#[test]
fn curl_lists_gets_puts_and_resumes_over_explicit_and_implicit_ftps() {
    let f = ftps("ec", &["--listen-tls", "127.0.0.1:0"]);
    let url = format!("ftp://127.0.0.1:{}", f.srv.port());
    let (ok, out, err) = curl(&format!("--ssl-reqd -u bob:secret {url}/"));
    assert!(ok && out.contains(" hello.txt"), "{out}{err}");
    let (ok, out, err) = curl(&format!("--ssl-reqd -u bob:secret {url}/hello.txt"));
    assert!(ok && out == "hello over tls\n", "{out}{err}");
    let data = pattern(300_000, 51);
    let up = f.home.write("local.bin", &data);
    let (ok, _, err) = curl(&format!(
        "--ssl-reqd -u bob:secret -T '{}' {url}/up.bin",
        up.display()
    ));
    assert!(ok, "{err}");
    assert!(std::fs::read(f.home.join("up.bin")).unwrap() == data);
    // Resume an upload (APPE from where the server is) and a download (REST).
    std::fs::write(f.home.join("half.bin"), &data[..100_000]).unwrap();
    let (ok, _, err) = curl(&format!(
        "--ssl-reqd -u bob:secret -C - -T '{}' {url}/half.bin",
        up.display()
    ));
    assert!(ok, "{err}");
    assert!(std::fs::read(f.home.join("half.bin")).unwrap() == data);
    let partial = f.home.write("got.bin", &data[..50_000]);
    let (ok, _, err) = curl(&format!(
        "--ssl-reqd -u bob:secret -C - -o '{}' {url}/up.bin",
        partial.display()
    ));
    assert!(ok, "{err}");
    assert!(std::fs::read(&partial).unwrap() == data);
    // Implicit FTPS: TLS from the first byte.
    let port = implicit_port(&f.srv);
    let (ok, out, err) = curl(&format!("-u bob:secret ftps://127.0.0.1:{port}/hello.txt"));
    assert!(ok && out == "hello over tls\n", "{out}{err}");
    // Every transfer above was on a resumed TLS session: none was refused.
    assert!(
        !f.srv.log().contains("TLS data connection refused"),
        "{}",
        f.srv.log()
    );
}

#[test]
fn lftp_mirrors_both_ways_over_ftps_passive_and_active() {
    let f = ftps("rsa", &[]);
    let tree = TempDir::new("ftps-tree");
    for i in 0..6 {
        tree.write(
            &format!("d{}/f{i}.bin", i % 2),
            &pattern(20_000 + i * 7_000, i as u64),
        );
    }
    let down = TempDir::new("ftps-down");
    for passive in ["on", "off"] {
        let remote = format!("up-{passive}");
        let script = format!(
            "set ftp:ssl-force true; set ftp:ssl-protect-data true; \
             set ssl:verify-certificate no; set ftp:passive-mode {passive}; \
             set net:max-retries 1; set net:timeout 20; \
             mirror -R '{}' {remote}; mirror {remote} '{}/{remote}'; bye",
            tree.path().display(),
            down.path().display()
        );
        let out = std::process::Command::new("lftp")
            .args([
                "-u",
                "bob,secret",
                "-p",
                &f.srv.port().to_string(),
                "127.0.0.1",
            ])
            .args(["-e", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lftp ({passive}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for i in 0..6 {
            let rel = format!("d{}/f{i}.bin", i % 2);
            let want = std::fs::read(tree.join(&rel)).unwrap();
            assert!(std::fs::read(f.home.join(&format!("{remote}/{rel}"))).unwrap() == want);
            assert!(std::fs::read(down.join(&format!("{remote}/{rel}"))).unwrap() == want);
        }
    }
    assert!(!f.srv.log().contains("TLS data connection refused"));
}

const FTPLIB: &str = r#"
import ftplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect("127.0.0.1", int(sys.argv[1]))
f.login("bob", "secret")
f.prot_p()
try:
    print("LIST", f.nlst())
except Exception:
    # The data connection was closed after its handshake; the reply follows.
    try:
        f.getresp()
    except ftplib.error_perm as e:
        print("ERR", e)
print(f.voidcmd("NOOP"))
f.quit()
"#;

/// Python's ftplib does not resume the control connection's TLS session on its data
/// connections (it offers the session, which OpenSSL's client does not resume here either):
/// refused by default (522, the session goes on), served with `--tls-reuse optional`.
#[test]
fn ftplib_without_session_reuse_gets_522_unless_reuse_is_optional() {
    for (extra, want) in [
        (
            &[][..],
            "ERR 522 TLS session of the control connection required.",
        ),
        (&["--tls-reuse", "optional"][..], "'hello.txt'"),
    ] {
        let f = ftps("ec", extra);
        let text = python(FTPLIB, &[f.srv.port().into()]);
        assert!(text.contains(want), "{text}");
        assert!(text.contains("200 NOOP ok."), "{text}");
    }
}

/// rclone over explicit FTPS with the default `--tls-reuse required`: it opens several
/// control connections and keeps one TLS session cache for all of them, so a data
/// connection resumes the session of a sibling control connection of the same user
/// (refused with 522 before: rclone failed 8 of 10 steps). Up, list, down and check.
#[test]
fn rclone_with_one_session_cache_for_its_connections_copies_both_ways() {
    let f = ftps("ec", &[]);
    let local = TempDir::new("rclone-up");
    for i in 0..8 {
        local.write(
            &format!("d/f{i}.bin"),
            &pattern(20_000 + i * 7_000, i as u64),
        );
    }
    let back = TempDir::new("rclone-down");
    let remote = format!(
        ":ftp,host=127.0.0.1,port={},user=bob,pass=$(rclone obscure secret),\
         explicit_tls=true,no_check_certificate=true:",
        f.srv.port()
    );
    let flags = "--config /dev/null --transfers 4 --checkers 4 --low-level-retries 1 --retries 1";
    let (ok, out, err) = sh(&format!(
        "set -e; R=\"{remote}\"; rclone {flags} copy {up}/d \"$R\"up; \
         rclone {flags} lsf \"$R\"up; rclone {flags} copy \"$R\"up {down}; \
         rclone {flags} check {up}/d {down}",
        up = local.path().display(),
        down = back.path().display(),
    ));
    assert!(ok, "{out}{err}\n{}", f.srv.log());
    assert_eq!(out.lines().count(), 8, "{out}");
    for i in 0..8 {
        let want = pattern(20_000 + i * 7_000, i as u64);
        assert!(std::fs::read(back.join(&format!("f{i}.bin"))).unwrap() == want);
    }
    assert!(
        !f.srv.log().contains("TLS data connection refused"),
        "{}",
        f.srv.log()
    );
}

const FTPLIB_STORE: &str = r#"
import ftplib, io, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
# 5 s: far below --data-timeout, so an upload that only ends there fails here.
f = ftplib.FTP_TLS(context=ctx, timeout=5)
f.connect("127.0.0.1", int(sys.argv[1]))
f.login("bob", "secret")
f.prot_p()
for size in (0, 1, 1000, 70000, 1 << 20):
    data = bytes(i * 7 % 251 for i in range(size))
    print(f.storbinary("STOR up%d.bin" % size, io.BytesIO(data)))
    got = io.BytesIO()
    print(f.retrbinary("RETR up%d.bin" % size, got.write))
    assert got.getvalue() == data, size
print(f.voidcmd("NOOP"))
f.quit()
"#;

/// Python's ftplib (`--tls-reuse optional`, as it never resumes): its storbinary sends its
/// close_notify right behind the last data, then waits for the server's. The upload ends
/// at once with 226 (it used to wait for --data-timeout: rustls had taken the close_notify
/// in with the data, so poll saw nothing more to read), and the server answers the
/// close_notify with its own (ftplib's unwrap failed with an unexpected EOF without it).
#[test]
fn ftplib_storbinary_ends_at_its_close_notify_and_gets_one_back() {
    let f = ftps("ec", &["--tls-reuse", "optional", "--data-timeout", "30"]);
    let text = python(FTPLIB_STORE, &[f.srv.port().into()]);
    assert_eq!(text.matches("226 ").count(), 10, "{text}");
    assert!(text.contains("200 NOOP ok."), "{text}");
    for size in [0usize, 1, 1000, 70000, 1 << 20] {
        let want: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        assert!(std::fs::read(f.home.join(&format!("up{size}.bin"))).unwrap() == want);
    }
    assert!(!f.srv.log().contains("timed out"), "{}", f.srv.log());
}

/// Put before every Python script here: `control()` opens a raw explicit-FTPS session
/// (AUTH TLS, bob's login, PBSZ 0, PROT P, TYPE I) and returns the TLS socket, a reader of
/// it and `cmd(line) -> reply`; `epsv(cmd)` opens the passive data connection (TCP only).
const PY_FTPS: &str = r#"
import os, signal, socket, ssl, sys, time
port = int(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def control(user="bob", pw="secret", source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0))
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"AUTH TLS\r\n"); assert f.readline().startswith(b"234")
    t = ctx.wrap_socket(s)
    g = t.makefile("rb")
    def cmd(c):
        t.sendall(c.encode() + b"\r\n")
        return g.readline().decode().strip()
    assert cmd("USER " + user).startswith("331")
    assert cmd("PASS " + pw).startswith("230")
    assert cmd("PBSZ 0").startswith("200")
    assert cmd("PROT P").startswith("200")
    assert cmd("TYPE I").startswith("200")
    cmd("NOOP")  # lets TLS 1.3 tickets arrive
    return t, g, cmd
def epsv(cmd):
    r = cmd("EPSV")
    dport = int(r.split("|||")[1].split("|")[0])
    return socket.create_connection(("127.0.0.1", dport), timeout=20)
def recv_all(d):
    got = b""
    while True:
        b = d.recv(4096)
        if not b:
            return got
        got += b
"#;

/// Runs `script` (after [`PY_FTPS`]) with `args` (a port first, then pids); asserts it
/// succeeded and returns its stdout.
fn python(script: &str, args: &[u32]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!("{PY_FTPS}{script}"))
        .args(args.iter().map(u32::to_string))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A raw TLS client: a second control connection's TLS session can't take the first one's
/// passive data connection (no byte of the file reaches it), and neither can a fresh
/// handshake; the session whose data connection it was goes on.
const THIEF: &str = r#"
victim, vg, vcmd = control()
sessions = {
    "another user": control("eve", "evil")[0],
    "a fresh handshake": None,
    "the same user from another address": control(source="127.0.0.2")[0],
    "the same user's other connection": control()[0],
}
for how, session in sessions.items():
    raw = epsv(vcmd)
    victim.sendall(b"RETR hello.txt\r\n")
    print(how, "150:", vg.readline().decode().strip())
    got = b""
    try:
        if session is not None:
            d = ctx.wrap_socket(raw, session=session.session)
        else:
            d = ctx.wrap_socket(raw)
        while True:
            b = d.recv(4096)
            if not b:
                break
            got += b
    except (ssl.SSLError, OSError) as e:
        pass
    print(how, "stolen:", len(got))
    print(how, "reply:", vg.readline().decode().strip())
print("after:", vcmd("NOOP"))
"#;

/// A data connection that never starts its TLS handshake: after --data-timeout the reply
/// says so (425), the log too, and the session goes on.
const SILENT_DATA: &str = r#"
t, g, cmd = control()
raw = epsv(cmd)
t.sendall(b"RETR hello.txt\r\n")
print("first:", g.readline().decode().strip())
print("then:", g.readline().decode().strip())
print("after:", cmd("NOOP"))
"#;

#[test]
fn a_data_connection_without_a_tls_handshake_times_out_with_its_own_reply() {
    let f = ftps("ec", &["--data-timeout", "1"]);
    let text = python(SILENT_DATA, &[f.srv.port().into()]);
    assert!(
        text.contains("then: 425 TLS handshake on the data connection timed out."),
        "{text}"
    );
    assert!(text.contains("after: 200 NOOP ok."), "{text}");
    assert!(
        f.srv
            .wait_log("TLS data connection: no handshake within 1 s (--data-timeout)")
    );
}

/// SECURITY: a data connection must resume a TLS session of its own control connection,
/// or of another control connection of the same user from the same address (rclone and
/// goftp share one session cache among their control connections); another account's
/// session, a full handshake, or the same user's session from elsewhere get 522.
#[test]
fn a_data_connection_must_resume_a_session_of_the_same_user_and_address() {
    for version in ["", "ctx.maximum_version = ssl.TLSVersion.TLSv1_2\n"] {
        thieves_get_522_and_siblings_are_served(version);
    }
}

/// The THIEF script with `version` put before it (TLS 1.2 sessions resume from tickets
/// too, sealed with the same key).
fn thieves_get_522_and_siblings_are_served(version: &str) {
    let f = ftps("ec", &[]);
    let text = python(&format!("{version}{THIEF}"), &[f.srv.port().into()]);
    let own = "the same user's other connection";
    assert!(text.contains(&format!("{own} stolen: 15")), "{text}");
    assert!(
        text.contains(&format!("{own} reply: 226 Transfer complete.")),
        "{text}"
    );
    for how in [
        "another user",
        "a fresh handshake",
        "the same user from another address",
    ] {
        assert!(text.contains(&format!("{how} stolen: 0")), "{text}");
        assert!(
            text.contains(&format!(
                "{how} reply: 522 TLS session of the control connection required."
            )),
            "{text}"
        );
    }
    assert!(text.contains("after: 200 NOOP ok."), "{text}");
    assert!(f.srv.wait_log("TLS data connection refused"));
}

/// An FTPS session that idles gives its thread back with its TLS state and goes on: the
/// control connection's records, and a data connection that resumes its TLS session.
const IDLES: &str = r#"
t, g, cmd = control()
for round in range(2):
    time.sleep(1.2)
    print("idle", round, cmd("PWD"))
    raw = epsv(cmd)
    t.sendall(b"RETR hello.txt\r\n")
    print("150:", g.readline().decode().strip())
    d = ctx.wrap_socket(raw, session=t.session)
    print("got:", recv_all(d))
    print("reply:", g.readline().decode().strip())
print("after:", cmd("QUIT"))
"#;

#[test]
fn an_ftps_session_that_idles_goes_on_with_its_tls_state() {
    let f = ftps("ec", &[]);
    let text = python(IDLES, &[f.srv.port().into()]);
    for round in 0..2 {
        assert!(
            text.contains(&format!("idle {round} 257 \"/\" is the current directory.")),
            "{text}"
        );
    }
    assert_eq!(
        text.matches("got: b'hello over tls\\n'").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("reply: 226 Transfer complete.").count(),
        2,
        "{text}"
    );
    assert!(text.contains("after: 221 Goodbye."), "{text}");
}

#[test]
fn the_ftps_commands_and_their_replies() {
    let f = ftps("ec", &[]);
    let mut c = f.srv.client();
    let feat = c.cmd("FEAT");
    for l in [" AUTH TLS\r\n", " PBSZ\r\n", " PROT\r\n"] {
        assert!(feat.contains(l), "{feat}");
    }
    assert!(c.cmd("HELP").contains(" AUTH "));
    assert_eq!(c.cmd("PBSZ 0"), "503 PBSZ needs AUTH TLS first.\r\n");
    assert_eq!(c.cmd("PROT P"), "503 PROT needs PBSZ first.\r\n");
    assert_eq!(c.cmd("AUTH KERBEROS"), "504 AUTH TLS or AUTH SSL only.\r\n");
    assert_eq!(
        c.cmd("CCC"),
        "534 CCC is not allowed: the session stays TLS.\r\n"
    );
    // A server without a certificate says so.
    let root = TempDir::new("no-tls");
    let plain = Server::anon(root.path());
    let mut p = plain.client();
    assert_eq!(p.cmd("AUTH TLS"), "502 TLS is not supported.\r\n");
    assert!(!p.cmd("FEAT").contains("AUTH"));
}

/// `--tls required`: no login without TLS (anonymous included), no clear-text data.
const REQUIRED: &str = r#"
import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect("127.0.0.1", int(sys.argv[1]))
f.login("bob", "secret")
try:
    f.nlst()
    print("clear data served")
except ftplib.error_perm as e:
    print("ERR", e)
f.prot_p()
print("LIST", f.nlst())
"#;

#[test]
fn tls_required_refuses_clear_text_logins_and_data() {
    let home = TempDir::new("tls-req");
    let f = ftps(
        "ec",
        &[
            "--tls",
            "required",
            "--tls-reuse",
            "optional",
            "--anonymous",
            "--root",
            home.path().to_str().unwrap(),
        ],
    );
    let mut c = f.srv.client();
    assert_eq!(
        c.cmd("USER bob"),
        "530 TLS required: use AUTH TLS first.\r\n"
    );
    assert_eq!(
        c.cmd("USER anonymous"),
        "530 TLS required: use AUTH TLS first.\r\n"
    );
    let text = python(REQUIRED, &[f.srv.port().into()]);
    assert!(
        text.contains("ERR 522 Data connections must be protected: use PROT P."),
        "{text}"
    );
    assert!(
        text.contains("LIST [") && text.contains("'hello.txt'"),
        "{text}"
    );
}

#[test]
fn bad_tls_setups_are_one_line_and_exit_2() {
    let dir = TempDir::new("tls-bad");
    let (ec_cert, ec_key) = cert(&dir, "ec");
    let (_rsa_cert, rsa_key) = cert(&dir, "rsa");
    let (ed_cert, ed_key) = cert(&dir, "ed25519");
    let junk = dir.write("junk.pem", b"not a pem file\n");
    // An encrypted key (PKCS#8 with a pass phrase), as `openssl pkcs8 -topk8` writes.
    let locked = dir.join("locked-key.pem");
    let (ok, _, err) = sh(&format!(
        "openssl pkcs8 -topk8 -in '{}' -out '{}' -passout pass:secret",
        ec_key.display(),
        locked.display()
    ));
    assert!(ok, "{err}");
    let root = dir.path().to_str().unwrap();
    let run = |args: &[&str]| -> (Option<i32>, String) {
        let mut cmd = server_command();
        cmd.args(["--anonymous", "--root", root, "--listen", "127.0.0.1:0"])
            .args(args);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, k, j) = (
        ec_cert.to_str().unwrap(),
        ec_key.to_str().unwrap(),
        junk.to_str().unwrap(),
    );
    for (args, want) in [
        (
            vec!["--tls-cert", "/nonexistent.pem", "--tls-key", k],
            "--tls-cert /nonexistent.pem:",
        ),
        (vec!["--tls-cert", j, "--tls-key", k], "no PEM"),
        (vec!["--tls-cert", c, "--tls-key", j], "--tls-key"),
        (
            vec!["--tls-cert", c, "--tls-key", rsa_key.to_str().unwrap()],
            "the key does not match the certificate",
        ),
        (
            vec![
                "--tls-cert",
                ed_cert.to_str().unwrap(),
                "--tls-key",
                ed_key.to_str().unwrap(),
            ],
            "ed25519-key.pem: not an RSA or ECDSA private key",
        ),
        (
            vec!["--tls-cert", c, "--tls-key", locked.to_str().unwrap()],
            "locked-key.pem: an encrypted key, which is not supported: write it unencrypted",
        ),
        (
            vec!["--tls", "required"],
            "--tls required and --listen-tls need --tls-cert",
        ),
        (vec!["--listen-tls", "127.0.0.1:0"], "need --tls-cert"),
        (
            vec!["--tls", "maybe"],
            "--tls maybe: expected off, optional or required",
        ),
        (
            vec!["--tls-cert", c],
            "--tls-cert and --tls-key go together",
        ),
    ] {
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// SIGHUP re-reads the certificate and key: new handshakes see the new pair, a session
/// from before keeps transferring, and a broken file keeps the old pair.
#[test]
fn sighup_reloads_the_certificate() {
    let f = ftps("ec", &[]);
    let fingerprint = |port: u16| {
        let (ok, out, err) = sh(&format!(
            "echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:{port} -starttls ftp \
             2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        ));
        assert!(ok, "{err}");
        out
    };
    let port = f.srv.port();
    let before = fingerprint(port);
    let url = format!("ftp://127.0.0.1:{port}");
    // A new pair in place of the old one.
    let dir = TempDir::new("tls-new");
    let (c2, k2) = cert(&dir, "ec");
    std::fs::copy(&c2, &f.cert).unwrap();
    std::fs::copy(&k2, &f.key).unwrap();
    signal(f.srv.pid(), "HUP");
    assert!(f.srv.wait_log("reloaded the TLS certificate and key"));
    let after = fingerprint(port);
    assert_ne!(before, after);
    let (ok, out, _) = curl(&format!("--ssl-reqd -u bob:secret {url}/hello.txt"));
    assert!(ok && out == "hello over tls\n");
    // A broken file: the old (new) pair stays.
    std::fs::write(&f.cert, b"garbage").unwrap();
    signal(f.srv.pid(), "HUP");
    assert!(f.srv.wait_log("keeping the certificate loaded before"));
    assert_eq!(fingerprint(port), after);
}

/// Garbage instead of a ClientHello, a ClientHello on the plain port, and a client that
/// says AUTH TLS and never handshakes: each costs only its own session.
#[test]
fn broken_tls_clients_cost_only_their_own_session() {
    let f = ftps("ec", &["--login-timeout", "2"]);
    let mut garbage = f.srv.client();
    assert_eq!(garbage.cmd("AUTH TLS"), "234 AUTH TLS successful.\r\n");
    garbage.send_raw(b"this is not a ClientHello\r\n\r\n");
    // (The server may answer with a TLS alert before it closes.)
    let (_, closed) = read_until_closed(garbage.ctl.get_mut());
    assert!(closed);
    let mut hello = f.srv.client();
    hello.send_raw(&[
        0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00, b'\r', b'\n',
    ]);
    // Not a command we know (before login: 530); the session goes on.
    assert!(hello.reply().starts_with("530 "));
    assert_eq!(hello.cmd("NOOP"), "200 NOOP ok.\r\n");
    let mut silent = f.srv.client();
    assert_eq!(silent.cmd("AUTH TLS"), "234 AUTH TLS successful.\r\n");
    let t = Instant::now();
    let (_, closed) = read_until_closed(silent.ctl.get_mut());
    assert!(closed);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the handshake wait outlived the login timeout"
    );
    let (ok, out, _) = curl(&format!(
        "--ssl-reqd -u bob:secret ftp://127.0.0.1:{}/hello.txt",
        f.srv.port()
    ));
    assert!(ok && out == "hello over tls\n");
}

/// TLS 1.2-only and TLS 1.3-only clients both work, with a resumed data session each.
#[test]
fn tls_1_2_and_tls_1_3_clients() {
    let f = ftps("ec", &[]);
    let url = format!("ftp://127.0.0.1:{}/hello.txt", f.srv.port());
    for version in ["--tlsv1.2 --tls-max 1.2", "--tlsv1.3"] {
        let (ok, out, err) = curl(&format!("--ssl-reqd {version} -u bob:secret {url}"));
        assert!(ok && out == "hello over tls\n", "{version}: {out}{err}");
    }
    assert!(!f.srv.log().contains("TLS data connection refused"));
}

/// The server's cipher order wins over the client's: curl (OpenSSL) offers AES-256-GCM
/// first, and gets what the server's log says it prefers for its CPU: AES-128-GCM where it
/// has AES instructions (x86_64, aarch64), ChaCha20-Poly1305 where it has none (armv7,
/// mips, mipsel: `make cross-test` runs this against those binaries).
#[test]
fn the_servers_cipher_order_wins_over_the_clients() {
    let f = ftps("ec", &[]);
    assert!(f.srv.wait_log("FTPS on; "));
    let log = f.srv.log();
    let line = log
        .lines()
        .find(|l| l.contains("FTPS on; "))
        .unwrap_or_default();
    let (tls13, tls12) = if line.contains("AES-128-GCM preferred") {
        ("TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256")
    } else if line.contains("ChaCha20-Poly1305 preferred") {
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
        )
    } else {
        panic!("no preferred cipher in the log:\n{log}")
    };
    let url = format!("ftp://127.0.0.1:{}/hello.txt", f.srv.port());
    for (version, want) in [("--tlsv1.3", tls13), ("--tlsv1.2 --tls-max 1.2", tls12)] {
        let (ok, out, err) = curl(&format!("-v --ssl-reqd {version} -u bob:secret {url}"));
        assert!(ok && out == "hello over tls\n", "{version}: {out}{err}");
        let got = err
            .lines()
            .find_map(|l| l.split("SSL connection using ").nth(1))
            .unwrap_or_default();
        assert!(got.ends_with(want), "{version}: {got}, not {want} ({line})");
    }
}

/// ABOR over the TLS control connection during a TLS download: 426, then 226, and the
/// session goes on.
const ABOR_TLS: &str = r#"
t, g, cmd = control()
raw = epsv(cmd)
print(cmd("RETR big.bin"))
d = ctx.wrap_socket(raw, session=t.session)
got = d.recv(65536)
t.sendall(b"ABOR\r\n")
print(g.readline().decode().strip())
print(g.readline().decode().strip())
print(cmd("NOOP"))
"#;

#[test]
fn abor_during_a_tls_download() {
    let f = ftps("ec", &[]);
    f.home.write("big.bin", &pattern(64 << 20, 60));
    let text = python(ABOR_TLS, &[f.srv.port().into()]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("150 "), "{text}");
    assert_eq!(
        lines[1], "426 Connection closed; transfer aborted.",
        "{text}"
    );
    assert_eq!(lines[2], "226 ABOR successful.", "{text}");
    assert_eq!(lines[3], "200 NOOP ok.", "{text}");
}

/// An upload whose TLS data connection ends without close_notify did not end cleanly: it
/// is a failed upload (the old file stays whole), as FileZilla treats it. A session logged
/// in before a certificate reload goes on transferring.
const NO_CLOSE_NOTIFY: &str = r#"
pid = int(sys.argv[2])
t, g, cmd = control()
def data(verb):
    raw = epsv(cmd)
    print(verb, cmd(verb))
    return ctx.wrap_socket(raw, session=t.session)
d = data("STOR hello.txt")
d.sendall(b"half of a new version")
# Close the TCP connection without a TLS close_notify.
os.close(d.detach())
print("end:", g.readline().decode().strip())
# The certificate is replaced and reloaded; this session goes on.
os.kill(pid, signal.SIGHUP)
time.sleep(1)
d = data("RETR hello.txt")
print("got:", recv_all(d).decode().strip())
print("end:", g.readline().decode().strip())
"#;

#[test]
fn an_upload_without_close_notify_fails_and_a_reload_spares_sessions() {
    let f = ftps("ec", &[]);
    let dir = TempDir::new("tls-renew");
    let (c2, k2) = cert(&dir, "ec");
    std::fs::copy(&c2, &f.cert).unwrap();
    std::fs::copy(&k2, &f.key).unwrap();
    let text = python(NO_CLOSE_NOTIFY, &[f.srv.port().into(), f.srv.pid()]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("STOR hello.txt 150 "), "{text}");
    assert_eq!(
        lines[1], "end: 426 Connection closed; transfer aborted.",
        "{text}"
    );
    assert!(lines[2].starts_with("RETR hello.txt 150 "), "{text}");
    assert_eq!(lines[3], "got: hello over tls", "{text}");
    assert_eq!(lines[4], "end: 226 Transfer complete.", "{text}");
    assert_eq!(
        std::fs::read(f.home.join("hello.txt")).unwrap(),
        b"hello over tls\n"
    );
    assert!(f.srv.wait_log("reloaded the TLS certificate and key"));
}
