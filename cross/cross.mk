# Cross builds for the routers (included by the top Makefile). The work is done by
# cross/build.sh; the targets, their qemu runners and size budgets are in cross/targets.
#
#   make cross-setup   install what is missing: nightly + rust-src, zig + cargo-zigbuild, qemu
#   make cross         build dist/edgeftpd-<triple> for every target (static, stripped)
#   make size          print each binary's size; fails if one is over its budget
#   make cross-test    panic=unwind check, then `cargo test` against each binary under qemu
#   make cross-bloat   what costs the most in each binary (sections, crates, functions)
#
# Variables: CROSS_TARGETS (triples; default all), CROSS_TESTS (test name filters,
# such as "transfers:: paths::"; default empty = every test), CROSS_TEST_ARGS (default --test-threads=4),
# CROSS_TOOLCHAIN (default nightly).

CROSS_TARGETS   ?=
CROSS_TESTS     ?=
CROSS_TEST_ARGS ?= --test-threads=4
CROSS_TOOLCHAIN ?= nightly
CROSS_ENV = CROSS_TARGETS="$(CROSS_TARGETS)" CROSS_TESTS="$(CROSS_TESTS)" \
	CROSS_TEST_ARGS="$(CROSS_TEST_ARGS)" CROSS_TOOLCHAIN="$(CROSS_TOOLCHAIN)"

.PHONY: cross cross-setup size cross-test cross-panic-check cross-bloat

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
