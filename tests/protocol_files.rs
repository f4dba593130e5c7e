//! Files and safety over the protocol: every path stays inside the session's root (`..`,
//! absolute paths and symlinks pointing out reach nothing outside, for reading or writing;
//! PWD is `/` at the root; symlinks that stay inside work), uploads never damage an existing
//! file (aborted, reset, timed-out or abandoned uploads leave it byte-identical and no
//! temporary file behind), a file-size limit or a full disk is 552/452 and the server lives
//! on, permission problems are 550, and read-only users get 550 for every change.
mod support;
use support::*;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Names in `dir` that look like our temporary upload files.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".edgeftpd-upload"))
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

struct Jail {
    root: TempDir,
    outside: TempDir,
    secret: PathBuf,
}

/// A root with symlinks pointing out (absolute, relative, to a file, to a directory) and
/// in, and an outside directory with a secret.
fn jail() -> Jail {
    let root = TempDir::new("jail");
    let outside = TempDir::new("outside");
    let secret = outside.write("secret.txt", b"SECRET");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    root.write("pub/file.txt", b"public");
    let out = outside.path().to_str().unwrap();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    };
    link(out, "out_abs");
    link(secret.to_str().unwrap(), "out_file");
    link(
        &format!("../../../../../../../..{}", secret.display()),
        "out_deep",
    );
    link(
        &format!("../{}/secret.txt", file_name(outside.path())),
        "out_rel",
    );
    link("pub/file.txt", "in_rel");
    link("/pub/file.txt", "in_abs");
    link("pub", "in_dir");
    link("../pub/file.txt", "pub/up_and_back");
    link("loop", "loop");
    Jail {
        root,
        outside,
        secret,
    }
}

fn outside_unchanged(j: &Jail) {
    assert_eq!(std::fs::read(&j.secret).unwrap(), b"SECRET");
    let names: Vec<_> = std::fs::read_dir(j.outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["secret.txt"], "something was created outside");
    let mode = std::fs::metadata(&j.secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn pwd_is_slash_at_the_root_and_dotdot_stays_there() {
    let j = jail();
    let srv = Server::anon(j.root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("CDUP"), "200 Directory successfully changed.\r\n");
    // CWD is 250 even for `..` (RFC 959 gives 200 to CDUP only).
    assert_eq!(c.cmd("CWD .."), "250 Directory successfully changed.\r\n");
    assert_eq!(
        c.cmd("CWD ../../../.."),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("CWD pub"), "250 Directory successfully changed.\r\n");
    assert_eq!(
        c.cmd("CWD ../../.././pub/./"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(c.cmd("PWD"), "257 \"/pub\" is the current directory.\r\n");
    assert_eq!(c.list("NLST ../../.."), nlst_of_root());
}

/// NLST of the root as the jail fixture lays it out (the names, prefixed as NLST does).
fn nlst_of_root() -> String {
    [
        "in_abs", "in_dir", "in_rel", "loop", "out_abs", "out_deep", "out_file", "out_rel", "pub",
    ]
    .iter()
    .map(|n| format!("../../../{n}\r\n"))
    .collect()
}

#[test]
fn nothing_outside_the_root_is_readable() {
    let j = jail();
    let srv = Server::anon(j.root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let outside = j.outside.path().display().to_string();
    let rel = format!("../{}/secret.txt", file_name(j.outside.path()));
    let abs = j.secret.display().to_string();
    let deep = format!("../../../../../../../..{abs}");
    for p in [
        rel.as_str(),
        abs.as_str(),
        deep.as_str(),
        "../../../../etc/passwd",
        "/etc/passwd",
        "out_file",
        "out_deep",
        "out_rel",
        "out_abs/secret.txt",
        "pub/../../secret.txt",
    ] {
        let (data, first, _) = c.get(&format!("RETR {p}"));
        assert!(data.is_empty());
        assert_eq!(first, "550 No such file or directory.\r\n", "RETR {p}");
        assert_eq!(
            c.cmd(&format!("SIZE {p}")),
            "550 No such file or directory.\r\n",
            "SIZE {p}"
        );
        assert_eq!(
            c.cmd(&format!("MDTM {p}")),
            "550 No such file or directory.\r\n",
            "MDTM {p}"
        );
        assert_eq!(
            c.cmd(&format!("MLST {p}")),
            "550 No such file or directory.\r\n",
            "MLST {p}"
        );
        assert_eq!(
            c.cmd(&format!("STAT {p}")),
            "550 No such file or directory.\r\n",
            "STAT {p}"
        );
    }
    for d in [outside.as_str(), "out_abs", "../out_abs"] {
        assert_eq!(
            c.cmd(&format!("CWD {d}")),
            "550 No such file or directory.\r\n",
            "CWD {d}"
        );
        let (_, first, _) = c.get(&format!("LIST {d}"));
        assert_eq!(first, "550 No such file or directory.\r\n", "LIST {d}");
    }
    // A listing never shows what is outside, only the link text.
    let l = c.list("LIST");
    assert!(l.contains(&format!(" out_abs -> {outside}\r\n")), "{l}");
    assert_eq!(nlst_of_root().replace("../../../", ""), c.list("NLST"));
    assert_eq!(
        c.cmd("RETR loop"),
        "550 Too many levels of symbolic links.\r\n"
    );
    assert_eq!(c.cmd("RETR a\0b"), "501 Invalid character in path.\r\n");
}

#[test]
fn nothing_outside_the_root_is_writable() {
    let j = jail();
    let srv = Server::anon_rw(j.root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let abs = j.secret.display().to_string();
    let outside = j.outside.path().display().to_string();
    let rel_dir = format!("../{}", file_name(j.outside.path()));
    for p in [
        format!("{rel_dir}/new.txt"),
        format!("{outside}/new.txt"),
        "out_abs/new.txt".to_string(),
    ] {
        let (first, _) = c.put(&format!("STOR {p}"), b"x");
        assert_eq!(first, "550 No such file or directory.\r\n", "STOR {p}");
        let (first, _) = c.put(&format!("APPE {p}"), b"x");
        assert_eq!(first, "550 No such file or directory.\r\n", "APPE {p}");
        assert_eq!(
            c.cmd(&format!("MKD {p}")),
            "550 No such file or directory.\r\n",
            "MKD {p}"
        );
    }
    for p in [abs.as_str(), "out_file", "out_rel", "out_deep"] {
        // In place: the link's target is looked up inside the root, where it doesn't exist.
        let (first, _) = c.put(&format!("APPE {p}"), b"x");
        assert_eq!(first, "550 No such file or directory.\r\n", "APPE {p}");
        assert_eq!(
            c.cmd(&format!("SITE CHMOD 777 {p}")),
            "550 No such file or directory.\r\n",
            "CHMOD {p}"
        );
        assert_eq!(
            c.cmd(&format!("MFMT 20000101000000 {p}")),
            "550 No such file or directory.\r\n",
            "MFMT {p}"
        );
        c.expect("REST 1", 350);
        let (first, _) = c.put(&format!("STOR {p}"), b"x");
        assert_eq!(first, "550 No such file or directory.\r\n", "REST+STOR {p}");
    }
    assert_eq!(
        c.cmd(&format!("DELE {abs}")),
        "550 No such file or directory.\r\n"
    );
    assert_eq!(
        c.cmd(&format!("RNFR {abs}")),
        "550 No such file or directory.\r\n"
    );
    assert_eq!(
        c.cmd(&format!("RMD {outside}")),
        "550 No such file or directory.\r\n"
    );
    outside_unchanged(&j);
    // Acting on a link acts on the link itself, inside the root: the target is untouched.
    let (first, last) = c.put("STOR out_file", b"replaced");
    assert!(
        first.starts_with("150 ") && last.starts_with("226 "),
        "{first}{last}"
    );
    assert_eq!(
        c.cmd("DELE out_rel"),
        "250 Delete operation successful.\r\n"
    );
    assert_eq!(c.cmd("RNFR out_deep"), "350 Ready for RNTO.\r\n");
    assert_eq!(c.cmd("RNTO renamed"), "250 Rename successful.\r\n");
    outside_unchanged(&j);
    // `..` in a destination is clamped at the root.
    let esc = format!("escape-{}.txt", std::process::id());
    c.expect("RNFR pub/file.txt", 350);
    assert_eq!(
        c.cmd(&format!("RNTO ../../../../{esc}")),
        "250 Rename successful.\r\n"
    );
    assert!(j.root.join(&esc).exists());
    assert!(!j.root.path().parent().unwrap().join(&esc).exists());
    let (_, last) = c.put(&format!("STOR ../../{esc}.2"), b"y");
    assert!(last.starts_with("226"));
    assert!(j.root.join(&format!("{esc}.2")).exists());
    assert!(!Path::new("/").join(format!("{esc}.2")).exists());
    assert!(
        !j.root
            .path()
            .parent()
            .unwrap()
            .join(format!("{esc}.2"))
            .exists()
    );
    outside_unchanged(&j);
}

#[test]
fn symlinks_inside_the_root_work() {
    let j = jail();
    let srv = Server::anon(j.root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.retr("in_rel"), b"public");
    // An absolute target is taken relative to the root, as under chroot.
    assert_eq!(c.retr("in_abs"), b"public");
    assert_eq!(c.retr("pub/up_and_back"), b"public");
    assert_eq!(c.retr("in_dir/file.txt"), b"public");
    assert_eq!(c.cmd("SIZE in_abs"), "213 6\r\n");
    assert_eq!(
        c.cmd("CWD in_dir"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(
        c.cmd("PWD"),
        "257 \"/in_dir\" is the current directory.\r\n"
    );
    assert_eq!(c.list("NLST"), "file.txt\r\nup_and_back\r\n");
    assert_eq!(c.retr("file.txt"), b"public");
}

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
fn reset_upload_leaves_the_old_file() {
    let (root, old) = keep_fixture();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    let d = half_upload(&mut c);
    reset(d);
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
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
    let srv = Server::start(&[
        "--anonymous",
        "--write",
        "--root",
        root.path().to_str().unwrap(),
        "--data-timeout",
        "1",
    ]);
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

#[test]
fn file_size_limit_is_552_and_the_server_lives_on() {
    let (root, old) = keep_fixture();
    let mut srv = Server::anon_rw(root.path());
    // RLIMIT_FSIZE of 1 MiB on the running server (SIGXFSZ must be ignored by it).
    let (ok, _, err) = sh(&format!(
        "prlimit --pid {} --fsize=1048576:1048576",
        srv.pid()
    ));
    assert!(ok, "prlimit: {err}");
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let (first, last) = c.put_lossy("STOR keep.bin", &pattern(4 << 20, 12));
    assert_eq!(first, "150 Ok to send data for keep.bin\r\n");
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(srv.alive());
    assert!(std::fs::read(root.join("keep.bin")).unwrap() == old);
    assert_eq!(temp_files(root.path()), Vec::<String>::new());
    let (_, last) = c.put_lossy("APPE keep.bin", &pattern(2 << 20, 13));
    assert_eq!(last, "552 Exceeded storage allocation.\r\n");
    assert!(srv.alive());
    // The session and the server go on.
    let (_, last) = c.put("STOR small.bin", b"fits");
    assert_eq!(last, "226 Transfer complete.\r\n");
    let mut c2 = srv.anon_client();
    assert_eq!(c2.retr("small.bin"), b"fits");
    assert!(srv.wait_log("local error"));
}

#[test]
fn full_disk_is_452_and_the_server_lives_on() {
    // The server runs in its own mount namespace with a 1 MiB tmpfs over its root, so the
    // disk really fills up (and the mount disappears with the process).
    let root = TempDir::new("fulldisk");
    let r = root.path().to_str().unwrap();
    let script = format!("mount -t tmpfs -o size=1m edgeftpd-test '{r}' && exec \"$@\"");
    // Not root: a user namespace of our own may mount a tmpfs too.
    let ns = if rustix::process::getuid().is_root() {
        "-m"
    } else {
        "-rm"
    };
    let mut srv = Server::start_wrapped(
        &["unshare", ns, "sh", "-c", &script, "sh"],
        &["--anonymous", "--write", "--root", r],
    );
    // The server's view of its root, from outside its namespace.
    let seen = PathBuf::from(format!("/proc/{}/root{r}", srv.pid()));
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let old = pattern(200_000, 14);
    let (_, last) = c.put("STOR keep.bin", &old);
    assert_eq!(last, "226 Transfer complete.\r\n");
    let (first, last) = c.put_lossy("STOR keep.bin", &pattern(3 << 20, 15));
    assert_eq!(first, "150 Ok to send data for keep.bin\r\n");
    assert_eq!(last, "452 Insufficient storage space.\r\n");
    assert!(srv.alive());
    assert!(c.retr("keep.bin") == old);
    assert_eq!(temp_files(&seen), Vec::<String>::new());
    // The space of the failed upload was given back: a small upload fits.
    let (_, last) = c.put("STOR small.bin", b"fits");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(srv.anon_client().retr("small.bin"), b"fits");
    // APPE writes in place (what it appended before the disk filled stays).
    let (_, last) = c.put_lossy("APPE keep.bin", &pattern(3 << 20, 16));
    assert_eq!(last, "452 Insufficient storage space.\r\n");
    assert!(srv.alive());
    assert!(c.retr("keep.bin").starts_with(&old));
    assert_eq!(
        c.cmd("DELE keep.bin"),
        "250 Delete operation successful.\r\n"
    );
    let (_, last) = c.put("STOR small2.bin", b"fits again");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert!(srv.alive());
}

/// uid and gid of `nobody`, from /etc/passwd.
fn nobody() -> (u32, u32) {
    let text = std::fs::read_to_string("/etc/passwd").unwrap();
    let f: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("no nobody in /etc/passwd")
        .split(':')
        .collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

#[test]
fn permission_problems_are_550() {
    let root = TempDir::new("perms");
    root.write("public.txt", b"public");
    let secret = root.write("secret.bin", b"hidden");
    std::fs::create_dir(root.join("locked")).unwrap();
    root.write("locked/inner.txt", b"x");
    std::fs::create_dir(root.join("open")).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = root.path().to_str().unwrap().to_string();
    let mut args = vec!["--anonymous", "--write", "--root", &r];
    // Root reads everything: run the server as nobody, who owns only open/.
    let as_root = rustix::process::getuid().is_root();
    if as_root {
        let (uid, gid) = nobody();
        std::os::unix::fs::chown(root.join("open"), Some(uid), Some(gid)).unwrap();
        args.extend(["--run-as", "nobody"]);
    } else {
        // We own everything: take the write bits away instead.
        std::fs::set_permissions(
            root.join("public.txt"),
            std::fs::Permissions::from_mode(0o444),
        )
        .unwrap();
        std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let srv = Server::start(&args);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let denied = "550 Permission denied.\r\n";
    let (_, first, _) = c.get("RETR secret.bin");
    assert_eq!(first, denied);
    assert_eq!(c.cmd("CWD locked"), denied);
    let (_, first, _) = c.get("LIST locked");
    assert_eq!(first, denied);
    assert_eq!(c.cmd("SIZE locked/inner.txt"), denied);
    let (first, _) = c.put("STOR new.txt", b"x");
    assert_eq!(first, denied);
    let (first, _) = c.put("APPE public.txt", b"x");
    assert_eq!(first, denied);
    assert_eq!(c.cmd("MKD newdir"), denied);
    assert_eq!(c.cmd("DELE public.txt"), denied);
    assert_eq!(c.cmd("RMD open"), denied);
    if as_root {
        // (An owner may always chmod: only meaningful when the file isn't the server's.)
        assert_eq!(c.cmd("SITE CHMOD 777 public.txt"), denied);
    }
    c.expect("RNFR public.txt", 350);
    assert_eq!(c.cmd("RNTO moved.txt"), denied);
    // Where the user may write, it works.
    let (_, last) = c.put("STOR open/new.txt", b"ok");
    assert_eq!(last, "226 Transfer complete.\r\n");
    assert_eq!(c.retr("public.txt"), b"public");
    if !as_root {
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
    }
    assert_eq!(std::fs::read(root.join("public.txt")).unwrap(), b"public");
    assert!(!root.join("new.txt").exists() && !root.join("newdir").exists());
}

#[test]
fn read_only_anonymous_gets_550_for_every_change() {
    let root = TempDir::new("ro");
    let f = root.write("f.txt", b"keep");
    std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    sh(&format!(
        "touch -d '2020-06-09 12:34:56 UTC' '{}'",
        root.join("f.txt").display()
    ));
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let denied = "550 Permission denied.\r\n";
    for line in [
        "STOR f.txt",
        "STOR new.txt",
        "APPE f.txt",
        "STOU",
        "DELE f.txt",
        "MKD newdir",
        "XMKD newdir",
        "RMD d",
        "XRMD d",
        "RNFR f.txt",
        "SITE CHMOD 777 f.txt",
        "MFMT 20210101000000 f.txt",
        "MDTM 20210101000000 f.txt",
    ] {
        assert_eq!(c.cmd(line), denied, "{line}");
    }
    // Even with a data connection ready, nothing is written.
    c.expect("EPSV", 229);
    assert_eq!(c.cmd("STOR new.txt"), denied);
    assert_eq!(c.cmd("RNTO g.txt"), "503 RNFR required first.\r\n");
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"keep");
    assert_eq!(c.cmd("MDTM f.txt"), "213 20200609123456\r\n");
    let mode = std::fs::metadata(root.join("f.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let mut names: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["d", "f.txt"]);
    // Reading works.
    assert_eq!(c.retr("f.txt"), b"keep");
}
