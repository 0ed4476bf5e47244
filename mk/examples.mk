# The main job (examples/linux): the VMM program linked with hyp, libvmm,
# Debian's arm64 libfdt and the guest images (mk/guest.mk).
#
#   make image [OUT=path] [KERNEL=...] [INITRD=...] [CMDLINE=...]
#       link the ELF (and copy it to OUT if given)
#   make run   the same, then boot it in QEMU (interactive on a terminal,
#              smoke check and power-off otherwise)

LINUX_VMM := $(BUILD)/linux-vmm/linux-vmm.elf
LINUX_VMM_OBJDIR := $(BUILD)/linux-vmm/obj
LINUX_VMM_DEFS := -DGUEST_RAM_BASE=$(GUEST_RAM_BASE)ull -DGUEST_RAM_SIZE=$(GUEST_RAM_SIZE)ull \
    -DGUEST_DTB_ADDR=$(GUEST_DTB_ADDR)ull -DGUEST_INITRD_ADDR=$(GUEST_INITRD_ADDR)ull \
    -DGUEST_GIC_VERSION=$(GUEST_GIC)
LINUX_VMM_CFLAGS := $(HYP_CFLAGS) -Iinclude $(LINUX_VMM_DEFS)
LINUX_VMM_OBJS := $(patsubst %,$(LINUX_VMM_OBJDIR)/%.o,vmm system platform_hyp images)

$(LINUX_VMM_OBJDIR)/%.o: examples/linux/%.c examples/linux/platform.h $(HYP_HEADERS) $(wildcard include/libvmm/*.h) \
    mk/guest.mk $(GUEST_DTB_PARAMS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(LINUX_VMM_CFLAGS) -c $< -o $@

# The images are .incbin'd: relink whenever one of them, or which ones, changes.
LINUX_VMM_IMAGE_DEFS := -DGUEST_KERNEL_PATH='"$(abspath $(GUEST_KERNEL))"' -DGUEST_DTB_PATH='"$(abspath $(GUEST_DTB))"' \
    $(if $(GUEST_INITRD),-DGUEST_INITRD_PATH='"$(abspath $(GUEST_INITRD))"')
$(LINUX_VMM_OBJDIR)/images.o: examples/linux/images.S $(GUEST_KERNEL) $(GUEST_DTB) $(GUEST_INITRD) $(GUEST_CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_ASFLAGS) $(LINUX_VMM_IMAGE_DEFS) -c $< -o $@

$(eval $(call hyp_vmm_program,linux-vmm,$(LINUX_VMM_OBJS),$(TARGET_LIB) $(TARGET_LIBFDT)))

.PHONY: image run
image: $(LINUX_VMM)
ifneq ($(OUT),)
	@mkdir -p $(dir $(OUT)) && cp $(LINUX_VMM) $(OUT)
endif

# The guest's devices under `make run`: a disk (an ext4 image made on the
# first run and kept), QEMU user networking (guest port 80 forwarded from
# RUN_HTTP_PORT on 127.0.0.1) and a virtio console whose host side is the
# Unix socket $(RUN_CONSOLE) (e.g. `socat - UNIX-CONNECT:$(RUN_CONSOLE)`).
RUN_DISK ?= $(BUILD)/run/disk.img
RUN_DISK_SIZE ?= 256M
RUN_CONSOLE ?= $(BUILD)/run/console.sock
RUN_HTTP_PORT ?= 8080
RUN_DEVICES = --disk $(RUN_DISK):libvmm-disk0 --hostfwd tcp:127.0.0.1:$(RUN_HTTP_PORT)-:80 \
    --console-socket $(RUN_CONSOLE)

$(RUN_DISK):
	@mkdir -p $(dir $@)
	truncate -s $(RUN_DISK_SIZE) $@.new && mkfs.ext4 -q -L libvmm $@.new && mv $@.new $@

# Interactive on a terminal; otherwise boot, smoke-check, power off.
RUN_SMOKE := $(shell [ -t 0 ] || echo 1)
run: $(DEPS_STAMP)
	$(MAKE) image $(RUN_DISK) $(if $(RUN_SMOKE),CMDLINE='$(CMDLINE) libvmm.smoke=1')
ifeq ($(RUN_SMOKE),1)
	@mkdir -p $(BUILD)/system-logs
	@set -o pipefail; tools/run-qemu.sh --test $(RUN_DEVICES) $(LINUX_VMM) </dev/null | \
	    tee $(BUILD)/system-logs/run-smoke.log
	@grep -q 'LIBVMM-SMOKE: PASS' $(BUILD)/system-logs/run-smoke.log || \
	    { echo 'make run: the guest smoke check did not pass' >&2; exit 1; }
else
	tools/run-qemu.sh --interactive $(RUN_DEVICES) $(LINUX_VMM)
endif
