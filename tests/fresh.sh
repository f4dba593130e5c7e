#!/bin/sh
# tests/fresh.sh COMMAND... — runs COMMAND (CI: make test) as on a newcomer's machine: in a
# mount namespace of its own where /srv, /etc/edgeftpd and /var/run/edgeftpd are empty (a
# tmpfs over each one that exists), so a test that leans on what an earlier install left on
# this machine (the .deb's /srv/ftp did) fails here as it would for everyone else. Needs
# root (CI runs as root) and unshare (util-linux).
set -eu
if [ "${FRESH_INSIDE:-}" != 1 ]; then
    FRESH_INSIDE=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
for d in /srv /etc/edgeftpd /var/run/edgeftpd; do
    real=$(readlink -f "$d" 2>/dev/null || true)
    if [ -n "$real" ] && [ -d "$real" ]; then
        mount -t tmpfs -o mode=0755,size=1m fresh "$real"
    fi
done
echo "fresh.sh: /srv, /etc/edgeftpd and /var/run/edgeftpd hidden; running $*"
exec "$@"
