//! Uploads never lose a good file: atomic STOR (aborted, reset, abandoned, timed-out or
//! completed), a full disk and a file-size limit during STOR and APPE, concurrent uploads and
//! downloads of one name, and many sessions at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::canary::*;
use crate::support::*;

/// Uploads `data` with `line`, writing in pieces and ignoring a data connection the server
/// closes early (it stops reading when the disk is full): (150 reply, final reply).
fn upload(cl: &mut Client, line: &str, data: &[u8]) -> (String, String) {
    let mut d = cl.epsv();
    let first = cl.cmd(line);
    if !first.starts_with("150") {
        return (first, String::new());
    }
    for c in data.chunks(64 << 10) {
        if d.write_all(c).is_err() {
            break;
        }
    }
    drop(d);
    (first, cl.reply())
}

/// Runs the server with its root on a fresh 1 MiB tmpfs, mounted in a mount namespace of its
/// own (nothing leaks into the host's mount table, even if the test dies). `seed` is copied
/// in as `old.bin` first. The test sees the tmpfs through /proc/PID/root.
fn server_on_small_tmpfs(dir: &Path, seed: &Path) -> (Server, PathBuf) {
    let setup = format!(
        "mount -t tmpfs -o size=1m edgeftpd-test '{d}' && cp '{s}' '{d}/old.bin'",
        d = dir.display(),
        s = seed.display()
    );
    let root = dir.to_str().unwrap();
    let srv = Server::start_wrapped(
        &in_mount_namespace(&setup),
        &["--anonymous", "--write", "--root", root],
    );
    let view = PathBuf::from(format!("/proc/{}/root{}", srv.pid(), dir.display()));
    let (ok, out, _) = sh(&format!("stat -f -c '%T %b %S' '{}'", view.display()));
    assert!(
        ok && out.trim() == "tmpfs 256 4096",
        "no 1 MiB tmpfs at the root: {out}"
    );
    (srv, view)
}

#[test]
fn full_file_system_during_stor_and_appe_keeps_the_old_file() {
    require_root("mounting a tmpfs");
    let t = TempDir::new("tmpfs");
    let old = pattern(200 << 10, 1);
    let seed = t.write("seed.bin", &old);
    std::fs::create_dir(t.join("root")).unwrap();
    let (mut srv, view) = server_on_small_tmpfs(&t.join("root"), &seed);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let too_big = pattern(3 << 20, 2);

    // Overwrite: the old file stays byte-identical and the temporary file goes.
    let (first, last) = upload(&mut cl, "STOR old.bin", &too_big);
    assert_eq!(first, "150 Ok to send data for old.bin\r\n");
    assert_eq!(last, "452 Insufficient storage space.\r\n");
    assert!(std::fs::read(view.join("old.bin")).unwrap() == old);
    assert!(temp_files(&view).is_empty(), "{:?}", temp_files(&view));
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    // The space of the failed upload was given back: a small upload fits, and another
    // session reads it.
    let (_, last) = upload(&mut cl, "STOR fits.bin", b"fits");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(srv.anon_client().retr("fits.bin"), b"fits");
    // A new name: nothing is left under it.
    let (_, last) = upload(&mut cl, "STOR new.bin", &too_big);
    assert_eq!(last, "452 Insufficient storage space.\r\n");
    assert!(!view.join("new.bin").exists());
    assert!(temp_files(&view).is_empty());
    // APPE writes in place: the old bytes stay, whatever was appended is after them.
    let (first, last) = upload(&mut cl, "APPE old.bin", &too_big);
    assert!(first.starts_with("150"), "{first}");
    assert_eq!(last, "452 Insufficient storage space.\r\n");
    let now = std::fs::read(view.join("old.bin")).unwrap();
    assert!(
        now[..old.len()] == old[..],
        "APPE damaged the existing bytes"
    );
    assert!(now[old.len()..] == too_big[..now.len() - old.len()]);
    // The session goes on, and once there is room again uploads work.
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    cl.expect("DELE old.bin", 250);
    let small = pattern(100 << 10, 3);
    let (first, last) = upload(&mut cl, "STOR small.bin", &small);
    assert!(first.starts_with("150"));
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(cl.retr("small.bin") == small);
    assert!(srv.alive());
    assert!(srv.wait_log("No space left on device"), "{}", srv.log());
}

/// `--min-free` on a 1 MiB tmpfs: a camera uploads 100 KiB pictures in a loop until the
/// disk is down to the floor. The upload that would go below it gets 452 (before its data
/// connection, or as it crosses the line), and every picture before it is whole; nothing
/// half-written is left. Then one big upload crosses the floor midway: 452, nothing kept,
/// and the space comes back.
#[test]
fn a_camera_filling_the_disk_stops_at_min_free_and_keeps_every_picture() {
    require_root("mounting a tmpfs");
    let t = TempDir::new("minfree");
    let dir = t.join("root");
    std::fs::create_dir(&dir).unwrap();
    let setup = format!(
        "mount -t tmpfs -o size=1m edgeftpd-test '{}'",
        dir.display()
    );
    let srv = Server::start_wrapped(
        &in_mount_namespace(&setup),
        &[
            "--anonymous",
            "--anon-write",
            "--root",
            dir.to_str().unwrap(),
            "--min-free",
            "300K",
        ],
    );
    let view = PathBuf::from(format!("/proc/{}/root{}", srv.pid(), dir.display()));
    let free = || {
        let (_, out, _) = sh(&format!("stat -f -c '%a %S' '{}'", view.display()));
        let v: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
        v[0] * v[1]
    };
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let mut kept = Vec::new();
    let refused = loop {
        let i = kept.len();
        assert!(i < 20, "the floor never stopped the camera");
        let pic = pattern(100 << 10, i as u64);
        let (first, last) = upload(&mut cl, &format!("STOR cam{i}.jpg"), &pic);
        if last == "226 Transfer complete.\r\n" {
            kept.push(pic);
            continue;
        }
        break if first.starts_with("150") {
            last
        } else {
            first
        };
    };
    assert_eq!(refused, "452 Insufficient storage space.\r\n");
    assert!((5..=7).contains(&kept.len()), "{} pictures", kept.len());
    for (i, pic) in kept.iter().enumerate() {
        assert!(
            std::fs::read(view.join(format!("cam{i}.jpg"))).unwrap() == *pic,
            "cam{i}"
        );
    }
    assert!(!view.join(format!("cam{}.jpg", kept.len())).exists());
    assert!(temp_files(&view).is_empty());
    assert!(free() >= 200 << 10, "{} bytes free", free());
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    // Room again; one upload bigger than the room above the floor stops midway.
    for i in 0..kept.len() {
        cl.expect(&format!("DELE cam{i}.jpg"), 250);
    }
    let before = free();
    let (first, last) = upload(&mut cl, "STOR big.bin", &pattern(900 << 10, 9));
    assert!(first.starts_with("150"), "{first}");
    assert_eq!(
        last,
        "452 Insufficient storage space.\r\n",
        "{before} free before; {}",
        srv.log()
    );
    assert!(!view.join("big.bin").exists());
    assert!(temp_files(&view).is_empty());
    assert!(free() > 900 << 10);
    assert!(
        srv.log().contains("--min-free: ")
            && srv
                .log()
                .contains("KiB free on the disk, the floor is 300 KiB"),
        "{}",
        srv.log()
    );
}

/// `--on-upload`: after each completed upload the program runs with the file's path as its
/// argument and the upload's facts in its environment, never through a shell (a name with
/// `;` and `$(...)` stays a name), with the uploader's umask. A slow run never holds up the
/// 226 or the next command; one that fails is logged; one past --on-upload-timeout is
/// killed and logged.
#[test]
fn on_upload_runs_the_program_after_each_upload_without_a_shell() {
    let d = TempDir::new("hook");
    let root = d.join("root");
    std::fs::create_dir(&root).unwrap();
    let out = d.join("hook.log");
    let script = d.script(
        "hook.sh",
        &format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s|%s|%s\\n' \"$1\" \"$EDGEFTPD_USER\" \
             \"$EDGEFTPD_CLIENT\" \"$EDGEFTPD_PATH\" \"$EDGEFTPD_SIZE\" \"$(umask)\" >> '{}'\n\
             case \"$EDGEFTPD_PATH\" in */slow*) sleep 30;; */fail*) exit 3;; esac\n",
            out.display()
        ),
    );
    let srv = Server::anon_with(
        &root,
        &[
            "--anon-write",
            "--umask",
            "002",
            "--on-upload",
            script.to_str().unwrap(),
            "--on-upload-timeout",
            "1",
        ],
    );
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let odd = "odd; $(touch pwned).txt";
    for (name, data) in [("a.txt", &b"hello"[..]), (odd, b"x"), ("fail.bin", b"f")] {
        let (_, last) = upload(&mut c, &format!("STOR {name}"), data);
        assert_eq!(last, "226 Transfer complete.\r\n", "{name}");
    }
    let (_, last) = upload(&mut c, "APPE a.txt", b"+++");
    assert_eq!(last, "226 Transfer complete.\r\n");
    // A run that takes longer than the timeout: the 226 and the next reply come first.
    let (_, last) = upload(&mut c, "STOR slow.bin", b"s");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert!(!srv.log().contains("killed"), "the 226 waited for the hook");
    assert!(srv.wait_log("slow.bin: still running after 1 s (--on-upload-timeout); killed"));
    assert!(srv.wait_log("fail.bin: failed (exit status 3)"));
    let root_s = root.display().to_string();
    let want = [
        format!("{root_s}/a.txt|anonymous|127.0.0.1|/a.txt|5|0002"),
        format!("{root_s}/a.txt|anonymous|127.0.0.1|/a.txt|8|0002"),
        format!("{root_s}/{odd}|anonymous|127.0.0.1|/{odd}|1|0002"),
        format!("{root_s}/fail.bin|anonymous|127.0.0.1|/fail.bin|1|0002"),
        format!("{root_s}/slow.bin|anonymous|127.0.0.1|/slow.bin|1|0002"),
    ];
    assert!(
        eventually(WAIT, || std::fs::read_to_string(&out)
            .is_ok_and(|t| want.iter().all(|w| t.lines().any(|l| l == w)))),
        "{:?}",
        std::fs::read_to_string(&out)
    );
    assert!(!root.join("pwned").exists() && !d.join("pwned").exists());
    assert!(std::fs::read(root.join(odd)).unwrap() == b"x");
}

#[test]
fn file_size_limit_during_stor_and_appe_is_552_and_not_fatal() {
    // RLIMIT_FSIZE makes a write past the limit raise SIGXFSZ, which kills a process that
    // does not ignore it.
    let root = TempDir::new("fsize");
    let old = pattern(300 << 10, 4);
    root.write("old.bin", &old);
    // --anon-write, the name of what was --write (still taken: the other tests use it).
    let mut srv = Server::anon_with(root.path(), &["--anon-write"]);
    prlimit(srv.pid(), "--fsize=1048576:1048576");
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let too_big = pattern(3 << 20, 5);

    let (first, last) = upload(&mut cl, "STOR old.bin", &too_big);
    assert_eq!(first, "150 Ok to send data for old.bin\r\n");
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(srv.alive(), "SIGXFSZ killed the server");
    assert!(std::fs::read(root.join("old.bin")).unwrap() == old);
    assert!(temp_files(root.path()).is_empty());
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");

    let (_, last) = upload(&mut cl, "APPE old.bin", &too_big);
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    let now = std::fs::read(root.join("old.bin")).unwrap();
    assert_eq!(now.len(), 1 << 20, "APPE stops exactly at the limit");
    assert!(now[..old.len()] == old[..]);

    cl.expect("REST 1000", 350);
    let (_, last) = upload(&mut cl, "STOR old.bin", &too_big);
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");

    let ok = pattern(500 << 10, 6);
    let (_, last) = upload(&mut cl, "STOR ok.bin", &ok);
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(std::fs::read(root.join("ok.bin")).unwrap() == ok);
    assert!(srv.anon_client().retr("ok.bin") == ok);
    assert!(srv.alive());
    assert!(srv.wait_log("local error"), "{}", srv.log());
}

const FILE: usize = 16 << 20;

fn rw_server(root: &TempDir) -> Server {
    Server::anon_rw(root.path())
}

/// Starts a binary download of `name` and reads its first MiB.
fn start_download(cl: &mut Client, name: &str) -> (TcpStream, Vec<u8>) {
    cl.expect("TYPE I", 200);
    let mut d = cl.epsv();
    let r = cl.cmd(&format!("RETR {name}"));
    assert!(r.starts_with("150"), "{r}");
    let mut head = vec![0u8; 1 << 20];
    d.read_exact(&mut head).unwrap();
    (d, head)
}

fn finish_download(cl: &mut Client, mut d: TcpStream, mut data: Vec<u8>) -> Vec<u8> {
    d.read_to_end(&mut data).unwrap();
    assert_eq!(cl.reply(), "226 Transfer complete.\r\n");
    data
}

#[test]
fn download_during_an_overwrite_gets_one_version_whole() {
    let root = TempDir::new("read-vs-write");
    let a = pattern(FILE, 10);
    let b = pattern(FILE, 11);
    root.write("f.bin", &a);
    let srv = rw_server(&root);
    let mut reader = srv.anon_client();
    let mut writer = srv.anon_client();
    let (d, head) = start_download(&mut reader, "f.bin");
    writer.expect("TYPE I", 200);
    let (first, last) = writer.put("STOR f.bin", &b);
    assert!(first.starts_with("150") && last == "226 Transfer complete.\r\n");
    let got = finish_download(&mut reader, d, head);
    assert!(
        got == a || got == b,
        "the reader got a mix or a part ({} bytes)",
        got.len()
    );
    assert!(reader.retr("f.bin") == b);
}

#[test]
fn two_uploads_of_one_name_at_once_leave_one_whole_file() {
    let root = TempDir::new("write-vs-write");
    let srv = rw_server(&root);
    let mut a = srv.anon_client();
    let mut b = srv.anon_client();
    a.expect("TYPE I", 200);
    b.expect("TYPE I", 200);
    for round in 0..3u64 {
        let pa = pattern(4 << 20, 20 + round);
        let pb = pattern(4 << 20, 30 + round);
        let mut da = a.epsv();
        let mut db = b.epsv();
        assert!(a.cmd("STOR same.bin").starts_with("150"));
        assert!(b.cmd("STOR same.bin").starts_with("150"));
        // Interleave the two uploads in pieces.
        for (ca, cb) in pa.chunks(256 << 10).zip(pb.chunks(256 << 10)) {
            da.write_all(ca).unwrap();
            db.write_all(cb).unwrap();
        }
        // Finish in a different order each round.
        if round % 2 == 0 {
            drop(da);
            assert_eq!(a.reply(), "226 Transfer complete.\r\n");
            drop(db);
            assert_eq!(b.reply(), "226 Transfer complete.\r\n");
        } else {
            drop(db);
            drop(da);
            assert_eq!(b.reply(), "226 Transfer complete.\r\n");
            assert_eq!(a.reply(), "226 Transfer complete.\r\n");
        }
        let got = std::fs::read(root.join("same.bin")).unwrap();
        assert!(
            got == pa || got == pb,
            "round {round}: a mix of both uploads"
        );
        assert!(temp_files(root.path()).is_empty());
    }
}

#[test]
fn rename_or_delete_of_a_file_being_downloaded() {
    let root = TempDir::new("rename-while-read");
    let a = pattern(FILE, 40);
    root.write("f.bin", &a);
    let srv = rw_server(&root);
    let mut reader = srv.anon_client();
    let mut other = srv.anon_client();

    let (d, head) = start_download(&mut reader, "f.bin");
    other.expect("RNFR f.bin", 350);
    other.expect("RNTO g.bin", 250);
    assert!(finish_download(&mut reader, d, head) == a);
    assert_eq!(
        reader.cmd("SIZE f.bin"),
        "550 No such file or directory.\r\n"
    );
    assert!(reader.retr("g.bin") == a);

    let (d, head) = start_download(&mut reader, "g.bin");
    other.expect("DELE g.bin", 250);
    assert!(finish_download(&mut reader, d, head) == a);
    assert!(!root.join("g.bin").exists());
}

#[test]
fn two_hundred_sessions_transfer_at_once_byte_exact() {
    const N: usize = 200;
    let root = TempDir::new("200");
    let size = |i: usize| 50_000 + i * 997;
    for i in 0..N {
        root.write(&format!("f{i}.bin"), &pattern(size(i), i as u64));
    }
    let srv = Server::anon_with(
        root.path(),
        &["--write", "--max-clients", "250", "--max-per-ip", "250"],
    );
    let pid = srv.pid();
    let addr = srv.addr;
    // All sessions connect and log in, the test counts them, then they all transfer. (Two
    // counters rather than a Barrier: a client that fails must fail the test, not hang it.)
    let ready = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    let mut c = Client::connect(addr);
                    c.login("anonymous", "x");
                    c.expect("TYPE I", 200);
                    ready.fetch_add(1, Ordering::SeqCst);
                    assert!(eventually(WAIT, || go.load(Ordering::SeqCst)));
                    let mine = pattern(size(i), i as u64);
                    assert!(c.retr(&format!("f{i}.bin")) == mine, "session {i}: RETR");
                    let up = pattern(size(N - 1 - i), 1000 + i as u64);
                    let (f, l) = c.put(&format!("STOR up{i}.bin"), &up);
                    assert!(f.starts_with("150") && l.starts_with("226"), "{i}: {f} {l}");
                    assert!(c.retr(&format!("up{i}.bin")) == up, "session {i}: up");
                    let other = N - 1 - i;
                    assert!(c.retr(&format!("f{other}.bin")) == pattern(size(other), other as u64));
                    c.expect("QUIT", 221);
                })
                .unwrap()
        })
        .collect();
    let all_in = eventually(WAIT, || ready.load(Ordering::SeqCst) == N);
    // The server holds all 200 logged in at once (on threads, or idle without).
    if all_in {
        signal(pid, "USR1");
    }
    let held = all_in && srv.wait_log(&format!("sessions: {N} logged in"));
    go.store(true, Ordering::SeqCst);
    assert!(
        all_in,
        "only {} sessions got in",
        ready.load(Ordering::SeqCst)
    );
    assert!(held, "the server's report:\n{}", srv.log());
    for t in clients {
        t.join().unwrap();
    }
    for i in 0..N {
        let got = std::fs::read(root.join(&format!("up{i}.bin"))).unwrap();
        assert!(
            got == pattern(size(N - 1 - i), 1000 + i as u64),
            "up{i}.bin on disk"
        );
    }
    assert!(temp_files(root.path()).is_empty());
    assert!(!srv.log().contains("panicked"));
}

#[test]
fn aborted_upload_leaves_the_old_file() {
    let (root, old) = keep_fixture();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    let d = half_upload(&mut c);
    // Meanwhile, another session reads the old file in full.
    let mut other = srv.anon_client();
    assert!(other.retr("keep.bin") == old);
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
    drop(d);
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
    assert!(c.retr("keep.bin") == old);
}

#[test]
fn abandoned_upload_leaves_the_old_file() {
    let (root, old) = keep_fixture();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    let d = half_upload(&mut c);
    let port = c.stream().local_addr().unwrap().port();
    // The client vanishes: control connection first, data connection later.
    drop(c);
    assert!(srv.wait_log(&format!("127.0.0.1:{port}: disconnected")));
    drop(d);
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn timed_out_upload_leaves_the_old_file() {
    let (root, old) = keep_fixture();
    let srv = Server::anon_with(root.path(), &["--write", "--data-timeout", "1"]);
    let mut c = srv.anon_client();
    let d = half_upload(&mut c);
    assert_eq!(
        c.reply(),
        "426 Data connection timed out; transfer aborted.\r\n"
    );
    drop(d);
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn completed_upload_replaces_the_file_whole() {
    let (root, _) = keep_fixture();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let new = pattern(500_000, 11);
    let (_, last) = c.put("STOR keep.bin", &new);
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == new);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
}

#[test]
fn a_stale_temporary_file_is_removed_at_start() {
    let root = TempDir::new("sweep");
    root.write(".edgeftpd-upload.999.1", b"left by a crash");
    root.write("sub/.edgeftpd-upload.999.2", b"left by a crash");
    root.write("sub/real.txt", b"real");
    let srv = Server::anon(root.path());
    assert!(srv.wait_log("removed 2 stale temporary upload files"));
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
    assert_eq!(temp_files(&root.join("sub")), Vec::<String>::new());
    assert!(root.join("sub/real.txt").exists());
}

// ---- Failures are replies ----

// ---- Uploads never damage an existing file ----

fn keep_fixture() -> (TempDir, Vec<u8>) {
    let root = TempDir::new("atomic");
    let old = pattern(300_000, 9);
    root.write("keep.bin", &old);
    (root, old)
}

/// Starts `STOR keep.bin` and sends part of the new contents; returns the data socket.
fn half_upload(c: &mut Client) -> std::net::TcpStream {
    c.expect("TYPE I", 200);
    let mut d = c.epsv();
    c.expect("STOR keep.bin", 150);
    d.write_all(&pattern(150_000, 10)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    d
}

/// `--max-upload`: an upload may make a file of that size and not one byte more; past it,
/// 552, a new file is not kept and an old one stays as it was; APPE counts what the file
/// holds already.
#[test]
fn max_upload_stops_a_file_at_its_size_with_552() {
    let root = TempDir::new("max-upload");
    root.write("old.bin", b"old");
    let srv = Server::anon_with(root.path(), &["--anon-write", "--max-upload", "1K"]);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let (_, last) = c.put("STOR exact.bin", &pattern(1024, 1));
    assert!(last.starts_with("226 "), "{last}");
    assert_eq!(
        std::fs::read(root.join("exact.bin")).unwrap(),
        pattern(1024, 1)
    );
    let (_, last) = c.put("STOR old.bin", &pattern(300_000, 2));
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert_eq!(std::fs::read(root.join("old.bin")).unwrap(), b"old");
    let (_, last) = c.put("STOR new.bin", &pattern(1025, 3));
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(!root.join("new.bin").exists());
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
    // APPE: 3 bytes there, 1021 more fit.
    let (_, last) = c.put("APPE old.bin", &pattern(1021, 4));
    assert!(last.starts_with("226 "), "{last}");
    let (_, last) = c.put("APPE old.bin", b"!");
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert_eq!(std::fs::metadata(root.join("old.bin")).unwrap().len(), 1024);
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

/// A per-account quota (`quota=500K,files=4` in the perm field), as pure-ftpd keeps it: the
/// usage is counted once into the home's `.ftpquota` and followed from then on; an upload
/// that would pass the bytes stops with 552 and leaves nothing, a file too many is 552
/// before its data connection, deletes and overwrites give space back, and the usage file
/// is the server's (clients can't read, replace or delete it). A restart reads it back.
#[test]
fn a_quota_of_bytes_and_files_per_account() {
    let home = TempDir::new("quota-home");
    home.write("old.jpg", &pattern(100 << 10, 1));
    let etc = TempDir::new("quota-etc");
    let users = etc.write(
        "users.txt",
        crypt_line("cam", "cam-pw", "6", home.path(), "rw,quota=500K,files=4").as_bytes(),
    );
    let usage = || std::fs::read_to_string(home.join(".ftpquota")).unwrap();
    let srv = Server::start(&["--users", users.to_str().unwrap()]);
    let mut c = srv.client();
    c.login("cam", "cam-pw");
    assert_eq!(usage(), format!("1 {}\n", 100 << 10));
    assert!(srv.wait_log("quota: ") && srv.log().contains("1 files, 102400 bytes (counted"));
    c.expect("TYPE I", 200);
    for i in 1..=2 {
        let (_, last) = upload(&mut c, &format!("STOR p{i}.jpg"), &pattern(150 << 10, i));
        assert_eq!(last, "226 Transfer complete.\r\n");
    }
    assert_eq!(usage(), format!("3 {}\n", 400 << 10));
    // 100 KiB of room: a 150 KiB picture stops at it, and nothing of it stays.
    let (first, last) = upload(&mut c, "STOR p3.jpg", &pattern(150 << 10, 3));
    assert!(first.starts_with("150"), "{first}");
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(!home.join("p3.jpg").exists());
    assert!(temp_files(home.path()).is_empty());
    let (_, last) = upload(&mut c, "STOR p3.jpg", &pattern(50 << 10, 3));
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(usage(), format!("4 {}\n", 450 << 10));
    // A fifth file: refused before its data connection.
    c.expect("EPSV", 229);
    assert_eq!(c.cmd("STOR p4.jpg"), "552 Exceeded storage allocation.\r\n");
    // An overwrite is no new file, and gives back what the old one held.
    let (_, last) = upload(&mut c, "STOR p1.jpg", &pattern(20 << 10, 4));
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(usage(), format!("4 {}\n", 320 << 10));
    c.expect("DELE p2.jpg", 250);
    assert_eq!(usage(), format!("3 {}\n", 170 << 10));
    let (_, last) = upload(&mut c, "APPE p3.jpg", &pattern(10 << 10, 5));
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(usage(), format!("3 {}\n", 180 << 10));
    for line in [
        "RETR .ftpquota",
        "DELE .ftpquota",
        "STOR .ftpquota",
        "RNFR .ftpquota",
    ] {
        c.expect("EPSV", 229);
        assert_eq!(c.cmd(line), "550 Permission denied.\r\n", "{line}");
    }
    assert_eq!(usage(), format!("3 {}\n", 180 << 10));
    assert!(
        srv.log().contains("over quota: 4 files, the quota is 4"),
        "{}",
        srv.log()
    );
    drop(c);
    drop(srv);
    // A restart reads the file back rather than counting.
    let srv = Server::start(&["--users", users.to_str().unwrap()]);
    srv.client().login("cam", "cam-pw");
    let mut c = srv.client();
    c.login("cam", "cam-pw");
    c.expect("TYPE I", 200);
    let (_, last) = upload(&mut c, "STOR big.bin", &pattern(400 << 10, 6));
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(!srv.log().contains("(counted"), "{}", srv.log());
}

/// Regression (issue 27): a client whose connections drop mid-upload comes straight back,
/// asks SIZE and resumes with REST+STOR (goftp's TestResumeStoreOnWriteError, lftp's
/// `put -c`). The dropped upload was still being committed (its data synced under the
/// temporary name) when the SIZE came, which got 550, and the client started over or gave
/// up. A name being committed is answered once it is in place: SIZE says every byte that
/// arrived, and the resumed file is the whole file, byte for byte. (Each round's 24 MiB
/// take far longer to sync than a reconnection takes.)
#[test]
fn a_client_that_drops_and_resumes_at_once_is_told_the_size_that_arrived() {
    let root = TempDir::new("resume-at-once");
    let srv = Server::anon_rw(root.path());
    let whole = pattern(24 << 20, 27);
    let cut = 20 << 20;
    for round in 0..5 {
        let name = format!("f{round}.bin");
        let mut cl = srv.anon_client();
        cl.expect("TYPE I", 200);
        let mut d = cl.epsv();
        cl.expect(&format!("STOR {name}"), 150);
        d.write_all(&whole[..cut]).unwrap();
        // Every connection dropped at once, with no QUIT and no 226 awaited.
        drop(d);
        drop(cl);
        let mut again = srv.anon_client();
        again.expect("TYPE I", 200);
        assert_eq!(
            again.cmd(&format!("SIZE {name}")),
            format!("213 {cut}\r\n"),
            "round {round}"
        );
        let mut d = again.epsv();
        again.expect(&format!("REST {cut}"), 350);
        again.expect(&format!("STOR {name}"), 150);
        d.write_all(&whole[cut..]).unwrap();
        drop(d);
        assert_eq!(again.reply(), "226 Transfer complete.\r\n");
        assert!(
            again.retr(&name) == whole,
            "round {round}: not the whole file"
        );
    }
}
