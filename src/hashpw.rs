//! `edgeftpd --hash-password`: makes a users-file hash on the device itself (OpenWrt images
//! often have neither `openssl` nor busybox `mkpasswd`). Reads a password on standard input
//! (asked twice, without echo, when it is a terminal) and returns a `$6$` SHA-512-crypt
//! string with a random salt, as `openssl passwd -6` writes it.

use std::io::Write;

use crate::crypt;

/// crypt's salt alphabet.
const SALT_CHARS: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Reads the password and hashes it. Errors are one line for stderr.
pub fn run() -> Result<String, String> {
    let pw = if rustix::termios::isatty(rustix::stdio::stdin()) {
        let first = ask("Password: ")?;
        let again = ask("Again: ")?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    } else {
        read_line()?
    };
    if pw.is_empty() {
        return Err("empty password".into());
    }
    Ok(crypt::sha512_crypt(&pw, &salt()?, 5000))
}

/// Asks on the terminal with echo off (restored afterwards, whatever happens).
fn ask(prompt: &str) -> Result<Vec<u8>, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = rustix::stdio::stdin();
    let mut err = std::io::stderr();
    // Echo goes off before the prompt appears: what is typed (or pasted) right after the
    // prompt must not show.
    let saved = tcgetattr(stdin).map_err(|e| format!("terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(stdin, OptionalActions::Now, &quiet).map_err(|e| format!("terminal: {e}"))?;
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    let line = read_line();
    let _ = tcsetattr(stdin, OptionalActions::Now, &saved);
    let _ = err.write_all(b"\n");
    line
}

/// A line of stdin without its line end, read a byte at a time from the descriptor (std's
/// buffered stdin would cost the binary its reader for these few bytes).
fn read_line() -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match rustix::io::read(rustix::stdio::stdin(), &mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("stdin: {}", std::io::Error::from(e))),
        }
    }
    Ok(trim_cr(line))
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

/// 16 salt characters from the kernel's random source.
fn salt() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    crate::resolver::random(&mut bytes).map_err(|e| format!("getrandom: {e}"))?;
    Ok(bytes
        .iter()
        .map(|&b| char::from(SALT_CHARS[usize::from(b % 64)]))
        .collect())
}
