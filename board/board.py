"""The emulated boards from the host: boot one (board/build.sh made its kernel and
initramfs), drive its console, reach its FTP server through qemu's port forwards on
127.0.0.1, and cut its power.

A board is qemu-system with one core, the memory board/boards gives, the initramfs as its
root, a raw disk image as its USB disk (virtio-blk), and user-mode networking whose only
way in is hostfwd on 127.0.0.1: the control port, the implicit-TLS port and the passive
range. Its serial console is a Unix socket: `Board.sh(cmd)` runs a busybox shell command
there and returns its output and exit status. Nothing of the tests runs in the guest but
the server and busybox. Every wait is bounded: a board that does not boot raises with the
console's last lines.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "board", "out")
PASV_BASE = 41000  # the guest's --pasv-ports are 10 from here, forwarded port for port
PASV_PORTS = 10

# How each board's qemu is started (the machine, its console, its virtio devices).
MACHINES = {
    "armv7": dict(qemu="qemu-system-arm", machine=["-M", "virt", "-cpu", "cortex-a15"],
                  console="ttyAMA0", net="virtio-net-device", blk="virtio-blk-device"),
    "aarch64": dict(qemu="qemu-system-aarch64", machine=["-M", "virt", "-cpu", "cortex-a53"],
                    console="ttyAMA0", net="virtio-net-device", blk="virtio-blk-device"),
    "mipsel": dict(qemu="qemu-system-mipsel", machine=["-M", "malta", "-vga", "none"],
                   console="ttyS0", net="virtio-net-pci,romfile=", blk="virtio-blk-pci"),
}


def boards():
    """The rows of board/boards: (name, memory in MiB)."""
    rows = []
    with open(os.path.join(ROOT, "board", "boards")) as f:
        for line in f:
            w = line.split()
            if w and not w[0].startswith("#"):
                rows.append((w[0], int(w[3])))
    return rows


class BoardError(Exception):
    pass


def curl(args, user=None, tls=False, timeout=60, input=None, check=True):
    """The one way board/'s scripts run curl against a board: -sS and a time limit, the
    account `user` (name, password) if given, FTPS (--ssl-reqd -k) when `tls`. Returns the
    CompletedProcess (stdout and stderr as bytes); with `check`, an exit other than 0
    raises BoardError with curl's message."""
    cmd = ["curl", "-sS", "--max-time", str(timeout)]
    if user:
        cmd += ["-u", f"{user[0]}:{user[1]}"]
    if tls:
        cmd += ["--ssl-reqd", "-k"]
    cmd += [str(a) for a in args]
    r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        err = r.stderr.decode(errors="replace").strip()[-500:]
        raise BoardError(f"curl {' '.join(cmd[4:])}: exit {r.returncode}: {err}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mount_type(fs):
    """What the board mounts a disk of `fs` as: `ext4fc` is ext4 made with fast commits
    (mkfs.ext4 -O fast_commit, as an admin may format the USB disk), mounted as ext4."""
    return {"ext4fc": "ext4"}.get(fs, fs)


def make_disk(path, fs, size_mb=256):
    """A fresh raw disk image with an empty `fs` (ext4, ext4fc, vfat, exfat or ntfs)
    filesystem."""
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    cmd = {"ext4": ["mkfs.ext4", "-q", "-F", "-L", "USB", path],
           "ext4fc": ["mkfs.ext4", "-q", "-F", "-O", "fast_commit", "-L", "USB", path],
           "vfat": ["mkfs.vfat", "-n", "USB", path],
           "exfat": ["mkfs.exfat", "-L", "USB", path],
           "ntfs": ["mkntfs", "-F", "-Q", "-q", "-L", "USB", path]}[fs]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise BoardError(f"{cmd[0]} {path}: exit {r.returncode}\n{r.stdout}")


def bundle_disk(name, what, path, size_mb):
    """A read-only ext4 disk labelled WHAT (upper case) with board/out/NAME/WHAT/, the
    programs board/build.sh bundled with the libraries they load, run on the board by their
    own loader: /opt/WHAT/lib/ld.so --library-path /opt/WHAT/lib /opt/WHAT/sbin/PROGRAM."""
    src = os.path.join(OUT, name, what)
    if not os.path.isdir(src):
        raise BoardError(f"{src} missing: run board/build.sh {what} {name}")
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", what.upper(), "-d", src, path], check=True)


def make_tools_disk(name, path):
    """The TOOLS disk: Debian's ntfs-3g, which the board mounts an NTFS USB disk with."""
    bundle_disk(name, "tools", path, 32)


def make_peers_disk(name, path):
    """The PEERS disk: Debian's vsftpd and pure-ftpd."""
    bundle_disk(name, "peers", path, 64)


def data(n, seed):
    """`n` bytes of a stream that `seed` names (the same bytes for the same seed)."""
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def fsck(path, fs):
    """Checks (and repairs, as a router's boot would) the disk image; returns the output."""
    cmd = {"ext4": ["e2fsck", "-p", "-f", path],
           "ext4fc": ["e2fsck", "-p", "-f", path],
           "vfat": ["fsck.vfat", "-a", "-w", path],
           "exfat": ["fsck.exfat", "-p", path],
           # What a router or Linux PC can do to NTFS: fix what it can, clear the log.
           "ntfs": ["ntfsfix", path]}[fs]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # e2fsck, fsck.vfat, fsck.exfat: 0 clean, 1 errors corrected; ntfsfix: 0 done.
    if r.returncode not in (0, 1):
        raise BoardError(f"{cmd[0]} {path}: exit {r.returncode}\n{r.stdout}")
    return r.stdout


class Board:
    """One emulated board. `start()` boots it and waits for the server's greeting."""

    def __init__(self, name, workdir, fs="ext4", flavour="tls", memory=None, disk=None,
                 peers_disk=None, pasv_base=PASV_BASE):
        self.name, self.fs, self.flavour = name, fs, flavour
        self.m = MACHINES[name]
        self.memory = memory or dict(boards())[name]
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.disk = disk or os.path.join(workdir, f"usb-{fs}.img")
        self.peers_disk = peers_disk  # read-only, labelled PEERS (see make_peers_disk)
        self.initrd = None  # another initramfs than board/out/NAME/initrd.gz
        # NTFS is mounted by ntfs-3g, from a read-only disk labelled TOOLS.
        self.tools_disk = None
        if fs == "ntfs":
            self.tools_disk = os.path.join(workdir, "tools.img")
            if not os.path.exists(self.tools_disk):
                make_tools_disk(name, self.tools_disk)
        # Two boards at once need two passive ranges (the kernel command line names it).
        self.pasv = range(pasv_base, pasv_base + PASV_PORTS)
        if not os.path.exists(self.disk):
            make_disk(self.disk, fs)
        self.ftp_port = free_port()
        self.ftps_port = free_port()
        self.proc = None
        self.con = None
        self.log = b""
        # More of qemu's options (board/bench.py --icount).
        self.qemu_extra = []

    # --- power -------------------------------------------------------------------------

    def start(self, timeout=120):
        kernel = os.path.join(OUT, self.name, "vmlinuz")
        initrd = self.initrd or os.path.join(OUT, self.name, "initrd.gz")
        if not os.path.exists(initrd):
            raise BoardError(f"{initrd} missing: run make board")
        sock = os.path.join(self.workdir, "console.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        fwd = [f"hostfwd=tcp:127.0.0.1:{self.ftp_port}-:21",
               f"hostfwd=tcp:127.0.0.1:{self.ftps_port}-:990"]
        fwd += [f"hostfwd=tcp:127.0.0.1:{p}-:{p}" for p in self.pasv]
        append = (f"console={self.m['console']} usbfs={mount_type(self.fs)} edgeftpd={self.flavour} "
                  f"pasv={self.pasv[0]}-{self.pasv[-1]} "
                  "rdinit=/sbin/init cma=0 quiet panic=1")
        cmd = [self.m["qemu"], *self.m["machine"], "-m", f"{self.memory}M", "-smp", "1",
               "-kernel", kernel, "-initrd", initrd, "-append", append,
               "-nographic", "-monitor", "none",
               "-chardev", f"socket,id=con,path={sock},server=on,wait=off",
               "-serial", "chardev:con",
               "-netdev", "user,id=n0," + ",".join(fwd),
               "-device", f"{self.m['net']},netdev=n0",
               # A write or read the host fails is an I/O error the guest sees, as from a
               # disk (board/diskfail.py), not a VM paused (qemu's default on ENOSPC).
               "-drive", f"file={self.disk},if=none,id=d0,format=raw,cache=writeback,"
               "werror=report,rerror=report",
               "-device", f"{self.m['blk']},drive=d0"]
        if self.peers_disk:
            cmd += ["-drive", f"file={self.peers_disk},if=none,id=d1,format=raw,readonly=on",
                    "-device", f"{self.m['blk']},drive=d1"]
        if self.tools_disk:
            cmd += ["-drive", f"file={self.tools_disk},if=none,id=d2,format=raw,readonly=on",
                    "-device", f"{self.m['blk']},drive=d2"]
        cmd += self.qemu_extra
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        # The console's socket is there, and listened on, once qemu is up.
        deadline = time.monotonic() + 10
        while True:
            self.con = socket.socket(socket.AF_UNIX)
            try:
                self.con.connect(sock)
                break
            except OSError:
                self.con.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BoardError(f"{self.name}: qemu did not start: "
                                     f"{self.proc.stderr.read().decode(errors='replace')}")
                time.sleep(0.05)
        self.log = b""
        self.expect(b"rcS: up", timeout)
        self.check_disk()
        if self.flavour != "off":
            self.wait_ftp(timeout=30)
        return self

    def check_disk(self):
        """The USB disk must be mounted: a server serving the initramfs would lose every
        upload in a power cut and look like the server's fault."""
        st, out = self.sh("grep ' /mnt/usb ' /proc/mounts")
        kind = "fuseblk" if self.fs == "ntfs" else mount_type(self.fs)
        if st != 0 or f" {kind} " not in out:
            raise BoardError(f"{self.name}: /mnt/usb is not the {self.fs} disk: {out!r}\n{self.tail()}")

    def kill(self):
        """Pulls the plug: SIGKILL to qemu. The guest's RAM and page cache are lost; what
        reached the disk image stays."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.con:
            self.con.close()
            self.con = None

    def reboot(self, timeout=120):
        """`reboot` on the console: init stops the services, the machine restarts with the
        same disk, and the server must be back by itself."""
        self.send(b"reboot\n")
        self.log = b""
        self.expect(b"rcS: up", timeout)
        self.check_disk()
        self.wait_ftp(timeout=30)

    # --- console -----------------------------------------------------------------------

    def send(self, data):
        self.con.sendall(data)

    def read_some(self, timeout):
        self.con.settimeout(timeout)
        try:
            b = self.con.recv(65536)
        except socket.timeout:
            return b""
        except ConnectionResetError:
            b = b""  # qemu exited (a board that halts: rcS stops on a disk it can't mount)
        if not b:
            raise BoardError(f"{self.name}: console closed\n{self.tail()}")
        self.log += b
        return b

    def expect(self, needle, timeout):
        deadline = time.monotonic() + timeout
        start = max(0, len(self.log) - len(needle))
        while needle not in self.log[start:]:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc and self.proc.poll() is not None):
                raise BoardError(f"{self.name}: no {needle!r} within {timeout} s\n{self.tail()}")
            self.read_some(min(left, 1.0))
        return self.log

    def tail(self, n=30):
        lines = self.log.decode(errors="replace").splitlines()
        return "console, last lines:\n  " + "\n  ".join(lines[-n:])

    def sh(self, cmd, timeout=60):
        """Runs `cmd` in the console's shell; returns (exit status, output)."""
        # The markers printed are not in the echoed command line (printf joins them).
        tag = str(time.monotonic_ns())
        mark = len(self.log)
        self.send(f"printf '@@%s@@\\n' B{tag}; {cmd}; printf '@@%s:%s@@\\n' E{tag} $?\n".encode())
        begin = re.compile(rb"@@B" + tag.encode() + rb"@@\r?\n")
        end = re.compile(rb"@@E" + tag.encode() + rb":(\d+)@@")
        deadline = time.monotonic() + timeout
        while True:
            b = begin.search(self.log, mark)
            m = b and end.search(self.log, b.end())
            if m:
                out = self.log[b.end():m.start()].decode(errors="replace")
                return int(m.group(1)), out.replace("\r", "")
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardError(f"{self.name}: `{cmd}` did not finish in {timeout} s\n{self.tail()}")
            self.read_some(min(left, 1.0))

    # --- the server --------------------------------------------------------------------

    def greeting(self, timeout=5):
        """The server's first line on the forwarded control port ('' when none)."""
        try:
            with socket.create_connection(("127.0.0.1", self.ftp_port), timeout=timeout) as s:
                s.settimeout(timeout)
                return s.makefile("rb").readline().decode(errors="replace")
        except OSError:
            return ""

    def wait_ftp(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.greeting().startswith("220"):
                return
            time.sleep(0.5)
        raise BoardError(f"{self.name}: no FTP greeting within {timeout} s\n{self.tail()}")

    def url(self, path="", tls=False):
        return f"ftp://127.0.0.1:{self.ftp_port}/{path}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def require_tools():
    for t in ["qemu-system-arm", "qemu-system-mipsel", "qemu-system-aarch64", "mkfs.vfat",
              "mkfs.ext4", "e2fsck", "fsck.vfat", "mkfs.exfat", "fsck.exfat", "mkntfs", "ntfsfix", "curl", "lftp"]:
        if not shutil.which(t):
            raise BoardError(f"{t} missing: run make board (it installs the host tools)")
