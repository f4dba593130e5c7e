# Fuzzing with cargo-fuzz (nightly): `make fuzz` runs every target for FUZZ_SECONDS each,
# starting from the seeds in fuzz/corpus/<target>/. New inputs go to fuzz/target/corpus/
# (not the repository); crashes to fuzz/artifacts/<target>/, and a crash fails the run.
# The regular tests replay fuzz/corpus/ on stable (tests/suite/fuzz_corpus.rs): a crash
# found is fixed with its input added there first. CI runs `make fuzz` (about a minute a
# target); the README records how long each target has run in all and what it found.
# `make fuzz-deps` installs what it needs: the nightly toolchain (as cross-setup does) and
# cargo-fuzz from crates.io.

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= parse jail dns
FUZZ_TOOLCHAIN ?= nightly
FUZZ_CARGO   ?= cargo +$(FUZZ_TOOLCHAIN)

.PHONY: fuzz fuzz-deps

fuzz-deps:
	@rustup toolchain list | grep -q "^$(FUZZ_TOOLCHAIN)" || \
	  rustup toolchain install $(FUZZ_TOOLCHAIN) --profile minimal
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

fuzz: fuzz-deps
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/corpus/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  if $(FUZZ_CARGO) fuzz run $$t fuzz/target/corpus/$$t fuzz/corpus/$$t -- \
	      -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 >fuzz/target/$$t.log 2>&1; then \
	    grep -E '^Done [0-9]+ runs|^stat::(number_of_executed_units|peak_rss_mb)' fuzz/target/$$t.log; \
	  else \
	    tail -40 fuzz/target/$$t.log; \
	    echo "fuzz: $$t failed (a crash is in fuzz/artifacts/$$t/; log fuzz/target/$$t.log)"; \
	    exit 1; \
	  fi; \
	  rm -rf $${TMPDIR:-/tmp}/edgeftpd-fuzz-jail-*; \
	done
