#!/usr/bin/env bash
# cross/build.sh — cross-builds edgeftpd for the routers' CPUs and checks the results.
# The make targets in cross/cross.mk only call this script.
#
#   cross/build.sh setup              install what a fresh machine lacks, and only that:
#                                     the nightly toolchain + rust-src (rustup), ziglang and
#                                     cargo-zigbuild (PyPI), qemu-user-static (Debian)
#   cross/build.sh build [TRIPLE...]  build dist/edgeftpd-TRIPLE: static, stripped,
#                                     size-optimised, panic=unwind; then check the budgets
#   cross/build.sh size  [TRIPLE...]  print each binary's size; exit 1 if one is over budget
#   cross/build.sh panic-check [TRIPLE...]
#                                     build cross/panic-check the same way and run it under
#                                     qemu: a panic in a thread must be caught (panic=unwind),
#                                     and a dlsym look-up must not crash
#   cross/build.sh test  [TRIPLE...]  `cargo test` on the host against each dist binary,
#                                     run under qemu (EDGEFTPD_BIN, EDGEFTPD_RUNNER)
#   cross/build.sh bloat [TRIPLE...]  build unstripped (in $CROSS_TARGET_DIR-bloat) and show
#                                     what costs the most: sections, crates, functions
#
# The targets, their qemu runners and size budgets are listed in cross/targets; no TRIPLE
# means all of them (or those in $CROSS_TARGETS).
#
# How the binaries are made (one recipe for all four targets):
#   cargo +nightly zigbuild --release -Z build-std=std,panic_unwind \
#         -Z build-std-features=panic-unwind,optimize_for_size --target TRIPLE
#   - build-std: mips/mipsel (tier 3) have no prebuilt std at all; for armv7/aarch64
#     rebuilding std lets it be compiled with our size profile and LTO'd with the server
#     (a threaded hello-world on aarch64: 382 KB with the prebuilt std, 166 KB like this).
#   - build-std-features without the default `backtrace`: drops the backtrace symboliser
#     (addr2line, gimli, miniz_oxide), the biggest single piece of std (mipsel hello-world
#     526 KB -> 271 KB). Panics still unwind and print their message and location; a
#     backtrace (RUST_BACKTRACE=1) is printed without symbol names.
#   - panic-unwind: the server catches a panicking session thread (see Cargo.toml).
#   - zig (cargo-zigbuild) is the C toolchain and linker, with its own musl and libunwind:
#     no cross gcc needed. Hence -C link-self-contained=no (rustc ships no crt objects for
#     the tier 3 targets).
#   - -C relocation-model=static: plain static executables, not static-pie. On mips/mipsel
#     the default static-pie binaries crash (SIGSEGV writing at the load address) as soon
#     as a thread is spawned or a panic unwinds. Non-PIC code is also much smaller on MIPS
#     (PIC + -no-pie made mipsel 530 KiB instead of 478). arm/aarch64 were non-PIE anyway.
#   - -C link-arg=-fPIC: zig then builds its musl as PIC. On MIPS some musl functions are
#     assembly that finds its GOT from $t9 (dlsym, which rustix and std call to look up
#     optional functions such as statx); non-PIC Rust code calls them with `jal`, which
#     doesn't set $t9, and they crashed (SIGBUS/SIGSEGV). With a PIC libc the linker puts
#     a stub that sets $t9 in between (an LA25 thunk). panic-check calls dlsym to check.
#   - -A linker_messages: zig's harmless "unable to open library directory" warning.
#   - plus the target's own flags from cross/targets (time_t: see there).
#
# Settings (environment; cross/cross.mk passes its make variables through):
#   CROSS_TARGETS     triples to work on (default: all in cross/targets)
#   CROSS_TOOLCHAIN   rustup toolchain for the cross builds (default: nightly)
#   CROSS_TARGET_DIR  cargo target dir of the cross builds (default: target/cross)
#   CROSS_TESTS       test name filters for `test`, such as `transfers:: paths::` (modules of
#                     tests/suite; default: every test)
#   CROSS_TEST_ARGS   arguments for the test binaries (default: --test-threads=4)
#   CROSS_EXTRA_RUSTFLAGS  more rustc flags for the cross builds (the default builds panic
#                     messages without file:line, -Zlocation-detail=none: mipsel -15 KiB)
#   DIST              output folder (default: dist)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TOOLCHAIN=${CROSS_TOOLCHAIN:-nightly}
TARGET_DIR=${CROSS_TARGET_DIR:-target/cross}
DIST=${DIST:-dist}
TEST_ARGS=${CROSS_TEST_ARGS:---test-threads=4}
# PyPI versions installed by `setup` when the tools are missing (the ones verified here).
ZIGLANG_VERSION=${ZIGLANG_VERSION:-0.17.1}
CARGO_ZIGBUILD_VERSION=${CARGO_ZIGBUILD_VERSION:-0.24.0}

# shellcheck disable=SC2054 # the commas are part of the -Z values
BUILD_STD=(-Z build-std=std,panic_unwind -Z build-std-features=panic-unwind,optimize_for_size)
CROSS_RUSTFLAGS="-C link-self-contained=no -C relocation-model=static -C link-arg=-fPIC"
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS -A linker_messages"
# Panic messages without file:line:column: 15 KiB less on mipsel. A session's panic is still
# caught and logged with its message; the location only helped a developer, who can rebuild
# with CROSS_EXTRA_RUSTFLAGS=-Zlocation-detail=file,line,column.
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS -Zlocation-detail=none"
# No `{:?}` formatting code: the server logs and replies with Display only (a panic's
# message from `unwrap` loses its value's Debug text).
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS -Zfmt-debug=none"
# A panic inside a destructor aborts instead of unwinding: no unwinding paths for every drop
# that could run during an unwind (mipsel plain: 12 KiB gzip less). A session's panic still
# unwinds and ends only that session; the server's destructors (slots, guards, temporary
# files) do not panic: a poisoned lock is taken anyway, an unlink that fails is ignored.
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS -Zpanic-in-drop=abort"
# Warnings are errors, as in `make lint`: the cross builds compile code the host's clippy
# never sees (the 32-bit and per-architecture parts of sandbox.rs and sys.rs).
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS -D warnings"
CROSS_RUSTFLAGS="$CROSS_RUSTFLAGS ${CROSS_EXTRA_RUSTFLAGS:-}"

die() { echo "cross: $*" >&2; exit 1; }
note() { echo "cross: $*" >&2; }

# Sets ROWS to the rows of cross/targets ("triple runner budget flags...") for the requested
# triples (arguments, else $CROSS_TARGETS, else all).
ROWS=()
select_rows() {
    local want=("$@") triple runner budget tls_budget w hit
    if [ ${#want[@]} -eq 0 ] && [ -n "${CROSS_TARGETS:-}" ]; then
        read -r -a want <<<"$CROSS_TARGETS"
    fi
    for w in "${want[@]}"; do
        grep -Eq "^[[:space:]]*${w}[[:space:]]" cross/targets || die "$w is not in cross/targets"
    done
    ROWS=()
    while read -r triple runner budget tls_budget flags; do
        case $triple in '' | '#'*) continue ;; esac
        [ -n "$runner" ] || die "cross/targets: no runner for $triple"
        if [ ${#want[@]} -gt 0 ]; then
            hit=no
            for w in "${want[@]}"; do [ "$w" = "$triple" ] && hit=yes; done
            [ $hit = yes ] || continue
        fi
        ROWS+=("$triple $runner ${budget:--} ${tls_budget:--} $flags")
    done <cross/targets
    [ ${#ROWS[@]} -gt 0 ] || die "no targets selected"
}

# Directories where pip puts console scripts (so a fresh install is found without a new shell).
add_pip_bins_to_path() {
    local d
    for d in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)" \
        "$(python3 -c 'import site; print(site.USER_BASE)' 2>/dev/null)/bin"; do
        if [ -d "$d" ] && [[ ":$PATH:" != *":$d:"* ]]; then PATH="$PATH:$d"; fi
    done
    export PATH
}

have_zig() { command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; }

host_triple() { rustc -vV | sed -n 's/^host: //p'; }

have_toolchain() {
    local name=$1
    rustup toolchain list | awk '{print $1}' | grep -qx -e "$name" -e "$name-$(host_triple)"
}

# llvm-objcopy of the cross toolchain's llvm-tools component (knows every ELF machine).
llvm_tool() { echo "$(rustup run "$TOOLCHAIN" rustc --print sysroot)/lib/rustlib/$(host_triple)/bin/$1"; }
objcopy_path() { llvm_tool llvm-objcopy; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

cmd_setup() {
    local t0=$SECONDS row
    select_rows
    command -v rustup >/dev/null || die "rustup is needed (https://rustup.rs)"

    if have_toolchain "$TOOLCHAIN"; then
        note "toolchain $TOOLCHAIN: present ($(rustup run "$TOOLCHAIN" rustc -V))"
    else
        note "installing toolchain $TOOLCHAIN (minimal profile, rust-src)"
        rustup toolchain install "$TOOLCHAIN" --profile minimal --component rust-src
    fi
    local sysroot
    sysroot=$(rustup run "$TOOLCHAIN" rustc --print sysroot)
    if [ -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ]; then
        note "rust-src for $TOOLCHAIN: present"
    else
        note "installing rust-src for $TOOLCHAIN"
        rustup component add rust-src --toolchain "$TOOLCHAIN"
    fi

    if [ -x "$(objcopy_path)" ]; then
        note "llvm-tools for $TOOLCHAIN: present"
    else
        note "installing llvm-tools for $TOOLCHAIN (llvm-objcopy, llvm-nm, llvm-size)"
        rustup component add llvm-tools --toolchain "$TOOLCHAIN"
    fi

    add_pip_bins_to_path
    if command -v cargo-zigbuild >/dev/null 2>&1 && have_zig; then
        note "cargo-zigbuild and zig: present ($(cargo-zigbuild --version 2>/dev/null | head -n1))"
    else
        note "installing ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check \
            "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" ||
            python3 -m pip install --quiet --disable-pip-version-check --user \
                "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
        hash -r
        add_pip_bins_to_path
        command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild installed but not on PATH"
        have_zig || die "ziglang installed but neither zig nor python3 -m ziglang works"
    fi

    local missing="" runner
    for row in "${ROWS[@]}"; do
        read -r _ runner _ <<<"$row"
        command -v "$runner" >/dev/null 2>&1 || missing=yes
    done
    if [ -n "$missing" ]; then
        note "installing qemu-user-static (Debian)"
        sh scripts/apt-update.sh
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
    else
        note "qemu-user-static: present"
    fi
    for row in "${ROWS[@]}"; do
        read -r _ runner _ <<<"$row"
        command -v "$runner" >/dev/null 2>&1 || die "$runner still missing after setup"
    done
    note "setup done in $((SECONDS - t0)) s"
}

need_tools() {
    add_pip_bins_to_path
    have_toolchain "$TOOLCHAIN" || die "no $TOOLCHAIN toolchain: run make cross-setup"
    command -v cargo-zigbuild >/dev/null 2>&1 || die "no cargo-zigbuild: run make cross-setup"
    have_zig || die "no zig: run make cross-setup"
    [ -x "$(objcopy_path)" ] || die "no llvm-objcopy (llvm-tools): run make cross-setup"
}

# zigbuild MANIFEST TRIPLE "FLAGS" [cargo args...]: the one cross-build recipe (see the
# header); FLAGS are the target's own rustc flags from cross/targets.
zigbuild() {
    local manifest=$1 triple=$2 flags=$3
    shift 3
    RUSTFLAGS="$CROSS_RUSTFLAGS $flags" cargo "+$TOOLCHAIN" zigbuild --release \
        --manifest-path "$manifest" --target "$triple" --target-dir "$TARGET_DIR" \
        "${BUILD_STD[@]}" "$@"
}

# Fails unless FILE is a statically linked (no interpreter, no dynamic section), stripped ELF.
check_static() {
    local f=$1
    if ! command -v readelf >/dev/null 2>&1; then
        note "readelf missing (binutils): not checking that $f is static and stripped"
        return 0
    fi
    local ph sh
    ph=$(readelf -lW "$f") || die "$f: not an ELF file"
    sh=$(readelf -SW "$f")
    if grep -Eq '^[[:space:]]*(INTERP|DYNAMIC)[[:space:]]' <<<"$ph"; then
        die "$f is dynamically linked"
    fi
    if grep -Eq '\.(symtab|pdr|debug_[a-z]+)[[:space:]]' <<<"$sh"; then die "$f is not stripped"; fi
}

cmd_build() {
    need_tools
    local triple runner budget tls_budget flags row t0=$SECONDS t
    select_rows "$@"
    mkdir -p "$DIST"
    for row in "${ROWS[@]}"; do
        read -r triple runner budget tls_budget flags <<<"$row"
        t=$SECONDS
        note "building $triple"
        # Two flavours: plain (no TLS: the smallest) and -tls (FTPS, rustls + ring).
        for flavour in ${CROSS_FLAVOURS:-plain tls}; do
            local name=edgeftpd-$triple features=(--no-default-features)
            if [ $flavour = tls ]; then
                name=edgeftpd-tls-$triple
                features=()
            fi
            zigbuild Cargo.toml "$triple" "$flags" --bin edgeftpd "${features[@]}"
            # The linker's --strip-all keeps non-allocated sections: drop the MIPS .pdr
            # (procedure descriptors for old debuggers: 86 KiB, 15% of a mips binary) and
            # .comment (linker versions). Nothing at run time reads them.
            "$(objcopy_path)" --strip-all --remove-section=.pdr --remove-section=.comment \
                "$TARGET_DIR/$triple/release/edgeftpd" "$DIST/$name.tmp"
            chmod 0755 "$DIST/$name.tmp"
            mv -f "$DIST/$name.tmp" "$DIST/$name"
            check_static "$DIST/$name"
            note "$DIST/$name: static, stripped ($((SECONDS - t)) s)"
        done
    done
    note "cross build done in $((SECONDS - t0)) s"
    cmd_size "$@"
}

cmd_size() {
    local triple runner budget tls_budget flags row f bytes gz over=0 verdict name b
    select_rows "$@"
    command -v gzip >/dev/null || die "gzip missing"
    printf '%-46s %10s %9s %9s  %s\n' binary bytes KiB "gzip KiB" "budget (gzip -9)"
    for row in "${ROWS[@]}"; do
        read -r triple runner budget tls_budget flags <<<"$row"
        for name in "edgeftpd-$triple" "edgeftpd-tls-$triple"; do
            b=$budget
            [ "$name" = "edgeftpd-$triple" ] || b=$tls_budget
            f="$DIST/$name"
            if [ ! -f "$f" ]; then
                printf '%-46s %10s %9s %9s  %s\n' "$name" - - - "not built (make cross)"
                continue
            fi
            bytes=$(stat -c %s "$f")
            gz=$(gzip -9 -c "$f" | wc -c)
            if [ "$b" = - ]; then
                verdict="-"
            elif [ "$gz" -le $((b * 1024)) ]; then
                verdict="$b KiB: ok"
            else
                verdict="$b KiB: OVER BUDGET"
                over=1
            fi
            printf '%-46s %10d %9s %9s  %s\n' "$name" "$bytes" \
                "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')" \
                "$(awk -v b="$gz" 'BEGIN { printf "%.1f", b / 1024 }')" "$verdict"
        done
    done
    [ $over = 0 ] || die "a binary is over its size budget (cross/targets)"
}

cmd_panic_check() {
    need_tools
    local triple runner budget tls_budget flags row out failed=""
    select_rows "$@"
    for row in "${ROWS[@]}"; do
        read -r triple runner budget tls_budget flags <<<"$row"
        command -v "$runner" >/dev/null 2>&1 || die "no $runner: run make cross-setup"
        note "panic-check $triple"
        zigbuild cross/panic-check/Cargo.toml "$triple" "$flags"
        if out=$("$runner" "$TARGET_DIR/$triple/release/panic-check" 2>/dev/null) &&
            grep -qx 'panic-check: ok' <<<"$out"; then
            note "$triple: ok: $(grep -v '^panic-check:' <<<"$out" | tr '\n' ' ')"
        else
            echo "$out" >&2
            note "$triple: FAILED: the panic was not caught"
            failed="$failed $triple"
        fi
    done
    [ -z "$failed" ] || die "panic=unwind does not work on:$failed"
}

# The kernel runs the routers' binaries through qemu-user (binfmt_misc, from the
# qemu-user-static package's /usr/lib/binfmt.d files, flag F: also inside a chroot). The
# runner starts the server, but a server that starts itself again in place (a SIGHUP that
# changed --listen) execs its own binary, which only the kernel can hand to qemu: without
# this, that exec fails with ENOEXEC here, though never on a router.
ensure_binfmt() {
    local f name
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "binfmt_misc: cannot mount it (root is needed)"
    fi
    for name in arm aarch64 mipsel mips; do
        f=/usr/lib/binfmt.d/qemu-$name.conf
        [ -e "/proc/sys/fs/binfmt_misc/qemu-$name" ] && continue
        [ -r "$f" ] || die "$f missing: run make cross-setup"
        cat "$f" >/proc/sys/fs/binfmt_misc/register ||
            die "binfmt_misc: cannot register qemu-$name"
        note "binfmt_misc: qemu-$name registered"
    done
}

cmd_test() {
    local triple runner budget tls_budget flags row bin failed="" t t0=$SECONDS
    select_rows "$@"
    ensure_binfmt
    # The integration tests are one crate (tests/suite); unit tests run on the host only.
    # The router binaries are the plain flavour (no TLS): so are the tests run against them.
    local sel=(--test suite --no-default-features) args=() filters=()
    read -r -a args <<<"$TEST_ARGS"
    read -r -a filters <<<"${CROSS_TESTS:-}"
    args+=("${filters[@]}")
    for row in "${ROWS[@]}"; do
        read -r triple runner budget tls_budget flags <<<"$row"
        bin="$ROOT/$DIST/edgeftpd-$triple"
        [ -x "$bin" ] || die "$bin missing: run make cross first"
        command -v "$runner" >/dev/null 2>&1 || die "no $runner: run make cross-setup"
        "$runner" "$bin" --version >/dev/null || die "$runner $bin --version failed"
        note "testing $triple under $runner: cargo test --no-fail-fast ${sel[*]} -- ${args[*]}"
        t=$SECONDS
        if EDGEFTPD_BIN="$bin" EDGEFTPD_RUNNER="$runner" \
            cargo test --no-fail-fast "${sel[@]}" -- "${args[@]}"; then
            note "$triple: tests passed ($((SECONDS - t)) s)"
        else
            note "$triple: tests FAILED ($((SECONDS - t)) s)"
            failed="$failed $triple"
        fi
        # The TLS flavour: the FTPS tests (few: handshakes under qemu are slow).
        local tls_bin="$ROOT/$DIST/edgeftpd-tls-$triple"
        [ -x "$tls_bin" ] || die "$tls_bin missing: run make cross first"
        note "testing edgeftpd-tls-$triple under $runner: cargo test --test suite ftps::"
        t=$SECONDS
        if EDGEFTPD_BIN="$tls_bin" EDGEFTPD_RUNNER="$runner" \
            cargo test --no-fail-fast --test suite -- "${args[@]}" ftps::; then
            note "edgeftpd-tls-$triple: FTPS tests passed ($((SECONDS - t)) s)"
        else
            note "edgeftpd-tls-$triple: FTPS tests FAILED ($((SECONDS - t)) s)"
            failed="$failed tls-$triple"
        fi
    done
    note "cross tests done in $((SECONDS - t0)) s"
    [ -z "$failed" ] || die "tests failed for:$failed"
}

cmd_bloat() {
    need_tools
    local triple runner budget tls_budget flags row
    select_rows "$@"
    for row in "${ROWS[@]}"; do
        read -r triple runner budget tls_budget flags <<<"$row"
        note "building $triple unstripped (in $TARGET_DIR-bloat) to see what costs the most"
        # BLOAT_FLAVOUR=tls: the -tls binary's.
        local features=(--no-default-features)
        [ "${BLOAT_FLAVOUR:-plain}" = tls ] && features=(--features tls)
        CARGO_PROFILE_RELEASE_STRIP=false TARGET_DIR="$TARGET_DIR-bloat" \
            zigbuild Cargo.toml "$triple" "$flags" --bin edgeftpd "${features[@]}"
        echo "=== $triple"
        python3 cross/bloat.py "$(dirname "$(objcopy_path)")" \
            "$TARGET_DIR-bloat/$triple/release/edgeftpd" "${BLOAT_TOP:-30}"
    done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
setup) cmd_setup ;;
build) cmd_build "$@" ;;
size) cmd_size "$@" ;;
panic-check) cmd_panic_check "$@" ;;
test) cmd_test "$@" ;;
bloat) cmd_bloat "$@" ;;
binfmt) ensure_binfmt ;;
*) die "usage: cross/build.sh setup | build | size | panic-check | test | bloat [TRIPLE...] | binfmt" ;;
esac
