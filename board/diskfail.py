#!/usr/bin/env python3
"""A USB disk that fails under a transfer, on an emulated board (make board-diskfail).

The board's disk image is a sparse file on a small tmpfs of the host's own (in a mount
namespace of this script's: it re-runs itself under `unshare --mount`). Filling that tmpfs
makes every write the guest sends to a new block of its disk fail: qemu reports the host's
error to the guest (werror=report), whose kernel sees an I/O error from its disk, as from a
USB stick that died. Emptying it again is the disk that works again.

Each case says what the client was told and what the server logged:
  1. a new file's upload while the disk fails: a 4xx or 5xx reply with a clear reason, a
     log line naming the disk and what failed, nothing under the final name;
  2. an overwrite while the disk fails: refused the same way, the old file as it was;
  3. other sessions go on meanwhile: a download, a listing, a new login;
  4. no thread is left hanging: the server's threads are back to what they were;
  5. the disk works again: an upload is acknowledged and reads back whole (on ext4 the
     kernel takes the file system read-only at the first failed journal write, and only a
     remount brings it back: this case then checks that the refusal says so).

    python3 board/diskfail.py [--board armv7] [--fs ext4|vfat|exfat]

Exit status 0 when every case passed. Talks to the board through 127.0.0.1 only.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import board  # noqa: E402
from board import data  # noqa: E402

USER = ("bob", "board-secret")
# The host's tmpfs under the disk image: the image is sparse, so what the guest writes takes
# the tmpfs's room; the filler leaves MARGIN of it.
TMPFS_MB = 96
MARGIN = 64 << 10


def put(b, name, body, timeout=120):
    """An upload by curl: (exit status, curl's message)."""
    r = board.curl(["-T", "-", b.url(name)], user=USER, input=body, timeout=timeout, check=False)
    return r.returncode, r.stderr.decode(errors="replace").strip()


def get(b, name):
    r = board.curl([b.url(name)], user=USER, check=False)
    return r.stdout if r.returncode == 0 else None


def fill(work, full):
    """Fills the host's tmpfs but for MARGIN (full), or empties it again."""
    filler = os.path.join(work, "filler")
    if not full:
        if os.path.exists(filler):
            os.unlink(filler)
        return
    st = os.statvfs(work)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        left = max(0, free - MARGIN)
        chunk = b"\0" * (1 << 20)
        while left > 0:
            n = min(left, len(chunk))
            try:
                f.write(chunk[:n])
            except OSError:
                break
            left -= n


def threads(b):
    _, out = b.sh("for p in $(pidof edgeftpd edgeftpd-tls); do ls /proc/$p/task | wc -l; done")
    return sum(int(x) for x in out.split() if x.isdigit())


def server_log(b, since):
    _, out = b.sh("logread | grep edgeftpd | tail -40")
    lines = out.splitlines()
    return [ln for ln in lines if ln not in since]


class Cases:
    def __init__(self):
        self.passed, self.failed = 0, []

    def check(self, name, ok, detail):
        if ok:
            self.passed += 1
            print(f"diskfail {name} ... ok: {detail}", flush=True)
        else:
            self.failed.append(name)
            print(f"diskfail {name} ... FAILED: {detail}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="armv7")
    ap.add_argument("--fs", default="vfat", choices=["ext4", "vfat", "exfat", "ntfs"])
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.inside:
        # A mount namespace of its own: the tmpfs is gone with this process.
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              os.path.abspath(__file__), *sys.argv[1:], "--inside"])
    board.require_tools()
    c = Cases()
    with tempfile.TemporaryDirectory(prefix=f"edgeftpd-diskfail-{args.fs}-") as work:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", work],
                       check=True)
        disk = os.path.join(work, "usb.img")
        board.make_disk(disk, args.fs)
        b = board.Board(args.board, work, fs=args.fs, disk=disk)
        try:
            b.start()
            # The kernel's I/O error lines go to the log only: printed on the emulated serial
            # console (115200 baud) each failed block would wait for its line.
            b.sh("dmesg -n 1")
            keep, old = data(300_000, "keep"), data(200_000, "old")
            assert put(b, "keep.bin", keep)[0] == 0 and put(b, "old.bin", old)[0] == 0
            b.sh("sync")
            before = threads(b)
            _, seen = b.sh("logread | grep edgeftpd | tail -40")
            seen = set(seen.splitlines())

            fill(work, True)
            big = data(2 << 20, "big")
            st, msg = put(b, "new.bin", big)
            log = server_log(b, seen)
            told = re.search(r"\b([45]\d\d)\b", msg)
            failed_line = [ln for ln in log if "disk" in ln and "new.bin" in ln]
            _, kernel = b.sh("dmesg | grep -i error | tail -2")
            c.check("1 new file while the disk fails", st != 0 and told is not None
                    and failed_line and get(b, "new.bin") is None,
                    f"curl exit {st}: {msg!r}; log: {failed_line or log[-3:]}; kernel: {kernel!r}")
            seen |= set(log)

            st, msg = put(b, "old.bin", big)
            log = server_log(b, seen)
            c.check("2 an overwrite while the disk fails", st != 0 and get(b, "old.bin") == old,
                    f"curl exit {st}: {msg!r}; old.bin {'intact' if get(b, 'old.bin') == old else 'CHANGED'}; "
                    f"log: {[ln for ln in log if 'old.bin' in ln][-2:]}")
            seen |= set(log)

            listing = board.curl([b.url("")], user=USER, check=False)
            c.check("3 other sessions go on", get(b, "keep.bin") == keep and listing.returncode == 0
                    and b"keep.bin" in listing.stdout,
                    "keep.bin read back whole, the listing and a new login answered")

            time.sleep(2)
            after = threads(b)
            c.check("4 no thread left hanging", after <= before,
                    f"{before} threads before, {after} after")

            fill(work, False)
            again = data(500_000, "again")
            st, msg = put(b, "again.bin", again)
            log = server_log(b, seen)
            if st == 0:
                c.check("5 the disk works again", get(b, "again.bin") == again,
                        "an upload acknowledged and read back whole")
            else:
                _, mounts = b.sh("grep ' /mnt/usb ' /proc/mounts")
                ro = " ro," in mounts or " ro " in mounts
                c.check("5 the disk works again", ro and "read-only" in " ".join(log).lower(),
                        f"the kernel took the file system read-only ({mounts.strip()}); the "
                        f"refusal: curl exit {st}: {msg!r}; log: {log[-2:]}")
        finally:
            b.kill()
            fill(work, False)
            subprocess.run(["umount", "-l", work])
    print(f"diskfail {args.board} {args.fs}: {c.passed} passed, {len(c.failed)} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
