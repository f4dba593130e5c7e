# Cross builds for the routers (included by the top Makefile). The work is done by
# cross/build.sh; the targets, their qemu runners and size budgets are in cross/targets.
#
#   make cross-setup   install what is missing: nightly + rust-src, zig + cargo-zigbuild, qemu
#   make cross         build dist/edgeftpd-<triple> for every target (static, stripped)
#   make size          print each binary's size; fails if one is over its budget
#   make cross-test    panic=unwind check, then `cargo test` against each binary under qemu
#   make cross-bloat   what costs the most in each binary (sections, crates, functions)
#   make cross-profile where a router binary's own instructions go for a listing or small
#                      transfers, per function (cross/profile.py, qemu-user's log; not in CI)
#
# Variables: CROSS_TARGETS (triples; default all), CROSS_TESTS (test name filters,
# such as "transfers:: paths::"; default empty = every test), CROSS_TEST_ARGS (default --test-threads=4),
# CROSS_TOOLCHAIN (default nightly); for cross-profile PROFILE_TARGET (a triple, default
# mipsel-unknown-linux-musl), PROFILE_WORK (mlsd, list or small), PROFILE_N (2000),
# PROFILE_FLAVOUR (tls or plain).

CROSS_TARGETS   ?=
CROSS_TESTS     ?=
CROSS_TEST_ARGS ?= --test-threads=4
CROSS_TOOLCHAIN ?= nightly
CROSS_ENV = CROSS_TARGETS="$(CROSS_TARGETS)" CROSS_TESTS="$(CROSS_TESTS)" \
	CROSS_TEST_ARGS="$(CROSS_TEST_ARGS)" CROSS_TOOLCHAIN="$(CROSS_TOOLCHAIN)"

PROFILE_TARGET  ?= mipsel-unknown-linux-musl
PROFILE_WORK    ?= mlsd
PROFILE_N       ?= 2000
PROFILE_FLAVOUR ?= tls

.PHONY: cross cross-setup size cross-test cross-panic-check cross-bloat cross-profile

cross-setup:
	$(CROSS_ENV) bash cross/build.sh setup

cross:
	$(CROSS_ENV) bash cross/build.sh build

size:
	@$(CROSS_ENV) bash cross/build.sh size

cross-panic-check:
	$(CROSS_ENV) bash cross/build.sh panic-check

cross-test: cross-panic-check
	$(CROSS_ENV) bash cross/build.sh test

cross-bloat:
	$(CROSS_ENV) bash cross/build.sh bloat

cross-profile:
	BLOAT_FLAVOUR=$(PROFILE_FLAVOUR) BLOAT_TOP=0 $(CROSS_ENV) bash cross/build.sh bloat $(PROFILE_TARGET) >/dev/null
	python3 cross/profile.py target/cross-bloat/$(PROFILE_TARGET)/release/edgeftpd \
	  --work $(PROFILE_WORK) -n $(PROFILE_N)

# Packages (cross/package.py): OpenWrt .ipk and .apk per flavour and OpenWrt architecture, Debian
# .deb for armhf, arm64 and amd64, into dist/packages.
#   make package        build them (builds the binaries first)
#   make package-test   check them as opkg and dpkg see them; dpkg -i the amd64 one here
#   make openwrt-test OPENWRT_SYSROOT=DIR   the procd init script under OpenWrt's own procd
#                       (PID 1 of a namespace), ubusd, logd, rc.common and uci: the host
#                       build, the armv7 -tls and mipsel plain .ipk through opkg, the same
#                       two .apk through apk-tools 3; then luci-app-edgeftpd in headless
#                       chromium against LuCI, rpcd and uhttpd (tests/openwrt/luci_test.py)
#                       (DIR: see tests/openwrt/procd_test.py; not in CI: nothing here may
#                       fetch or build OpenWrt's code)
.PHONY: package package-test openwrt-test luci-screenshots
package: cross release
	python3 cross/package.py

package-test: package
	python3 tests/package_test.py

openwrt-test: build package
	@test -n "$(OPENWRT_SYSROOT)" || { echo "openwrt-test: set OPENWRT_SYSROOT (see tests/openwrt/procd_test.py)"; exit 2; }
	bash cross/build.sh binfmt
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/procd_test.py target/debug/edgeftpd
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/procd_test.py --ipk \
	  dist/packages/openwrt/edgeftpd-tls_$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)-r1_arm_cortex-a7_neon-vfpv4.ipk
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/procd_test.py --ipk \
	  dist/packages/openwrt/edgeftpd_$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)-r1_mipsel_24kc.ipk
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/procd_test.py --apk \
	  dist/packages/openwrt-apk/arm_cortex-a7_neon-vfpv4/edgeftpd-tls-$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)-r1.apk
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/procd_test.py --apk \
	  dist/packages/openwrt-apk/mipsel_24kc/edgeftpd-$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)-r1.apk
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/luci_test.py
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/luci_test.py --apk

# luci_test.py's screenshots of the LuCI pages, into docs/ (the README shows them).
luci-screenshots: build
	@test -n "$(OPENWRT_SYSROOT)" || { echo "luci-screenshots: set OPENWRT_SYSROOT (see tests/openwrt/luci_test.py)"; exit 2; }
	OPENWRT_SYSROOT="$(OPENWRT_SYSROOT)" python3 tests/openwrt/luci_test.py docs
