/*
 * fault_handle() on arbitrary fault messages: syndrome decode + MMIO
 * dispatch, SMCCC/PSCI over both conduits, vGIC maintenance and VPPI events,
 * user exceptions and unknown labels, with arbitrary vCPU register contents
 * and vCPU ids (DESIGN section 6; attack classes 14, 17, 19).
 *
 * Input: byte 0 = vCPU count (1..8, bits 0-6) and GIC version (bit 7: v3),
 * byte 1 = LR count (1..16), then a sequence of operations (one opcode byte
 * each, operands following). Emulated regions: the vGIC's distributor (and
 * GICv3 redistributors), a test device, a 16-byte device right after it, and
 * a device ending at the top of the address space.
 *
 * Checked after every fault, besides ASan/UBSan: the fake kernel never saw a
 * failing libmicrokit call, every access a device handler receives lies
 * inside its region with a legal width and a value that fits, a store hands
 * the device Xt masked to the access width, and a completed load leaves
 * exactly the zero/sign-extended value in Xt and advances pc by the
 * instruction length (Arm ARM D17.2.40: SAS, SSE, SF, SRT, IL).
 */
#include <stdio.h>
#include <string.h>
#include <libvmm/fault.h>
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include <libvmm/virq.h>
#include "fz_support.h"

#define RAM_SIZE 0x10000
#define MAX_OPS 256

#define DEV_GPA 0x09000000ull
#define DEV_SIZE 0x1000ull
#define DEV2_GPA (DEV_GPA + DEV_SIZE) /* adjacent: an access running off DEV must not reach it */
#define DEV2_SIZE 0x10ull
#define TOP_GPA 0xfffffffffffff000ull /* ends at the top of the address space */
#define TOP_SIZE 0x1000ull

#define EC_DABT_LOWER 0x24u
#define EC_DABT_CUR 0x25u
#define EC_WFX 0x01u
#define EC_HVC 0x16u
#define EC_SMC 0x17u
#define EC_SYSREG 0x18u

static uint8_t *ram;

struct device {
    uint64_t base;
    uint64_t size;
    unsigned calls;
    struct mmio_access last;
    uint64_t read_value;
    bool fail;
};

static struct device dev_main = {.base = DEV_GPA, .size = DEV_SIZE};
static struct device dev_small = {.base = DEV2_GPA, .size = DEV2_SIZE};
static struct device dev_top = {.base = TOP_GPA, .size = TOP_SIZE};

static uint64_t width_mask(unsigned width)
{
    return width >= 8 ? ~0ull : ((1ull << (8 * width)) - 1);
}

static bool device_handler(size_t vcpu, struct mmio_access *a, void *cookie)
{
    struct device *d = cookie;
    FZ_CHECK(a->width == 1 || a->width == 2 || a->width == 4 || a->width == 8, "device got width %u", a->width);
    FZ_CHECK(a->gpa >= d->base && a->gpa - d->base == a->offset, "device got gpa 0x%llx offset 0x%llx",
             (unsigned long long)a->gpa, (unsigned long long)a->offset);
    FZ_CHECK(a->offset < d->size && d->size - a->offset >= a->width, "access [0x%llx, +%u) runs off a 0x%llx region",
             (unsigned long long)a->offset, a->width, (unsigned long long)d->size);
    FZ_CHECK(!a->is_write || (a->value & ~width_mask(a->width)) == 0, "store value 0x%llx wider than %u bytes",
             (unsigned long long)a->value, a->width);
    d->calls++;
    d->last = *a;
    if (!a->is_write) {
        a->value = d->read_value; /* deliberately wider than the access: the decoder must mask it */
    }
    return !d->fail;
}

static bool gic_v3;

/* An IPA aimed at something interesting most of the time. */
static uint64_t pick_addr(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    uint64_t off = fz_u16(in);
    switch (sel % 8) {
    case 0:
        return FZ_GICD_GPA + (gic_v3 ? off : (off & 0x1fff));
    case 7: /* GICv3 redistributors (RD_base or SGI_base frame of any vCPU, and past the last) */
        return FZ_GICR_GPA + (uint64_t)(sel >> 4) * 0x20000 + ((sel & 8) ? 0x10000 : 0) + off;
    case 1:
        return DEV_GPA + (off & 0x1fff);
    case 2:
        return DEV2_GPA + (off & 0x1f);
    case 3:
        return TOP_GPA + (off & 0xfff);
    case 4:
        return FZ_RAM_GPA + off;
    case 5:
        return 0 - (off & 0xff) - 1;
    default:
        return ((uint64_t)fz_u32(in) << 16) ^ off;
    }
}

/* A data-abort ESR; `mode` decides how much of it is forced sane. */
static uint32_t pick_dabt_esr(struct fz *in, uint8_t mode)
{
    uint32_t esr = fz_u32(in) & 0x03ffffffu; /* IL + ISS from the input */
    esr |= ((mode & 0x20) ? EC_DABT_CUR : EC_DABT_LOWER) << 26;
    if (mode & 1) {
        esr |= 1u << 24; /* ISV */
    }
    if (mode & 2) {
        esr = (esr & ~0x3fu) | 0x07; /* DFSC: translation fault, level 3 */
    }
    if (mode & 4) {
        esr &= ~((1u << 10) | (1u << 8) | (1u << 7)); /* no FnV, CM, S1PTW */
    }
    return esr;
}

static struct device *device_at(uint64_t addr)
{
    struct device *all[] = {&dev_main, &dev_small, &dev_top};
    for (size_t i = 0; i < 3; i++) {
        if (addr >= all[i]->base && addr - all[i]->base < all[i]->size) {
            return all[i];
        }
    }
    return NULL;
}

static uint64_t xreg(size_t vcpu, unsigned rt)
{
    return rt == 31 ? 0 : fz_get_ctx_word(vcpu, fz_ctx_word_of_x(rt));
}

/* Architectural result of a load (Arm ARM C6.2 LDR/LDRS*): the oracle, written independently of the library. */
static uint64_t expected_load(uint64_t value, unsigned width, bool sse, bool sf)
{
    uint64_t v = value & width_mask(width);
    if (sse && width < 8 && (v >> (8 * width - 1)) & 1) {
        v |= ~width_mask(width);
    }
    return sf ? v : (v & 0xffffffffull);
}

/* After a data abort that reached a device and completed: check what the guest observes. */
static void check_mmio_result(size_t vcpu, struct device *d, uint32_t esr, uint64_t pc, uint64_t reg_before,
                              bool resumed)
{
    unsigned width = 1u << ((esr >> 22) & 3);
    unsigned rt = (esr >> 16) & 0x1f;
    bool write = (esr >> 6) & 1;
    unsigned len = (esr & (1u << 25)) ? 4 : 2;
    FZ_CHECK(resumed, "a completed MMIO access did not resume the vCPU");
    FZ_CHECK(d->last.width == width && d->last.is_write == write, "device saw width %u write %d, ESR says %u %d",
             d->last.width, d->last.is_write, width, write);
    FZ_CHECK(fz_get_ctx_word(vcpu, 0) == pc + len, "pc 0x%llx after the access, expected 0x%llx",
             (unsigned long long)fz_get_ctx_word(vcpu, 0), (unsigned long long)(pc + len));
    if (write) {
        FZ_CHECK(d->last.value == (reg_before & width_mask(width)), "store of x%u gave the device 0x%llx", rt,
                 (unsigned long long)d->last.value);
        return;
    }
    if (rt != 31) {
        uint64_t want = expected_load(d->read_value, width, (esr >> 21) & 1, (esr >> 15) & 1);
        FZ_CHECK(xreg(vcpu, rt) == want, "load into x%u gave 0x%llx, expected 0x%llx (ESR 0x%08x)", rt,
                 (unsigned long long)xreg(vcpu, rt), (unsigned long long)want, esr);
    }
}

static void op_vmfault(struct fz *in, size_t n)
{
    uint8_t mode = fz_u8(in);
    size_t vcpu = fz_vcpu_id(in, n);
    uint64_t addr = pick_addr(in);
    uint32_t esr = pick_dabt_esr(in, mode);
    uint64_t pc = (mode & 0x40) ? fz_u64(in) : 0xffff800010000000ull + ((uint64_t)fz_u16(in) << 2);
    uint64_t mrs[4] = {pc, addr, (mode & 0x80) ? 1 : 0, esr};
    size_t count = (mode & 0x08) ? fz_u8(in) : 4;
    if (vcpu < n) {
        fz_set_ctx_word(vcpu, 0, pc);
    }
    struct device *d = device_at(addr);
    unsigned calls = d != NULL ? d->calls : 0;
    unsigned rt = (esr >> 16) & 0x1f;
    uint64_t reg_before = vcpu < n ? xreg(vcpu, rt) : 0;
    microkit_msginfo reply;
    bool resumed = fz_fault(vcpu, seL4_Fault_VMFault, count, mrs, 4, &reply);
    fz_check_kernel();
    if (d != NULL && d->calls != calls && !d->fail) {
        check_mmio_result(vcpu, d, esr, pc, reg_before, resumed);
    }
}

static void op_raw_fault(struct fz *in, size_t n, uint64_t label, size_t nmr)
{
    size_t vcpu = fz_vcpu_id(in, n);
    uint64_t mrs[seL4_UnknownSyscall_Length];
    for (size_t i = 0; i < nmr; i++) {
        mrs[i] = fz_u64(in);
    }
    size_t count = fz_bool(in) ? fz_u8(in) : nmr;
    microkit_msginfo reply;
    fz_fault(vcpu, label, count, mrs, nmr, &reply);
    fz_check_kernel();
}

/* VCPUFault: SMC (x0..x7 from the frame), WFx, trapped sysreg, or any HSR. */
static void op_vcpufault(struct fz *in, size_t n)
{
    uint8_t mode = fz_u8(in);
    size_t vcpu = fz_vcpu_id(in, n);
    uint32_t hsr = fz_u32(in);
    static const uint32_t ecs[] = {EC_SMC, EC_WFX, EC_SYSREG, EC_HVC};
    if (mode < 0xc0) {
        hsr = (hsr & 0x03ffffffu) | (ecs[mode % 4] << 26);
    }
    uint64_t mrs[1] = {hsr};
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VCPUFault, (mode & 0x20) ? 0 : 1, mrs, 1, &reply);
    fz_check_kernel();
}

/* x0 for an SMCCC call: mostly a real function id, so the PSCI and Arm-arch paths get exercised. */
static uint64_t pick_fid(struct fz *in)
{
    static const uint32_t fids[] = {
        0x80000000, 0x80000001, 0x80008000, 0x80007fff, 0x80003fff, 0x84000000, 0x84000001, 0xc4000001,
        0x84000002, 0x84000003, 0xc4000003, 0x84000004, 0xc4000004, 0x84000006, 0x84000008, 0x84000009,
        0x8400000a, 0x8400000e, 0x84000012, 0x86000000, 0x01000000, 0xbf00ff00,
    };
    uint8_t sel = fz_u8(in);
    if (sel < 2 * (sizeof(fids) / sizeof(fids[0]))) {
        uint64_t hi = (sel & 1) ? ((uint64_t)fz_u32(in) << 32) : 0;
        return hi | fids[sel / 2];
    }
    return fz_u64(in);
}

static void op_hvc(struct fz *in, size_t n)
{
    size_t vcpu = fz_vcpu_id(in, n);
    uint64_t mrs[seL4_UnknownSyscall_Length];
    mrs[0] = pick_fid(in);
    for (size_t i = 1; i < seL4_UnknownSyscall_Length; i++) {
        mrs[i] = (i == 1 && fz_bool(in)) ? (0x80000000ull | fz_u8(in)) : fz_u64(in);
    }
    size_t count = fz_bool(in) ? fz_u8(in) : seL4_UnknownSyscall_Length;
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_UnknownSyscall, count, mrs, seL4_UnknownSyscall_Length, &reply);
    fz_check_kernel();
}

static void op_smc_regs(struct fz *in, size_t n)
{
    size_t vcpu = fz_u8(in) % n;
    fz_set_ctx_word(vcpu, 3, pick_fid(in));
    for (unsigned x = 1; x < 8; x++) {
        fz_set_ctx_word(vcpu, 3 + x, (x == 1 && fz_bool(in)) ? (0x80000000ull | fz_u8(in)) : fz_u64(in));
    }
}

static void op_maintenance(struct fz *in, size_t n)
{
    size_t vcpu = fz_vcpu_id(in, n);
    uint8_t sel = fz_u8(in);
    uint64_t idx = sel < 0x80 ? (uint64_t)(sel % 20) : (sel < 0xc0 ? ~0ull : fz_u64(in));
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VGICMaintenance, 1, &idx, 1, &reply);
    fz_check_kernel();
}

static void op_vppi(struct fz *in, size_t n)
{
    size_t vcpu = fz_vcpu_id(in, n);
    uint8_t sel = fz_u8(in);
    uint64_t irq = sel < 0x80 ? 27 : (sel < 0xc0 ? sel % 40 : fz_u64(in));
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VPPIEvent, 1, &irq, 1, &reply);
    fz_check_kernel();
}

/* The guest side of a list register: take (IAR) or finish (EOI, then the kernel's maintenance fault). */
static void op_guest_lr(struct fz *in, size_t n)
{
    size_t vcpu = fz_u8(in) % n;
    uint8_t sel = fz_u8(in);
    unsigned idx = (sel & 0x7f) % fake.num_lrs;
    if (sel & 0x80) {
        fake_guest_ack(vcpu, idx);
        return;
    }
    if (fake.vcpu[vcpu].lr[idx].state == FAKE_LR_INVALID) {
        return;
    }
    fake_guest_ack(vcpu, idx);
    fake_guest_eoi(vcpu, idx);
    uint64_t mr = idx;
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VGICMaintenance, 1, &mr, 1, &reply);
    fz_check_kernel();
}

static void run_op(struct fz *in, size_t n)
{
    uint8_t op = fz_u8(in);
    switch (op % 14) {
    case 0: {
        size_t v = fz_u8(in) % n;
        size_t word = fz_u8(in);
        fz_set_ctx_word(v, word, fz_u64(in));
        break;
    }
    case 1: {
        size_t v = fz_u8(in) % n;
        size_t reg = fz_u8(in) % seL4_VCPUReg_Num;
        fake.vcpu[v].sysregs[reg] = fz_u64(in);
        break;
    }
    case 2:
    case 3:
        op_vmfault(in, n);
        break;
    case 4:
        op_raw_fault(in, n, seL4_Fault_VMFault, seL4_VMFault_Length);
        break;
    case 5:
        op_vcpufault(in, n);
        break;
    case 6:
        op_hvc(in, n);
        break;
    case 7:
        op_smc_regs(in, n);
        break;
    case 8:
        op_maintenance(in, n);
        break;
    case 9:
        op_vppi(in, n);
        break;
    case 10:
        op_raw_fault(in, n, seL4_Fault_UserException, seL4_UserException_Length);
        break;
    case 11: {
        uint64_t label = fz_u64(in) & ((1ull << 52) - 1);
        op_raw_fault(in, n, label, fz_u8(in) % 14);
        break;
    }
    case 12:
        op_guest_lr(in, n);
        break;
    default: {
        size_t v = fz_u8(in) % n;
        int irq = (int)(fz_u16(in) % 300) - 2;
        virq_inject(v, irq);
        fz_check_kernel();
        struct device *devs[] = {&dev_main, &dev_small, &dev_top};
        struct device *d = devs[fz_u8(in) % 3];
        d->read_value = fz_u64(in);
        d->fail = (fz_u8(in) & 7) == 0;
        break;
    }
    }
}

static void register_devices(void)
{
    struct device *all[] = {&dev_main, &dev_small, &dev_top};
    for (size_t i = 0; i < 3; i++) {
        all[i]->calls = 0;
        all[i]->fail = false;
        all[i]->read_value = 0x8877665544332211ull;
        if (!mmio_register(all[i]->base, all[i]->size, device_handler, all[i])) {
            fz_fail("cannot register test device %zu", i);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    fz_init(&in, data, size);
    uint8_t config = fz_u8(&in);
    size_t n = 1 + (config & 0x7f) % GUEST_MAX_VCPUS;
    gic_v3 = (config & 0x80) != 0;
    unsigned lrs = 1 + fz_u8(&in) % FAKE_MAX_LRS;
    if (ram == NULL) {
        ram = fz_guarded_alloc(RAM_SIZE);
        vmm_log_level = LOG_LEVEL_DEBUG; /* every log line formats guest-controlled values */
    }
    fz_guest_setup(n, lrs, gic_v3 ? GIC_VERSION_3 : GIC_VERSION_2, ram, RAM_SIZE, true);
    register_devices();
    for (size_t v = 0; v < n; v++) {
        fake.vcpu[v].regs.spsr = 0x3c5;
        fake.vcpu[v].runnable = true;
    }
    for (unsigned i = 0; i < MAX_OPS && !fz_empty(&in); i++) {
        run_op(&in, n);
    }
    return 0;
}
