#!/usr/bin/env bash
# bench/setup.sh — installs what `make bench` needs on a fresh Debian machine:
#   * the peer FTP servers vsftpd and pure-ftpd, unpacked (not installed: the two
#     packages conflict as installed packages) into bench/peers/<pkg>/ with
#     `apt-get download` + `dpkg -x`, plus any shared library they need that the
#     machine lacks (found from the .deb's Depends and checked with ldd);
#   * the system user `ftp` that both peers use for anonymous sessions;
#   * curl (the RETR/STOR client).
# Idempotent: a second run only re-checks. Writes the library path the peers
# need to bench/peers/ld_library_path.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PEERS="${BENCH_PEERS:-$HERE/peers}"
PKGS=(vsftpd pure-ftpd)
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        sh "$HERE/../scripts/apt-update.sh"
        apt_updated=1
    fi
}

# apt-get download writes into the current directory; retry after an update
# because a fresh machine's package lists may be missing or stale.
download() {  # download PKG... into $PEERS/debs
    mkdir -p "$PEERS/debs"
    ( cd "$PEERS/debs" && { apt-get download -q "$@" 2>/dev/null \
        || { apt_update_once && apt-get download -q "$@"; }; } )
}

installed() {  # is the Debian package $1 installed on this machine?
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# --- tools -------------------------------------------------------------------
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found (needed for loadgen and edgeftpd)" >&2; exit 1; }

# --- peers -------------------------------------------------------------------
libpath() {  # the LD_LIBRARY_PATH that makes unpacked libraries visible
    local p="" d
    for d in "$PEERS"/*/lib/x86_64-linux-gnu "$PEERS"/*/usr/lib/x86_64-linux-gnu \
             "$PEERS"/*/lib/*-linux-gnu* "$PEERS"/*/usr/lib/*-linux-gnu*; do
        [ -d "$d" ] && case ":$p:" in *":$d:"*) ;; *) p="${p:+$p:}$d" ;; esac
    done
    echo "$p"
}

missing_libs() {  # sonames that the peer binaries cannot resolve
    local lp; lp="$(libpath)"
    LD_LIBRARY_PATH="$lp" ldd "$PEERS/vsftpd/usr/sbin/vsftpd" "$PEERS/pure-ftpd/usr/sbin/pure-ftpd" 2>/dev/null \
        | awk '/not found/ {print $1}' | sort -u
}

for pkg in "${PKGS[@]}"; do
    if [ ! -x "$PEERS/$pkg/usr/sbin/$pkg" ]; then
        echo "setup: fetching $pkg"
        rm -f "$PEERS/debs/${pkg}"_*.deb
        download "$pkg"
        rm -rf "$PEERS/$pkg"; mkdir -p "$PEERS/$pkg"
        dpkg -x "$PEERS/debs/${pkg}"_*.deb "$PEERS/$pkg"
    fi
done

# Library dependencies: every lib* package in the peers' Depends that is not
# installed here gets unpacked next to them (e.g. vsftpd's libwrap0 is usually
# missing on a minimal machine).
if [ -n "$(missing_libs)" ]; then
    for pkg in "${PKGS[@]}"; do
        deps="$(dpkg-deb -f "$PEERS/debs/${pkg}"_*.deb Depends | tr ',|' '\n\n' \
                | sed -E 's/\(.*\)//; s/[[:space:]]//g; s/:any$//' | grep -E '^lib' || true)"
        for dep in $deps; do
            installed "$dep" && continue
            [ -d "$PEERS/$dep" ] && continue
            echo "setup: fetching library package $dep (needed by $pkg)"
            download "$dep"
            mkdir -p "$PEERS/$dep"
            dpkg -x "$PEERS/debs/${dep}"_*.deb "$PEERS/$dep"
        done
    done
fi
still="$(missing_libs)"
if [ -n "$still" ]; then
    echo "setup: the peers still miss libraries: $still" >&2
    exit 1
fi

# --- the anonymous FTP user -----------------------------------------------------
# Both peers run anonymous sessions as the system user `ftp`: pure-ftpd has no
# flag to pick another user, and takes the anonymous root from the user's home
# directory (bench/run.py bind-mounts the served directory over that home in a
# private mount namespace, so the real home is never touched). We create it the
# way Debian's vsftpd package does: a system user with home /srv/ftp.
if ! getent passwd ftp >/dev/null; then
    echo "setup: creating system user ftp (home /srv/ftp)"
    if command -v adduser >/dev/null 2>&1; then
        $SUDO adduser --system --home /srv/ftp --no-create-home --quiet --gecos 'ftp daemon' --group ftp
    else
        $SUDO useradd --system --home-dir /srv/ftp --no-create-home --shell /usr/sbin/nologin --user-group ftp
    fi
fi
ftphome="$(getent passwd ftp | cut -d: -f6)"
[ -d "$ftphome" ] || $SUDO mkdir -p "$ftphome"

# bench/run.py reads the library path from here.
libpath > "$PEERS/ld_library_path"
echo "setup: peers ready in $PEERS (LD_LIBRARY_PATH=$(cat "$PEERS/ld_library_path"))"
for pkg in "${PKGS[@]}"; do
    echo "  $pkg $(dpkg-deb -f "$PEERS/debs/${pkg}"_*.deb Version)"
done
