//! `edgeftpd --hash-password`: makes a users-file hash on the device itself (OpenWrt images
//! often have neither `openssl` nor busybox `mkpasswd`). Reads a password on standard input
//! (asked twice, without echo, when it is a terminal) and returns a `$6$` SHA-512-crypt
//! string with a random salt, as `openssl passwd -6` writes it.

use std::io::{BufRead, Read, Write};

use crate::crypt;

/// crypt's salt alphabet.
const SALT_CHARS: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Reads the password and hashes it. Errors are one line for stderr.
pub fn run() -> Result<String, String> {
    let stdin = std::io::stdin();
    let pw = if rustix::termios::isatty(&stdin) {
        let first = ask("Password: ")?;
        let again = ask("Again: ")?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    } else {
        let mut line = Vec::new();
        stdin
            .lock()
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("stdin: {e}"))?;
        trim_newline(line)
    };
    if pw.is_empty() {
        return Err("empty password".into());
    }
    Ok(crypt::sha512_crypt(&pw, &salt()?, 5000))
}

/// Asks on the terminal with echo off (restored afterwards, whatever happens).
fn ask(prompt: &str) -> Result<Vec<u8>, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let mut err = std::io::stderr();
    // Echo goes off before the prompt appears: what is typed (or pasted) right after the
    // prompt must not show.
    let saved = tcgetattr(&stdin).map_err(|e| format!("terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).map_err(|e| format!("terminal: {e}"))?;
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    let mut line = Vec::new();
    let read = stdin.lock().read_until(b'\n', &mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    let _ = writeln!(err);
    read.map_err(|e| format!("stdin: {e}"))?;
    Ok(trim_newline(line))
}

fn trim_newline(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

/// 16 salt characters from the kernel's random source.
fn salt() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes
        .iter()
        .map(|&b| char::from(SALT_CHARS[usize::from(b % 64)]))
        .collect())
}
