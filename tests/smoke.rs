//! First contact: the server starts, greets, logs in and lists.
mod support;
use support::*;

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
