//! FTPS (RFC 4217): the certificate and key, and the TLS configuration each session gets.
//!
//! SECURITY: a data connection must resume a TLS session (unless `--tls-reuse optional`):
//! only the client that negotiated a session holds its secrets, so a thief who connects to
//! a passive port first makes a full handshake, which is refused (vsftpd's
//! `require_ssl_reuse`, FileZilla Server). Which sessions it may resume ([`Tls::data_ok`]):
//! its own control connection's, or one issued to another control connection of the same
//! user from the same address. That second case is rclone's and goftp's: they keep one TLS
//! session cache for their parallel control connections, so the data connection of one
//! resumes the session of another (vsftpd accepts any session of the server; here another
//! account, even behind the same NAT address, still gets 522). Tickets (TLS 1.3, and TLS
//! 1.2 clients that ask for them) are sealed with one key of the server's, and each carries
//! the id of the control connection it was issued to, sealed with it ([`SessionTickets`]);
//! [`Owners`] says whose each id is once it logged in. TLS 1.2 session IDs stay in a store
//! of each session's own, so a session resumed that way is this session's.
//!
//! SIGHUP re-reads the certificate and key ([`Certs::reload`]): new handshakes use the new
//! pair, sessions in progress go on, and a pair that fails to load keeps the old one.

use std::fmt;
use std::io;
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rustls::crypto::ring as provider;
use rustls::crypto::{CryptoProvider, KeyProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ProducesTickets, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{HandshakeKind, ServerConfig, ServerConnection};

use crate::{frame, ktls, limits};

/// The certificate chain and key, swappable on SIGHUP.
pub struct Certs {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Certs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certs({})", self.cert.display())
    }
}

/// A certificate chain and its private key as read from their PEM files, checked to belong
/// together: what the monitor process (`privsep.rs`) reads as root and hands the serving
/// process on SIGHUP, in the form [`KeyPair::encode`] gives.
pub struct KeyPair {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl KeyPair {
    /// Reads a PEM certificate chain and private key (PKCS#8, PKCS#1 RSA or SEC1 EC) that
    /// belong together, and makes them ready for handshakes (which is how they are checked).
    /// Errors are one line naming the file.
    fn read(cert: &Path, key: &Path) -> Result<(KeyPair, CertifiedKey), String> {
        let c = cert.display();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--tls-cert {c}: {}", pem_error(&e)))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--tls-cert {c}: {}", pem_error(&e)))?;
        if chain.is_empty() {
            return Err(format!("--tls-cert {c}: no PEM certificate in it"));
        }
        let k = key.display();
        let der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--tls-key {k}: {}", key_error(key, &e)))?;
        let pair = KeyPair { chain, key: der };
        let ck = pair.certified().map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                format!("--tls-key {k}: the key does not match the certificate in {c}")
            }
            rustls::Error::General(e) => format!("--tls-key {k}: {e}"),
            e => format!("--tls-key {k}: {e}"),
        })?;
        Ok((pair, ck))
    }

    /// The pair ready for handshakes.
    fn certified(&self) -> Result<CertifiedKey, rustls::Error> {
        CertifiedKey::from_der(
            self.chain.clone(),
            self.key.clone_key(),
            &provider_for_this_cpu(),
        )
    }

    /// The pair as one message of items (`frame.rs`): each certificate's DER tagged `C`,
    /// in the chain's order, then the key's DER tagged with its kind (`1` PKCS#1, `2` SEC1,
    /// `8` PKCS#8).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in &self.chain {
            frame::put(&mut out, b'C', c.as_ref());
        }
        let kind = match &self.key {
            PrivateKeyDer::Pkcs1(_) => b'1',
            PrivateKeyDer::Sec1(_) => b'2',
            _ => b'8',
        };
        frame::put(&mut out, kind, self.key.secret_der());
        out
    }

    /// The inverse of [`KeyPair::encode`]; `None` for anything else.
    pub fn decode(mut msg: &[u8]) -> Option<KeyPair> {
        let mut chain = Vec::new();
        let key = loop {
            let (tag, der) = frame::take(&mut msg)??;
            let der = der.to_vec();
            match tag {
                b'C' => chain.push(CertificateDer::from(der)),
                b'1' => break PrivateKeyDer::Pkcs1(der.into()),
                b'2' => break PrivateKeyDer::Sec1(der.into()),
                b'8' => break PrivateKeyDer::Pkcs8(der.into()),
                _ => return None,
            }
        };
        (msg.is_empty() && !chain.is_empty()).then_some(KeyPair { chain, key })
    }
}

/// A key file that did not load: an encrypted key says so (rustls reads no encrypted keys;
/// `openssl pkey -in KEY -out PLAIN` writes one that loads).
fn key_error(key: &Path, e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    // Both forms: PKCS#8 "ENCRYPTED PRIVATE KEY" and the older "Proc-Type: 4,ENCRYPTED".
    if !matches!(e, Error::Io(_))
        && std::fs::read(key).is_ok_and(|t| t.windows(9).any(|w| w == b"ENCRYPTED"))
    {
        return "an encrypted key, which is not supported: write it unencrypted with \
                openssl pkey -in KEY -out PLAIN-KEY (and keep that file mode 0600)"
            .into();
    }
    pem_error(e)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM item of the right kind in it".into(),
        e => format!("not a PEM file ({e})"),
    }
}

impl Certs {
    /// Loads the pair at start-up.
    pub fn load(cert: &Path, key: &Path) -> Result<Certs, String> {
        let (_, ck) = KeyPair::read(cert, key)?;
        Ok(Certs {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(ck)),
        })
    }

    /// Reads the pair again; on failure the old one stays. Returns the pair read (which
    /// the monitor hands the serving process).
    pub fn reload(&self) -> Result<KeyPair, String> {
        let (pair, ck) = KeyPair::read(&self.cert, &self.key)?;
        self.put(ck);
        Ok(pair)
    }

    /// Makes `pair` (from the monitor, `privsep.rs`) the one new handshakes use.
    pub fn install(&self, pair: &KeyPair) -> Result<(), String> {
        self.put(pair.certified().map_err(|e| format!("--tls-key: {e}"))?);
        Ok(())
    }

    fn put(&self, ck: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
    }

    fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Hands every handshake the pair loaded last.
#[derive(Debug)]
struct Resolver(Arc<Certs>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

/// The server's TLS settings, from which each session's configuration is made.
#[derive(Clone)]
pub struct Tls {
    base: Arc<ServerConfig>,
    /// The ticket key (made anew at each start).
    tickets: Arc<dyn ProducesTickets>,
    owners: Arc<Owners>,
}

/// A session's tickets: the server's ticket key, with the id of the session's control
/// connection sealed in each ticket it makes, and the id found in the last ticket it
/// opened. (A session's data handshakes come one at a time.)
#[derive(Debug)]
struct SessionTickets {
    key: Arc<dyn ProducesTickets>,
    /// This session's control connection id (0 before AUTH TLS).
    own: AtomicU32,
    /// The id in the ticket the last handshake resumed (0: none).
    opened: AtomicU32,
}

impl ProducesTickets for SessionTickets {
    fn enabled(&self) -> bool {
        self.key.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.key.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut sealed = self.own.load(Ordering::SeqCst).to_be_bytes().to_vec();
        sealed.extend_from_slice(plain);
        self.key.encrypt(&sealed)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.key.decrypt(cipher)?;
        let (id, rest) = plain.split_at_checked(4)?;
        let id = u32::from_be_bytes(id.try_into().ok()?);
        self.opened.store(id, Ordering::SeqCst);
        Some(rest.to_vec())
    }
}

/// Whose each control connection's TLS session is: its id (in the resumption data of the
/// tickets it was issued), its address and, once it logged in, its user. Entries stay
/// after their session ends (its tickets may still be used by the client's other control
/// connections); the oldest goes first past [`limits::TLS_OWNERS`].
#[derive(Default)]
struct Owners {
    last_id: AtomicU32,
    table: Mutex<Vec<Owner>>,
    /// Signalled at each login (see [`Tls::data_ok`]).
    logins: Condvar,
}

struct Owner {
    id: u32,
    peer: IpAddr,
    /// None until the control connection logs in.
    user: Option<String>,
}

impl Owners {
    fn lock(&self) -> MutexGuard<'_, Vec<Owner>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether this CPU has AES instructions (AES-GCM is then the fastest cipher; without
/// them, as on most router ARM and MIPS cores, ChaCha20-Poly1305 is several times faster).
fn cpu_has_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The ring provider without what pulls in Ed25519, which LTO then leaves out: ring's
/// Ed25519 with its precomputed tables is 35 KiB on armv7 and 53 KiB on mipsel, needed
/// only to load Ed25519 keys (no certificate authority issues them) and to verify
/// signatures (the server verifies none: no client certificates). Everything else
/// stays, as its cost is small (all AES-256-GCM suites and P-384 key exchange: 0.1 KiB each):
/// TLS 1.3 and 1.2 with AES-GCM and ChaCha20-Poly1305, X25519, P-256 and P-384, RSA and
/// ECDSA keys.
///
/// The order is the server's (see [`Tls::new`]), for the router's CPU: ChaCha20-Poly1305
/// first on one without AES instructions; AES-128-GCM first on one with them, 10 rounds of
/// AES a block against AES-256's 14 (the aarch64 board, the kernel's TLS: RETR FTPS 13.0
/// to 12.1 million instructions a MiB, STOR 13.3 to 12.7). Each is a suite TLS 1.3 itself
/// defines; Go's TLS server picks the same way.
fn provider_for_this_cpu() -> CryptoProvider {
    use rustls::CipherSuite as S;
    let first = if cpu_has_aes() {
        [
            S::TLS13_AES_128_GCM_SHA256,
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ]
    } else {
        [
            S::TLS13_CHACHA20_POLY1305_SHA256,
            S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ]
    };
    let mut suites = provider::ALL_CIPHER_SUITES.to_vec();
    // A stable sort: the rest keeps ring's order.
    suites.sort_by_key(|s| !first.contains(&s.suite()));
    // Built field by field: starting from default_provider() and replacing fields kept
    // Ed25519 in the binary.
    CryptoProvider {
        cipher_suites: suites,
        kx_groups: provider::ALL_KX_GROUPS.to_vec(),
        signature_verification_algorithms: WebPkiSupportedAlgorithms {
            all: &[],
            mapping: &[],
        },
        secure_random: provider::default_provider().secure_random,
        key_provider: &Keys,
    }
}

/// Loads RSA (PKCS#1 or PKCS#8) and ECDSA (SEC1 or PKCS#8, P-256 or P-384) keys; not
/// Ed25519, which certificate authorities don't issue for.
#[derive(Debug)]
struct Keys;

impl KeyProvider for Keys {
    fn load_private_key(
        &self,
        der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        if let Ok(rsa) = provider::sign::RsaSigningKey::new(&der) {
            return Ok(Arc::new(rsa));
        }
        provider::sign::any_ecdsa_type(&der)
            .map_err(|_| rustls::Error::General("not an RSA or ECDSA private key".into()))
    }
}

impl Tls {
    pub fn new(certs: Arc<Certs>) -> Tls {
        let aes = cpu_has_aes();
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider_for_this_cpu()))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(certs)));
        // The server's CPU is the one that counts: our order beats the client's.
        config.ignore_client_order = true;
        // One ticket key for the server (see the module doc); without one, no tickets.
        let tickets = provider::Ticketer::new().unwrap_or_else(|_| Arc::clone(&config.ticketer));
        log::info!(
            "FTPS on; {} preferred",
            if aes {
                "AES-128-GCM"
            } else {
                "ChaCha20-Poly1305"
            }
        );
        Tls {
            base: Arc::new(config),
            tickets,
            owners: Arc::default(),
        }
    }

    /// A configuration for one session: the server's certificate and ticket key, a TLS 1.2
    /// session store of its own (see the module doc).
    ///
    /// Two configurations sharing that store: the control connection's, and the data
    /// connections', which send no TLS 1.3 tickets (a client that only uploads never reads
    /// them, and closing a socket with unread bytes resets it: the end of the upload lost).
    pub fn for_session(&self) -> SessionConfigs {
        let tickets = Arc::new(SessionTickets {
            key: Arc::clone(&self.tickets),
            own: AtomicU32::new(0),
            opened: AtomicU32::new(0),
        });
        let mut c = (*self.base).clone();
        c.session_storage = ServerSessionMemoryCache::new(limits::TLS_SESSIONS_PER_SESSION);
        c.ticketer = Arc::clone(&tickets) as Arc<dyn ProducesTickets>;
        let mut d = c.clone();
        d.send_tls13_tickets = 0;
        // SECURITY: a data connection's keys may go to the kernel (ktls.rs), nowhere else.
        d.enable_secret_extraction = ktls::available() != 0;
        SessionConfigs {
            control: Arc::new(c),
            data: Arc::new(d),
            tickets,
        }
    }
}

/// A session's TLS configurations (see [`Tls::for_session`]).
pub struct SessionConfigs {
    pub control: Arc<ServerConfig>,
    data: Arc<ServerConfig>,
    tickets: Arc<SessionTickets>,
}

impl SessionConfigs {
    /// The control connection's TLS session is `id`'s (see [`Tls::control_id`]): so are the
    /// tickets it gets.
    pub fn set_control_id(&self, id: u32) {
        self.tickets.own.store(id, Ordering::SeqCst);
    }

    /// The handshake of a data connection; the session it resumed is checked by
    /// [`Tls::data_ok`].
    /// The socket's timeouts are the caller's, set before.
    /// Where the kernel has TLS for the cipher agreed, the keys then go to it
    /// (`ktls.rs`): the data moves as on a plain socket.
    pub fn accept_data(&self, sock: TcpStream) -> io::Result<TlsStream> {
        self.tickets.opened.store(0, Ordering::SeqCst);
        let s = accept(&self.data, sock)?;
        if self.data.enable_secret_extraction {
            s.into_kernel()
        } else {
            Ok(s)
        }
    }
}

impl Tls {
    /// An id for a new control connection's TLS session (see [`accept`]).
    /// (A u32: 32-bit MIPS has no 64-bit atomics. After 4 billion handshakes an id comes
    /// again, by which time its old owner left the table long ago; 0 is never one.)
    pub fn control_id(&self) -> u32 {
        let id = self
            .owners
            .last_id
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if id == 0 { self.control_id() } else { id }
    }

    /// The control connection `id` from `peer` finished its handshake (`user`: None), or
    /// logged in as `user`.
    pub fn owner(&self, id: u32, peer: IpAddr, user: Option<&str>) {
        let mut t = self.owners.lock();
        t.retain(|o| o.id != id);
        if t.len() >= limits::TLS_OWNERS {
            t.remove(0);
        }
        t.push(Owner {
            id,
            peer,
            user: user.map(str::to_string),
        });
        if user.is_some() {
            self.owners.logins.notify_all();
        }
    }

    /// SECURITY: a data connection `s` of the session `configs` is served only when it
    /// resumed a TLS session of that session's control connection, or of another control
    /// connection that logged in as the same user from the same address (unless
    /// `reuse_required` is false). A session resumed from a ticket says whose it was; one
    /// resumed by TLS 1.2 session ID came from this session's own store.
    pub fn data_ok(&self, s: &TlsStream, configs: &SessionConfigs, reuse_required: bool) -> bool {
        if !reuse_required {
            return true;
        }
        if !s.resumed {
            return false;
        }
        let own = configs.tickets.own.load(Ordering::SeqCst);
        let id = configs.tickets.opened.swap(0, Ordering::SeqCst);
        if id == 0 || id == own {
            return true;
        }
        // A sibling that finished its handshake may still be logging in (rclone opens
        // its connections in parallel and resumes the newest ticket): wait a little for its
        // login, never for a connection that does not log in as this user.
        let deadline = Instant::now() + Duration::from_millis(limits::TLS_OWNER_WAIT_MS);
        let mut t = self.owners.lock();
        loop {
            let find = |t: &[Owner], id: u32| {
                t.iter()
                    .find(|o| o.id == id)
                    .map(|o| (o.peer, o.user.clone()))
            };
            let (Some(mine), Some(theirs)) = (find(&t, own), find(&t, id)) else {
                return false;
            };
            if theirs.1.is_some() {
                return mine == theirs;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if mine.0 != theirs.0 || left.is_zero() {
                return false;
            }
            t = self
                .owners
                .logins
                .wait_timeout(t, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Runs a server-side handshake on `sock` to the end, each read and write bounded by the
/// timeouts the caller set on the socket before (the socket keeps them; the caller sets its
/// next phase's).
///
/// The socket is read a record at a time, so that nothing past the handshake is taken in
/// (a data connection's keys may go to the kernel, which must then find the client's first
/// data in the socket: `ktls::Records`).
pub fn accept(config: &Arc<ServerConfig>, sock: TcpStream) -> io::Result<TlsStream> {
    let mut conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    // Records go out whole and at once: with Nagle's algorithm the tail of each write
    // waited for the peer's delayed ACK (a TLS download ran at a tenth of its speed).
    let _ = sock.set_nodelay(true);
    let mut r = ktls::Records::new(&sock);
    while conn.is_handshaking() {
        conn.complete_io(&mut r)?;
    }
    let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
    Ok(TlsStream {
        inner: Inner::User(rustls::StreamOwned::new(conn, sock)),
        resumed,
    })
}

/// A TLS connection over a socket: what `net::Stream` needs of it, so that only this module
/// drives rustls.
pub struct TlsStream {
    inner: Inner,
    /// The handshake resumed a session (see [`Tls::data_ok`]).
    resumed: bool,
}

// (TlsStream lives in a Box already: net::Stream::Tls.)
#[allow(clippy::large_enum_variant)]
enum Inner {
    /// rustls encrypts and decrypts.
    User(rustls::StreamOwned<ServerConnection, TcpStream>),
    /// The kernel does (a data connection, `ktls.rs`).
    Kernel(ktls::KernelTls),
}

impl TlsStream {
    /// The socket under the connection.
    pub fn socket(&self) -> &TcpStream {
        match &self.inner {
            Inner::User(s) => &s.sock,
            Inner::Kernel(k) => k.socket(),
        }
    }

    /// The connection with its keys given to the kernel where it takes them
    /// (`ktls::hand_over`), else as it was.
    fn into_kernel(self) -> io::Result<TlsStream> {
        let Inner::User(s) = self.inner else {
            return Ok(self);
        };
        let inner = match ktls::hand_over(Box::new(s.conn), s.sock)? {
            ktls::Handed::Kernel(k) => Inner::Kernel(k),
            ktls::Handed::Kept(conn, sock) => Inner::User(rustls::StreamOwned::new(*conn, sock)),
        };
        Ok(TlsStream {
            inner,
            resumed: self.resumed,
        })
    }

    /// The socket, when the kernel encrypts: bytes may then be spliced to and from it.
    pub fn kernel_socket(&self) -> Option<&TcpStream> {
        match &self.inner {
            Inner::User(_) => None,
            Inner::Kernel(k) => Some(k.socket()),
        }
    }

    /// True when a read would not wait for the socket: decrypted bytes wait, or the peer's
    /// close_notify (or a TLS error) was already taken in.
    pub fn has_buffered(&mut self) -> bool {
        match &mut self.inner {
            Inner::User(s) => s.conn.process_new_packets().map_or(true, |s| {
                s.plaintext_bytes_to_read() > 0 || s.peer_has_closed()
            }),
            Inner::Kernel(k) => k.peer_closed(),
        }
    }

    /// Sends close_notify and everything still queued.
    pub fn finish(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::User(s) => {
                s.conn.send_close_notify();
                send_queued(s)
            }
            Inner::Kernel(k) => k.finish(),
        }
    }
}

fn send_queued(s: &mut rustls::StreamOwned<ServerConnection, TcpStream>) -> io::Result<()> {
    while s.conn.wants_write() {
        s.conn.write_tls(&mut s.sock)?;
    }
    Ok(())
}

impl io::Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::User(s) => s.read(buf),
            Inner::Kernel(k) => k.read(buf),
        }
    }
}

impl io::Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::User(s) => {
                // One record at a time, sent at once: the caller polls the socket, not rustls.
                let n = s.conn.writer().write(buf)?;
                send_queued(s)?;
                Ok(n)
            }
            Inner::Kernel(k) => k.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::User(s) => s.flush(),
            Inner::Kernel(k) => k.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate and key of `kind` (`ec`, `rsa`, `rsa1`: PKCS#1) made by openssl in a
    /// folder of the test's own.
    fn pair(kind: &str) -> (PathBuf, PathBuf) {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tls-unit-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let newkey = match kind {
            "ec" => "ec -pkeyopt ec_paramgen_curve:prime256v1",
            _ => "rsa:2048",
        };
        let mut cmd = format!(
            "openssl req -x509 -newkey {newkey} -nodes -days 2 -subj /CN=unit \
             -keyout {0}/key.pem -out {0}/cert.pem 2>/dev/null",
            dir.display()
        );
        if kind == "rsa1" {
            cmd.push_str(&format!(
                " && openssl rsa -traditional -in {0}/key.pem -out {0}/key.pem 2>/dev/null",
                dir.display()
            ));
        }
        let ok = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl: {cmd}");
        (cert, key)
    }

    #[test]
    fn a_key_pair_crosses_the_link_whole_and_is_refused_cut_short() {
        for kind in ["ec", "rsa", "rsa1"] {
            let (cert, key) = pair(kind);
            let (sent, _) = KeyPair::read(&cert, &key).unwrap();
            let msg = sent.encode();
            let got = KeyPair::decode(&msg).expect(kind);
            assert_eq!(got.chain, sent.chain, "{kind}");
            assert_eq!(got.key.secret_der(), sent.key.secret_der(), "{kind}");
            assert_eq!(
                std::mem::discriminant(&got.key),
                std::mem::discriminant(&sent.key),
                "{kind}: the key's kind"
            );
            assert!(got.certified().is_ok(), "{kind}: ready for handshakes");
            for cut in [1, 5, msg.len() / 2, msg.len() - 1] {
                assert!(
                    KeyPair::decode(&msg[..cut]).is_none(),
                    "{kind}: cut at {cut}"
                );
            }
            let mut longer = msg.clone();
            frame::put(&mut longer, b'C', b"x");
            assert!(
                KeyPair::decode(&longer).is_none(),
                "{kind}: an item after the key"
            );
            let _ = std::fs::remove_dir_all(cert.parent().unwrap());
        }
        // A key with no certificate, and an unknown tag.
        let mut msg = Vec::new();
        frame::put(&mut msg, b'8', b"key");
        assert!(KeyPair::decode(&msg).is_none());
        let mut msg = Vec::new();
        frame::put(&mut msg, b'Z', b"?");
        assert!(KeyPair::decode(&msg).is_none());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let (cert, _) = pair("ec");
        let (_, other_key) = pair("rsa");
        let e = KeyPair::read(&cert, &other_key).err().unwrap();
        assert!(e.starts_with("--tls-key "), "{e}");
        assert!(e.contains("does not match the certificate"), "{e}");
        let _ = std::fs::remove_dir_all(cert.parent().unwrap());
        let _ = std::fs::remove_dir_all(other_key.parent().unwrap());
    }

    #[test]
    fn a_handshake_that_meets_no_client_ends_at_the_socket_timeout() {
        // The timeouts are the caller's, set before accept (net::set_timeouts): a client
        // that connects and says nothing holds the handshake only that long.
        let (cert, key) = pair("ec");
        let tls = Tls::new(Arc::new(Certs::load(&cert, &key).unwrap()));
        let configs = tls.for_session();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (sock, _) = l.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let started = Instant::now();
        let e = configs.accept_data(sock).err().unwrap();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(cert.parent().unwrap());
    }
}
