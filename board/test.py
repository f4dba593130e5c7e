"""`make board-test`: on each emulated board (board/build.sh), booted by its init, from the
host: real clients plain and over FTPS, the init script's start/stop/restart/reload/status
and boot entry, a reboot after which the server is back by itself, and the plain flavour
started by the same init script. Every check runs a real client on the host against the
board's forwarded ports; the guest runs only busybox and the server.

    python3 board/test.py [BOARD...]      (default: every board of board/boards)

The Rust suite (tests/suite) starts its own servers and so cannot run against a board; the
subset here is what a router admin does with the clients of ../shared/CLIENTS.md.
Prints one line per check and a closing 'N passed, N failed' line; exits 1 on any failure.
"""

import ftplib
import io
import ssl
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import board  # noqa: E402
from board import data  # noqa: E402

USER, PASSWORD = "bob", "board-secret"


def run(cmd, timeout=120):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{cmd[0]} exit {r.returncode}: {r.stderr.decode(errors='replace')[-500:]}")
    return r.stdout


def curl(b, *args, tls=False):
    return board.curl(args, user=(USER, PASSWORD), tls=tls).stdout


class Checks:
    def __init__(self, b, work):
        self.b, self.work = b, work
        self.passed, self.failed = 0, []

    def check(self, name, fn):
        t = time.monotonic()
        try:
            fn()
            self.passed += 1
            print(f"board-test {self.b.name} {name} ... ok ({time.monotonic() - t:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 (every failure is reported, the run goes on)
            self.failed.append(f"{self.b.name} {name}")
            print(f"board-test {self.b.name} {name} ... FAILED: {e}", flush=True)
            traceback.print_exc()

    # --- real clients ---------------------------------------------------------------------

    def curl_plain(self):
        b = self.b
        src = os.path.join(self.work, "up.bin")
        body = data(3 << 20, "curl")
        open(src, "wb").write(body)
        curl(b, "-T", src, b.url("curl/up.bin"), "--ftp-create-dirs")
        assert curl(b, b.url("curl/up.bin")) == body
        listing = curl(b, b.url("curl/")).decode()
        assert "up.bin" in listing and str(len(body)) in listing, listing
        # Resume: the first MiB is there, -C - sends the rest (SIZE + APPE).
        open(src, "wb").write(body[: 1 << 20])
        curl(b, "-T", src, b.url("curl/resumed.bin"))
        open(src, "wb").write(body)
        curl(b, "-C", "-", "-T", src, b.url("curl/resumed.bin"))
        assert curl(b, b.url("curl/resumed.bin")) == body
        assert curl(b, "-r", "1000-1999", b.url("curl/up.bin")) == body[1000:2000]

    def curl_ftps(self):
        b = self.b
        src = os.path.join(self.work, "tls.bin")
        body = data(2 << 20, "ftps")
        open(src, "wb").write(body)
        curl(b, "-T", src, b.url("tls/up.bin"), "--ftp-create-dirs", tls=True)
        assert curl(b, b.url("tls/up.bin"), tls=True) == body
        implicit = f"ftps://127.0.0.1:{b.ftps_port}/tls/up.bin"
        assert curl(b, "-k", implicit) == body

    def tls_stat(self):
        """The kernel's TLS counters (/proc/net/tls_stat): data connections it took."""
        _, out = self.b.sh("cat /proc/net/tls_stat")
        return {k: int(v) for k, v in re.findall(r"(\w+)\s+(\d+)", out)}

    def kernel_tls(self):
        """FTPS data connections go through the kernel's TLS (src/ktls.rs) with TLS 1.3 and
        TLS 1.2 ChaCha20 (curl, and ftplib, which waits for the server's close_notify after
        an upload), and never with TLS 1.2 AES-GCM, which stays in rustls."""
        b = self.b
        body = data(1 << 20, "ktls")
        src = os.path.join(self.work, "ktls.bin")
        open(src, "wb").write(body)
        before = self.tls_stat()
        chacha12 = ["--tls-max", "1.2", "--ciphers",
                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"]
        for name, opts in [("13", []), ("12", chacha12)]:
            curl(b, *opts, "-T", src, b.url(f"ktls/{name}.bin"), "--ftp-create-dirs", tls=True)
            assert curl(b, *opts, b.url(f"ktls/{name}.bin"), tls=True) == body, name

        class Reusing(ftplib.FTP_TLS):
            # ftplib's data connections resume no session by themselves (the server
            # requires it): hand them the control connection's, as FileZilla does.
            def ntransfercmd(self, cmd, rest=None):
                conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
                if self._prot_p:
                    conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                                    session=self.sock.session)
                return conn, size

        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        f = Reusing(context=ctx)
        f.connect("127.0.0.1", b.ftp_port, timeout=60)
        f.login(USER, PASSWORD)
        f.prot_p()
        f.storbinary("STOR ktls/ftplib.bin", io.BytesIO(body))
        got = bytearray()
        f.retrbinary("RETR ktls/ftplib.bin", got.extend)
        assert bytes(got) == body
        lines = []
        f.retrlines("LIST ktls", lines.append)
        assert len(lines) == 3, lines
        f.quit()
        after = self.tls_stat()
        # 4 curl transfers, 3 of ftplib: each data connection both ways.
        for k in ["TlsTxSw", "TlsRxSw"]:
            assert after[k] - before[k] >= 7, (k, before, after)
        assert after["TlsDecryptError"] == before["TlsDecryptError"], after
        # TLS 1.2 AES-GCM: served, by rustls (see ktls.rs: the kernel would reuse a nonce).
        gcm12 = ["--tls-max", "1.2", "--ciphers",
                 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"]
        assert curl(b, *gcm12, b.url("ktls/13.bin"), tls=True) == body
        assert self.tls_stat()["TlsTxSw"] == after["TlsTxSw"], "TLS 1.2 AES-GCM went to the kernel"

    def padded_records(self):
        """A TLS 1.3 upload whose records are padded (openssl s_client -record_padding: no
        common client pads, but RFC 8446 allows it) is stored byte for byte: the server asks
        the kernel to decrypt each record straight into its buffer (TLS_RX_EXPECT_NO_PAD,
        src/ktls.rs), and a padded one is caught and decrypted again, counted in
        TlsRxNoPadViolation, which shows the option is on (past the upload's first pipeful,
        which is spliced: src/data/transfer.rs). Not on MIPS, where that second decryption
        stored a wrong page."""
        b = self.b
        body = data((512 << 10) + 1000, "padded")
        sess = os.path.join(self.work, "ctl.sess")
        errs = tempfile.TemporaryFile()
        before = self.tls_stat()
        ctl = subprocess.Popen(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{b.ftp_port}", "-starttls", "ftp",
             "-tls1_3", "-quiet", "-nocommands", "-sess_out", sess],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # A reply that never comes ends the check, not the run.
        watchdog = threading.Timer(120, ctl.kill)
        watchdog.start()
        try:
            def cmd(line, want):
                ctl.stdin.write(line.encode() + b"\r\n")
                ctl.stdin.flush()
                reply = ctl.stdout.readline().decode(errors="replace")
                while reply[3:4] == "-":
                    reply = ctl.stdout.readline().decode(errors="replace")
                assert reply.startswith(want), f"{line.split()[0]}: {reply!r}"
                return reply
            cmd(f"USER {USER}", "331")
            cmd(f"PASS {PASSWORD}", "230")
            cmd("PBSZ 0", "200")
            cmd("PROT P", "200")
            cmd("TYPE I", "200")
            cmd("MKD ktls", "")
            port = int(re.search(r"\|\|\|(\d+)\|", cmd("EPSV", "229")).group(1))
            ctl.stdin.write(b"STOR ktls/padded.bin\r\n")
            ctl.stdin.flush()
            up = subprocess.Popen(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
                 "-sess_in", sess, "-record_padding", "512", "-quiet", "-nocommands",
                 "-no_ign_eof"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errs)
            opened = ctl.stdout.readline().decode(errors="replace")
            assert opened.startswith("150"), opened
            try:
                # Pieces that are no multiple of the padding block, each a record or a few.
                for i in range(0, len(body), 3001):
                    up.stdin.write(body[i:i + 3001])
                    up.stdin.flush()
                up.stdin.close()
            except BrokenPipeError:
                pass
            up.wait(timeout=60)
            errs.seek(0)
            assert up.returncode == 0, errs.read().decode(errors="replace")[-500:]
            done = ctl.stdout.readline().decode(errors="replace")
            assert done.startswith("226"), done
            cmd("QUIT", "221")
        finally:
            watchdog.cancel()
            ctl.kill()
            ctl.wait()
            errs.close()
        got = curl(b, b.url("ktls/padded.bin"), tls=True)
        if got != body:
            first = next((i for i, (x, y) in enumerate(zip(got, body)) if x != y), None)
            raise AssertionError(f"stored {len(got)} bytes of {len(body)}, first difference at {first}")
        after = self.tls_stat()
        assert after["TlsDecryptError"] == before["TlsDecryptError"], after
        violations = after["TlsRxNoPadViolation"] - before["TlsRxNoPadViolation"]
        if b.name in ("mipsel", "mips"):
            # Not asked on MIPS (ktls.rs, RX_NO_PAD): there the kernel's second decryption
            # of a padded record left bytes of its first in the file.
            assert violations == 0, (before, after)
        else:
            assert violations > 0, (before, after)

    def lftp(self, tls):
        b = self.b
        local = os.path.join(self.work, "tree-tls" if tls else "tree")
        back = local + "-back"
        os.makedirs(os.path.join(local, "a", "b"), exist_ok=True)
        for i in range(20):
            open(os.path.join(local, "a" if i % 2 else "a/b", f"f{i}.dat"), "wb").write(data(1000 * i + 1, f"l{i}"))
        remote = "lftp-tls" if tls else "lftp"
        settings = "set ssl:verify-certificate no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes;" if tls \
            else "set ftp:ssl-allow no;"
        script = (f"{settings} set net:max-retries 1; set net:timeout 30; "
                  f"open -u {USER},{PASSWORD} -p {b.ftp_port} 127.0.0.1; "
                  f"mkdir -p {remote}; mirror -R {local} {remote}; mirror {remote} {back}; bye")
        run(["lftp", "-c", script], timeout=180)
        out = run(["diff", "-r", local, back])
        assert out == b"", out

    def ftplib_passive(self):
        # (Active mode can't be tried through qemu's user-mode NAT: the server sees the
        # client as 10.0.2.2, and refuses a PORT naming another address, as it must.)
        b = self.b
        for passive in (True,):
            f = ftplib.FTP()
            f.connect("127.0.0.1", b.ftp_port, timeout=30)
            f.login(USER, PASSWORD)
            f.set_pasv(passive)
            body = data(100_000, f"ftplib{passive}")
            f.storbinary(f"STOR ftplib-{passive}.bin", io.BytesIO(body))
            got = bytearray()
            f.retrbinary(f"RETR ftplib-{passive}.bin", got.extend)
            assert bytes(got) == body
            f.quit()

    def syscall_filter(self):
        """The sessions serve under the system call filter (src/sandbox.rs) on the board's
        own kernel (qemu-user, which runs make cross-test, refuses one): the log says so,
        and every thread but the signals' has a seccomp filter: the accept loop, and the
        logged-in session's while it works (idle, it has none: src/session/idle.rs). The
        checks before this one ran under it."""
        b = self.b
        _, log = b.sh("logread | grep 'system call filter' | tail -1")
        assert "system call filter on: sessions may make" in log, log
        f = ftplib.FTP()
        f.connect("127.0.0.1", b.ftp_port, timeout=30)
        f.login(USER, PASSWORD)
        # A download read slowly keeps the session at work while the threads are read.
        f.storbinary("STOR seccomp-busy.bin", io.BytesIO(bytes(4 << 20)))
        busy = threading.Thread(target=lambda: f.retrbinary(
            "RETR seccomp-busy.bin", lambda _: time.sleep(0.01), blocksize=8192))
        busy.start()
        _, out = b.sh("for p in $(pidof edgeftpd-tls edgeftpd); do for t in /proc/$p/task/*; do "
                      "echo \"$(cat $t/comm) $(grep '^Seccomp:' $t/status)\"; done; done")
        busy.join()
        f.delete("seccomp-busy.bin")
        f.quit()
        assert re.search(r"^session Seccomp:\s+2", out, re.M), out
        assert re.search(r"^signals Seccomp:\s+0", out, re.M), out
        for line in out.splitlines():
            assert line.startswith("signals ") or re.search(r"Seccomp:\s+2", line), out

    # --- the init script ------------------------------------------------------------------

    def init_script(self):
        b = self.b
        st, out = b.sh("/etc/init.d/edgeftpd status")
        assert st == 0 and "running" in out, (st, out)
        st, out = b.sh("/etc/init.d/edgeftpd stop")
        assert st == 0, out
        assert b.greeting(timeout=2) == "", "still serving after stop"
        st, out = b.sh("/etc/init.d/edgeftpd status")
        assert st == 3, (st, out)
        st, out = b.sh("/etc/init.d/edgeftpd start")
        assert st == 0, out
        b.wait_ftp(timeout=20)
        st, pid1 = b.sh("cat /var/run/edgeftpd.pid")
        st, out = b.sh("/etc/init.d/edgeftpd restart")
        assert st == 0, out
        b.wait_ftp(timeout=20)
        st, pid2 = b.sh("cat /var/run/edgeftpd.pid")
        assert pid1.strip() != pid2.strip(), (pid1, pid2)
        st, out = b.sh("/etc/init.d/edgeftpd reload; sleep 1; logread | tail -20")
        assert st == 0 and "reload" in out.lower(), out
        assert b.greeting().startswith("220")

    def plain_flavour(self):
        b = self.b
        st, out = b.sh("/etc/init.d/edgeftpd stop && CONFIG=/etc/default/edgeftpd-plain "
                       "/etc/init.d/edgeftpd start")
        assert st == 0, out
        b.wait_ftp(timeout=20)
        body = data(500_000, "plain")
        src = os.path.join(self.work, "plain.bin")
        open(src, "wb").write(body)
        curl(b, "-T", src, b.url("plain.bin"))
        assert curl(b, b.url("plain.bin")) == body
        r = board.curl([b.url("plain.bin")], user=(USER, PASSWORD), tls=True, timeout=20,
                       check=False)
        assert r.returncode != 0, "the plain flavour took AUTH TLS"
        # Back to the TLS flavour: stopped with the settings it was started with.
        st, out = b.sh("CONFIG=/etc/default/edgeftpd-plain /etc/init.d/edgeftpd stop && "
                       "/etc/init.d/edgeftpd start")
        assert st == 0, out
        b.wait_ftp(timeout=20)

    def memory_floor(self):
        """Sessions until refused, with --max-clients far above what the board holds: the
        server says 421 at its own limits (idle sessions hold no thread and a few KiB, so
        the open-file limit comes first: --max-clients is lowered to it; with bigger
        sessions, memory) and logs why, the OOM killer never strikes,
        and the server serves again once the sessions are gone."""
        b = self.b
        st, out = b.sh("sed 's/--syslog/--syslog --max-clients 5000 --max-per-ip 5000/' "
                       "/etc/default/edgeftpd-tls >/etc/default/edgeftpd-flood && "
                       "/etc/init.d/edgeftpd stop && CONFIG=/etc/default/edgeftpd-flood "
                       "/etc/init.d/edgeftpd start")
        assert st == 0, out
        b.wait_ftp(timeout=20)
        # Read before the flood: a thousand sessions' log lines can wrap syslogd's 256 KiB
        # ring past the start line (it did on mipsel).
        deadline, start = time.monotonic() + 10, ""
        while True:
            _, start = b.sh("logread | grep 'max-clients 5000 lowered' | tail -1")
            if "lowered to" in start or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        socks, refusal = [], ""
        try:
            while len(socks) < 5000 and not refusal:
                s = socket.create_connection(("127.0.0.1", b.ftp_port), timeout=30)
                f = s.makefile("rb")
                line = f.readline().decode(errors="replace")
                if not line.startswith("220"):
                    refusal = line.strip() or "closed without a reply"
                    s.close()
                    break
                s.sendall(b"USER anonymous\r\nPASS x\r\n")
                f.readline()
                line = f.readline().decode(errors="replace")
                assert line.startswith("230"), line
                socks.append(s)
            held = len(socks)
            _, oom = b.sh("dmesg | grep -ci 'killed process'")
            _, log = b.sh("logread | grep 'refused: ' | tail -1")
            _, diag = b.sh("pidof edgeftpd-tls; grep MemAvail /proc/meminfo; "
                           "dmesg | sed -n '/invoked oom-killer/,/Tasks state/p' | head -60; "
                           "logread | tail -5")
        finally:
            for s in socks:
                s.close()
        print(f"board-test {b.name}: {held} idle sessions held, then: {refusal}", flush=True)
        assert refusal.startswith("421 "), f"{refusal}\n{diag}"
        if "memory" in refusal:
            assert "KiB of memory available, under the floor" in log, log
        else:
            assert refusal.startswith("421 Too many users"), refusal
            assert "lowered to" in start, f"no start line: {start!r}"
        assert oom.strip() == "0", f"the OOM killer struck: {oom}\n{diag}"
        # The sessions' ends take the board a while to process: serving again within 30 s.
        deadline, g = time.monotonic() + 30, ""
        while time.monotonic() < deadline and not g.startswith("220"):
            time.sleep(1)
            g = b.greeting()
        assert g.startswith("220"), f"after the flood: {g!r}"
        st, out = b.sh("CONFIG=/etc/default/edgeftpd-flood /etc/init.d/edgeftpd stop && "
                       "/etc/init.d/edgeftpd start")
        assert st == 0, out
        b.wait_ftp(timeout=20)

    def reboot(self):
        b = self.b
        b.reboot()
        # What was uploaded before is still on the disk, served by the server init started.
        assert curl(b, b.url("curl/up.bin")) == data(3 << 20, "curl")
        st, out = b.sh("/etc/init.d/edgeftpd status")
        assert st == 0, out


def test_board(name):
    with tempfile.TemporaryDirectory(prefix=f"edgeftpd-board-{name}-") as work:
        b = board.Board(name, work)
        c = Checks(b, work)
        try:
            t = time.monotonic()
            b.start()
            print(f"board-test {name}: booted to the server's greeting in {time.monotonic() - t:.1f} s", flush=True)
            c.check("curl plain (put, get, list, resume, range)", c.curl_plain)
            c.check("curl FTPS explicit and implicit", c.curl_ftps)
            if b.flavour == "tls":
                c.check("FTPS data connections in the kernel's TLS", c.kernel_tls)
                c.check("TLS 1.3 records padded by the client, stored byte for byte",
                        c.padded_records)
            c.check("lftp mirror both ways plain", lambda: c.lftp(False))
            c.check("lftp mirror both ways FTPS", lambda: c.lftp(True))
            c.check("ftplib passive", c.ftplib_passive)
            c.check("sessions under the system call filter (seccomp)", c.syscall_filter)
            c.check("init script start stop restart reload status", c.init_script)
            c.check("plain flavour from the same init script", c.plain_flavour)
            c.check("sessions until the server's limits: 421, never the OOM killer", c.memory_floor)
            c.check("reboot: the server is back by itself", c.reboot)
        except Exception as e:  # noqa: BLE001
            c.failed.append(f"{name} boot")
            print(f"board-test {name} boot ... FAILED: {e}", flush=True)
        finally:
            b.kill()
        return c.passed, c.failed


def main():
    board.require_tools()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 12000), hard))
    names = sys.argv[1:] or [n for n, _ in board.boards()]
    passed, failed = 0, []
    t = time.monotonic()
    for name in names:
        p, f = test_board(name)
        passed += p
        failed += f
    print(f"board-test: {len(names)} boards in {time.monotonic() - t:.0f} s")
    for f in failed:
        print(f"  failed: {f}")
    print(f"{passed} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
