# The emulated boards (included by the top Makefile); see board/README.md.
#
#   make board            kernels, busybox and initramfs for every board of board/boards,
#                         from Debian's packages (cached in board/cache/), with dist/'s
#                         binaries: run make cross first
#   make board-test       boots each board and drives it from the host (board/test.py)
#   make board-powercut   cuts the power POWERCUT_CUTS times per filesystem (ext4, vfat,
#                         exfat, ntfs through ntfs-3g) on POWERCUT_BOARD while clients
#                         upload, and checks every 226;
#                         POWERCUT_SERVER=vsftpd or pure-ftpd: the same against a peer
#   make board-diskfail   a USB disk that fails under a transfer, per DISKFAIL_FS
#   make board-commitcost what a 226 costs per file system (wall, CPU); not in CI
#   make board-bench      edgeftpd beside Debian's vsftpd and pure-ftpd on BENCH_BOARDS,
#                         medians of BENCH_ROUNDS rounds (board/bench.py; about 30 minutes
#                         a board); not in CI
#
# Variables: BOARDS (names; default all), POWERCUT_BOARD (armv7), POWERCUT_CUTS (50),
# POWERCUT_FS and DISKFAIL_FS (ext4 vfat exfat ntfs; also ext4fc: ext4 with fast commits,
# which power cuts leave unrecoverable, see README "USB disks"), POWERCUT_SEED, POWERCUT_SERVER
# (edgeftpd), BENCH_BOARDS (armv7 mipsel), BENCH_ROUNDS (3), BENCH_ICOUNT (none: CPU in the
# host's time; 3: in instructions, see board/README.md).

BOARDS         ?=
POWERCUT_BOARD ?= armv7
POWERCUT_CUTS  ?= 50
POWERCUT_FS    ?= ext4 vfat exfat ntfs
DISKFAIL_FS    ?= ext4 vfat exfat ntfs
POWERCUT_SEED  ?=
POWERCUT_SERVER ?= edgeftpd
BENCH_BOARDS   ?= armv7 mipsel
BENCH_ROUNDS   ?= 3
BENCH_ICOUNT   ?=

.PHONY: board board-test board-powercut board-diskfail board-commitcost board-tools board-peers board-bench

board: deps
	BOARDS="$(BOARDS)" bash board/build.sh

board-test: board
	python3 board/test.py $(BOARDS)

board-powercut: board $(if $(filter-out edgeftpd,$(POWERCUT_SERVER)),board-peers) \
    $(if $(filter ntfs,$(POWERCUT_FS)),board-tools)
	@set -e; for fs in $(POWERCUT_FS); do \
	  python3 board/powercut.py --board $(POWERCUT_BOARD) --fs $$fs --cuts $(POWERCUT_CUTS) \
	    --server $(POWERCUT_SERVER) $(if $(POWERCUT_SEED),--seed $(POWERCUT_SEED)); \
	done

# A USB disk that fails under a transfer, on each of DISKFAIL_FS (board/diskfail.py).
board-diskfail: board $(if $(filter ntfs,$(DISKFAIL_FS)),board-tools)
	@set -e; for fs in $(DISKFAIL_FS); do \
	  python3 board/diskfail.py --board $(POWERCUT_BOARD) --fs $$fs; \
	done

# What a 226 costs per file system (board/commitcost.py); not in CI.
board-commitcost: board $(if $(filter ntfs,$(DISKFAIL_FS)),board-tools)
	python3 board/commitcost.py --board $(POWERCUT_BOARD) --fs $(DISKFAIL_FS)

# ntfs-3g for the boards' NTFS disks (Debian's package of each board's architecture).
board-tools: board
	bash board/build.sh tools $(POWERCUT_BOARD)

# The peers of board-bench and of board-powercut with POWERCUT_SERVER (Debian's packages).
board-peers: board
	bash board/build.sh peers $(BENCH_BOARDS) $(POWERCUT_BOARD)

board-bench: board-peers
	python3 board/bench.py --boards $(BENCH_BOARDS) --rounds $(BENCH_ROUNDS) \
		$(if $(BENCH_ICOUNT),--icount $(BENCH_ICOUNT))
