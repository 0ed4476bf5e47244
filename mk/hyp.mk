# hyp: the EL2 kernel for QEMU virt, and the recipe that links a VMM program with it.
#
# Included by the top-level Makefile (which sets BUILD := build), or used on its own from the
# repository root to build and run hyp's bring-up test:
#
#   make -f mk/hyp.mk hyp-selftest          # build + run in QEMU, expect "hyp-selftest: PASS", exit 0
#   make -f mk/hyp.mk hyp-selftest GIC=3    # the same ELF on a GICv3 machine (any target below takes GIC=3)
#   make -f mk/hyp.mk hyp-selftest-fail     # induced failures (failed check, VMM crash, bad description,
#                                           # bad pointer, stack overflow) must end QEMU non-zero
#   make -f mk/hyp.mk hyp-selftest-idle     # idle guest: QEMU must not burn CPU while the guest WFIs
#   make -f mk/hyp.mk hyp-selftest-cost     # instructions per null HVC round trip (-icount shift=0)
#   make -f mk/hyp.mk hyp-selftest-backends # hyp's virtio backends (blk/net/console) against QEMU's devices
#   make -f mk/hyp.mk hyp-selftest-multi    # two VMM programs (PDs) side by side: isolation, one ending alone
#   make -f mk/hyp.mk hyp-selftest HYP_SELFTEST_APPEND=hyp.log=debug    # with hyp's log lines
#
# Linking a VMM program (from the including Makefile):
#
#   $(eval $(call hyp_vmm_program,<name>,<VMM objects>,<extra libraries>))
#
# defines $(BUILD)/<name>/<name>.elf = $(HYP_OBJS) + the program (below) + picolibc + libgcc,
# linked with $(HYP_LDSCRIPT): hyp with one PD. The VMM objects must define
# `const struct hyp_system hyp_system` (hyp/include/hyp/system.h) describing that one PD.
#
# Several VMM programs (PDs) in one image, each with its own init/notified/fault and its own copy
# of every library it uses (hyp/README.md, "Several PDs"):
#
#   $(eval $(call hyp_program,<prog>,<VMM objects>,<extra libraries>))   # one per PD
#   $(eval $(call hyp_image,<name>,<prog0> <prog1> ...))                 # PD 0 first
#
# hyp_program partially links hyp/program/program.c (the PD's libmicrokit variables and its
# .hyp_programs record), the VMM objects and the libraries (e.g. build/aarch64/libvmm.a $(HYP_LIBFDT))
# into $(BUILD)/<prog>/<prog>.prog.o and makes every symbol in it local; what stays undefined
# (seL4_*, microkit_*, memcpy, ...) is resolved against hyp and picolibc by hyp_image.
# Compile VMM and target-library code with $(TARGET_CC) $(HYP_CFLAGS); for libfdt's headers add
# -idirafter /usr/include (never -I/usr/include: it would shadow picolibc's headers).
# Run it with: $(HYP_QEMU) -kernel $(BUILD)/<name>/<name>.elf [-append "hyp.log=info"]
# (-nic none: QEMU's default PCI NIC needs efi-virtio.rom, which is not installed.)

HYP_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build
TARGET_CC ?= aarch64-linux-gnu-gcc
TARGET_OBJCOPY ?= aarch64-linux-gnu-objcopy
HYP_PICOLIBC := /usr/lib/picolibc/aarch64-linux-gnu
HYP_LIBGCC := $(shell $(TARGET_CC) -print-libgcc-file-name 2>/dev/null)

# -fno-tree-loop-distribute-patterns: GCC must not turn copy loops into memcpy calls (hyp/src/string.c).
HYP_CFLAGS := -ffreestanding -nostdlib -mgeneral-regs-only -fno-pic -fno-stack-protector -O2 -g \
	-Wall -Wextra -Werror -std=gnu11 -mcpu=cortex-a57 -fno-common -ffunction-sections -fdata-sections \
	-fno-tree-loop-distribute-patterns -Ihyp/include -Iinclude -isystem $(HYP_PICOLIBC)/include
HYP_ASFLAGS := -mcpu=cortex-a57 -g -D__ASSEMBLER__ -Ihyp/include
HYP_LDSCRIPT := hyp/hyp.ld
HYP_LDFLAGS := -nostdlib -static -no-pie -Wl,--gc-sections -Wl,-T,$(HYP_LDSCRIPT) -Wl,--build-id=none
HYP_LIBS := $(HYP_PICOLIBC)/lib/libc.a $(HYP_LIBGCC)

# Debian's arm64 static libfdt (DESIGN 7), extracted from the cached .deb, for VMM programs that need it.
HYP_LIBFDT_DEB = $(firstword $(wildcard $(HOME)/.cache/libvmm/debs/libfdt-dev_*_arm64.deb))
HYP_LIBFDT := $(BUILD)/libfdt-arm64/usr/lib/aarch64-linux-gnu/libfdt.a
$(HYP_LIBFDT):
	@test -n "$(HYP_LIBFDT_DEB)" || { echo "libfdt-dev arm64 .deb missing from ~/.cache/libvmm/debs"; exit 1; }
	rm -rf $(BUILD)/libfdt-arm64 && mkdir -p $(BUILD)/libfdt-arm64
	dpkg -x $(HYP_LIBFDT_DEB) $(BUILD)/libfdt-arm64

# GIC=3 runs the QEMU-based targets on a GICv3 machine (the same ELFs: hyp reads the version from the DTB).
GIC ?= 2
HYP_QEMU_M := qemu-system-aarch64 -M virt,virtualization=on,gic-version=$(GIC) -cpu cortex-a57 -m 1G \
	-nographic -semihosting -nic none
HYP_QEMU := $(HYP_QEMU_M) -smp 1

HYP_SRCS := $(wildcard hyp/src/*.c hyp/src/*.S)
HYP_OBJS := $(patsubst hyp/src/%,$(BUILD)/hyp/%.o,$(HYP_SRCS))
HYP_HEADERS := $(wildcard hyp/include/*.h hyp/include/*/*.h) include/libvmm/shq.h

$(BUILD)/hyp/%.c.o: hyp/src/%.c $(HYP_HEADERS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_CFLAGS) -c $< -o $@

$(BUILD)/hyp/%.S.o: hyp/src/%.S $(HYP_HEADERS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_ASFLAGS) -c $< -o $@

$(BUILD)/hyp/libhyp.a: $(HYP_OBJS)
	rm -f $@ && aarch64-linux-gnu-ar rcs $@ $^

TARGET_LD ?= aarch64-linux-gnu-ld
HYP_PROGRAM_OBJ := $(BUILD)/hyp/program/program.o
$(HYP_PROGRAM_OBJ): hyp/program/program.c $(HYP_HEADERS)
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_CFLAGS) -c $< -o $@

# $(call hyp_program,prog,vmm-objects,extra-libs): $(BUILD)/prog/prog.prog.o, every symbol local
# (-d allocates common symbols first, so none stays global).
define hyp_program
$(BUILD)/$(1)/$(1).prog.o: $(HYP_PROGRAM_OBJ) $(2) $(filter %.a,$(3))
	@mkdir -p $$(dir $$@)
	$(TARGET_LD) -r -d -o $$@.tmp $(HYP_PROGRAM_OBJ) $(2) --start-group $(3) --end-group
	$(TARGET_OBJCOPY) --wildcard --localize-symbol='*' $$@.tmp $$@
	@rm -f $$@.tmp
endef

# $(call hyp_image,name,progs): $(BUILD)/name/name.elf with the programs' PDs in this order.
define hyp_image
$(BUILD)/$(1)/$(1).elf: $(HYP_OBJS) $(foreach p,$(2),$(BUILD)/$(p)/$(p).prog.o) $(HYP_LDSCRIPT)
	@mkdir -p $$(dir $$@)
	$(TARGET_CC) $(HYP_LDFLAGS) -o $$@ $(HYP_OBJS) $(foreach p,$(2),$(BUILD)/$(p)/$(p).prog.o) $(HYP_LIBS)
endef

# $(call hyp_vmm_program,name,vmm-objects,extra-libs): hyp_program + hyp_image with that one program.
define hyp_vmm_program
$(call hyp_program,$(1),$(2),$(3))
$(call hyp_image,$(1),$(1))
endef

# ---------------------------------------------------------------------------------------------
# Bring-up test: hyp/selftest (tiny VMM + tiny EL1 guest, no libvmm).
HYP_ST := $(BUILD)/hyp-selftest
HYP_SELFTEST_APPEND ?=
HYP_GUEST_CFLAGS := -ffreestanding -nostdlib -mgeneral-regs-only -mstrict-align -fno-pic -fno-stack-protector -O2 \
	-g -Wall -Wextra -Werror -std=gnu11 -mcpu=cortex-a57

$(HYP_ST)/guest.elf: hyp/selftest/guest.S hyp/selftest/guest.c hyp/selftest/guest.ld hyp/selftest/selftest.h \
    hyp/selftest/guest_gic.h
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_GUEST_CFLAGS) -D__ASSEMBLER__ -c hyp/selftest/guest.S -o $(HYP_ST)/guest.S.o
	$(TARGET_CC) $(HYP_GUEST_CFLAGS) -c hyp/selftest/guest.c -o $(HYP_ST)/guest.c.o
	$(TARGET_CC) -nostdlib -static -no-pie -Wl,-T,hyp/selftest/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o $@ \
		$(HYP_ST)/guest.S.o $(HYP_ST)/guest.c.o

$(HYP_ST)/guest.bin: $(HYP_ST)/guest.elf
	$(TARGET_OBJCOPY) -O binary $< $@

# One VMM object per variant: 0 = pass, 1 = a check fails, 2 = the VMM crashes, 3 = idle guest,
# 4 = a bad system description, 5 = the VMM dereferences a bad pointer, 6 = null-HVC cost under -icount,
# 7 = the VMM overflows its stack.
define hyp_selftest_variant
$(HYP_ST)/vmm$(1).o: hyp/selftest/vmm.c hyp/selftest/selftest.h $(HYP_ST)/guest.bin $(HYP_HEADERS)
	$(TARGET_CC) $(HYP_CFLAGS) -DSELFTEST_VARIANT=$(1) -DGUEST_BIN='"$(HYP_ST)/guest.bin"' -c $$< -o $$@
$(eval $(call hyp_vmm_program,hyp-selftest$(1),$(HYP_ST)/vmm$(1).o $(HYP_ST)/vmm_fp.o,))
endef
$(foreach v,0 1 2 3 4 5 6 7,$(eval $(call hyp_selftest_variant,$(v))))
$(HYP_ST)/vmm_fp.o: hyp/selftest/vmm_fp.S
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_ASFLAGS) -c $< -o $@

.PHONY: hyp hyp-selftest hyp-selftest-fail hyp-selftest-idle hyp-selftest-cost hyp-format
hyp: $(HYP_OBJS)

hyp-selftest: $(BUILD)/hyp-selftest0/hyp-selftest0.elf
	@status=0; timeout 60 $(HYP_QEMU) -kernel $< -append "$(HYP_SELFTEST_APPEND)" > $(HYP_ST)/run0.log 2>&1 \
	  || status=$$?; cat $(HYP_ST)/run0.log; echo "qemu exit status: $$status"; \
	grep -q "hyp-selftest: PASS" $(HYP_ST)/run0.log && [ $$status -eq 0 ]

hyp-selftest-fail: $(foreach v,1 2 4 5 7,$(BUILD)/hyp-selftest$(v)/hyp-selftest$(v).elf)
	@for v in 1 2 4 5 7; do \
	  status=0; timeout 60 $(HYP_QEMU) -kernel $(BUILD)/hyp-selftest$$v/hyp-selftest$$v.elf \
	    > $(HYP_ST)/run$$v.log 2>&1 || status=$$?; \
	  tail -n 4 $(HYP_ST)/run$$v.log; echo "variant $$v: qemu exit status $$status"; \
	  if [ $$status -eq 0 ] || [ $$status -eq 124 ]; then echo "FAIL: variant $$v should exit non-zero"; exit 1; fi; \
	done; echo "hyp-selftest-fail: induced failures exit non-zero as required"

# The guest sleeps 3 s in WFI; QEMU's user+system CPU time must stay well below that.
hyp-selftest-idle: $(BUILD)/hyp-selftest3/hyp-selftest3.elf
	@status=0; /usr/bin/time -f "%U %S" -o $(HYP_ST)/idle.time timeout 60 $(HYP_QEMU) -kernel $< \
	  > $(HYP_ST)/run3.log 2>&1 || status=$$?; tail -n 3 $(HYP_ST)/run3.log; \
	cpu=$$(tail -n 1 $(HYP_ST)/idle.time | awk '{print $$1 + $$2}'); echo "qemu exit status $$status, CPU time $${cpu}s for a 3 s idle"; \
	[ $$status -eq 0 ] && awk -v c=$$cpu 'BEGIN { exit !(c < 1.5) }'

# Instructions per null HVC round trip (guest HVC -> fault() -> reply -> guest), deterministic under icount.
hyp-selftest-cost: $(BUILD)/hyp-selftest6/hyp-selftest6.elf
	@timeout 120 $(HYP_QEMU) -icount shift=0,sleep=off -kernel $< 2>&1 | grep -E "round trip|hyp-selftest"

# ---------------------------------------------------------------------------------------------
# SMP test: hyp/selftest/smp_* (a 4-vCPU guest on 4 CPUs and a tiny VMM with its own PSCI).
HYP_SMP := $(BUILD)/hyp-selftest-smp
HYP_SMP_APPEND ?=

$(HYP_SMP)/guest.elf: hyp/selftest/smp_guest.S hyp/selftest/smp_guest.c hyp/selftest/guest.ld \
    hyp/selftest/selftest.h hyp/selftest/guest_gic.h
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_GUEST_CFLAGS) -D__ASSEMBLER__ -c hyp/selftest/smp_guest.S -o $(HYP_SMP)/guest.S.o
	$(TARGET_CC) $(HYP_GUEST_CFLAGS) -c hyp/selftest/smp_guest.c -o $(HYP_SMP)/guest.c.o
	$(TARGET_CC) -nostdlib -static -no-pie -Wl,-T,hyp/selftest/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o $@ \
		$(HYP_SMP)/guest.S.o $(HYP_SMP)/guest.c.o

$(HYP_SMP)/guest.bin: $(HYP_SMP)/guest.elf
	$(TARGET_OBJCOPY) -O binary $< $@

$(HYP_SMP)/vmm.o: hyp/selftest/smp_vmm.c hyp/selftest/selftest.h $(HYP_SMP)/guest.bin $(HYP_HEADERS)
	$(TARGET_CC) $(HYP_CFLAGS) -DGUEST_BIN='"$(HYP_SMP)/guest.bin"' -c $< -o $@
$(eval $(call hyp_vmm_program,hyp-selftest-smp,$(HYP_SMP)/vmm.o,))

.PHONY: hyp-selftest-smp
hyp-selftest-smp: $(BUILD)/hyp-selftest-smp/hyp-selftest-smp.elf
	@status=0; timeout 120 $(HYP_QEMU_M) -smp 4 -kernel $< -append "$(HYP_SMP_APPEND)" > $(HYP_SMP)/run.log 2>&1 \
	  || status=$$?; cat $(HYP_SMP)/run.log; echo "qemu exit status: $$status"; \
	grep -q "hyp-selftest-smp: PASS" $(HYP_SMP)/run.log && [ $$status -eq 0 ]

# ---------------------------------------------------------------------------------------------
# Several-PD test: hyp/selftest/multi_* (two VMM programs, PD 0 and PD 1, in one image, one guest
# each, on CPUs 0 and 1), run by hyp/selftest/multi_run.py. hyp-selftest-multi<v>.elf = PD 0 +
# PD 1 of variant v: 0 PD 1's guest powers off, 1 PD 1's VMM crashes (bad pointer), 2 PD 1's VMM
# signals a channel it does not have. PD 0 must finish after PD 1 ended; QEMU exits 0 only in 0.
HYP_MULTI := $(BUILD)/hyp-selftest-multi
HYP_MULTI_APPEND ?=

$(HYP_MULTI)/guest.bin: hyp/selftest/multi_guest.S hyp/selftest/selftest.h
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(HYP_GUEST_CFLAGS) -D__ASSEMBLER__ -c $< -o $(HYP_MULTI)/guest.o
	$(TARGET_OBJCOPY) -O binary -j .text.entry $(HYP_MULTI)/guest.o $@

# $(call hyp_multi_pd,pd,variant): the VMM program multi-pd<pd>-v<variant>
define hyp_multi_pd
$(HYP_MULTI)/vmm-pd$(1)-v$(2).o: hyp/selftest/multi_vmm.c hyp/selftest/selftest.h $(HYP_MULTI)/guest.bin $(HYP_HEADERS)
	$(TARGET_CC) $(HYP_CFLAGS) -DMULTI_PD=$(1) -DMULTI_VARIANT=$(2) -DGUEST_BIN='"$(HYP_MULTI)/guest.bin"' -c $$< -o $$@
$(eval $(call hyp_program,multi-pd$(1)-v$(2),$(HYP_MULTI)/vmm-pd$(1)-v$(2).o,))
endef
$(eval $(call hyp_multi_pd,0,0))
$(foreach v,0 1 2,$(eval $(call hyp_multi_pd,1,$(v))))
$(foreach v,0 1 2,$(eval $(call hyp_image,hyp-selftest-multi$(v),multi-pd0-v0 multi-pd1-v$(v))))

.PHONY: hyp-selftest-multi
hyp-selftest-multi: $(foreach v,0 1 2,$(BUILD)/hyp-selftest-multi$(v)/hyp-selftest-multi$(v).elf)
	@/usr/bin/python3 hyp/selftest/multi_run.py --qemu "$(HYP_QEMU_M)" --work $(HYP_MULTI) \
	  --append "$(HYP_MULTI_APPEND)" $^

# ---------------------------------------------------------------------------------------------
# Backend test: hyp/selftest/backends*.c, a VMM with no guest that drives the shared-queue client side
# of <libvmm/shq.h> against hyp's drivers for QEMU's virtio-blk/net/console devices, run by
# hyp/selftest/backends_run.py (scratch disk images, user-net TFTP, console socket, image checks).
# Variants: 0 full test, 1 legacy devices (hyp must refuse them), 2 a bad backend description.
HYP_BE := $(BUILD)/hyp-selftest-backends
HYP_BE_SRCS := hyp/selftest/backends.c hyp/selftest/backends_blk.c hyp/selftest/backends_net.c
HYP_BACKENDS_APPEND ?= hyp.log=info

define hyp_backends_variant
$(HYP_BE)/v$(1)/%.o: hyp/selftest/%.c hyp/selftest/backends.h $(HYP_HEADERS)
	@mkdir -p $$(dir $$@)
	$(TARGET_CC) $(HYP_CFLAGS) -DBACKENDS_VARIANT=$(1) -c $$< -o $$@
$(eval $(call hyp_vmm_program,hyp-backends$(1),$(patsubst hyp/selftest/%.c,$(HYP_BE)/v$(1)/%.o,$(HYP_BE_SRCS)),))
endef
$(foreach v,0 1 2,$(eval $(call hyp_backends_variant,$(v))))

.PHONY: hyp-selftest-backends
hyp-selftest-backends: $(foreach v,0 1 2,$(BUILD)/hyp-backends$(v)/hyp-backends$(v).elf)
	/usr/bin/python3 hyp/selftest/backends_run.py --work $(HYP_BE) --qemu "$(HYP_QEMU)" \
	  --append "$(HYP_BACKENDS_APPEND)" --elf $^

hyp-format:
	clang-format -i $(wildcard hyp/src/*.c hyp/include/*.h hyp/include/hyp/*.h hyp/program/*.c hyp/selftest/*.c hyp/selftest/*.h)

# Run on its own (make -f mk/hyp.mk), the default goal is the selftest; included, leave the includer's goal alone.
ifeq ($(firstword $(MAKEFILE_LIST)),mk/hyp.mk)
.DEFAULT_GOAL := hyp-selftest
else
.DEFAULT_GOAL := $(HYP_SAVED_DEFAULT_GOAL)
endif
