//! Listings byte for byte: LIST (`ls -l`), NLST, MLSD/MLST facts, STAT of a path, dates,
//! names that are not UTF-8, big directories streamed whole (sorted while their names fit the
//! limit, in directory order past it), ABOR and slow readers during a listing, and what a
//! stalled reader of a huge directory costs.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::support::*;

const OLD: &str = "2020-06-09 12:34:56 UTC";

fn touch(p: &Path, when: &str) {
    let (ok, _, err) = sh(&format!("touch -h -d '{when}' '{}'", p.display()));
    assert!(ok, "touch: {err}");
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The `ls -l` columns before the date, from the file's real metadata.
fn cols(p: &Path, mode: &str) -> String {
    let m = std::fs::symlink_metadata(p).unwrap();
    format!(
        "{mode} {:>4} {:<8} {:<8} {:>12}",
        m.nlink(),
        m.uid(),
        m.gid(),
        m.len()
    )
}

/// `Mon dd HH:MM` for a recent time, by date(1), in UTC as the server shows times.
fn recent_date(epoch: i64) -> String {
    let (ok, out, _) = sh(&format!("date -u -d @{epoch} '+%b %e %H:%M'"));
    assert!(ok);
    out.trim_end_matches('\n').to_string()
}

/// A tree with known modes and times:
/// old.txt (0644, 2020), new.bin (0600, two days ago), sub/ (0755, 2020) with inner.txt,
/// link -> sub/inner.txt (2020).
fn tree() -> (TempDir, i64) {
    let root = TempDir::new("listing");
    root.write("old.txt", b"12345");
    root.write("new.bin", &[7u8; 1000]);
    root.write("sub/inner.txt", b"inner");
    std::os::unix::fs::symlink("sub/inner.txt", root.join("link")).unwrap();
    chmod(&root.join("old.txt"), 0o644);
    chmod(&root.join("new.bin"), 0o600);
    chmod(&root.join("sub"), 0o755);
    chmod(&root.join("sub/inner.txt"), 0o444);
    let recent = list_now() - 2 * 86400 - 3600;
    touch(&root.join("old.txt"), OLD);
    touch(&root.join("new.bin"), &format!("@{recent}"));
    touch(&root.join("sub/inner.txt"), OLD);
    touch(&root.join("sub"), OLD);
    touch(&root.join("link"), OLD);
    touch(root.path(), OLD);
    (root, recent)
}

fn list_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn list_is_ls_l_byte_for_byte() {
    let (root, recent) = tree();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let l = c.list("LIST");
    let expected = format!(
        "{} Jun  9  2020 link -> sub/inner.txt\r\n\
         {} {} new.bin\r\n\
         {} Jun  9  2020 old.txt\r\n\
         {} Jun  9  2020 sub\r\n",
        cols(&root.join("link"), "lrwxrwxrwx"),
        cols(&root.join("new.bin"), "-rw-------"),
        recent_date(recent),
        cols(&root.join("old.txt"), "-rw-r--r--"),
        cols(&root.join("sub"), "drwxr-xr-x"),
    );
    assert_eq!(l, expected);
    // The size column of the link is the length of its target, as ls shows it.
    assert!(l.starts_with("lrwxrwxrwx "));
    assert!(cols(&root.join("link"), "l").ends_with(" 13"));
}

#[test]
fn list_options_are_ignored() {
    let (root, _) = tree();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let plain = c.list("LIST");
    for opt in ["LIST -a", "LIST -l", "LIST -la", "LIST -aL", "list -a -l"] {
        assert_eq!(c.list(opt), plain, "{opt}");
    }
    let sub = c.list("LIST sub");
    assert_eq!(
        sub,
        format!(
            "{} Jun  9  2020 inner.txt\r\n",
            cols(&root.join("sub/inner.txt"), "-r--r--r--")
        )
    );
    assert_eq!(c.list("LIST -la sub"), sub);
    assert_eq!(c.list("LIST /sub/"), sub);
}

#[test]
fn list_of_a_file_lists_that_file() {
    let (root, _) = tree();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let old = cols(&root.join("old.txt"), "-rw-r--r--");
    assert_eq!(
        c.list("LIST old.txt"),
        format!("{old} Jun  9  2020 old.txt\r\n")
    );
    assert_eq!(
        c.list("LIST -l old.txt"),
        format!("{old} Jun  9  2020 old.txt\r\n")
    );
    assert_eq!(
        c.list("LIST sub/inner.txt"),
        format!(
            "{} Jun  9  2020 sub/inner.txt\r\n",
            cols(&root.join("sub/inner.txt"), "-r--r--r--")
        )
    );
    // Missing: 550 before any data connection is used.
    let (_, first, _) = c.get("LIST nothing");
    assert_eq!(first, "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn list_dates_switch_to_the_year_after_six_months() {
    let root = TempDir::new("dates");
    let now = list_now();
    let cases = [
        ("a-hour-ago", now - 3600, true),
        ("five-months", now - 150 * 86400, true),
        ("seven-months", now - 210 * 86400, false),
        ("years-ago", 946_771_200, false), // 2000-01-02
        ("next-year", now + 400 * 86400, false),
    ];
    for (name, t, _) in cases {
        chmod(&root.write(name, b"x"), 0o644);
        touch(&root.join(name), &format!("@{t}"));
    }
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let l = c.list("LIST");
    for (name, t, recent) in cases {
        let date = if recent {
            recent_date(t)
        } else {
            let (_, out, _) = sh(&format!("date -u -d @{t} '+%b %e  %Y'"));
            out.trim_end().to_string()
        };
        let line = format!("{} {date} {name}\r\n", cols(&root.join(name), "-rw-r--r--"));
        assert!(l.contains(&line), "{name}: want {line:?} in\n{l}");
    }
}

#[test]
fn nlst_is_names_only() {
    let (root, _) = tree();
    // A stale temporary upload file is never listed.
    root.write(".edgeftpd-upload.1.2", b"partial");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.list("NLST"), "link\r\nnew.bin\r\nold.txt\r\nsub\r\n");
    assert_eq!(c.list("NLST -l"), "link\r\nnew.bin\r\nold.txt\r\nsub\r\n");
    assert_eq!(c.list("NLST sub"), "sub/inner.txt\r\n");
    assert_eq!(c.list("NLST old.txt"), "old.txt\r\n");
    assert!(!c.list("LIST").contains("edgeftpd-upload"));
}

#[test]
fn mlsd_and_mlst_facts() {
    let (root, _) = tree();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    // `unique` and the UNIX facts after it (of a symlink's target, as MLSD describes it).
    let uniq = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        format!(
            "{:x}U{:x};UNIX.mode={:04o};UNIX.uid={};UNIX.gid={}",
            m.dev(),
            m.ino(),
            m.mode() & 0o7777,
            m.uid(),
            m.gid()
        )
    };
    let new_mod = {
        let t = std::fs::metadata(root.join("new.bin")).unwrap().mtime();
        let (_, out, _) = sh(&format!("date -u -d @{t} +%Y%m%d%H%M%S"));
        out.trim().to_string()
    };
    let expected = format!(
        "type=cdir;modify=20200609123456;perm=el;unique={}; .\r\n\
         type=file;size=5;modify=20200609123456;perm=r;unique={}; link\r\n\
         type=file;size=1000;modify={new_mod};perm=r;unique={}; new.bin\r\n\
         type=file;size=5;modify=20200609123456;perm=r;unique={}; old.txt\r\n\
         type=dir;modify=20200609123456;perm=el;unique={}; sub\r\n",
        uniq(root.path()),
        uniq(&root.join("sub/inner.txt")),
        uniq(&root.join("new.bin")),
        uniq(&root.join("old.txt")),
        uniq(&root.join("sub")),
    );
    assert_eq!(c.list("MLSD"), expected);
    assert_eq!(c.list("MLSD /"), expected);
    // MLSD of a file is an error; MLST describes one object on the control connection.
    let (_, first, _) = c.get("MLSD old.txt");
    assert_eq!(first, "501 MLSD needs a directory; use MLST.\r\n");
    assert_eq!(
        c.cmd("MLST sub/inner.txt"),
        format!(
            "250-Listing\r\n type=file;size=5;modify=20200609123456;perm=r;unique={}; \
             /sub/inner.txt\r\n250 End\r\n",
            uniq(&root.join("sub/inner.txt"))
        )
    );
    // FEAT advertises exactly these facts.
    assert!(c.cmd("FEAT").contains(
        "\r\n MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;UNIX.uid*;UNIX.gid*;\r\n"
    ));
}

#[test]
fn mlsd_perm_fact_follows_write_access() {
    let (root, _) = tree();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    let l = c.list("MLSD");
    assert!(
        l.starts_with("type=cdir;modify=20200609123456;perm=flcdmpe;"),
        "{l}"
    );
    assert!(
        l.contains(";perm=adfrw;") && l.contains("type=dir;modify=20200609123456;perm=flcdmpe;")
    );
}

#[test]
fn stat_with_a_path_lists_over_the_control_connection() {
    let (root, _) = tree();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let old = cols(&root.join("old.txt"), "-rw-r--r--");
    assert_eq!(
        c.cmd("STAT old.txt"),
        format!("213-Status follows:\r\n {old} Jun  9  2020 old.txt\r\n213 End of status\r\n")
    );
    let inner = cols(&root.join("sub/inner.txt"), "-r--r--r--");
    let dir =
        format!("212-Status follows:\r\n {inner} Jun  9  2020 inner.txt\r\n212 End of status\r\n");
    assert_eq!(c.cmd("STAT sub"), dir);
    assert_eq!(c.cmd("STAT -la sub"), dir);
    assert_eq!(c.cmd("STAT missing"), "550 No such file or directory.\r\n");
    // The directory form matches LIST line for line (each with a leading space).
    let list = c.list("LIST");
    let stat = c.cmd("STAT /");
    let body: String = list.lines().map(|l| format!(" {l}\r\n")).collect();
    assert_eq!(
        stat,
        format!("212-Status follows:\r\n{body}212 End of status\r\n")
    );
}

#[test]
fn stat_listing_cannot_end_the_reply_early() {
    // A name that looks like the closing line of a multi-line reply.
    let root = TempDir::new("statname");
    root.write("212 End of status", b"x");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let r = c.cmd("STAT /");
    assert!(
        r.ends_with(" 212 End of status\r\n212 End of status\r\n"),
        "{r}"
    );
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn names_that_are_not_utf8_are_bytes_end_to_end() {
    let root = TempDir::new("latin1");
    let name: &[u8] = b"caf\xe9 \xff\xfe.txt";
    std::fs::write(root.path().join(OsStr::from_bytes(name)), b"latin-1 bytes").unwrap();
    std::fs::create_dir(root.path().join(OsStr::from_bytes(b"r\xe9p"))).unwrap();
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    // NLST gives the exact bytes (IAC in a data connection is not doubled).
    let (data, _, last) = c.get("NLST");
    assert!(last.starts_with("226"));
    assert_eq!(data, b"caf\xe9 \xff\xfe.txt\r\nr\xe9p\r\n");
    let (data, _, _) = c.get("LIST");
    assert!(
        data.windows(name.len() + 2)
            .any(|w| w == [name, b"\r\n"].concat().as_slice()),
        "{}",
        String::from_utf8_lossy(&data)
    );
    // On the control connection 0xFF must be sent as IAC IAC.
    let (data, first, last) = c.get_bytes(b"RETR caf\xe9 \xff\xff\xfe.txt");
    assert!(first.starts_with("150 "), "{first}");
    assert!(last.starts_with("226 "), "{last}");
    assert_eq!(data, b"latin-1 bytes");
    assert_eq!(c.cmd_bytes(b"SIZE caf\xe9 \xff\xff\xfe.txt"), "213 13\r\n");
    assert_eq!(
        c.cmd_bytes(b"CWD r\xe9p"),
        "250 Directory successfully changed.\r\n"
    );
    c.send_raw(b"PWD\r\n");
    assert_eq!(
        c.reply_bytes(),
        b"257 \"/r\xe9p\" is the current directory.\r\n"
    );
    // Upload and mkdir with such names create exactly those bytes.
    let mut d = c.epsv();
    c.send_raw(b"STOR n\xe4me\r\n");
    assert!(c.reply().starts_with("150 "));
    std::io::Write::write_all(&mut d, b"up").unwrap();
    drop(d);
    assert!(c.reply().starts_with("226 "));
    assert_eq!(
        std::fs::read(root.path().join(OsStr::from_bytes(b"r\xe9p/n\xe4me"))).unwrap(),
        b"up"
    );
    c.send_raw(b"MKD d\xf6r\r\n");
    assert_eq!(c.reply_bytes(), b"257 \"/r\xe9p/d\xf6r\" created.\r\n");
    assert!(
        root.path()
            .join(OsStr::from_bytes(b"r\xe9p/d\xf6r"))
            .is_dir()
    );
}

#[test]
fn utf8_names_work_with_opts_utf8_on() {
    let root = TempDir::new("utf8");
    root.write("grüße.txt", "grüße".as_bytes());
    let srv = Server::anon_rw(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert!(c.cmd("FEAT").contains("\r\n UTF8\r\n"));
    assert_eq!(c.retr("grüße.txt"), "grüße".as_bytes());
    assert_eq!(c.cmd("MKD 日本語"), "257 \"/日本語\" created.\r\n");
    assert_eq!(
        c.cmd("CWD 日本語"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(
        c.cmd("PWD"),
        "257 \"/日本語\" is the current directory.\r\n"
    );
    let (first, last) = c.put("STOR ファイル.txt", "内容".as_bytes());
    assert!(first.starts_with("150 ") && last.starts_with("226 "));
    assert_eq!(c.list("NLST"), "ファイル.txt\r\n");
    assert_eq!(
        std::fs::read(root.join("日本語/ファイル.txt")).unwrap(),
        "内容".as_bytes()
    );
    assert!(c.list("LIST /").contains(" grüße.txt\r\n"));
    assert_eq!(c.cmd("SIZE /grüße.txt"), "213 7\r\n");
}

// wget sends `LIST -a`, ncftp `LIST -a ./dir`: options then a path, which may hold spaces.
#[test]
fn list_paths_with_spaces_after_options() {
    let root = TempDir::new("spaces");
    root.write("my dir/a file.txt", b"x");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.list("NLST my dir"), "my dir/a file.txt\r\n");
    let plain = c.list("LIST my dir");
    assert!(plain.ends_with(" a file.txt\r\n"), "{plain}");
    assert_eq!(c.list("LIST -a my dir"), plain);
    assert_eq!(c.list("LIST -la ./my dir"), plain);
    assert_eq!(c.retr("my dir/a file.txt"), b"x");
    assert_eq!(
        c.cmd("SIZE  my dir/a file.txt"),
        "550 No such file or directory.\r\n"
    );
}

/// A directory big enough to be split between helper threads (more than twice
/// `LIST_PARALLEL_MIN` entries) whose names still fit `LIST_SORT_BYTES` (4,502 names of 16
/// bytes on average: 112 KiB with their spans): every entry once, in bytewise order, each
/// line describing its own file, for LIST, MLSD, NLST and STAT alike.
#[test]
fn big_directory_lists_every_entry_once_in_order() {
    let root = TempDir::new("bigdir");
    let n = 4500;
    let mut names = Vec::new();
    for i in 0..n {
        // Names sharing long prefixes, and some past 16 bytes, to exercise the sort keys.
        let name = match i % 3 {
            0 => format!("IMG_{i:05}.JPG"),
            1 => format!("entry-with-long-prefix-{:05}", n - i),
            _ => format!("z{}", i * 7919 % 10007),
        };
        root.write(&name, &vec![b'x'; i % 97]);
        names.push(name);
    }
    std::fs::create_dir(root.join("a-directory")).unwrap();
    std::os::unix::fs::symlink("IMG_00003.JPG", root.join("a-link")).unwrap();
    names.push("a-directory".into());
    names.push("a-link".into());
    names.sort();
    let size = |name: &str| std::fs::symlink_metadata(root.join(name)).unwrap().len();

    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let list = c.list("LIST");
    let lines: Vec<&str> = list.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), names.len());
    for (line, name) in lines.iter().zip(&names) {
        let shown = line.split(' ').filter(|f| !f.is_empty()).nth(8).unwrap();
        assert_eq!(shown, name, "{line}");
        let cols: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
        assert_eq!(cols[4], size(name).to_string(), "{line}");
    }

    let mlsd = c.list("MLSD");
    let lines: Vec<&str> = mlsd.split_terminator("\r\n").skip(1).collect();
    assert_eq!(lines.len(), names.len());
    for (line, name) in lines.iter().zip(&names) {
        let (facts, shown) = line.split_once("; ").unwrap();
        assert_eq!(shown, name);
        if name == "a-link" {
            // Described by its target.
            assert!(facts.starts_with("type=file;size=3;"), "{line}");
        } else if name != "a-directory" {
            assert!(
                facts.starts_with(&format!("type=file;size={};", size(name))),
                "{line}"
            );
        }
    }

    let nlst = c.list("NLST");
    assert_eq!(
        nlst,
        names.iter().map(|n| format!("{n}\r\n")).collect::<String>()
    );

    // STAT lists over the control connection: the same lines as LIST, indented or not.
    let stat = c.cmd("STAT /");
    assert!(stat.starts_with("212-") && stat.ends_with("212 End of status\r\n"));
    assert_eq!(stat.split_terminator("\r\n").count(), names.len() + 2);
    assert_eq!(c.list("LIST"), list, "a second listing is the same");
}

/// A big directory (names 40 bytes long: about 1 MB of LIST).
fn big_dir(n: usize) -> (TempDir, Vec<String>) {
    let root = TempDir::new("bigslow");
    let names: Vec<String> = (0..n)
        .map(|i| format!("a-rather-long-file-name-number-{i:08}"))
        .collect();
    for (i, name) in names.iter().enumerate() {
        root.write(name, &vec![b'y'; i % 5]);
    }
    (root, names)
}

/// `n` empty files with 198-byte names (sorted as created): listings of megabytes.
fn long_names_dir(tag: &str, n: usize) -> (TempDir, Vec<String>) {
    let root = TempDir::new(tag);
    let pad = "n".repeat(190);
    let names: Vec<String> = (0..n).map(|i| format!("{pad}{i:08}")).collect();
    for name in &names {
        root.write(name, b"");
    }
    (root, names)
}

/// A passive data connection with a small receive buffer: the server's sends block soon.
fn epsv_small_window(c: &mut Client) -> std::net::TcpStream {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let port = c.epsv_port();
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    sockopt::set_socket_recv_buffer_size(&fd, 4096).unwrap();
    let to = std::net::SocketAddr::new(c.stream().peer_addr().unwrap().ip(), port);
    rustix::net::connect(&fd, &to).unwrap();
    let s = std::net::TcpStream::from(fd);
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s
}

/// A client that reads the listing slowly holds the server back (helpers may only work a
/// little ahead of what was sent): the listing still arrives whole and in order.
#[test]
fn big_listing_to_a_slow_reader_is_whole() {
    let (root, names) = big_dir(12000);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let mut d = epsv_small_window(&mut c);
    assert!(c.cmd("LIST").starts_with("150 "));
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let k = d.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        data.extend_from_slice(&buf[..k]);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(c.reply(), "226 Directory send OK.\r\n");
    let text = String::from_utf8(data).unwrap();
    let mut shown: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    // 12,000 names of 39 bytes are past LIST_SORT_BYTES: listed in directory order.
    shown.sort();
    assert_eq!(shown, names);
}

/// Past `LIST_SORT_BYTES` of names (here 9,000 of 30 bytes and more) a directory is listed in
/// directory order, a bounded batch at a time: every entry exactly once for LIST, MLSD, NLST
/// and STAT, dotfiles only with -a (and always for MLSD), a pattern's matches only, the same
/// order twice, and a pattern that matches nothing still gets 550.
#[test]
fn huge_directory_lists_every_entry_once_in_directory_order() {
    let root = TempDir::new("hugedir");
    let mut names: Vec<String> = (0..9000)
        .map(|i| format!("camera-2026-12-04-{i:06}.jpg"))
        .collect();
    for name in &names {
        root.write(name, b"");
    }
    for i in 0..20 {
        root.write(&format!(".hidden-{i}"), b"");
    }
    names.sort();
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let sorted = |text: &str, skip: usize, name_of: &dyn Fn(&str) -> String| {
        let mut v: Vec<String> = text
            .split_terminator("\r\n")
            .skip(skip)
            .map(name_of)
            .collect();
        v.sort();
        v
    };
    let last_field = |l: &str| l.rsplit(' ').next().unwrap().to_string();
    let list = c.list("LIST");
    assert_eq!(sorted(&list, 0, &last_field), names);
    assert_eq!(c.list("LIST"), list, "the same order twice");
    let all = c.list("LIST -a");
    assert_eq!(all.split_terminator("\r\n").count(), names.len() + 20);
    let mlsd = c.list("MLSD");
    let mlsd_names = sorted(&mlsd, 1, &|l: &str| {
        l.split_once("; ").unwrap().1.to_string()
    });
    assert_eq!(mlsd_names.len(), names.len() + 20);
    assert_eq!(mlsd_names[20..], names[..]);
    let nlst = c.list("NLST");
    assert_eq!(sorted(&nlst, 0, &|l: &str| l.to_string()), names);
    let some = c.list("NLST camera-*-0001??.jpg");
    assert_eq!(some.split_terminator("\r\n").count(), 100);
    let stat = c.cmd("STAT /");
    assert_eq!(stat.split_terminator("\r\n").count(), names.len() + 2);
    let (_, first, _) = c.get("NLST nothing-*.png");
    assert!(first.starts_with("550 "), "{first}");
}

/// RSS of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Four clients that ask for the listing of a folder of 30,000 long names and never read it
/// (STAT on the control connection, LIST, MLSD and NLST on data connections) grew the server
/// by 37 MiB: each held all the names and 16 pieces of lines. A listing now holds a bounded
/// batch of names and a few pieces: the growth stays well under 8 MiB (about 1 MiB measured).
#[test]
fn stalled_readers_of_a_huge_listing_hold_little_memory() {
    let (root, _) = long_names_dir("stalled", 30000);
    let srv = Server::anon(root.path());
    // Each listing once in full first: the baseline then includes what a first listing
    // leaves (and, under qemu-user, the translated code).
    let mut warm = srv.anon_client();
    assert!(warm.cmd("STAT /").ends_with("212 End of status\r\n"));
    for cmd in ["LIST", "MLSD", "NLST"] {
        assert!(warm.list(cmd).len() > 30000 * 190);
    }
    let before = rss_kib(srv.pid());
    let mut held = Vec::new();
    for cmd in ["STAT /", "LIST", "MLSD", "NLST"] {
        let mut c = srv.anon_client();
        if cmd == "STAT /" {
            c.send_raw(b"STAT /\r\n");
        } else {
            held.push(epsv_small_window(&mut c));
            c.send_raw(format!("{cmd}\r\n").as_bytes());
        }
        held.push(c.stream().try_clone().unwrap());
        std::mem::forget(c);
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    eprintln!("4 stalled readers: RSS grew by {grown} KiB");
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB");
}

/// ABOR while a big listing is in progress (held back by a client with a small window that
/// stopped reading, and sent at once): 426 and 226, the helpers stop, the session goes on.
#[test]
fn abor_during_a_big_listing() {
    // 20,000 names of 198 bytes: a 4.5 MB listing, more than socket buffers hold.
    let (root, _) = long_names_dir("bigabor", 20000);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let mut d = epsv_small_window(&mut c);
    assert!(c.cmd("LIST").starts_with("150 "));
    c.send_raw(b"ABOR\r\n");
    assert_eq!(c.reply(), "426 Connection closed; transfer aborted.\r\n");
    assert_eq!(c.reply(), "226 ABOR successful.\r\n");
    let (rest, closed) = read_until_closed(&mut d);
    assert!(closed);
    assert!(rest.len() < 2_000_000, "the listing was cut short");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.list("NLST").lines().count(), 20000);
}

/// Entries deleted while a big listing is being made are left out or listed whole, never
/// half: every line is well-formed, in order, once, and every entry that stayed is there.
#[test]
fn entries_deleted_during_a_big_listing() {
    // 30,000 names of 198 bytes: a listing of 7 MB, more than socket buffers and the pieces
    // made ahead hold, so most of it is made while the entries are being deleted.
    let (root, names) = long_names_dir("bigdel", 30000);
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let mut d = epsv_small_window(&mut c);
    assert!(c.cmd("MLSD").starts_with("150 "));
    for name in names.iter().step_by(2) {
        std::fs::remove_file(root.join(name)).unwrap();
    }
    let mut data = Vec::new();
    d.read_to_end(&mut data).unwrap();
    assert_eq!(c.reply(), "226 Directory send OK.\r\n");
    let text = String::from_utf8(data).unwrap();
    let mut listed = Vec::new();
    for line in text.lines().skip(1) {
        let (facts, name) = line.split_once("; ").expect("a whole MLSD line");
        assert!(
            facts.starts_with("type=file;size=0;") && facts.contains(";unique="),
            "{line}"
        );
        listed.push(name);
    }
    // 30,000 names of 198 bytes are past LIST_SORT_BYTES: listed in directory order.
    listed.sort();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "each once");
    let kept = names.iter().skip(1).step_by(2);
    assert!(
        kept.clone()
            .all(|k| listed.binary_search(&k.as_str()).is_ok())
    );
    eprintln!(
        "{} of {} deleted entries were listed",
        listed.len() - kept.count(),
        15000
    );
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}
