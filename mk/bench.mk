# Benchmarks (bench/README.md). Included by the top-level Makefile.
#
#   make bench [BENCH_RUNS=N]   every figure as a table, compared with bench/accepted.json
#   make bench-accept           the same, then record the figures as the accepted ones
#   make bench-guard            exit-path instruction counts (deterministic under -icount)
#                               against 2x the accepted ones; fails above; for `make test`

BENCH_RUNS ?= 5
BENCH_PY := /usr/bin/python3 bench/bench.py --build $(BUILD)

.PHONY: bench bench-accept bench-guard

# The bench guests include bench_common.h, which mk/testguests.mk does not know about.
$(patsubst tests/guests/%.c,$(TESTGUEST_DIR)/%.elf,$(wildcard tests/guests/bench_*.c)): tests/guests/bench_common.h

bench:
	$(MAKE) deps
	$(BENCH_PY) --runs $(BENCH_RUNS)

bench-accept:
	$(MAKE) deps
	$(BENCH_PY) --runs $(BENCH_RUNS) --accept

bench-guard:
	$(BENCH_PY) --guard
