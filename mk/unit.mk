# Host-native unit tests (cmocka) against the recording fake Microkit.
# Every tests/unit/test_*.c is one test program.

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_SUPPORT := $(BUILD)/unit/fake_microkit.o
UNIT_CFLAGS := $(HOST_CFLAGS) -Itests/unit

$(BUILD)/unit/fake_microkit.o: tests/unit/fake_microkit.c tests/unit/fake_microkit.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -c $< -o $@

$(BUILD)/unit/test_%: tests/unit/test_%.c $(UNIT_SUPPORT) $(HOST_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) $< $(UNIT_SUPPORT) $(HOST_LIB) -lfdt -lcmocka -o $@

.PHONY: unit
unit: $(UNIT_BINS)
	@tools/run-unit-tests.sh $(UNIT_BINS)
