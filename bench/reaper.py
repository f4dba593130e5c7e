#!/usr/bin/env python3
"""bench/reaper.py — runs one FTP server under a child subreaper: `reaper.py CMD ARGS...`.

Why: vsftpd and pure-ftpd fork per session and some of their session processes
outlive their parents. Orphans normally go to PID 1, which on this kind of
machine reaps them only now and then, so a session-rate run piles up thousands
of zombies (and could run out of PIDs). Under this wrapper the orphans become
children of the wrapper, which reaps them at once, and they stay inside the
process tree that bench/run.py sums PSS over (every descendant of this wrapper,
the wrapper itself excluded).

Signals: SIGTERM/SIGINT are forwarded to the server. When the server exits,
every process still left under the wrapper is killed (SIGKILL) and reaped, and
the wrapper exits with the server's status. If bench/run.py dies, the kernel
sends the wrapper SIGTERM (PR_SET_PDEATHSIG), so no server outlives the bench.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def children(pid):
    """Direct children of pid (all threads' children files)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: reaper.py CMD [ARGS...]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"reaper: prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before PDEATHSIG was armed
        sys.exit("reaper: parent gone")

    server = os.fork()
    if server == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        finally:
            os._exit(127)

    def forward(sig, _frame):
        try:
            os.kill(server, sig)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    status = None
    while status is None:
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        if pid == server:
            status = st

    # The server is gone: kill and reap whatever sessions are left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = children(os.getpid())
        if not kids:
            break
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.05)

    if status is None:
        sys.exit(1)
    if os.WIFEXITED(status):
        sys.exit(os.WEXITSTATUS(status))
    sys.exit(128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
