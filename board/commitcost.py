#!/usr/bin/env python3
"""What a 226 costs per file system on an emulated board (make board-commitcost): one
session (Python's ftplib, as a camera's one connection) uploads N new 20 KB pictures to
the board's USB disk, and the board's own /proc/stat says the CPU it took; wall time and
CPU per upload, for each file system of --fs. Not a test: nothing fails on a figure.

--initrd FILE boots another initramfs of the same board (the same kernel and rcS with
another build of the server, to compare builds: board/README.md says how the README's
"before" was made).

    python3 board/commitcost.py [--board armv7] [--fs ext4 vfat exfat ntfs] [--files 200]
"""

import argparse
import ftplib
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import board  # noqa: E402

USER, PASSWORD = "bob", "board-secret"


def cpu(b):
    """(busy, all) jiffies of the board since boot (/proc/stat; idle and iowait are idle)."""
    _, out = b.sh("head -1 /proc/stat")
    v = [int(x) for x in out.split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


def measure(b, files, rounds):
    """Median over `rounds` of (wall ms, CPU ms) per upload of `files` new pictures."""
    blob = os.urandom(20 << 10)
    walls, cpus = [], []
    for r in range(rounds):
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", b.ftp_port, timeout=60)
        ftp.login(USER, PASSWORD)
        folder = f"cost-{r}"
        ftp.mkd(folder)
        b.sh("sync")
        c0, t0 = cpu(b), time.monotonic()
        for i in range(files):
            ftp.storbinary(f"STOR {folder}/img-{i:04d}.jpg", io.BytesIO(blob))
        wall = time.monotonic() - t0
        c1 = cpu(b)
        ftp.quit()
        walls.append(wall * 1000 / files)
        cpus.append((c1[0] - c0[0]) * 10 / files)
    walls.sort()
    cpus.sort()
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--board", default="armv7")
    ap.add_argument("--fs", nargs="*", default=["ext4", "vfat", "exfat", "ntfs"])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--initrd", help="another initramfs of the board (another build)")
    ap.add_argument("--label", default="this build")
    args = ap.parse_args()
    board.require_tools()
    for fs in args.fs:
        with tempfile.TemporaryDirectory(prefix=f"edgeftpd-commitcost-{fs}-") as work:
            b = board.Board(args.board, work, fs=fs)
            if args.initrd:
                b.initrd = os.path.abspath(args.initrd)
            try:
                b.start()
                wall, cpu_ms = measure(b, args.files, args.rounds)
            finally:
                b.kill()
        print(f"commitcost {args.board} {fs} {args.label}: {wall:.1f} ms wall, "
              f"{cpu_ms:.1f} ms CPU per 20 KB upload (median of {args.rounds} rounds of "
              f"{args.files})", flush=True)


if __name__ == "__main__":
    main()
