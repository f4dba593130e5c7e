//! The jail: no path, symlink, race or special file lets a client read, list, enter or change
//! anything outside its root. Canaries outside the root (support::canary) must never be
//! read, and snapshots prove nothing outside changed.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::canary::*;
use crate::support::*;

/// Paths that name the secret file outside the root in every way we could think of.
fn secret_paths(c: &Canary) -> Vec<String> {
    let o = c.outside_str();
    let mut v: Vec<String> = [
        "../outside/secret-canary.txt",
        "../../outside/secret-canary.txt",
        "/../outside/secret-canary.txt",
        "/../../../../outside/secret-canary.txt",
        "./../outside/secret-canary.txt",
        "..//outside//secret-canary.txt",
        "../outside/./secret-canary.txt",
        "pub/../../outside/secret-canary.txt",
        "pub/../../../outside/secret-canary.txt",
        "pub/..//../outside/secret-canary.txt",
        "pub/./../.././outside/secret-canary.txt",
        "../root/../outside/secret-canary.txt",
        ".../outside/secret-canary.txt",
        "....//outside/secret-canary.txt",
        "..\\outside\\secret-canary.txt",
        "\\..\\outside\\secret-canary.txt",
        "pub\\..\\..\\outside\\secret-canary.txt",
        "..\\/outside/secret-canary.txt",
        "%2e%2e/outside/secret-canary.txt",
        "..%2foutside%2fsecret-canary.txt",
        "%2e%2e%2foutside%2fsecret-canary.txt",
        "../outside/secret-canary.txt/",
        "../outside/secret-canary.txt/.",
        "../parent-canary.txt",
        "../../parent-canary.txt",
        "link_file_abs",
        "link_file_rel",
        "/link_file_abs",
        "pub/../link_file_rel",
        "link_dir_abs/secret-canary.txt",
        "link_dir_rel/secret-canary.txt",
        "link_dir_abs/../secret-canary.txt",
        "link_dir_rel/sub/../secret-canary.txt",
        "link_up/outside/secret-canary.txt",
        "link_up/parent-canary.txt",
        "link_parent_file",
        "pub/link_deep/inner-canary.txt",
        "pub/link_deep/../secret-canary.txt",
        "chain1/inner-canary.txt",
        "link_zero",
        "link_etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        "/proc/self/root/etc/passwd",
        "/proc/self/cwd/../outside/secret-canary.txt",
        "~/../outside/secret-canary.txt",
        "~root/.profile",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("{o}/secret-canary.txt"));
    v.push(format!("/{o}/secret-canary.txt"));
    v.push(format!("..{o}/secret-canary.txt"));
    v.push(format!("link_root{o}/secret-canary.txt"));
    v.push(format!("link_root/../../..{o}/secret-canary.txt"));
    v.push(format!("link_dir_abs/../../..{o}/sub/inner-canary.txt"));
    v
}

/// Paths that name a directory outside the root.
fn dir_paths(c: &Canary) -> Vec<String> {
    let o = c.outside_str();
    let mut v: Vec<String> = [
        "..",
        "../..",
        "../outside",
        "/../outside",
        "../../outside",
        "pub/../../outside",
        "..\\outside",
        "%2e%2e",
        "...",
        "link_dir_abs",
        "link_dir_rel",
        "link_dir_abs/sub",
        "link_dir_rel/empty-canary-dir",
        "link_up",
        "link_up/outside",
        "link_etc",
        "pub/link_deep",
        "chain1",
        "/proc/self/root",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(o.to_string());
    v.push(format!("link_root{o}"));
    v.push(format!("link_root/..{o}"));
    v
}

fn expect_refused(what: &str, reply: &str) {
    assert!(
        reply.starts_with("550 ") || reply.starts_with("553 ") || reply.starts_with("501 "),
        "{what}: expected a refusal, got {reply:?}"
    );
    assert_no_leak(what, reply.as_bytes());
}

#[test]
fn dotdot_absolute_backslash_and_symlink_paths_cannot_read_outside() {
    let c = Canary::new("esc-read");
    let before = c.snapshot();
    let srv = Server::anon(&c.root);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);

    // Exact replies for the common cases.
    assert_eq!(
        cl.get("RETR ../outside/secret-canary.txt").1,
        "550 No such file or directory.\r\n"
    );
    assert_eq!(
        cl.get("RETR link_file_abs").1,
        "550 No such file or directory.\r\n"
    );
    assert_eq!(
        cl.cmd("SIZE link_file_rel"),
        "550 No such file or directory.\r\n"
    );
    assert_eq!(
        cl.get("RETR loop").1,
        "550 Too many levels of symbolic links.\r\n"
    );

    for p in secret_paths(&c) {
        let (data, first, last) = cl.get(&format!("RETR {p}"));
        expect_refused(&format!("RETR {p}"), &first);
        assert!(data.is_empty() && last.is_empty(), "RETR {p}: data sent");
        for verb in ["SIZE", "MDTM", "MLST"] {
            let r = cl.cmd(&format!("{verb} {p}"));
            expect_refused(&format!("{verb} {p}"), &r);
        }
        let r = cl.cmd(&format!("STAT {p}"));
        assert!(!r.starts_with("213"), "STAT {p}: {r:?}");
        assert_no_leak(&format!("STAT {p}"), r.as_bytes());
        // REST + RETR and ASCII mode take other code paths to the file.
        cl.expect("REST 1", 350);
        let (data, first, _) = cl.get(&format!("RETR {p}"));
        expect_refused(&format!("REST 1, RETR {p}"), &first);
        assert_no_leak(&format!("REST 1, RETR {p}"), &data);
    }
    cl.expect("TYPE A", 200);
    let (data, first, _) = cl.get("RETR link_file_abs");
    expect_refused("TYPE A RETR link_file_abs", &first);
    assert!(data.is_empty());

    // The session still works and the root is still served.
    assert_eq!(cl.retr("inside.txt"), b"inside\n");
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.snapshot(), before, "something outside the root changed");
}

#[test]
fn directories_outside_cannot_be_listed_or_entered() {
    let c = Canary::new("esc-list");
    let before = c.snapshot();
    let srv = Server::anon(&c.root);
    let mut cl = srv.anon_client();
    let root_names = cl.list("NLST");
    for name in ["inside.txt", "pub", "link_dir_abs"] {
        assert!(root_names.contains(name), "{root_names}");
    }

    for p in dir_paths(&c) {
        for verb in ["LIST", "NLST", "MLSD", "LIST -la", "NLST -a"] {
            let (data, first, last) = cl.get(&format!("{verb} {p}"));
            assert_no_leak(&format!("{verb} {p}"), first.as_bytes());
            assert_no_leak(&format!("{verb} {p}"), &data);
            assert_no_leak(&format!("{verb} {p}"), last.as_bytes());
        }
        let r = cl.cmd(&format!("STAT {p}"));
        assert_no_leak(&format!("STAT {p}"), r.as_bytes());
        let r = cl.cmd(&format!("MLST {p}"));
        assert_no_leak(&format!("MLST {p}"), r.as_bytes());
        // CWD either fails or lands inside the root: a listing there shows no canary.
        let r = cl.cmd(&format!("CWD {p}"));
        assert_no_leak(&format!("CWD {p}"), r.as_bytes());
        if r.starts_with("2") {
            let pwd = cl.cmd("PWD");
            let l = cl.list("LIST -a");
            assert_no_leak(&format!("LIST after CWD {p} ({pwd})"), l.as_bytes());
            for f in [
                "RETR secret-canary.txt",
                "RETR sub/inner-canary.txt",
                "RETR ../secret-canary.txt",
            ] {
                let (data, first, _) = cl.get(f);
                expect_refused(&format!("{f} after CWD {p}"), &first);
                assert!(data.is_empty());
            }
        }
        cl.expect("CWD /", 250);
    }

    // At the root, `..` stays at the root and the listing is the root's own.
    assert_eq!(cl.cmd("CDUP"), "200 Directory successfully changed.\r\n");
    assert_eq!(
        cl.cmd("CWD ../../.."),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(cl.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(cl.list("NLST"), root_names);
    // A symlink to / is the jail's root, not the host's.
    assert_eq!(
        cl.list("NLST link_root").replace("link_root/", ""),
        root_names
    );
    cl.expect("CWD link_root", 250);
    assert_eq!(cl.list("NLST"), root_names);
    cl.expect("CWD /", 250);
    // MLSD describes symlinks pointing out by the link itself, never by the outside target.
    let m = cl.list("MLSD");
    assert_no_leak("MLSD /", m.as_bytes());
    assert_eq!(c.snapshot(), before, "something outside the root changed");
}

#[test]
fn nul_bytes_in_paths_are_refused_not_truncated() {
    // A server that passed the path to the kernel as a C string would stop at the NUL and
    // act on `inside.txt` (or `pub`).
    let c = Canary::new("esc-nul");
    let count = std::fs::read_dir(&c.root).unwrap().count();
    let srv = Server::anon_rw(&c.root);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let mut d = cl.epsv();
    let r = cl.cmd_bytes(b"RETR inside.txt\0../outside/secret-canary.txt");
    assert_eq!(r, "501 Invalid character in path.\r\n");
    drop(d);
    assert_eq!(
        cl.cmd_bytes(b"SIZE inside.txt\0"),
        "501 Invalid character in path.\r\n"
    );
    assert_eq!(
        cl.cmd_bytes(b"DELE inside.txt\0.bak"),
        "501 Invalid character in path.\r\n"
    );
    assert_eq!(
        cl.cmd_bytes(b"RNFR inside.txt\0x"),
        "501 Invalid character in path.\r\n"
    );
    assert_eq!(
        cl.cmd_bytes(b"MKD pub\0/new"),
        "501 Invalid character in path.\r\n"
    );
    assert_eq!(
        cl.cmd_bytes(b"CWD pub\0"),
        "501 Invalid character in path.\r\n"
    );
    d = cl.epsv();
    assert_eq!(
        cl.cmd_bytes(b"STOR inside.txt\0.x"),
        "501 Invalid character in path.\r\n"
    );
    drop(d);
    assert_eq!(
        std::fs::read(c.root.join("inside.txt")).unwrap(),
        b"inside\n"
    );
    assert!(c.root.join("pub").is_dir());
    let names: Vec<_> = std::fs::read_dir(&c.root).unwrap().collect();
    assert_eq!(names.len(), count, "nothing may be created: {names:?}");
    assert_eq!(cl.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn very_long_paths_are_refused_or_stay_inside() {
    let c = Canary::new("esc-long");
    let before = c.snapshot();
    let srv = Server::anon_rw(&c.root);
    let mut cl = srv.anon_client();
    // One name longer than NAME_MAX.
    let long_name = "n".repeat(300);
    assert_eq!(
        cl.cmd(&format!("SIZE {long_name}")),
        "553 File name too long.\r\n"
    );
    assert_eq!(
        cl.cmd(&format!("MKD {long_name}")),
        "553 File name too long.\r\n"
    );
    // 1300 `..` (3900 bytes, under the line limit): clamped at the root.
    let deep_up = format!("{}outside/secret-canary.txt", "../".repeat(1300));
    expect_refused("RETR ../x1300", &cl.get(&format!("RETR {deep_up}")).1);
    assert_eq!(
        cl.cmd(&format!("CWD {}", "../".repeat(1350))),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(cl.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    // 2000 components that don't exist, then `..` back up past the root.
    let deep_down = format!("{}{}", "a/".repeat(600), "../".repeat(610));
    assert!(deep_down.len() < 4090);
    let r = cl.cmd(&format!("CWD {deep_down}outside"));
    expect_refused("CWD a/x600 ../x610 outside", &r);
    // A path longer than a line is a too-long line, and the session goes on.
    let huge = format!("RETR {}secret-canary.txt", "../".repeat(2000));
    assert_eq!(cl.cmd(&huge), "500 Command line too long.\r\n");
    // Deep directories can be made, up to the limits, and removed again: all inside.
    let mut path = String::new();
    for i in 0..40 {
        path.push_str(&format!("{}{i:02}/", "d".repeat(60)));
        cl.expect(&format!("MKD {path}"), 257);
    }
    assert!(path.len() > 2000);
    cl.expect(&format!("CWD {path}"), 250);
    assert!(cl.cmd("PWD").len() > 2000);
    let (f, l) = cl.put_lossy("STOR deep.txt", b"deep\n");
    assert!(f.starts_with("150") && l.starts_with("226"), "{f} {l}");
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.snapshot(), before, "something outside the root changed");
}

#[test]
fn writes_through_escaping_paths_change_nothing_outside() {
    let c = Canary::new("esc-write");
    let before = c.snapshot();
    let o = c.outside_str().to_string();
    let srv = Server::anon_rw(&c.root);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let payload = b"uploaded by the client\n";

    // Uploads into directories outside, in every form.
    for p in [
        "../outside/new-a.txt".to_string(),
        "../../outside/new-b.txt".into(),
        "link_dir_abs/new-c.txt".into(),
        "link_dir_rel/new-d.txt".into(),
        "link_dir_abs/sub/new-e.txt".into(),
        "pub/link_deep/new-f.txt".into(),
        "link_up/outside/new-g.txt".into(),
        format!("{o}/new-h.txt"),
        format!("link_root{o}/new-i.txt"),
        "chain1/new-j.txt".into(),
        "../parent-new.txt".into(),
    ] {
        for verb in ["STOR", "APPE", "STOU"] {
            let (first, last) = cl.put_lossy(&format!("{verb} {p}"), payload);
            assert_no_leak(&format!("{verb} {p}"), first.as_bytes());
            assert_no_leak(&format!("{verb} {p}"), last.as_bytes());
        }
        cl.expect("REST 3", 350);
        cl.put_lossy(&format!("STOR {p}"), payload);
    }
    // Writes to the secret file through symlinks: APPE and REST+STOR follow links, inside
    // the jail only; SITE CHMOD and MFMT too.
    // (link_parent_file -> ../parent-canary.txt is walked as /parent-canary.txt, inside the
    // root: APPE may create that; the snapshot shows the real parent-canary.txt untouched.)
    cl.put_lossy("APPE link_parent_file", payload);
    cl.expect("REST 5", 350);
    cl.put_lossy("STOR link_parent_file", payload);
    let created = c.root.join("parent-canary.txt");
    assert!(std::fs::symlink_metadata(&created).unwrap().is_file());
    std::fs::remove_file(created).unwrap();
    for p in ["link_file_abs", "link_file_rel"] {
        let (first, _) = cl.put_lossy(&format!("APPE {p}"), payload);
        expect_refused(&format!("APPE {p}"), &first);
        cl.expect("REST 5", 350);
        let (first, _) = cl.put_lossy(&format!("STOR {p}"), payload);
        expect_refused(&format!("REST 5, STOR {p}"), &first);
        expect_refused(
            &format!("SITE CHMOD {p}"),
            &cl.cmd(&format!("SITE CHMOD 777 {p}")),
        );
        expect_refused(
            &format!("MFMT {p}"),
            &cl.cmd(&format!("MFMT 20000101000000 {p}")),
        );
    }
    for p in ["link_dir_abs", "link_dir_rel/sub", "../outside"] {
        expect_refused(
            &format!("SITE CHMOD {p}"),
            &cl.cmd(&format!("SITE CHMOD 700 {p}")),
        );
    }
    // Directories: make, remove.
    for p in [
        "../outside/new-dir".to_string(),
        "link_dir_abs/new-dir".into(),
        "link_dir_rel/sub/new-dir".into(),
        format!("link_root{o}/new-dir"),
    ] {
        expect_refused(&format!("MKD {p}"), &cl.cmd(&format!("MKD {p}")));
    }
    for p in [
        "../outside/empty-canary-dir",
        "link_dir_abs/empty-canary-dir",
        "link_dir_rel/empty-canary-dir",
        "link_dir_abs/sub",
    ] {
        expect_refused(&format!("RMD {p}"), &cl.cmd(&format!("RMD {p}")));
    }
    expect_refused("RMD link_dir_abs", &cl.cmd("RMD link_dir_abs"));
    // Deletes and renames out of, into and inside outside directories.
    for p in [
        "../outside/secret-canary.txt",
        "link_dir_abs/secret-canary.txt",
        "link_dir_rel/sub/inner-canary.txt",
        "../parent-canary.txt",
        "link_up/parent-canary.txt",
    ] {
        expect_refused(&format!("DELE {p}"), &cl.cmd(&format!("DELE {p}")));
        expect_refused(&format!("RNFR {p}"), &cl.cmd(&format!("RNFR {p}")));
    }
    for to in [
        "../outside/moved.txt",
        "link_dir_abs/moved.txt",
        "link_dir_rel/sub/moved.txt",
        "../moved.txt",
    ] {
        cl.expect("RNFR inside.txt", 350);
        let r = cl.cmd(&format!("RNTO {to}"));
        assert!(
            r.starts_with("550") || r.starts_with("250"),
            "RNTO {to}: {r}"
        );
        // If it "worked", it was a rename inside the root: put it back for the next one.
        if r.starts_with("250") {
            assert_eq!(to, "../moved.txt", "RNTO {to} should be refused");
            cl.expect("RNFR /moved.txt", 350);
            cl.expect("RNTO /inside.txt", 250);
        }
    }
    assert_eq!(
        std::fs::read(c.root.join("inside.txt")).unwrap(),
        b"inside\n"
    );

    // Acting on the symlinks themselves is fine (they are in the root), and never touches
    // their targets: STOR replaces the link, DELE removes the link, RNFR/RNTO moves the link.
    let (f, l) = cl.put_lossy("STOR link_file_abs", payload);
    assert!(f.starts_with("150") && l.starts_with("226"), "{f} {l}");
    let m = std::fs::symlink_metadata(c.root.join("link_file_abs")).unwrap();
    assert!(m.is_file(), "the link was replaced by a file in the root");
    assert_eq!(
        std::fs::read(c.root.join("link_file_abs")).unwrap(),
        payload
    );
    cl.expect("DELE link_file_rel", 250);
    assert!(std::fs::symlink_metadata(c.root.join("link_file_rel")).is_err());
    cl.expect("RNFR link_dir_abs", 350);
    cl.expect("RNTO renamed_link", 250);
    cl.expect("DELE renamed_link", 250);

    // Nothing outside the root changed; nothing of ours was left behind in the root.
    assert_eq!(c.snapshot(), before, "something outside the root changed");
    for e in std::fs::read_dir(&c.root).unwrap() {
        let n = e.unwrap().file_name();
        assert!(
            !n.to_string_lossy().starts_with(".edgeftpd-upload."),
            "temporary file left: {n:?}"
        );
    }
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn directory_swapped_for_a_symlink_while_in_use_stays_jailed() {
    // The client is in /work; behind its back /work becomes a symlink to a directory outside
    // (with a file of the same name) and later to `/`. A server that kept the working
    // directory as a host path, or let the kernel follow the link, would now work outside.
    let c = Canary::new("esc-swap");
    c.base.write("root/work/file.txt", b"INSIDE\n");
    let before = c.snapshot();
    let srv = Server::anon_rw(&c.root);
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    cl.expect("CWD work", 250);
    assert_eq!(cl.retr("file.txt"), b"INSIDE\n");

    std::fs::rename(c.root.join("work"), c.root.join("work.real")).unwrap();
    symlink(&c.outside, c.root.join("work")).unwrap();

    assert_eq!(cl.cmd("PWD"), "257 \"/work\" is the current directory.\r\n");
    let (data, first, _) = cl.get("RETR file.txt");
    assert_eq!(first, "550 No such file or directory.\r\n");
    assert!(data.is_empty());
    expect_refused("RETR secret", &cl.get("RETR secret-canary.txt").1);
    expect_refused("SIZE", &cl.cmd("SIZE file.txt"));
    for verb in ["LIST", "NLST", "MLSD"] {
        let (data, first, last) = cl.get(verb);
        assert_no_leak(verb, first.as_bytes());
        assert_no_leak(verb, &data);
        assert_no_leak(verb, last.as_bytes());
    }
    assert_no_leak("STAT .", cl.cmd("STAT .").as_bytes());
    let (first, _) = cl.put_lossy("STOR up.txt", b"upload\n");
    expect_refused("STOR up.txt", &first);
    let (first, _) = cl.put_lossy("APPE file.txt", b"upload\n");
    expect_refused("APPE file.txt", &first);
    let (first, _) = cl.put_lossy("STOU", b"upload\n");
    expect_refused("STOU", &first);
    expect_refused("MKD", &cl.cmd("MKD newdir"));
    expect_refused("RMD", &cl.cmd("RMD empty-canary-dir"));
    expect_refused("DELE", &cl.cmd("DELE file.txt"));
    expect_refused("RNFR", &cl.cmd("RNFR file.txt"));
    cl.expect("RNFR /inside.txt", 350);
    expect_refused("RNTO into the link", &cl.cmd("RNTO moved.txt"));
    expect_refused("CHMOD", &cl.cmd("SITE CHMOD 777 file.txt"));
    expect_refused("MFMT", &cl.cmd("MFMT 20000101000000 file.txt"));
    expect_refused("CWD sub", &cl.cmd("CWD sub"));

    // Now the link points to `/`: the working directory is the jail's root, not the host's.
    std::fs::remove_file(c.root.join("work")).unwrap();
    symlink("/", c.root.join("work")).unwrap();
    let names = cl.list("NLST");
    let names: Vec<&str> = names.lines().collect();
    assert!(
        names.contains(&"inside.txt") && names.contains(&"work.real"),
        "{names:?}"
    );
    assert!(
        !names.contains(&"proc") && !names.contains(&"etc"),
        "{names:?}"
    );
    assert_eq!(cl.retr("work.real/file.txt"), b"INSIDE\n");
    assert_eq!(c.snapshot(), before, "something outside the root changed");
}

#[test]
fn symlink_swap_race_never_escapes() {
    // A thread swaps /flip between a real directory and a symlink pointing outside (atomic
    // renameat2 RENAME_EXCHANGE, as fast as it can) while the client reads, lists, enters
    // and uploads into it. A check-then-use server loses this race.
    let c = Canary::new("esc-race");
    c.base.write("root/flip/file.txt", b"INSIDE\n");
    symlink(&c.outside, c.root.join("flip-link")).unwrap();
    let before = c.snapshot();
    let srv = Server::anon_rw(&c.root);
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = {
        let stop = Arc::clone(&stop);
        let root = c.root.clone();
        std::thread::spawn(move || {
            let dir = std::fs::File::open(&root).unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    &dir,
                    "flip",
                    &dir,
                    "flip-link",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                n += 1;
            }
            n
        })
    };
    let mut cl = srv.anon_client();
    cl.expect("TYPE I", 200);
    let mut reads_inside = 0;
    let end = Instant::now() + Duration::from_millis(2500);
    let mut i = 0;
    while Instant::now() < end {
        i += 1;
        let (data, first, last) = cl.get("RETR flip/file.txt");
        assert_no_leak("RETR flip/file.txt", &data);
        if first.starts_with("150") {
            assert_eq!(data, b"INSIDE\n", "{last}");
            reads_inside += 1;
        } else {
            expect_refused("RETR flip/file.txt", &first);
        }
        let (data, first, last) = cl.get("NLST -a flip");
        assert_no_leak("NLST flip", &data);
        assert_no_leak("NLST flip", format!("{first}{last}").as_bytes());
        let (first, last) = cl.put_lossy(&format!("STOR flip/up-{i}.txt"), b"up\n");
        assert_no_leak("STOR", format!("{first}{last}").as_bytes());
        expect_or_ok(&cl.cmd(&format!("MKD flip/d-{i}")));
        if cl.cmd("CWD flip").starts_with("250") {
            let (data, _, _) = cl.get("RETR file.txt");
            assert_no_leak("RETR file.txt in flip", &data);
            let (data, _, _) = cl.get("RETR secret-canary.txt");
            assert_no_leak("RETR secret in flip", &data);
            cl.expect("CWD /", 250);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let n = swaps.join().unwrap();
    assert!(n > 100, "only {n} swaps: the race was not exercised");
    assert!(reads_inside > 0, "never read the file inside");
    // Put the directory back in place for the comparison; everything outside is unchanged.
    if std::fs::symlink_metadata(c.root.join("flip"))
        .unwrap()
        .file_type()
        .is_symlink()
    {
        let dir = std::fs::File::open(&c.root).unwrap();
        rustix::fs::renameat_with(
            &dir,
            "flip",
            &dir,
            "flip-link",
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .unwrap();
    }
    assert_eq!(c.snapshot(), before, "something outside the root changed");
}

fn expect_or_ok(r: &str) {
    assert!(r.starts_with("257") || r.starts_with("550"), "{r}");
    assert_no_leak("MKD", r.as_bytes());
}

#[test]
fn fifo_and_devices_are_never_opened() {
    // Opening a FIFO for reading blocks until a writer comes: a naive server's session would
    // hang forever. A symlink to /dev/zero would stream forever (it is walked in the jail).
    let c = Canary::new("esc-fifo");
    let srv = Server::anon_rw(&c.root);
    let mut cl = srv.anon_client();
    let start = Instant::now();
    let (_, first, _) = cl.get("RETR fifo");
    assert_eq!(first, "550 Not a regular file.\r\n");
    let (first, _) = cl.put_lossy("APPE fifo", b"x");
    assert!(
        first.starts_with("550 ") || first.starts_with("451 "),
        "APPE fifo: {first}"
    );
    expect_refused("RETR link_zero", &cl.get("RETR link_zero").1);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(cl.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn pwd_is_slash_at_the_root_and_dotdot_stays_there() {
    let j = Canary::new("pwd");
    let srv = Server::anon(&j.root);
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
    assert_eq!(c.list("NLST ../../.."), nlst_of(&j.root, "../../../"));
}

#[test]
fn nothing_outside_the_root_is_readable() {
    let j = Canary::new("readable");
    let srv = Server::anon(&j.root);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let outside = j.outside_str().to_string();
    let rel = "../outside/secret.txt".to_string();
    let abs = j.outside.join("secret.txt").display().to_string();
    let deep = format!("../../../../../../../..{abs}");
    for p in [
        rel.as_str(),
        abs.as_str(),
        deep.as_str(),
        "../../../../etc/passwd",
        "/etc/passwd",
        "link_file_abs",
        "out_deep",
        "link_file_rel",
        "link_dir_abs/secret.txt",
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
    for d in [outside.as_str(), "link_dir_abs", "../link_dir_abs"] {
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
    assert!(
        l.contains(&format!(" link_dir_abs -> {outside}\r\n")),
        "{l}"
    );
    assert_eq!(nlst_of(&j.root, ""), c.list("NLST"));
    assert_eq!(
        c.cmd("RETR loop"),
        "550 Too many levels of symbolic links.\r\n"
    );
    assert_eq!(c.cmd("RETR a\0b"), "501 Invalid character in path.\r\n");
}

#[test]
fn nothing_outside_the_root_is_writable() {
    let j = Canary::new("writable");
    let before = j.snapshot();
    let srv = Server::anon_rw(&j.root);
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let abs = j.outside.join("secret.txt").display().to_string();
    let outside = j.outside_str().to_string();
    let rel_dir = "../outside".to_string();
    for p in [
        format!("{rel_dir}/new.txt"),
        format!("{outside}/new.txt"),
        "link_dir_abs/new.txt".to_string(),
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
    for p in [abs.as_str(), "link_file_abs", "link_file_rel", "out_deep"] {
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
    assert_eq!(j.snapshot(), before, "something outside the root changed");
    // Acting on a link acts on the link itself, inside the root: the target is untouched.
    let (first, last) = c.put("STOR link_file_abs", b"replaced");
    assert!(
        first.starts_with("150 ") && last.starts_with("226 "),
        "{first}{last}"
    );
    assert_eq!(
        c.cmd("DELE link_file_rel"),
        "250 Delete operation successful.\r\n"
    );
    assert_eq!(c.cmd("RNFR out_deep"), "350 Ready for RNTO.\r\n");
    assert_eq!(c.cmd("RNTO renamed"), "250 Rename successful.\r\n");
    assert_eq!(j.snapshot(), before, "something outside the root changed");
    // `..` in a destination is clamped at the root.
    let esc = format!("escape-{}.txt", std::process::id());
    c.expect("RNFR pub/file.txt", 350);
    assert_eq!(
        c.cmd(&format!("RNTO ../../../../{esc}")),
        "250 Rename successful.\r\n"
    );
    assert!(j.root.join(&esc).exists());
    assert!(!j.root.parent().unwrap().join(&esc).exists());
    let (_, last) = c.put(&format!("STOR ../../{esc}.2"), b"y");
    assert!(last.starts_with("226"));
    assert!(j.root.join(format!("{esc}.2")).exists());
    assert!(!Path::new("/").join(format!("{esc}.2")).exists());
    assert!(!j.root.parent().unwrap().join(format!("{esc}.2")).exists());
    assert_eq!(j.snapshot(), before, "something outside the root changed");
}

#[test]
fn symlinks_inside_the_root_work() {
    let j = Canary::new("inside-links");
    let srv = Server::anon(&j.root);
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
    assert_eq!(
        c.list("NLST"),
        "file.txt\r\nlink_deep\r\nreadme.txt\r\nup_and_back\r\n"
    );
    assert_eq!(c.retr("file.txt"), b"public");
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

/// NLST of `root` as the server lists it: every name not starting with `.`, sorted, with
/// `prefix` before each.
fn nlst_of(root: &Path, prefix: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names.iter().map(|n| format!("{prefix}{n}\r\n")).collect()
}
