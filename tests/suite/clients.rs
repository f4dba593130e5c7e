//! Real clients against the real server: curl, lftp, wget, Python's ftplib, tnftp, busybox
//! ftpget/ftpput and ncftp, in passive and active mode, with users-file accounts. A client that
//! is missing fails the test (`make deps` installs them); nothing is skipped.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::support::*;

/// 2020-06-09 12:34:56 UTC: older than six months, so `ls -l` shows `Jun  9  2020`.
const OLD: u64 = 1_591_706_096;

/// Users-file accounts (name, password); the comment gives the hash type and permission.
const ALICE: (&str, &str) = ("alice", "alicepw"); // $6$, rw

const BOB: (&str, &str) = ("bob", "bobpw"); // $1$ (MD5-crypt, OpenWrt's default), rw

const CAROL: (&str, &str) = ("carol", "carolpw"); // $5$, read-only

const UTF8_NAME: &str = "Grüße.txt";

/// Fails (never skips) when a client is not installed.
fn need(cmd: &str) {
    let (ok, _, _) = sh(&format!("command -v {cmd}"));
    assert!(ok, "client `{cmd}` is not installed: run `make deps`");
}

fn set_mtime(p: &Path, secs: u64) {
    let f = fs::File::open(p).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

fn mtime(p: &Path) -> i64 {
    fs::metadata(p).unwrap().mtime()
}

fn write_file(p: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    set_mtime(p, OLD);
}

/// The test tree: subdirectories, an empty file, binary files, a name with spaces, a UTF-8
/// name. Every file is 0644 and dated `OLD`; directories 0755.
fn make_tree(dir: &Path) {
    write_file(&dir.join("big.bin"), &pattern(300_000, 1), 0o644);
    write_file(&dir.join("hello.txt"), b"hello, world\n", 0o644);
    write_file(&dir.join("sub/a.txt"), b"alpha\nbeta\n", 0o644);
    write_file(&dir.join("sub/empty"), b"", 0o644);
    write_file(&dir.join("sub/with space.bin"), &pattern(70_000, 2), 0o644);
    write_file(
        &dir.join("sub").join(UTF8_NAME),
        "grüße\n".as_bytes(),
        0o644,
    );
    write_file(&dir.join("sub/deeper/d.bin"), &pattern(4_097, 3), 0o644);
    for d in ["sub/deeper", "sub"] {
        let p = dir.join(d);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        set_mtime(&p, OLD);
    }
}

/// What our LIST sends for `dir`: `ls -l` lines sorted by name, each ending in CRLF.
fn expected_listing(dir: &Path) -> String {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = String::new();
    for n in names {
        let m = fs::symlink_metadata(dir.join(&n)).unwrap();
        let mut mode = String::from(if m.is_dir() { "d" } else { "-" });
        for (i, c) in "rwxrwxrwx".chars().enumerate() {
            mode.push(if m.mode() & (0o400 >> i) != 0 { c } else { '-' });
        }
        assert_eq!(m.mtime(), OLD as i64, "{n:?} must be dated OLD");
        out.push_str(&format!(
            "{mode} {:>4} {:<8} {:<8} {:>12} Jun  9  2020 {}\r\n",
            m.nlink(),
            m.uid(),
            m.gid(),
            m.size(),
            n.to_str().unwrap()
        ));
    }
    out
}

/// Asserts that two trees hold the same names, types and bytes.
fn assert_same_tree(a: &Path, b: &Path) {
    let list = |d: &Path| {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| e.unwrap().file_name())
            .filter(|n| !n.as_bytes().starts_with(b".edgeftpd-upload."))
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (list(a), list(b));
    assert_eq!(la, lb, "{} and {} differ", a.display(), b.display());
    for n in la {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(ma.is_dir(), mb.is_dir(), "{}", pb.display());
        if ma.is_dir() {
            assert_same_tree(&pa, &pb);
        } else {
            assert_same_file(&pa, &pb);
        }
    }
}

fn assert_same_file(a: &Path, b: &Path) {
    let da = fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let db = fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert!(
        da == db,
        "{} ({} bytes) and {} ({} bytes) differ",
        a.display(),
        da.len(),
        b.display(),
        db.len()
    );
}

/// A server with anonymous read-only access to `root` and three users-file accounts sharing
/// `home`, plus a client-side working directory.
struct Fx {
    srv: Server,
    root: TempDir,
    home: TempDir,
    work: TempDir,
    _etc: TempDir,
}

impl Fx {
    fn new(tag: &str) -> Fx {
        let root = TempDir::new(&format!("{tag}-root"));
        let home = TempDir::new(&format!("{tag}-home"));
        let work = TempDir::new(&format!("{tag}-work"));
        let etc = TempDir::new(&format!("{tag}-etc"));
        make_tree(root.path());
        make_tree(home.path());
        let users = format!(
            "# test accounts\n{}{}{}",
            crypt_line(ALICE.0, ALICE.1, "6", home.path(), "rw"),
            crypt_line(BOB.0, BOB.1, "1", home.path(), "rw"),
            crypt_line(CAROL.0, CAROL.1, "5", home.path(), "ro"),
        );
        let users_file = etc.write("users", users.as_bytes());
        let srv = Server::anon_with(
            root.path(),
            &[
                "--users",
                users_file.to_str().unwrap(),
                "--data-timeout",
                "20",
            ],
        );
        Fx {
            srv,
            root,
            home,
            work,
            _etc: etc,
        }
    }

    fn port(&self) -> u16 {
        self.srv.port()
    }

    /// `ftp://USER:PASS@127.0.0.1:PORT`.
    fn url(&self, (user, pw): (&str, &str)) -> String {
        format!("ftp://{user}:{pw}@127.0.0.1:{}", self.port())
    }

    fn anon_url(&self) -> String {
        format!("ftp://127.0.0.1:{}", self.port())
    }

    fn w(&self, rel: &str) -> std::path::PathBuf {
        self.work.join(rel)
    }

    fn log_tail(&self) -> String {
        let log = self.srv.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(80)..].join("\n")
    }

    /// Runs a shell script in the work directory; returns (success, stdout, stderr).
    fn try_run(&self, script: &str) -> (bool, String, String) {
        sh(&format!("cd '{}' && {script}", self.work.path().display()))
    }

    /// Runs a shell script in the work directory and asserts it succeeded; returns stdout.
    fn run(&self, script: &str) -> String {
        let (ok, out, err) = self.try_run(script);
        assert!(
            ok,
            "client failed:\n$ {script}\n--- stdout\n{out}\n--- stderr\n{err}\n--- server log\n{}",
            self.log_tail()
        );
        out
    }

    /// Runs an lftp script logged in as `login` (None: anonymous) with the settings every
    /// run needs: no minutes-long retries, clobbering, UTF-8 local names whatever the locale,
    /// exit on the first failing command. Returns (success, stdout, stderr, debug trace).
    fn try_lftp(&self, login: Option<(&str, &str)>, body: &str) -> (bool, String, String, String) {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, Ordering::SeqCst);
        let dbg = self.w(&format!("lftp-{n}.dbg"));
        let script = self.w(&format!("lftp-{n}.script"));
        let open = match login {
            Some((u, p)) => format!("open -u {u},{p} -p {} 127.0.0.1", self.port()),
            None => format!("open -p {} 127.0.0.1", self.port()),
        };
        fs::write(
            &script,
            format!(
                "set cmd:fail-exit yes\n\
                 set net:max-retries 1\n\
                 set net:timeout 10\n\
                 set net:reconnect-interval-base 1\n\
                 set xfer:clobber on\n\
                 set file:charset utf-8\n\
                 set ftp:ssl-allow yes\n\
                 debug -o {} -t 9\n\
                 {open}\n{body}\n",
                dbg.display()
            ),
        )
        .unwrap();
        let (ok, out, err) =
            self.try_run(&format!("timeout 60 lftp --norc -f '{}'", script.display()));
        let trace = fs::read_to_string(&dbg).unwrap_or_default();
        (ok, out, err, trace)
    }

    fn lftp(&self, login: Option<(&str, &str)>, body: &str) -> (String, String) {
        let (ok, out, err, trace) = self.try_lftp(login, body);
        assert!(
            ok,
            "lftp failed:\n{body}\n--- stdout\n{out}\n--- stderr\n{err}\n--- trace\n{}\n--- server log\n{}",
            commands(&trace),
            self.log_tail()
        );
        (out, trace)
    }
}

/// The command/reply lines of an lftp debug trace.
fn commands(trace: &str) -> String {
    trace
        .lines()
        .filter(|l| l.contains("---> ") || l.contains("<--- "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of an lftp trace that are commands sent, without the timestamp.
fn sent(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|l| l.find("---> ").map(|i| l[i + 5..].trim_end().to_string()))
        .collect()
}

fn received(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter_map(|l| l.find("<--- ").map(|i| l[i + 5..].trim_end().to_string()))
        .collect()
}

/// The server log's command lines (`> VERB args`) after byte offset `from`, once every
/// prefix in `want` is among them (or the wait time is over): the log arrives through a pipe
/// and may lag behind a client that has already exited.
fn server_commands(srv: &Server, from: usize, want: &[&str]) -> Vec<String> {
    let end = Instant::now() + WAIT;
    loop {
        let cmds: Vec<String> = srv.log()[from..]
            .lines()
            .filter_map(|l| l.find(": > ").map(|i| l[i + 4..].to_string()))
            .collect();
        if want.iter().all(|w| has_prefix(&cmds, w)) || Instant::now() > end {
            return cmds;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has_prefix(cmds: &[String], prefix: &str) -> bool {
    cmds.iter().any(|c| c.starts_with(prefix))
}

// ---------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------

/// curl quirk: it turns the CRLFs of an ASCII-mode listing into LFs on Unix.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

#[test]
fn curl_lists_downloads_uploads_and_resumes() {
    need("curl");
    let fx = Fx::new("curl");
    let anon = fx.anon_url();
    let alice = fx.url(ALICE);

    // Anonymous: LIST (exact ls -l lines), NLST, downloads including encoded names.
    let l = fx.run(&format!("timeout 60 curl -sS {anon}/"));
    assert_eq!(l, lf(&expected_listing(fx.root.path())));
    let l = fx.run(&format!("timeout 60 curl -sS {anon}/sub/"));
    assert_eq!(l, lf(&expected_listing(&fx.root.join("sub"))));
    let l = fx.run(&format!("timeout 60 curl -sS --list-only {anon}/sub/"));
    assert_eq!(
        l,
        format!("{UTF8_NAME}\na.txt\ndeeper\nempty\nwith space.bin\n")
    );
    fx.run(&format!("timeout 60 curl -sS -o big.bin {anon}/big.bin"));
    assert_same_file(&fx.w("big.bin"), &fx.root.join("big.bin"));
    fx.run(&format!(
        "timeout 60 curl -sS -o sp.bin {anon}/sub/with%20space.bin && \
         timeout 60 curl -sS -o utf.txt {anon}/sub/Gr%C3%BC%C3%9Fe.txt"
    ));
    assert_same_file(&fx.w("sp.bin"), &fx.root.join("sub/with space.bin"));
    assert_same_file(&fx.w("utf.txt"), &fx.root.join("sub").join(UTF8_NAME));

    // Anonymous is read-only: the upload is refused with our 550.
    let (ok, _, err) = fx.try_run(&format!("timeout 60 curl -sS -v -T big.bin {anon}/x.bin"));
    assert!(!ok && err.contains("< 550 Permission denied."), "{err}");
    assert!(!fx.root.join("x.bin").exists());

    // A wrong password is refused.
    let (ok, _, err) = fx.try_run(&format!(
        "timeout 60 curl -sS -v ftp://alice:wrong@127.0.0.1:{}/",
        fx.port()
    ));
    assert!(!ok && err.contains("< 530 Login incorrect."), "{err}");

    // alice ($6$): upload creating directories, listing it, downloading it back.
    let mark = fx.srv.log().len();
    fx.run(&format!(
        "timeout 60 curl -sS -T big.bin --ftp-create-dirs {alice}/new/deep/"
    ));
    assert_same_file(&fx.home.join("new/deep/big.bin"), &fx.root.join("big.bin"));
    let cmds = server_commands(&fx.srv, mark, &["MKD new", "STOR big.bin"]);
    assert!(has_prefix(&cmds, "MKD new"), "{cmds:?}");
    assert!(has_prefix(&cmds, "STOR big.bin"), "{cmds:?}");
    let l = fx.run(&format!(
        "timeout 60 curl -sS --list-only {alice}/new/deep/"
    ));
    assert_eq!(l, "big.bin\n");

    // Download resume: -C - restarts from the local file's size (REST n, RETR).
    fs::write(fx.w("part.bin"), &pattern(300_000, 1)[..123_457]).unwrap();
    let mark = fx.srv.log().len();
    fx.run(&format!(
        "timeout 60 curl -sS -C - -o part.bin {alice}/big.bin"
    ));
    assert_same_file(&fx.w("part.bin"), &fx.home.join("big.bin"));
    let cmds = server_commands(&fx.srv, mark, &["REST 123457", "RETR big.bin"]);
    assert!(cmds.contains(&"REST 123457".to_string()), "{cmds:?}");

    // Upload resume: -C - -T asks SIZE and sends the rest with APPE.
    fs::write(fx.home.join("r.bin"), &pattern(300_000, 1)[..5_000]).unwrap();
    let mark = fx.srv.log().len();
    fx.run(&format!(
        "timeout 60 curl -sS -C - -T big.bin {alice}/r.bin"
    ));
    assert_same_file(&fx.home.join("r.bin"), &fx.root.join("big.bin"));
    let cmds = server_commands(&fx.srv, mark, &["SIZE r.bin", "APPE r.bin"]);
    assert!(cmds.contains(&"SIZE r.bin".to_string()), "{cmds:?}");
    assert!(cmds.contains(&"APPE r.bin".to_string()), "{cmds:?}");

    // -I: MDTM and SIZE become headers.
    let h = fx.run(&format!("timeout 60 curl -sS -I {alice}/big.bin"));
    assert!(
        h.contains("Last-Modified: Tue, 09 Jun 2020 12:34:56 GMT\r\n"),
        "{h}"
    );
    assert!(h.contains("Content-Length: 300000\r\n"), "{h}");

    // -X MLSD: a custom listing command.
    let l = fx.run(&format!("timeout 60 curl -sS -X MLSD {alice}/sub/deeper/"));
    let lines: Vec<&str> = l.lines().collect();
    assert_eq!(lines.len(), 2, "{l:?}");
    assert!(lines[0].starts_with("type=cdir;modify=20200609123456;perm=flcdmpe;unique="));
    assert!(lines[0].ends_with("; ."), "{l}");
    assert!(
        lines[1].starts_with("type=file;size=4097;modify=20200609123456;perm=adfrw;unique=")
            && lines[1].ends_with("; d.bin"),
        "{l}"
    );

    // carol ($5$) is read-only.
    let l = fx.run(&format!(
        "timeout 60 curl -sS --list-only {}/",
        fx.url(CAROL)
    ));
    assert!(l.contains("\nr.bin\n"), "{l}");
    let (ok, _, err) = fx.try_run(&format!(
        "timeout 60 curl -sS -v -T big.bin {}/c.bin",
        fx.url(CAROL)
    ));
    assert!(!ok && err.contains("< 550 Permission denied."), "{err}");
}

#[test]
fn curl_active_and_passive_modes() {
    need("curl");
    let fx = Fx::new("curlmodes");
    let bob = fx.url(BOB);
    let want = fx.root.join("big.bin");
    for (n, (flags, verb)) in [
        ("", "EPSV"),
        ("--disable-epsv", "PASV"),
        ("-P 127.0.0.1", "EPRT |1|127.0.0.1|"),
        ("-P 127.0.0.1 --disable-eprt", "PORT 127,0,0,1,"),
    ]
    .into_iter()
    .enumerate()
    {
        let mark = fx.srv.log().len();
        // Download, upload and a listing in each mode, as bob ($1$).
        fx.run(&format!(
            "timeout 60 curl -sS {flags} -o dl{n}.bin {bob}/big.bin && \
             timeout 60 curl -sS {flags} -T dl{n}.bin {bob}/up{n}.bin && \
             timeout 60 curl -sS {flags} {bob}/sub/ > list{n}"
        ));
        assert_same_file(&fx.w(&format!("dl{n}.bin")), &want);
        assert_same_file(&fx.home.path().join(format!("up{n}.bin")), &want);
        assert_eq!(
            fs::read_to_string(fx.w(&format!("list{n}"))).unwrap(),
            lf(&expected_listing(&fx.home.join("sub")))
        );
        let cmds = server_commands(&fx.srv, mark, &["LIST"]);
        assert_eq!(
            cmds.iter().filter(|c| c.starts_with(verb)).count(),
            3,
            "{flags}: {cmds:?}"
        );
        // The other ways of setting up a data connection were not used.
        for other in ["EPSV", "PASV", "EPRT", "PORT"] {
            if !verb.starts_with(other) {
                assert!(!has_prefix(&cmds, other), "{flags}: {cmds:?}");
            }
        }
    }
    // Anonymous in active mode too.
    fx.run(&format!(
        "timeout 60 curl -sS -P 127.0.0.1 -o anon.bin {}/big.bin",
        fx.anon_url()
    ));
    assert_same_file(&fx.w("anon.bin"), &want);
}

#[test]
fn curl_quote_commands_manage_directories() {
    need("curl");
    let fx = Fx::new("curlquote");
    let alice = fx.url(ALICE);
    // -Q before the transfer, -Q '-...' after it; paths are relative to where curl went (CWD
    // sub) after the transfer, so the post-commands use absolute paths.
    fx.run(&format!(
        "timeout 60 curl -sS -Q 'MKD qd' -Q 'MKD qd/inner' \
         -Q '-RNFR /hello.txt' -Q '-RNTO /qd/inner/h.txt' -Q '-DELE /sub/empty' \
         -o a.txt {alice}/sub/a.txt"
    ));
    assert_same_file(&fx.w("a.txt"), &fx.home.join("sub/a.txt"));
    assert_eq!(
        fs::read(fx.home.join("qd/inner/h.txt")).unwrap(),
        b"hello, world\n"
    );
    assert!(!fx.home.join("hello.txt").exists());
    assert!(!fx.home.join("sub/empty").exists());
    set_mtime(&fx.home.join("sub"), OLD); // for the listing below
    // A listing with quote commands only: remove what was made.
    fx.run(&format!(
        "timeout 60 curl -sS -Q 'DELE qd/inner/h.txt' -Q 'RMD qd/inner' -Q 'RMD qd' {alice}/ > l"
    ));
    assert!(!fx.home.join("qd").exists());
    assert_eq!(
        fs::read_to_string(fx.w("l")).unwrap(),
        lf(&expected_listing(fx.home.path()))
    );
    // A failing quote command fails curl with our reply.
    let (ok, _, err) = fx.try_run(&format!("timeout 60 curl -sS -Q 'RMD sub' {alice}/"));
    assert!(!ok && err.contains("550"), "{err}");
    assert!(fx.home.join("sub/a.txt").exists());
}

// ---------------------------------------------------------------------------------------
// lftp
// ---------------------------------------------------------------------------------------

#[test]
fn lftp_session_with_resume_and_directory_management() {
    need("lftp");
    let fx = Fx::new("lftp");
    let w = fx.work.path().display().to_string();
    fs::write(fx.w("up.bin"), pattern(200_000, 7)).unwrap();
    fs::write(fx.w("partial.bin"), &pattern(300_000, 1)[..100_000]).unwrap();
    fs::write(fx.home.join("pc.bin"), &pattern(200_000, 7)[..77_777]).unwrap();
    fs::create_dir(fx.w("m")).unwrap();

    // bob ($1$): with ftp:ssl-allow yes (its default) lftp probes AUTH TLS first; our refusal
    // must let it go on in plain text.
    let (out, trace) = fx.lftp(
        Some(BOB),
        &format!(
            "cls -1 sub\n\
             get big.bin -o {w}/got.bin\n\
             pget -n 4 big.bin -o {w}/pget.bin\n\
             mget -O {w}/m sub/*.txt\n\
             put {w}/up.bin -o put.bin\n\
             get -c big.bin -o {w}/partial.bin\n\
             put -c {w}/up.bin -o pc.bin\n\
             mkdir -p d1/d2/d3\n\
             mv put.bin d1/d2/moved.bin\n\
             cls -1 d1/d2\n\
             rm d1/d2/moved.bin\n\
             rmdir d1/d2/d3 d1/d2 d1\n\
             echo done"
        ),
    );
    assert_eq!(
        out,
        format!(
            "sub/{UTF8_NAME}\nsub/a.txt\nsub/deeper/\nsub/empty\nsub/with space.bin\nd1/d2/d3/\nd1/d2/moved.bin\ndone\n"
        )
    );
    let cmds = sent(&trace);
    let dialogue: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("---> ") || l.contains("<--- "))
        .collect();
    let auth = dialogue
        .iter()
        .position(|l| l.ends_with("---> AUTH TLS"))
        .expect("AUTH TLS probe");
    assert!(dialogue[auth + 1].contains("<--- 5"), "{dialogue:#?}");
    assert!(cmds.iter().any(|c| c == "USER bob"), "{cmds:?}");
    assert!(
        received(&trace)
            .iter()
            .any(|r| r == "230 Login successful.")
    );

    assert_same_file(&fx.w("got.bin"), &fx.home.join("big.bin"));
    // pget: four connections at once, each from its own REST offset.
    assert_same_file(&fx.w("pget.bin"), &fx.home.join("big.bin"));
    // mget: lftp expands the glob itself from a listing (no NLST pattern).
    assert_same_file(&fx.w("m/a.txt"), &fx.home.join("sub/a.txt"));
    let utf8 = format!("m/{UTF8_NAME}");
    assert_same_file(&fx.w(&utf8), &fx.home.join("sub").join(UTF8_NAME));
    assert_eq!(fs::read_dir(fx.w("m")).unwrap().count(), 2);
    assert_same_file(&fx.w("partial.bin"), &fx.home.join("big.bin"));
    assert_same_file(&fx.home.join("pc.bin"), &fx.w("up.bin"));
    assert!(!fx.home.join("d1").exists());
    // get -c: REST with the local size; put -c: SIZE, REST, STOR; after an upload, MFMT.
    assert!(cmds.contains(&"REST 100000".into()), "{cmds:?}");
    let size = cmds.iter().position(|c| c == "SIZE pc.bin").unwrap();
    let rest = cmds.iter().position(|c| c == "REST 77777").unwrap();
    let stor = cmds.iter().position(|c| c == "STOR pc.bin").unwrap();
    assert!(size < rest && rest < stor, "{cmds:?}");
    assert!(has_prefix(&cmds, "MFMT "), "{cmds:?}");
    assert!(!trace.contains("server bug"), "{}", commands(&trace));

    // Anonymous (lftp's default login): lists and downloads; uploads are refused.
    let (out, trace) = fx.lftp(
        None,
        &format!("cls -l\nget sub/with\\ space.bin -o {w}/sp.bin"),
    );
    assert!(sent(&trace).contains(&"USER anonymous".into()));
    let names: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(names, ["big.bin", "hello.txt", "sub/"], "{out}");
    assert!(out.lines().next().unwrap().contains(" 300000 "), "{out}");
    assert_same_file(&fx.w("sp.bin"), &fx.root.join("sub/with space.bin"));
    let (ok, _, err, _) = fx.try_lftp(None, &format!("put {w}/up.bin -o nope.bin"));
    assert!(!ok && err.contains("550 Permission denied."), "{err}");
    assert!(!fx.root.join("nope.bin").exists());
}

#[test]
fn lftp_active_epsv_and_pasv_modes() {
    need("lftp");
    let fx = Fx::new("lftpmodes");
    let w = fx.work.path().display().to_string();
    fs::write(fx.w("up.bin"), pattern(150_000, 9)).unwrap();
    for (n, (settings, verb)) in [
        (
            "set ftp:passive-mode off\nset ftp:port-ipv4 127.0.0.1",
            "PORT 127,0,0,1,",
        ),
        ("set ftp:prefer-epsv yes", "EPSV"),
        ("set ftp:prefer-epsv no", "PASV"),
    ]
    .into_iter()
    .enumerate()
    {
        let (out, trace) = fx.lftp(
            Some(ALICE),
            &format!(
                "{settings}\n\
                 get big.bin -o {w}/dl{n}.bin\n\
                 put {w}/up.bin -o up{n}.bin\n\
                 cls -1 sub/deeper"
            ),
        );
        assert_eq!(out, "sub/deeper/d.bin\n");
        assert_same_file(&fx.w(&format!("dl{n}.bin")), &fx.home.join("big.bin"));
        assert_same_file(&fx.home.path().join(format!("up{n}.bin")), &fx.w("up.bin"));
        let cmds = sent(&trace);
        assert_eq!(
            cmds.iter().filter(|c| c.starts_with(verb)).count(),
            3,
            "{cmds:?}"
        );
        assert!(!trace.contains("server bug"), "{}", commands(&trace));
    }
}

/// `mirror -R` a tree up, `mirror` it back down, compare both copies byte for byte, and check
/// that lftp's MFMT kept the modification times.
fn lftp_mirror_round_trip(use_mlsd: bool) {
    need("lftp");
    let fx = Fx::new(if use_mlsd {
        "mirror-mlsd"
    } else {
        "mirror-list"
    });
    let src = fx.w("src");
    make_tree(&src);
    fs::create_dir(src.join("emptydir")).unwrap();
    // A binary file with every byte value, and a name with spaces in a subdirectory.
    let all: Vec<u8> = (0..=255u8).cycle().take(65_536 + 17).collect();
    write_file(&src.join("sub/deeper/all bytes.bin"), &all, 0o644);
    let down = fx.w("down");
    let setting = if use_mlsd {
        "set ftp:use-mlsd on"
    } else {
        "set ftp:use-mlsd off"
    };
    let (_, trace) = fx.lftp(
        Some(ALICE),
        &format!(
            "{setting}\nmirror -R {} up/tree\nmirror up/tree {}",
            src.display(),
            down.display()
        ),
    );
    let cmds = sent(&trace);
    assert_eq!(has_prefix(&cmds, "MLSD"), use_mlsd, "{cmds:?}");
    assert_eq!(has_prefix(&cmds, "LIST"), !use_mlsd, "{cmds:?}");
    assert!(has_prefix(&cmds, "MFMT 20200609123456 "), "{cmds:?}");
    assert!(!trace.contains("server bug"), "{}", commands(&trace));

    let up = fx.home.join("up/tree");
    assert_same_tree(&src, &up);
    assert_same_tree(&src, &down);
    // Uploaded files keep their times (MFMT); downloaded ones get them from the listing.
    for f in [
        "big.bin",
        "sub/empty",
        "sub/with space.bin",
        "sub/deeper/all bytes.bin",
    ] {
        assert_eq!(mtime(&up.join(f)), OLD as i64, "server copy of {f}");
        assert_eq!(mtime(&down.join(f)), OLD as i64, "local copy of {f}");
    }
    let f = format!("sub/{UTF8_NAME}");
    assert_eq!(mtime(&up.join(&f)), OLD as i64);
    assert_eq!(mtime(&down.join(&f)), OLD as i64);
    // Nothing left behind by the atomic uploads.
    let (_, out, _) = sh(&format!(
        "find '{}' -name '.edgeftpd-upload*'",
        up.display()
    ));
    assert_eq!(out, "");
}

#[test]
fn lftp_mirror_both_ways_with_mlsd() {
    lftp_mirror_round_trip(true);
}

#[test]
fn lftp_mirror_both_ways_parsing_list() {
    lftp_mirror_round_trip(false);
}

/// lftp quirk: after ABOR it expects 426 then 226; a missing 426 makes it log
/// "server bug: 426 reply missed" and turn passive mode off.
#[test]
fn lftp_interrupted_get_then_next_command_without_server_bug() {
    need("lftp");
    let fx = Fx::new("lftpabor");
    // 64 MiB, sparse: far more than the socket buffers hold, so the transfer is in progress.
    let f = fs::File::create(fx.home.join("huge.bin")).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let w = fx.work.path().display().to_string();
    let (out, trace) = fx.lftp(
        Some(ALICE),
        &format!(
            "set net:limit-rate 200000\n\
             get huge.bin -o {w}/huge.part &\n\
             sleep 2\n\
             kill all\n\
             set net:limit-rate 0\n\
             cls -1 sub/deeper\n\
             get hello.txt -o {w}/hello.txt"
        ),
    );
    assert!(out.ends_with("sub/deeper/d.bin\n"), "{out}");
    assert_same_file(&fx.w("hello.txt"), &fx.home.join("hello.txt"));
    let lines: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("---> ") || l.contains("<--- "))
        .collect();
    let abor = lines
        .iter()
        .position(|l| l.ends_with("---> ABOR"))
        .unwrap_or_else(|| panic!("no ABOR:\n{}", lines.join("\n")));
    let after: Vec<&str> = lines[abor + 1..]
        .iter()
        .filter(|l| l.contains("<--- "))
        .take(2)
        .copied()
        .collect();
    assert!(
        after[0].ends_with("<--- 426 Connection closed; transfer aborted.")
            && after[1].ends_with("<--- 226 ABOR successful."),
        "{}",
        lines.join("\n")
    );
    assert!(!trace.contains("server bug"), "{}", lines.join("\n"));
    assert!(fx.srv.wait_log("RETR /huge.bin"));
    assert!(fx.srv.log().contains(" aborted\n"), "{}", fx.log_tail());
    // The partial download is a prefix of the file (zeros), shorter than it.
    let part = fs::read(fx.w("huge.part")).unwrap_or_default();
    assert!(part.len() < 64 << 20 && part.iter().all(|&b| b == 0));
}

// ---------------------------------------------------------------------------------------
// wget
// ---------------------------------------------------------------------------------------

#[test]
fn wget_downloads_resumes_and_recurses() {
    need("wget");
    let fx = Fx::new("wget");
    let carol = fx.url(CAROL);
    let want = fx.home.join("big.bin");

    let mark = fx.srv.log().len();
    fx.run(&format!("timeout 60 wget -q -O pasv.bin {carol}/big.bin"));
    assert_same_file(&fx.w("pasv.bin"), &want);
    assert!(has_prefix(
        &server_commands(&fx.srv, mark, &["PASV"]),
        "PASV"
    ));

    let mark = fx.srv.log().len();
    fx.run(&format!(
        "timeout 60 wget -q --no-passive-ftp -O port.bin {carol}/big.bin"
    ));
    assert_same_file(&fx.w("port.bin"), &want);
    let cmds = server_commands(&fx.srv, mark, &["PORT 127,0,0,1,", "RETR big.bin"]);
    assert!(has_prefix(&cmds, "PORT 127,0,0,1,"), "{cmds:?}");
    assert!(!has_prefix(&cmds, "PASV"), "{cmds:?}");

    // -c resumes from the local size.
    fs::create_dir(fx.w("c")).unwrap();
    fs::write(fx.w("c/big.bin"), &pattern(300_000, 1)[..99_999]).unwrap();
    let mark = fx.srv.log().len();
    fx.run(&format!("cd c && timeout 60 wget -q -c {carol}/big.bin"));
    assert_same_file(&fx.w("c/big.bin"), &want);
    assert!(server_commands(&fx.srv, mark, &["REST 99999"]).contains(&"REST 99999".into()));

    // -r parses our LIST output; anonymous.
    fx.run(&format!(
        "timeout 60 wget -q -r -np -nH -P out {}/sub/",
        fx.anon_url()
    ));
    assert_same_tree(&fx.root.join("sub"), &fx.w("out/sub"));
    // wget dates the files from the listing: day precision for old files, in local time.
    let m = mtime(&fx.w("out/sub/a.txt"));
    assert!((m - OLD as i64).abs() < 2 * 86_400, "{m}");
}

// ---------------------------------------------------------------------------------------
// Python ftplib
// ---------------------------------------------------------------------------------------

const FTPLIB_SCRIPT: &str = r#"
import ftplib, io, socket, sys
if not __debug__:
    raise SystemExit('the checks below are asserts: run without -O / PYTHONOPTIMIZE')
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
big = open(sys.argv[4], 'rb').read()
sub_listing = open(sys.argv[5], newline='').read()

def session(user, pw):
    f = ftplib.FTP(encoding='utf-8')
    f.connect('127.0.0.1', port, timeout=30)
    f.login(user, pw)
    return f

# Anonymous: listing and download; upload refused.
a = session('anonymous', 'guest@example.com')
assert a.nlst() == ['big.bin', 'hello.txt', 'sub'], a.nlst()
b = bytearray(); a.retrbinary('RETR big.bin', b.extend); assert bytes(b) == big
try:
    a.storbinary('STOR x', io.BytesIO(b'x')); raise SystemExit('anonymous upload accepted')
except ftplib.error_perm as e:
    assert str(e) == '550 Permission denied.', e
a.quit()

f = session(user, pw)
assert f.getwelcome() == '220 edgeftpd ready.', f.getwelcome()
assert f.sendcmd('SYST') == '215 UNIX Type: L8'
lines = []
f.retrlines('LIST sub', lines.append)
assert '\r\n'.join(lines) + '\r\n' == sub_listing, lines
assert f.nlst('sub/deeper') == ['sub/deeper/d.bin'], f.nlst('sub/deeper')
facts = dict(f.mlsd('sub'))
assert facts['.']['type'] == 'cdir', facts
assert facts['a.txt']['type'] == 'file' and facts['a.txt']['size'] == '11', facts
assert facts['deeper']['type'] == 'dir', facts
assert facts['Grüße.txt']['modify'] == '20200609123456', facts
assert f.size('big.bin') == len(big)

for pasv in (True, False):
    f.set_pasv(pasv)
    # Download, and download resume (REST + RETR).
    b = bytearray(); f.retrbinary('RETR big.bin', b.extend); assert bytes(b) == big
    b = bytearray(); f.retrbinary('RETR big.bin', b.extend, rest=123456); assert bytes(b) == big[123456:]
    # Upload, and upload resume (REST + STOR keeps what is before the offset).
    name = 'py-%s.bin' % ('pasv' if pasv else 'port')
    f.storbinary('STOR ' + name, io.BytesIO(big[:40000]))
    f.storbinary('STOR ' + name, io.BytesIO(big[40000:]), rest=40000)
    b = bytearray(); f.retrbinary('RETR ' + name, b.extend); assert bytes(b) == big

# TYPE A: storlines sends CRLF line ends, stored as LF; retrlines gets the lines back.
f.storlines('STOR text.txt', io.BytesIO(b'one\ntwo\r\nthree\n'))
assert open(sys.argv[6], 'rb').read() == b'one\ntwo\nthree\n'
got = []
f.retrlines('RETR text.txt', got.append)
assert got == ['one', 'two', 'three'], got

# EPSV over IPv4, by hand (ftplib only uses it on IPv6).
host, dport = ftplib.parse229(f.sendcmd('EPSV'), f.sock.getpeername())
d = socket.create_connection((host, dport), timeout=30)
f.voidcmd('TYPE I')
assert f.sendcmd('RETR hello.txt').startswith('150 ')
data = b''
while True:
    chunk = d.recv(65536)
    if not chunk: break
    data += chunk
d.close()
assert f.voidresp() == '226 Transfer complete.'
assert data == b'hello, world\n', data

# Directory management.
assert f.mkd('pyd') == '/pyd'
assert f.rename('py-pasv.bin', 'pyd/moved.bin') == '250 Rename successful.'
assert f.nlst('pyd') == ['pyd/moved.bin']
assert f.cwd('pyd') == '250 Directory successfully changed.'
assert f.pwd() == '/pyd'
assert f.delete('moved.bin') == '250 Delete operation successful.'
f.cwd('..')
assert f.rmd('pyd') == '250 Remove directory operation successful.'
try:
    f.rmd('sub'); raise SystemExit('rmd of a non-empty directory succeeded')
except ftplib.error_perm as e:
    assert str(e) == '550 Directory not empty.', e
f.quit()

# A name that is not UTF-8: latin-1 passes its bytes through.
g = ftplib.FTP(encoding='latin-1')
g.connect('127.0.0.1', port, timeout=30)
g.login(user, pw)
assert 'caf\xe9.txt' in g.nlst(), g.nlst()
b = bytearray(); g.retrbinary('RETR caf\xe9.txt', b.extend); assert bytes(b) == b'latin-1 name\n'
g.storbinary('STOR na\xefve.bin', io.BytesIO(b'raw bytes'))
g.quit()
print('PYOK')
"#;

#[test]
fn python_ftplib_session_in_both_modes() {
    need("python3");
    let fx = Fx::new("ftplib");
    fs::write(
        fx.home
            .path()
            .join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")),
        b"latin-1 name\n",
    )
    .unwrap();
    // (Not `ftplib.py`: the script would shadow the module.)
    fs::write(fx.w("session.py"), FTPLIB_SCRIPT).unwrap();
    fs::write(fx.w("sub.listing"), expected_listing(&fx.home.join("sub"))).unwrap();
    let mark = fx.srv.log().len();
    let out = fx.run(&format!(
        "timeout 60 python3 session.py {} {} {} '{}' sub.listing '{}'",
        fx.port(),
        BOB.0,
        BOB.1,
        fx.home.join("big.bin").display(),
        fx.home.join("text.txt").display()
    ));
    assert_eq!(out, "PYOK\n");
    let cmds = server_commands(
        &fx.srv,
        mark,
        &[
            "PASV",
            "PORT 127,0,0,1,",
            "EPSV",
            "REST 123456",
            "REST 40000",
            "STOR na",
        ],
    );
    for v in [
        "PASV",
        "PORT 127,0,0,1,",
        "EPSV",
        "REST 123456",
        "REST 40000",
    ] {
        assert!(has_prefix(&cmds, v), "{v}: {cmds:?}");
    }
    assert_same_file(&fx.home.join("py-port.bin"), &fx.home.join("big.bin"));
    assert_eq!(
        fs::read(
            fx.home
                .path()
                .join(std::ffi::OsStr::from_bytes(b"na\xefve.bin"))
        )
        .unwrap(),
        b"raw bytes"
    );
}

// ---------------------------------------------------------------------------------------
// tnftp
// ---------------------------------------------------------------------------------------

#[test]
fn tnftp_scripted_session() {
    need("tnftp");
    let fx = Fx::new("tnftp");
    fs::write(fx.w("up.bin"), pattern(120_000, 5)).unwrap();
    fs::write(fx.w("re.bin"), &pattern(300_000, 1)[..1_000]).unwrap();
    let (u, p) = ALICE;
    fs::write(
        fx.w("session"),
        format!(
            "user {u} {p}\n\
             binary\n\
             ls sub/deeper\n\
             get big.bin got.bin\n\
             reget big.bin re.bin\n\
             put up.bin tn.bin\n\
             mkdir tnd\n\
             rename tn.bin tnd/tn2.bin\n\
             mlsd tnd\n\
             quote SYST\n\
             prompt\n\
             mget *.txt\n\
             passive off\n\
             get hello.txt active.txt\n\
             put up.bin active.bin\n\
             passive on\n\
             epsv4 off\n\
             get sub/a.txt pasv.txt\n\
             delete tnd/tn2.bin\n\
             rmdir tnd\n\
             quit\n"
        ),
    )
    .unwrap();
    let mark = fx.srv.log().len();
    let out = fx.run(&format!(
        "timeout 60 tnftp -n -v -p 127.0.0.1 {} < session",
        fx.port()
    ));
    // tnftp exits 0 even when a command fails: check every reply it printed.
    for l in out.lines() {
        let code = l.get(..3).and_then(|c| c.parse::<u16>().ok());
        assert!(
            !matches!(code, Some(400..=599)),
            "error reply {l:?} in:\n{out}"
        );
    }
    assert!(out.contains("215 UNIX Type: L8\n"), "{out}");
    let d = fx.home.join("sub/deeper/d.bin");
    assert!(
        out.contains(&format!(
            "-rw-r--r-- {:>4} {:<8} {:<8} {:>12} Jun  9  2020 d.bin\n",
            1,
            fs::metadata(&d).unwrap().uid(),
            fs::metadata(&d).unwrap().gid(),
            4_097
        )),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("type=file;size=120000;") && l.ends_with("; tn2.bin")),
        "{out}"
    );
    assert!(
        out.contains("350 Restart position accepted (1000).\n"),
        "{out}"
    );
    assert_same_file(&fx.w("got.bin"), &fx.home.join("big.bin"));
    assert_same_file(&fx.w("re.bin"), &fx.home.join("big.bin"));
    // mget sends `NLST *.txt` and fetches what the pattern matched.
    assert_same_file(&fx.w("hello.txt"), &fx.home.join("hello.txt"));
    assert_same_file(&fx.w("active.txt"), &fx.home.join("hello.txt"));
    assert_same_file(&fx.w("pasv.txt"), &fx.home.join("sub/a.txt"));
    assert_same_file(&fx.home.join("active.bin"), &fx.w("up.bin"));
    assert!(!fx.home.join("tnd").exists());
    let cmds = server_commands(
        &fx.srv,
        mark,
        &[
            "EPSV",
            "EPRT |1|127.0.0.1|",
            "PASV",
            "REST 1000",
            "MLSD tnd",
            "RMD tnd",
        ],
    );
    for v in [
        "EPSV",
        "EPRT |1|127.0.0.1|",
        "PASV",
        "REST 1000",
        "MLSD tnd",
    ] {
        assert!(has_prefix(&cmds, v), "{v}: {cmds:?}");
    }

    // One-shot forms: -o download (anonymous), -u upload (users-file account).
    fx.run(&format!(
        "timeout 60 tnftp -o oneshot.bin {}/big.bin >/dev/null && \
         timeout 60 tnftp -u {}/sub/ up.bin >/dev/null",
        fx.anon_url(),
        fx.url(BOB)
    ));
    assert_same_file(&fx.w("oneshot.bin"), &fx.root.join("big.bin"));
    assert_same_file(&fx.home.join("sub/up.bin"), &fx.w("up.bin"));
}

// ---------------------------------------------------------------------------------------
// busybox ftpget / ftpput
// ---------------------------------------------------------------------------------------

#[test]
fn busybox_ftpget_and_ftpput() {
    need("busybox");
    let fx = Fx::new("busybox");
    let port = fx.port();
    let (u, p) = CAROL; // read-only, $5$
    let (au, ap) = ALICE;
    fs::write(fx.w("up.bin"), pattern(90_000, 11)).unwrap();
    fs::write(fx.w("resume.bin"), &pattern(300_000, 1)[..31_337]).unwrap();
    let mark = fx.srv.log().len();
    fx.run(&format!(
        "B='timeout 60 busybox'; \
         $B ftpget -u {u} -p {p} -P {port} 127.0.0.1 got.bin big.bin && \
         $B ftpget -c -u {u} -p {p} -P {port} 127.0.0.1 resume.bin big.bin && \
         $B ftpget -u anonymous -p x -P {port} 127.0.0.1 sp.bin 'sub/with space.bin' && \
         $B ftpput -u {au} -p {ap} -P {port} 127.0.0.1 sub/put.bin up.bin"
    ));
    assert_same_file(&fx.w("got.bin"), &fx.home.join("big.bin"));
    assert_same_file(&fx.w("resume.bin"), &fx.home.join("big.bin"));
    assert_same_file(&fx.w("sp.bin"), &fx.root.join("sub/with space.bin"));
    assert_same_file(&fx.home.join("sub/put.bin"), &fx.w("up.bin"));
    let cmds = server_commands(&fx.srv, mark, &["REST 31337", "STOR sub/put.bin"]);
    assert!(cmds.contains(&"REST 31337".into()), "{cmds:?}");
    assert_eq!(cmds.iter().filter(|c| *c == "EPSV").count(), 4, "{cmds:?}");
    // The read-only account cannot upload.
    let (ok, _, err) = fx.try_run(&format!(
        "timeout 60 busybox ftpput -u {u} -p {p} -P {port} 127.0.0.1 no.bin up.bin"
    ));
    assert!(!ok && err.contains("550 Permission denied."), "{err}");
    assert!(!fx.home.join("no.bin").exists());
}

// ---------------------------------------------------------------------------------------
// ncftp
// ---------------------------------------------------------------------------------------

#[test]
fn ncftp_lists_gets_and_puts() {
    need("ncftpget");
    let fx = Fx::new("ncftp");
    let port = fx.port();
    let (u, p) = ALICE;
    fs::write(fx.w("up.bin"), pattern(50_000, 13)).unwrap();
    set_mtime(&fx.w("up.bin"), OLD);
    fs::create_dir(fx.w("pasv")).unwrap();
    fs::create_dir(fx.w("port")).unwrap();
    let mark = fx.srv.log().len();
    let out = fx.run(&format!(
        "timeout 60 ncftpls -u {u} -p {p} -P {port} -l ftp://127.0.0.1/sub/deeper/ && \
         timeout 60 ncftpget -V -F -u {u} -p {p} -P {port} 127.0.0.1 pasv /big.bin && \
         timeout 60 ncftpget -V -E -u {u} -p {p} -P {port} 127.0.0.1 port '/sub/with space.bin' && \
         timeout 60 ncftpput -V -m -u {u} -p {p} -P {port} 127.0.0.1 /nc/x/y up.bin"
    ));
    let d = fx.home.join("sub/deeper/d.bin");
    assert!(
        out.contains(&format!(
            "-rw-r--r-- {:>4} {:<8} {:<8} {:>12} Jun  9  2020 d.bin",
            1,
            fs::metadata(&d).unwrap().uid(),
            fs::metadata(&d).unwrap().gid(),
            4_097
        )),
        "{out}"
    );
    assert_same_file(&fx.w("pasv/big.bin"), &fx.home.join("big.bin"));
    assert_same_file(
        &fx.w("port/with space.bin"),
        &fx.home.join("sub/with space.bin"),
    );
    assert_same_file(&fx.home.join("nc/x/y/up.bin"), &fx.w("up.bin"));
    // ncftpput keeps the modification time, here with MFMT.
    assert_eq!(mtime(&fx.home.join("nc/x/y/up.bin")), OLD as i64);
    let cmds = server_commands(
        &fx.srv,
        mark,
        &[
            "PASV",
            "PORT 127,0,0,1,",
            "MKD ",
            "STOR up.bin",
            "MFMT 20200609123456 up.bin",
        ],
    );
    for v in [
        "PASV",
        "PORT 127,0,0,1,",
        "MKD ",
        "MFMT 20200609123456 up.bin",
    ] {
        assert!(has_prefix(&cmds, v), "{v}: {cmds:?}");
    }
    // Anonymous listing.
    let out = fx.run(&format!("timeout 60 ncftpls -P {port} -l ftp://127.0.0.1/"));
    let names: Vec<&str> = out.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(names, ["big.bin", "hello.txt", "sub"], "{out}");
}
