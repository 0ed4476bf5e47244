# The guest: Debian's arm64 kernel, a busybox initrd and a generated device
# tree (DESIGN section 7). Included by the top-level Makefile.
#
# Paths a VMM build uses:
#   GUEST_KERNEL  arm64 Image or raw binary      (KERNEL=path overrides)
#   GUEST_INITRD  gzip'd cpio, or empty for none (INITRD=path; INITRD= for none)
#   GUEST_DTB     the guest's device tree, built from CMDLINE, SMP and GIC
#   GUEST1_DTB    the device tree of the second guest of `make run GUESTS=2`:
#                 no PL011, one virtio console (hvc0), built from CMDLINE1, SMP, GIC
#   GUEST1_KERNEL, GUEST1_INITRD  the second guest's images (KERNEL1=, INITRD1=;
#                 by default the first guest's)
#   GUEST_CONFIG_STAMP  rewritten whenever the three paths change: depend on
#                 it too, so switching KERNEL= back to an older file relinks
# `make guest-images` (re)builds whatever of them is missing or stale;
# `make guest-info` prints the resolved values.

# Guest-physical memory map, shared by the VMM (-D...) and the device tree.
# RAM 0x40000000 + 512 MiB. The kernel Image goes to RAM base + text_offset
# (0 for Debian's; footprint image_size = 32 MiB + 64 KiB), a raw binary to
# RAM base + 0x80000. The initrd gets 60 MiB from 0x5c000000, the DTB the
# last 2 MiB; Linux reserves both before it places its 64 MiB CMA area
# (0x58000000 with this layout).
GUEST_RAM_BASE := 0x40000000
GUEST_RAM_SIZE := 0x20000000
GUEST_KERNEL_ADDR := 0x40000000
GUEST_RAW_ADDR := 0x40080000
GUEST_INITRD_ADDR := 0x5c000000
GUEST_INITRD_MAX := 0x03c00000
GUEST_DTB_ADDR := 0x5fe00000
GUEST_DTB_MAX := 0x00200000
# virtio-mmio transports the main job emulates (blk, net, console).
GUEST_VIRTIO := 3

GUEST_DEFAULT_CMDLINE := console=ttyAMA0 earlycon=pl011,0x09000000 nokaslr rdinit=/init
# The second guest's: its kernel console is hvc0 (messages from before the module loads are
# replayed when it registers) and its shell runs there (libvmm.console=hvc0, guest/init).
GUEST1_DEFAULT_CMDLINE := console=hvc0 nokaslr rdinit=/init libvmm.console=hvc0

SMP ?= 1
GIC ?= 2
CMDLINE ?= $(GUEST_DEFAULT_CMDLINE)
CMDLINE1 ?= $(GUEST1_DEFAULT_CMDLINE)

GUEST_DIR := $(BUILD)/guest
GUEST_DEFAULT_KERNEL := $(GUEST_DIR)/Image
GUEST_DEFAULT_INITRD := $(GUEST_DIR)/initrd.cpio.gz

KERNEL ?= $(GUEST_DEFAULT_KERNEL)
# INITRD= (set but empty) means no initrd; unset means the default one.
ifeq ($(origin INITRD),undefined)
INITRD := $(GUEST_DEFAULT_INITRD)
endif

GUEST_KERNEL := $(KERNEL)
GUEST_INITRD := $(INITRD)
KERNEL1 ?= $(KERNEL)
ifeq ($(origin INITRD1),undefined)
INITRD1 := $(INITRD)
endif
GUEST1_KERNEL := $(KERNEL1)
GUEST1_INITRD := $(INITRD1)
GUEST_DTB := $(GUEST_DIR)/guest.dtb
GUEST_DTS := $(GUEST_DIR)/guest.dts
GUEST_SMP := $(SMP)
GUEST_GIC := $(GIC)
GUEST_CMDLINE := $(CMDLINE)
GUEST1_CMDLINE := $(CMDLINE1)
GUEST1_DTB := $(GUEST_DIR)/guest1.dtb
GUEST1_DTS := $(GUEST_DIR)/guest1.dts
GUEST1_DTB_PARAMS := $(GUEST_DIR)/dtb1.params

GUEST_DTS_GEN := examples/linux/guest/gen-dts.sh
GUEST_DTB_PARAMS := $(GUEST_DIR)/dtb.params
GUEST_CONFIG_STAMP := $(GUEST_DIR)/config.stamp

# guest_write_if_changed(file, text): make-time, so a change of CMDLINE/SMP/
# GIC or of KERNEL/INITRD rebuilds what depends on the file, and nothing else.
guest_quote = '$(subst ','\'',$(1))'
guest_write_if_changed = $(shell mkdir -p $(dir $(1)) && printf '%s\n' $(call guest_quote,$(2)) >$(1).new && \
    { cmp -s $(1).new $(1) && rm -f $(1).new || mv -f $(1).new $(1); })

$(call guest_write_if_changed,$(GUEST_DTB_PARAMS),$(GUEST_RAM_BASE) $(GUEST_RAM_SIZE) $(GUEST_SMP) $(GUEST_GIC) $(GUEST_VIRTIO) $(GUEST_CMDLINE))
$(call guest_write_if_changed,$(GUEST_CONFIG_STAMP),$(abspath $(GUEST_KERNEL)) $(abspath $(GUEST_INITRD)) $(abspath $(GUEST_DTB)) $(abspath $(GUEST1_KERNEL)) $(abspath $(GUEST1_INITRD)))
$(call guest_write_if_changed,$(GUEST1_DTB_PARAMS),$(GUEST_RAM_BASE) $(GUEST_RAM_SIZE) $(GUEST_SMP) $(GUEST_GIC) $(GUEST1_CMDLINE))

.PHONY: guest-images guest-info guest-build-default

guest-images: $(GUEST_KERNEL) $(GUEST_INITRD) $(GUEST_DTB) $(sort $(GUEST1_KERNEL) $(GUEST1_INITRD))

# The Debian images: the script always runs (it notices a new package
# version), but rewrites the files only when their contents change.
$(GUEST_DEFAULT_KERNEL) $(GUEST_DEFAULT_INITRD): guest-build-default ;
guest-build-default:
	tools/build-guest-images.sh --out $(GUEST_DIR) >/dev/null

$(GUEST_DTB): $(GUEST_DTS_GEN) $(GUEST_DTB_PARAMS)
	@mkdir -p $(dir $@)
	$(GUEST_DTS_GEN) --ram-base $(GUEST_RAM_BASE) --ram-size $(GUEST_RAM_SIZE) --cpus $(GUEST_SMP) \
	    --gic $(GUEST_GIC) --virtio $(GUEST_VIRTIO) --bootargs $(call guest_quote,$(GUEST_CMDLINE)) >$(GUEST_DTS)
	dtc -q -I dts -O dtb -p 1024 -o $@ $(GUEST_DTS)
	@test $$(stat -c %s $@) -le $$(($(GUEST_DTB_MAX))) || { echo "guest: $@ is larger than 2 MiB" >&2; exit 1; }

$(GUEST1_DTB): $(GUEST_DTS_GEN) $(GUEST1_DTB_PARAMS)
	@mkdir -p $(dir $@)
	$(GUEST_DTS_GEN) --ram-base $(GUEST_RAM_BASE) --ram-size $(GUEST_RAM_SIZE) --cpus $(GUEST_SMP) \
	    --gic $(GUEST_GIC) --virtio 1 --no-uart --bootargs $(call guest_quote,$(GUEST1_CMDLINE)) >$(GUEST1_DTS)
	dtc -q -I dts -O dtb -p 1024 -o $@ $(GUEST1_DTS)

guest-info:
	@echo 'GUEST_KERNEL=$(GUEST_KERNEL)'
	@echo 'GUEST_INITRD=$(GUEST_INITRD)'
	@echo 'GUEST_DTB=$(GUEST_DTB)'
	@echo 'GUEST_CMDLINE=$(GUEST_CMDLINE)'
	@echo 'GUEST_DEFAULT_CMDLINE=$(GUEST_DEFAULT_CMDLINE)'
	@echo 'GUEST1_KERNEL=$(GUEST1_KERNEL)'
	@echo 'GUEST1_INITRD=$(GUEST1_INITRD)'
	@echo 'GUEST1_DTB=$(GUEST1_DTB)'
	@echo 'GUEST1_CMDLINE=$(GUEST1_CMDLINE)'
	@echo 'GUEST1_DEFAULT_CMDLINE=$(GUEST1_DEFAULT_CMDLINE)'
	@echo 'GUEST_SMP=$(GUEST_SMP)'
	@echo 'GUEST_GIC=$(GUEST_GIC)'
	@echo 'GUEST_RAM_BASE=$(GUEST_RAM_BASE)'
	@echo 'GUEST_RAM_SIZE=$(GUEST_RAM_SIZE)'
	@echo 'GUEST_DTB_ADDR=$(GUEST_DTB_ADDR)'
	@echo 'GUEST_INITRD_ADDR=$(GUEST_INITRD_ADDR)'
