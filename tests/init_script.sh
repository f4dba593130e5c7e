#!/usr/bin/env bash
# tests/init_script.sh — checks the busybox init script cross/init.d/edgeftpd.
#
# Runs the script with `busybox sh`, every command it calls being a busybox applet
# (start-stop-daemon included, as on a router), against a real edgeftpd on a free
# loopback port, with a temporary PIDFILE, CONFIG and FTP root:
#   start   -> a "220" greeting on 127.0.0.1:PORT, status exits 0, start again is a no-op
#   restart -> a new pid, serving again
#   reload  -> SIGHUP: the same pid, still serving
#   a second instance on the same (busy) port -> start fails with the server's own error
#     line ("Address already in use"), no pidfile left
#   a missing --root -> start fails, saying so
#   a --root on an fstab disk that is not mounted -> start fails, naming the disk
#   kill -9 -> status exits 1 (pidfile left); `boot` (OpenWrt's rcS) starts a new server
#   RUST_LOG set in CONFIG -> in the server's environment
#   installed as S50edgeftpd (Buildroot) -> start and stop work under that name
#   stop    -> the process is gone, the pidfile removed, status exits non-zero
# The binary: $EDGEFTPD_BIN, else target/debug/edgeftpd. Run by tests/suite/process.rs
# (`cargo test`); needs bash, busybox and python3 (for a free port).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SCRIPT=$PWD/cross/init.d/edgeftpd
BIN=${EDGEFTPD_BIN:-$PWD/target/debug/edgeftpd}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
[ -x "$BIN" ] || fail "no server binary $BIN (cargo build, or set EDGEFTPD_BIN)"
command -v busybox >/dev/null || fail "busybox is not installed (make deps)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgeftpd-init.XXXXXX")
PIDFILE=$WORK/run/edgeftpd.pid
CONFIG=$WORK/default-edgeftpd
cleanup() {
    local p
    # shellcheck disable=SC2013 # one pid a file
    for p in $(cat "$PIDFILE" "$WORK/run/second.pid" 2>/dev/null); do
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Busybox applets first in PATH, so the script meets busybox's start-stop-daemon, sleep,
# date... and not the host's.
mkdir -p "$WORK/bin" "$WORK/root"
busybox --install -s "$WORK/bin" 2>/dev/null ||
    for a in $(busybox --list); do ln -sf "$(command -v busybox)" "$WORK/bin/$a"; done
[ "$(readlink -f "$WORK/bin/start-stop-daemon")" = "$(readlink -f "$(command -v busybox)")" ] ||
    fail "busybox has no start-stop-daemon applet"
echo "hello" >"$WORK/root/hello.txt"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$CONFIG" <<EOF
EDGEFTPD_OPTS="--listen 127.0.0.1:$PORT --root $WORK/root --anonymous --pasv-ports 45000-45099"
RUST_LOG=debug
EOF

# initd ACTION: runs the init script as a router would.
initd() {
    env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$PIDFILE" CONFIG="$CONFIG" \
        busybox sh "$SCRIPT" "$@"
}

# Waits (up to 10 s) for the FTP greeting on 127.0.0.1:$PORT; fails without one.
greeting() {
    local line
    for _ in $(seq 1 50); do
        if exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
            line=""
            IFS= read -r -t 5 line <&3 || true
            printf 'QUIT\r\n' >&3 2>/dev/null || true
            exec 3<&- 3>&-
            case $line in
            220*)
                echo "greeting: ${line%$'\r'}"
                return 0
                ;;
            esac
            fail "no 220 greeting, got: '$line'"
        fi
        sleep 0.2
    done
    fail "nothing listens on 127.0.0.1:$PORT"
}

# alive PID: the process exists and is not a zombie.
alive() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

echo "== start"
initd start || fail "start exited $?"
[ -s "$PIDFILE" ] || fail "start wrote no pidfile"
pid1=$(cat "$PIDFILE")
alive "$pid1" || fail "pid $pid1 from the pidfile is not running"
[ "$(readlink -f "/proc/$pid1/exe")" = "$(readlink -f "$BIN")" ] || fail "pid $pid1 is not $BIN"
greeting
initd status || fail "status exited $? while running"

echo "== start again (already running)"
initd start || fail "a second start exited $?"
[ "$(cat "$PIDFILE")" = "$pid1" ] || fail "a second start changed the pid"

echo "== restart"
initd restart || fail "restart exited $?"
pid2=$(cat "$PIDFILE")
[ "$pid2" != "$pid1" ] || fail "restart kept pid $pid1"
alive "$pid1" && fail "the old server $pid1 is still running after restart"
alive "$pid2" || fail "the new server $pid2 is not running"
greeting
initd status || fail "status exited $? after restart"

echo "== reload (SIGHUP): the same server goes on serving"
initd reload || fail "reload exited $?"
sleep 0.3
[ "$(cat "$PIDFILE")" = "$pid2" ] || fail "reload changed the pid"
alive "$pid2" || fail "the server died on SIGHUP"
greeting

echo "== RUST_LOG from the config file reaches the server"
tr '\0' '\n' <"/proc/$pid2/environ" | grep -qx 'RUST_LOG=debug' ||
    fail "RUST_LOG=debug is not in the server's environment"

echo "== second instance on the busy port: the server's error line"
rc=0
out=$(env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$WORK/run/second.pid" CONFIG="$CONFIG" \
    busybox sh "$SCRIPT" start 2>&1) || rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "start succeeded although port $PORT is taken"
case $out in
*"--listen 127.0.0.1:$PORT: Address already in use"*) ;;
*) fail "start did not show the server's error line" ;;
esac
[ ! -e "$WORK/run/second.pid" ] || fail "a failed start left its pidfile"
alive "$pid2" || fail "the running server died"

echo "== a missing --root: the server's error line"
printf 'EDGEFTPD_OPTS="--listen 127.0.0.1:0 --root %s --anonymous"\n' "$WORK/no-such-dir" \
    >"$WORK/bad-config"
rc=0
out=$(env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$WORK/run/second.pid" \
    CONFIG="$WORK/bad-config" busybox sh "$SCRIPT" start 2>&1) || rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "start succeeded without its --root"
case $out in
*"edgeftpd: --root $WORK/no-such-dir: not a directory"*) ;;
*) fail "start did not say the root is missing" ;;
esac

echo "== a served folder on a disk of the fstab that is not mounted: start refuses"
mkdir -p "$WORK/usb/share"
printf '/dev/sda1 %s vfat rw 0 0\n' "$WORK/usb" >"$WORK/fstab"
printf 'EDGEFTPD_OPTS="--listen 127.0.0.1:0 --root %s --anonymous"\n' "$WORK/usb/share" \
    >"$WORK/usb-config"
rc=0
out=$(env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$WORK/run/second.pid" \
    CONFIG="$WORK/usb-config" FSTAB="$WORK/fstab" busybox sh "$SCRIPT" start 2>&1) || rc=$?
echo "$out"
[ $rc -ne 0 ] || fail "start served a folder whose disk is not mounted"
case $out in
*"not started: $WORK/usb (in $WORK/fstab) is not mounted"*) ;;
*) fail "start did not say which disk is missing" ;;
esac
[ ! -e "$WORK/run/second.pid" ] || fail "a refused start left a pidfile"

echo "== the server dies (kill -9): status says so, start replaces the stale pidfile"
kill -9 "$pid2"
for _ in $(seq 1 50); do alive "$pid2" || break; sleep 0.1; done
rc=0
initd status || rc=$?
[ $rc -eq 1 ] || fail "status exited $rc for a dead server with a pidfile (want 1)"
initd boot || fail "boot after a crash exited $?"
pid3=$(cat "$PIDFILE")
[ "$pid3" != "$pid2" ] || fail "start after a crash kept the stale pid"
greeting

echo "== stop"
initd stop || fail "stop exited $?"
alive "$pid3" && fail "server $pid3 still running after stop"
[ ! -e "$PIDFILE" ] || fail "stop left the pidfile"
rc=0
initd status || rc=$?
[ $rc -ne 0 ] || fail "status exited 0 after stop"
if exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
    exec 3<&- 3>&-
    fail "something still listens on $PORT after stop"
fi

echo "== stop again (not running)"
initd stop || fail "stop of a stopped server exited $?"

echo "== as Buildroot installs it: /etc/init.d/S50edgeftpd"
cp "$SCRIPT" "$WORK/S50edgeftpd"
env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$PIDFILE" CONFIG="$CONFIG" \
    busybox sh "$WORK/S50edgeftpd" start || fail "S50edgeftpd start exited $?"
greeting
env PATH="$WORK/bin:$PATH" DAEMON="$BIN" PIDFILE="$PIDFILE" CONFIG="$CONFIG" \
    busybox sh "$WORK/S50edgeftpd" stop || fail "S50edgeftpd stop exited $?"
[ ! -e "$PIDFILE" ] || fail "stop left the pidfile"

echo "init script: all checks passed"
