//! The canary tree: one root served to clients next to canaries it must never reach, shared
//! by the jail fuzz target (fuzz/checks.rs), the path tests (tests/suite/support/canary.rs)
//! and the corpus replay. Both include this file with `#[path]`; it uses only std.
//!
//! ```text
//!  base/
//!    parent-canary.txt, canary-parent.txt     beside the root
//!    outside/  secret-canary.txt (SECRET_SIZE bytes), secret.txt, canary.txt, file.txt,
//!              sub/inner-canary.txt, dir/canary2.txt, empty-canary-dir/
//!    root/     inside.txt, a.txt, pub/{readme,file}.txt, dir/b.txt, dir/sub/c.txt, fifo,
//!              and symlinks pointing out of it in every way (absolute, relative, deep,
//!              chained, to / and /etc and /proc, to devices, looping) and back into it
//! ```
//!
//! Every canary file holds [`MARKER`]: it must never reach a client.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::Path;

/// What every canary file outside the root contains.
pub const MARKER: &str = "EDGEFTPD-CANARY-OUTSIDE-THE-ROOT";

/// Size of `outside/secret-canary.txt`: a SIZE or MLST reply with it would leak its
/// metadata.
pub const SECRET_SIZE: usize = 12345;

/// Names that exist only outside the root: they must never appear in a listing.
pub const OUTSIDE_NAMES: &[&str] = &[
    "secret-canary.txt",
    "inner-canary.txt",
    "empty-canary-dir",
    "parent-canary.txt",
    "canary-parent.txt",
    "canary.txt",
    "canary2.txt",
    "secret.txt",
];

/// The secret file's content: the marker, padded to [`SECRET_SIZE`].
pub fn secret_content() -> Vec<u8> {
    let mut s = format!("{MARKER}\n").into_bytes();
    s.resize(SECRET_SIZE, b'#');
    s
}

fn write(base: &Path, rel: &str, data: &[u8]) {
    let p = base.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Builds the tree in `base` (which must be empty or missing).
pub fn build(base: &Path) {
    let m = MARKER.as_bytes();
    let out = base.join("outside");
    let root = base.join("root");
    write(base, "outside/secret-canary.txt", &secret_content());
    write(base, "outside/secret.txt", m);
    write(base, "outside/canary.txt", m);
    write(base, "outside/file.txt", m);
    write(base, "outside/sub/inner-canary.txt", m);
    write(base, "outside/dir/canary2.txt", m);
    std::fs::create_dir_all(out.join("empty-canary-dir")).unwrap();
    write(base, "parent-canary.txt", m);
    write(base, "canary-parent.txt", m);
    write(base, "root/inside.txt", b"inside\n");
    write(base, "root/a.txt", b"inside a\n");
    write(base, "root/pub/readme.txt", b"readme\n");
    write(base, "root/pub/file.txt", b"public");
    write(base, "root/dir/b.txt", b"inside b\n");
    write(base, "root/dir/sub/c.txt", b"inside c\n");
    let o = out.display().to_string();
    let links: &[(&str, String)] = &[
        // Out, absolute and relative, to directories and files.
        ("link_dir_abs", o.clone()),
        ("link_dir_rel", "../outside".into()),
        ("link_file_abs", format!("{o}/secret-canary.txt")),
        ("link_file_rel", "../outside/secret-canary.txt".into()),
        ("link_parent_file", "../parent-canary.txt".into()),
        ("link_up", "../../../../../../..".into()),
        ("link_root", "/".into()),
        ("link_etc", "/etc".into()),
        ("link_zero", "/dev/zero".into()),
        ("proc_self", "/proc/self/root".into()),
        ("out_deep", format!("../../../../../../../..{o}/secret.txt")),
        ("pub/link_deep", "../../outside/sub".into()),
        ("dir/sub/deep_out", "../../../outside/dir".into()),
        // Chains and loops.
        ("chain1", "chain2".into()),
        ("chain2", format!("/../..{o}/sub")),
        ("chain", "dir/back/link_dir_rel".into()),
        ("dir/back", "..".into()),
        ("dir/self", ".".into()),
        ("loop", "loop".into()),
        ("dangling", "nothing/here".into()),
        // Back into the root.
        ("in_rel", "pub/file.txt".into()),
        ("in_abs", "/pub/file.txt".into()),
        ("in_dir", "pub".into()),
        ("inner", "dir/sub".into()),
        ("inner_abs", "/dir/sub/c.txt".into()),
        ("pub/up_and_back", "../pub/file.txt".into()),
    ];
    for (name, target) in links {
        symlink(target, root.join(name)).unwrap();
    }
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "mkfifo in {}",
        root.display()
    );
}
