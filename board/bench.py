"""`make board-bench`: edgeftpd beside Debian's vsftpd and pure-ftpd of the same architecture,
on the same emulated board.

The bench's disk (ext4, made on the host with mkfs.ext4 -d) carries the served tree and the
peers (board/build.sh peers: the binaries and the libraries they load, run by their own
dynamic loader), so all three servers boot the same initramfs with the same free memory.
Every server serves /mnt/usb/ftp anonymously with uploads allowed into incoming/, FTPS
optional with the same EC certificate, passive ports 41000-41009 (--pasv-base: two boards
benched at once need two ranges) advertised as 127.0.0.1.

Measured, from the host (clients: curl for the big files, Python's ftplib for the rest):
- idle: MemAvailable of the board (so the kernel's share counts) before and after 100
  idle logged-in sessions, per session;
- held: logged-in sessions opened one after another until the server refuses (421), stops
  answering or is killed (the board's dmesg says whether the OOM killer struck);
- CPU per MiB (the board's /proc/stat, every process and the kernel; after an upload the
  board's `sync` is counted too, for every server alike: the data must reach the disk) and
  throughput, RETR and STOR of a 64 MiB file, plain and FTPS;
- 500 small files (4-64 KiB) up then down with one session: wall time and CPU per file;
- LIST (and MLSD where there is one) of a folder of 10,000 entries, each twice, the cheaper
  kept (see listing()).

    python3 board/bench.py [--boards armv7 mipsel] [--servers edgeftpd vsftpd pure-ftpd]
                           [--rounds 3] [--figures transfers small list mem]
                           [--variant NAME=PATH ...]

The CPU figures (transfers, small files, listings) are measured in one boot, --rounds
rounds in which the servers take turns, and the median of each is shown: the emulated
CPU's speed drifts over minutes (a figure of one server moved by half between runs a
quarter of an hour apart), so servers measured one after another would compare drifts.
The memory figures need a boot per server (each starts with the same free memory) and
are measured once. --variant adds another edgeftpd-tls binary of the board's architecture as a server
of its own (it is copied onto the bench's disk), to measure a change before and after it
in one run. Prints a table per board with each figure's ratio to the best peer, and writes
it to board/out/bench-NAME.txt. Not a test: nothing here fails on a figure.

--icount SHIFT: the board's time advances by 2^SHIFT ns per instruction it runs, and by
the host's clock while it idles, so its CPU figures count instructions, the kernel's
included, whatever else the host is doing. Even medians in the host's time moved by a third
for the same code measured twice in one run (RETR plain 56 and 39 ms/MiB on mipsel);
counted in instructions, by 3% at most (aarch64). What they do not weigh is what the
emulator pays that a CPU does not (its I/O exits, its software TLB), which the host-time
figures carry: compare within one kind. Speeds and wall times are the
host's and meaningless there (icount emulates slower). SHIFT 3 makes the figures big enough
for /proc/stat's 10 ms ticks; 0 gives an instruction a nanosecond.
"""

import argparse
import ftplib
import io
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import board  # noqa: E402
import vsftpd_conf  # noqa: E402 (bench/vsftpd_conf.py)

BIG_MIB = 64
SMALL_FILES = 500
ENTRIES = 10_000
IDLE_SESSIONS = 100
HELD_CAP = 4000  # sessions: where the held count stops trying
SERVERS = ["edgeftpd", "vsftpd", "pure-ftpd"]
PEERS = ["vsftpd", "pure-ftpd"]
CACHE = os.path.join(board.ROOT, "board", "cache", "bench")

PASV_BASE = [41000]  # --pasv-base
ICOUNT = [None]  # --icount
PASV = "--pasv-ports 41000-41009 --pasv-address 127.0.0.1 --pasv-local-nets 192.0.2.0/24"
EDGEFTPD = ("RUST_LOG=warn /usr/sbin/edgeftpd-tls --listen 0.0.0.0:21 --root /mnt/usb/ftp "
            f"--anonymous --write {PASV} --max-clients 5000 --max-per-ip 5000 "
            "--idle-timeout 3600 --tls-cert /etc/edgeftpd/cert.pem --tls-key /etc/edgeftpd/key.pem")
PEER_RUN = "/mnt/usb/opt/lib/ld.so --library-path /mnt/usb/opt/lib /mnt/usb/opt/sbin/"
# vsftpd as bench/run.py runs it (bench/vsftpd_conf.py: the settings and their quirks).
VSFTPD_CONF = vsftpd_conf.settings(
    "/mnt/usb/ftp", "/etc/edgeftpd/cert.pem", "/etc/edgeftpd/key.pem",
    pasv_min_port=41000, pasv_max_port=41009, pasv_address="127.0.0.1")
# pure-ftpd: anonymous only (-e), its root the home of the user ftp, no reverse DNS (-H),
# client limits raised (-c/-C; its default is 50), listings uncut (-L), FTPS optional (-Y 1).
PURE_FTPD = (f"{PEER_RUN}pure-ftpd -S 0.0.0.0,21 -p 41000:41009 -P 127.0.0.1 -e -H "
             f"-c 5000 -C 5000 -L {2 * ENTRIES}:5 -I 60 -Y 1 -2 /etc/edgeftpd/both.pem")


def small_sizes():
    rng = random.Random(500)
    return [rng.randrange(4 << 10, 64 << 10) for _ in range(SMALL_FILES)]


def make_data():
    """The files of the bench, once: the big file and the small ones (host copies too)."""
    os.makedirs(CACHE, exist_ok=True)
    big = os.path.join(CACHE, "big.bin")
    if not os.path.exists(big) or os.path.getsize(big) != BIG_MIB << 20:
        with open(big + ".tmp", "wb") as f:
            rng = random.Random(64)
            for _ in range(BIG_MIB):
                f.write(rng.randbytes(1 << 20))
        os.rename(big + ".tmp", big)
    return big


def make_disk(name, work, big, variants):
    """The bench's disk image for board `name`: peers in opt/, the variants' binaries in
    opt/variants/, the served tree in ftp/."""
    peers = os.path.join(board.OUT, name, "peers")
    if not os.path.isdir(peers):
        raise board.BoardError(f"{peers} missing: run board/build.sh peers {name}")
    tree = os.path.join(work, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(peers, os.path.join(tree, "opt"), symlinks=True)
    os.makedirs(os.path.join(tree, "opt", "variants"))
    for v, path in variants.items():
        shutil.copy(path, os.path.join(tree, "opt", "variants", v))
    ftp = os.path.join(tree, "ftp")
    for d in ["many", "small", "incoming"]:
        os.makedirs(os.path.join(ftp, d))
    os.chmod(ftp, 0o755)  # vsftpd refuses an anonymous root its ftp user can write
    os.chmod(os.path.join(ftp, "incoming"), 0o1777)
    os.link(big, os.path.join(ftp, "big.bin"))
    for i in range(ENTRIES):
        open(os.path.join(ftp, "many", f"entry-{i:05d}.txt"), "wb").close()
    rng = random.Random(1)
    for i, n in enumerate(small_sizes()):
        with open(os.path.join(ftp, "small", f"s{i:03d}.bin"), "wb") as f:
            f.write(rng.randbytes(n))
    img = os.path.join(work, "bench.img")
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "USB", "-d", tree, img], check=True)
    shutil.rmtree(tree)
    return img


# --- the board's side ----------------------------------------------------------------------

def cpu(b):
    """(busy, all) jiffies of the board since boot (/proc/stat; idle and iowait are idle)."""
    _, out = b.sh("head -1 /proc/stat")
    v = [int(x) for x in out.split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


def mem_available(b):
    # Kernel messages (the OOM killer's) may be mixed into the console's output.
    _, out = b.sh("grep MemAvailable /proc/meminfo")
    return int(re.search(r"MemAvailable:\s+(\d+)", out).group(1)) * 1024


def start_server(b, server, variants, wide=False):
    """Starts `server` in the background. wide: pure-ftpd with a passive range of 9,000
    ports, since it caps its sessions at half its range (5 with the board's 10 forwarded
    ports); only for idle sessions, which never open a data connection."""
    if server == "edgeftpd":
        cmd = EDGEFTPD
    elif server in variants:
        cmd = EDGEFTPD.replace("/usr/sbin/edgeftpd-tls", f"/mnt/usb/opt/variants/{server}")
    elif server == "vsftpd":
        lines = "\\n".join(f"{k}={v}" for k, v in VSFTPD_CONF.items())
        b.sh(f"mkdir -p /var/run/vsftpd/empty && chmod 555 /var/run/vsftpd/empty && "
             f"printf '{on_ports(lines, b.pasv[0])}\\n' >/tmp/vsftpd.conf")
        cmd = f"{PEER_RUN}vsftpd /tmp/vsftpd.conf"
    else:
        b.sh("sed -i 's#^ftp:x:21:21:ftp:[^:]*:#ftp:x:21:21:ftp:/mnt/usb/ftp:#' /etc/passwd")
        cmd = PURE_FTPD
    cmd = on_ports(cmd, b.pasv[0])
    if wide and server == "pure-ftpd":
        # (From --pasv-base on, as far as ports go: 61200 leaves 4,335, room for 2,167.)
        base = b.pasv[0]
        cmd = cmd.replace(f"{base}:{base + 9}", f"{base}:{min(base + 8999, 65535)}")
    b.sh(f"({cmd} </dev/null >/tmp/server.log 2>&1 &)")
    b.wait_ftp(timeout=30)


def on_ports(text, base):
    """`text` (a command line, a config) with the passive range moved to start at `base`."""
    return text.replace("41000", str(base)).replace("41009", str(base + 9))


def stop_server(b):
    """Stops whichever server runs (the peers run under their own ld.so) and waits until
    port 21 is free."""
    b.sh("killall edgeftpd-tls ld.so 2>/dev/null; for v in /mnt/usb/opt/variants/*; do "
         "killall \"${v##*/}\" 2>/dev/null; done; "
         "i=0; while netstat -lnt | grep -q ':21 ' && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done")


# --- the host's side -----------------------------------------------------------------------

def login(port, timeout=30):
    """A logged-in idle control connection (raw socket), or raises with what came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    f = s.makefile("rb")

    def reply():
        line = f.readline()
        if not line:
            raise OSError("connection closed")
        while line[3:4] == b"-":
            line = f.readline()
            if not line:
                raise OSError("connection closed")
        return line.decode(errors="replace").strip()

    try:
        r = reply()
        if not r.startswith("220"):
            raise OSError(r)
        s.sendall(b"USER anonymous\r\n")
        r = reply()
        if r.startswith("331"):  # vsftpd's no_anon_password logs in at once (230)
            s.sendall(b"PASS bench@\r\n")
            r = reply()
        if not r.startswith("230"):
            raise OSError(r)
    except Exception:
        s.close()
        raise
    return s


def idle_and_held(b):
    """Idle memory per session from the first IDLE_SESSIONS (measured every 10, so a server
    that breaks before still gets a figure), and per session of the IDLE_SESSIONS after the
    first 10 (`marginal`: without what the first sessions cost once, such as the kernel's
    per-CPU page lists filling up and its caches growing); then sessions until the server
    breaks."""
    base = min(mem_available(b) for _ in range(3))
    socks, per_session, why = [], None, None
    base10, marginal = None, None
    while len(socks) < HELD_CAP and why is None:
        try:
            socks.append(login(b.ftp_port, timeout=20))
        except Exception as e:  # noqa: BLE001 - what broke is the figure
            why = str(e) or type(e).__name__
            break
        n = len(socks)
        if n <= IDLE_SESSIONS + 10 and n % 10 == 0:
            time.sleep(1)
            now = min(mem_available(b) for _ in range(2))
            if n <= IDLE_SESSIONS:
                per_session = (base - now) / n
            if n == 10:
                base10 = now
            elif base10 is not None:
                marginal = (base10 - now) / (n - 10)
    why = why or f"stopped trying at {HELD_CAP}"
    held = len(socks)
    for s in socks:
        s.close()
    time.sleep(5)
    # The OOM killer may have killed the console's shell mid-command (init starts another).
    try:
        _, dmesg = b.sh("dmesg | grep -iE 'out of memory|killed process' | tail -3", timeout=60)
    except board.BoardError:
        b.send(b"\n")
        _, dmesg = b.sh("dmesg | grep -iE 'out of memory|killed process' | tail -3", timeout=60)
    alive = b.greeting(timeout=10)
    return dict(base=base, per_session=per_session, marginal=marginal, held=held, why=why,
                oom=dmesg.strip(), after_greeting=alive.strip())


def curl(args):
    t = time.monotonic()
    board.curl(args, timeout=900)
    return time.monotonic() - t


def transfer(b, big, kind, tls):
    url = f"ftp://127.0.0.1:{b.ftp_port}/"
    opts = ["--ssl-reqd", "-k"] if tls else []
    c0 = cpu(b)
    if kind == "RETR":
        wall = curl([*opts, "-o", "/dev/null", url + "big.bin"])
    else:
        # A new name each time: anonymous users of pure-ftpd may not overwrite.
        n = transfer.uploads = getattr(transfer, "uploads", 0) + 1
        wall = curl([*opts, "-T", big, url + f"incoming/up-{'ftps' if tls else 'plain'}-{n}.bin"])
        b.sh("sync")
        # The disk holds a few 64 MiB uploads at once: the next round's starts empty.
        b.sh("rm -f /mnt/usb/ftp/incoming/up-*.bin; sync")
    c1 = cpu(b)
    busy = (c1[0] - c0[0]) / 100
    return dict(mib_s=BIG_MIB / wall, cpu_ms_mib=busy * 1000 / BIG_MIB)


def small_files(b, round_no=0):
    """500 small files up (new names each round) then down, one session."""
    rng = random.Random(2)
    blobs = [rng.randbytes(n) for n in small_sizes()]
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", b.ftp_port, timeout=60)
    ftp.login("anonymous", "bench@")
    c0, t0 = cpu(b), time.monotonic()
    for i, blob in enumerate(blobs):
        ftp.storbinary(f"STOR incoming/u{round_no}-{i:03d}.bin", io.BytesIO(blob))
    up_wall = time.monotonic() - t0
    b.sh("sync")
    c1, t1 = cpu(b), time.monotonic()
    for i in range(SMALL_FILES):
        ftp.retrbinary(f"RETR small/s{i:03d}.bin", lambda _: None)
    down_wall = time.monotonic() - t1
    c2 = cpu(b)
    ftp.quit()
    n = SMALL_FILES
    return dict(up_ms=up_wall * 1000 / n, up_cpu_ms=(c1[0] - c0[0]) * 10 / n,
                down_ms=down_wall * 1000 / n, down_cpu_ms=(c2[0] - c1[0]) * 10 / n)


def listing(b):
    out = {}
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", b.ftp_port, timeout=120)
    ftp.login("anonymous", "bench@")
    # One listing first, not measured: the transfers before it (the servers take turns)
    # pushed the folder's 10,000 inodes out of a 64 MB board's cache, and whichever verb
    # came first paid their reading from the disk (LIST: 1.6 s against MLSD's 0.9 on
    # aarch64, the same work otherwise).
    ftp.retrlines("LIST many", lambda _: None)
    # Each verb twice, the cheaper kept: on a 64 MB board the kernel sometimes takes back
    # part of the inode cache between two listings, and the next one pays to rebuild it
    # (mipsel, no disk read: a LIST's kernel time 1.6-1.9 s against 0.5-0.7 for the
    # same listing right after it, for edgeftpd and pure-ftpd alike).
    for verb in ["LIST", "MLSD"]:
        for _ in range(2):
            lines = []
            c0, t0 = cpu(b), time.monotonic()
            try:
                ftp.retrlines(f"{verb} many", lines.append)
            except ftplib.error_perm as e:
                out[verb] = None  # vsftpd has no MLSD
                print(f"    {verb}: {e}")
                break
            wall = time.monotonic() - t0
            c1 = cpu(b)
            if len(lines) < ENTRIES:
                raise board.BoardError(f"{verb} many: {len(lines)} lines, not {ENTRIES}")
            got = dict(ms=wall * 1000, cpu_ms=(c1[0] - c0[0]) * 10)
            if verb not in out or got["cpu_ms"] < out[verb]["cpu_ms"]:
                out[verb] = got
    ftp.quit()
    return out


def boot(name, label, img, work):
    """A board booted on a copy of the bench's disk, no server started."""
    disk = os.path.join(work, f"{label}.img")
    shutil.copyfile(img, disk)
    # The host's writeback of the copy would otherwise run under the first figures.
    os.sync()
    print(f"  {label}: booting", flush=True)
    b = board.Board(name, os.path.join(work, label), fs="ext4", flavour="off", disk=disk,
                    pasv_base=PASV_BASE[0])
    if ICOUNT[0] is not None:
        # The RTC in the board's time too: Malta's kernel measures its CPU timer against
        # the RTC at boot, and against the host's clock its ticks came out wrong (a
        # download "cost" 2.7 s of CPU a MiB) and its timers stalled (transfers hung).
        b.qemu_extra = ["-icount", f"shift={ICOUNT[0]},sleep=on", "-rtc", "clock=vm"]
    b.start()
    return b


def bench_cpu(name, servers, img, work, big, rounds, figures, variants):
    """The transfers, small files and listings of every server in one boot, the servers
    taking turns within each round: the emulated CPU's speed drifts over minutes (the same
    figure of one server moved by half between two runs a quarter of an hour apart), so
    servers measured one after another would be compared across that drift."""
    got = {s: {} for s in servers}
    b = boot(name, "cpu", img, work)
    try:
        # One download unmeasured: the disk's first read of the file, the same for all.
        start_server(b, servers[0], variants)
        curl(["-o", "/dev/null", f"ftp://127.0.0.1:{b.ftp_port}/big.bin"])
        stop_server(b)
        for i in range(rounds):
            for server in servers:
                print(f"  round {i + 1}, {server}", flush=True)
                start_server(b, server, variants)
                time.sleep(1)
                r = got[server]
                for kind in ["RETR", "STOR"]:
                    for tls in [False, True]:
                        if "transfers" in figures:
                            key = f"{kind} {'FTPS' if tls else 'plain'}"
                            one(r, key, lambda k=kind, t=tls: transfer(b, big, k, t))
                if "small" in figures:
                    one(r, "small", lambda: small_files(b, i))
                    b.sh("rm -f /mnt/usb/ftp/incoming/u*.bin; sync")
                if "list" in figures:
                    one(r, "list", lambda: listing(b))
                stop_server(b)
    finally:
        b.kill()
    # A figure is the median of the rounds that measured it (a failed round is printed).
    return {s: {k: medians([x for x in v if x is not None]) for k, v in r.items()}
            for s, r in got.items()}


def one(r, key, fn):
    """Adds one measurement of `key` to r[key] (None when it failed: printed, the figure
    is then missing and the run goes on)."""
    try:
        v = fn()
    except Exception as e:  # noqa: BLE001 - the figure is missing, the run goes on
        print(f"    {key}: failed: {type(e).__name__}: {e}", flush=True)
        v = None
    else:
        print(f"    {key}: {v}", flush=True)
    r.setdefault(key, []).append(v)


def bench_mem(name, server, img, work, variants):
    """Idle memory and sessions held: one boot per server, so each starts with the same
    free memory."""
    b = boot(name, server, img, work)
    try:
        start_server(b, server, variants, wide=server == "pure-ftpd")
        time.sleep(2)
        m = idle_and_held(b)
        print(f"    idle: {(m['per_session'] or 0) / 1024:.1f} KiB/session; held {m['held']} "
              f"({m['why']}); OOM: {m['oom'] or 'none'}; then: {m['after_greeting'] or 'no answer'}",
              flush=True)
        return m
    finally:
        b.kill()
        os.unlink(os.path.join(work, f"{server}.img"))


def medians(rounds):
    """One dict of the medians of a list of like dicts (nested; None stays None)."""
    if not rounds:
        return None
    first = rounds[0]
    if isinstance(first, dict):
        return {k: medians([r[k] for r in rounds]) for k in first}
    if first is None:
        return None
    return statistics.median(rounds)


def ratio(ours, peers, lower_is_better=True):
    vals = [p for p in peers if p]
    if not vals or ours is None:
        return "-"
    best = min(vals) if lower_is_better else max(vals)
    return f"{ours / best:.2f}"


def table(name, res, versions, rounds, variants=()):
    """The figures of every server measured; a ratio to the best peer for edgeftpd and for
    each variant."""
    ours = ["edgeftpd", *variants]
    cols = [*ours, *PEERS]
    rows = []

    def add(label, get, unit, lower=True, fmt="{:.1f}"):
        vals = {}
        for s in cols:
            try:
                vals[s] = get(res[s]) if s in res else None
            except (KeyError, TypeError):
                vals[s] = None
        if all(v is None for v in vals.values()):
            return
        cells = [fmt.format(vals[s]) if vals[s] is not None else "-" for s in cols]
        ratios = [ratio(vals[s], [vals[p] for p in PEERS], lower) for s in ours]
        rows.append((label, unit, cells, ratios))

    # --icount: the CPU figures in millions of instructions (the board's clock ran 2^SHIFT ns
    # per instruction), and no speeds or wall times (the host's, slowed by the counting).
    icount = ICOUNT[0]
    per = 1.0 if icount is None else 1.0 / (1 << icount)
    cpu_unit = "ms" if icount is None else "Minsn"

    def add_cpu(label, get, unit, fmt):
        if icount is not None:
            fmt = {"ms/file": "{:.2f}", "ms/MiB": "{:.1f}"}.get(unit, "{:.0f}")
        add(label, lambda r: get(r) * per, unit.replace("ms", cpu_unit, 1), fmt=fmt)

    def add_time(label, get, unit, lower=True, fmt="{:.1f}"):
        if icount is None:
            add(label, get, unit, lower, fmt)

    add("idle memory per session", lambda r: r["mem"]["per_session"] / 1024, "KiB")
    add("the same, sessions 11-110", lambda r: r["mem"]["marginal"] / 1024, "KiB")
    add("idle sessions held", lambda r: r["mem"]["held"], "sessions", lower=False, fmt="{:.0f}")
    for k in ["RETR plain", "STOR plain", "RETR FTPS", "STOR FTPS"]:
        add_cpu(f"{k} CPU", lambda r, k=k: r[k]["cpu_ms_mib"], "ms/MiB", fmt="{:.0f}")
        add_time(f"{k} speed", lambda r, k=k: r[k]["mib_s"], "MiB/s", lower=False,
                 fmt="{:.2f}")
    add_time("500 small files up, wall", lambda r: r["small"]["up_ms"], "ms/file")
    add_cpu("500 small files up, CPU", lambda r: r["small"]["up_cpu_ms"], "ms/file", "{:.1f}")
    add_time("500 small files down, wall", lambda r: r["small"]["down_ms"], "ms/file")
    add_cpu("500 small files down, CPU", lambda r: r["small"]["down_cpu_ms"], "ms/file",
            "{:.1f}")
    add_time("LIST 10,000 entries, wall", lambda r: r["list"]["LIST"]["ms"], "ms", fmt="{:.0f}")
    add_cpu("LIST 10,000 entries, CPU", lambda r: r["list"]["LIST"]["cpu_ms"], "ms", "{:.0f}")
    add_time("MLSD 10,000 entries, wall", lambda r: r["list"]["MLSD"]["ms"], "ms", fmt="{:.0f}")
    add_cpu("MLSD 10,000 entries, CPU", lambda r: r["list"]["MLSD"]["cpu_ms"], "ms", "{:.0f}")
    ratio_heads = ["ratio"] + [f"{v} ratio" for v in variants]
    counted = "" if icount is None else (
        f"; CPU counted in instructions (-icount shift={icount}), Minsn = millions")
    out = [f"board {name} ({versions}); medians of {rounds} rounds (memory: one); "
           f"ratio: edgeftpd / the best peer{counted}",
           f"| {'figure':<30} | {'unit':<10} | " + " | ".join(f"{c:>9}" for c in cols)
           + " | " + " | ".join(f"{h:>5}" for h in ratio_heads) + " |",
           f"|{'-' * 32}|{'-' * 12}|" + "|".join("-" * 11 for _ in cols) + "|"
           + "|".join("-" * (max(5, len(h)) + 2) for h in ratio_heads) + "|"]
    for label, unit, cells, rts in rows:
        out.append(f"| {label:<30} | {unit:<10} | " + " | ".join(f"{c:>9}" for c in cells)
                   + " | " + " | ".join(f"{rt:>{max(5, len(h))}}" for rt, h in zip(rts, ratio_heads))
                   + " |")
    for s in cols:
        if s in res and "mem" in res[s]:
            m = res[s]["mem"]
            out.append(f"{s}: sessions stopped at {m['held']}: {m['why']}; OOM killer: "
                       f"{m['oom'] or 'never'}; afterwards: {m['after_greeting'] or 'no answer'}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--boards", nargs="*", default=["armv7", "mipsel"])
    ap.add_argument("--servers", nargs="*", default=SERVERS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pasv-base", type=int, default=41000)
    ap.add_argument("--figures", nargs="*", default=["transfers", "small", "list", "mem"])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                    help="another edgeftpd-tls binary of the board's architecture")
    ap.add_argument("--icount", type=int, metavar="SHIFT",
                    help="CPU figures in instructions: the guest's time counts them "
                         "(qemu -icount shift=SHIFT,sleep=on -rtc clock=vm)")
    a = ap.parse_args()
    ICOUNT[0] = a.icount
    variants = dict(v.split("=", 1) for v in a.variant)
    PASV_BASE[0] = a.pasv_base
    board.require_tools()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, HELD_CAP * 2 + 100), hard))
    big = make_data()
    # (A variant also named in --servers is one server, measured once a round.)
    servers = list(dict.fromkeys([*variants, *a.servers]))
    for name in a.boards:
        with open(os.path.join(board.OUT, name, "peers", "versions")) as f:
            versions = f.read().strip()
        print(f"board-bench {name}: {versions}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"board-bench-{name}-") as work:
            img = make_disk(name, work, big, variants)
            res = {s: {} for s in servers}
            if set(a.figures) & {"transfers", "small", "list"}:
                for server, r in bench_cpu(name, servers, img, work, big, a.rounds,
                                           a.figures, variants).items():
                    res[server].update(r)
            if "mem" in a.figures:
                for server in servers:
                    res[server]["mem"] = bench_mem(name, server, img, work, variants)
        text = table(name, res, versions, a.rounds, list(variants))
        print(text, flush=True)
        with open(os.path.join(board.OUT, f"bench-{name}.txt"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
