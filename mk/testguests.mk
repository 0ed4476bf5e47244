# Bare-metal test guests (tests/guests/<name>.c): raw binaries linked at
# RAM base + 0x80000, booted as `KERNEL=$(BUILD)/guests/<name>.bin INITRD=`.
# Include from the top-level Makefile; `make testguests` builds them all.

TESTGUEST_NAMES := $(sort $(basename $(notdir $(wildcard tests/guests/*.c))))
TESTGUEST_DIR := $(BUILD)/guests
TESTGUEST_BINS := $(patsubst %,$(TESTGUEST_DIR)/%.bin,$(TESTGUEST_NAMES))

TESTGUEST_CC ?= aarch64-linux-gnu-gcc
TESTGUEST_OBJCOPY ?= aarch64-linux-gnu-objcopy
# MMU off: every access is Device memory, so no unaligned accesses
# (-mstrict-align) and no FP/SIMD (-mgeneral-regs-only).
TESTGUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdlib -nostartfiles \
    -mgeneral-regs-only -mstrict-align -mcpu=cortex-a57 -fno-pic -fno-pie -no-pie -fno-stack-protector \
    -Itests/guests/common
TESTGUEST_LDFLAGS := -Wl,-T,tests/guests/common/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments
TESTGUEST_COMMON := tests/guests/common/start.S tests/guests/common/guest.c tests/guests/common/smp.c \
    tests/guests/common/gic.c
TESTGUEST_DEPS := $(TESTGUEST_COMMON) $(wildcard tests/guests/common/*.h) tests/guests/common/guest.ld \
    $(wildcard tests/guests/*/*.c tests/guests/*/*.h)

.PHONY: testguests
# Keep the ELFs: they carry the symbols gdb needs.
.SECONDARY: $(patsubst %,$(TESTGUEST_DIR)/%.elf,$(TESTGUEST_NAMES))
testguests: $(TESTGUEST_BINS)

$(TESTGUEST_DIR)/%.elf: tests/guests/%.c $(TESTGUEST_DEPS)
	@mkdir -p $(dir $@)
	$(TESTGUEST_CC) $(TESTGUEST_CFLAGS) $(TESTGUEST_LDFLAGS) -o $@ $(TESTGUEST_COMMON) $<

$(TESTGUEST_DIR)/%.bin: $(TESTGUEST_DIR)/%.elf
	$(TESTGUEST_OBJCOPY) -O binary $< $@
