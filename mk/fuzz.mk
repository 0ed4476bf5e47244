# Fuzzing and sanitizer builds (issue 5 items 1, 2 and 6; DESIGN sections 6 and 7).
#
#   make fuzz [FUZZ_SECONDS=180] [FUZZ_ONLY="psci loader"]
#                      run every harness (tests/fuzz/fuzz_<name>.c) for FUZZ_SECONDS each,
#                      one at a time; print executions, coverage and findings per harness.
#                      Corpora grow in $(BUILD)/fuzz/corpus-<name> (seeded from
#                      tests/fuzz/corpus/<name>); crash files land in $(BUILD)/fuzz/findings-<name>.
#   make fuzz-smoke    each harness for FUZZ_SMOKE_SECONDS over its seed corpus (part of `make test`).
#   make sanitize      every unit test (tests/unit/test_*.c) built with clang ASan + UBSan; fails on
#                      any sanitizer report.
#
# Everything is built with clang (Debian clang + libclang-rt-14-dev) from the library sources,
# never from the gcc host objects: $(BUILD)/fuzz for the harnesses (library compiled with
# coverage instrumentation), $(BUILD)/sanitize for the unit tests.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 180
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_ONLY ?=

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter $(LIB_INCLUDES)

FUZZ_DIR := $(BUILD)/fuzz
FUZZ_HARNESS_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_HARNESS_SRCS))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
FUZZ_LIB := $(FUZZ_DIR)/libvmm.a
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS))
FUZZ_SUPPORT_OBJS := $(FUZZ_DIR)/obj/fake_microkit.o $(FUZZ_DIR)/obj/fz_support.o
FUZZ_CFLAGS := $(SAN_CFLAGS) -fsanitize=fuzzer-no-link $(SAN_FLAGS)
FUZZ_HARNESS_CFLAGS := $(FUZZ_CFLAGS) -Werror -Itests/unit -Itests/fuzz
# Every InjectIRQ of the library passes through fz_support.c, which counts refusals; log lines
# reach the fake console in one copy (fz_support.c).
FUZZ_LDFLAGS := -fsanitize=fuzzer $(SAN_FLAGS) -Wl,--wrap=seL4_ARM_VCPU_InjectIRQ -Wl,--wrap=microkit_dbg_puts

SAN_DIR := $(BUILD)/sanitize
SAN_LIB := $(SAN_DIR)/libvmm.a
SAN_LIB_OBJS := $(patsubst %.c,$(SAN_DIR)/obj/%.o,$(LIB_SRCS))
SAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(SAN_DIR)/%,$(sort $(wildcard tests/unit/test_*.c)))
SAN_TEST_CFLAGS := $(SAN_CFLAGS) $(SAN_FLAGS) -Itests/unit

.PHONY: fuzz fuzz-build fuzz-smoke sanitize sanitize-build

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# The logger and its printf keep ASan + UBSan but no coverage feedback: a register dump formats
# dozens of numbers, and tracing every digit made them most of the run time and a source of
# meaningless "features".
$(FUZZ_DIR)/obj/src/util/%.o: src/util/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/obj/fake_microkit.o: tests/unit/fake_microkit.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/unit -MMD -MP -c $< -o $@

$(FUZZ_DIR)/obj/fz_support.o: tests/fuzz/fz_support.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_HARNESS_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SUPPORT_OBJS) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_HARNESS_CFLAGS) -MMD -MP -MF $@.d $< $(FUZZ_SUPPORT_OBJS) $(FUZZ_LIB) $(FUZZ_LDFLAGS) -lfdt -o $@

# clang and libclang-rt come from tools/install-deps.sh (the top-level Makefile's stamp rule),
# installed before anything is compiled.
fuzz-build: | $(BUILD)/.deps-installed
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@tools/run-fuzz.sh fuzz $(FUZZ_SECONDS) $(FUZZ_DIR) $(if $(FUZZ_ONLY),$(FUZZ_ONLY),$(FUZZ_NAMES))

fuzz-smoke: fuzz-build
	@tools/run-fuzz.sh smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_DIR) $(FUZZ_NAMES)

$(SAN_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_CFLAGS) $(SAN_FLAGS) -MMD -MP -c $< -o $@

$(SAN_DIR)/obj/fake_microkit.o: tests/unit/fake_microkit.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SAN_TEST_CFLAGS) -MMD -MP -c $< -o $@

$(SAN_LIB): $(SAN_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(SAN_DIR)/test_%: tests/unit/test_%.c $(SAN_DIR)/obj/fake_microkit.o $(SAN_LIB) $(wildcard tests/unit/*.h)
	$(FUZZ_CC) $(SAN_TEST_CFLAGS) $< $(SAN_DIR)/obj/fake_microkit.o $(SAN_LIB) $(SAN_FLAGS) -lfdt -lcmocka -o $@

sanitize-build: | $(BUILD)/.deps-installed
	@$(MAKE) --no-print-directory $(SAN_UNIT_BINS)

sanitize: sanitize-build
	@tools/run-fuzz.sh sanitize 0 $(SAN_DIR) $(SAN_UNIT_BINS)

-include $(FUZZ_LIB_OBJS:.o=.d) $(SAN_LIB_OBJS:.o=.d) $(FUZZ_SUPPORT_OBJS:.o=.d) $(SAN_DIR)/obj/fake_microkit.d
-include $(FUZZ_BINS:=.d)
