#!/usr/bin/env python3
"""bench/run.py — `make bench`: edgeftpd side by side with vsftpd and pure-ftpd.

Starts the three servers on loopback (127.0.0.1 only) over one shared served
directory, runs every workload against each of them with the same client and
the same files, and prints a table plus one machine-readable line per figure:

    BENCH workload=retr_1g server=vsftpd value=1234.5 unit=MB/s ...

The same output is saved to bench/out/bench-<UTC stamp>.txt and bench/out/latest.txt;
server logs go to bench/out/logs/. Needs bench/setup.sh (peers) and
bench/target/release/loadgen (bench/bench.mk builds both) and, unless
BENCH_SERVERS leaves it out, target/release/edgeftpd. Any server that fails to
start, or a workload that fails on a server, makes the run exit non-zero.
Settings come from BENCH_* environment variables: see bench/README.md.
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import vsftpd_conf  # bench/vsftpd_conf.py: the one vsftpd configuration

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PEERS = os.environ.get("BENCH_PEERS", os.path.join(BENCH, "peers"))
OUT = os.path.join(BENCH, "out")
LOGS = os.path.join(OUT, "logs")
DATA = os.environ.get("BENCH_DATA", os.path.join(BENCH, "target", "data"))
LOADGEN = os.environ.get("BENCH_LOADGEN", os.path.join(BENCH, "target", "release", "loadgen"))
EDGEFTPD = os.environ.get("EDGEFTPD_BIN", os.path.join(ROOT, "target", "release", "edgeftpd"))
HOST = "127.0.0.1"  # NETWORK RULE: loopback only, never anything else.


def env_int(name, default):
    return int(os.environ.get(name, default))


QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0", "no", "NO")
RUNS = env_int("BENCH_RUNS", 2 if QUICK else 5)              # runs per small workload
BIG_RUNS = env_int("BENCH_BIG_RUNS", 2 if QUICK else 7)      # runs per big RETR/STOR
BIG_MB = env_int("BENCH_BIG_MB", 256 if QUICK else 1024)     # size of the big file, MiB
SESSION_SECS = float(os.environ.get("BENCH_SESSION_SECS", 2 if QUICK else 5))
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1 16").split()]
IDLE = env_int("BENCH_IDLE_SESSIONS", 200)
MEM_RUNS = env_int("BENCH_MEM_RUNS", 1 if QUICK else 3)
ENTRIES = env_int("BENCH_LIST_ENTRIES", 10000)
LIST_RUNS = env_int("BENCH_LIST_RUNS", 3 if QUICK else 7)
SERVERS = os.environ.get("BENCH_SERVERS", "edgeftpd vsftpd pure-ftpd").split()
WORKLOADS = os.environ.get("BENCH_WORKLOADS",
                           "mem list sess retr stor tls small small_tls conc").split()
# Small files (a phone backup, a mirror): SMALL_FILES of 4-64 KiB in SMALL_DIRS folders.
SMALL_FILES = env_int("BENCH_SMALL_FILES", 500 if QUICK else 2000)
SMALL_DIRS = 20
SMALL_RUNS = env_int("BENCH_SMALL_RUNS", 2 if QUICK else 5)
SMALL_SESSIONS = [int(c) for c in os.environ.get("BENCH_SMALL_SESSIONS", "1 4").split()]
# Concurrency: CONC_CLIENTS sessions at once, each with a file of its own of CONC_MB MiB.
CONC_CLIENTS = env_int("BENCH_CONC_CLIENTS", 16)
CONC_MB = env_int("BENCH_CONC_MB", 16 if QUICK else 64)
CONC_RUNS = env_int("BENCH_CONC_RUNS", 2 if QUICK else 5)
# The certificate every server's FTPS uses (EC P-256, made by openssl in prepare_data).
TLS_CERT = os.path.join(BENCH, "target", "tls-cert.pem")
TLS_KEY = os.path.join(BENCH, "target", "tls-key.pem")
TLS_PEM = os.path.join(BENCH, "target", "tls-both.pem")  # pure-ftpd wants key + cert in one
PORT_BASE = env_int("BENCH_PORT_BASE", 21210)
MAX_CLIENTS = max(300, IDLE + 50)
RUST_LOG = os.environ.get("BENCH_RUST_LOG", "warn")
# vsftpd's isolate_network=YES (its default) clones a new network namespace per
# session, which costs it a quarter to a third of its 16-client session rate here. We compare
# against peers at their fastest sane setting; set YES for the stock behaviour.
VSFTPD_ISOLATE_NETWORK = os.environ.get("BENCH_VSFTPD_ISOLATE_NETWORK", "NO")

ALL_SERVERS = ["edgeftpd", "vsftpd", "pure-ftpd"]
PEER_NAMES = ["vsftpd", "pure-ftpd"]

output_lines = []  # everything printed, saved to bench/out at the end
cpu_samples = {}  # workload -> {server: [CPU ms per unit]}, filled by the workloads
server_failures = []  # one server failing a workload whose other figures still stand


def cgroup_base():
    """Where per-server CPU-accounting cgroups can be made: (directory, kind) or (None, why).
    cgroup v2 (usage in cpu.stat, always present) is preferred; v1 cpuacct otherwise."""
    for d in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(os.path.join(d, "cgroup.procs")) and \
                os.path.exists(os.path.join(d, "cgroup.controllers")):
            return d, "v2"
    d = "/sys/fs/cgroup/cpuacct"
    if os.path.exists(os.path.join(d, "cpuacct.usage")):
        return d, "v1"
    return None, "no cgroup v2 or v1 cpuacct hierarchy"


class CpuMeter:
    """CPU time used by one server and every process it forks, from its own cgroup: a
    forked session's time is counted even after it exits. None when no cgroup can be made
    (not root, no hierarchy): the CPU figures are then n/a."""

    def __init__(self, name):
        self.path = None
        base, kind = cgroup_base()
        if base is None:
            log(f"CPU figures n/a for {name}: {kind}")
            return
        path = os.path.join(base, f"edgeftpd-bench-{name}")
        try:
            os.makedirs(path, exist_ok=True)
            self.path, self.kind = path, kind
        except OSError as e:
            log(f"CPU figures n/a for {name}: {e}")

    def join(self):
        """Moves the calling process into the cgroup (run in the child before exec). A
        failure is not fatal here: `check` notices it."""
        if self.path:
            try:
                with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass

    def check(self, pid, name):
        """Turns the figures off (n/a) unless `pid` really is in the cgroup."""
        if not self.path:
            return
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                inside = str(pid) in f.read().split()
        except OSError:
            inside = False
        if not inside:
            log(f"CPU figures n/a for {name}: could not join {self.path}")
            self.path = None

    def ms(self):
        if not self.path:
            return None
        if self.kind == "v2":
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    if k == "usage_usec":
                        return int(v) / 1000.0
            return None
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e6

    def remove(self):
        if self.path:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def cpu_note(workload, server, before, after, per):
    if before is not None and after is not None:
        cpu_samples.setdefault(workload, {}).setdefault(server.name, []).append(
            (after - before) / per)


def say(line=""):
    print(line, flush=True)
    output_lines.append(line)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- processes and memory ----------------------------------------------------

def proc_children_map():
    """ppid -> [pid] for every process on the machine (thread group leaders)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(root):
    """Every descendant of root (root itself excluded)."""
    kids = proc_children_map()
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def pss_kib(pid):
    """Pss of one process from /proc/PID/smaps_rollup, KiB (0 if gone/zombie)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- servers -----------------------------------------------------------------

class Server:
    """One server under bench/reaper.py; the server and all its session
    processes are the reaper's descendants."""

    def __init__(self, name, port, pasv):
        self.name, self.port, self.pasv = name, port, pasv
        self.proc = None
        self.logpath = os.path.join(LOGS, f"{name}.log")
        self.workdir = os.path.join(BENCH, "target", "run", name)
        self.cpu = CpuMeter(name)

    def url(self, path):
        return f"ftp://{HOST}:{self.port}{path}"

    def addr(self):
        return f"{HOST}:{self.port}"

    def command(self):
        raise NotImplementedError

    def env(self):
        return dict(os.environ)

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        port_free_or_die(self.port, self.name)
        cmd = self.command()
        logf = open(self.logpath, "a")
        logf.write(f"\n=== {datetime.now(timezone.utc).isoformat()} start: {' '.join(cmd)}\n")
        logf.flush()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(BENCH, "reaper.py")] + cmd,
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            env=self.env(), cwd=self.workdir, start_new_session=True,
            preexec_fn=self.cpu.join)
        logf.close()
        self.cpu.check(self.proc.pid, self.name)
        self.wait_ready()

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited during start-up (status {self.proc.returncode}); "
                                 f"log:\n{tail(self.logpath)}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    greeting = s.recv(4096).decode(errors="replace")
                    if greeting.startswith("220"):
                        s.sendall(b"QUIT\r\n")
                        try:
                            s.recv(4096)
                        except OSError:
                            pass
                        self.settle()
                        return
                    last = f"greeting {greeting.strip()!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready on {self.addr()} after {timeout}s ({last}); "
                         f"log:\n{tail(self.logpath)}")

    def server_pids(self):
        return descendants(self.proc.pid) if self.proc else []

    def settle(self, timeout=10):
        """Waits until no session process is left (only the listening server)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.server_pids()) <= 1:
                break
            time.sleep(0.05)
        time.sleep(0.3)

    def pss(self):
        return sum(pss_kib(p) for p in self.server_pids())

    def check_alive(self):
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError(f"{self.name} died; log:\n{tail(self.logpath)}")

    def stop(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the server's own process group (it was started
        # in a new session, so the group id is the reaper's pid) is killed.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def restart(self):
        self.stop()
        self.start()


class Edgeftpd(Server):
    def command(self):
        if not os.access(EDGEFTPD, os.X_OK):
            raise BenchError(f"edgeftpd binary {EDGEFTPD} missing: run `cargo build --release` "
                             "(or leave it out with BENCH_SERVERS)")
        return [EDGEFTPD, "--listen", f"{HOST}:{self.port}", "--root", DATA,
                "--anonymous", "--write", "--pasv-ports", f"{self.pasv[0]}-{self.pasv[1]}",
                "--max-clients", str(MAX_CLIENTS), "--max-per-ip", str(MAX_CLIENTS),
                "--tls-cert", TLS_CERT, "--tls-key", TLS_KEY,
                ] + os.environ.get("BENCH_EDGEFTPD_ARGS", "").split()

    def env(self):
        e = dict(os.environ)
        e["RUST_LOG"] = RUST_LOG
        return e


class Vsftpd(Server):
    # The settings and their quirks: bench/vsftpd_conf.py. Here: libwrap.so.0 (libwrap0),
    # unpacked by setup.sh, through LD_LIBRARY_PATH; the user ftp is created by setup.sh.
    def command(self):
        empty = os.path.join(self.workdir, "empty")
        os.makedirs(empty, exist_ok=True)
        os.chmod(empty, 0o555)
        conf = os.path.join(self.workdir, "vsftpd.conf")
        settings = vsftpd_conf.settings(
            DATA, TLS_CERT, TLS_KEY, listen_address=HOST, listen_port=self.port,
            secure_chroot_dir=empty, pasv_min_port=self.pasv[0], pasv_max_port=self.pasv[1],
            max_clients=MAX_CLIENTS, max_per_ip=MAX_CLIENTS,
            isolate_network=VSFTPD_ISOLATE_NETWORK, use_localtime="NO",
            idle_session_timeout=600)
        with open(conf, "w") as f:
            f.write("# generated by bench/run.py\n" + vsftpd_conf.text(settings))
        return [os.path.join(PEERS, "vsftpd", "usr", "sbin", "vsftpd"), conf]

    def env(self):
        return peer_env()


class PureFtpd(Server):
    # Quirks (pure-ftpd 1.0.50 [privsep], Debian bookworm), run as root:
    #  * anonymous sessions run as the system user `ftp`, and the anonymous root
    #    is that user's home directory: there is no flag for either. We start it
    #    in a private mount namespace (unshare -m) where the served directory is
    #    bind-mounted over ftp's home, so the real home (/srv/ftp) is untouched.
    #  * -e anonymous only; uploads by anonymous are on by default (-i turns
    #    them off) into directories ftp can write (incoming/, 1777).
    #  * -L max files:depth defaults to 10000:5 and silently cuts listings:
    #    MLSD of 10,000 entries + . and .. would lose entries. -L 20000:5.
    #  * -c (max clients) defaults to 50: -c/-C raised for the idle sessions.
    #  * -H: no reverse DNS for every session. Logs go to syslog (none here).
    #  * each session is 2 processes (the session as ftp + its privsep helper),
    #    and the helper outlives the session briefly: see bench/reaper.py.
    def command(self):
        home = ftp_home()
        binary = os.path.join(PEERS, "pure-ftpd", "usr", "sbin", "pure-ftpd")
        args = [binary, "-S", f"{HOST},{self.port}", "-p", f"{self.pasv[0]}:{self.pasv[1]}",
                "-e", "-H", "-c", str(MAX_CLIENTS), "-C", str(MAX_CLIENTS),
                "-L", f"{2 * ENTRIES}:5", "-I", "10",
                # FTPS optional (-Y 1), with the bench's certificate (-2).
                "-Y", "1", "-2", TLS_PEM]
        script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                DATA, home] + args

    def env(self):
        return peer_env()


def ftp_home():
    import pwd
    try:
        home = pwd.getpwnam("ftp").pw_dir
    except KeyError:
        raise BenchError("system user ftp missing: run bench/setup.sh")
    os.makedirs(home, exist_ok=True)
    return home


def peer_env():
    e = dict(os.environ)
    try:
        with open(os.path.join(PEERS, "ld_library_path")) as f:
            lp = f.read().strip()
    except OSError:
        raise BenchError("bench/peers not set up: run bench/setup.sh")
    if lp:
        e["LD_LIBRARY_PATH"] = lp + (":" + e["LD_LIBRARY_PATH"] if e.get("LD_LIBRARY_PATH") else "")
    return e


def port_free_or_die(port, who):
    with socket.socket() as s:
        # SO_REUSEADDR as the servers do: TIME_WAIT leftovers do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as e:
            raise BenchError(f"port {HOST}:{port} for {who} is busy ({e}); set BENCH_PORT_BASE")


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


# --- data --------------------------------------------------------------------

BIG = f"big-{BIG_MB}m.bin"


def prepare_tls():
    if os.path.exists(TLS_PEM):
        return
    os.makedirs(os.path.dirname(TLS_CERT), exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "3650", "-subj", "/CN=edgeftpd-bench", "-keyout", TLS_KEY,
         "-out", TLS_CERT], 60, "openssl req")
    with open(TLS_PEM, "w") as f:
        f.write(open(TLS_KEY).read() + open(TLS_CERT).read())
    os.chmod(TLS_PEM, 0o600)


def prepare_data():
    prepare_tls()
    os.makedirs(DATA, exist_ok=True)
    os.chmod(DATA, 0o755)  # vsftpd refuses a writable anonymous root
    d = os.path.dirname(DATA)  # the peers' session users (ftp) must reach the root
    while d != "/":
        if not os.stat(d).st_mode & 0o001:
            raise BenchError(f"{d} is not searchable by others: the peers' ftp user cannot "
                             f"reach {DATA}; set BENCH_DATA elsewhere")
        d = os.path.dirname(d)
    inc = os.path.join(DATA, "incoming")
    os.makedirs(inc, exist_ok=True)
    os.chmod(inc, 0o1777)
    for f in os.listdir(inc):
        p = os.path.join(inc, f)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    small = os.path.join(DATA, "file4k")
    if not os.path.exists(small) or os.path.getsize(small) != 4096:
        with open(small, "wb") as f:
            f.write(os.urandom(4096))
    os.chmod(small, 0o644)
    big = os.path.join(DATA, BIG)
    if not os.path.exists(big) or os.path.getsize(big) != BIG_MB << 20:
        log(f"creating {BIG_MB} MiB test file")
        # Random bytes (not zeros) so nothing along the way can compress them.
        chunk = os.urandom(1 << 20)
        with open(big + ".tmp", "wb") as f:
            for i in range(BIG_MB):
                f.write(chunk[i % 4096:] + chunk[:i % 4096])
        os.rename(big + ".tmp", big)
    os.chmod(big, 0o644)
    d = os.path.join(DATA, f"dir{ENTRIES // 1000}k" if ENTRIES % 1000 == 0 else f"dir{ENTRIES}")
    os.makedirs(d, exist_ok=True)
    have = set(os.listdir(d))
    want = {f"entry-{i:05d}.dat" for i in range(ENTRIES)}
    for extra in have - want:
        os.unlink(os.path.join(d, extra))
    for name in want - have:
        with open(os.path.join(d, name), "w"):
            pass
    return "/" + os.path.basename(d)


def make_tree(top, files, lister):
    """Makes DATA/top with `files` [(relative path, size)] of random bytes (kept when
    they are already there at the right size) and writes their list for loadgen
    (`top/PATH SIZE` lines) to bench/target/`lister`. Returns the list's path."""
    import random
    for rel, size in files:
        path = os.path.join(DATA, top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.chmod(os.path.dirname(path), 0o755)
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                left = size
                while left:
                    n = min(left, 1 << 20)
                    f.write(random.randbytes(n))
                    left -= n
        os.chmod(path, 0o644)
    listing = os.path.join(BENCH, "target", lister)
    with open(listing, "w") as f:
        for rel, size in files:
            f.write(f"{top}/{rel} {size}\n")
    return listing


def prepare_small():
    """The small-file tree: SMALL_FILES files of 4-64 KiB (sizes fixed by a seed) in
    SMALL_DIRS folders of DATA/small."""
    import random
    rng = random.Random(13)
    files = [(f"d{i % SMALL_DIRS:02d}/f{i:05d}.bin", rng.randint(4 << 10, 64 << 10))
             for i in range(SMALL_FILES)]
    return make_tree("small", files, "small.list"), [("small/" + r, n) for r, n in files]


def prepare_conc():
    files = [(f"c{i:02d}.bin", CONC_MB << 20) for i in range(CONC_CLIENTS)]
    return make_tree("conc", files, "conc.list"), [("conc/" + r, n) for r, n in files]


def warm_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


# --- running things --------------------------------------------------------

def run(cmd, timeout, what, env=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: timed out after {timeout}s")
    if r.returncode != 0:
        raise BenchError(f"{what}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[:500]}")
    return r.stdout


def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def orders(servers, n):
    """Server orders for n runs, rotated so that none always goes first."""
    return [servers[i % len(servers):] + servers[:i % len(servers)] for i in range(n)]


# --- workloads: each returns {server: (value or None, note)} ---------------

# curl's flags for explicit FTPS (AUTH TLS, PROT P), the certificate not checked.
CURL_TLS = ["--ssl-reqd", "-k"]


def w_retr(servers, tls=False):
    path = os.path.join(DATA, BIG)
    warm_cache(path)
    samples = {s.name: [] for s in servers}
    extra = CURL_TLS if tls else []
    for order in orders(servers, BIG_RUNS):
        for s in order:
            c0 = s.cpu.ms()
            out = run(["curl", "-sS", "--max-time", "300", "-o", "/dev/null"] + extra +
                      ["-w", "%{speed_download} %{size_download}", s.url("/" + BIG)],
                      330, f"RETR on {s.name}")
            speed, size = out.split()
            if int(float(size)) != BIG_MB << 20:
                raise BenchError(f"RETR on {s.name}: got {size} bytes, expected {BIG_MB << 20}")
            samples[s.name].append(float(speed) / 1e6)
            cpu_note("retr_tls" if tls else "retr", s, c0, s.cpu.ms(), BIG_MB / 1024)
    return samples


def prefault(path, inc):
    """Writes and deletes a file the size of the upload on the same file system, right
    before the upload. On a VM whose free memory goes back to the host a moment after it is
    freed (virtio-balloon free page reporting), a page cache growing into such memory writes
    at a fifth of the speed (dd here: 0.4 GB/s after a 2 s pause, 2.6 GB/s right after a
    delete). This way every upload reuses just-freed memory, whichever server it is for."""
    scratch = os.path.join(inc, ".bench-prefault")
    with open(path, "rb") as src, open(scratch, "wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            dst.write(chunk)
    os.unlink(scratch)


def w_stor(servers, tls=False):
    extra = CURL_TLS if tls else []
    path = os.path.join(DATA, BIG)
    warm_cache(path)
    inc = os.path.join(DATA, "incoming")
    samples = {s.name: [] for s in servers}
    # Round 0 is a warm-up, not counted.
    for i, order in enumerate(orders(servers, BIG_RUNS + 1)):
        for s in order:
            name = f"stor-{s.name}-{i}.bin"
            try:
                prefault(path, inc)
                c0 = s.cpu.ms()
                out = run(["curl", "-sS", "--max-time", "300", "-T", path] + extra +
                          ["-w", "%{speed_upload} %{size_upload}", s.url("/incoming/" + name)],
                          330, f"STOR on {s.name}")
                speed, size = out.split()
                got = os.path.getsize(os.path.join(inc, name)) if os.path.exists(os.path.join(inc, name)) else -1
                if int(float(size)) != BIG_MB << 20 or got != BIG_MB << 20:
                    raise BenchError(f"STOR on {s.name}: sent {size}, file has {got} bytes, "
                                     f"expected {BIG_MB << 20}")
                if i > 0:
                    samples[s.name].append(float(speed) / 1e6)
                    cpu_note("stor_tls" if tls else "stor", s, c0, s.cpu.ms(), BIG_MB / 1024)
            finally:
                try:
                    os.unlink(os.path.join(inc, name))
                except FileNotFoundError:
                    pass
                os.sync()  # each upload starts with no dirty pages pending
    return samples


def w_sessions(servers, clients, tls=False):
    samples = {s.name: [] for s in servers}
    for order in orders(servers, RUNS):
        for s in order:
            if samples[s.name] == "FAIL":
                continue
            out = run([LOADGEN, "sessions", "--addr", s.addr(), "--path", "/file4k",
                       "--clients", str(clients), "--duration", str(SESSION_SECS),
                       "--expect-bytes", "4096", "--tls", "1" if tls else "0"],
                      SESSION_SECS + 120, f"session rate on {s.name}")
            r = kv(out)
            if int(r["errors"]) > 0:
                # That server fails the workload (and the run); the others' figures stand.
                msg = (f"session rate (c{clients}) on {s.name}: {r['errors']} failed sessions "
                       f"(of {int(r['errors']) + int(r['sessions'])})")
                log(f"FAILED {msg}")
                server_failures.append(msg)
                samples[s.name] = "FAIL"
                continue
            samples[s.name].append(float(r["rate"]))
            s.check_alive()
            s.settle()
    return samples


def w_mem(servers, tls=False):
    samples = {s.name: [] for s in servers}
    for order in orders(servers, MEM_RUNS):
        for s in order:
            s.restart()  # a fresh server: nothing cached from earlier workloads
            time.sleep(0.5)
            base = s.pss()
            nbase = len(s.server_pids())
            lg = subprocess.Popen([LOADGEN, "idle", "--addr", s.addr(), "--sessions", str(IDLE),
                                   "--duration", "300", "--tls", "1" if tls else "0"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
            guard = threading.Timer(180, lg.kill)  # bounded even if a server hangs
            guard.start()
            try:
                line = lg.stdout.readline().strip()
                if line != f"READY {IDLE}":
                    lg.kill()
                    raise BenchError(f"idle sessions on {s.name}: {line!r} "
                                     f"{lg.stderr.read().strip()[:300]}")
                time.sleep(1.5)  # let forked sessions finish starting up
                loaded = s.pss()
                nproc = len(s.server_pids())
            finally:
                if lg.poll() is None:
                    lg.stdin.close()
                    try:
                        lg.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        lg.kill()
                        lg.wait()
                guard.cancel()
            per = (loaded - base) / IDLE
            log(f"  mem {s.name}: {base} KiB idle ({nbase} proc) -> {loaded} KiB with {IDLE} "
                f"sessions ({nproc} proc): {per:.1f} KiB/session")
            samples[s.name].append(per)
    return samples


def w_list(servers, cmd, path):
    samples = {s.name: [] for s in servers}
    for order in orders(servers, 1):
        for s in order:
            c0 = s.cpu.ms()
            out = run([LOADGEN, "list", "--addr", s.addr(), "--path", path, "--cmd", cmd,
                       "--runs", str(LIST_RUNS + 1)], 300, f"{cmd} on {s.name}")
            if not out.startswith("unsupported"):
                cpu_note(cmd.lower(), s, c0, s.cpu.ms(), LIST_RUNS + 1)
            if out.startswith("unsupported"):
                samples[s.name] = None
                log(f"  {cmd} {s.name}: {out.strip()}")
                continue
            runs = [kv(l) for l in out.splitlines() if l.startswith("ms=")]
            for r in runs:
                if int(r["lines"]) < ENTRIES:
                    raise BenchError(f"{cmd} on {s.name}: {r['lines']} lines for {ENTRIES} entries")
            log(f"  {cmd} {s.name}: {runs[-1]['lines']} lines, {runs[-1]['bytes']} bytes")
            samples[s.name] = [float(r["ms"]) for r in runs[1:]]  # first run: warm-up
    return samples


# --- report --------------------------------------------------------------------

HIGHER_IS_BETTER = {"MB/s": True, "sessions/s": True, "KiB/session": False, "ms": False,
                    "CPU ms": False, "CPU ms/GiB": False, "s": False, "CPU ms/file": False}


def upload_dirs(name, files):
    """A fresh upload folder incoming/NAME with the folders of `files`, writable by the
    peers' session users. Returns its FTP path."""
    top = os.path.join(DATA, "incoming", name)
    if os.path.exists(top):
        shutil.rmtree(top)
    for d in sorted({os.path.dirname(os.path.join(top, rel)) for rel, _ in files}):
        os.makedirs(d, exist_ok=True)
    for d, _, _ in os.walk(top):
        os.chmod(d, 0o1777)
    return "/incoming/" + name


def w_files(servers, listing, files, op, sessions, tls, tag, runs):
    """Each server, `runs` times: loadgen files (EPSV + RETR/STOR + a data connection a
    file) with `sessions` sessions. Samples: wall milliseconds; server CPU per file and per GiB
    go to cpu_samples[tag]; MB/s to cpu_samples[tag + '_mbs']."""
    samples = {s.name: [] for s in servers}
    total = sum(size for _, size in files)
    for i, order in enumerate(orders(servers, runs + 1)):  # round 0: warm-up
        for s in order:
            if samples[s.name] == "FAIL":
                continue
            try:
                one_files_run(s, i, samples, listing, files, op, sessions, tls, tag, total)
            except BenchError as e:
                # A server failing here fails only its own figure (as in w_sessions).
                log(f"FAILED {e}")
                server_failures.append(str(e))
                samples[s.name] = "FAIL"
    return samples


def one_files_run(s, i, samples, listing, files, op, sessions, tls, tag, total):
    """One run of loadgen files on one server (run 0 is the warm-up: not counted)."""
    cmd = [LOADGEN, "files", "--addr", s.addr(), "--list", listing, "--op", op,
           "--sessions", str(sessions), "--tls", "1" if tls else "0"]
    up = None
    if op == "put":
        up = upload_dirs(f"{tag}-{s.name}-{i}", files)
        cmd += ["--prefix", up]
    # FTPS here is TLS 1.2 (session IDs): loadgen is a rustls client, which spends one
    # TLS 1.3 ticket per resumption and would run out of them on edgeftpd (whose data
    # connections send none) as on any server that sends none on uploads.
    env = dict(os.environ, LOADGEN_TLS12="1") if tls else None
    c0 = s.cpu.ms()
    out = run(cmd, 600, f"{tag} on {s.name}", env=env)
    c1 = s.cpu.ms()
    r = kv(out.strip().splitlines()[-1])
    if int(r["bytes"]) != total:
        raise BenchError(f"{tag} on {s.name}: {r['bytes']} bytes moved, expected {total}")
    if up:
        top = os.path.join(DATA, up.lstrip("/"))
        check_uploads(s, tag, top, files)
        shutil.rmtree(top)
    if i == 0:
        return
    secs = float(r["seconds"])
    samples[s.name].append(secs * 1000)
    cpu_note(tag + "_cpu_file", s, c0, c1, len(files))
    cpu_note(tag + "_cpu", s, c0, c1, total / (1 << 30))
    cpu_samples.setdefault(tag + "_mbs", {}).setdefault(s.name, []).append(
        total / 1e6 / secs)
    s.settle()


def check_uploads(s, tag, top, files):
    """Every uploaded file is there, whole (the loadgen's pattern is not checked byte by
    byte here: the soak does that)."""
    for rel, size in files:
        p = os.path.join(top, rel)
        if not os.path.exists(p) or os.path.getsize(p) != size:
            raise BenchError(f"{tag} on {s.name}: {rel} missing or not {size} bytes")


def w_mirror(servers, files):
    """lftp mirror of the small tree, for the record (lftp is the bottleneck)."""
    samples = {s.name: [] for s in servers}
    for order in orders(servers, max(1, SMALL_RUNS // 2)):
        for s in order:
            dest = os.path.join(BENCH, "target", "mirror-" + s.name)
            shutil.rmtree(dest, ignore_errors=True)
            t0 = time.monotonic()
            run(["lftp", "-c", f"set net:max-retries 1; set ftp:passive-mode on; "
                 f"open {s.url('')}; mirror --parallel=1 /small {dest}"], 600,
                f"lftp mirror on {s.name}")
            samples[s.name].append((time.monotonic() - t0) * 1000)
            got = sum(len(fs) for _, _, fs in os.walk(dest))
            shutil.rmtree(dest, ignore_errors=True)
            if got != len(files):
                raise BenchError(f"lftp mirror on {s.name}: {got} files of {len(files)}")
    return samples


def mbs_of(_seconds, tag):
    """A concurrency workload's figure: aggregate MB/s (its seconds are in the log)."""
    return cpu_samples.get(tag + "_mbs", {})


def cpu_of(workload):
    """The CPU samples the workload just run recorded (server CPU, from its cgroup)."""
    return cpu_samples.get(workload, {})


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def main():
    if not shutil.which("curl"):
        raise BenchError("curl missing: run bench/setup.sh")
    if not os.access(LOADGEN, os.X_OK):
        raise BenchError(f"{LOADGEN} missing: `make bench` builds it")
    for n in SERVERS:
        if n not in ALL_SERVERS:
            raise BenchError(f"unknown server {n} in BENCH_SERVERS")
    os.makedirs(LOGS, exist_ok=True)
    for n in SERVERS:
        open(os.path.join(LOGS, f"{n}.log"), "w").close()

    listdir = prepare_data()
    ports = {n: PORT_BASE + i for i, n in enumerate(ALL_SERVERS)}
    pasv = {n: (22000 + 1000 * i, 22999 + 1000 * i) for i, n in enumerate(ALL_SERVERS)}
    cls = {"edgeftpd": Edgeftpd, "vsftpd": Vsftpd, "pure-ftpd": PureFtpd}
    servers = [cls[n](n, ports[n], pasv[n]) for n in ALL_SERVERS if n in SERVERS]

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    say(f"# edgeftpd bench {stamp}  host: {os.uname().release}, {os.cpu_count()} cpu(s), "
        f"{cpu_model()}")
    say(f"# runs={RUNS} big_runs={BIG_RUNS} big={BIG_MB}MiB session_secs={SESSION_SECS} "
        f"clients={CLIENTS} idle_sessions={IDLE} mem_runs={MEM_RUNS} list_entries={ENTRIES} "
        f"list_runs={LIST_RUNS} quick={int(QUICK)}")
    say(f"# versions: {versions()}")

    results = []  # (workload, unit, {server: samples or None})
    failures = []
    t_start = time.monotonic()
    try:
        for s in servers:
            log(f"starting {s.name} on {s.addr()} (passive {s.pasv[0]}-{s.pasv[1]})")
            s.start()
        big_name = "1g" if BIG_MB == 1024 else f"{BIG_MB}m"
        plan = []
        if "mem" in WORKLOADS:
            plan.append((f"idle_mem_{IDLE}", "KiB/session", lambda: w_mem(servers)))
        if "list" in WORKLOADS:
            tag = f"{ENTRIES // 1000}k" if ENTRIES % 1000 == 0 else str(ENTRIES)
            plan.append((f"list_{tag}", "ms", lambda: w_list(servers, "LIST", listdir)))
            plan.append((f"list_{tag}_cpu", "CPU ms", lambda: cpu_of("list")))
            plan.append((f"mlsd_{tag}", "ms", lambda: w_list(servers, "MLSD", listdir)))
            plan.append((f"mlsd_{tag}_cpu", "CPU ms", lambda: cpu_of("mlsd")))
        if "sess" in WORKLOADS:
            for c in CLIENTS:
                plan.append((f"sessions_c{c}", "sessions/s", lambda c=c: w_sessions(servers, c)))
        if "retr" in WORKLOADS:
            plan.append((f"retr_{big_name}", "MB/s", lambda: w_retr(servers)))
            plan.append((f"retr_{big_name}_cpu", "CPU ms/GiB", lambda: cpu_of("retr")))
        if "stor" in WORKLOADS:
            plan.append((f"stor_{big_name}", "MB/s", lambda: w_stor(servers)))
            plan.append((f"stor_{big_name}_cpu", "CPU ms/GiB", lambda: cpu_of("stor")))
        # "tls" is all four TLS workloads; mem_tls, sess_tls, retr_tls, stor_tls pick one.
        def want_tls(part):
            return "tls" in WORKLOADS or f"{part}_tls" in WORKLOADS
        if want_tls("mem"):
            plan.append((f"idle_mem_{IDLE}_tls", "KiB/session", lambda: w_mem(servers, tls=True)))
        if want_tls("sess"):
            for c in CLIENTS:
                plan.append((f"sessions_c{c}_tls", "sessions/s",
                             lambda c=c: w_sessions(servers, c, tls=True)))
        if want_tls("retr"):
            plan.append((f"retr_{big_name}_tls", "MB/s", lambda: w_retr(servers, tls=True)))
            plan.append((f"retr_{big_name}_tls_cpu", "CPU ms/GiB", lambda: cpu_of("retr_tls")))
        if want_tls("stor"):
            plan.append((f"stor_{big_name}_tls", "MB/s", lambda: w_stor(servers, tls=True)))
            plan.append((f"stor_{big_name}_tls_cpu", "CPU ms/GiB", lambda: cpu_of("stor_tls")))
        def small(tls):
            t = "_tls" if tls else ""
            listing, files = prepare_small()
            for op, verb in (("get", "retr"), ("put", "stor")):
                for n in SMALL_SESSIONS:
                    tag = f"small_{verb}_s{n}{t}"
                    plan.append((tag, "ms", lambda op=op, n=n, tag=tag: w_files(
                        servers, listing, files, op, n, tls, tag, SMALL_RUNS)))
                    plan.append((tag + "_cpu", "CPU ms/file",
                                 lambda tag=tag: cpu_of(tag + "_cpu_file")))
            if not tls:
                plan.append(("small_mirror_lftp", "ms", lambda: w_mirror(servers, files)))
        if "small" in WORKLOADS:
            small(False)
        if "small_tls" in WORKLOADS:
            small(True)
        if "conc" in WORKLOADS:
            listing, files = prepare_conc()
            for op, verb in (("get", "retr"), ("put", "stor")):
                tag = f"conc{CONC_CLIENTS}_{verb}_{CONC_MB}m"
                plan.append((tag, "MB/s", lambda op=op, tag=tag: mbs_of(w_files(
                    servers, listing, files, op, CONC_CLIENTS, False, tag, CONC_RUNS), tag)))
                plan.append((tag + "_cpu", "CPU ms/GiB", lambda tag=tag: cpu_of(tag + "_cpu")))
        for name, unit, fn in plan:
            t0 = time.monotonic()
            log(f"workload {name}")
            try:
                samples = fn()
            except BenchError as e:
                # One server failing a workload fails the run, but the other
                # figures are still worth printing.
                log(f"FAILED {name}: {e}")
                failures.append(f"{name}: {e}")
                samples = {s.name: "FAIL" for s in servers}
            results.append((name, unit, samples))
            log(f"  {name} took {time.monotonic() - t0:.0f}s")
            for s in servers:
                s.check_alive()
    finally:
        for s in servers:
            s.stop()
            s.cpu.remove()

    report(results, servers)
    say(f"# total {time.monotonic() - t_start:.0f}s")
    failures += server_failures
    for f in failures:
        say(f"# FAILED {f}")
    save(stamp)
    if failures:
        raise BenchError(f"{len(failures)} workload(s) failed")


def report(results, servers):
    names = [s.name for s in servers]
    say("")
    header = f"{'workload':<18} {'unit':<12}" + "".join(f"{n:>11}" for n in ALL_SERVERS if n in names)
    header += f"{'ratio':>9}  best peer"
    say(header)
    say("-" * len(header))
    bench_lines = []
    for name, unit, samples in results:
        med = {}
        for n in names:
            v = samples.get(n)
            if v == "FAIL":
                med[n] = "FAIL"
            elif not v:
                med[n] = None
            else:
                med[n] = statistics.median(v)
                bench_lines.append(
                    f"BENCH workload={name} server={n} value={med[n]:.2f} unit={unit} "
                    f"runs={len(v)} samples={','.join(f'{x:.2f}' for x in v)}")
            if med[n] is None:
                bench_lines.append(f"BENCH workload={name} server={n} value=n/a unit={unit}")
            elif med[n] == "FAIL":
                bench_lines.append(f"BENCH workload={name} server={n} value=FAIL unit={unit}")
        peers = {n: med[n] for n in PEER_NAMES if isinstance(med.get(n), float)}
        ratio, best = None, "-"
        if peers:
            pick = max if HIGHER_IS_BETTER[unit] else min
            best = pick(peers, key=peers.get)
            if isinstance(med.get("edgeftpd"), float) and peers[best] > 0:
                ratio = med["edgeftpd"] / peers[best]
                bench_lines.append(f"BENCH workload={name} server=ratio value={ratio:.3f} "
                                   f"unit=edgeftpd/{best}")
        row = f"{name:<18} {unit:<12}"
        for n in names:
            row += f"{med[n] if med[n] == 'FAIL' else fmt(med[n]):>11}"
        row += f"{(f'{ratio:.2f}' if ratio is not None else '-'):>9}  {best}"
        say(row)
    say("")
    say("ratio = edgeftpd / best peer; best = highest MB/s or sessions/s, lowest ms or KiB/session.")
    say("MB/s = 10^6 bytes/s. Values are medians; samples are in the BENCH lines.")
    say("*_cpu = CPU time of the whole server (all its processes, from its own cgroup) per")
    say("listing (login included) or per GiB moved: what the work costs a router's CPU.")
    say("")
    for line in bench_lines:
        say(line)


def save(stamp):
    os.makedirs(OUT, exist_ok=True)
    text = "\n".join(output_lines) + "\n"
    path = os.path.join(OUT, f"bench-{stamp}.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "latest.txt"), "w") as f:
        f.write(text)
    log(f"saved {path} and {os.path.join(OUT, 'latest.txt')}")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


def versions():
    v = []
    for n in PEER_NAMES:
        try:
            debs = [d for d in os.listdir(os.path.join(PEERS, "debs")) if d.startswith(n + "_")]
            v.append(f"{n} {debs[0].split('_')[1]}" if debs else n)
        except OSError:
            v.append(n)
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rev = ""
    v.insert(0, f"edgeftpd {rev or '?'}")
    return ", ".join(v)


def on_signal(sig, _frame):
    raise KeyboardInterrupt(f"signal {sig}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        main()
    except BenchError as e:
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
