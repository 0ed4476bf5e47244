# The main job (examples/linux): the VMM program linked with hyp, libvmm,
# Debian's arm64 libfdt and the guest images (mk/guest.mk).
#
#   make image [OUT=path] [KERNEL=...] [INITRD=...] [CMDLINE=...]
#              [GUESTS=2 [KERNEL1=...] [INITRD1=...] [CMDLINE1=...]]
#       link the ELF (and copy it to OUT if given)
#   make run [GUESTS=2]  the same, then boot it in QEMU (interactive on a
#              terminal, smoke check and power-off otherwise)
#
# GUESTS=2: two Linux guests on one machine, each with its own VMM program
# (hyp/README.md, "Several PDs"): PD 0 is the VMM above (PL011, disk, network,
# virtio console), PD 1 a second copy of examples/linux/vmm.c built with
# system_console.c (no PL011; its console is a virtio console, its hvc0,
# on QEMU's second virtconsole). Both use the same kernel and initrd unless
# KERNEL1= / INITRD1= give the second its own (INITRD1= empty: none); SMP=n
# gives each guest n vCPUs (QEMU gets 2n CPUs and 2 GiB).

LINUX_VMM := $(BUILD)/linux-vmm/linux-vmm.elf
LINUX_VMM_OBJDIR := $(BUILD)/linux-vmm/obj
LINUX_VMM_DEFS := -DGUEST_RAM_BASE=$(GUEST_RAM_BASE)ull -DGUEST_RAM_SIZE=$(GUEST_RAM_SIZE)ull \
    -DGUEST_DTB_ADDR=$(GUEST_DTB_ADDR)ull -DGUEST_INITRD_ADDR=$(GUEST_INITRD_ADDR)ull \
    -DGUEST_GIC_VERSION=$(GUEST_GIC) -DGUEST_NUM_VCPUS=$(GUEST_SMP)
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

# The second guest's VMM program (GUESTS=2) and the image with both.
LINUX_PAIR := $(BUILD)/linux-pair/linux-pair.elf
LINUX_VMM1_OBJDIR := $(BUILD)/linux-vmm1/obj
LINUX_VMM1_CFLAGS := $(LINUX_VMM_CFLAGS) -DGUEST_UART=0 -DGUEST_BLK_SLOT=-1 -DGUEST_NET_SLOT=-1 \
    -DGUEST_CONSOLE_SLOT=0 -DGUEST_PD_NAME='"vmm1"'
LINUX_VMM1_OBJS := $(patsubst %,$(LINUX_VMM1_OBJDIR)/%.o,vmm system_console platform_hyp images)

$(LINUX_VMM1_OBJDIR)/%.o: examples/linux/%.c examples/linux/platform.h $(HYP_HEADERS) \
    $(wildcard include/libvmm/*.h) mk/guest.mk mk/examples.mk $(GUEST_DTB_PARAMS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(LINUX_VMM1_CFLAGS) -c $< -o $@

LINUX_VMM1_IMAGE_DEFS := -DGUEST_KERNEL_PATH='"$(abspath $(GUEST1_KERNEL))"' \
    -DGUEST_DTB_PATH='"$(abspath $(GUEST1_DTB))"' $(if $(GUEST1_INITRD),-DGUEST_INITRD_PATH='"$(abspath $(GUEST1_INITRD))"')
$(LINUX_VMM1_OBJDIR)/images.o: examples/linux/images.S $(GUEST1_KERNEL) $(GUEST1_DTB) $(GUEST1_INITRD) \
    $(GUEST_CONFIG_STAMP) $(GUEST1_DTB_PARAMS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_ASFLAGS) $(LINUX_VMM1_IMAGE_DEFS) -c $< -o $@

$(eval $(call hyp_program,linux-vmm1,$(LINUX_VMM1_OBJS),$(TARGET_LIB) $(TARGET_LIBFDT)))
$(eval $(call hyp_image,linux-pair,linux-vmm linux-vmm1))

GUESTS ?= 1
ifeq ($(GUESTS),2)
RUN_ELF := $(LINUX_PAIR)
else ifeq ($(GUESTS),1)
RUN_ELF := $(LINUX_VMM)
else
$(error GUESTS must be 1 or 2)
endif

.PHONY: image run
image: $(RUN_ELF)
ifneq ($(OUT),)
	@mkdir -p $(dir $(OUT)) && cp $(RUN_ELF) $(OUT)
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
ifeq ($(GUESTS),2)
# Guest 1's console: the second virtconsole, on a Unix socket (tools/attach-console.py attaches to it).
RUN_GUEST1_CONSOLE ?= $(BUILD)/run/guest1.sock
RUN_PAIR_QEMU = --smp $$(( 2 * $(GUEST_SMP) )) --mem 2G --gic $(GUEST_GIC) $(RUN_DEVICES) \
    --console-socket $(RUN_GUEST1_CONSOLE) $(LINUX_PAIR)
run: $(DEPS_STAMP)
	$(MAKE) image GUESTS=2 $(RUN_DISK) \
	    $(if $(RUN_SMOKE),CMDLINE='$(CMDLINE) libvmm.smoke=1' CMDLINE1='$(CMDLINE1) libvmm.smoke=1')
	@mkdir -p $(dir $(RUN_GUEST1_CONSOLE)) && rm -f $(RUN_GUEST1_CONSOLE)
ifeq ($(RUN_SMOKE),1)
	@mkdir -p $(BUILD)/system-logs
	/usr/bin/python3 tools/attach-console.py --log $(BUILD)/system-logs/run-smoke-guest1.log \
	    $(RUN_GUEST1_CONSOLE) -- tools/run-qemu.sh --test $(RUN_PAIR_QEMU) \
	    > $(BUILD)/system-logs/run-smoke.log 2>&1 </dev/null; \
	    status=$$?; cat $(BUILD)/system-logs/run-smoke.log; echo "make run: QEMU exit status $$status"; \
	    [ $$status -eq 0 ] || { echo 'make run: QEMU did not exit 0' >&2; exit 1; }
	@grep -q 'LIBVMM-SMOKE: PASS' $(BUILD)/system-logs/run-smoke.log || \
	    { echo 'make run: guest 0 did not pass its smoke check' >&2; exit 1; }
	@grep -q 'LIBVMM-SMOKE: PASS' $(BUILD)/system-logs/run-smoke-guest1.log || \
	    { echo 'make run: guest 1 did not pass its smoke check' >&2; exit 1; }
	@echo 'make run: both guests passed their smoke check and powered off'
else
	@echo "make run: guest 0 is on this terminal; guest 1's console is the Unix socket $(RUN_GUEST1_CONSOLE):"
	@echo "    /usr/bin/python3 tools/attach-console.py $(RUN_GUEST1_CONSOLE)     (Ctrl-] leaves)"
	tools/run-qemu.sh --interactive $(RUN_PAIR_QEMU)
endif
else
run: $(DEPS_STAMP)
	$(MAKE) image $(RUN_DISK) $(if $(RUN_SMOKE),CMDLINE='$(CMDLINE) libvmm.smoke=1')
ifeq ($(RUN_SMOKE),1)
	@mkdir -p $(BUILD)/system-logs
	@set -o pipefail; tools/run-qemu.sh --test --smp $(GUEST_SMP) --gic $(GUEST_GIC) $(RUN_DEVICES) $(LINUX_VMM) \
	    </dev/null | \
	    tee $(BUILD)/system-logs/run-smoke.log
	@grep -q 'LIBVMM-SMOKE: PASS' $(BUILD)/system-logs/run-smoke.log || \
	    { echo 'make run: the guest smoke check did not pass' >&2; exit 1; }
else
	tools/run-qemu.sh --interactive --smp $(GUEST_SMP) --gic $(GUEST_GIC) $(RUN_DEVICES) $(LINUX_VMM)
endif
endif
