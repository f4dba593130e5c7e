//! Every limit of the server, in one place, each with the reason for its value.
//!
//! Named constants only: this module does nothing and decides nothing by itself.

/// Longest control line accepted (RFC 959 sets none; vsftpd uses 4096 too). A longer line
/// gets 500 and is discarded up to its end: a peer may send a gigabyte without a newline.
pub const MAX_LINE: usize = 4096;
/// Longest client path (Linux PATH_MAX); a line can't carry more anyway.
pub const MAX_PATH: usize = 4096;
/// Longest single name (Linux NAME_MAX).
pub const MAX_NAME: usize = 255;
/// Symlinks followed while resolving one path, as the kernel's own limit (ELOOP).
pub const MAX_SYMLINKS: usize = 40;
/// TLS sessions a session's own store keeps (the control connection's, and what the
/// data connections of this one client need to resume it).
pub const TLS_SESSIONS_PER_SESSION: usize = 4;
/// Control connections whose TLS owner (address and user) is remembered, for the data
/// connections of clients that share one TLS session cache among their control
/// connections (rclone, goftp: see `tls.rs`). About 64 bytes each; the oldest goes first,
/// and a data connection resuming a session of a forgotten one gets 522 and can retry.
pub const TLS_OWNERS: usize = 1024;
/// How long a data connection that resumed the TLS session of a sibling control
/// connection still logging in waits for that login (rclone opens its connections in
/// parallel); after it, 522.
pub const TLS_OWNER_WAIT_MS: u64 = 3000;
/// `--min-free`: an upload looks at the free space after each this many bytes (one
/// fstatvfs, about a microsecond): it can take at most this much below the floor before
/// it stops, and each upload in flight as much.
pub const SPACE_CHECK_BYTES: u64 = 256 << 10;
/// An upload hands its file's written pages to the disk after each this many bytes,
/// without waiting for them: the disk writes while the data still comes, and the sync
/// before the 226 has at most this much left (on a 64 MB router, a fifth of what the
/// kernel lets a file dirty before it writes it back itself).
pub const WRITEBACK_BYTES: u64 = 8 << 20;
/// `--on-upload`: hooks that run at once; more wait in a queue of [`HOOK_QUEUE`]. Two: one
/// slow hook (a picture sent on to a phone) does not hold up the next, and a camera's burst
/// does not fork dozens of processes on a 64 MB router.
pub const HOOKS_AT_ONCE: usize = 2;
/// `--on-upload`: runs that may wait; an upload past them gets none (logged).
pub const HOOK_QUEUE: usize = 64;
/// `--on-upload`: how often a running hook is looked at for its end or its timeout.
pub const HOOK_POLL_MS: u64 = 50;
/// Checksums (HASH, XMD5...) running at once in the whole server; one more gets 450. A
/// router's CPU hashes some MiB/s: two keep transfers going meanwhile.
pub const CHECKSUMS_AT_ONCE: usize = 2;
/// Bytes a checksum reads at a time; the control connection is looked at between reads.
pub const CHECKSUM_CHUNK: usize = 64 << 10;
/// Names tried for STOU and for temporary upload files before giving up.
pub const MAX_UNIQUE_TRIES: usize = 1000;
/// Failed logins before the session is closed (vsftpd's max_login_fails default).
pub const MAX_LOGIN_FAILS: u32 = 3;
/// Delay after each failed login: slows password guessing to a crawl per connection.
pub const LOGIN_FAIL_DELAY_MS: u64 = 1000;
/// What one session is counted as costing the machine when `--max-clients` is derived
/// from its memory: an idle logged-in session took 49 KB of MemAvailable on the 64 MB
/// armv7 board (stack pages, socket and slab included), rounded up for the buffers a
/// session holds while it lists or transfers.
pub const SESSION_MEMORY: u64 = 64 * 1024;
/// The default `--max-clients` is never lower than this (nor than this without /proc)...
pub const DEFAULT_CLIENTS_MIN: usize = 16;
/// ...nor higher than this, whatever the memory: more idle sessions than this on a home
/// server are a flood, not users.
pub const DEFAULT_CLIENTS_MAX: usize = 1000;
/// No session or transfer starts while MemAvailable is under a share of the machine's
/// memory (1/8: 7.5 MB of a 64 MB board), so the sessions already running have room for
/// their transfers' buffers (up to [`RECV_BUF`] each) and the kernel never has to kill:
/// refused clients get 421 (or 425 for a transfer) and try again later.
pub const MEMORY_FLOOR_SHARE: u64 = 8;
/// ...and never under 4 MiB, whatever the machine.
pub const MEMORY_FLOOR_MIN: u64 = 4 << 20;
/// ...plus this while the kernel boosts its watermarks (see `memory`): the largest boost
/// it makes is about a pageblock, 8 MiB on the armv7 board's kernel (4 MiB with the usual
/// 4 KiB pages and MAX_ORDER 11; 1.5 times the high watermark where that is more, which
/// an eighth of a machine big enough for it covers anyway).
pub const MEMORY_BOOST_ALLOWANCE: u64 = 8 << 20;
/// A reading of /proc/meminfo that showed this much more than the floor is trusted for
/// [`MEMORY_READING_TRUSTED_MS`]: the next sessions and transfers are let in without
/// reading it again. The kernel makes the whole file for each read (40,000 instructions on
/// the mipsel board, 4% of a small download's work), and in a tenth of a second a router's
/// server starts a few dozen sessions or transfers at most: about 2 MiB of threads and
/// buffers, well within this margin.
pub const MEMORY_READING_MARGIN: u64 = 8 << 20;
/// ...for what is left of the tenth of a second it was made in (on the monotonic clock):
/// at most this long, in milliseconds.
pub const MEMORY_READING_TRUSTED_MS: u64 = 100;
/// How long `vfs::journaled`'s answer for a file system stands, in seconds. A router's
/// disk does not change its journal while mounted; what could change it is the same
/// device unmounted and another file system of the same size and inode count, or the
/// same one with `-o noload` or as ext2, mounted in its place within these seconds, while
/// uploads go on (an unmount waits for every session in the disk to leave it). The answer
/// then picks the other of the two durable paths: the three syncs where there is a
/// journal cost more and are as safe; the journal's one commit where there is none still
/// syncs the file and, for a name it made, its folder on ext4 (its fsync does so without
/// a journal), but not the folder on ext2.
pub const JOURNAL_ANSWER_STANDS_SECS: u64 = 10;
/// Open files counted per session when `--max-clients` is fitted to the open-file limit:
/// two while idle (the control connection and the home folder), up to seven while
/// transferring (data connection, passive listener, the file, a pipe's two ends).
pub const FILES_PER_SESSION: u64 = 4;
/// --max-clients is never fitted below this: a tiny open-file limit (a test's 40) still
/// serves a few clients, whose transfers then fail alone if files run out.
pub const FITTED_CLIENTS_MIN: u64 = 8;
/// Open files kept for the rest: listeners, the log, listing helpers, the start-up sweep.
pub const FILES_RESERVED: u64 = 64;
/// The server may have at most 1/2 of the machine's threads alive (kernel.threads-max,
/// which the kernel sizes from the memory): the rest of a router must still be able to
/// fork. Busy sessions have a thread each, idle ones none.
pub const THREADS_SHARE: u64 = 2;
/// Stack of a session thread. Sessions do no recursion; 128 KiB leaves room for
/// formatting and unwinding, and only touched pages cost memory.
pub const SESSION_STACK: usize = 128 * 1024;
/// A session that waits this long for its next command gives the kernel back the stack
/// pages below its current frame: a TLS handshake, a login or a listing touches 10–20 KiB
/// of stack, resident afterwards for as long as the session idles. Long enough that a busy
/// client (its next command within a round trip) never pays the page faults again.
pub const STACK_TRIM_AFTER_MS: u64 = 500;
/// Pipe size asked for splice(2) transfers, which is also how much moves between checks
/// of the control connection for ABOR (the kernel's default cap for unprivileged
/// processes, /proc/sys/fs/pipe-max-size, is 1 MiB). The pipe holds page references,
/// not copies.
pub const PIPE_SIZE: usize = 1024 * 1024;
/// Commands held while a transfer runs (RFC 959 answers them after it): past this the
/// control connection is not read until the transfer ends, and TCP's flow control
/// holds the client back. Keep-alive NOOPs during a long transfer must not end it.
pub const CONTROL_QUEUE: usize = 4096;
/// After the control connection of an upload closes, how long the data connection may
/// stay silent before the upload ends with what arrived: a client that closes both
/// loses nothing, and one that leaves its data connection open holds its slot only
/// this long, not the whole data timeout.
pub const DRAIN_IDLE_MS: u64 = 2000;
/// Entries of the ban table (addresses with failed logins, or banned): 80 bytes each,
/// so a flood from many addresses costs at most 80 KiB; the entry seen longest ago goes
/// first.
pub const BAN_TABLE: usize = 1024;
/// Smallest and largest burst of a bandwidth cap (a tenth of a second of its rate in
/// between): a transfer never starts faster than its cap by more than 256 KiB.
pub const RATE_BURST_MIN: u64 = 4096;
pub const RATE_BURST_MAX: u64 = 256 * 1024;
/// How long a `--pasv-address` host name's answer is used before it is looked up again
/// (a DDNS name follows a dynamic IP within this).
pub const PASV_NAME_TTL_SECS: u64 = 10;
/// Buffer of the transfers that can't splice (uploads and downloads over TLS, ASCII mode);
/// allocated only while transferring. A TLS download reading 128 KiB at a time left the
/// client's core waiting: 256 KiB matched pure-ftpd's speed at two thirds of its CPU.
pub const RECV_BUF: usize = 256 * 1024;
/// Unsent bytes a TLS data connection may hold before a write waits (TCP_NOTSENT_LOWAT).
/// Without it a download filled the whole send buffer ahead of the client's window, and
/// each ACK of the client then sent our queued segments from inside the client's own
/// system calls: curl spent twice the kernel time and a TLS RETR ran at 0.8 of
/// pure-ftpd's speed; with 128 KiB, 1.15 (64 KiB: unsteady, 0.9 to 1.2).
#[cfg(feature = "tls")]
pub const TLS_NOTSENT_LOWAT: u32 = 128 * 1024;
/// Longest a command on a name waits while another session's upload of that name is being
/// committed (its data synced, the name put in place; see vfs/pending.rs): a client that
/// dropped and resumes at once gets the true size. Syncing what a router lets be dirty
/// (a few MiB: the kernel's dirty ratio of 64-128 MB) to a slow USB stick (2-5 MB/s)
/// takes a few seconds; past this the disk's answer goes out as it is.
pub const COMMIT_WAIT_SECS: u64 = 15;
/// How deep the start-up sweep of stale temporary files descends.
pub const SWEEP_DEPTH: usize = 16;
/// Pause after accept() fails (EMFILE, ENOMEM): never spin, retry soon.
pub const ACCEPT_BACKOFF_MS: u64 = 100;
/// Time transfers in flight get to finish after SIGTERM before the process exits.
pub const SHUTDOWN_GRACE_SECS: u64 = 5;
/// Most entries stat'ed and formatted per piece of a listing sent (about 32 KiB of `ls`
/// lines): a listing is streamed, never held whole.
pub const LIST_CHUNK: usize = 512;
/// Entries per helper thread before a listing is split between threads: stat'ing 2048
/// entries takes a few milliseconds of kernel time, a thread costs some 30 microseconds.
pub const LIST_PARALLEL_MIN: usize = 2048;
/// Pieces of a listing helper threads may make ahead of what has been sent: what a listing
/// holds when the client reads slowly (4 pieces of at most 512 lines and 16 KiB of names:
/// 150-200 KiB).
pub const LIST_AHEAD: usize = 4;
/// Bytes of names in one piece of a listing: with long names (200 bytes), 512 `ls` lines
/// would make a piece of 130 KiB.
pub const LIST_PIECE_NAMES: usize = 16 * 1024;
/// Bytes of names (about 24 per entry: the name, its NUL and a span) a listing may hold to
/// sort them: some 5,000 entries. A bigger directory is listed in directory order, one
/// getdents call at a time, as clients sort anyway: four clients that never read the
/// listing of a 30,000-entry folder otherwise held 37 MiB of a router's memory.
pub const LIST_SORT_BYTES: usize = 128 * 1024;
/// Buffer of one getdents call: some 1,000 short names, or 140 of 200 bytes.
pub const GETDENTS_BUF: usize = 32 * 1024;
/// Most tokens (`*`, `?`, a class, a byte) in a LIST/NLST shell pattern: the matcher keeps
/// one bit per token in a 128-bit word, which makes matching linear in the name's
/// length. Longer patterns get 501; real ones (`*.jpg`, `IMG_20??*`) have a few tokens.
pub const MAX_GLOB_TOKENS: usize = 127;
/// Most helper threads one listing uses (besides the session's own), whatever the cores.
pub const LIST_HELPERS_MAX: usize = 3;

/// `--banner`: at most this many bytes and lines, shown before every login (a greeting
/// is read by every client, a camera's included, before it can do anything).
pub const BANNER_BYTES: usize = 2048;
pub const BANNER_LINES: usize = 20;

/// Privilege separation (`privsep.rs`): the most a reload message from the monitor to the
/// serving process may carry (a users file of some 20,000 accounts, or a certificate chain
/// with its key): anything larger is not what the monitor sends.
pub const RELOAD_BYTES_MAX: usize = 4 << 20;
/// A serving process that dies of a signal (the OOM killer, a crash) is started again
/// after this pause...
pub const RESPAWN_DELAY_SECS: u64 = 1;
/// ...unless it died within this many seconds of its start this many times in a row:
/// then the monitor gives up and exits 1, as something is wrong that a restart won't fix.
pub const RESPAWN_QUICK_SECS: u64 = 60;
pub const RESPAWN_QUICK_MAX: u32 = 5;
