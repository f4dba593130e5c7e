//! The one framing of everything that crosses the privilege-separation link (`privsep.rs`):
//! a message is a run of items, each a tag byte, a length (4 bytes, big-endian) and that
//! many bytes. The link carries one item per message, whose body is itself a run of items:
//! the configuration's files (`config/files.rs`) or the certificate and key (`tls.rs`).
//! Pure: no I/O but [`read`], which takes one item from a stream.

use std::io::{self, Read};

/// Appends the item `tag`, `body` to `out`.
pub fn put(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// Takes the next item off the front of `msg`: `Some(None)` at its end, `None` when the
/// message is cut short.
pub fn take<'a>(msg: &mut &'a [u8]) -> Option<Option<(u8, &'a [u8])>> {
    let Some((&tag, rest)) = msg.split_first() else {
        return Some(None);
    };
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let body = rest.get(4..4usize.checked_add(len)?)?;
    *msg = &rest[4 + len..];
    Some(Some((tag, body)))
}

/// Reads one item from `r`. An item longer than `max` bytes is an error (`InvalidData`),
/// and nothing of its body is read.
pub fn read(r: &mut impl Read, max: usize) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head)?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > max {
        return Err(io::ErrorKind::InvalidData.into());
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((head[0], body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_as_they_were_put() {
        let mut msg = Vec::new();
        put(&mut msg, b'F', b"/etc/edgeftpd/users");
        put(&mut msg, b'B', b"");
        put(&mut msg, 0xff, &[0u8; 300]);
        assert_eq!(&msg[..5], b"F\0\0\0\x13");
        let mut m = msg.as_slice();
        assert_eq!(
            take(&mut m),
            Some(Some((b'F', &b"/etc/edgeftpd/users"[..])))
        );
        assert_eq!(take(&mut m), Some(Some((b'B', &b""[..]))));
        assert_eq!(take(&mut m), Some(Some((0xff, &[0u8; 300][..]))));
        assert_eq!(take(&mut m), Some(None));
    }

    #[test]
    fn a_message_cut_short_anywhere_is_refused() {
        let mut msg = Vec::new();
        put(&mut msg, b'C', b"abc");
        for cut in 1..msg.len() {
            let mut m = &msg[..cut];
            assert_eq!(take(&mut m), None, "cut at {cut}");
        }
        // A length that overflows the address space on 32-bit targets.
        let mut m = &b"C\xff\xff\xff\xff"[..];
        assert_eq!(take(&mut m), None);
    }

    #[test]
    fn read_takes_one_item_from_a_stream_and_bounds_its_length() {
        let mut msg = Vec::new();
        put(&mut msg, b'F', b"hello");
        put(&mut msg, b'C', b"x");
        let mut r = msg.as_slice();
        assert_eq!(read(&mut r, 5).unwrap(), (b'F', b"hello".to_vec()));
        assert_eq!(read(&mut r, 5).unwrap(), (b'C', b"x".to_vec()));
        assert_eq!(
            read(&mut r, 5).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut r = msg.as_slice();
        assert_eq!(
            read(&mut r, 4).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
