//! Data connections and transfers.
//!
//! Passive listeners come only from the configured port range (a router's firewall opens
//! exactly that range); active connections go only back to the control connection's peer.
//! Both trust decisions are the pure functions [`active_target_allowed`] and
//! [`passive_peer_allowed`], side by side. Transfers watch the control connection between
//! chunks so ABOR stops them, and a data timeout ends a stalled peer. Binary transfers over
//! a plain socket use splice(2) through a pipe: a download's file pages go to the socket, and
//! an upload's socket buffers to the file, without passing through user space. This module
//! knows nothing of commands or replies: a transfer ends in `Ok` or a [`Fail`].

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};

use crate::net::timespec;
use crate::reply::Fail;

mod transfer;

pub use transfer::{Transfer, Watch};

/// How the next data connection will be made.
#[derive(Default)]
pub enum Setup {
    #[default]
    None,
    /// A listener and its port.
    Passive(TcpListener, u16),
    Active(SocketAddr),
}

/// How a transfer ended: `Ok` when every byte was moved.
pub type Done = Result<(), Fail>;

/// SECURITY: active mode connects only back to the control connection's peer and only to
/// unprivileged ports; anything else would let a client use us to attack a third host (the
/// FTP bounce attack) or our own privileged services.
pub fn active_target_allowed(peer: IpAddr, target: SocketAddr) -> bool {
    target.ip().to_canonical() == peer && target.port() >= 1024
}

/// SECURITY: a passive data connection is served only when it comes from the control
/// connection's peer; from any other address it could be someone stealing the file.
pub fn passive_peer_allowed(peer: IpAddr, from: SocketAddr) -> bool {
    from.ip().to_canonical() == peer
}

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

/// Binds a passive listener on `ip` with a port from `min..=max`; returns it and its port.
/// Starts where the last session left off so consecutive sessions don't all probe the same
/// ports. The listener is non-blocking from the start (accept waits in poll).
pub fn listen_passive(ip: IpAddr, min: u16, max: u16) -> io::Result<(TcpListener, u16)> {
    let span = u32::from(max - min) + 1;
    let start = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    for i in 0..span {
        let port = min + ((start.wrapping_add(i)) % span) as u16;
        match bind_listener(SocketAddr::new(ip, port)) {
            Ok(l) => {
                NEXT_PORT.store(start.wrapping_add(i + 1), Ordering::Relaxed);
                return Ok((l, port));
            }
            Err(rustix::io::Errno::ADDRINUSE) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "passive port range exhausted",
    ))
}

/// A non-blocking, close-on-exec TCP listener on `at` (SO_REUSEADDR, as std's bind does).
fn bind_listener(at: SocketAddr) -> rustix::io::Result<TcpListener> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, sockopt};
    let family = if at.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &at)?;
    rustix::net::listen(&fd, 128)?;
    Ok(TcpListener::from(fd))
}

/// Makes a kept passive listener ready for another transfer: connections that wait in its
/// queue came before this PASV/EPSV was answered and are nobody's to be served (SECURITY:
/// a peer that connected ahead must not get the next file). False when the listener is
/// unusable.
pub fn reuse_passive(l: &TcpListener) -> bool {
    loop {
        match l.accept() {
            Ok((s, from)) => {
                log::info!("stray data connection from {from} closed unserved");
                drop(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

/// Waits for the client's data connection on a passive listener. A connection that
/// [`passive_peer_allowed`] refuses is closed unserved, and we keep waiting for the client.
pub fn accept_passive(l: &TcpListener, peer: IpAddr, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no data connection",
            ));
        }
        let mut fds = [PollFd::new(l, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timespec(left))) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        match l.accept() {
            Ok((s, from)) => {
                if !passive_peer_allowed(peer, from) {
                    log::warn!("data connection from {from} refused: the client is {peer}");
                    continue;
                }
                // (Blocking: on Linux an accepted socket doesn't inherit O_NONBLOCK.)
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Connects to the client for an active-mode transfer (the caller checked the address with
/// [`active_target_allowed`]).
pub fn connect_active(to: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(&to, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_mode_goes_only_back_to_the_client() {
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let ok = |a: &str| active_target_allowed(peer, a.parse().unwrap());
        assert!(ok("192.0.2.7:1024"));
        assert!(ok("[::ffff:192.0.2.7]:40000"));
        assert!(!ok("192.0.2.7:1023"), "a privileged port");
        assert!(!ok("192.0.2.7:21"));
        assert!(!ok("192.0.2.8:40000"), "a third host (bounce)");
        assert!(!ok("127.0.0.1:40000"));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(active_target_allowed(
            v6,
            "[2001:db8::1]:5000".parse().unwrap()
        ));
        assert!(!active_target_allowed(
            v6,
            "[2001:db8::2]:5000".parse().unwrap()
        ));
    }

    #[test]
    fn passive_connections_only_from_the_client() {
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        let ok = |a: &str| passive_peer_allowed(peer, a.parse().unwrap());
        assert!(ok("192.0.2.7:5555"));
        assert!(ok("[::ffff:192.0.2.7]:5555"));
        assert!(!ok("192.0.2.77:5555"), "a thief on another address");
        assert!(!ok("[2001:db8::7]:5555"));
    }
}
