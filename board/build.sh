#!/usr/bin/env bash
# board/build.sh — builds the emulated routers of `make board` from Debian's packages only:
# for each board of board/boards, its architecture's kernel (with the modules a router
# needs: virtio net and block, ext4, vfat, exfat, fuse), busybox-static, and an initramfs that boots like
# a router: busybox init runs /etc/inittab and rcS, which loads the modules, brings up the
# network, mounts the "USB disk" (a second virtio disk) at /mnt/usb and starts
# /etc/init.d/S50edgeftpd, the project's own init script (cross/init.d/edgeftpd), with the
# dist/ binaries of the board's triple (plain and -tls). Downloads are cached in
# board/cache/ and the results go to board/out/NAME/ (both ignored by git): a second run
# only rebuilds the initramfs.
#
#   board/build.sh [NAME...]     (default: every board; BOARDS="armv7 mipsel" likewise)
#   board/build.sh deps          installs the host tools (qemu-system, cpio, dosfstools)
#   board/build.sh peers [NAME...]  Debian's vsftpd and pure-ftpd of each board's architecture
#                                with the shared libraries they load, in board/out/NAME/peers/
#                                (for board/bench.py, which puts them on the bench's disk)
#   board/build.sh tools [NAME...]  Debian's ntfs-3g likewise, in board/out/NAME/tools/ (the
#                                tools disk an NTFS USB disk is mounted with)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CACHE=board/cache
OUT=board/out

die() { echo "board: $*" >&2; exit 1; }
note() { echo "board: $*" >&2; }

# apt-get update that goes on with the lists apt has when a mirror is mid-sync (one script
# for every install step: scripts/apt-update.sh).
apt_update() {
    sh "$ROOT/scripts/apt-update.sh"
}

# Host tools, installed when missing (Debian packages).
deps() {
    local missing="" pair
    for pair in qemu-system-arm:qemu-system-arm qemu-system-mipsel:qemu-system-mips \
        qemu-system-aarch64:qemu-system-arm cpio:cpio mkfs.vfat:dosfstools \
        mkfs.ext4:e2fsprogs fsck.vfat:dosfstools mkfs.exfat:exfatprogs fsck.exfat:exfatprogs \
        mkntfs:ntfs-3g ntfsfix:ntfs-3g \
        openssl:openssl readelf:binutils; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair##*:}"
    done
    if [ -n "$missing" ]; then
        note "installing:$missing"
        apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
}

# Makes sure dpkg knows the foreign architecture $1 (for apt-get download).
foreign_arch() {
    local arch=$1
    dpkg --print-foreign-architectures | grep -qx "$arch" && return 0
    note "adding the $arch architecture to dpkg"
    dpkg --add-architecture "$arch"
    apt_update
}

# Downloads package $2 of architecture $1 into $3 unless a .deb of it is there.
fetch() {
    local arch=$1 pkg=$2 dir=$3
    ls "$dir/${pkg}_"*"_$arch.deb" >/dev/null 2>&1 && return 0
    mkdir -p "$dir"
    (cd "$dir" && apt-get download -q "$pkg:$arch" >/dev/null 2>&1) ||
        (apt_update && cd "$dir" && apt-get download -q "$pkg:$arch" >/dev/null) ||
        die "apt-get download $pkg:$arch failed"
}

# The kernel modules to load, dependencies first: $1 is the modules folder, the rest are
# names; a module built into the kernel is skipped. Prints the .ko paths relative to $1.
module_order() {
    local dir=$1
    shift
    declare -A file=() done=()
    local f n
    while IFS= read -r f; do
        n=$(basename "$f" .ko)
        file[${n//-/_}]=$f
    done < <(cd "$dir" && find kernel -name '*.ko')
    visit() {
        local m=${1//-/_} d
        [ -n "${done[$m]:-}" ] && return 0
        done[$m]=1
        if [ -z "${file[$m]:-}" ]; then
            grep -q "/${1}.ko\$\|/${m}.ko\$" "$dir/modules.builtin" 2>/dev/null && return 0
            die "module $m: neither a .ko nor built in"
        fi
        for d in $(tr '\0' '\n' <"$dir/${file[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do
            visit "$d"
        done
        echo "${file[$m]}"
    }
    for n in "$@"; do visit "$n"; done
}

build_one() {
    local name=$1 arch=$2 kpkg=$3 mem=$4 triple=$5
    local debs=$CACHE/debs/$name x=$CACHE/x/$name stage=$CACHE/stage/$name out=$OUT/$name
    local plain=dist/edgeftpd-$triple tls=dist/edgeftpd-tls-$triple
    [ -x "$plain" ] && [ -x "$tls" ] || die "$plain or $tls missing: run make cross first"
    foreign_arch "$arch"
    fetch "$arch" "$kpkg" "$debs"
    # The metapackage names the kernel package of the day.
    local kdep
    kdep=$(dpkg-deb -f "$(ls "$debs/${kpkg}_"*.deb | head -1)" Depends | grep -o 'linux-image-[0-9][^ ,(]*' | head -1)
    [ -n "$kdep" ] || die "$kpkg: no kernel package in its Depends"
    fetch "$arch" "$kdep" "$debs"
    fetch "$arch" busybox-static "$debs"
    if [ ! -d "$x/boot" ]; then
        rm -rf "$x" && mkdir -p "$x"
        dpkg-deb -x "$(ls "$debs/${kdep}_"*.deb | head -1)" "$x"
        dpkg-deb -x "$(ls "$debs/busybox-static_"*.deb | head -1)" "$x"
    fi
    local kver
    kver=$(basename "$(ls -d "$x"/lib/modules/*/ | head -1)")
    # ext4 asks the crypto API for crc32c at mount time: a soft dependency, loaded by name.
    # vfat: Debian's kernels default to codepage 437 and the "ascii" I/O charset.
    # exfat: the file system of USB disks over 32 GB as they are sold; fuse for ntfs-3g.
    local mods=(virtio_net virtio_blk crc32c_generic ext4 vfat nls_cp437 nls_ascii nls_iso8859_1 exfat fuse)
    # The kernel's TLS for FTPS data connections (src/ktls.rs), with the CPU's own
    # ChaCha20 and Poly1305 (and on aarch64 AES-GCM): the crypto API finds them by name
    # when tls asks for "rfc7539(chacha20,poly1305)", so they are loaded beforehand.
    mods+=(tls chacha20poly1305)
    case "$name" in
    mipsel) mods=(virtio_pci "${mods[@]}" chacha-mips poly1305-mips) ;;
    armv7) mods=(virtio_mmio "${mods[@]}" chacha-neon poly1305-arm) ;;
    aarch64) mods=(virtio_mmio "${mods[@]}" chacha-neon poly1305-neon gcm ghash-ce aes-ce-cipher aes-ce-blk) ;;
    *) mods=(virtio_mmio "${mods[@]}") ;;
    esac

    rm -rf "$stage" && mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/default,etc/edgeftpd,lib/modules,proc,sys,dev,tmp,mnt/usb,var/run,root}
    cp "$x/bin/busybox" "$stage/bin/busybox"
    ln -s busybox "$stage/bin/sh"
    ln -s ../bin/busybox "$stage/sbin/init"
    mknod -m 600 "$stage/dev/console" c 5 1
    mknod -m 666 "$stage/dev/null" c 1 3
    local f order=()
    mapfile -t order < <(module_order "$x/lib/modules/$kver" "${mods[@]}")
    for f in "${order[@]}"; do
        cp "$x/lib/modules/$kver/$f" "$stage/lib/modules/"
        basename "$f" >>"$stage/etc/modules.load"
    done
    install -m 755 "$plain" "$stage/usr/sbin/edgeftpd"
    install -m 755 "$tls" "$stage/usr/sbin/edgeftpd-tls"
    install -m 755 cross/init.d/edgeftpd "$stage/etc/init.d/edgeftpd"
    ln -s edgeftpd "$stage/etc/init.d/S50edgeftpd"
    install -m 755 board/guest/rcS "$stage/etc/init.d/rcS"
    install -m 644 board/guest/inittab "$stage/etc/inittab"
    # The certificate and the test account are made once per cache, on the host.
    if [ ! -f "$CACHE/cert.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj /CN=edgeftpd-board -keyout "$CACHE/key.pem" -out "$CACHE/cert.pem" 2>/dev/null
    fi
    cp "$CACHE/cert.pem" "$CACHE/key.pem" "$stage/etc/edgeftpd/"
    [ -f "$CACHE/users" ] || echo "bob:$(openssl passwd -6 board-secret):/mnt/usb:rw" >"$CACHE/users"
    cp "$CACHE/users" "$stage/etc/edgeftpd/users"
    cat "$CACHE/key.pem" "$CACHE/cert.pem" >"$stage/etc/edgeftpd/both.pem" # pure-ftpd's form
    # bob is a system account too, for pure-ftpd's unix login in the peers' power cuts.
    printf '%s\n' "root:x:0:0:root:/root:/bin/sh" "ftp:x:21:21:ftp:/mnt/usb:/bin/false" \
        "bob:x:1000:1000:bob:/mnt/usb:/bin/sh" \
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false" >"$stage/etc/passwd"
    printf '%s\n' "root:x:0:" "ftp:x:21:" "bob:x:1000:" "nogroup:x:65534:" >"$stage/etc/group"
    printf 'bob:%s:19000:0:99999:7:::\n' "$(cut -d: -f2 "$CACHE/users")" >"$stage/etc/shadow"
    chmod 600 "$stage/etc/shadow"

    mkdir -p "$out"
    cp "$x/boot/vmlinuz-$kver" "$out/vmlinuz.new" && mv "$out/vmlinuz.new" "$out/vmlinuz"
    # Renamed into place: a board booting meanwhile reads the old one or the new one whole.
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -9 >"$out/initrd.gz.new"
    mv "$out/initrd.gz.new" "$out/initrd.gz"
    note "$name: kernel $kver, memory $mem MiB, initramfs $(du -k "$out/initrd.gz" | cut -f1) KiB, modules: ${order[*]##*/}"
}

# Debian programs of the board's architecture, run on the board by the dynamic loader of
# the same libc6 from a disk of their own (not the initramfs: every board keeps the same
# memory): `bundle NAME ARCH WHAT "PKGS" PROGRAM...` unpacks the packages PKGS and copies
# each PROGRAM (a path inside them) to board/out/NAME/WHAT/sbin/, with the loader as
# lib/ld.so and only the libraries they load (found by following DT_NEEDED); a soname that
# none of the packages has stops the build with its name.
bundle() {
    local name=$1 arch=$2 what=$3 pkgs=$4
    shift 4
    local debs=$CACHE/debs/$name-$what x=$CACHE/x/$name-$what out=$OUT/$name/$what p f
    command -v readelf >/dev/null || die "readelf missing: apt-get install binutils"
    foreign_arch "$arch"
    for p in $pkgs; do fetch "$arch" "$p" "$debs"; done
    if [ ! -e "$x/$1" ]; then
        rm -rf "$x" && mkdir -p "$x"
        for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$x"; done
    fi
    rm -rf "$out" && mkdir -p "$out/lib" "$out/sbin"
    local queue=() prog
    for prog in "$@"; do
        cp "$x/$prog" "$out/sbin/"
        queue+=("$out/sbin/${prog##*/}")
    done
    local interp
    interp=$(readelf -l "${queue[0]}" | sed -n 's/.*program interpreter: \(.*\)]/\1/p')
    [ -n "$interp" ] || die "$name: ${queue[0]##*/} has no program interpreter"
    cp -L "$x$interp" "$out/lib/ld.so"
    local so hit
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]}
        queue=("${queue[@]:1}")
        for so in $(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
            [ -e "$out/lib/$so" ] && continue
            hit=$(find "$x/lib" "$x/usr/lib" -name "$so" 2>/dev/null | head -1)
            [ -n "$hit" ] || die "$name: $so (needed by ${f##*/}) is in none of the $what packages"
            cp -L "$hit" "$out/lib/$so"
            queue+=("$out/lib/$so")
        done
    done
}

# The peers of board/bench.py and of the peers' power cuts: Debian's vsftpd and pure-ftpd.
PEER_PKGS="vsftpd pure-ftpd libc6 libwrap0 libpam0g libssl3 libcap2 libnsl2 libaudit1 libtirpc3
 libcap-ng0 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1
 libsodium23 libcrypt1 libatomic1"

peers_one() {
    local name=$1 arch=$2 debs=$CACHE/debs/$1-peers out=$OUT/$1/peers
    bundle "$name" "$arch" peers "$PEER_PKGS" usr/sbin/vsftpd usr/sbin/pure-ftpd
    local v
    v="vsftpd $(dpkg-deb -f "$debs"/vsftpd_*.deb Version), pure-ftpd $(dpkg-deb -f "$debs"/pure-ftpd_*.deb Version)"
    echo "$v" >"$out/versions"
    note "$name: peers $v, $(ls "$out/lib" | wc -l) libraries, $(du -sk "$out" | cut -f1) KiB"
}

# NTFS on the boards: Debian's kernel has no ntfs3 module, so an NTFS disk is mounted by
# ntfs-3g over FUSE, as on many OpenWrt routers; it comes on the board's tools disk.
TOOLS_PKGS="ntfs-3g libntfs-3g89 libc6"

tools_one() {
    local name=$1 arch=$2 debs=$CACHE/debs/$1-tools out=$OUT/$1/tools
    bundle "$name" "$arch" tools "$TOOLS_PKGS" bin/ntfs-3g
    dpkg-deb -f "$debs"/ntfs-3g_*.deb Version | sed 's/^/ntfs-3g /' >"$out/versions"
    note "$name: tools $(cat "$out/versions"), $(du -sk "$out" | cut -f1) KiB"
}

[ "${1:-}" = deps ] && { deps; exit 0; }
if [ "${1:-}" = peers ] || [ "${1:-}" = tools ]; then
    kind=$1
    shift
    deps
    while read -r name arch _; do
        case "$name" in '' | '#'*) continue ;; esac
        [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name" && continue
        "${kind}_one" "$name" "$arch"
    done <board/boards
    exit 0
fi
deps
want=("$@")
[ ${#want[@]} -gt 0 ] || read -r -a want <<<"${BOARDS:-}"
found=0
while read -r name arch kpkg mem triple _; do
    case "$name" in '' | '#'*) continue ;; esac
    if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
        continue
    fi
    build_one "$name" "$arch" "$kpkg" "$mem" "$triple"
    found=$((found + 1))
done <board/boards
[ "$found" -gt 0 ] || die "no board matched: ${want[*]}"
