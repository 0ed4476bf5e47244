/*
 * GICv3 distributor (GIC architecture spec IHI 0069, section 12.9), SPI
 * routing through GICD_IROUTER, and registration of the GICv3 windows.
 *
 * What is emulated: one security state (GICD_CTLR.DS = 1, RAO/WI: the guest
 * sees the single-security-state layout of GICD_CTLR with EnableGrp0 at bit 0
 * and EnableGrp1 at bit 1, which is also what a non-secure Linux writes as
 * EnableGrp1/EnableGrp1A) and affinity routing only (GICD_CTLR.ARE = 1,
 * RAO/WI: legacy operation is optional, 12.9 GICD_CTLR). Hence (12.9): the SGI/PPI
 * range (INTIDs 0..31) of every distributor IRQ register is RAZ/WI (the
 * redistributors own them), and GICD_ITARGETSR, GICD_SGIR, GICD_CPENDSGIR and
 * GICD_SPENDSGIR are RAZ/WI. No LPIs, no message-based SPIs, no extended
 * SPIs, no NMIs: GICD_SETSPI/CLRSPI, IGRPMODR, NSACR, INMIR are RAZ/WI, as is
 * every reserved offset. GICD_STATUSR and GICD_TYPER2 read 0.
 *
 * GICD_TYPER: ITLinesNumber covers VGIC_MAX_SPIS SPIs; CPUNumber 0 (only
 * meaningful without affinity routing); IDbits 9 (INTIDs are 10 bits);
 * No1N = 0 (1-of-N is supported, see below); A3V = 0 and RSS = 0 (every vCPU
 * has Aff3 = 0 and Aff0 < 16: vcpu_mpidr()); LPIS, MBIS, DVIS, ESPI,
 * SecurityExtn = 0. GICD_IIDR = VGIC_V3_IIDR: the GICv2 emulation's
 * implementer (0x43b) and product (0x4c) with Variant 3 to tell them apart.
 *
 * GICD_IROUTER<n> (12.9), 64-bit or two 32-bit halves:
 *  - Interrupt_Routing_Mode 0: the SPI goes to the vCPU whose MPIDR affinity
 *    is Aff3.Aff2.Aff1.Aff0. An affinity that names no vCPU is accepted and
 *    read back as written, and the SPI is forwarded to no vCPU until it is
 *    rerouted: the first of the CONSTRAINED UNPREDICTABLE choices the
 *    architecture allows for an affinity that names no PE.
 *  - Interrupt_Routing_Mode 1 (1 of N): the participating vCPUs are those
 *    whose redistributor is awake (GICR_WAKER.ProcessorSleep = 0); the SPI is
 *    queued on all of them and the first with a free list register takes it,
 *    lowest vCPU id first, exactly once. With none awake it waits.
 *  Aff fields and bit 31 are stored; every other bit is RES0.
 */
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "vcpu.h"
#include "vgic/vgic_internal.h"

#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_TYPER2 0x000c
#define GICD_IROUTER 0x6000
#define GICD_IROUTER_END 0x8000

#define GICD_CTLR_ARE (1u << 4)
#define GICD_CTLR_DS (1u << 6)

#define GICD_TYPER_IDBITS_SHIFT 19
#define VGIC_V3_ID_BITS 10

#define IROUTER_IRM (1ull << 31)
#define IROUTER_AFF_MASK 0xff00ffffffull /* Aff3 39:32, Aff2 23:16, Aff1 15:8, Aff0 7:0 */
#define IROUTER_MASK (IROUTER_AFF_MASK | IROUTER_IRM)

/* --- routing --------------------------------------------------------------------------------------------------- */

uint8_t vgic_v3_awake_mask(void)
{
    uint8_t mask = 0;
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        if (!vgic_state.vcpu[v].rd_asleep) {
            mask |= (uint8_t)(1u << v);
        }
    }
    return mask;
}

/* The vCPUs an IROUTER value sends its SPI to (see the file comment). */
static uint8_t irouter_targets(uint64_t irouter)
{
    size_t v;
    if (irouter & IROUTER_IRM) {
        return vgic_v3_awake_mask();
    }
    if (vcpu_from_mpidr(irouter & IROUTER_AFF_MASK, &v) && v < vgic_state.num_vcpus) {
        return (uint8_t)(1u << v);
    }
    return 0;
}

void vgic_v3_route_reset(struct vgic_irq *irq)
{
    size_t v = irq->reset_targets != 0 ? (size_t)__builtin_ctz(irq->reset_targets) : 0;
    vgic_state.irouter[irq->intid - VGIC_NUM_LOCAL] = vcpu_mpidr(v) & IROUTER_AFF_MASK;
    irq->targets = (uint8_t)(1u << v) & vgic_state.vcpu_mask;
}

void vgic_v3_reset(void)
{
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        vgic_state.vcpu[v].rd_asleep = true; /* GICR_WAKER resets to ProcessorSleep = ChildrenAsleep = 1 */
    }
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        vgic_v3_route_reset(&vgic_state.spi[i]);
    }
}

void vgic_v3_awake_changed(void)
{
    uint8_t awake = vgic_v3_awake_mask();
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        if (vgic_state.irouter[i] & IROUTER_IRM) {
            vgic_irq_set_targets(&vgic_state.spi[i], awake);
        }
    }
}

static void irouter_write(unsigned spi, uint64_t value)
{
    value &= IROUTER_MASK;
    vgic_state.irouter[spi] = value;
    vgic_irq_set_targets(&vgic_state.spi[spi], irouter_targets(value));
}

/* IROUTER<n>: 64-bit, or 32-bit halves (IHI 0069 12.1, register access); n < 32 is reserved and unimplemented SPIs are
 * RAZ/WI. */
static void irouter_access(size_t vcpu, struct mmio_access *access, uint32_t off)
{
    unsigned intid = (off - GICD_IROUTER) / 8;
    bool high = (off & 4) != 0;
    if (!(access->width == 8 && (off & 7) == 0) && !(access->width == 4 && (off & 3) == 0)) {
        vgic_v3_bad_access(vcpu, "GICD", access, off);
        return;
    }
    if (intid < VGIC_NUM_LOCAL || intid >= VGIC_NUM_INTIDS) {
        return;
    }
    unsigned spi = intid - VGIC_NUM_LOCAL;
    uint64_t cur = vgic_state.irouter[spi];
    if (!access->is_write) {
        access->value = access->width == 8 ? cur : (uint32_t)(high ? cur >> 32 : cur);
    } else if (access->width == 8) {
        irouter_write(spi, access->value);
    } else if (high) {
        irouter_write(spi, (cur & 0xffffffffull) | (access->value << 32));
    } else {
        irouter_write(spi, (cur & ~0xffffffffull) | (access->value & 0xffffffffull));
    }
}

/* --- the other registers (32-bit) ------------------------------------------------------------------------------ */

static uint32_t typer_read(void)
{
    uint32_t it_lines = VGIC_NUM_INTIDS / 32 - 1;
    return it_lines | (uint32_t)(VGIC_V3_ID_BITS - 1) << GICD_TYPER_IDBITS_SHIFT;
}

static uint32_t word_read(uint32_t off)
{
    switch (off) {
    case GICD_CTLR:
        return vgic_state.ctlr | GICD_CTLR_ARE | GICD_CTLR_DS; /* RWP (bit 31) reads 0: writes complete at once */
    case GICD_TYPER:
        return typer_read();
    case GICD_IIDR:
        return VGIC_V3_IIDR;
    case GICD_TYPER2:
    default:
        return vgic_v3_id_reg(off); /* 0 outside the ID block: STATUSR, reserved, RAZ registers */
    }
}

static void word_write(uint32_t off, uint32_t value)
{
    if (off == GICD_CTLR) {
        vgic_set_ctlr(value & VGIC_CTLR_MASK); /* ARE, DS RAO/WI; E1NWF RAZ/WI */
    }
    /* Everything else is read-only, RAZ/WI or reserved. */
}

bool vgic_v3_dist_mmio(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)cookie;
    uint64_t off = access->offset;
    if (!access->is_write) {
        access->value = 0;
    }
    if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus || off >= VGIC_V3_DIST_SIZE) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: distributor access at offset 0x%llx refused: RAZ/WI", vcpu,
                  (unsigned long long)off);
        return true;
    }
    uint32_t o = (uint32_t)off;
    if (vgic_v3_irq_regs(vcpu, vcpu, access, o, VGIC_NUM_LOCAL, VGIC_NUM_INTIDS)) {
        return true;
    }
    if (o >= GICD_IROUTER && o < GICD_IROUTER_END) {
        irouter_access(vcpu, access, o);
        return true;
    }
    if (access->width != 4 || (o & 3) != 0) {
        vgic_v3_bad_access(vcpu, "GICD", access, o);
    } else if (access->is_write) {
        word_write(o, (uint32_t)access->value);
    } else {
        access->value = word_read(o);
    }
    return true;
}

/* --- registration ---------------------------------------------------------------------------------------------- */

bool vgic_v3_register(const struct guest_config *config)
{
    uint64_t rd_size = vgic_v3_redist_window(config->num_vcpus);
    if (!mmio_register(config->gicd_gpa, VGIC_V3_DIST_SIZE, vgic_v3_dist_mmio, NULL)) {
        LOG_ERR("cannot register the GICv3 distributor window at 0x%llx", (unsigned long long)config->gicd_gpa);
        return false;
    }
    if (!mmio_register(config->gicr_gpa, rd_size, vgic_v3_redist_mmio, NULL)) {
        LOG_ERR("cannot register the GICv3 redistributor window [0x%llx, +0x%llx)",
                (unsigned long long)config->gicr_gpa, (unsigned long long)rd_size);
        mmio_unregister(config->gicd_gpa);
        return false;
    }
    return true;
}
