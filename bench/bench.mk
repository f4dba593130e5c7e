# bench/bench.mk — `make bench`: edgeftpd vs vsftpd vs pure-ftpd on loopback
# (figures, not tests). Included by the top Makefile. See bench/README.md.
#   make bench                  full run (~4 min on 2 cores)
#   make bench BENCH_QUICK=1    short run (fewer runs, 256 MiB file, 2 s session runs)
#   make bench BENCH_SERVERS="vsftpd pure-ftpd"   peers only (skips the edgeftpd build)
#   make bench-setup            only install the peers into bench/peers/
#   make soak SOAK_SECS=1800    an edgeftpd under mixed faulty traffic, then checks (bench/soak.py)
# Other knobs (environment or make variables): BENCH_RUNS, BENCH_BIG_RUNS,
# BENCH_BIG_MB, BENCH_SESSION_SECS, BENCH_CLIENTS, BENCH_IDLE_SESSIONS,
# BENCH_MEM_RUNS, BENCH_LIST_ENTRIES, BENCH_LIST_RUNS, BENCH_WORKLOADS,
# BENCH_PORT_BASE, BENCH_RUST_LOG, BENCH_EDGEFTPD_ARGS, EDGEFTPD_BIN,
# BENCH_VSFTPD_ISOLATE_NETWORK.

BENCH_SERVERS ?= edgeftpd vsftpd pure-ftpd
export BENCH_SERVERS

.PHONY: bench bench-setup bench-loadgen bench-clean

# deps: the clients (curl, lftp for the mirror workload, openssl for the certificate).
bench: deps bench-setup bench-loadgen
	@case " $(BENCH_SERVERS) " in *" edgeftpd "*) $(CARGO) build --release ;; esac
	python3 bench/run.py

bench-setup:
	bash bench/setup.sh

# The load generator is its own cargo project with its own target dir.
bench-loadgen:
	$(CARGO) build --release --quiet --manifest-path bench/loadgen/Cargo.toml --target-dir bench/target

bench-clean:
	rm -rf bench/target bench/out

# `make soak`: one edgeftpd under mixed, faulty traffic for SOAK_SECS (default 600), then
# checks that nothing was lost or leaked (bench/soak.py). Not part of `make test`.
SOAK_SECS ?= 600
export SOAK_SECS
.PHONY: soak
soak: deps bench-loadgen
	$(CARGO) build --release
	python3 bench/soak.py
