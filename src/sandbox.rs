//! The system call filter (seccomp) of the threads that serve clients: the accept loop
//! and every session it starts. A session parses what a client sends; were a bug ever to
//! let a client run code there, that code could make only the calls the server itself
//! makes there: no execve, fork, ptrace, mount, module loading, namespaces, keyrings, kill
//! or the rest. Any other call fails with ENOSYS, as on a kernel without it (where a newer
//! call has an older form, as clone3 has clone, the C library falls back to it); a call of
//! another architecture ends the process (x32's calls on x86_64 are another's).
//!
//! The lists are what the servers of the whole test suite called, under strace on x86_64
//! (glibc) and qemu-user's -strace for armv7, aarch64 and mips (musl), less what only the
//! threads that keep no filter make: the monitor of privilege separation, the signal thread
//! (reloads, the restart in place), the thread that takes the monitor's reloads, the
//! `--on-upload` workers and the programs they fork and exec. Those threads start before
//! the filter. Added by hand: the older and newer forms of each call (the C library picks
//! one by the kernel, the size of time_t and the arguments), sendmsg and recvmsg (the
//! kernel's TLS, which neither the test host nor qemu-user has), what a panic's abort makes
//! (tgkill). `--no-syscall-filter` serves without it.
//!
//! SECURITY: the filter is per thread; the threads without it share the address space, so
//! code run in a session could still reach them through memory. It takes away the direct
//! way (a shell from an exploit's first call), not every way.

/// The numbers of the calls, as the filter compares them.
macro_rules! calls {
    ($($n:ident),* $(,)?) => { &[$($n as u16),*] };
}

/// The calls the filtered threads may make, per architecture (`libc::SYS_*`, and this
/// module's own numbers where the libc crate has none for the target: the 64-bit-time
/// calls of the 32-bit targets, and a few more of armv7 and mips).
// The kernel's names, spelt as the libc crate spells its own.
#[allow(non_upper_case_globals)]
mod list {
    #[allow(unused_imports)]
    use libc::*;

    /// What every target's filtered threads call (each has its own number for it).
    pub const COMMON: &[u16] = calls![
        SYS_accept,
        SYS_accept4,
        SYS_bind,
        SYS_brk,
        SYS_clock_gettime,
        SYS_clock_nanosleep,
        SYS_clone,
        SYS_close,
        SYS_connect,
        SYS_dup,
        SYS_dup3,
        SYS_exit,
        SYS_exit_group,
        SYS_faccessat,
        SYS_faccessat2,
        SYS_fchmod,
        SYS_fchmodat,
        SYS_fcntl,
        SYS_fdatasync,
        SYS_fstat,
        SYS_fstatfs,
        SYS_fsync,
        SYS_ftruncate,
        SYS_futex,
        SYS_getcwd,
        SYS_getdents64,
        SYS_getegid,
        SYS_geteuid,
        SYS_getgid,
        SYS_getpeername,
        SYS_getpid,
        SYS_getppid,
        SYS_getrandom,
        SYS_getsockname,
        SYS_getsockopt,
        SYS_gettid,
        SYS_gettimeofday,
        SYS_getuid,
        SYS_ioctl,
        SYS_linkat,
        SYS_listen,
        SYS_lseek,
        SYS_madvise,
        SYS_mkdirat,
        SYS_mprotect,
        SYS_mremap,
        SYS_munmap,
        SYS_nanosleep,
        SYS_openat,
        SYS_pipe2,
        SYS_ppoll,
        SYS_prctl,
        SYS_pread64,
        SYS_prlimit64,
        SYS_pwrite64,
        SYS_read,
        SYS_readlinkat,
        SYS_readv,
        SYS_recvfrom,
        SYS_recvmsg,
        SYS_renameat,
        SYS_renameat2,
        SYS_restart_syscall,
        SYS_rt_sigaction,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn,
        SYS_sched_getaffinity,
        SYS_sched_yield,
        SYS_sendfile,
        SYS_sendmsg,
        SYS_sendto,
        SYS_set_robust_list,
        SYS_set_tid_address,
        SYS_setsockopt,
        SYS_shutdown,
        SYS_sigaltstack,
        SYS_socket,
        SYS_splice,
        SYS_statfs,
        SYS_statx,
        SYS_tgkill,
        SYS_umask,
        SYS_uname,
        SYS_unlinkat,
        SYS_utimensat,
        SYS_write,
        SYS_writev,
    ];

    /// None more on the 64-bit targets.
    #[cfg(not(any(target_arch = "arm", target_arch = "mips")))]
    pub const OWN32: &[u16] = &[];

    /// And on x86_64:
    #[cfg(target_arch = "x86_64")]
    pub const OWN: &[u16] = calls![
        SYS_access,
        SYS_chmod,
        SYS_fadvise64,
        SYS_link,
        SYS_mkdir,
        SYS_mmap,
        SYS_newfstatat,
        SYS_open,
        SYS_poll,
        SYS_readlink,
        SYS_rename,
        SYS_rmdir,
        SYS_rseq,
        SYS_set_thread_area,
        SYS_sync_file_range,
        SYS_unlink,
    ];

    /// And on aarch64 (musl):
    #[cfg(target_arch = "aarch64")]
    pub const OWN: &[u16] = calls![
        SYS_fadvise64,
        SYS_mmap,
        SYS_newfstatat,
        SYS_rseq,
        SYS_sync_file_range,
    ];

    /// And on both 32-bit targets (their older calls: 64-bit offsets and sizes in two
    /// words, and 64-bit time):
    #[cfg(any(target_arch = "arm", target_arch = "mips"))]
    pub const OWN32: &[u16] = calls![
        SYS__llseek,
        SYS_access,
        SYS_chmod,
        SYS_fcntl64,
        SYS_fstat64,
        SYS_fstatfs64,
        SYS_ftruncate64,
        SYS_link,
        SYS_lstat64,
        SYS_mkdir,
        SYS_mmap2,
        SYS_open,
        SYS_poll,
        SYS_readlink,
        SYS_rename,
        SYS_rmdir,
        SYS_sendfile64,
        SYS_sigreturn,
        SYS_stat64,
        SYS_statfs64,
        SYS_unlink,
        SYS_clock_gettime64,
        SYS_clock_nanosleep_time64,
        SYS_utimensat_time64,
        SYS_ppoll_time64,
        SYS_futex_time64,
    ];

    /// And on armv7 (musl: 32-bit calls with 64-bit time):
    #[cfg(target_arch = "arm")]
    pub const OWN: &[u16] = calls![
        SYS_arm_fadvise64_64,
        SYS_arm_sync_file_range,
        SYS_fstatat64,
        SYS_getegid32,
        SYS_geteuid32,
        SYS_getgid32,
        SYS_getuid32,
        SYS_rseq,
    ];

    /// And on mips and mipsel (musl, o32: the same numbers):
    #[cfg(target_arch = "mips")]
    pub const OWN: &[u16] = calls![
        SYS_mmap,
        SYS_set_thread_area,
        SYS_sync_file_range,
        SYS_fadvise64,
    ];

    #[cfg(target_arch = "arm")]
    const SYS_arm_fadvise64_64: libc::c_long = 270;
    #[cfg(target_arch = "arm")]
    const SYS_arm_sync_file_range: libc::c_long = 341;
    #[cfg(target_arch = "arm")]
    const SYS_rseq: libc::c_long = 398;
    #[cfg(target_arch = "arm")]
    const SYS_clock_gettime64: libc::c_long = 403;
    #[cfg(target_arch = "arm")]
    const SYS_clock_nanosleep_time64: libc::c_long = 407;
    #[cfg(target_arch = "arm")]
    const SYS_utimensat_time64: libc::c_long = 412;
    #[cfg(target_arch = "arm")]
    const SYS_ppoll_time64: libc::c_long = 414;
    #[cfg(target_arch = "arm")]
    const SYS_futex_time64: libc::c_long = 422;
    #[cfg(target_arch = "mips")]
    const SYS_clock_gettime64: libc::c_long = 4403;
    #[cfg(target_arch = "mips")]
    const SYS_clock_nanosleep_time64: libc::c_long = 4407;
    #[cfg(target_arch = "mips")]
    const SYS_utimensat_time64: libc::c_long = 4412;
    #[cfg(target_arch = "mips")]
    const SYS_ppoll_time64: libc::c_long = 4414;
    #[cfg(target_arch = "mips")]
    const SYS_futex_time64: libc::c_long = 4422;
    #[cfg(target_arch = "mips")]
    const SYS_fadvise64: libc::c_long = 4254;
    #[cfg(target_arch = "mips")]
    const SYS_pread64: libc::c_long = 4200;
    #[cfg(target_arch = "mips")]
    const SYS_pwrite64: libc::c_long = 4201;
}

/// The three lists of [`list`] in one, made at compile time.
const CALLS: [u16; list::COMMON.len() + list::OWN32.len() + list::OWN.len()] = {
    let mut all = [0; list::COMMON.len() + list::OWN32.len() + list::OWN.len()];
    let mut i = 0;
    let parts = [list::COMMON, list::OWN32, list::OWN];
    let mut part = 0;
    while part < parts.len() {
        let mut j = 0;
        while j < parts[part].len() {
            all[i] = parts[part][j];
            i += 1;
            j += 1;
        }
        part += 1;
    }
    all
};

// The filter's instructions (linux/filter.h, classic BPF).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
// seccomp_data: the call's number at 0, the architecture at 4.
const NR: u32 = 0;
const ARCH_AT: u32 = 4;

/// Calls a leaf of the search tree compares one by one.
const LEAF: usize = 4;

/// The calls of [`CALLS`] sorted, each once (a call may be on two lists), and how many
/// they are; made at compile time.
const SORTED: ([u32; CALLS.len()], usize) = {
    let mut s = [0u32; CALLS.len()];
    let mut i = 0;
    while i < s.len() {
        // Insertion sort.
        let mut j = i;
        while j > 0 && s[j - 1] > CALLS[i] as u32 {
            s[j] = s[j - 1];
            j -= 1;
        }
        s[j] = CALLS[i] as u32;
        i += 1;
    }
    let (mut n, mut i) = (0, 0);
    while i < s.len() {
        if n == 0 || s[n - 1] != s[i] {
            s[n] = s[i];
            n += 1;
        }
        i += 1;
    }
    (s, n)
};

/// The calls the filtered threads may make, sorted, each once.
const ALLOWED: &[u32] = SORTED.0.split_at(SORTED.1).0;

/// Calls allowed before the search tree, where the kernel runs the filter for every call
/// (MIPS: see [`PROGRAM`]): a listing makes a statx an entry, 10,000 for a big folder, and
/// statx then takes 5 instructions instead of 13.
const HOT: &[u32] = if cfg!(target_arch = "mips") {
    &[libc::SYS_statx as u32]
} else {
    &[]
};

/// The instructions before the search tree: the architecture checked, the number loaded
/// (and on x86_64, x32's calls sent away), the [`HOT`] calls.
const HEAD: usize = if cfg!(target_arch = "x86_64") { 5 } else { 4 } + HOT.len();

/// The number of instructions [`tree`] makes of `n` calls.
const fn tree_len(n: usize) -> usize {
    if n <= LEAF {
        n
    } else {
        1 + tree_len(n / 2) + tree_len(n - n / 2)
    }
}

const fn op(code: u16, jt: usize, jf: usize, k: u32) -> libc::sock_filter {
    // A jump past 255 instructions can't be written: the build stops here.
    assert!(
        jt < 256 && jf < 256,
        "a jump of the filter does not fit in 8 bits"
    );
    libc::sock_filter {
        code,
        jt: jt as u8,
        jf: jf as u8,
        k,
    }
}

/// Writes the search tree of `calls` (sorted) at `at`: a number at or above the middle
/// call goes to the upper half's subtree, else to the lower's, down to leaves of [`LEAF`]
/// calls compared one by one. `deny` is where the ENOSYS is, the ALLOW right after it.
const fn tree(p: &mut [libc::sock_filter], at: usize, calls: &[u32], deny: usize) {
    let n = calls.len();
    if n <= LEAF {
        let mut i = 0;
        while i < n {
            let here = at + i;
            let miss = if i + 1 == n { deny - here - 1 } else { 0 };
            p[here] = op(JEQ_K, deny - here, miss, calls[i]);
            i += 1;
        }
        return;
    }
    let (low, high) = calls.split_at(n / 2);
    p[at] = op(JGE_K, tree_len(low.len()), 0, high[0]);
    tree(p, at + 1, low, deny);
    tree(p, at + 1 + tree_len(low.len()), high, deny);
}

/// The filter's length: the head, the tree, the ENOSYS and the ALLOW.
const PROGRAM_LEN: usize = HEAD + tree_len(ALLOWED.len()) + 2;

/// The filter, made at compile time: the architecture checked, then the call's number
/// looked up in a binary search tree of the allowed ones (ALLOW), ENOSYS for the rest.
///
/// A tree, not a list: where the kernel has no cache of the calls a filter always allows
/// (its seccomp action cache, which MIPS lacks up to 6.12 at least: no
/// SECCOMP_ARCH_NATIVE), it runs the filter, interpreted, on every call. In a list,
/// statx came 80th, and the mipsel board spent a fifth more of its CPU on a listing of
/// 10,000 entries (kernel time 0.65-0.82 s, 0.50-0.55 without the filter). Through the
/// tree any call takes at most 13 instructions (14 on x86_64 and on MIPS, where statx is
/// looked at first: [`HOT`]). Kernels with the cache (x86, ARM) never run it for an
/// allowed call: their emulation of it takes JGE as JEQ.
const PROGRAM: [libc::sock_filter; PROGRAM_LEN] = {
    let deny = PROGRAM_LEN - 2;
    let mut p = [op(0, 0, 0, 0); PROGRAM_LEN];
    p[0] = op(LD_W_ABS, 0, 0, ARCH_AT);
    p[1] = op(JEQ_K, 1, 0, ARCH);
    p[2] = op(RET_K, 0, 0, RET_KILL_PROCESS);
    p[3] = op(LD_W_ABS, 0, 0, NR);
    if cfg!(target_arch = "x86_64") {
        // x32's calls have bit 30 set: the same numbers would be other calls.
        p[4] = op(JGE_K, deny - 5, 0, 0x4000_0000);
    }
    let mut h = 0;
    while h < HOT.len() {
        let at = HEAD - HOT.len() + h;
        p[at] = op(JEQ_K, deny - at, 0, HOT[h]);
        h += 1;
    }
    tree(&mut p, HEAD, ALLOWED, deny);
    p[deny] = op(RET_K, 0, 0, RET_ENOSYS);
    p[deny + 1] = op(RET_K, 0, 0, RET_ALLOW);
    p
};

/// The architecture's AUDIT_ARCH_* (linux/audit.h): its ELF machine, 64-bit and
/// little-endian bits.
#[cfg(target_arch = "x86_64")]
const ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "arm")]
const ARCH: u32 = 0x4000_0028;
#[cfg(all(target_arch = "mips", target_endian = "little"))]
const ARCH: u32 = 0x4000_0008;
#[cfg(all(target_arch = "mips", target_endian = "big"))]
const ARCH: u32 = 0x0000_0008;

/// Puts the calling thread, and the threads it starts from then on, under the filter, and
/// says so in the log; where the kernel has no seccomp (or qemu-user runs the server) it
/// says that and serves without.
pub fn confine() {
    match crate::sys::install_seccomp(&PROGRAM) {
        Ok(()) => log::info!(
            "system call filter on: sessions may make {} calls",
            ALLOWED.len()
        ),
        Err(e) => log::warn!("no system call filter: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter, installed in a child process: what the server makes works; execve and
    /// chroot fail with ENOSYS, and the process lives on to say so.
    #[test]
    fn a_filtered_thread_may_not_exec_or_chroot_and_lives_on() {
        match crate::sys::fork().unwrap() {
            crate::sys::Forked::Child => {
                let ok = (|| {
                    crate::sys::install_seccomp(&PROGRAM).ok()?;
                    std::fs::read("/proc/self/status").ok()?;
                    let enosys = |e: std::io::Error| e.raw_os_error() == Some(libc::ENOSYS);
                    let exec = std::process::Command::new("/bin/true").status().err()?;
                    let chroot = std::os::unix::fs::chroot("/").err()?;
                    (enosys(exec) && enosys(chroot)).then_some(())
                })();
                std::process::exit(if ok.is_some() { 0 } else { 1 });
            }
            crate::sys::Forked::Parent(pid) => {
                let st = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                    .unwrap()
                    .unwrap()
                    .1;
                assert_eq!(st.exit_status(), Some(0));
            }
        }
    }

    /// What the filter returns for a call (`nr`) of an architecture (`arch`): the classic
    /// BPF the kernel runs, as far as the filter uses it.
    fn run(p: &[libc::sock_filter], nr: u32, arch: u32) -> (u32, usize) {
        let (mut pc, mut a, mut steps) = (0, 0, 0);
        loop {
            let op = p[pc];
            steps += 1;
            pc += 1;
            match op.code {
                LD_W_ABS => a = if op.k == NR { nr } else { arch },
                JEQ_K => pc += usize::from(if a == op.k { op.jt } else { op.jf }),
                JGE_K => pc += usize::from(if a >= op.k { op.jt } else { op.jf }),
                RET_K => return (op.k, steps),
                c => panic!("instruction {c:#x}"),
            }
        }
    }

    /// Every call of the lists is allowed, every other number (up to well past the
    /// highest, and x32's on x86_64) gets ENOSYS, another architecture is killed; and no
    /// call goes through more than a dozen instructions.
    #[test]
    fn the_search_tree_allows_exactly_the_lists() {
        let p = PROGRAM;
        let calls = ALLOWED;
        let top = *calls.last().unwrap();
        let mut most = 0;
        for nr in (0..top + 512).chain([0x4000_0000, 0x4000_0000 + calls[0], u32::MAX]) {
            let (ret, steps) = run(&p, nr, ARCH);
            // Against the lists themselves, not the sorted calls the tree is made of.
            let want = if CALLS.iter().any(|&c| u32::from(c) == nr) {
                RET_ALLOW
            } else {
                RET_ENOSYS
            };
            assert_eq!(ret, want, "call {nr}");
            most = most.max(steps);
        }
        assert!(most <= 14, "{most} instructions for one call");
        assert_eq!(run(&p, calls[0], ARCH ^ 1).0, RET_KILL_PROCESS);
    }
}
