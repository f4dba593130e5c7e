//! Reply codes by meaning, and the encoding of single- and multi-line replies.
//!
//! Handlers never write bare numbers: they name what happened (`FILE_UNAVAILABLE`), and this
//! module knows the number RFC 959 (and 2389, 2428, 3659, 7151) gives it. Several names may
//! share a number; the name is for the reader.

pub const OPENING_DATA: u16 = 150;
pub const OK: u16 = 200;
pub const SUPERFLUOUS: u16 = 202;
pub const SYSTEM_STATUS: u16 = 211;
pub const DIR_STATUS: u16 = 212;
pub const FILE_STATUS: u16 = 213;
pub const HELP: u16 = 214;
pub const SYSTEM_TYPE: u16 = 215;
pub const SERVICE_READY: u16 = 220;
pub const GOODBYE: u16 = 221;
pub const TRANSFER_OK: u16 = 226;
pub const PASSIVE: u16 = 227;
pub const EXT_PASSIVE: u16 = 229;
pub const LOGGED_IN: u16 = 230;
pub const FILE_ACTION_OK: u16 = 250;
pub const PATH_CREATED: u16 = 257;
pub const NEED_PASSWORD: u16 = 331;
pub const PENDING_MORE_INFO: u16 = 350;
pub const CLOSING: u16 = 421;
pub const CANT_OPEN_DATA: u16 = 425;
pub const TRANSFER_ABORTED: u16 = 426;
pub const LOCAL_ERROR: u16 = 451;
pub const NO_SPACE: u16 = 452;
pub const UNKNOWN_COMMAND: u16 = 500;
pub const BAD_ARGUMENTS: u16 = 501;
pub const NOT_IMPLEMENTED: u16 = 502;
pub const BAD_SEQUENCE: u16 = 503;
pub const BAD_PARAMETER: u16 = 504;
pub const BAD_PROTOCOL: u16 = 522;
pub const NOT_LOGGED_IN: u16 = 530;
pub const FILE_UNAVAILABLE: u16 = 550;
pub const NO_PERMISSION: u16 = 550;
pub const EXCEEDED_STORAGE: u16 = 552;
pub const BAD_FILE_NAME: u16 = 553;
pub const INVALID_REST: u16 = 554;

/// Encodes a one-line reply: `code text\r\n`. CR and LF inside `text` (from a file name)
/// are replaced so they cannot forge a reply line.
pub fn line(out: &mut Vec<u8>, code: u16, text: &[u8]) {
    out.extend_from_slice(format!("{code} ").as_bytes());
    push_safe(out, text);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a multi-line reply: `code-first`, each body line prefixed by a space, `code last`.
pub fn multi(out: &mut Vec<u8>, code: u16, first: &[u8], body: &[Vec<u8>], last: &[u8]) {
    out.extend_from_slice(format!("{code}-").as_bytes());
    push_safe(out, first);
    out.extend_from_slice(b"\r\n");
    for l in body {
        out.push(b' ');
        push_safe(out, l);
        out.extend_from_slice(b"\r\n");
    }
    line(out, code, last);
}

fn push_safe(out: &mut Vec<u8>, text: &[u8]) {
    // RFC 2640 maps an embedded LF in a path name to NUL on the wire; CR likewise.
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { 0 } else { b }),
    );
}

/// Quotes a path for a 257 reply: inside double quotes, embedded quotes doubled (RFC 959).
pub fn quote_path(path: &[u8]) -> Vec<u8> {
    let mut q = vec![b'"'];
    for &b in path {
        if b == b'"' {
            q.push(b'"');
        }
        q.push(b);
    }
    q.push(b'"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_form() {
        let mut o = Vec::new();
        multi(&mut o, 211, b"Features:", &[b"SIZE".to_vec()], b"End");
        assert_eq!(o, b"211-Features:\r\n SIZE\r\n211 End\r\n");
    }

    #[test]
    fn names_cannot_forge_lines() {
        let mut o = Vec::new();
        line(&mut o, 257, b"\"a\r\n230 x\"");
        assert_eq!(o, b"257 \"a\x00\x00230 x\"\r\n");
        assert_eq!(quote_path(b"/a\"b"), b"\"/a\"\"b\"");
    }
}
