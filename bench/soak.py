#!/usr/bin/env python3
"""bench/soak.py — `make soak`: one edgeftpd under mixed, faulty traffic for SOAK_SECS.

Starts target/release/edgeftpd on 127.0.0.1 (a users-file account, FTPS on, --max-per-ip
SOAK_MAX_PER_IP), then runs bench/target/release/loadgen soak (see bench/loadgen/src/soak.rs
for the traffic and the checks made on every reply) twice: a short warm-up
(SOAK_WARMUP_SECS), after which the idle server's RSS, threads and descriptors are the
baseline, and the main run of SOAK_SECS. Then, with the load stopped, it checks:
  - the server never exited or restarted (same pid, still running);
  - threads and open descriptors are back to the baseline exactly, RSS within
    SOAK_RSS_TOLERANCE_KIB (the allocator keeps some freed memory for reuse);
  - no temporary upload file is left anywhere in the tree;
  - nothing outside the served root changed (a canary folder beside it);
  - loadgen found no error and no lost file.
Prints one summary and exits 1 if any check failed. Loopback only.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
EDGEFTPD = os.environ.get("EDGEFTPD_BIN", os.path.join(ROOT, "target", "release", "edgeftpd"))
LOADGEN = os.path.join(BENCH, "target", "release", "loadgen")
WORK = os.environ.get("SOAK_DIR", os.path.join(BENCH, "target", "soak"))
SECS = int(os.environ.get("SOAK_SECS", "600"))
WARMUP = int(os.environ.get("SOAK_WARMUP_SECS", "30"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "16"))
MAX_PER_IP = int(os.environ.get("SOAK_MAX_PER_IP", "8"))
TLS_SHARE = os.environ.get("SOAK_TLS_SHARE", "0.25")
RSS_TOL = int(os.environ.get("SOAK_RSS_TOLERANCE_KIB", "4096"))
PORT = int(os.environ.get("SOAK_PORT", "21990"))
HOST = "127.0.0.1"  # NETWORK RULE: loopback only.
TEMP_PREFIX = ".edgeftpd-upload."


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def resources(pid):
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_kib": rss, "threads": threads, "fds": fds}


def snapshot(top):
    """Every path under `top` with its size, mode and content hash."""
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            h = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, top)] = (st.st_size, st.st_mode, h)
    return out


def prepare():
    shutil.rmtree(WORK, ignore_errors=True)
    home = os.path.join(WORK, "root", "soak")
    for i in range(WORKERS):
        os.makedirs(os.path.join(home, f"w{i}"))
    with open(os.path.join(home, "big.bin"), "wb") as f:
        f.write(os.urandom(8 << 20))
    outside = os.path.join(WORK, "outside")
    os.makedirs(os.path.join(outside, "sub"))
    for n in ("secret.txt", "sub/keep.bin"):
        with open(os.path.join(outside, n), "wb") as f:
            f.write(os.urandom(4096))
    # A way out that a confinement bug would follow: a symlink from inside to outside.
    os.symlink(outside, os.path.join(home, "escape"))
    h = subprocess.run([EDGEFTPD, "--hash-password"], input="soak-pw\n", capture_output=True,
                       text=True, check=True).stdout.strip().splitlines()[-1]
    users = os.path.join(WORK, "users")
    with open(users, "w") as f:
        f.write(f"soak:{h}:{home}:rw\n")
    cert, key = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=edgeftpd-soak", "-keyout", key, "-out", cert])
    return home, outside, users, cert, key


def idle_resources(pid, want_threads, wait=30):
    """The server's resources once its sessions are gone (threads back to `want_threads`,
    or after `wait` seconds)."""
    deadline = time.monotonic() + wait
    r = resources(pid)
    while time.monotonic() < deadline:
        r = resources(pid)
        if want_threads is not None and r["threads"] <= want_threads:
            time.sleep(1)
            return resources(pid)
        time.sleep(0.5)
    return r


def run_load(secs, tag, seed, peaks, pid):
    env = dict(os.environ, SOAK_SECS=str(secs), SOAK_ROOT=os.path.join(WORK, "root", "soak"),
               SOAK_WORKERS=str(WORKERS), SOAK_USER="soak", SOAK_PASS="soak-pw",
               SOAK_TLS_SHARE=TLS_SHARE, SOAK_MAX_PER_IP=str(MAX_PER_IP), SOAK_TAG=tag,
               SOAK_SEED=str(seed), LOADGEN_TLS12="1")
    p = subprocess.Popen([LOADGEN, "soak", "--addr", f"{HOST}:{PORT}"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        while not done.wait(1):
            try:
                r = resources(pid)
            except OSError:
                return
            for k, v in r.items():
                peaks[k] = max(peaks.get(k, 0), v)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        out, err = p.communicate(timeout=secs + 300)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += "\nloadgen did not finish in time (a hung server?)"
    done.set()
    t.join()
    stats = {}
    first = []
    for line in out.splitlines():
        if line.startswith("first_error "):
            first.append(line[len("first_error "):])
        elif "=" in line:
            k, v = line.split("=", 1)
            stats[k] = int(v)
    if p.returncode != 0 or "SOAK DONE" not in out:
        first.append(f"loadgen exit {p.returncode}: {err.strip()[-500:]}")
    return stats, first


def main():
    for need in (EDGEFTPD, LOADGEN):
        if not os.path.exists(need):
            sys.exit(f"soak: {need} missing (make soak builds it)")
    home, outside, users, cert, key = prepare()
    before_outside = snapshot(outside)
    logf = open(os.path.join(WORK, "server.log"), "w")
    srv = subprocess.Popen(
        [EDGEFTPD, "--listen", f"{HOST}:{PORT}", "--users", users, "--pasv-ports", "41000-41999",
         "--max-clients", "300", "--max-per-ip", str(MAX_PER_IP), "--tls-cert", cert,
         "--tls-key", key],
        env=dict(os.environ, RUST_LOG=os.environ.get("SOAK_RUST_LOG", "warn")),
        stdout=logf, stderr=logf)
    failures = []
    try:
        time.sleep(1)
        if srv.poll() is not None:
            sys.exit("soak: the server did not start: see " + logf.name)
        start = resources(srv.pid)
        peaks = {}
        log(f"server pid {srv.pid}: {start}; warm-up {WARMUP} s")
        _, first = run_load(WARMUP, "warm", 7, peaks, srv.pid)
        failures += [f"warm-up: {e}" for e in first]
        base = idle_resources(srv.pid, start["threads"])
        log(f"baseline after warm-up: {base}; soak {SECS} s, {WORKERS} clients")
        t0 = time.monotonic()
        stats, first = run_load(SECS, "main", 11, peaks, srv.pid)
        failures += first
        final = idle_resources(srv.pid, base["threads"])
        if srv.poll() is not None:
            failures.append(f"the server exited ({srv.returncode})")
        if final["threads"] != base["threads"]:
            failures.append(f"threads {final['threads']}, baseline {base['threads']}")
        if final["fds"] != base["fds"]:
            failures.append(f"descriptors {final['fds']}, baseline {base['fds']}")
        if final["rss_kib"] > base["rss_kib"] + RSS_TOL:
            failures.append(f"RSS {final['rss_kib']} KiB, baseline {base['rss_kib']} "
                            f"+ {RSS_TOL} tolerated")
        temps = [os.path.join(d, n) for d, _, fs in os.walk(home) for n in fs
                 if n.startswith(TEMP_PREFIX)]
        if temps:
            failures.append(f"{len(temps)} temporary files left, e.g. {temps[0]}")
        if snapshot(outside) != before_outside:
            failures.append("the tree outside the root changed")
        errors = {k: v for k, v in stats.items() if k.startswith("errors.")}
        if errors:
            failures.append(f"errors: {errors}")
        if stats.get("lost_files", 1) != 0:
            failures.append(f"lost files: {stats.get('lost_files', 'unknown')}")
        elapsed = time.monotonic() - t0
    finally:
        if srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
    faults = {k[len("faults."):]: v for k, v in sorted(stats.items()) if k.startswith("faults.")}
    print(f"soak summary ({elapsed:.0f} s, {WORKERS} clients from 127.0.0.10-{9 + WORKERS}, "
          f"FTPS share {TLS_SHARE}, {time.strftime('%Y-%m-%d')})")
    print(f"  sessions {stats.get('sessions_plain', 0) + stats.get('sessions_tls', 0)} "
          f"({stats.get('sessions_tls', 0)} FTPS), commands {stats.get('commands', 0)}, "
          f"bytes up {stats.get('bytes_up', 0)}, down {stats.get('bytes_down', 0)}")
    print(f"  faults injected: {sum(faults.values())} "
          + ", ".join(f"{k} {v}" for k, v in faults.items()))
    errs = {k[len('errors.'):]: v for k, v in stats.items() if k.startswith("errors.")}
    print(f"  errors: {sum(errs.values())}" + "".join(f", {k} {v}" for k, v in errs.items()))
    print(f"  server: start {start}")
    print(f"          baseline after warm-up {base}")
    print(f"          peak {peaks}")
    print(f"          final {final}")
    print(f"  lost files: {stats.get('lost_files', 'unknown')}; temporary files left: "
          f"{len(temps)}; outside the root: {'unchanged' if 'the tree outside the root changed' not in failures else 'CHANGED'}")
    for f in failures:
        print(f"  FAILED: {f}")
    print("soak: " + ("FAILED" if failures else "passed"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
