# Fuzzing with cargo-fuzz (nightly): `make fuzz` runs every target for FUZZ_SECONDS each,
# starting from the seeds in fuzz/corpus/<target>/. New inputs go to fuzz/target/corpus/
# (not the repository); crashes to fuzz/artifacts/<target>/. The regular tests replay
# fuzz/corpus/ on stable (tests/suite/fuzz_corpus.rs): add a crashing input there once fixed.

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= parse jail dns
FUZZ_CARGO   ?= cargo +nightly

.PHONY: fuzz fuzz-deps

fuzz-deps:
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz

fuzz: fuzz-deps
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_CARGO) fuzz run $$t fuzz/target/corpus/$$t fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	  rm -rf $${TMPDIR:-/tmp}/edgeftpd-fuzz-jail-*; \
	done
