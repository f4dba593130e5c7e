//! A root with canaries outside it, snapshots of the host file system to prove nothing
//! outside changed, and /proc probes: what the path, upload and process tests share.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::TempDir;

use crate::tree;

pub use tree::{MARKER, OUTSIDE_NAMES, SECRET_SIZE};

/// The canary tree (fuzz/tree.rs): `base/root` (served) next to `base/outside` (canaries),
/// canaries in the root's parent, and symlinks in the root pointing out in every way.
pub struct Canary {
    pub base: TempDir,
    pub root: PathBuf,
    pub outside: PathBuf,
}

impl Canary {
    pub fn new(tag: &str) -> Canary {
        let base = TempDir::new(tag);
        tree::build(base.path());
        let root = base.join("root");
        let outside = base.join("outside");
        Canary {
            base,
            root,
            outside,
        }
    }

    pub fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    /// The host path of the outside directory, as a client would type it.
    pub fn outside_str(&self) -> &str {
        self.outside.to_str().unwrap()
    }

    /// Everything outside the root that a client could try to touch: the outside tree and
    /// the entries of the root's parent (the root's own contents are not included).
    pub fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut m = snapshot(&self.outside);
        for e in std::fs::read_dir(self.base.path()).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "root" && e.file_name() != "outside" {
                m.extend(snapshot(&e.path()));
            }
            m.insert(PathBuf::from(e.file_name()), "entry".into());
        }
        m
    }
}

/// A description of every object below (and including) `p`, symlinks not followed: type,
/// size, mode, owner, mtime and (for files) content. Equal snapshots mean nothing was
/// created, deleted, renamed, written, chmod-ed or touched.
pub fn snapshot(p: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    fn walk(p: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(m) = std::fs::symlink_metadata(p) else {
            return;
        };
        let content = if m.is_file() {
            String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
        } else if m.file_type().is_symlink() {
            format!("-> {:?}", std::fs::read_link(p).unwrap())
        } else {
            String::new()
        };
        out.insert(
            p.to_path_buf(),
            format!(
                "mode={:o} uid={} size={} mtime={}.{} ino={} {content}",
                m.mode(),
                m.uid(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino()
            ),
        );
        if m.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), out);
            }
        }
    }
    walk(p, &mut out);
    out
}

/// Asserts that no canary (content or name) leaked into `text`.
/// A symlink's own text (`name -> target` in LIST) is the root's content and is not checked.
pub fn assert_no_leak(what: &str, text: &[u8]) {
    let t: String = String::from_utf8_lossy(text)
        .split('\n')
        .map(|l| l.split(" -> ").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!t.contains(MARKER), "{what}: canary content leaked: {t:?}");
    for n in OUTSIDE_NAMES {
        assert!(!t.contains(n), "{what}: outside name {n} leaked: {t:?}");
    }
    assert!(
        !t.contains(&format!("size={SECRET_SIZE};")) && !t.contains(&format!("213 {SECRET_SIZE}")),
        "{what}: the secret's size leaked: {t:?}"
    );
}

/// user + system CPU time of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
pub fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) is in parentheses and may contain spaces.
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3: utime is field 14, stime field 15.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A line of /proc/PID/status, without its label: `status_field(pid, "Uid")`.
pub fn status_field(pid: u32, name: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// Whether process `pid` has ended (gone, or a zombie its parent has not waited for).
pub fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => s
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|st| st.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// Threads of a process.
pub fn threads(pid: u32) -> usize {
    status_field(pid, "Threads").parse().unwrap()
}

/// The server's threads named `name` (a session's is "session", the idle sessions'
/// watcher's "idle").
pub fn named_threads(pid: u32, name: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)
                })
                .count()
        })
        .unwrap_or(0)
}

/// `n` consecutive ports that are free now, above the kernel's ephemeral range (so that no
/// outgoing connection takes them): for a test that needs its own tiny passive range.
pub fn free_port_range(n: u16) -> (u16, u16) {
    let start = 61000 + (std::process::id() % 400) as u16 * 10;
    let mut base = start;
    loop {
        let ok = (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if ok {
            return (base, base + n - 1);
        }
        base += n;
        if base > 65000 {
            base = 61000;
        }
        assert!(base != start, "no free port range");
    }
}

/// Polls `f` until it is true or `within` passes.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the test runs as root (tests of privileges, mounts and low ports need it).
pub fn is_root() -> bool {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|u| u.split_whitespace().nth(1))
        == Some("0")
}

/// uid and gid of `nobody`, from /etc/passwd.
pub fn nobody() -> (u32, u32) {
    let text = std::fs::read_to_string("/etc/passwd").unwrap();
    let f: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("no nobody in /etc/passwd")
        .split(':')
        .collect();
    (f[2].parse().unwrap(), f[3].parse().unwrap())
}

/// Panics with a clear message when not root: these tests cannot run otherwise, and a
/// skipped test must not look like a passed one.
pub fn require_root(what: &str) {
    assert!(
        is_root(),
        "{what} needs root (run the tests as root, as .ci/run does)"
    );
}

/// Sends a signal to a process with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Sets a resource limit of a running process with prlimit(1), e.g. `("--nofile", "16:16")`.
pub fn prlimit(pid: u32, limit: &str) {
    let st = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(limit)
        .status()
        .expect("prlimit (util-linux) is needed");
    assert!(st.success(), "prlimit --pid {pid} {limit}");
}

/// Connects and returns a client if the greeting is 220 (`None` if refused or closed).
pub fn try_client(addr: std::net::SocketAddr) -> Option<crate::support::Client> {
    use std::io::BufRead;
    let s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(crate::support::WAIT)).ok()?;
    let mut ctl = std::io::BufReader::new(s);
    let mut line = String::new();
    ctl.read_line(&mut line).ok()?;
    line.starts_with("220 ")
        .then_some(crate::support::Client { ctl })
}

/// Waits until a client gets in (the server recovered): the logged-in anonymous client.
pub fn client_eventually(addr: std::net::SocketAddr) -> crate::support::Client {
    let end = Instant::now() + crate::support::WAIT;
    loop {
        if let Some(mut c) = try_client(addr) {
            c.login("anonymous", "guest@example.com");
            return c;
        }
        assert!(Instant::now() < end, "no client gets in any more");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free port on 127.0.0.1 (bound, then let go), for a server told its address in a file.
pub fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
