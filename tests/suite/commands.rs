//! The commands and their exact replies: the pre-login gate, information commands, directory
//! and file commands, and how control lines are framed (long lines, bare LF, split and
//! pipelined commands, Telnet sequences).

use std::time::Duration;

use crate::support::*;

fn served() -> (TempDir, Server) {
    let root = TempDir::new("cmds");
    root.write("f.txt", b"hello");
    std::fs::create_dir(root.join("d")).unwrap();
    let srv = Server::anon_rw(root.path());
    (root, srv)
}

/// Every verb of the issue's list except the nine login-phase ones, with a plausible
/// argument, plus an unknown verb.
const NEED_LOGIN: &[&str] = &[
    "ACCT x",
    "STAT",
    "STAT f.txt",
    "PWD",
    "XPWD",
    "CWD d",
    "XCWD d",
    "CDUP",
    "XCUP",
    "TYPE I",
    "MODE S",
    "STRU F",
    "ALLO 10",
    "REST 0",
    "PASV",
    "EPSV",
    "PORT 127,0,0,1,4,1",
    "EPRT |1|127.0.0.1|1025|",
    "LIST",
    "NLST",
    "MLSD",
    "MLST f.txt",
    "RETR f.txt",
    "STOR new.txt",
    "APPE f.txt",
    "STOU",
    "SIZE f.txt",
    "MDTM f.txt",
    "MFMT 20200101000000 f.txt",
    "DELE f.txt",
    "RMD d",
    "XRMD d",
    "MKD newdir",
    "XMKD newdir",
    "RNFR f.txt",
    "RNTO g.txt",
    "ABOR",
    "SITE CHMOD 600 f.txt",
    "SITE HELP",
    "FOOBAR",
];

#[test]
fn before_login_everything_but_the_login_verbs_is_530() {
    let (root, srv) = served();
    let mut c = srv.client();
    for line in NEED_LOGIN {
        assert_eq!(
            c.cmd(line),
            "530 Please login with USER and PASS.\r\n",
            "{line}"
        );
    }
    // Lower case is refused the same way.
    assert_eq!(
        c.cmd("dele f.txt"),
        "530 Please login with USER and PASS.\r\n"
    );
    // Nothing was touched.
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"hello");
    assert!(root.join("d").is_dir());
    assert!(!root.join("newdir").exists());
    assert!(!root.join("new.txt").exists());
    assert!(!root.join("g.txt").exists());
    // The session is still fine and logs in.
    c.login("anonymous", "x@example.com");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn before_login_the_login_verbs_are_accepted() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert!(c.cmd("FEAT").starts_with("211-Features:\r\n"));
    assert!(
        c.cmd("HELP")
            .starts_with("214-The following commands are recognized:\r\n")
    );
    assert_eq!(c.cmd("HELP RETR"), "214 RETR is supported.\r\n");
    assert_eq!(c.cmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(c.cmd("HOST localhost"), "220 Host accepted.\r\n");
    assert_eq!(
        c.cmd("USER anonymous"),
        "331 Please specify the password.\r\n"
    );
    assert_eq!(c.cmd("PASS guest@"), "230 Login successful.\r\n");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    assert!(c.closed());
}

#[test]
fn quit_before_login_says_goodbye_and_closes() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    assert!(c.closed());
}

#[test]
fn pass_without_user_is_503() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(c.cmd("PASS secret"), "503 Login with USER first.\r\n");
    // A 503 is not a failed login: the session goes on and logs in.
    assert_eq!(c.cmd("PASS secret"), "503 Login with USER first.\r\n");
    assert_eq!(c.cmd("PASS secret"), "503 Login with USER first.\r\n");
    c.login("ftp", "x");
    // Logged in: USER can't switch, PASS is superfluous.
    assert_eq!(c.cmd("USER bob"), "530 Can't change to another user.\r\n");
    assert_eq!(c.cmd("PASS again"), "230 Already logged in.\r\n");
}

#[test]
fn rnto_without_rnfr_is_503() {
    let (root, srv) = served();
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("RNTO g.txt"), "503 RNFR required first.\r\n");
    // RNFR is good for the very next command only.
    assert_eq!(c.cmd("RNFR f.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.cmd("RNTO g.txt"), "503 RNFR required first.\r\n");
    assert!(root.join("f.txt").exists() && !root.join("g.txt").exists());
    // The proper sequence renames.
    assert_eq!(c.cmd("RNFR f.txt"), "350 Ready for RNTO.\r\n");
    assert_eq!(c.cmd("RNTO g.txt"), "250 Rename successful.\r\n");
    assert_eq!(std::fs::read(root.join("g.txt")).unwrap(), b"hello");
    assert!(!root.join("f.txt").exists());
    assert_eq!(
        c.cmd("RNFR nothing-here"),
        "550 No such file or directory.\r\n"
    );
    assert_eq!(c.cmd("RNTO x"), "503 RNFR required first.\r\n");
}

#[test]
fn unknown_verbs_are_500_and_the_session_goes_on() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    for line in ["FOOBAR", "XYZZY arg", "LONGERVERB x", "", "   ", "NOOPX"] {
        assert_eq!(c.cmd(line), "500 Unknown command.\r\n", "{line:?}");
    }
    for line in ["REIN", "SMNT /x", "SITE EXEC ls"] {
        assert_eq!(c.cmd(line), "502 Command not implemented.\r\n", "{line}");
    }
    assert_eq!(c.cmd("AUTH TLS"), "502 TLS is not supported.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(c.retr("f.txt"), b"hello");
}

#[test]
fn verbs_are_case_insensitive() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(
        c.cmd("user anonymous"),
        "331 Please specify the password.\r\n"
    );
    assert_eq!(c.cmd("pAsS x"), "230 Login successful.\r\n");
    assert_eq!(c.cmd("syst"), "215 UNIX Type: L8\r\n");
    assert_eq!(c.cmd("Noop"), "200 NOOP ok.\r\n");
    assert_eq!(c.cmd("cwd d"), "250 Directory successfully changed.\r\n");
    assert_eq!(c.cmd("xpwd"), "257 \"/d\" is the current directory.\r\n");
    assert_eq!(c.cmd("cdup"), "200 Directory successfully changed.\r\n");
    assert_eq!(c.cmd("type i"), "200 Switching to Binary mode.\r\n");
    assert_eq!(c.cmd("size f.txt"), "213 5\r\n");
    assert!(c.cmd("feat").starts_with("211-"));
    let (data, first, last) = c.get("retr f.txt");
    assert_eq!(data, b"hello");
    assert!(first.starts_with("150 ") && last.starts_with("226 "));
    assert_eq!(c.cmd("quit"), "221 Goodbye.\r\n");
}

#[test]
fn syst_feat_help_are_exact() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    assert_eq!(
        c.cmd("FEAT"),
        "211-Features:\r\n EPRT\r\n EPSV\r\n HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32\r\n HOST\r\n \
         MDTM\r\n MFMT\r\n \
         MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;UNIX.uid*;UNIX.gid*;\r\n PASV\r\n REST STREAM\r\n SIZE\r\n \
         TVFS\r\n UTF8\r\n XCRC\r\n XMD5\r\n XSHA1\r\n XSHA256\r\n XSHA512\r\n211 End\r\n"
    );
    assert_eq!(
        c.cmd("HELP"),
        "214-The following commands are recognized:\r\n \
         ABOR ACCT ALLO APPE CDUP CWD DELE EPRT\r\n \
         EPSV FEAT HASH HELP HOST LIST MDTM MFMT\r\n \
         MKD MLSD MLST MODE NLST NOOP OPTS PASS\r\n \
         PASV PORT PWD QUIT REST RETR RMD RNFR\r\n \
         RNTO SITE SIZE STAT STOR STOU STRU SYST\r\n \
         TYPE USER XCRC XCUP XCWD XMD5 XMKD XPWD\r\n \
         XRMD XSHA1 XSHA256 XSHA512\r\n214 Help OK.\r\n"
    );
    // Every verb of the issue's list is recognized, one by one.
    for v in "USER PASS ACCT QUIT NOOP SYST FEAT OPTS HELP STAT HOST PWD XPWD CWD XCWD CDUP \
              XCUP TYPE MODE STRU ALLO REST PASV EPSV PORT EPRT LIST NLST MLSD MLST RETR STOR \
              APPE STOU SIZE MDTM MFMT DELE RMD XRMD MKD XMKD RNFR RNTO ABOR"
        .split_whitespace()
    {
        assert_eq!(
            c.cmd(&format!("HELP {v}")),
            format!("214 {v} is supported.\r\n")
        );
        assert_eq!(
            c.cmd(&format!("help {}", v.to_lowercase())),
            format!("214 {v} is supported.\r\n")
        );
    }
    assert_eq!(c.cmd("HELP FOOBAR"), "502 Unknown command.\r\n");
}

#[test]
fn stat_without_argument_is_the_exact_multi_line_status() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    assert_eq!(
        c.cmd("STAT"),
        "211-edgeftpd status:\r\n Connected to 127.0.0.1\r\n Logged in as anonymous\r\n \
         TYPE: ASCII; STRU: F; MODE: S\r\n Session timeout in seconds is 300\r\n \
         No data connection\r\n211 End of status\r\n"
    );
    c.expect("TYPE I", 200);
    assert!(
        c.cmd("STAT")
            .contains("\r\n TYPE: BINARY; STRU: F; MODE: S\r\n")
    );
}

#[test]
fn mlst_is_the_exact_multi_line_form() {
    use std::os::unix::fs::MetadataExt;
    let (root, srv) = served();
    sh(&format!(
        "touch -d '2020-06-09 12:34:56 UTC' '{}' '{}'",
        root.join("f.txt").display(),
        root.join("d").display()
    ));
    let fm = std::fs::metadata(root.join("f.txt")).unwrap();
    let dm = std::fs::metadata(root.join("d")).unwrap();
    let mut c = srv.anon_client();
    assert_eq!(
        c.cmd("MLST f.txt"),
        format!(
            "250-Listing\r\n type=file;size=5;modify=20200609123456;perm=adfrw;unique={:x}U{:x};\
             UNIX.mode={:04o};UNIX.uid={};UNIX.gid={}; /f.txt\r\n250 End\r\n",
            fm.dev(),
            fm.ino(),
            fm.mode() & 0o7777,
            fm.uid(),
            fm.gid()
        )
    );
    c.expect("CWD d", 250);
    assert_eq!(
        c.cmd("MLST"),
        format!(
            "250-Listing\r\n type=dir;modify=20200609123456;perm=flcdmpe;unique={:x}U{:x};\
             UNIX.mode={:04o};UNIX.uid={};UNIX.gid={}; /d\r\n250 End\r\n",
            dm.dev(),
            dm.ino(),
            dm.mode() & 0o7777,
            dm.uid(),
            dm.gid()
        )
    );
    assert_eq!(c.cmd("MLST /nothing"), "550 No such file or directory.\r\n");
}

#[test]
fn type_mode_stru_accept_only_what_we_do() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    for t in ["A", "a", "A N", "a n"] {
        assert_eq!(
            c.cmd(&format!("TYPE {t}")),
            "200 Switching to ASCII mode.\r\n",
            "{t}"
        );
    }
    for t in ["I", "i", "L 8", "l 8"] {
        assert_eq!(
            c.cmd(&format!("TYPE {t}")),
            "200 Switching to Binary mode.\r\n",
            "{t}"
        );
    }
    for t in ["E", "E N", "A T", "A C", "L 7", "L 16"] {
        assert_eq!(
            c.cmd(&format!("TYPE {t}")),
            "504 only TYPE A, A N, I and L 8 are supported\r\n",
            "{t}"
        );
    }
    assert_eq!(c.cmd("TYPE"), "501 TYPE takes A, I or L 8\r\n");
    assert_eq!(c.cmd("TYPE X"), "501 TYPE takes A, I or L 8\r\n");
    // A refused TYPE leaves the type alone (still binary here).
    assert!(c.cmd("STAT").contains(" TYPE: BINARY;"));

    assert_eq!(c.cmd("MODE S"), "200 Mode set to S.\r\n");
    assert_eq!(c.cmd("mode s"), "200 Mode set to S.\r\n");
    for m in ["B", "C"] {
        assert_eq!(
            c.cmd(&format!("MODE {m}")),
            "504 only MODE S is supported\r\n"
        );
    }
    assert_eq!(c.cmd("MODE Z"), "501 MODE takes S, B or C\r\n");
    assert_eq!(c.cmd("STRU F"), "200 Structure set to F.\r\n");
    for s in ["R", "P"] {
        assert_eq!(
            c.cmd(&format!("STRU {s}")),
            "504 only STRU F is supported\r\n"
        );
    }
    assert_eq!(c.cmd("STRU Z"), "501 STRU takes F, R or P\r\n");
    assert_eq!(c.cmd("ACCT x"), "202 ACCT not needed.\r\n");
}

/// ALLO answers 200: a Dahua camera repeats ALLO forever on a 202 (the RFC allows both),
/// and never uploads (hassio-addons/app-ftp#245).
#[test]
fn allo_answers_200_for_cameras_that_loop_on_202() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("ALLO 1000"), "200 ALLO ok.\r\n");
    assert_eq!(c.cmd("ALLO 1000 R 100"), "200 ALLO ok.\r\n");
}

#[test]
fn opts_utf8_and_mlst() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(c.cmd("opts utf8 on"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(
        c.cmd("OPTS MLST type;size;modify;"),
        "200 MLST OPTS type;size;modify;\r\n"
    );
    assert_eq!(c.cmd("OPTS FROB 1"), "501 Option not understood.\r\n");
    assert_eq!(c.cmd("OPTS"), "501 an option is required\r\n");
}

#[test]
fn host_before_user_is_220_after_is_503() {
    let (_root, srv) = served();
    let mut c = srv.client();
    assert_eq!(c.cmd("HOST"), "501 a host name is required\r\n");
    assert_eq!(c.cmd("HOST ftp.example.com"), "220 Host accepted.\r\n");
    c.expect("USER anonymous", 331);
    assert_eq!(
        c.cmd("HOST ftp.example.com"),
        "503 HOST must come before USER.\r\n"
    );
    c.expect("PASS x", 230);
    assert_eq!(
        c.cmd("HOST ftp.example.com"),
        "503 HOST must come before USER.\r\n"
    );
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn directory_commands_and_their_replies() {
    let (root, srv) = served();
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("MKD new"), "257 \"/new\" created.\r\n");
    assert_eq!(c.cmd("XMKD /new/sub"), "257 \"/new/sub\" created.\r\n");
    assert_eq!(c.cmd("MKD new"), "550 File exists.\r\n");
    assert_eq!(c.cmd("MKD q\"uote"), "257 \"/q\"\"uote\" created.\r\n");
    assert!(root.join("new/sub").is_dir() && root.join("q\"uote").is_dir());
    assert_eq!(c.cmd("CWD new"), "250 Directory successfully changed.\r\n");
    assert_eq!(c.cmd("XCWD sub"), "250 Directory successfully changed.\r\n");
    assert_eq!(
        c.cmd("PWD"),
        "257 \"/new/sub\" is the current directory.\r\n"
    );
    assert_eq!(c.cmd("XCUP"), "200 Directory successfully changed.\r\n");
    assert_eq!(c.cmd("PWD"), "257 \"/new\" is the current directory.\r\n");
    assert_eq!(c.cmd("CDUP"), "200 Directory successfully changed.\r\n");
    assert_eq!(
        c.cmd("CWD q\"uote"),
        "250 Directory successfully changed.\r\n"
    );
    assert_eq!(
        c.cmd("PWD"),
        "257 \"/q\"\"uote\" is the current directory.\r\n"
    );
    assert_eq!(c.cmd("CWD /"), "250 Directory successfully changed.\r\n");
    assert_eq!(c.cmd("CWD f.txt"), "550 Not a directory.\r\n");
    assert_eq!(c.cmd("CWD missing"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("CWD"), "501 a path is required\r\n");
    assert_eq!(c.cmd("RMD new"), "550 Directory not empty.\r\n");
    assert_eq!(
        c.cmd("RMD new/sub"),
        "250 Remove directory operation successful.\r\n"
    );
    assert_eq!(
        c.cmd("XRMD new"),
        "250 Remove directory operation successful.\r\n"
    );
    assert_eq!(c.cmd("RMD new"), "550 No such file or directory.\r\n");
    assert!(!root.join("new").exists());
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn file_commands_and_their_replies() {
    let (root, srv) = served();
    sh(&format!(
        "touch -d '2020-06-09 12:34:56 UTC' '{}'",
        root.join("f.txt").display()
    ));
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("SIZE f.txt"), "213 5\r\n");
    assert_eq!(c.cmd("SIZE d"), "550 Not a regular file.\r\n");
    assert_eq!(c.cmd("SIZE missing"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("MDTM f.txt"), "213 20200609123456\r\n");
    assert_eq!(
        c.cmd("MFMT 20210102030405 f.txt"),
        "213 Modify=20210102030405; f.txt\r\n"
    );
    assert_eq!(c.cmd("MDTM f.txt"), "213 20210102030405\r\n");
    assert_eq!(
        c.cmd("MFMT 2021 f.txt"),
        "501 MFMT takes YYYYMMDDHHMMSS and a path\r\n"
    );
    assert_eq!(
        c.cmd("SITE CHMOD 600 f.txt"),
        "200 SITE CHMOD command ok.\r\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("f.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    assert_eq!(c.cmd("SITE HELP"), "214 SITE commands: CHMOD HELP\r\n");
    assert_eq!(c.cmd("DELE d"), "550 Is a directory.\r\n");
    assert_eq!(c.cmd("DELE f.txt"), "250 Delete operation successful.\r\n");
    assert!(!root.join("f.txt").exists());
    assert_eq!(c.cmd("DELE f.txt"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("ABOR"), "226 No transfer to abort.\r\n");
}

#[test]
fn stou_picks_a_new_name() {
    let (root, srv) = served();
    let mut c = srv.anon_client();
    c.expect("TYPE I", 200);
    let (first, last) = c.put("STOU f.txt", b"one");
    assert_eq!(first, "150 FILE: f.txt.1\r\n");
    assert_eq!(last, "226 Transfer complete (unique file name stored).\r\n");
    let (first, _) = c.put("STOU", b"two");
    assert_eq!(first, "150 FILE: ftp\r\n");
    let (first, _) = c.put("STOU", b"three");
    assert_eq!(first, "150 FILE: ftp.1\r\n");
    assert_eq!(std::fs::read(root.join("f.txt")).unwrap(), b"hello");
    assert_eq!(std::fs::read(root.join("f.txt.1")).unwrap(), b"one");
    assert_eq!(std::fs::read(root.join("ftp")).unwrap(), b"two");
    assert_eq!(std::fs::read(root.join("ftp.1")).unwrap(), b"three");
}

// ---- The control channel ----

#[test]
fn control_line_over_4096_bytes_is_500_and_the_session_goes_on() {
    let (_root, srv) = served();
    let mut c = srv.anon_client();
    // Just over the limit, in one write: the end of the line arrives with it.
    let mut line = b"NOOP ".to_vec();
    line.resize(4097, b'x');
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    assert_eq!(c.reply(), "500 Command line too long.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 NOOP ok.\r\n");
    // A megabyte without a line end: one 500, the rest discarded up to the LF.
    let mut line = b"RETR ".to_vec();
    line.resize(1 << 20, b'y');
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    assert_eq!(c.reply(), "500 Command line too long.\r\n");
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    // Exactly 4096 bytes is a line, even with CR and LF in later segments.
    let mut line = b"NOOP ".to_vec();
    line.resize(4096, b'z');
    c.send_raw(&line);
    std::thread::sleep(Duration::from_millis(50));
    c.send_raw(b"\r");
    std::thread::sleep(Duration::from_millis(50));
    c.send_raw(b"\n");
    assert_eq!(c.reply(), "200 NOOP ok.\r\n");
    assert_eq!(c.retr("f.txt"), b"hello");
}

#[test]
fn long_line_before_login_is_500_too() {
    let (_root, srv) = served();
    let mut c = srv.client();
    let mut line = b"USER ".to_vec();
    line.resize(10_000, b'a');
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    assert_eq!(c.reply(), "500 Command line too long.\r\n");
    c.login("anonymous", "x");
}

#[test]
fn bare_lf_line_ends_work() {
    let (_root, srv) = served();
    let mut c = srv.client();
    c.send_raw(b"USER anonymous\n");
    assert_eq!(c.reply(), "331 Please specify the password.\r\n");
    c.send_raw(b"PASS x\n");
    assert_eq!(c.reply(), "230 Login successful.\r\n");
    c.send_raw(b"SIZE f.txt\n");
    assert_eq!(c.reply(), "213 5\r\n");
    c.send_raw(b"PWD\r\nNOOP\n");
    assert_eq!(c.reply(), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.reply(), "200 NOOP ok.\r\n");
}

#[test]
fn commands_split_across_segments_work() {
    let (_root, srv) = served();
    let mut c = srv.client();
    c.stream().set_nodelay(true).unwrap();
    for b in b"USER anonymous\r\n" {
        c.send_raw(&[*b]);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.reply(), "331 Please specify the password.\r\n");
    // CR and LF in different segments, too.
    for part in [&b"PA"[..], b"SS x", b"\r", b"\n"] {
        c.send_raw(part);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(c.reply(), "230 Login successful.\r\n");
    for b in b"SIZE f.txt\r\n" {
        c.send_raw(&[*b]);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.reply(), "213 5\r\n");
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let (_root, srv) = served();
    let mut c = srv.client();
    c.send_raw(b"USER anonymous\r\nPASS x\r\nSYST\r\nPWD\r\nSIZE f.txt\r\nNOOP\r\n");
    assert_eq!(c.reply(), "331 Please specify the password.\r\n");
    assert_eq!(c.reply(), "230 Login successful.\r\n");
    assert_eq!(c.reply(), "215 UNIX Type: L8\r\n");
    assert_eq!(c.reply(), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.reply(), "213 5\r\n");
    assert_eq!(c.reply(), "200 NOOP ok.\r\n");
}

#[test]
fn telnet_iac_sequences_are_ignored() {
    let (root, srv) = served();
    use std::os::unix::ffi::OsStrExt;
    std::fs::write(
        root.path().join(std::ffi::OsStr::from_bytes(b"\xffname")),
        b"ff",
    )
    .unwrap();
    let mut c = srv.client();
    // IAC IP, IAC DM before a command.
    c.send_raw(b"\xff\xf4\xff\xf2USER anonymous\r\n");
    assert_eq!(c.reply(), "331 Please specify the password.\r\n");
    // Option negotiation (IAC WILL ECHO, IAC DO SGA, IAC WONT x, IAC DONT x) in the middle.
    c.send_raw(b"PA\xff\xfb\x01SS\xff\xfd\x03 x\xff\xfc\x18\xff\xfe\x1f\r\n");
    assert_eq!(c.reply(), "230 Login successful.\r\n");
    // IAC NOP, IAC AYT, IAC GA between bytes of a line split across segments.
    c.send_raw(b"SY\xff");
    std::thread::sleep(Duration::from_millis(30));
    c.send_raw(b"\xf1S\xff\xf6T\xff\xf9\r\n");
    assert_eq!(c.reply(), "215 UNIX Type: L8\r\n");
    // IAC IAC is a data byte 0xFF: the file named "\xffname".
    c.expect("TYPE I", 200);
    let (data, first, last) = c.get_bytes(b"RETR \xff\xffname");
    assert!(first.starts_with("150 "), "{first}");
    assert!(last.starts_with("226 "), "{last}");
    assert_eq!(data, b"ff");
}

#[test]
fn greets_logs_in_and_lists() {
    let root = TempDir::new("smoke");
    root.write("hello.txt", b"hi\n");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    let l = c.list("LIST");
    assert!(l.contains(" hello.txt\r\n"), "{l}");
    assert_eq!(c.retr("hello.txt"), b"hi\n");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
}

/// `--banner FILE`: its lines come before the greeting, each as `220-` (vsftpd's
/// banner_file), control characters left out; curl and ftplib log in through it; a file
/// too long is refused at start.
#[test]
fn banner_lines_come_before_the_greeting() {
    let root = TempDir::new("banner");
    root.write("f.txt", b"x");
    let banner = root.write("banner.txt", b"Family NAS\n\x1b[31mno\rred\tok\n");
    let srv = Server::anon_with(root.path(), &["--banner", banner.to_str().unwrap()]);
    let c = Client::connect_raw(srv.addr);
    assert_eq!(
        c,
        "220-Family NAS\r\n220-[31mnored\tok\r\n220 edgeftpd ready.\r\n"
    );
    let (ok, out, err) = sh(&format!("curl -sS ftp://127.0.0.1:{}/f.txt", srv.port()));
    assert!(ok && out == "x", "{err}");
    let long = root.write("long.txt", "line\n".repeat(21).as_bytes());
    let out = server_command()
        .args([
            "--anonymous",
            "--root",
            "/",
            "--banner",
            long.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "edgeftpd: --banner {}: longer than 20 lines or 2048 bytes\n",
            long.display()
        )
    );
}

/// `--no-active` (vsftpd's port_enable=NO): PORT and EPRT get 502 and are logged;
/// passive transfers work.
#[test]
fn no_active_refuses_port_and_eprt() {
    let root = TempDir::new("no-active");
    root.write("f.txt", b"x");
    let srv = Server::anon_with(root.path(), &["--no-active"]);
    let mut c = srv.anon_client();
    let refused = "502 Active mode is off here; use PASV or EPSV.\r\n";
    assert_eq!(c.cmd("PORT 127,0,0,1,200,10"), refused);
    assert_eq!(c.cmd("EPRT |1|127.0.0.1|51210|"), refused);
    assert!(srv.wait_log("anonymous: PORT 127,0,0,1,200,10 refused: Active mode is off here"));
    assert_eq!(c.retr("f.txt"), b"x");
    let (ok, _, err) = sh(&format!(
        "curl -sS --ftp-port - ftp://127.0.0.1:{}/f.txt",
        srv.port()
    ));
    assert!(!ok && err.contains("curl"), "{err}");
}

/// HASH (draft-bryan-ftpext-hash) with OPTS HASH, and the X checksums with their quoted
/// ranges, byte for byte: the known values of "The quick brown fox...".
#[test]
fn hash_and_the_x_checksums_byte_for_byte() {
    let root = TempDir::new("hash");
    root.write("a b.txt", b"The quick brown fox jumps over the lazy dog");
    let srv = Server::anon(root.path());
    let mut c = srv.anon_client();
    let sha256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";
    assert_eq!(
        c.cmd("HASH a b.txt"),
        format!("213 SHA-256 0-43 {sha256} a b.txt\r\n")
    );
    assert_eq!(c.cmd("OPTS HASH"), "200 SHA-256\r\n");
    assert_eq!(c.cmd("OPTS HASH md5"), "200 MD5\r\n");
    assert!(
        c.cmd("FEAT")
            .contains(" HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32\r\n")
    );
    assert_eq!(
        c.cmd("HASH /a b.txt"),
        "213 MD5 0-43 9e107d9d372bb6826bd81d3542a419d6 /a b.txt\r\n"
    );
    assert_eq!(c.cmd("OPTS HASH SHA-384"), "504 Unknown algorithm.\r\n");
    assert_eq!(c.cmd("OPTS HASH"), "200 MD5\r\n");
    assert_eq!(
        c.cmd("XMD5 a b.txt"),
        "250 9e107d9d372bb6826bd81d3542a419d6\r\n"
    );
    assert_eq!(c.cmd("XCRC a b.txt"), "250 414fa339\r\n");
    assert_eq!(c.cmd("XSHA256 \"a b.txt\""), format!("250 {sha256}\r\n"));
    // Bytes 4 to 9: "quick".
    assert_eq!(
        c.cmd("XSHA1 \"a b.txt\" 4 9"),
        format!(
            "250 {}\r\n",
            crate::support::hash("printf quick | sha1sum | cut -c1-40")
        )
    );
    assert_eq!(
        c.cmd("XSHA512 \"a b.txt\" 40"),
        format!(
            "250 {}\r\n",
            crate::support::hash("printf dog | sha512sum | cut -c1-128")
        )
    );
    assert_eq!(
        c.cmd("XMD5 \"a b.txt\" 50"),
        "501 The range starts past the end of the file.\r\n"
    );
    assert_eq!(
        c.cmd("XMD5 \"a b.txt"),
        "501 expected a path, or \"path\" [start [end]]\r\n"
    );
    assert_eq!(
        c.cmd("XMD5 \"a b.txt\" 9 4"),
        "501 expected a path, or \"path\" [start [end]]\r\n"
    );
    assert_eq!(c.cmd("HASH nothing"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("XCRC"), "501 a path is required\r\n");
    assert!(srv.wait_log("anonymous: MD5 of /a b.txt bytes 0-43"));
}
