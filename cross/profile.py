#!/usr/bin/env python3
"""`make cross-profile`: where a router binary's own instructions go, per function, for one
piece of work; a profiler for CPUs that have none here (no valgrind for mips32, no perf in
the boards' emulator, qemu-user without plugins).

The unstripped binary of `make cross-bloat` (-tls flavour unless PROFILE_FLAVOUR=plain) runs
under qemu-user with `-d in_asm,exec,nochain`: qemu logs each block of guest code it
translates (its instructions, under the function's symbol) and each time a block runs. The
count of instructions of a function is the sum over its blocks of runs times length. A
session that logs in and does the work is counted against one that logs in and does
nothing of it, so start-up (the upload sweep, the TLS keys) cancels out; what is left is
divided by the number of entries or files.

It runs on one core, as on the boards (a listing then has no helper threads). Only the
server's code in user space is counted, not the kernel's (that is what the
boards' `make board-bench BENCH_ICOUNT=3` counts, with the rest). Work:
  mlsd, list   an MLSD or LIST of a folder of N empty files named entry-NNNNN.txt (as
               board/bench.py lists), per entry
  small        N uploads of 20,000 bytes then N downloads, one session, per transfer

    python3 cross/profile.py BINARY [--work mlsd|list|small] [-n N] [--top 30]

Nothing here is a test; it talks to the binary on 127.0.0.1 only.
"""
import argparse
import collections
import ftplib
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

INSN = re.compile(r"^0x([0-9a-f]+):\s")
TRACE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
RUNNERS = {"mipsel": "qemu-mipsel-static", "mips": "qemu-mips-static",
           "arm": "qemu-arm-static", "aarch64": "qemu-aarch64-static"}


def runner(binary):
    """The qemu-user runner for the binary's architecture (from its ELF header)."""
    with open(binary, "rb") as f:
        head = f.read(20)
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    arch = {8: "mipsel" if head[5] == 1 else "mips", 40: "arm", 183: "aarch64"}.get(machine)
    if arch is None:
        sys.exit(f"{binary}: not a MIPS or ARM binary (e_machine {machine})")
    return RUNNERS[arch]


def per_function(log):
    """Instructions run per function symbol, from qemu's in_asm and exec log."""
    size, name_of, runs = {}, {}, collections.Counter()
    start, name = None, ""
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                start, name = None, line[3:].strip()
                continue
            m = INSN.match(line)
            if m:
                if start is None:
                    start = int(m.group(1), 16)
                    size[start], name_of[start] = 0, name
                size[start] += 1
                continue
            m = TRACE.match(line)
            if m:
                runs[int(m.group(1), 16)] += 1
            elif not line.strip():
                start = None
    counts = collections.Counter()
    for pc, n in runs.items():
        counts[name_of.get(pc) or hex(pc)] += n * size.get(pc, 0)
    return counts


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(args, root, work, n):
    """Runs the binary under qemu with logging, does `work` n times in one session (n = 0:
    only the login), and returns its per-function counts."""
    port = free_port()
    log = os.path.join(root, "qemu.log")
    # On the boards' one core (as taskset): no helper threads for a big listing.
    cmd = ["taskset", "-c", "0", runner(args.binary), "-d", "in_asm,exec,nochain", "-D", log, args.binary,
           "--listen", f"127.0.0.1:{port}", "--root", os.path.join(root, "ftp"), "--anonymous",
           "--write", "--pasv-ports", f"{port + 1}-{port + 10}", "--idle-timeout", "3600"]
    srv = subprocess.Popen(cmd, env={**os.environ, "RUST_LOG": "warn"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ftp = ftplib.FTP()
                ftp.connect("127.0.0.1", port, timeout=300)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        ftp.login("anonymous", "profile@")
        if work in ("mlsd", "list"):
            ftp.retrlines(f"{work.upper()} {'many' if n else 'empty'}", lambda _: None)
        else:
            for i in range(n):
                ftp.storbinary(f"STOR incoming/u{i:04d}.bin", io.BytesIO(b"x" * 20000))
            for i in range(n):
                ftp.retrbinary(f"RETR small/s{i:04d}.bin", lambda _: None)
        ftp.quit()
        time.sleep(0.5)
    finally:
        srv.terminate()
        srv.wait()
    counts = per_function(log)
    os.remove(log)
    shutil.rmtree(os.path.join(root, "ftp", "incoming"))
    os.mkdir(os.path.join(root, "ftp", "incoming"))
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--work", choices=["mlsd", "list", "small"], default="mlsd")
    ap.add_argument("-n", type=int, default=2000, help="entries, or files each way")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgeftpd-profile-") as root:
        ftp = os.path.join(root, "ftp")
        for d in ["many", "empty", "small", "incoming"]:
            os.makedirs(os.path.join(ftp, d))
        if args.work == "small":
            for i in range(args.n):
                with open(os.path.join(ftp, "small", f"s{i:04d}.bin"), "wb") as f:
                    f.write(os.urandom(20000))
        else:
            for i in range(args.n):
                open(os.path.join(ftp, "many", f"entry-{i:05d}.txt"), "wb").close()
        base = session(args, root, args.work, 0)
        full = session(args, root, args.work, args.n)
    units = args.n * (2 if args.work == "small" else 1)
    unit = "transfer" if args.work == "small" else "entry"
    diff = {k: full[k] - base.get(k, 0) for k in full}
    total = sum(diff.values())
    print(f"{os.path.basename(args.binary)}, {args.work} x {args.n}: the server's own "
          f"instructions, {total / units:,.0f} per {unit}")
    for name, c in sorted(diff.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"{c / units:9,.0f}  {100 * c / total:5.1f}%  {name[:110]}")


if __name__ == "__main__":
    main()
