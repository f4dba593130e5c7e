//! The checks behind the fuzz targets, shared by the targets (fuzz/fuzz_targets/*.rs, run by
//! cargo-fuzz on nightly) and by tests/suite/fuzz_corpus.rs (which replays the stored corpus on
//! stable, so CI catches a regression without nightly). Both include this file with `#[path]`.
//!
//! - [`check_parse`]: the command parser and the lexical path join never panic, and what they
//!   return keeps its promises (path arguments byte-exact, normalised paths without `.`, `..`
//!   or empty components, every parsed line's verb in the table the pre-login gate reads).
//! - [`check_dns`]: the stub resolver's answer parser (`--pasv-address HOSTNAME`) never
//!   panics and never takes an address from an answer to another question.
//! - [`Fixture`] + [`check_jail`]: the canary tree (fuzz/tree.rs, shared with the path
//!   tests) with symlinks pointing out of the root in every way, and canaries outside; stat, lstat, open_read, open_dir + read_dir, mkdir + rmdir and
//!   uncommitted uploads (STOR, STOU) of any path never reach an object outside the root (every inode
//!   they reach is one of the root's), never read a canary, and change nothing outside.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use edgeftpd::command::{self, Command};
use edgeftpd::limits;
use edgeftpd::resolver;
use edgeftpd::vfs::{Jail, UploadKind, VPath};

// The crate that includes this file declares `mod tree` (fuzz/tree.rs) at its root.
use crate::tree;

/// What every file outside the root contains.
pub const MARKER: &[u8] = tree::MARKER.as_bytes();

// ---------------------------------------------------------------------------------------
// The stub resolver's answer parser (src/resolver.rs)

/// The name the DNS checks ask for.
const DNS_NAME: &str = "myhome.example.net";

/// Checks the answer parser on `data` three ways: as a whole message, as the answer records
/// after our own question, and after a forged question for another name. It never panics,
/// never answers a message that is not a response to one question, takes an address only
/// from the bytes of the message, and never takes one from an answer to another question.
pub fn check_dns(data: &[u8]) {
    let id = data
        .get(..2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    if resolver::dns_answer(data, id, DNS_NAME).is_some() {
        assert!(
            data[2] & 0x80 != 0 && data[4..6] == [0, 1],
            "not a response to one question"
        );
    }
    // A response to a question for `name`, with as many answer records as the first byte
    // of `data` says (the records are `data`).
    let header = |name: &str| {
        let mut m = resolver::dns_query(id, name).unwrap();
        m[2] |= 0x80;
        m[7] = data.first().map_or(1, |b| b % 16);
        m
    };
    let ours = [header(DNS_NAME), data.to_vec()].concat();
    if let Some(Ok(Some(a))) = resolver::dns_answer(&ours, id, DNS_NAME) {
        assert!(
            ours.windows(4).any(|w| w == a.octets()),
            "{a} is not in the message"
        );
    }
    let forged = [header("evil.example.org"), data.to_vec()].concat();
    assert_eq!(
        resolver::dns_answer(&forged, id, DNS_NAME),
        None,
        "an answer to another question was taken"
    );
}

// ---------------------------------------------------------------------------------------
// The command parser and VPath::join

/// Checks one control line (and the lexical path join on the same bytes).
pub fn check_parse(data: &[u8]) {
    let parsed = command::parse(data);
    if let Ok(cmd) = &parsed {
        // Every line that parses has its verb in the table the login gate reads.
        assert!(
            command::verb_of(data).is_some(),
            "{data:?} parsed as {cmd:?} without a verb-table entry"
        );
        check_command(data, cmd);
    }
    // Paths: the whole input, and (split at the first LF) a working directory and an argument.
    check_join(&VPath::root(), data);
    let (cwd, arg) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    if let Ok(base) = VPath::root().join(cwd) {
        check_vpath(&base);
        check_join(&base, arg);
    }
}

/// The argument after the verb and one space, as the parser sees it.
fn argument(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => &line[i + 1..],
        None => &line[line.len()..],
    }
}

fn check_command(line: &[u8], cmd: &Command) {
    let arg = argument(line);
    match cmd {
        // Path arguments are passed on byte for byte (names are bytes; spaces count).
        Command::Cwd(p)
        | Command::Retr(p)
        | Command::Stor(p)
        | Command::Appe(p)
        | Command::Size(p)
        | Command::Mdtm(p)
        | Command::Dele(p)
        | Command::Rmd(p)
        | Command::Mkd(p)
        | Command::Rnfr(p)
        | Command::Rnto(p) => {
            assert!(!p.is_empty(), "empty path from {line:?}");
            assert_eq!(p.as_slice(), arg, "path altered: {line:?}");
        }
        Command::Port(a) => assert!(a.is_ipv4(), "PORT gave {a} from {line:?}"),
        Command::Rest(n) => {
            let digits = arg.trim_ascii();
            assert_eq!(
                std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| s.parse().ok()),
                Some(*n),
                "REST {line:?}"
            );
        }
        Command::Mfmt(_, p) | Command::SiteChmod(_, p) => assert!(!p.is_empty()),
        _ => {}
    }
}

fn check_join(base: &VPath, arg: &[u8]) {
    match base.join(arg) {
        Ok(p) => {
            assert!(!arg.contains(&0), "NUL accepted in {arg:?}");
            check_vpath(&p);
            // Joining an absolute path ignores the base.
            if arg.first() == Some(&b'/') {
                assert_eq!(VPath::root().join(arg).as_ref(), Ok(&p));
            }
        }
        Err(_) => {
            // Refused only for a NUL, or a path or name over the limits.
            let long_name = arg
                .split(|&b| b == b'/')
                .any(|c| c.len() > limits::MAX_NAME);
            assert!(
                arg.contains(&0) || arg.len() > limits::MAX_PATH || long_name,
                "join refused {arg:?}"
            );
        }
    }
}

/// A normalised path: absolute, no empty, `.` or `..` component, names within the limits,
/// and stable (parsing its own text gives it back).
fn check_vpath(p: &VPath) {
    let b = p.to_bytes();
    assert_eq!(b.first(), Some(&b'/'));
    if b.len() > 1 {
        for comp in b[1..].split(|&c| c == b'/') {
            assert!(
                !comp.is_empty() && comp != b"." && comp != b"..",
                "component {comp:?} in {b:?}"
            );
            assert!(!comp.contains(&0) && comp.len() <= limits::MAX_NAME);
        }
    }
    if b.len() <= limits::MAX_PATH {
        assert_eq!(VPath::root().join(&b).as_ref(), Ok(p), "unstable: {b:?}");
    }
    match p.file_name() {
        Some(name) => assert_eq!(&p.parent().child(name), p),
        None => assert_eq!(b, b"/"),
    }
}

// ---------------------------------------------------------------------------------------
// Path resolution inside the jail

/// A served root with symlinks pointing out, next to an `outside` tree of canaries.
pub struct Fixture {
    pub base: PathBuf,
    pub root: PathBuf,
    jail: Jail,
    /// (dev, ino) of every object in the root, the root itself included.
    inside: HashSet<(u64, u64)>,
    /// The tree outside the root, and the root's own tree, as they must stay.
    outside_state: BTreeSet<String>,
    root_state: BTreeSet<String>,
}

impl Fixture {
    /// Builds the tree in `base` (an empty or missing directory).
    pub fn new(base: &Path) -> Fixture {
        let _ = std::fs::remove_dir_all(base);
        tree::build(base);
        let root = base.join("root");
        let mut inside = HashSet::new();
        walk(&root, &mut |p, m| {
            let _ = p;
            inside.insert((m.dev(), m.ino()));
        });
        let jail = Jail::open(&root).unwrap();
        let mut f = Fixture {
            base: base.to_path_buf(),
            root,
            jail,
            inside,
            outside_state: BTreeSet::new(),
            root_state: BTreeSet::new(),
        };
        f.outside_state = f.outside_now();
        f.root_state = state(&f.root);
        f
    }

    /// The outside tree and the entries beside the root.
    fn outside_now(&self) -> BTreeSet<String> {
        let mut s = state(&self.base.join("outside"));
        for e in std::fs::read_dir(&self.base).unwrap() {
            s.insert(format!("base/{:?}", e.unwrap().file_name()));
        }
        s
    }

    /// Asserts that (dev, ino) is one of the root's objects.
    pub fn assert_inside(&self, what: &str, dev: u64, ino: u64) {
        assert!(
            self.inside.contains(&(dev, ino)),
            "{what}: reached an object outside the root (dev {dev}, ino {ino})"
        );
    }
}

/// Calls `f` for `p` and everything below it, symlinks not followed.
fn walk(p: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let m = std::fs::symlink_metadata(p).unwrap();
    f(p, &m);
    if m.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            walk(&e.unwrap().path(), f);
        }
    }
}

/// Names, types, sizes and modes of a tree: equal states mean nothing was added, removed,
/// renamed, written or chmod-ed.
fn state(p: &Path) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    walk(p, &mut |q, m| {
        s.insert(format!("{q:?} {:o} {}", m.mode(), m.len()));
    });
    s
}

/// Turns fuzz input into a path: a working directory and an argument split at the first LF,
/// as a session joins them.
fn fuzz_path(data: &[u8]) -> Option<VPath> {
    let (cwd, arg) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    VPath::root().join(cwd).ok()?.join(arg).ok()
}

/// Checks one path against the jail: see the module comment.
pub fn check_jail(fx: &Fixture, data: &[u8]) {
    let Some(p) = fuzz_path(data) else {
        return;
    };
    let jail = &fx.jail;
    let what = format!("{:?}", String::from_utf8_lossy(&p.to_bytes()));
    if let Ok(m) = jail.stat(&p) {
        fx.assert_inside(&format!("stat {what}"), m.dev, m.ino);
    }
    if let Ok(m) = jail.lstat(&p) {
        fx.assert_inside(&format!("lstat {what}"), m.dev, m.ino);
    }
    if let Ok((mut file, m)) = jail.open_read(&p) {
        fx.assert_inside(&format!("open_read {what}"), m.dev, m.ino);
        let fm = file.metadata().unwrap();
        fx.assert_inside(&format!("open_read fd {what}"), fm.dev(), fm.ino());
        let mut content = Vec::new();
        let _ = (&mut file).take(1 << 16).read_to_end(&mut content);
        assert!(
            !content.windows(MARKER.len()).any(|w| w == MARKER),
            "open_read {what}: read a canary"
        );
    }
    if let Ok(fd) = jail.open_dir(&p) {
        let st = rustix::fs::fstat(&fd).unwrap();
        #[allow(clippy::unnecessary_cast)]
        fx.assert_inside(
            &format!("open_dir {what}"),
            st.st_dev as u64,
            st.st_ino as u64,
        );
        let (names, _) = jail.read_names(&fd, &|_| true).unwrap();
        for i in 0..names.len() {
            if let Some(meta) = jail.stat_nth(&fd, &names, i) {
                fx.assert_inside(&format!("stat_entry {what}"), meta.dev, meta.ino);
            }
            assert!(
                !names.get(i).starts_with(b"canary"),
                "read_names {what}: lists a canary"
            );
        }
    }
    // Writes, undone at once: a directory made and removed, an upload never committed.
    if jail.mkdir(&p).is_ok() {
        let m = jail
            .lstat(&p)
            .expect("the new directory is where mkdir put it");
        assert!(
            !fx.inside.contains(&(m.dev, m.ino)),
            "mkdir {what}: not new"
        );
        assert_eq!(
            fx.outside_now(),
            fx.outside_state,
            "mkdir {what}: outside changed"
        );
        jail.rmdir(&p).expect("rmdir of the directory just made");
    }
    // Uploads that are not committed (STOR's temporary file, STOU's new file) leave nothing.
    for kind in [UploadKind::Stor, UploadKind::Unique] {
        // (-1: no control connection; poll(2) calls it invalid, never closed.)
        if let Ok(mut target) = jail.open_upload(&p, kind, -1) {
            let _ = target.file().write_all(b"fuzz");
            let fm = target.file().metadata().unwrap();
            assert!(fm.nlink() == 1 && fm.len() == 4);
            assert_eq!(
                fx.outside_now(),
                fx.outside_state,
                "open_upload {kind:?} {what}: outside changed"
            );
            drop(target);
        }
    }
    assert_eq!(
        fx.outside_now(),
        fx.outside_state,
        "{what}: outside changed"
    );
    assert_eq!(
        state(&fx.root),
        fx.root_state,
        "{what}: the root was left changed"
    );
}
