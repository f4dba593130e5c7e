#!/bin/sh
# tests/leftovers.sh BINARY — fails when a process running BINARY is still there after the
# tests (give them 2 s to end): a test must end every process it starts, the serving
# processes of --run-as and --daemon included. Processes are found by the file they run
# (/proc/PID/exe), not by name: a process can rename itself, a file it runs cannot.
set -eu
bin=$(readlink -f "$1")
found=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
    found=""
    for exe in /proc/[0-9]*/exe; do
        [ "$(readlink "$exe" 2>/dev/null)" = "$bin" ] || continue
        pid=${exe#/proc/}; pid=${pid%/exe}
        # A zombie has ended; its parent just has not waited for it yet.
        state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [ "$state" = Z ] || found="$found $pid"
    done
    [ -z "$found" ] && exit 0
    sleep 0.2
done
echo "leftovers: processes of $bin still running after the tests:" >&2
for pid in $found; do
    printf '  %s (user %s): %s\n' "$pid" "$(stat -c %U "/proc/$pid" 2>/dev/null)" \
        "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" >&2
done
exit 1
