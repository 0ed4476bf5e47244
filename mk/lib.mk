# libvmm itself, built twice: host-native (unit tests, fuzzing) and for the
# aarch64 target (freestanding, -mgeneral-regs-only: DESIGN sections 2 and 3).

LIB_SRCS := $(sort $(shell find src -name '*.c'))
LIB_INCLUDES := -Iinclude -Isrc -Ihyp/include

HOST_CC ?= gcc
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter $(LIB_INCLUDES) -fno-omit-frame-pointer

TARGET_CC ?= aarch64-linux-gnu-gcc
TARGET_AR ?= aarch64-linux-gnu-ar
PICOLIBC_DIR := /usr/lib/picolibc/aarch64-linux-gnu
TARGET_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -ffreestanding -nostdlib \
    -mgeneral-regs-only -fno-pic -fno-stack-protector -mcpu=cortex-a57 \
    -isystem $(PICOLIBC_DIR)/include $(LIB_INCLUDES) -I$(BUILD)/target-libfdt/include

HOST_LIB := $(BUILD)/host/libvmm.a
TARGET_LIB := $(BUILD)/aarch64/libvmm.a
HOST_LIB_OBJS := $(patsubst %.c,$(BUILD)/host/%.o,$(LIB_SRCS))
TARGET_LIB_OBJS := $(patsubst %.c,$(BUILD)/aarch64/%.o,$(LIB_SRCS))

# Debian's arm64 libfdt, unpacked from its .deb (it cannot be co-installed
# with the amd64 one: DESIGN section 7).
TARGET_LIBFDT := $(BUILD)/target-libfdt/lib/libfdt.a
$(TARGET_LIBFDT):
	tools/fetch-target-libfdt.sh $(BUILD)/target-libfdt

$(BUILD)/host/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/aarch64/%.o: %.c | $(TARGET_LIBFDT)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) -MMD -MP -c $< -o $@

$(HOST_LIB): $(HOST_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(TARGET_LIB): $(TARGET_LIB_OBJS)
	@rm -f $@
	$(TARGET_AR) rcs $@ $^

-include $(HOST_LIB_OBJS:.o=.d) $(TARGET_LIB_OBJS:.o=.d)
