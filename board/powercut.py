"""`make board-powercut`: pulls the plug on an emulated board while clients upload, again
and again, and checks that a 226 meant the file was on the disk.

Each round: the board boots (its disk image kept from the round before, checked with fsck
on the host first, as a router's boot would), the files of every earlier round are read
back through the server and checked, then clients upload new files and overwrite existing
ones in a loop (plain and FTPS, small and multi-MiB), recording every 226, until a random
moment when qemu gets SIGKILL: the guest's RAM and page cache are lost, what reached the
disk image stays. The checks, after every cut:

- lost: a file whose last upload was acknowledged (226) is missing or has other content;
- torn: a file has content that no upload of it ever had in full (a mix, a truncation);
- gone: a file that existed before the cut is missing (no DELE is ever sent);
- temporary: a temporary upload file is left once the server has started.

A share of the cuts (--camera-share, a third by default) comes the way a camera uploads
instead: a burst of 20 new pictures, then quiet for 0 to --quiet-max seconds, then the cut
(the kernel's own writeback, some 30 s later, must not be what makes a 226 true). A
fifth of each burst goes to a folder per day made with MKD
(`cam/2026-12-NNN/12/img-NNN-0000.jpg`: the folders must survive with their files), a
fifth to `cam/all`, a folder of thousands of files made at the first boot (--crowd: on
FAT its directory spans many clusters), the rest to a folder made on the router itself
(`mkdir`, as another program or the admin would: on FAT its first cluster then sits on
its parent's buffer list, see src/vfs/mod.rs's sync_entries).

    python3 board/powercut.py [--board armv7] [--fs ext4|ext4fc|vfat|exfat|ntfs] [--cuts N] [--seed S]
                              [--server edgeftpd|vsftpd|pure-ftpd]

Prints a line per cut and a summary; exits 1 if anything was lost or torn.

--server vsftpd|pure-ftpd runs the same loop against Debian's peers of the board's
architecture (board/build.sh peers; a second, read-only disk carries them): vsftpd with
anonymous uploads and overwrites (its local users need PAM, which the board has not; its
anonymous root is a folder of its own with the disk's two folders bound into it),
pure-ftpd with bob as a system account (-l unix; its anonymous users may not overwrite).
Neither renames or syncs: they write in place. Figures, not a gate for them.
"""

import argparse
import hashlib
import os
import random
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import board  # noqa: E402
import vsftpd_conf  # noqa: E402 (bench/vsftpd_conf.py)

USER, PASSWORD = "bob", "board-secret"  # vsftpd: anonymous (set in main)
NAMES = [f"cam/img-{i:02d}.jpg" for i in range(12)] + [f"backup/part-{i}.bin" for i in range(4)]
TEMP_PREFIX = ".edgeftpd-upload."


def content(name, version, size):
    """The bytes of upload `version` of `name` (a header naming both, then a stream)."""
    head = f"{name} v{version} {size}\n".encode()
    out = bytearray(head)
    block = hashlib.sha256(head).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


class Ledger:
    """What the clients did: per name, every version ever started (with its digest) and the
    last one acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions = {}  # name -> {digest: version}
        self.acked = {}  # name -> digest of the last acknowledged upload
        self.next_version = 0
        self.acks = 0
        self.busy = set()

    def begin(self, name):
        with self.lock:
            if name in self.busy:
                return None
            self.busy.add(name)
            self.next_version += 1
            return self.next_version

    def started(self, name, digest, version):
        with self.lock:
            self.versions.setdefault(name, {})[digest] = version

    def done(self, name, digest, ok):
        with self.lock:
            self.busy.discard(name)
            if ok:
                self.acked[name] = digest
                self.acks += 1


def curl_put(b, path, body, tls, timeout=60):
    r = board.curl(["--ftp-create-dirs", "-T", "-", b.url(path)], user=(USER, PASSWORD),
                   tls=tls, timeout=timeout, input=body, check=False)
    return r.returncode == 0  # curl exits 0 only after the server's 226


def curl_get(b, path):
    r = board.curl([b.url(path)], user=(USER, PASSWORD), timeout=120, check=False)
    if r.returncode == 0:
        return r.stdout
    # 550 on RETR (78) or on CWD into a folder not made yet (9): no such file.
    if r.returncode in (9, 78):
        return None
    # The server sent less than the size it announced (a file it cannot read whole): what
    # came is what the file gives, torn.
    if r.returncode == 18:
        return r.stdout
    raise board.BoardError(f"curl get {path}: {r.stderr.decode(errors='replace')}")


def listing(b, folder):
    r = board.curl(["-X", "LIST -a", b.url(folder + "/")], user=(USER, PASSWORD), check=False)
    return r.stdout.decode(errors="replace") if r.returncode == 0 else ""


CROWD = "cam/all"


def crowd(b, n):
    """Makes `n` empty pictures in CROWD on the board, once (the first boot): a camera's
    folder of thousands of files, whose directory spans many clusters on FAT."""
    if b.sh(f"[ -d /mnt/usb/{CROWD} ]")[0] == 0:
        return
    st, out = b.sh(f"mkdir -p /mnt/usb/{CROWD} && cd /mnt/usb/{CROWD} && "
                   f"seq -w 1 {n} | sed 's/^/old-/;s/$/.jpg/' | xargs touch && "
                   "chmod -R 777 /mnt/usb/cam && cd / && sync", timeout=600)
    if st != 0:
        raise board.BoardError(f"making {n} files in {CROWD}: {out}")


def camera_burst(b, ledger, rng, cut, tls_share, files=20):
    """A camera's burst: `files` new 20 KB pictures, a fifth into a folder per day (MKD,
    made by curl's --ftp-create-dirs), a fifth into CROWD (thousands of files), the rest,
    the last one among them, into a folder made on the router with mkdir. (Twelve pictures
    there: the names then span more than one 512-byte block of the FAT directory, so a
    rename's two entries are in different blocks and a sync of the new name's block does
    not write the old one's removal.)"""
    shell_dir = f"shell-{cut:03d}"
    # The camera was quiet before too: the kernel's writeback had written everything. (Else
    # the block device has been dirty for over 30 s since the boot and the checks, and the
    # writeback every 5 s writes all of it, hiding a commit that relies on it.)
    b.sh("sync")
    b.sh(f"mkdir -p /mnt/usb/{shell_dir} && chmod 777 /mnt/usb/{shell_dir}")
    for i in range(files):
        folder = {0: f"cam/2026-12-{cut:03d}/12", 1: CROWD}.get(i % 5, shell_dir)
        name = f"{folder}/img-{cut:03d}-{i:04d}.jpg"
        version = ledger.begin(name)
        body = content(name, version, 20 << 10)
        digest = hashlib.sha256(body).hexdigest()
        ledger.started(name, digest, version)
        ledger.done(name, digest, curl_put(b, name, body, tls=rng.random() < tls_share))


def client(b, ledger, rng, stop, tls_share):
    while not stop.is_set():
        name = rng.choice(NAMES)
        version = ledger.begin(name)
        if version is None:
            continue
        big = name.startswith("backup/")
        size = rng.randint(1 << 20, 4 << 20) if big else rng.randint(4 << 10, 64 << 10)
        body = content(name, version, size)
        digest = hashlib.sha256(body).hexdigest()
        ledger.started(name, digest, version)
        ok = curl_put(b, name, body, tls=rng.random() < tls_share)
        ledger.done(name, digest, ok)


PEER = "/opt/peers/lib/ld.so --library-path /opt/peers/lib /opt/peers/sbin/"
# The benchmarks' vsftpd (bench/vsftpd_conf.py), in the background, with its anonymous root
# of its own (see start_peer).
VSFTPD = vsftpd_conf.settings(
    "/srv/ftp", "/etc/edgeftpd/cert.pem", "/etc/edgeftpd/key.pem",
    background="YES", anon_umask="022", pasv_address="127.0.0.1")


def start_peer(b, server, fs):
    """Mounts the USB disk so the peer's user may write it, makes the folders, starts it."""
    uid = 21 if server == "vsftpd" else 1000
    if fs in ("vfat", "exfat"):
        b.sh(f"d=$(awk '$2==\"/mnt/usb\" {{print $1}}' /proc/mounts); umount /mnt/usb && "
             f"mount -t {fs} -o uid={uid},gid={uid} $d /mnt/usb")
    elif fs == "ntfs":
        b.sh(f"d=$(awk '$2==\"/mnt/usb\" {{print $1}}' /proc/mounts); umount /mnt/usb && "
             "/opt/tools/lib/ld.so --library-path /opt/tools/lib /opt/tools/sbin/ntfs-3g "
             f"-o uid={uid},gid={uid} $d /mnt/usb")
    b.sh(f"mkdir -p /mnt/usb/cam /mnt/usb/backup && chown {uid}:{uid} /mnt/usb/cam "
         "/mnt/usb/backup /mnt/usb/cam/* /mnt/usb/backup/* 2>/dev/null; sync; true")
    lo, hi = b.pasv[0], b.pasv[-1]
    if server == "vsftpd":
        # Its anonymous root may not be writable (allow_writeable_chroot is for local users
        # only), and on vfat every folder is: the two folders are bound into a root of
        # their own.
        b.sh("mkdir -p /srv/ftp/cam /srv/ftp/backup && chmod 755 /srv/ftp && "
             "mount -o bind /mnt/usb/cam /srv/ftp/cam && "
             "mount -o bind /mnt/usb/backup /srv/ftp/backup")
        conf = dict(VSFTPD, pasv_min_port=lo, pasv_max_port=hi)
        lines = "\\n".join(f"{k}={v}" for k, v in conf.items())
        b.sh("mkdir -p /var/run/vsftpd/empty && chmod 555 /var/run/vsftpd/empty && "
             f"printf '{lines}\\n' >/tmp/vsftpd.conf && {PEER}vsftpd /tmp/vsftpd.conf")
    else:
        b.sh(f"({PEER}pure-ftpd -S 0.0.0.0,21 -l unix -E -H -p {lo}:{hi} -P 127.0.0.1 "
             "-c 50 -C 50 -Y 1 -2 /etc/edgeftpd/both.pem </dev/null >/dev/null 2>&1 &)")
    b.wait_ftp(timeout=30)


def verify(b, ledger, existed, temp_check=True):
    """Reads every file back through the server; returns the problems found."""
    problems = []
    for name in NAMES + sorted(set(ledger.versions) - set(NAMES)):
        got = curl_get(b, name)
        known = ledger.versions.get(name, {})
        acked = ledger.acked.get(name)
        if got is None:
            if acked is not None:
                problems.append(f"lost: {name} (acknowledged, now missing)")
            elif name in existed:
                problems.append(f"gone: {name} existed before the cut")
            continue
        digest = hashlib.sha256(got).hexdigest()
        if digest not in known:
            problems.append(f"torn: {name} ({len(got)} bytes match no upload of it)")
        elif acked is not None and digest != acked:
            # Another version than the last acknowledged one is fine only if it was started
            # after that acknowledgment (its 226 may just not have arrived).
            if known[digest] < known[acked]:
                problems.append(f"lost: {name} has an older version than the one acknowledged")
        existed.add(name)
    for folder in ("cam", "backup", CROWD) if temp_check else ():
        text = listing(b, folder)
        if TEMP_PREFIX in text:
            problems.append(f"temporary: a temporary upload file is left in {folder}/")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="armv7")
    ap.add_argument("--fs", default="ext4", choices=["ext4", "ext4fc", "vfat", "exfat", "ntfs"])
    ap.add_argument("--cuts", type=int, default=10)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--tls-share", type=float, default=0.3)
    ap.add_argument("--min-secs", type=float, default=2.0)
    ap.add_argument("--max-secs", type=float, default=10.0)
    ap.add_argument("--camera-share", type=float, default=1 / 3,
                    help="share of the cuts after a camera's burst and a quiet spell "
                         "(every third cut at 1/3)")
    ap.add_argument("--quiet-max", type=float, default=30.0)
    ap.add_argument("--crowd", type=int, default=3000,
                    help=f"files made at the first boot in {CROWD}, where a fifth of the "
                         "camera's pictures go (0: none)")
    ap.add_argument("--server", default="edgeftpd", choices=["edgeftpd", "vsftpd", "pure-ftpd"])
    ap.add_argument("--pasv-base", type=int, default=board.PASV_BASE,
                    help="first of the 10 passive ports (another for a second board at once)")
    args = ap.parse_args()
    global USER, PASSWORD
    if args.server == "vsftpd":
        USER, PASSWORD = "anonymous", "powercut@"
    peer = args.server != "edgeftpd"
    board.require_tools()
    rng = random.Random(args.seed)
    ledger = Ledger()
    existed = set()
    problems = []
    t0 = time.monotonic()
    who = f"{args.board} {args.fs}" + (f" {args.server}" if peer else "")
    print(f"powercut {who}: {args.cuts} cuts, seed {args.seed}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"edgeftpd-powercut-{args.board}-{args.fs}-") as work:
        disk = os.path.join(work, f"usb-{args.fs}.img")
        board.make_disk(disk, args.fs)
        peers_disk = None
        if peer:
            peers_disk = os.path.join(work, "peers.img")
            board.make_peers_disk(args.board, peers_disk)
        swept_total = 0
        for cut in range(args.cuts + 1):
            repaired = board.fsck(disk, args.fs)
            b = board.Board(args.board, work, fs=args.fs, disk=disk, peers_disk=peers_disk,
                            flavour="off" if peer else "tls", pasv_base=args.pasv_base)
            try:
                b.start()
                if peer:
                    start_peer(b, args.server, args.fs)
                if args.crowd:
                    crowd(b, args.crowd)
                _, log = b.sh("logread | grep 'stale temporary' || true")
                swept = sum(int(n) for n in re.findall(r"removed (\d+) stale", log))
                swept_total += swept
                found = verify(b, ledger, existed, temp_check=not peer)
                problems += [f"cut {cut}: {p}" for p in found]
                if cut == args.cuts:
                    print(f"powercut: final check after cut {cut}: {len(found)} problems", flush=True)
                    break
                acks_before = ledger.acks
                # Spread evenly, not drawn: a short run (CI's) has its share of them too.
                share = args.camera_share
                if int((cut + 1) * share) > int(cut * share):
                    camera_burst(b, ledger, rng, cut, args.tls_share)
                    quiet = rng.uniform(0, args.quiet_max)
                    time.sleep(quiet)
                    b.kill()
                    print(f"powercut {who} cut {cut + 1} (camera, {quiet:.1f} s quiet): "
                          f"{ledger.acks - acks_before} uploads acknowledged, {len(found)} "
                          f"problems at boot, {swept} temporary files swept", flush=True)
                    continue
                stop = threading.Event()
                threads = [threading.Thread(target=client, daemon=True,
                                            args=(b, ledger, random.Random(rng.random()), stop,
                                                  args.tls_share))
                           for _ in range(args.clients)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(args.min_secs, args.max_secs))
                b.kill()
                stop.set()
                for t in threads:
                    t.join(timeout=130)
                fixed = "fsck repaired" if "clean" not in repaired and repaired.strip() else "fsck clean"
                print(f"powercut {who} cut {cut + 1}: {ledger.acks - acks_before} "
                      f"uploads acknowledged, {len(found)} problems at boot, {swept} temporary "
                      f"files swept, {fixed}", flush=True)
            finally:
                b.kill()
    print(f"powercut {who}: {args.cuts} cuts in {time.monotonic() - t0:.0f} s, "
          f"{ledger.acks} uploads acknowledged, {len(problems)} problems")
    for p in problems:
        print("  " + p)
    lost = sum(p.split(": ")[1].startswith(("lost", "gone")) for p in problems)
    torn = sum(": torn" in p for p in problems)
    temp = sum(": temporary" in p for p in problems)
    print(f"powercut {who}: lost {lost}, torn {torn}, temporary files left {temp}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
