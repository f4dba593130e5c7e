//! Per-folder rights and the drop box (`vfs/rights.rs`): what each right allows, byte for
//! byte; every spelling of a path and every symlink to a folder getting that folder's rule;
//! folders with rules that can't be moved away; real clients uploading into a drop box;
//! and the umask of what uploads and MKD create.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

const DENIED: &str = "550 Permission denied.\r\n";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A root with `pub/f.txt`, `incoming/old.txt`, and symlinks into `incoming` from `pub`
/// (one relative, one absolute inside the jail).
fn drop_box_root() -> TempDir {
    let root = TempDir::new("dropbox");
    root.write("pub/f.txt", b"public");
    root.write("incoming/old.txt", b"someone else's");
    std::os::unix::fs::symlink("../incoming", root.join("pub/rel")).unwrap();
    std::os::unix::fs::symlink("/incoming", root.join("pub/abs")).unwrap();
    root
}

/// vsftpd's anonymous drop box (anon_upload_enable + a folder without read permission),
/// done by a rule: anonymous may enter `incoming` and upload new files there, and may not
/// list it, download from it, overwrite, append, rename, delete or make folders there;
/// the rest stays read-only.
#[test]
fn anonymous_drop_box_takes_new_files_and_nothing_else() {
    let root = drop_box_root();
    let srv = Server::anon_with(root.path(), &["--anon-perm", "ro,/incoming=upload"]);
    let mut c = srv.anon_client();
    assert_eq!(c.retr("pub/f.txt"), b"public");
    assert_eq!(
        c.cmd("CWD incoming"),
        "250 Directory successfully changed.\r\n"
    );
    let (first, last) = c.put("STOR new.txt", b"from the guest");
    assert!(
        first.starts_with("150") && last.starts_with("226"),
        "{first}{last}"
    );
    assert_eq!(
        std::fs::read(root.join("incoming/new.txt")).unwrap(),
        b"from the guest"
    );
    // STOU makes a new name: allowed.
    let (first, last) = c.put("STOU", b"unique");
    assert!(
        first.starts_with("150") && last.starts_with("226"),
        "{first}{last}"
    );
    for line in [
        "LIST",
        "NLST",
        "MLSD",
        "MLST new.txt",
        "SIZE new.txt",
        "SIZE nothing-here",
        "NLST *.txt",
        "MDTM new.txt",
        "HASH new.txt",
        "XSHA256 \"new.txt\" 0 4",
        "RETR new.txt",
        "RETR old.txt",
        "STOR old.txt",
        "APPE old.txt",
        "DELE old.txt",
        "RNFR old.txt",
        "MKD sub",
        "SITE CHMOD 666 old.txt",
        "MFMT 20200101000000 old.txt",
        "STOR /pub/new.txt",
        "DELE /pub/f.txt",
    ] {
        c.expect("EPSV", 229);
        assert_eq!(c.cmd(line), DENIED, "{line}");
    }
    // The same folder by other spellings and through symlinks: the same rule.
    for path in [
        "/incoming/old.txt",
        "//incoming//old.txt",
        "/pub/../incoming/old.txt",
        "../incoming/./old.txt",
        "/pub/rel/old.txt",
        "/pub/abs/old.txt",
    ] {
        c.expect("EPSV", 229);
        assert_eq!(c.cmd(&format!("RETR {path}")), DENIED, "{path}");
        assert_eq!(c.cmd(&format!("STOR {path}")), DENIED, "{path}");
    }
    for path in ["/pub/rel", "/pub/abs/"] {
        c.expect("EPSV", 229);
        assert_eq!(c.cmd(&format!("LIST {path}")), DENIED, "{path}");
    }
    let (first, last) = c.put("STOR /pub/rel/via-link.txt", b"through the link");
    assert!(
        first.starts_with("150") && last.starts_with("226"),
        "{first}{last}"
    );
    assert_eq!(
        std::fs::read(root.join("incoming/old.txt")).unwrap(),
        b"someone else's"
    );
    assert!(root.join("incoming/via-link.txt").exists());
    assert!(
        srv.log().contains(
            "anonymous: RETR old.txt refused: /incoming/old.txt is upload: no listing or download"
        ),
        "{}",
        srv.log()
    );
    assert!(
        srv.log()
            .contains("STOR old.txt refused: /incoming/old.txt is upload: no change")
    );
    assert!(srv.log().contains("login anonymous (ro,/incoming=upload)"));
}

/// Two guests upload the same new name into a drop box at once: the one that finishes
/// first keeps it, the other gets 550 (the commit never replaces: RENAME_NOREPLACE), and the
/// file is one upload whole.
#[test]
fn a_drop_box_never_replaces_even_when_two_uploads_race() {
    use std::io::Write;
    let root = drop_box_root();
    let srv = Server::anon_with(root.path(), &["--anon-perm", "ro,/incoming=upload"]);
    let (a_data, b_data) = (pattern(300_000, 1), pattern(200_000, 2));
    let mut a = srv.anon_client();
    let mut b = srv.anon_client();
    a.expect("TYPE I", 200);
    b.expect("TYPE I", 200);
    let mut da = a.epsv();
    let mut db = b.epsv();
    a.expect("STOR /incoming/same.bin", 150);
    b.expect("STOR /incoming/same.bin", 150);
    da.write_all(&a_data).unwrap();
    db.write_all(&b_data).unwrap();
    drop(da);
    let first = a.reply();
    drop(db);
    let second = b.reply();
    assert!(first.starts_with("226"), "{first}");
    assert_eq!(second, "550 File exists.\r\n");
    assert!(std::fs::read(root.join("incoming/same.bin")).unwrap() == a_data);
    assert!(temp_files(&root.join("incoming")).is_empty());
}

/// Real clients put files into the drop box (curl into a folder URL, lftp's put) and can't
/// read them back.
#[test]
fn curl_and_lftp_upload_into_a_drop_box_and_cannot_read_it() {
    let root = drop_box_root();
    let srv = Server::anon_with(root.path(), &["--anon-perm", "ro,/incoming=upload"]);
    let local = TempDir::new("dropbox-local");
    let pic = local.write("pic.jpg", &pattern(150_000, 7));
    let url = format!("ftp://127.0.0.1:{}", srv.port());
    let (ok, _, err) = sh(&format!("curl -sS -T {} {url}/incoming/", pic.display()));
    assert!(ok, "{err}");
    assert!(std::fs::read(root.join("incoming/pic.jpg")).unwrap() == pattern(150_000, 7));
    let (ok, _, _) = sh(&format!("curl -sS {url}/incoming/pic.jpg -o /dev/null"));
    assert!(!ok, "curl downloaded from the drop box");
    let (ok, _, _) = sh(&format!("curl -sS {url}/incoming/"));
    assert!(!ok, "curl listed the drop box");
    let (ok, out, err) = sh(&format!(
        "lftp -c 'set net:max-retries 1; open -u anonymous,x {url}; cd incoming; \
         put -O . {} -o lftp.jpg; echo put-done'",
        pic.display()
    ));
    assert!(ok && out.contains("put-done"), "{out}{err}");
    assert!(std::fs::read(root.join("incoming/lftp.jpg")).unwrap() == pattern(150_000, 7));
    // A second put of the same name would replace: refused, the first stays.
    let other = local.write("other.jpg", b"not the picture");
    let (_, out, _) = sh(&format!(
        "lftp -c 'set net:max-retries 1; open -u anonymous,x {url}; cd incoming; \
         put {} -o lftp.jpg && echo replaced'",
        other.display()
    ));
    assert!(!out.contains("replaced"), "{out}");
    assert!(std::fs::read(root.join("incoming/lftp.jpg")).unwrap() == pattern(150_000, 7));
}

/// One account, several folders of the disk with different rights (FileZilla Server's
/// mount points, without symlinks that leave the root): photos read-only, the camera's
/// folder read-write with umask 002 (files shared with a group), a private folder hidden.
/// A folder with a rule can't be renamed or removed, nor can a folder holding one.
#[test]
fn a_named_account_sees_folders_with_their_own_rights() {
    let home = TempDir::new("rights-home");
    home.write("photos/a.jpg", b"photo");
    home.write("cam/.keep", b"");
    home.write("private/k.txt", b"secret");
    home.write("share/locked/l.txt", b"locked");
    let users = TempDir::new("rights-users");
    let file = users.write(
        "users.txt",
        crypt_line(
            "fam",
            "fam-pw",
            "6",
            home.path(),
            "ro,/cam=rw,/private=none,/share=rw,/share/locked=ro,umask=002",
        )
        .as_bytes(),
    );
    let srv = Server::start(&["--users", file.to_str().unwrap()]);
    let mut c = srv.client();
    c.login("fam", "fam-pw");
    assert_eq!(c.retr("photos/a.jpg"), b"photo");
    c.expect("EPSV", 229);
    assert_eq!(c.cmd("STOR photos/b.jpg"), DENIED);
    let (first, last) = c.put("STOR cam/1.jpg", b"frame");
    assert!(
        first.starts_with("150") && last.starts_with("226"),
        "{first}{last}"
    );
    assert_eq!(mode(&home.join("cam/1.jpg")), 0o664);
    assert_eq!(
        c.cmd("MKD cam/2026-12-05"),
        "257 \"/cam/2026-12-05\" created.\r\n"
    );
    assert_eq!(mode(&home.join("cam/2026-12-05")), 0o775);
    // Overwrite and append in the camera's folder.
    let (_, last) = c.put("STOR cam/1.jpg", b"frame 2");
    assert!(last.starts_with("226"), "{last}");
    let (_, last) = c.put("APPE cam/1.jpg", b"+");
    assert!(last.starts_with("226"), "{last}");
    assert_eq!(std::fs::read(home.join("cam/1.jpg")).unwrap(), b"frame 2+");
    for line in [
        "CWD private",
        "CWD /photos/../private",
        "SIZE private/k.txt",
        "SIZE private/nothing-here",
        "RETR private/k.txt",
        "LIST private",
        "STOR private/x",
        // Folders with rules of their own stay where they are.
        "RNFR cam",
        "RMD cam",
        "RNFR share",
        "RNFR share/locked",
        "DELE share/locked/l.txt",
        "MKD photos/new",
    ] {
        c.expect("EPSV", 229);
        assert_eq!(c.cmd(line), DENIED, "{line}");
    }
    // A file moves between rw folders, never into a read-only one.
    c.expect("RNFR cam/1.jpg", 350);
    assert_eq!(c.cmd("RNTO photos/1.jpg"), DENIED);
    c.expect("RNFR cam/1.jpg", 350);
    assert_eq!(c.cmd("RNTO share/1.jpg"), "250 Rename successful.\r\n");
    c.expect("RNFR share/1.jpg", 350);
    assert_eq!(c.cmd("RNTO share/locked/1.jpg"), DENIED);
    // MLSD's perm facts follow the folder.
    let cam = c.list("MLSD cam");
    let photos = c.list("MLSD photos");
    assert!(
        cam.contains("perm=flcdmpe;") || cam.contains("perm=adfrw;"),
        "{cam}"
    );
    assert!(
        photos.contains("perm=r;") && !photos.contains("perm=adfrw"),
        "{photos}"
    );
    // (The log reaches the test through a pipe: waited for, not looked at once.)
    assert!(
        srv.wait_log("RNFR share refused: /share: a folder with rights of its own (or holding one) stays where it is"),
        "{}",
        srv.log()
    );
    assert_eq!(
        std::fs::read(home.join("share/locked/l.txt")).unwrap(),
        b"locked"
    );
}

/// `--umask` sets the mode of uploaded files and made directories (the process umask the
/// server inherited no longer matters); the default is 022.
#[test]
fn umask_sets_the_mode_of_uploads_and_directories() {
    for (extra, file, dir) in [
        (&[][..], 0o644, 0o755),
        (&["--umask", "002"][..], 0o664, 0o775),
    ] {
        let root = TempDir::new("umask");
        let mut args = vec!["--anon-write"];
        args.extend_from_slice(extra);
        let srv = Server::anon_with(root.path(), &args);
        let mut c = srv.anon_client();
        let (_, last) = c.put("STOR f.bin", b"x");
        assert!(last.starts_with("226"), "{last}");
        let (_, last) = c.put("STOU", b"y");
        assert!(last.starts_with("226"), "{last}");
        let (_, last) = c.put("APPE a.bin", b"z");
        assert!(last.starts_with("226"), "{last}");
        c.expect("MKD d", 257);
        assert_eq!(mode(&root.join("f.bin")), file, "{extra:?}");
        assert_eq!(mode(&root.join("a.bin")), file, "{extra:?}");
        assert_eq!(mode(&root.join("d")), dir, "{extra:?}");
    }
}

/// Bad rights, umasks, free-space floors and hooks are one line at start, exit 2.
#[test]
fn bad_rights_and_umasks_are_one_line_errors() {
    let root = TempDir::new("rights-cli");
    let r = root.path().to_str().unwrap();
    for (args, want) in [
        (
            vec![
                "--anonymous",
                "--root",
                r,
                "--anon-perm",
                "ro,incoming=upload",
            ],
            "--anon-perm \"incoming=upload\": the folder must be an absolute path inside the home, such as /incoming",
        ),
        (
            vec![
                "--anonymous",
                "--root",
                r,
                "--anon-write",
                "--anon-perm",
                "ro",
            ],
            "--anon-perm and --anon-write: give one (--anon-perm rw is --anon-write)",
        ),
        (
            vec!["--users", "/dev/null", "--anon-perm", "ro"],
            "--anon-perm needs --anonymous",
        ),
        (
            vec!["--anonymous", "--root", r, "--umask", "999"],
            "--umask 999: expected an octal umask such as 022 or 002",
        ),
        (
            vec!["--anonymous", "--root", r, "--min-free", "150%"],
            "--min-free 150%: expected a size such as 500M or a share such as 5%",
        ),
        (
            vec!["--anonymous", "--root", r, "--on-upload", "hook.sh"],
            "--on-upload hook.sh: give the program's absolute path",
        ),
        (
            vec![
                "--anonymous",
                "--root",
                r,
                "--on-upload",
                "/nonexistent/hook",
            ],
            "--on-upload /nonexistent/hook: No such file or directory (os error 2)",
        ),
        (
            vec!["--anonymous", "--root", r, "--on-upload", "/etc/passwd"],
            "--on-upload /etc/passwd: not an executable file",
        ),
    ] {
        let out = server_command()
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("edgeftpd: {want}\n"),
            "{args:?}"
        );
    }
}
