# Benchmarks (bench/README.md). Included by the top-level Makefile.
#
#   make bench [BENCH_RUNS=N]   every figure as a table, compared with bench/accepted.json
#   make bench-accept           the same, then record the figures as the accepted ones
#   make bench-guard            exit-path instruction counts (deterministic under -icount)
#                               against 2x the accepted ones; fails above; for `make test`
#   make bench-io [BENCH_IO_RUNS=N]  the I/O figures alone (make bench includes them),
#                               compared with their accepted values
#   make bench-io-accept        the same, then record those figures (the others are kept)
#   make bench-soak [SOAK_REBOOTS=N]  reboot soak (tests/system/test_reboot_soak.py) with
#                               100 reboots: time per reboot and the final pool lines

BENCH_RUNS ?= 5
BENCH_IO_RUNS ?= 3
BENCH_PY := /usr/bin/python3 bench/bench.py --build $(BUILD)

.PHONY: bench bench-accept bench-guard bench-io bench-io-accept bench-io-initrd bench-soak

# The bench guests include bench_common.h, which mk/testguests.mk does not know about.
$(patsubst tests/guests/%.c,$(TESTGUEST_DIR)/%.elf,$(wildcard tests/guests/bench_*.c)): tests/guests/bench_common.h

bench:
	$(MAKE) deps
	$(BENCH_PY) --runs $(BENCH_RUNS) --io-runs $(BENCH_IO_RUNS)

bench-accept:
	$(MAKE) deps
	$(BENCH_PY) --runs $(BENCH_RUNS) --io-runs $(BENCH_IO_RUNS) --accept

bench-io:
	$(MAKE) deps
	$(BENCH_PY) --io-only --io-runs $(BENCH_IO_RUNS)

bench-io-accept:
	$(MAKE) deps
	$(BENCH_PY) --io-only --io-runs $(BENCH_IO_RUNS) --accept

bench-guard:
	$(BENCH_PY) --guard

# The guest side of the I/O figures: bench/tools/bench_io.c, a static arm64
# Linux program with no C library (raw system calls), appended to the default
# initrd as a second cpio archive (/usr/bin/bench-io; Linux unpacks
# concatenated archives, later files over earlier ones). The default guest
# images stay as they are.
BENCH_IO_TOOL := $(BUILD)/bench/tools/bench-io
BENCH_IO_INITRD := $(BUILD)/bench/io-initrd.cpio.gz
BENCH_IO_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib -static -fno-pie -no-pie \
    -fno-stack-protector -fno-tree-loop-distribute-patterns -Wl,--build-id=none -Wl,-z,max-page-size=4096

$(BENCH_IO_TOOL): bench/tools/bench_io.c mk/bench.mk
	@mkdir -p $(dir $@)
	aarch64-linux-gnu-gcc $(BENCH_IO_CFLAGS) -o $@ $<

bench-io-initrd: $(BENCH_IO_INITRD)
$(BENCH_IO_INITRD): $(GUEST_DEFAULT_INITRD) $(BENCH_IO_TOOL)
	@rm -rf $@.root && mkdir -p $@.root/usr/bin
	install -m 0755 $(BENCH_IO_TOOL) $@.root/usr/bin/bench-io
	@# The first archive is gzip'd: pad to 4 bytes before the next one.
	cp $(GUEST_DEFAULT_INITRD) $@.new
	truncate -s %4 $@.new
	(cd $@.root && find usr | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 >>$@.new
	@rm -rf $@.root
	mv $@.new $@

# The reboot soak of `make test` at length: the guest rebooted SOAK_REBOOTS times
# through PSCI SYSTEM_RESET, healthy after each, every pool of the VMM and hyp back
# at rest after each quiet reboot. Prints the time per reboot and the final pool lines.
SOAK_REBOOTS ?= 100

bench-soak:
	$(MAKE) deps
	LIBVMM_SOAK_REBOOTS=$(SOAK_REBOOTS) BUILD=$(BUILD) /usr/bin/python3 -m pytest -q -s -p no:cacheprovider \
	    tests/system/test_reboot_soak.py
