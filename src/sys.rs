//! The few system calls the standard library and rustix don't offer safely: signal
//! dispositions, masks and waits; fork, exec of the program itself and spawning the
//! `--on-upload` program; dropping privileges; giving back idle stack; asking whether a
//! client closed its socket (poll's POLLRDHUP), TCP_NOTSENT_LOWAT, writing a file's data
//! pages alone (sync_file_range), and installing the sessions' system call filter
//! (seccomp). Every `unsafe` block of the program is in this file.

use std::io;

/// Ignores SIGXFSZ, so a write over RLIMIT_FSIZE fails with EFBIG (a 552 reply) instead of
/// killing the whole server.
pub fn ignore_sigxfsz() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code and
    // touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Starts `program` with the one argument `arg` and exactly the environment `env`
/// (`NAME=value`), stdin, stdout and stderr on /dev/null, from `/`, with `umask`, no
/// signal blocked and SIGXFSZ, SIGPIPE and SIGHUP at their defaults (the server runs with
/// umask 0 and those ignored or blocked). Every descriptor of the server is close-on-exec,
/// so the program gets none of them. A fork and an execve: std::process cost the mipsel
/// binary some 34 KiB (16 KiB gzip) for what these few calls do.
pub fn spawn(
    program: &std::ffi::CStr,
    arg: &std::ffi::CStr,
    env: &[std::ffi::CString],
    umask: u32,
) -> io::Result<rustix::process::Pid> {
    let argv = [program.as_ptr(), arg.as_ptr(), std::ptr::null()];
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: everything the child uses (argv, envp, the strings) is made before the fork,
    // and the child calls only async-signal-safe functions (open, dup2, umask,
    // sigemptyset, sigprocmask, signal, chdir, execve, _exit), as a child of a
    // multi-threaded process must: no allocation, no lock.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; the pointers point into memory the parent keeps alive, and the
        // child's copy of it is its own.
        unsafe {
            let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if fd >= 0 {
                libc::dup2(fd, 0);
                libc::dup2(fd, 1);
                libc::dup2(fd, 2);
            }
            libc::umask((umask & 0o777) as libc::mode_t);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for sig in [libc::SIGXFSZ, libc::SIGPIPE, libc::SIGHUP] {
                libc::signal(sig, libc::SIG_DFL);
            }
            libc::chdir(c"/".as_ptr());
            libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => Ok(p),
        None => Err(io::Error::last_os_error()),
    }
}

/// Runs this process's own program again (`/proc/self/exe`) with `args` (argv, the first
/// one included) and the same environment, in place: same pid, and the signal mask and
/// ignored signals kept. Returns only on failure. (std::process's exec would cost the
/// mipsel binary some 10 KiB gzip, as `spawn` says of it.)
pub fn exec_self(args: &[std::ffi::CString]) -> io::Error {
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: argv is a null-terminated array of pointers to NUL-terminated strings that
    // outlive the call; execv returns only on failure, and then nothing has changed.
    unsafe {
        libc::execv(c"/proc/self/exe".as_ptr(), argv.as_ptr());
    }
    io::Error::last_os_error()
}

/// Whether the peer of socket `fd` has closed its side or reset the connection (the kernel
/// knows at once, whatever is still unread). Only asks: reads and changes nothing.
pub fn peer_closed(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: poll reads and writes only the one pollfd we own, for its duration; a
    // descriptor number that is not open gives POLLNVAL, never touches anything else.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Ignores SIGHUP (under `--inetd`, where there is nothing to reload).
pub fn ignore_sighup() {
    // SAFETY: as for SIGXFSZ above.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

/// Signal numbers the signal thread and the monitor process (`privsep.rs`) tell apart.
pub const SIGHUP: i32 = libc::SIGHUP;
pub const SIGTERM: i32 = libc::SIGTERM;
pub const SIGINT: i32 = libc::SIGINT;
pub const SIGCHLD: i32 = libc::SIGCHLD;
pub const SIGUSR1: i32 = libc::SIGUSR1;

/// A set of signals, as returned by [`block_signals`].
pub struct SigSet(libc::sigset_t);

// SAFETY: a sigset_t is plain data.
unsafe impl Send for SigSet {}

/// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread (and threads it
/// starts later), for the signal thread to take with [`wait_signal`].
pub fn block_server_signals() -> io::Result<SigSet> {
    block_signals(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1])
}

/// Blocks `signals` in the calling thread (and threads it starts later) and returns them
/// as a set for [`wait_signal`].
pub fn block_signals(signals: &[i32]) -> io::Result<SigSet> {
    sigmask(libc::SIG_BLOCK, signals)
}

/// Unblocks `signals` in the calling thread.
pub fn unblock_signals(signals: &[i32]) -> io::Result<()> {
    sigmask(libc::SIG_UNBLOCK, signals).map(|_| ())
}

fn sigmask(how: libc::c_int, signals: &[i32]) -> io::Result<SigSet> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use; the pointers
    // are to locals that outlive the calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        let r = libc::pthread_sigmask(how, &set, std::ptr::null_mut());
        if r != 0 {
            return Err(io::Error::from_raw_os_error(r));
        }
        Ok(SigSet(set))
    }
}

/// Waits up to `timeout` for one of the signals in `set` (blocked beforehand); `None` when
/// none came.
pub fn wait_signal_for(set: &SigSet, timeout: std::time::Duration) -> Option<i32> {
    // SAFETY: timespec is plain data, all zeros a valid value (some 32-bit targets have
    // private padding fields, so it can't be built field by field).
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = timeout.as_secs().min(i32::MAX as u64) as _;
    ts.tv_nsec = timeout.subsec_nanos() as _;
    // SAFETY: the set and the timespec are locals valid for the call; no siginfo is asked
    // for (null).
    let r = unsafe { libc::sigtimedwait(&set.0, std::ptr::null_mut(), &ts) };
    (r > 0).then_some(r)
}

/// Which side of a [`fork`] this is.
pub enum Forked {
    Child,
    Parent(rustix::process::Pid),
}

/// fork(2). Only called while the process has one thread (the monitor process, before the
/// serving process starts any): the child is then a whole copy, with no lock held by a
/// thread that does not exist in it.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the process is single-threaded here (see above), so the child may go on
    // running ordinary Rust code, allocator included; no memory is passed.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(
            rustix::process::Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork"))?,
        )),
    }
}

/// Waits for one of the signals in `set` (blocked beforehand) and returns its number.
pub fn wait_signal(set: &SigSet) -> i32 {
    let mut sig: libc::c_int = 0;
    loop {
        // SAFETY: both pointers are valid for the duration of the call.
        let r = unsafe { libc::sigwait(&set.0, &mut sig) };
        if r == 0 {
            return sig;
        }
    }
}

/// Switches the process to `uid`/`gid` with no supplementary groups. Called before any
/// other thread exists, so the change applies to the whole process.
pub fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain system calls with integer arguments; setgroups gets a null list of
    // length 0.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setgid(gid) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::setuid(uid) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SECURITY: make sure root can't be regained.
    if rustix::process::getuid().as_raw() != uid || (uid != 0 && libc_setuid_root_succeeds()) {
        return Err(io::Error::other("privileges were not dropped"));
    }
    Ok(())
}

fn libc_setuid_root_succeeds() -> bool {
    // SAFETY: setuid(0) only succeeds if we still hold privileges, which is what we check.
    unsafe { libc::setuid(0) == 0 }
}

/// Gives the kernel back the pages of the calling thread's stack below the current frame,
/// less [`TRIM_MARGIN`] for the calls made from here: they are zero-filled again when
/// touched, as fresh stack is. A session idling after a TLS handshake or a listing
/// otherwise keeps the 10–20 KiB those touched resident for as long as it idles. Does
/// nothing on the main thread (`--inetd`), whose bounds libc finds only by reading
/// /proc/self/maps, or when the bounds can't be had.
#[inline(never)]
pub fn trim_stack() {
    if rustix::thread::gettid() == rustix::process::getpid() {
        return;
    }
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread (a thread of ours
    // started by std, so the attributes exist), getstack reads it into locals, and it is
    // destroyed once; sysconf has no memory effects.
    let (low, size, page) = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return;
        }
        let mut addr = std::ptr::null_mut();
        let mut size = 0;
        let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        let page = libc::sysconf(libc::_SC_PAGESIZE);
        if r != 0 || page <= 0 {
            return;
        }
        (addr as usize, size, page as usize)
    };
    if here < low + 2 * TRIM_MARGIN || here >= low + size {
        return;
    }
    let end = (here - TRIM_MARGIN) & !(page - 1);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) lies inside this thread's own stack (low is its lowest usable
    // address, above the guard page) and at least TRIM_MARGIN below this frame, with `end`
    // page-aligned so the kernel zaps nothing past it; the only frames below this one are
    // the madvise call's own, well inside the margin. Stack below the deepest live frame
    // holds nothing anyone points to, and MADV_DONTNEED on private anonymous memory makes
    // it read as zeros again.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// Stack kept below the frame of [`trim_stack`]: room for the madvise call it makes.
const TRIM_MARGIN: usize = 2048;

/// Sets TCP_NOTSENT_LOWAT on a socket: a write blocks (and poll reports it unwritable)
/// while more than `bytes` sit in the send queue unsent.
#[cfg(feature = "tls")]
pub fn set_notsent_lowat(sock: &impl std::os::fd::AsRawFd, bytes: u32) -> io::Result<()> {
    let v: libc::c_int = bytes.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: the option value is a local c_int whose size is passed with it; the fd is
    // an open socket borrowed for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NOTSENT_LOWAT,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Writes a file's dirty data pages to the disk and, with `wait`, waits for them; nothing
/// else: not its size, not the filesystem's metadata (so it may run alongside another
/// file's rename; the fdatasync that follows it then has only the metadata left to write).
/// Without `wait` it only starts their writing (an upload in progress).
pub fn sync_data(file: &std::fs::File, wait: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = if wait {
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER
    } else {
        libc::SYNC_FILE_RANGE_WRITE
    };
    // SAFETY: plain system call on an open descriptor borrowed for the call; no memory is
    // passed.
    let r = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The monotonic clock: (seconds, nanoseconds). Through the C library, whose vDSO look-up
/// the binary has anyway (rustix's own, on ARM, cost 2 KiB).
pub fn monotonic() -> (u64, u32) {
    let mut ts = std::mem::MaybeUninit::<libc::timespec>::zeroed();
    // SAFETY: clock_gettime writes one timespec through the pointer, to a local that lives
    // across the call; all zeroes is a valid timespec, should it fail (it can't for
    // CLOCK_MONOTONIC).
    let ts = unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, ts.as_mut_ptr());
        ts.assume_init()
    };
    (ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// statx(2) of `name` in `dir`, a symlink itself (no follow), its basic fields handed to
/// `read` where the kernel wrote them. rustix's statx returns its 256-byte buffer by value:
/// on mipsel that copy cost 412 instructions an entry of a listing (a tenth of the
/// server's own work for it). ENOSYS before Linux 4.11.
///
/// `name` is the name with its NUL after it (a `CStr`'s `to_bytes_with_nul`, or a listing's
/// names as they are kept: making a `CStr` of them would look for a NUL in every name
/// again, 128 instructions an entry on mipsel); the kernel reads it up to its first NUL.
/// Without a NUL at its end it is refused (EINVAL).
pub fn statx_nofollow<T>(
    dir: &impl std::os::fd::AsRawFd,
    name: &[u8],
    read: impl FnOnce(&libc::statx) -> T,
) -> io::Result<T> {
    if name.last() != Some(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut buf = std::mem::MaybeUninit::<libc::statx>::uninit();
    // SAFETY: statx writes at most one `struct statx` through the pointer, which points to
    // one that lives across the call; `name` ends with a NUL (checked above), so the
    // kernel's read of it stays within it; `dir` is an open descriptor; all are borrowed
    // for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS,
            buf.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statx returned 0, so the kernel wrote the whole struct (cp_statx copies all of
    // it, the fields outside the mask zeroed).
    Ok(read(unsafe { buf.assume_init_ref() }))
}

/// The kernel's TLS (net/tls, "kTLS"): the socket option numbers of linux/tls.h.
#[cfg(feature = "tls")]
mod tls_abi {
    pub const TLS_TX: libc::c_int = 1;
    pub const TLS_RX: libc::c_int = 2;
    /// TLS 1.3 receive: records carry no padding, so each is decrypted straight into the
    /// reader's buffer (Linux 6.0; a padded one is decrypted again the slow way).
    pub const TLS_RX_EXPECT_NO_PAD: libc::c_int = 4;
    /// cmsg type of a record sent (sendmsg) and of a record received (recvmsg).
    pub const TLS_SET_RECORD_TYPE: libc::c_int = 1;
    pub const TLS_GET_RECORD_TYPE: libc::c_int = 2;
    /// Room for one cmsg of one byte on any target (its header is 12 or 16 bytes).
    pub const CMSG_ROOM: usize = 32;
}

/// Hands an established TCP socket to the kernel's TLS ("tls" upper-layer protocol):
/// bytes still pass as they are until [`ktls_keys`] sets a direction's keys.
#[cfg(feature = "tls")]
pub fn ktls_attach(sock: &impl std::os::fd::AsFd) -> io::Result<()> {
    set_bytes(sock, libc::IPPROTO_TCP, libc::TCP_ULP, b"tls")
}

/// Sets the kernel's TLS keys of one direction (`send`: TLS_TX, else TLS_RX); `info` is a
/// `tls12_crypto_info_*` of linux/tls.h, laid out byte for byte by the caller.
#[cfg(feature = "tls")]
pub fn ktls_keys(sock: &impl std::os::fd::AsFd, send: bool, info: &[u8]) -> io::Result<()> {
    use tls_abi::{TLS_RX, TLS_TX};
    set_bytes(
        sock,
        libc::SOL_TLS,
        if send { TLS_TX } else { TLS_RX },
        info,
    )
}

/// TLS 1.3 receive with the kernel's TLS: decrypt each record straight into the reader's
/// buffer instead of into the kernel's and then copying it (TLS_RX_EXPECT_NO_PAD). Neither
/// curl's, lftp's, Python's nor rustls's records are padded; a padded one costs a second
/// decryption (and on MIPS a wrong page: see `ktls::RX_NO_PAD`). ENOPROTOOPT before Linux
/// 6.0.
#[cfg(feature = "tls")]
pub fn ktls_rx_expect_no_pad(sock: &impl std::os::fd::AsFd) -> io::Result<()> {
    set_bytes(
        sock,
        libc::SOL_TLS,
        tls_abi::TLS_RX_EXPECT_NO_PAD,
        &1u32.to_ne_bytes(),
    )
}

#[cfg(feature = "tls")]
fn set_bytes(
    sock: &impl std::os::fd::AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `value` is a live slice of `value.len()` bytes that the kernel only reads
    // (it copies the option in); the descriptor is borrowed, so open for the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_fd().as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `payload` as one TLS record of `record_type` through the kernel's TLS (an alert:
/// 21), which encrypts it with the socket's keys.
#[cfg(feature = "tls")]
pub fn ktls_send_record(
    sock: &impl std::os::fd::AsFd,
    record_type: u8,
    payload: &[u8],
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut control = [0u64; tls_abi::CMSG_ROOM / 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data (all zeroes is a valid empty one); the iovec points to
    // `payload` and msg_control to `control`, both alive for the call, and the kernel only
    // reads them. CMSG_FIRSTHDR of a control buffer of CMSG_ROOM bytes (more than
    // CMSG_SPACE(1) on every target) is non-null and has room for the header and a byte.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(1) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_TLS;
        (*c).cmsg_type = tls_abi::TLS_SET_RECORD_TYPE;
        (*c).cmsg_len = libc::CMSG_LEN(1) as _;
        *libc::CMSG_DATA(c) = record_type;
        libc::sendmsg(sock.as_fd().as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Reads from a socket with the kernel's TLS on receive: the bytes of one or more records of
/// one type, and that type (23 application data, 21 an alert, 22 a handshake message).
#[cfg(feature = "tls")]
pub fn ktls_recv(sock: &impl std::os::fd::AsFd, buf: &mut [u8]) -> io::Result<(usize, u8)> {
    use std::os::fd::AsRawFd;
    let mut control = [0u64; tls_abi::CMSG_ROOM / 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as in ktls_send_record; here the kernel writes into `buf` (at most its
    // length, through the iovec) and into `control` (at most msg_controllen bytes). The
    // cmsgs read back are walked with CMSG_FIRSTHDR/CMSG_NXTHDR within msg_controllen as
    // the kernel set it.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = tls_abi::CMSG_ROOM as _;
        let r = libc::recvmsg(sock.as_fd().as_raw_fd(), &mut msg, 0);
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut record_type = 23;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_TLS && (*c).cmsg_type == tls_abi::TLS_GET_RECORD_TYPE {
                record_type = *libc::CMSG_DATA(c);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok((r as usize, record_type))
    }
}

/// Installs the seccomp filter `program` (classic BPF) on the calling thread, and so on
/// every thread it starts from then on; sets no_new_privs first, as the kernel requires of
/// a process without CAP_SYS_ADMIN. A filter cannot be taken off.
pub fn install_seccomp(program: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integers only; PR_SET_SECCOMP reads
    // `prog` and the `program.len()` instructions it points to during the call (the kernel
    // copies and checks them), and both outlive it.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// musl's printf family, replaced in the static router binaries: `printf_core`, its
/// floating-point formatting and the soft-float routines it pulls in on MIPS are 18 KiB
/// of code (9.4 KiB gzip on mipsel plain, 3% of its budget). The server formats nothing
/// through the C library (its logger, replies and listings are its own, integers only);
/// what links them is code that does not run while it serves:
/// - libunwind's trace and abort messages (`fprintf` to stderr; `snprintf` of a function's
///   name for its traces): only when unwinding itself fails, and the process then aborts;
/// - the text of `dlsym`'s error (`vsnprintf` into what `dlerror` returns): std looks up a
///   few optional functions with dlsym, which in a static binary always fails, and reads
///   no error text;
/// - `pthread_setname_np` naming *another* thread (`snprintf` of a /proc path): std names
///   each thread from the thread itself, which musl does with prctl.
///
/// Each writes its format's text as it is, unformatted (fprintf to stderr; snprintf and
/// vsnprintf into the buffer, cut to fit and ended by a NUL, returning the text's length,
/// as snprintf does): a future caller gets a message's template, never nothing or garbage.
/// The replacements are only linked where they are defined (static musl builds: the
/// linker takes them before libc.a's, whose printf members are then never pulled in); a
/// glibc build uses glibc's printf. Anything new that formats through the C library needs
/// musl's printf back (delete this module; `make size` tells its cost).
#[cfg(target_env = "musl")]
mod c_format {
    use std::ffi::{CStr, c_char, c_int, c_void};

    /// Copies the text of `fmt` into `buf` (`n` bytes), cut to fit and ended by a NUL
    /// (nothing when `n` is 0); returns the text's length, as snprintf does.
    ///
    /// # Safety
    /// `fmt` is a NUL-terminated string; `buf` has room for `n` bytes, apart from `fmt`.
    unsafe fn verbatim(buf: *mut c_char, n: usize, fmt: *const c_char) -> c_int {
        // SAFETY: the caller's contract: fmt is a C string.
        let text = unsafe { CStr::from_ptr(fmt) }.to_bytes();
        if n > 0 {
            let k = text.len().min(n - 1);
            // SAFETY: k + 1 <= n bytes of buf are written, which has room for n; k bytes
            // are read from text, which has at least k; the two do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), k);
                buf.add(k).write(0);
            }
        }
        c_int::try_from(text.len()).unwrap_or(c_int::MAX)
    }

    /// `int snprintf(char *buf, size_t n, const char *fmt, ...)`: the variadic arguments
    /// are never read, and under the C calling conventions of the musl targets (MIPS o32,
    /// ARM EABI, AArch64) a function may ignore arguments its caller passed.
    // SAFETY: the symbol replaces libc's snprintf with the same fixed parameters (see the
    // module's note); callers pass what snprintf requires, which is what verbatim requires.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn snprintf(buf: *mut c_char, n: usize, fmt: *const c_char) -> c_int {
        // SAFETY: snprintf's own contract, passed on.
        unsafe { verbatim(buf, n, fmt) }
    }

    /// `int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)`: `ap` is not read.
    // SAFETY: as for snprintf.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn vsnprintf(buf: *mut c_char, n: usize, fmt: *const c_char) -> c_int {
        // SAFETY: vsnprintf's own contract, passed on.
        unsafe { verbatim(buf, n, fmt) }
    }

    /// `int fprintf(FILE *stream, const char *fmt, ...)`: the text of `fmt` to stderr (the
    /// one stream its callers name).
    // SAFETY: as for snprintf; the stream is not used.
    #[unsafe(no_mangle)]
    unsafe extern "C" fn fprintf(_stream: *mut c_void, fmt: *const c_char) -> c_int {
        // SAFETY: fprintf's contract: fmt is a C string.
        let text = unsafe { CStr::from_ptr(fmt) }.to_bytes();
        match std::io::Write::write_all(&mut std::io::stderr(), text) {
            Ok(()) => c_int::try_from(text.len()).unwrap_or(c_int::MAX),
            Err(_) => -1,
        }
    }
}
