//! The USB disk under the server: it can be unmounted while no session is in it, its empty
//! mount point is never served in its place, and a disk mounted again at the same path is
//! the one the next login gets, with no restart. (What a
//! disk that fails or goes away mid-transfer does is tried on the boards: board/.)

use crate::support::canary::*;
use crate::support::*;

/// Runs `script` in the mount namespace of process `pid` (the server's, made by
/// [`in_mount_namespace`]): (succeeded, stderr).
fn in_ns_of(pid: u32, script: &str) -> (bool, String) {
    let (ok, _, err) = sh(&format!("nsenter -t {pid} -m sh -c \"{script}\""));
    (ok, err)
}

/// Regression (issue 27): the anonymous root was opened at start-up and held until the
/// server stopped, and a home with a quota from its first login on: `umount /mnt/usb` said
/// "target is busy" while the server sat idle (LuCI's Unmount, `block umount` and a hotplug
/// removal all failed), and a stick mounted again at the same path was never seen, the
/// server still reading the dead mount. Now nothing is held while no session is in the
/// disk, a login while it is away is refused (not given the empty folder under it), and
/// the next login gets the disk mounted now: anonymous and an account alike.
#[test]
fn an_idle_server_holds_no_disk_and_serves_the_disk_mounted_again() {
    require_root("mounting a tmpfs");
    let t = TempDir::new("remount");
    let usb = t.join("usb");
    std::fs::create_dir(&usb).unwrap();
    let u = usb.display();
    let users = t.write(
        "users.txt",
        crypt_line("cam", "cam-pw", "6", &usb.join("cam"), "rw,quota=1M").as_bytes(),
    );
    let fill = |label: &str| {
        format!(
            "mkdir -p '{u}/cam' && echo {label} > '{u}/f.txt' && echo {label} > '{u}/cam/c.txt' && chmod -R a+rwX '{u}'"
        )
    };
    let setup = format!("mount -t tmpfs -o size=1m one '{u}' && {}", fill("one"));
    let srv = Server::start_wrapped(
        &in_mount_namespace(&setup),
        &[
            "--anonymous",
            "--root",
            usb.to_str().unwrap(),
            "--users",
            users.to_str().unwrap(),
        ],
    );
    let mut anon = srv.anon_client();
    assert_eq!(anon.retr("f.txt"), b"one\n");
    let mut cam = srv.client();
    cam.login("cam", "cam-pw");
    assert_eq!(cam.retr("c.txt"), b"one\n");
    // While sessions are in it, the disk is busy, as with any program using it.
    let (busy, err) = in_ns_of(srv.pid(), &format!("umount '{u}'"));
    assert!(!busy, "unmounted under open sessions");
    assert!(err.contains("busy"), "{err}");
    anon.expect("QUIT", 221);
    cam.expect("QUIT", 221);
    // Idle: the unmount goes through (the sessions' threads end a moment after QUIT).
    let mut last = String::new();
    assert!(
        eventually(WAIT, || {
            let (ok, err) = in_ns_of(srv.pid(), &format!("umount '{u}'"));
            last = err;
            ok
        }),
        "umount while the server idles: {last}\n{}",
        srv.log()
    );
    // While it is away, its empty mount point (the router's flash) is not served in its
    // place: logins are refused, with the reason in the log.
    for (user, pass) in [("anonymous", "guest@example.com"), ("cam", "cam-pw")] {
        let mut c = srv.client();
        c.expect(&format!("USER {user}"), 331);
        assert_eq!(
            c.cmd(&format!("PASS {pass}")),
            "530 Home directory unavailable.\r\n",
            "{user}"
        );
    }
    assert!(srv.wait_log(&format!(
        "its disk is not mounted at {u} (it was at start-up)"
    )));
    let (ok, err) = in_ns_of(
        srv.pid(),
        &format!("mount -t tmpfs -o size=1m two '{u}' && {}", fill("two")),
    );
    assert!(ok, "{err}");
    assert_eq!(srv.anon_client().retr("f.txt"), b"two\n");
    let mut cam = srv.client();
    cam.login("cam", "cam-pw");
    assert_eq!(cam.retr("c.txt"), b"two\n");
    // The quota counts the disk mounted now (counted afresh: it has no .ftpquota). (Its
    // line may come just after the login's reply: wait for it.)
    eventually(WAIT, || {
        srv.log().matches("(counted; written to").count() == 2
    });
    assert_eq!(
        srv.log().matches("(counted; written to").count(),
        2,
        "{}",
        srv.log()
    );
}
