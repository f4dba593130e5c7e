//! edgeftpd: a small FTP server for embedded Linux. Everything it does starts in
//! `start.rs` of the library, so that the compiler sees the whole server as one crate (and
//! reports the code nothing uses).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    edgeftpd::main()
}
