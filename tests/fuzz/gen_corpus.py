#!/usr/bin/env python3
"""Write the seed corpora in tests/fuzz/corpus/<harness>/ (checked in; rerun after changing a
harness's input format). Each seed is a small, meaningful input in the byte format that
harness's LLVMFuzzerTestOneInput reads (see the comments at the top of each harness):
the distributor accesses Linux's GICv2 driver makes at boot, a PSCI SMP bring-up, a valid
Image + DTB + initrd, real device trees, ... Inputs that made a harness fail are kept next
to them as regress-<what> files (copied from the finding). Standard library only."""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# ---- flattened device trees (Devicetree Specification v0.4, chapter 5) ----


class Fdt:
    def __init__(self):
        self.struct = b""
        self.strings = b""
        self.names = {}

    def begin(self, name):
        raw = name.encode() + b"\0"
        self.struct += struct.pack(">I", 1) + raw + b"\0" * (-len(raw) % 4)
        return self

    def end(self):
        self.struct += struct.pack(">I", 2)
        return self

    def prop(self, name, value):
        if name not in self.names:
            self.names[name] = len(self.strings)
            self.strings += name.encode() + b"\0"
        self.struct += struct.pack(">III", 3, len(value), self.names[name])
        self.struct += value + b"\0" * (-len(value) % 4)
        return self

    def blob(self, version=17, last_comp=16):
        body = self.struct + struct.pack(">I", 9)
        rsv = 40
        off_struct = rsv + 16
        off_strings = off_struct + len(body)
        total = off_strings + len(self.strings)
        total += -total % 8
        hdr = struct.pack(
            ">IIIIIIIIII", 0xD00DFEED, total, off_struct, off_strings, rsv, version, last_comp, 0, len(self.strings), len(body)
        )
        out = hdr + b"\0" * 16 + body + self.strings
        return out + b"\0" * (total - len(out))


def be32(*vals):
    return b"".join(struct.pack(">I", v) for v in vals)


def cstr(s):
    return s.encode() + b"\0"


def dtb_small(chosen=True, bootargs=True, initrd=False):
    t = Fdt().begin("").prop("#address-cells", be32(2)).prop("#size-cells", be32(2))
    t.begin("memory@40000000").prop("device_type", cstr("memory")).prop("reg", be32(0, 0x40000000, 0, 0x100000)).end()
    if chosen:
        t.begin("chosen")
        if bootargs:
            t.prop("bootargs", cstr("console=ttyAMA0 earlycon"))
        if initrd:
            t.prop("linux,initrd-start", be32(0x48000000)).prop("linux,initrd-end", be32(0x48100000))
        t.end()
    return t.end().blob()


def dtb_virt():
    """A guest tree shaped like the ones the project generates for QEMU virt (GICv2, 2 vCPUs)."""
    t = Fdt().begin("").prop("compatible", cstr("linux,dummy-virt")).prop("#address-cells", be32(2))
    t.prop("#size-cells", be32(2)).prop("interrupt-parent", be32(1))
    t.begin("psci").prop("compatible", cstr("arm,psci-1.0") + cstr("arm,psci-0.2")).prop("method", cstr("smc")).end()
    t.begin("cpus").prop("#address-cells", be32(1)).prop("#size-cells", be32(0))
    for i in range(2):
        t.begin("cpu@%d" % i).prop("device_type", cstr("cpu")).prop("compatible", cstr("arm,cortex-a57"))
        t.prop("reg", be32(i)).prop("enable-method", cstr("psci")).end()
    t.end()
    t.begin("memory@40000000").prop("device_type", cstr("memory")).prop("reg", be32(0, 0x40000000, 0, 0x8000000)).end()
    t.begin("intc@8000000").prop("compatible", cstr("arm,cortex-a15-gic")).prop("#interrupt-cells", be32(3))
    t.prop("interrupt-controller", b"").prop("reg", be32(0, 0x8000000, 0, 0x10000, 0, 0x8010000, 0, 0x10000))
    t.prop("phandle", be32(1)).end()
    t.begin("timer").prop("compatible", cstr("arm,armv8-timer"))
    t.prop("interrupts", be32(1, 13, 0xF04, 1, 14, 0xF04, 1, 11, 0xF04, 1, 10, 0xF04)).end()
    t.begin("pl011@9000000").prop("compatible", cstr("arm,pl011") + cstr("arm,primecell"))
    t.prop("reg", be32(0, 0x9000000, 0, 0x1000)).prop("interrupts", be32(0, 1, 4)).end()
    t.begin("chosen").prop("bootargs", cstr("console=ttyAMA0 earlycon=pl011,0x9000000 rdinit=/init"))
    t.prop("stdout-path", cstr("/pl011@9000000")).end()
    return t.end().blob()


# ---- fuzz_dtb_chosen: mode, start, initrd size, extra, tree ----


def dtb_chosen_seeds():
    s = {}
    # mode 0x04: start = 0x48000000 + u16, size = u16
    s["set-initrd-with-bootargs"] = u8(0x04) + u16(0) + u16(0x1000) + u16(0) + dtb_small()
    s["remove-old-initrd"] = u8(0x00) + u16(0) + u16(0) + dtb_small(initrd=True)
    s["no-chosen-node"] = u8(0x04) + u16(0x100) + u16(0x2000) + u16(0x40) + dtb_small(chosen=False)
    s["replace-32bit-initrd"] = u8(0x04) + u16(0) + u16(0x800) + u16(0) + dtb_small(initrd=True)
    # mode 0x4c: start = u64, size = u64: the range ends exactly at 2^64 (must be refused, not wrap)
    s["range-wraps"] = u8(0x4C) + u64(0xFFFFFFFFFFFF0000) + u64(0x10000) + u16(0) + dtb_small()
    s["virt-guest-tree"] = u8(0x24) + u16(0) + u16(0x4000) + u16(0x10) + dtb_virt()
    # versions 16 and 15: refused (libfdt's v16 string bounds differ from the v17 copy's; below 16 it
    # cannot convert the tree, and its fdt_check_full() crashes on some)
    s["version16-tree"] = u8(0x04) + u16(0) + u16(0x1000) + u16(0) + fdt_version16()
    s["version15-tree"] = u8(0x04) + u16(0) + u16(0x1000) + u16(0) + fdt_version16(15, 2)
    return s


def fdt_version16(version=16, last_comp=16):
    t = Fdt().begin("").begin("chosen").prop("bootargs", cstr("quiet")).end().end()
    return t.blob(version=version, last_comp=last_comp)


# ---- fuzz_loader ----


def image(size, body_seed=0x11):
    """An Image body; the harness writes text_offset, image_size, flags and the magic from its own bytes."""
    b = bytearray((body_seed + i * 7) & 0xFF for i in range(size))
    b[0:4] = u32(0x14000010)  # b +0x40
    return bytes(b)


def loader_header(magic, text_sel, size_sel, flags_sel):
    return u8(1 if magic else 0) + u8(text_sel) + u8(size_sel) + u8(flags_sel)


def loader_seeds():
    s = {}
    initrd = bytes((0x5A ^ (i * 13)) & 0xFF for i in range(0x40))
    # linux, initrd; region 0; text_offset 0x80000 (sel 4), image_size 0x2000 (sel 4), flags 0xa (sel 12);
    # flags sel 4 = 0x2 (little-endian, 4 KiB pages)
    s["linux-dtb-initrd"] = (
        u8(0x02) + u8(0) + u16(0x100) + image(0x100) + loader_header(True, 4, 4, 12)
        + u8(0) + u8(0x03) + u8(0) + u32(0x20000)
        + u16(len(initrd)) + initrd + u8(0) + u32(0x30000) + u8(0)
    )
    # linux without initrd, image_size 0 (pre-3.17: text_offset 0x80000 assumed)
    s["linux-legacy-no-initrd"] = (
        u8(0x00) + u8(0) + u16(0x80) + image(0x80) + loader_header(True, 0, 0, 4)
        + u8(0) + u8(0x07) + u8(0) + u32(0x10000) + u8(0) + u32(0) + u8(0)
    )
    # raw binary at base + 0x80000, DTB given as raw bytes (mode 1: u16 size + bytes)
    tree = dtb_small()
    s["raw-dtb-bytes"] = (
        u8(0x01) + u8(0) + u16(0x60) + image(0x60, 0x33)
        + u8(0x01) + u16(len(tree)) + tree + u8(0) + u32(0x40000) + u8(0) + u32(0) + u8(0)
    )
    # the 64 KiB region at 0x40200000, kernel footprint touching the DTB (overlap must be refused)
    s["linux-footprint-overlap"] = (
        u8(0x00) + u8(1) + u16(0x100) + image(0x100) + loader_header(True, 0, 6, 4)
        + u8(0) + u8(0x01) + u8(1) + u32(0x4000) + u8(0) + u32(0) + u8(0)
    )
    # the region whose base is only 4 KiB aligned: an Image must be refused there
    s["linux-unaligned-region"] = (
        u8(0x00) + u8(2) + u16(0x100) + image(0x100) + loader_header(True, 0, 2, 4)
        + u8(0) + u8(0x01) + u8(2) + u32(0x2000) + u8(0) + u32(0) + u8(0)
    )
    return s


# ---- fuzz_fault_mmio ----

GICD_OP = 2  # structured VMFault


def esr_dabt(sas, srt, wnr=False, sse=False, sf=False, il=True):
    return (1 << 25 if il else 0) | (sas << 22) | (1 << 21 if sse else 0) | (srt << 16) | (1 << 15 if sf else 0) | (
        1 << 6 if wnr else 0
    )


def fm_vmfault(sel, off, esr, vcpu=0, pc_low=0x10):
    # mode 0x07: ISV forced, DFSC = translation L3, no FnV/CM/S1PTW; pc from a u16
    return u8(GICD_OP) + u8(0x07) + u8(vcpu) + u8(sel) + u16(off) + u32(esr) + u16(pc_low)


def fm_set_x(vcpu, n, value):
    word = 3 + n if n <= 8 else None
    return u8(0) + u8(vcpu) + u8(word) + u64(value)


def fault_mmio_seeds():
    s = {}
    hdr = u8(1) + u8(3)  # 2 vCPUs, 4 LRs
    s["gicd-typer-read"] = hdr + fm_vmfault(0, 0x004, esr_dabt(2, 1))
    s["dev-store-x5"] = hdr + fm_set_x(0, 5, 0x1122334455667788) + fm_vmfault(1, 0x10, esr_dabt(3, 5, wnr=True, sf=True))
    # device returns 0x80 for a sign-extending byte load (LDRSB Xt)
    s["dev-ldrsb"] = (
        hdr + u8(13) + u8(0) + u16(0) + u8(0) + u64(0x80) + u8(1) + fm_vmfault(1, 0x20, esr_dabt(0, 3, sse=True, sf=True))
    )
    s["top-of-address-space"] = hdr + fm_vmfault(3, 0xFFC, esr_dabt(3, 2))
    hvc = u8(6) + u8(0) + u8(10) + u8(0) + u64(0) + u64(0) * 11 + u8(0)  # PSCI_VERSION over HVC
    s["hvc-psci-version"] = hdr + hvc
    # SMC CPU_ON(vCPU 1, entry, context) with x0..x3 in the frame, then the VCPUFault EC 0x17
    smc = u8(7) + u8(0) + u8(18) + u8(1) + u8(1) + u64(0x40001000) + u64(0x1234) + u64(0) * 4
    s["smc-cpu-on"] = hdr + smc + u8(5) + u8(0) + u8(0) + u32(1 << 25)
    s["wfi"] = hdr + u8(5) + u8(1) + u8(0) + u32(1 << 25)
    # enable the distributor and the vtimer PPI through real stores, then VPPI and the guest's EOI
    vt = fm_set_x(0, 1, 1) + fm_vmfault(0, 0x000, esr_dabt(2, 1, wnr=True))
    vt += fm_set_x(0, 2, 1 << 27) + fm_vmfault(0, 0x100, esr_dabt(2, 2, wnr=True))
    vt += u8(9) + u8(0) + u8(0) + u8(12) + u8(0) + u8(0)
    s["vtimer-vppi-eoi"] = hdr + vt
    s["unknown-label"] = hdr + u8(11) + u64(42) + u8(1) + u8(0) + u64(0) + u8(0)
    s["user-exception"] = hdr + u8(10) + u8(0) + u64(0x1000) + u64(0) + u64(0x3C5) + u64(0) + u64(0) + u8(0)
    return s


# ---- fuzz_vgic_dist ----


def vd_access(off, value=0, write=False, width=4, vcpu=0):
    log2 = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    return u8(0) + u8(log2 | (4 if write else 0)) + u8(vcpu) + u16(off) + u32(value)


def vd_read(off, vcpu=0, width=4):
    return vd_access(off, 0, False, width, vcpu)


def vd_write(off, value, vcpu=0, width=4):
    return vd_access(off, value, True, width, vcpu)


def linux_gic_dist_init():
    """drivers/irqchip/irq-gic.c gic_dist_init() + gic_cpu_init() for SPIs 32..95."""
    b = vd_read(0x004) + vd_write(0x000, 0)
    b += b"".join(vd_write(0x800 + i, 0x01010101) for i in range(32, 96, 4))
    b += b"".join(vd_write(0xC00 + i // 4, 0) for i in range(32, 96, 16))
    b += b"".join(vd_write(0x400 + i, 0xA0A0A0A0) for i in range(32, 96, 4))
    b += b"".join(vd_write(0x380 + i // 8, 0xFFFFFFFF) + vd_write(0x180 + i // 8, 0xFFFFFFFF) for i in range(32, 96, 32))
    b += vd_write(0x000, 1)
    return b


def linux_gic_cpu_init(vcpu):
    b = b"".join(vd_read(0x800 + i, vcpu) for i in range(0, 32, 4))
    b += vd_write(0x380, 0xFFFFFFFF, vcpu) + vd_write(0x180, 0xFFFF0000, vcpu) + vd_write(0x100, 0x0000FFFF, vcpu)
    b += b"".join(vd_write(0x400 + i, 0xA0A0A0A0, vcpu) for i in range(0, 32, 4))
    return b


def vgic_dist_seeds():
    s = {}
    hdr = u8(1) + u8(3)  # 2 vCPUs, 4 LRs
    boot = linux_gic_dist_init() + linux_gic_cpu_init(0) + linux_gic_cpu_init(1)
    # timer PPI 27 on both vCPUs, SPI 33 (pass-through A) and 40
    boot += vd_write(0x100, 1 << 27, 0) + vd_write(0x100, 1 << 27, 1) + vd_write(0x104, (1 << 1) | (1 << 8))
    s["linux-boot"] = hdr + boot
    # ... then an IPI (SGIR: SGI 1 to vCPU 1), a timer tick, a pass-through IRQ, each taken and EOIed
    run = vd_write(0xF00, 0x00020001) + u8(6) + u8(1) + u8(0x40)
    run += u8(9) + u8(0) + u8(1) + u8(6) + u8(0) + u8(0x40)
    run += u8(10) + u8(1) + u8(6) + u8(0) + u8(0x40)
    s["linux-ipi-timer-passthrough"] = hdr + boot + run
    # byte accesses to IPRIORITYR/ITARGETSR, SPENDSGIR/CPENDSGIR, a 64-bit and a misaligned access
    odd = vd_write(0x41B, 0x80, width=1) + vd_write(0x821, 0x02, width=1) + vd_write(0xF21, 0x01, width=1)
    odd += vd_read(0xF21, width=1) + vd_write(0xF11, 0x01, width=1) + vd_read(0x004, width=8) + vd_read(0x006)
    odd += vd_read(0xFE8) + vd_read(0x008)
    s["byte-and-odd-widths"] = hdr + linux_gic_dist_init() + odd
    # the same access through fault_handle (mode bits 4-5 = 3), Xt = x4
    s["typer-via-fault"] = hdr + u8(0) + u8(0x32) + u8(0) + u16(0x004) + u32(0) + u8(4)
    # regression: a vIRQ active in an LR across a vGIC reset must not be loaded into a second LR
    stale = u8(0) + u8(1)  # 1 vCPU, 2 LRs
    stale += vd_write(0x000, 1) + vd_write(0x100, 1 << 23) + u8(4) + u8(0) + u8(10) + u8(6) + u8(0) + u8(0x80)
    stale += u8(11) + u8(0) + vd_write(0x000, 1) + vd_write(0x100, 1 << 23) + u8(4) + u8(0) + u8(10)
    s["regress-stale-active-lr"] = stale
    s.update(vgic_v3_seeds())
    return s


def v3_access(frame, off, value=0, write=False, width=4, vcpu=0):
    """frame: 0x80 = distributor, else redistributor index | 0x40 for its SGI_base frame."""
    log2 = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    mode = log2 | (4 if write else 0) | (8 if width == 8 else 0)
    return u8(0) + u8(mode) + u8(vcpu) + u16(off) + u8(frame) + (u64(value) if width == 8 else u32(value))


GICD = 0x80
SGI_BASE = 0x40


def sgi1r(targets, intid, vcpu=0, irm=False):
    # op 12, mode 0 (ICC_SGI1R_EL1, write), Xt = x1, structured value
    return u8(12) + u8(0) + u8(vcpu) + u8(1) + u8(1) + u16(targets) + u8((intid & 0xF) | (0x10 if irm else 0))


def vgic_v3_seeds():
    """drivers/irqchip/irq-gic-v3.c: gic_dist_init(), gic_cpu_init() on 2 vCPUs, then IPIs and a timer tick."""
    s = {}
    hdr = u8(0x81) + u8(3)  # GICv3, 2 vCPUs, 4 LRs
    b = v3_access(GICD, 0x0000, 0, True) + v3_access(GICD, 0x0000) + v3_access(GICD, 0x0004)
    for i in range(32, 96, 32):
        b += v3_access(GICD, 0x80 + i // 8, 0xFFFFFFFF, True)
        b += v3_access(GICD, 0x380 + i // 8, 0xFFFFFFFF, True) + v3_access(GICD, 0x180 + i // 8, 0xFFFFFFFF, True)
    b += b"".join(v3_access(GICD, 0x400 + i, 0xA0A0A0A0, True) for i in range(32, 96, 16))
    b += v3_access(GICD, 0x0000, 0x12, True)  # ARE | EnableGrp1
    b += b"".join(v3_access(GICD, 0x6000 + 8 * i, 0, True, 8) for i in (33, 40, 79))  # IROUTER -> vCPU 0
    for cpu in range(2):
        b += v3_access(cpu, 0x0014, 0, True, vcpu=cpu) + v3_access(cpu, 0x0014, vcpu=cpu)  # GICR_WAKER
        b += v3_access(cpu, 0x0008, 0, False, 8, vcpu=cpu)  # GICR_TYPER
        b += v3_access(cpu | SGI_BASE, 0x0080, 0xFFFFFFFF, True, vcpu=cpu)
        b += v3_access(cpu | SGI_BASE, 0x0380, 0xFFFFFFFF, True, vcpu=cpu)
        b += v3_access(cpu | SGI_BASE, 0x0180, 0xFFFF0000, True, vcpu=cpu)
        b += v3_access(cpu | SGI_BASE, 0x0100, 0x0000FFFF | (1 << 27), True, vcpu=cpu)
        b += b"".join(v3_access(cpu | SGI_BASE, 0x400 + i, 0xA0A0A0A0, True, vcpu=cpu) for i in range(0, 32, 8))
    b += v3_access(GICD, 0x104, (1 << 1) | (1 << 8), True)  # SPIs 33 and 40
    s["v3-linux-boot"] = hdr + b
    run = sgi1r(0x2, 1) + u8(6) + u8(1) + u8(0x40)  # IPI to vCPU 1, taken and EOIed
    run += sgi1r(0, 2, irm=True) + u8(6) + u8(1) + u8(0x40)  # broadcast to the others
    run += u8(9) + u8(0) + u8(1) + u8(6) + u8(0) + u8(0x40)  # timer tick on vCPU 0
    run += u8(12) + u8(3 | 0x40) + u8(0) + u8(2) + u8(0) + u64(0)  # MRS ICC_SRE_EL1
    run += v3_access(GICD, 0xFFE8) + v3_access(0, 0xFFE8) + v3_access(2, 0x0000)  # PIDR2s, one frame too far
    s["v3-ipi-timer-idregs"] = hdr + b + run
    return s


# ---- fuzz_psci ----


def psci_call(fid_sel, x1=(1, b""), x2=(1, b""), x3=(1, b""), caller=0, smc=True, pc=0x40):
    b = u8(caller) + u8(1 if smc else 0) + u8(fid_sel)
    for sel, extra in (x1, x2, x3):
        b += u8(sel) + extra
    return b + u64(0) * 4 + u16(pc)


def mpidr(aff0):
    return ((aff0 << 3) & 0xFF, b"")


ENTRY = (3, b"")


def arg64(v):
    return (4, u64(v))


def psci_seeds():
    s = {}
    hdr = u8(1)  # 2 vCPUs
    smp = psci_call(0) + psci_call(40, arg64(0x80000000))  # VERSION, FEATURES(SMCCC_VERSION)
    smp += psci_call(13, mpidr(1), ENTRY, arg64(0xABCD))  # CPU_ON (64-bit) vCPU 1
    smp += psci_call(17, mpidr(1))  # AFFINITY_INFO vCPU 1
    smp += psci_call(8, caller=1)  # CPU_OFF on vCPU 1
    smp += psci_call(17, mpidr(1))
    s["smp-bringup"] = hdr + smp
    s["system-reset"] = hdr + psci_call(13, mpidr(1), ENTRY, arg64(7)) + psci_call(36, smc=False) + psci_call(0)
    s["system-off"] = hdr + psci_call(32)
    s["smccc-probe-hvc"] = hdr + psci_call(64, smc=False) + psci_call(68, arg64(0x80008000), smc=False)
    bad = psci_call(13, mpidr(5), ENTRY) + psci_call(13, mpidr(1), arg64(0x1000)) + psci_call(13, mpidr(0), ENTRY)
    bad += psci_call(17, mpidr(1), arg64(1)) + psci_call(60) + psci_call(1, smc=False)  # 0x84000020, 0xc4000000
    s["bad-arguments"] = u8(3) + bad  # 4 vCPUs
    return s


# ---- fuzz_virtio_mmio: cfg, capacities, then operations (fuzz_virtio_mmio.c) ----

VIO_BLK, VIO_NET, VIO_CONSOLE = 0, 1, 2
ALL_FEATURES = 0xFFFFFFFFFFFFFFFF


def vm_access(off, value=0, write=False, width=4):
    """op 0: raw offset (selector 0xff), mode = log2(width) | write | 64-bit value."""
    log2 = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    mode = log2 | (4 if write else 0) | (8 if width == 8 else 0)
    return u8(0) + u8(0xFF) + u8(mode) + u16(off) + (u64(value) if width == 8 else u32(value))


def vm_read(off, width=4):
    return vm_access(off, 0, False, width)


def vm_write(off, value, width=4):
    return vm_access(off, value, True, width)


def vm_queue(q, log2_size=4, ring_sels=(0, 0, 0)):
    """op_queue_setup operands: QueueSel q, QueueNum 2^log2_size, three ring placements, QueueReady 1."""
    return u8(q) + u8(log2_size) + b"".join(u8(r) for r in ring_sels)


def vm_handshake(queues, want=ALL_FEATURES, driver_ok=True):
    """op 5: reset, ACK, DRIVER, features (offered & want), FEATURES_OK, two queue set-ups, DRIVER_OK."""
    ctl = 0x01 | 0x08 | (0 if driver_ok else 0x10)
    return u8(5) + u8(ctl) + u64(want) + b"".join(queues)


def virtio_mmio_seeds():
    s = {}
    caps = u8(0x66)
    both = [vm_queue(0), vm_queue(1)]
    cfg_reads = b"".join(vm_read(0x100 + o, w) for o, w in ((0, 4), (4, 4), (0, 8), (0x14, 4), (0x22, 2), (0x3C, 1)))
    s["blk-bringup-config"] = u8(VIO_BLK) + caps + vm_handshake(both) + cfg_reads + vm_write(0x50, 0) + vm_read(0x60)
    net = vm_handshake(both) + b"".join(vm_read(0x100 + i, 1) for i in range(6))
    net += vm_read(0x106, 2) + vm_read(0x10A, 2) + vm_read(0x0FC) + vm_write(0x064, 3) + vm_write(0x070, 0)
    s["net-bringup-mac-status-reset"] = u8(VIO_NET | 0x08) + caps + net
    # class 1, 9, 16: queue writes after DRIVER_OK, QueueNotify out of range, QueueSel out of range
    late = vm_write(0x030, 0) + vm_write(0x038, 2) + vm_write(0x080, 0x1000) + vm_write(0x044, 0)
    late += vm_write(0x050, 5) + vm_write(0x050, 0xFFFFFFFF) + vm_write(0x030, 7) + vm_read(0x034) + vm_write(0x044, 1)
    s["console-late-queue-writes"] = u8(VIO_CONSOLE) + caps + vm_handshake(both) + late
    s["no-backend"] = u8(VIO_BLK | 0x80) + caps + vm_read(0x008) + vm_write(0x070, 1) + vm_read(0x070) + vm_read(0x100)
    # class 14: odd widths on registers and config space, an access running past the window
    odd = vm_read(0x070, 1) + vm_write(0x070, 1, 2) + vm_read(0x000, 8) + vm_read(0x002) + vm_read(0x101, 2)
    odd += vm_read(0x13C, 4) + vm_read(0x100, 8) + vm_write(0x100, 0xFF, 1) + vm_read(0x1FC, 8) + vm_read(0x1FE, 4)
    s["odd-widths"] = u8(VIO_BLK) + caps + odd
    # rings across the end of RAM, misaligned, outside RAM; QueueNum not a power of two; QueueSel 5
    bad = u8(6) + u8(0x00) + u8(3) + u8(3) + u16(0x10) + u8(0) + u8(0)
    bad += u8(6) + u8(0x01) + u8(3) + u8(4) + u8(1) + u8(5) + u16(0x800) + u8(6) + u16(0)
    bad += u8(6) + u8(0x00) + u8(0x80) + u32(3) + u8(0) + u8(0) + u8(0)
    bad += u8(6) + u8(0x80) + u32(5) + u8(4) + u8(0) + u8(0) + u8(0)
    s["bad-queue-setup"] = u8(VIO_NET) + caps + vm_handshake([], driver_ok=False) + bad
    # the guest makes a buffer available in RAM (avail idx 1, head 0) and notifies; then guest_restart's reset hook
    poke = u8(7) + u16(0x1002) + u64(1) + u8(10) + u8(0)
    s["notify-then-reset-hook"] = u8(VIO_CONSOLE) + caps + vm_handshake(both) + poke + u8(9) + u8(1) + u8(11)
    return s


# ---- fuzz_virtio_queue: cfg, capacities, features, queue sizes, then operations (fuzz_virtio_queue.c) ----


def vq_blk_chain(type_sel, sector=0, data=(), notify=True, indirect=False, split=False, status=True, queue=0):
    """op 3 (chain) for virtio-blk: header, data segments of 512 << k bytes, status byte."""
    ctl = queue | (2 if indirect else 0) | (0x20 if notify else 0)
    rq = (type_sel & 7) | (0x08 if split else 0) | (len(data) << 4) | (0 if status else 0x40)
    b = u8(3) + u8(ctl) + u8(rq) + u8((sector & 0x3F) << 2)
    if type_sel in (4, 5):  # DISCARD, WRITE_ZEROES: one range (sector taken from the header, 8 sectors)
        b += u8(1) + u8(8) + u8(0)
    for k in data:
        b += u8(1) + u8(k)
    return b


def vq_blk_answer(holds):
    """op 7 (backend): answer held requests by position with their own length and status OK; then signal."""
    b = u8(7) + u8(len(holds))
    for h in holds:
        b += u8(0) + u8(h)
    return b + u8(1)


def vq_desc(idx, len_sel, addr_sel, f, extra=b"", queue=0):
    """op 0: descriptor idx of a queue; len_sel/addr_sel are pick_len/pick_addr operand bytes."""
    return u8(0) + u8(queue) + u8(idx) + len_sel + addr_sel + u8(f) + extra


def vq_take_irq():
    return u8(9) + u8(1)


def vq_net_tx(frame_len, hdr_flags=None):
    ctl = 1 | 0x20 | (0x10 if hdr_flags is not None else 0)
    b = u8(3) + u8(ctl)
    if hdr_flags is not None:
        b += u8(hdr_flags) + u8(0)
    return b + u8(1) + u16(frame_len - 14)


def vq_rx_buffers(sizes_in_8, indirect=False):
    """op 3 on queue 0 for net/console: writable buffers of 1 + 8 * k bytes, notified."""
    ctl = (2 if indirect else 0) | 0x20 | ((len(sizes_in_8) - 1) << 6)
    return u8(3) + u8(ctl) + b"".join(u8(1) + u8(k) for k in sizes_in_8)


def vq_console_tx(sizes_in_8):
    ctl = 1 | 0x20 | ((len(sizes_in_8) - 1) << 6)
    return u8(3) + u8(ctl) + b"".join(u8(1) + u8(k) for k in sizes_in_8)


def virtio_queue_seeds():
    s = {}
    blk_hdr = u8(VIO_BLK) + u8(0x66) + u8(0x03) + u8(0x44)  # EVENT_IDX + INDIRECT, queue of 16
    io = vq_blk_chain(1, 2, data=(0,)) + vq_blk_answer([0]) + vq_take_irq()
    io += vq_blk_chain(0, 2, data=(1,), indirect=True) + vq_blk_answer([0]) + vq_take_irq()
    io += vq_blk_chain(2) + vq_blk_chain(3, data=(0,), split=True) + vq_blk_answer([0])
    io += vq_blk_chain(4, 3) + vq_blk_chain(5, 4) + vq_blk_answer([0, 0]) + vq_take_irq()
    s["blk-io-every-type"] = blk_hdr + io
    # requests in flight across a device reset (Status 0, then a new bring-up): the answers are stale
    stale = vq_blk_chain(0, 1, data=(3, 3)) + vq_blk_chain(2) + u8(12) + u8(0)
    stale += vq_blk_answer([0, 0]) + vq_blk_chain(0, 5, data=(0,)) + vq_blk_answer([0])
    s["blk-reset-in-flight"] = blk_hdr + stale
    # descriptors the guest gets wrong: across the end of RAM, wrapping, zero length looping on itself
    bad = vq_desc(0, u8(4) + u8(16), u8(5) + u8(16), 0x01)  # 16 bytes ending at the end of RAM, NEXT
    bad += vq_desc(1, u8(4) + u8(0x30), u8(6) + u8(0x20), 0x03)  # addr + len wraps, WRITE|NEXT
    bad += u8(2) + u8(0) + u8(0) + u8(6) + u8(0)  # head 0 published and notified
    bad += vq_desc(2, u8(0x0F), u8(0), 0x41, u16(2))  # zero length, NEXT -> itself
    bad += u8(12) + u8(0) + u8(2) + u8(0) + u8(2) + u8(6) + u8(0)  # reset, bring-up, head 2, notify
    s["blk-bad-descriptors"] = blk_hdr + bad
    net_hdr = u8(VIO_NET | 0x08) + u8(0x66) + u8(0x0F) + u8(0x66)  # link up, MRG_RXBUF, queues of 64
    net = vq_net_tx(60) + vq_net_tx(1514) + vq_net_tx(100, hdr_flags=1)
    net += u8(7) + u8(2) + u8(0) + u8(0) + u8(0) + u8(0) + u8(1)  # the backend returns two TX buffers
    net += vq_rx_buffers([200]) + vq_rx_buffers([4, 4, 4], indirect=True)
    net += u8(7) + u8(2) + u8(1) + u8(0) + u8(1) + u8(1) + u8(0) + u8(2) + u8(1) + vq_take_irq()
    s["net-tx-rx-mrg"] = net_hdr + net
    # the backend returns buffers it does not hold and frames of impossible lengths
    bogus = u8(7) + u8(3) + u8(2) + u32(0x10000) + u16(60) + u8(3) + u32(0x12345) + u16(60)
    bogus += u8(1) + u8(0) + u8(4) + u8(1) + vq_rx_buffers([200]) + u8(7) + u8(1) + u8(1) + u8(0) + u8(6) + u16(0xFFFF)
    bogus += u8(1)
    s["net-backend-bogus"] = net_hdr + bogus
    # MRG_RXBUF gives back every chain of a frame that does not fit after the driver overran its ring of 4
    # (test_regress_virtio_unpop.c): the next frame must find avail->idx too far ahead
    def rx_frame(n):
        return u8(7) + u8(1) + u8(1) + u8(0) + u8(6) + u16(n) + u8(1)

    mrg = u8(VIO_NET | 0x08) + u8(0x66) + u8(0x0C) + u8(0x22)
    mrg += vq_rx_buffers([200]) + vq_rx_buffers([200]) + rx_frame(100)
    mrg += b"".join(vq_rx_buffers([2]) for _ in range(4)) + rx_frame(1000) + rx_frame(20)
    s["net-mrg-overrun-after-giving-back"] = mrg
    con_hdr = u8(VIO_CONSOLE) + u8(0x44) + u8(0x01) + u8(0x44)
    con = vq_console_tx([2, 1]) + u8(7) + u8(0) + u8(1) + vq_rx_buffers([1]) + u8(7) + u8(40) + u8(1)
    con += vq_take_irq() + vq_rx_buffers([0, 0]) + u8(7) + u8(0) + u8(1)
    s["console-tx-rx"] = con_hdr + con
    # the backend moves a ring index somewhere impossible, then plays fair again
    s["console-corrupt-ring"] = con_hdr + vq_console_tx([4]) + u8(11) + u8(1) + u8(5) + u32(0x80000000)
    return s


HARNESSES = {
    "dtb_chosen": dtb_chosen_seeds,
    "loader": loader_seeds,
    "fault_mmio": fault_mmio_seeds,
    "vgic_dist": vgic_dist_seeds,
    "psci": psci_seeds,
    "virtio_mmio": virtio_mmio_seeds,
    "virtio_queue": virtio_queue_seeds,
}


def main():
    for name, gen in HARNESSES.items():
        d = os.path.join(HERE, "corpus", name)
        os.makedirs(d, exist_ok=True)
        seeds = gen()  # inputs saved from fuzzer findings (regress-*) are kept as they are
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
        print("%-12s %2d seeds, %5d bytes" % (name, len(seeds), sum(len(v) for v in seeds.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
