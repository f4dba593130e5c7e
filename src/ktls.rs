//! The kernel's TLS (Linux net/tls, "kTLS") for FTPS data connections: rustls makes the
//! handshake, then the session's keys go to the kernel, which encrypts and decrypts the
//! records itself. The data then moves as on a plain socket: sendfile(2) and splice(2)
//! from the file for a download; for an upload splice(2) into it, then past its first
//! pipeful reads into the server's buffer (into which, except on MIPS, the kernel
//! decrypts each record directly: [`RX_NO_PAD`]). The kernel's own ciphers have assembly
//! for MIPS and ARM that ring has not: on the mipsel board ChaCha20-Poly1305 in rustls
//! cost more CPU per MiB than vsftpd's and pure-ftpd's OpenSSL.
//!
//! Only where the kernel has it (the `tls` module: Debian's kernels, OpenWrt's kmod-tls)
//! and takes the cipher both ways, which [`available`] probes once on loopback; otherwise,
//! and for the control connection, rustls does it all as before.
//!
//! SECURITY: the keys leave rustls for the kernel only, and only where no record can be
//! sent twice under one nonce: TLS 1.3 (the kernel, like rustls, XORs the record number
//! into the IV) and TLS 1.2 ChaCha20-Poly1305 (likewise). TLS 1.2 AES-GCM stays in rustls:
//! the kernel counts that cipher's explicit nonce up from the IV it is given, and rustls
//! XORed the record number into it, so the kernel's first record could reuse the nonce of
//! rustls's Finished.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;

use rustls::{ConnectionTrafficSecrets, ProtocolVersion, ServerConnection};

use crate::sys;

/// TLS record content types (RFC 8446 5.1).
const ALERT: u8 = 21;
const APPLICATION_DATA: u8 = 23;
/// close_notify, a warning-level alert (RFC 8446 6.1).
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// linux/tls.h's cipher numbers.
const AES_GCM_128: u16 = 51;
const AES_GCM_256: u16 = 52;
const CHACHA20_POLY1305: u16 = 54;
const CIPHERS: [u16; 3] = [AES_GCM_128, AES_GCM_256, CHACHA20_POLY1305];

/// Whether a TLS 1.3 upload asks the kernel to decrypt each record straight into the
/// server's buffer (TLS_RX_EXPECT_NO_PAD: a MiB uploaded over FTPS cost 5% fewer
/// instructions on the aarch64 and mipsel boards). Not on MIPS: there a record the client
/// padded, which the kernel then decrypts a second time the usual way, left bytes of the
/// first try in the file (the mipsel board, Debian's 6.1 kernel, openssl s_client
/// -record_padding: a 226 for a file with a wrong page; its data cache aliases, ARM's
/// does not). board/test.py pins both.
const RX_NO_PAD: bool = !cfg!(any(target_arch = "mips", target_arch = "mips64"));

/// The ciphers the kernel takes both ways (a bit per entry of [`CIPHERS`]), probed once.
pub fn available() -> u8 {
    static PROBED: OnceLock<u8> = OnceLock::new();
    *PROBED.get_or_init(|| {
        let mut bits = 0;
        for (i, &cipher) in CIPHERS.iter().enumerate() {
            if probe(cipher).is_ok() {
                bits |= 1 << i;
            }
        }
        let names: Vec<&str> = CIPHERS
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, &c)| cipher_name(c))
            .collect();
        if names.is_empty() {
            log::info!(
                "FTPS data connections: no kernel TLS here (the tls module), so rustls encrypts them"
            );
        } else {
            log::info!(
                "FTPS data connections: the kernel's TLS for {}",
                names.join(", ")
            );
        }
        bits
    })
}

fn cipher_name(cipher: u16) -> &'static str {
    match cipher {
        AES_GCM_128 => "AES-128-GCM",
        AES_GCM_256 => "AES-256-GCM",
        _ => "ChaCha20-Poly1305",
    }
}

/// Whether a socket of a loopback pair takes `cipher`'s keys both ways.
fn probe(cipher: u16) -> io::Result<()> {
    // An address, not a string: a string would link musl's resolver (some 25 KiB).
    let l = TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let _client = TcpStream::connect(l.local_addr()?)?;
    let (s, _) = l.accept()?;
    sys::ktls_attach(&s)?;
    let key = vec![0u8; if cipher == AES_GCM_128 { 16 } else { 32 }];
    let iv = [0u8; 12];
    let info = layout(0x0304, cipher, &key, &iv, 0);
    sys::ktls_keys(&s, true, &info)?;
    sys::ktls_keys(&s, false, &info)
}

/// A `tls12_crypto_info_*` of linux/tls.h: version and cipher (host order), then for
/// AES-GCM the IV's last 8 bytes, the key, the IV's first 4 (the salt) and the record
/// number; for ChaCha20-Poly1305 the 12-byte IV, the key and the record number.
fn layout(version: u16, cipher: u16, key: &[u8], iv: &[u8], seq: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(56);
    b.extend_from_slice(&version.to_ne_bytes());
    b.extend_from_slice(&cipher.to_ne_bytes());
    if cipher == CHACHA20_POLY1305 {
        b.extend_from_slice(iv);
        b.extend_from_slice(key);
    } else {
        b.extend_from_slice(&iv[4..]);
        b.extend_from_slice(key);
        b.extend_from_slice(&iv[..4]);
    }
    b.extend_from_slice(&seq.to_be_bytes());
    b
}

/// The kernel's layout of one direction's keys under `version` (linux/tls.h's number;
/// which versions and ciphers go to the kernel is [`takes`]'s to say).
fn crypto_info(version: u16, secrets: &ConnectionTrafficSecrets, seq: u64) -> Option<Vec<u8>> {
    let (cipher, key, iv) = match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (AES_GCM_128, key, iv),
        ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (AES_GCM_256, key, iv),
        ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (CHACHA20_POLY1305, key, iv),
        _ => return None,
    };
    Some(layout(version, cipher, key.as_ref(), iv.as_ref(), seq))
}

/// linux/tls.h's number of the version of a connection of `suite` under `version` that the
/// kernel takes, or None (see the module doc).
fn takes(version: ProtocolVersion, suite: rustls::CipherSuite) -> Option<u16> {
    use rustls::CipherSuite as S;
    let cipher = match suite {
        S::TLS13_AES_128_GCM_SHA256 => AES_GCM_128,
        S::TLS13_AES_256_GCM_SHA384 => AES_GCM_256,
        S::TLS13_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => CHACHA20_POLY1305,
        _ => return None,
    };
    let version = match version {
        ProtocolVersion::TLSv1_3 => 0x0304,
        // SECURITY: TLS 1.2 AES-GCM stays in rustls (its explicit nonce, see the module doc).
        ProtocolVersion::TLSv1_2 if cipher == CHACHA20_POLY1305 => 0x0303,
        _ => return None,
    };
    has(cipher).then_some(version)
}

/// Whether the kernel takes `cipher` ([`available`]).
fn has(cipher: u16) -> bool {
    CIPHERS
        .iter()
        .position(|&c| c == cipher)
        .is_some_and(|i| available() & (1 << i) != 0)
}

/// What [`hand_over`] did with a connection.
pub enum Handed {
    /// The kernel has the keys.
    Kernel(KernelTls),
    /// The kernel can't take this one (no kTLS, a cipher or version it must not have, data
    /// already in rustls): the connection as it was.
    Kept(Box<ServerConnection>, TcpStream),
}

/// Gives a finished handshake's keys to the kernel where it can take them. The socket must
/// hold nothing rustls read past its handshake (see [`Records`]). An error after the keys
/// left rustls ends the connection: neither side can go on with it.
pub fn hand_over(mut conn: Box<ServerConnection>, sock: TcpStream) -> io::Result<Handed> {
    let (Some(version), Some(suite)) = (conn.protocol_version(), conn.negotiated_cipher_suite())
    else {
        return Ok(Handed::Kept(conn, sock));
    };
    let waiting = conn
        .process_new_packets()
        .map(|s| s.plaintext_bytes_to_read() > 0 || s.peer_has_closed())
        .unwrap_or(true);
    let version = match takes(version, suite.suite()) {
        Some(v) if !waiting && !conn.wants_write() => v,
        _ => return Ok(Handed::Kept(conn, sock)),
    };
    if sys::ktls_attach(&sock).is_err() {
        // Nothing changed: the socket still passes bytes as they are.
        return Ok(Handed::Kept(conn, sock));
    }
    let secrets = conn.dangerous_extract_secrets().map_err(io::Error::other)?;
    let (Some(tx), Some(rx)) = (
        crypto_info(version, &secrets.tx.1, secrets.tx.0),
        crypto_info(version, &secrets.rx.1, secrets.rx.0),
    ) else {
        return Err(io::Error::other("kernel TLS: the keys came out unusable"));
    };
    sys::ktls_keys(&sock, true, &tx)?;
    sys::ktls_keys(&sock, false, &rx)?;
    if version == 0x0304 && RX_NO_PAD {
        // One copy less for each byte uploaded; an older kernel refuses, and copies.
        let _ = sys::ktls_rx_expect_no_pad(&sock);
    }
    Ok(Handed::Kernel(KernelTls {
        sock,
        peer_closed: false,
        closed: false,
    }))
}

/// A data connection whose records the kernel encrypts and decrypts.
pub struct KernelTls {
    sock: TcpStream,
    /// The client's close_notify came: reads return the end from now on.
    peer_closed: bool,
    /// Ours went.
    closed: bool,
}

impl KernelTls {
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// True once the client's close_notify was read: a read returns the end at once.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Sends close_notify (once).
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.closed {
            self.closed = true;
            sys::ktls_send_record(&self.sock, ALERT, &CLOSE_NOTIFY)?;
        }
        Ok(())
    }
}

impl Read for KernelTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.peer_closed {
            return Ok(0);
        }
        let (n, kind) = sys::ktls_recv(&self.sock, buf)?;
        match kind {
            APPLICATION_DATA => Ok(n),
            ALERT if n >= 2 && buf[1] == CLOSE_NOTIFY[1] => {
                self.peer_closed = true;
                Ok(0)
            }
            ALERT => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!(
                    "the client sent TLS alert {}",
                    buf.get(1).copied().unwrap_or(0)
                ),
            )),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a TLS record of type {kind} on a data connection"),
            )),
        }
    }
}

impl Write for KernelTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.sock).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A socket read a TLS record at a time (its 5-byte header, then its body), so that a
/// handshake takes in nothing past its own last record: what the client sends after its
/// Finished stays in the socket for the kernel's TLS.
pub struct Records<'a> {
    sock: &'a TcpStream,
    header: [u8; 5],
    got: usize,
    left: usize,
}

impl<'a> Records<'a> {
    pub fn new(sock: &'a TcpStream) -> Records<'a> {
        Records {
            sock,
            header: [0; 5],
            got: 0,
            left: 0,
        }
    }
}

impl Read for Records<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left > 0 {
            let want = self.left.min(buf.len());
            let n = self.sock.read(&mut buf[..want])?;
            self.left -= n;
            return Ok(n);
        }
        let want = (self.header.len() - self.got).min(buf.len());
        let n = self.sock.read(&mut buf[..want])?;
        self.header[self.got..self.got + n].copy_from_slice(&buf[..n]);
        self.got += n;
        if self.got == self.header.len() {
            self.got = 0;
            self.left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
        }
        Ok(n)
    }
}

impl Write for Records<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_layouts_are_linux_tls_h_byte_for_byte() {
        let key: Vec<u8> = (0..32).collect();
        let iv: Vec<u8> = (100..112).collect();
        let c = layout(0x0304, CHACHA20_POLY1305, &key, &iv, 7);
        assert_eq!(c.len(), 56, "tls12_crypto_info_chacha20_poly1305");
        assert_eq!(&c[..2], &0x0304u16.to_ne_bytes());
        assert_eq!(&c[2..4], &54u16.to_ne_bytes());
        assert_eq!(&c[4..16], &iv[..]);
        assert_eq!(&c[16..48], &key[..]);
        assert_eq!(&c[48..], &[0, 0, 0, 0, 0, 0, 0, 7]);
        let g = layout(0x0304, AES_GCM_128, &key[..16], &iv, 1);
        assert_eq!(g.len(), 40, "tls12_crypto_info_aes_gcm_128");
        assert_eq!(&g[4..12], &iv[4..], "iv: the nonce's last 8 bytes");
        assert_eq!(&g[12..28], &key[..16]);
        assert_eq!(&g[28..32], &iv[..4], "salt: its first 4");
        assert_eq!(&g[32..], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(layout(0x0304, AES_GCM_256, &key, &iv, 0).len(), 56);
    }

    #[test]
    fn a_handshake_reads_no_byte_past_its_record() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        // Two records (bodies of 3 and 0 bytes) and the start of a third.
        c.write_all(&[22, 3, 3, 0, 3, 1, 2, 3, 20, 3, 3, 0, 0, 23, 3])
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut r = Records::new(&s);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 13 {
            let n = r.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), 13, "two records whole, nothing more");
        let mut rest = [0u8; 2];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(rest, [23, 3], "the third record's bytes stay in the socket");
    }
}
