# The emulated boards (included by the top Makefile); see board/README.md.
#
#   make board            kernels, busybox and initramfs for every board of board/boards,
#                         from Debian's packages (cached in board/cache/), with dist/'s
#                         binaries: run make cross first
#   make board-test       boots each board and drives it from the host (board/test.py)
#   make board-powercut   cuts the power POWERCUT_CUTS times per filesystem (ext4, vfat) on
#                         POWERCUT_BOARD while clients upload, and checks every 226
#
# Variables: BOARDS (names; default all), POWERCUT_BOARD (armv7), POWERCUT_CUTS (50),
# POWERCUT_FS (ext4 vfat), POWERCUT_SEED.

BOARDS         ?=
POWERCUT_BOARD ?= armv7
POWERCUT_CUTS  ?= 50
POWERCUT_FS    ?= ext4 vfat
POWERCUT_SEED  ?=

.PHONY: board board-test board-powercut

board: deps
	BOARDS="$(BOARDS)" bash board/build.sh

board-test: board
	python3 board/test.py $(BOARDS)

board-powercut: board
	@set -e; for fs in $(POWERCUT_FS); do \
	  python3 board/powercut.py --board $(POWERCUT_BOARD) --fs $$fs --cuts $(POWERCUT_CUTS) \
	    $(if $(POWERCUT_SEED),--seed $(POWERCUT_SEED)); \
	done
