/*
 * The vGIC register files and the vIRQ state machine under arbitrary
 * sequences: GICv2 distributor, or GICv3 distributor + redistributors +
 * trapped ICC_SGI*R / ICC_SRE system registers; accesses at any offset,
 * width 1/2/4/8, read or write, any value, from any vCPU, either straight
 * through the MMIO dispatcher or as VMFaults through fault_handle(),
 * interleaved with VMM injections, line levels, pass-through IRQs, VPPI
 * events, the guest taking and EOIing list registers (followed by the
 * kernel's maintenance fault), spurious maintenance faults and vGIC resets
 * (guest reboot). 1-4 vCPUs, 1-16 list registers. Attack classes 11 and 18.
 *
 * Input: byte 0 = vCPU count (bits 0-6) and GIC version (bit 7: v3), byte 1
 * = LR count, then operations (an opcode byte, operands following).
 *
 * Invariants checked after every step, besides ASan/UBSan:
 *  - the fake kernel saw no failing libmicrokit call and no InjectIRQ with
 *    an LR index it does not have;
 *  - no INTID sits in two list registers of one vCPU (GICH_LRn, IHI 0048B
 *    chapter 5: UNPREDICTABLE);
 *  - every LR the vGIC believes busy holds, in the kernel, exactly the INTID
 *    the vGIC recorded, and that INTID knows it is there;
 *  - nothing is lost: an INTID is queued on exactly the vCPUs that could take
 *    it now (pending, enabled, group enabled, not active, not in an LR,
 *    targeted), at its priority level, recomputed from scratch here;
 *  - a vCPU with a free LR has nothing queued (every free LR is refilled).
 */
#include <stdio.h>
#include <string.h>
#include <libvmm/fault.h>
#include <libvmm/log.h>
#include <libvmm/virq.h>
#include "fz_support.h"
#include "mmio_internal.h"
#include "vgic/vgic_internal.h"

#define RAM_SIZE 0x10000
#define MAX_OPS 384
#define MAX_VCPUS 4

#define CH_PASS_A 1
#define CH_PASS_B 2
#define SPI_PASS_A 33
#define SPI_PASS_B 79
#define SPI_PLAIN 40
#define SPI_LAST 287
#define PPI_PLAIN 23

static uint8_t *ram;
static unsigned acks;

static void count_ack(size_t vcpu, int irq, void *cookie)
{
    (void)vcpu;
    (void)irq;
    (void)cookie;
    acks++;
}

/* ---- invariants ---- */

static FZ_CHECKER bool oracle_pending(const struct vgic_irq *irq)
{
    if (irq->intid < VGIC_NUM_SGIS) {
        return irq->sgi_sources != 0;
    }
    return irq->latch || (!irq->edge && irq->line);
}

/* The vCPUs that could take irq now (IHI 0048B 3.2.4, 4.3.1, 4.3.12), recomputed from the raw state. */
static FZ_CHECKER uint8_t oracle_deliverable(const struct vgic_irq *irq)
{
    uint32_t group_bit = irq->group1 ? 2u : 1u;
    if (irq->in_lr || irq->active || !irq->enabled || !oracle_pending(irq) || !(vgic_state.ctlr & group_bit)) {
        return 0;
    }
    if (irq->intid < VGIC_NUM_LOCAL) {
        return (uint8_t)(1u << irq->owner);
    }
    return irq->targets & vgic_state.vcpu_mask;
}

static uint64_t expect_queue[MAX_VCPUS][VGIC_PRIO_LEVELS][VGIC_QUEUE_WORDS];

static FZ_CHECKER void expect_irq(const struct vgic_irq *irq)
{
    uint8_t want = oracle_deliverable(irq);
    unsigned level = irq->priority >> VGIC_PRIO_SHIFT;
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        if ((want >> v) & 1) {
            expect_queue[v][level][irq->intid / 64] |= 1ull << (irq->intid % 64);
        }
    }
}

static FZ_CHECKER void check_queues(void)
{
    memset(expect_queue, 0, sizeof(expect_queue));
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        for (unsigned i = 0; i < VGIC_NUM_LOCAL; i++) {
            expect_irq(&vgic_state.vcpu[v].local[i]);
        }
    }
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        expect_irq(&vgic_state.spi[i]);
    }
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        const struct vgic_vcpu *vc = &vgic_state.vcpu[v];
        for (unsigned l = 0; l < VGIC_PRIO_LEVELS; l++) {
            uint64_t any = 0;
            for (unsigned w = 0; w < VGIC_QUEUE_WORDS; w++) {
                FZ_CHECK(vc->queue[l][w] == expect_queue[v][l][w],
                         "vCPU %zu, priority level %u, INTIDs %u..%u: queued 0x%016llx, deliverable 0x%016llx", v, l,
                         w * 64, w * 64 + 63, (unsigned long long)vc->queue[l][w],
                         (unsigned long long)expect_queue[v][l][w]);
                any |= vc->queue[l][w];
            }
            FZ_CHECK(((vc->queued_levels >> l) & 1) == (any != 0), "vCPU %zu: queued_levels bit %u is stale", v, l);
        }
    }
}

static FZ_CHECKER void check_lrs_of(size_t v)
{
    const struct vgic_vcpu *vc = &vgic_state.vcpu[v];
    uint32_t all = (1u << fake.num_lrs) - 1;
    FZ_CHECK(vc->num_lrs == fake.num_lrs, "vCPU %zu: vGIC uses %u LRs, the kernel has %u", v, vc->num_lrs,
             fake.num_lrs);
    FZ_CHECK(((vc->lr_busy | vc->lr_stuck | vc->lr_stale) & ~all) == 0, "vCPU %zu: LR masks beyond the LR count", v);
    for (unsigned i = 0; i < fake.num_lrs; i++) {
        const struct fake_lr *lr = &fake.vcpu[v].lr[i];
        if (lr->state != FAKE_LR_INVALID) {
            FZ_CHECK(fake_lr_count(v, lr->virq) == 1, "vCPU %zu: INTID %u is in %u list registers", v, lr->virq,
                     fake_lr_count(v, lr->virq));
        }
        if (vc->lr_busy & (1u << i)) {
            unsigned intid = vc->lr_intid[i];
            FZ_CHECK(lr->state != FAKE_LR_INVALID && lr->virq == intid,
                     "vCPU %zu: vGIC thinks LR %u holds INTID %u, the kernel has %u (state %d)", v, i, intid, lr->virq,
                     lr->state);
            const struct vgic_irq *irq = vgic_irq_get(v, intid);
            FZ_CHECK(irq != NULL && irq->in_lr && irq->lr_vcpu == v && irq->lr_index == i,
                     "vCPU %zu: INTID %u in LR %u does not know it", v, intid, i);
        }
    }
    FZ_CHECK((all & ~(vc->lr_busy | vc->lr_stuck)) == 0 || vc->queued_levels == 0,
             "vCPU %zu: a free LR while INTIDs wait in the queue", v);
}

/* Every INTID marked in_lr is where it says. */
static FZ_CHECKER void check_in_lr(const struct vgic_irq *irq)
{
    if (!irq->in_lr) {
        return;
    }
    FZ_CHECK(irq->lr_vcpu < vgic_state.num_vcpus, "INTID %u in an LR of vCPU %u", irq->intid, irq->lr_vcpu);
    const struct vgic_vcpu *vc = &vgic_state.vcpu[irq->lr_vcpu];
    FZ_CHECK(irq->lr_index < vc->num_lrs && (vc->lr_busy >> irq->lr_index) & 1 &&
                 vc->lr_intid[irq->lr_index] == irq->intid,
             "INTID %u claims LR %u of vCPU %u", irq->intid, irq->lr_index, irq->lr_vcpu);
}

static FZ_CHECKER void check_all(void)
{
    fz_check_kernel();
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        check_lrs_of(v);
        for (unsigned i = 0; i < VGIC_NUM_LOCAL; i++) {
            check_in_lr(&vgic_state.vcpu[v].local[i]);
        }
    }
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        check_in_lr(&vgic_state.spi[i]);
    }
    check_queues();
}

/* ---- operations ---- */

static bool gic_v3;

/*
 * The guest-physical address of an access: GICv2, the 4 KiB distributor
 * (sometimes past it); GICv3, the 64 KiB distributor or the RD_base /
 * SGI_base frame of any redistributor (and the one past the last).
 * *in_window tells whether a region covers it.
 */
static uint64_t pick_gpa(struct fz *in, size_t n, bool *in_window)
{
    uint16_t raw = fz_u16(in);
    if (!gic_v3) {
        uint32_t off = (raw & 0x8000) ? (raw & 0x1fffu) : (raw & 0xfffu);
        *in_window = off < VGIC_V2_DIST_SIZE;
        return FZ_GICD_GPA + off;
    }
    uint8_t frame = fz_u8(in);
    if (frame & 0x80) {
        *in_window = true;
        return FZ_GICD_GPA + raw;
    }
    size_t rd = (frame & 0x3f) % (n + 1);
    *in_window = rd < n;
    return FZ_GICR_GPA + rd * VGIC_V3_REDIST_SIZE + ((frame & 0x40) ? 0x10000u : 0) + raw;
}

static void op_dist_access(struct fz *in, size_t n)
{
    uint8_t mode = fz_u8(in);
    size_t vcpu = fz_u8(in) % n;
    bool in_window;
    uint64_t gpa = pick_gpa(in, n, &in_window);
    unsigned width = 1u << (mode & 3);
    bool write = (mode & 4) != 0;
    uint64_t value = (mode & 8) ? fz_u64(in) : fz_u32(in);
    if ((mode & 0x30) != 0x30) {
        struct mmio_access a = {.gpa = gpa, .width = (uint8_t)width, .is_write = write, .value = value};
        if (write) {
            a.value &= width >= 8 ? ~0ull : ((1ull << (8 * width)) - 1);
        }
        mmio_dispatch(vcpu, &a);
        return;
    }
    /* The same access as the kernel reports it: LDR/STR Xt/Wt with a valid syndrome (Arm ARM D17.2.40). */
    unsigned rt = fz_u8(in) % 31;
    uint32_t esr = (0x24u << 26) | (1u << 25) | (1u << 24) | ((mode & 3u) << 22) | (rt << 16) |
                   ((width == 8) ? (1u << 15) : 0) | (write ? (1u << 6) : 0) | 0x07;
    fz_set_ctx_word(vcpu, fz_ctx_word_of_x(rt), value);
    uint64_t pc = 0xffff800010000000ull;
    fz_set_ctx_word(vcpu, 0, pc);
    uint64_t mrs[4] = {pc, gpa, 0, esr};
    microkit_msginfo reply;
    bool resumed = fz_fault(vcpu, seL4_Fault_VMFault, 4, mrs, 4, &reply);
    FZ_CHECK(resumed || !in_window, "a vGIC access at 0x%llx did not resume the vCPU", (unsigned long long)gpa);
}

/*
 * GICv3: a trapped MSR/MRS (EC 0x18) of a CPU-interface register, mostly the
 * SGI generation registers (IHI 0069 12.11) with structured target fields.
 */
static void op_sysreg(struct fz *in, size_t n)
{
    static const uint32_t keys[] = {
        VGIC_SYSREG_KEY(3, 0, 12, 11, 5), /* ICC_SGI1R_EL1 */
        VGIC_SYSREG_KEY(3, 0, 12, 11, 6), /* ICC_ASGI1R_EL1 */
        VGIC_SYSREG_KEY(3, 0, 12, 11, 7), /* ICC_SGI0R_EL1 */
        VGIC_SYSREG_KEY(3, 0, 12, 12, 5), /* ICC_SRE_EL1 */
        VGIC_SYSREG_KEY(3, 0, 4, 6, 0), /* ICC_PMR_EL1 */
        VGIC_SYSREG_KEY(3, 0, 12, 12, 4), /* ICC_CTLR_EL1 */
    };
    uint8_t mode = fz_u8(in);
    size_t vcpu = fz_u8(in) % n;
    unsigned rt = fz_u8(in) % 32;
    uint32_t key = (mode & 0x80) ? (fz_u32(in) & VGIC_SYSREG_KEY_MASK) : keys[(mode & 0x3f) % 6];
    bool read = (mode & 0x40) != 0;
    uint64_t value;
    if (fz_bool(in)) {
        /* TargetList, INTID, IRM; Aff1-3 and RS zero: what Linux sends with vCPUs 0..15 */
        uint16_t targets = fz_u16(in);
        uint8_t b = fz_u8(in);
        value = targets | (uint64_t)(b & 0xf) << 24 | (uint64_t)((b >> 4) & 1) << 40;
    } else {
        value = fz_u64(in);
    }
    if (rt < 31) {
        fz_set_ctx_word(vcpu, fz_ctx_word_of_x(rt), value);
    }
    uint64_t esr = (0x18u << 26) | (1u << 25) | key | (rt << 5) | (read ? 1u : 0);
    fz_set_ctx_word(vcpu, 0, 0xffff800010000000ull);
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VCPUFault, 1, &esr, 1, &reply);
}

static int pick_intid(struct fz *in)
{
    static const int interesting[] = {
        0, 1, 7, 15, 16, PPI_PLAIN, VGIC_VTIMER_PPI, 31, SPI_PASS_A, SPI_PLAIN, SPI_PASS_B, SPI_LAST, 288, 1020, -1};
    uint8_t sel = fz_u8(in);
    if (sel < 2 * (sizeof(interesting) / sizeof(interesting[0]))) {
        return interesting[sel / 2];
    }
    return (int)fz_u16(in) - 8;
}

/* The guest takes (IAR: pending -> active) or finishes (EOI, then VGICMaintenance) list register idx. */
static void op_guest_lr(struct fz *in, size_t n)
{
    size_t vcpu = fz_u8(in) % n;
    uint8_t sel = fz_u8(in);
    unsigned idx = (sel & 0x3f) % fake.num_lrs;
    enum fake_lr_state state = fake.vcpu[vcpu].lr[idx].state;
    if ((sel & 0x80) || state == FAKE_LR_PENDING) {
        fake_guest_ack(vcpu, idx);
        if (!(sel & 0x40)) {
            return;
        }
    }
    if (fake.vcpu[vcpu].lr[idx].state != FAKE_LR_ACTIVE) {
        return;
    }
    fake_guest_eoi(vcpu, idx);
    uint64_t mr = idx;
    microkit_msginfo reply;
    FZ_CHECK(fz_fault(vcpu, seL4_Fault_VGICMaintenance, 1, &mr, 1, &reply), "maintenance did not resume");
}

/* Maintenance faults the kernel can send without an EOI: IDX -1, or an LR it reports as empty. */
static void op_spurious_maintenance(struct fz *in, size_t n)
{
    size_t vcpu = fz_u8(in) % n;
    uint8_t sel = fz_u8(in);
    uint64_t idx = ~0ull;
    if (sel & 1) {
        unsigned i = (sel >> 1) % FAKE_MAX_LRS;
        if (i < fake.num_lrs && fake.vcpu[vcpu].lr[i].state != FAKE_LR_INVALID) {
            return;
        }
        idx = i;
    }
    microkit_msginfo reply;
    FZ_CHECK(fz_fault(vcpu, seL4_Fault_VGICMaintenance, 1, &idx, 1, &reply), "maintenance did not resume");
}

static void op_vppi(struct fz *in, size_t n)
{
    size_t vcpu = fz_u8(in) % n;
    uint64_t irq = fz_bool(in) ? VGIC_VTIMER_PPI : fz_u8(in);
    microkit_msginfo reply;
    fz_fault(vcpu, seL4_Fault_VPPIEvent, 1, &irq, 1, &reply);
}

static void run_op(struct fz *in, size_t n)
{
    uint8_t op = fz_u8(in);
    switch (op % 13) {
    case 0:
    case 1:
    case 2:
    case 3:
        op_dist_access(in, n);
        break;
    case 4: {
        size_t v = fz_u8(in) % (n + 1);
        virq_inject(v, pick_intid(in));
        break;
    }
    case 5: {
        size_t v = fz_u8(in) % n;
        int intid = pick_intid(in);
        vgic_set_level(v, (unsigned)intid, fz_bool(in));
        break;
    }
    case 6:
    case 7:
        op_guest_lr(in, n);
        break;
    case 8:
        op_spurious_maintenance(in, n);
        break;
    case 9:
        op_vppi(in, n);
        break;
    case 10:
        virq_handle_passthrough(fz_u8(in) % 4);
        break;
    case 12:
        if (gic_v3) {
            op_sysreg(in, n);
        }
        break;
    default:
        if ((fz_u8(in) & 7) == 0) {
            vgic_reset(); /* what guest_restart() does on a reboot */
        }
        break;
    }
    check_all();
}

static void register_irqs(size_t n)
{
    bool ok = virq_register_passthrough(0, SPI_PASS_A, CH_PASS_A) &&
              virq_register_passthrough(n - 1, SPI_PASS_B, CH_PASS_B) && virq_register(0, SPI_PLAIN, count_ack, NULL) &&
              virq_register(n - 1, SPI_LAST, NULL, NULL);
    for (size_t v = 0; v < n && ok; v++) {
        ok = virq_register(v, PPI_PLAIN, count_ack, NULL);
    }
    if (!ok) {
        fz_fail("registering the harness IRQs failed");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    fz_init(&in, data, size);
    uint8_t config = fz_u8(&in);
    size_t n = 1 + (config & 0x7f) % MAX_VCPUS;
    gic_v3 = (config & 0x80) != 0;
    unsigned lrs = 1 + fz_u8(&in) % FAKE_MAX_LRS;
    if (ram == NULL) {
        ram = fz_guarded_alloc(RAM_SIZE);
        vmm_log_level = LOG_LEVEL_DEBUG;
    }
    fz_guest_setup(n, lrs, gic_v3 ? GIC_VERSION_3 : GIC_VERSION_2, ram, RAM_SIZE, true);
    register_irqs(n);
    acks = 0;
    check_all();
    for (unsigned i = 0; i < MAX_OPS && !fz_empty(&in); i++) {
        run_op(&in, n);
    }
    return 0;
}
