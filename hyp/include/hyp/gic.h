/*
 * The physical GIC, version 2 (IHI 0048B: distributor, memory-mapped CPU
 * interface, virtual interface control block GICH) or version 3 (IHI 0069:
 * distributor with affinity routing, one redistributor per CPU, system
 * register CPU interface, virtual interface through ICH_*_EL2), whichever
 * QEMU's DTB describes. One hyp binary drives both; this header is the
 * version-neutral interface (gic.c dispatches, gic_v2.c/gic_v3.c implement).
 *
 * List registers travel in the hardware's own encoding, widened to 64 bits
 * (GICH_LRn: 32 bits; ICH_LRn_EL2: 64 bits).
 *
 * The registers every guest exit with an interrupt touches are inline
 * (DESIGN 3: a short exit path): the acknowledge and end-of-interrupt
 * registers, the virtual interface's HCR, MISR, EISR and list registers.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/arch.h>

#define GIC_SPURIOUS 1023
#define GIC_MAX_INTID 1020
#define GIC_MAX_LRS 64
/* hyp's own SGI: wakes another CPU out of its guest or its WFI (smp.c). Never seen by a guest. */
#define GIC_SGI_KICK 0

/* GICv2 CPU interface (IHI 0048B 4.4.4, 4.4.5) and virtual interface control (5.3). */
#define GICC_IAR 0x000c
#define GICC_EOIR 0x0010
#define GICH_HCR 0x000
#define GICH_MISR 0x010
#define GICH_EISR0 0x020
#define GICH_EISR1 0x024
#define GICH_LR0 0x100
/* GICv2 GICH_LRn (5.3.9) and GICv3 ICH_LR<n>_EL2 (IHI 0069 12.4.6) fields of ABI 3.1. */
#define GIC2_LR_VID_MASK 0x3ffull
#define GIC2_LR_EOI (1ull << 19)
#define GIC2_LR_PRIO_SHIFT 23
#define GIC2_LR_STATE_SHIFT 28
#define GIC2_LR_GRP1 (1ull << 30)
#define GIC3_LR_VID_MASK 0xffffffffull
#define GIC3_LR_EOI (1ull << 41)
#define GIC3_LR_PRIO_SHIFT 48
#define GIC3_LR_GRP1 (1ull << 60)
#define GIC3_LR_STATE_SHIFT 62
#define GIC_LR_STATE_PENDING 1ull
#define GIC_LR_STATE_ACTIVE 2ull

/* true on GICv3 (set by gic_init from the platform). */
extern bool gic_v3;
/* GICv2: this CPU's banked views of GICC and GICH (one address for every CPU). */
extern uintptr_t gic_gicc_base, gic_gich_base;
extern unsigned gic_lrs;

/* Boot CPU: the distributor, then this CPU's interfaces. */
void gic_init(void);
/* Each CPU: its banked SGI/PPI state or redistributor, CPU interface and virtual interface. */
void gic_cpu_init(void);
uint32_t gic_max_intid(void);

static inline unsigned gic_num_lrs(void)
{
    return gic_lrs;
}

/* SGIs and PPIs are this CPU's own (banked / its redistributor); SPIs are the distributor's. */
void gic_irq_enable(uint32_t intid);
void gic_irq_disable(uint32_t intid);
void gic_irq_configure(uint32_t intid, bool edge);
/*
 * Route SPI `intid` to physical CPU `cpu` (GICv2 GICD_ITARGETSR byte: the CPU's interface bit, known
 * once it has run gic_cpu_init; GICv3 GICD_IROUTERn: its MPIDR affinity).
 */
void gic_irq_route(uint32_t intid, unsigned cpu);
/* This CPU leaves the GIC for good: its CPU interface signals nothing any more (GICC_CTLR / ICC_IGRPEN1_EL1). */
void gic_cpu_disable(void);

/* Acknowledge the highest-priority pending interrupt (GICC_IAR / ICC_IAR1_EL1, IHI 0069 12.2.13). */
static inline uint32_t gic_ack(void)
{
    if (gic_v3) {
        uint32_t iar = (uint32_t)sysreg_read(icc_iar1_el1);
        dsb(sy); /* the acknowledge completes before hyp acts on it */
        return iar;
    }
    return mmio_read32(gic_gicc_base + GICC_IAR);
}

/*
 * End of interrupt (ABI 4.4). GICv2, EOImode 0: priority drop and deactivation.
 * GICv3, EOImode 1: priority drop only; the interrupt stays active until
 * gic_deactivate() (seL4: deactivated by IRQHandler_Ack).
 */
static inline void gic_eoi(uint32_t iar)
{
    if (gic_v3) {
        sysreg_write(icc_eoir1_el1, iar);
        isb();
    } else {
        mmio_write32(gic_gicc_base + GICC_EOIR, iar);
    }
}

/* Priority drop and deactivation on both versions (interrupts hyp consumes itself). */
static inline void gic_eoi_deactivate(uint32_t iar)
{
    gic_eoi(iar);
    if (gic_v3) {
        sysreg_write(icc_dir_el1, iar);
        isb();
    }
}

/* GICv3: deactivate an SPI left active by gic_eoi(), from any CPU (GICD_ICACTIVERn). */
void gic_deactivate(uint32_t intid);
/* Send SGI `intid` to physical CPU `cpu` (index into hyp_cpus). */
void gic_send_sgi(unsigned cpu, uint32_t intid);

/* ---- this CPU's virtual CPU interface ---- */

/* ABI 3.1: a pending LR with the EOI maintenance bit, HW = 0. prio is seL4's 0..31. */
static inline uint64_t gic_lr_make(uint32_t virq, uint32_t prio, uint32_t group)
{
    if (gic_v3) {
        /* ABI 3.1: the raw 0..31 value goes into the 8-bit priority field. */
        return (GIC_LR_STATE_PENDING << GIC3_LR_STATE_SHIFT) | (group ? GIC3_LR_GRP1 : 0) |
               ((uint64_t)prio << GIC3_LR_PRIO_SHIFT) | GIC3_LR_EOI | (virq & GIC3_LR_VID_MASK);
    }
    return (GIC_LR_STATE_PENDING << GIC2_LR_STATE_SHIFT) | (group ? GIC2_LR_GRP1 : 0) |
           ((uint64_t)prio << GIC2_LR_PRIO_SHIFT) | GIC2_LR_EOI | (virq & GIC2_LR_VID_MASK);
}

static inline bool gic_lr_active(uint64_t lr)
{
    unsigned shift = gic_v3 ? GIC3_LR_STATE_SHIFT : GIC2_LR_STATE_SHIFT;
    return ((lr >> shift) & 3) == GIC_LR_STATE_ACTIVE;
}

static inline uint64_t gic_lr_clear_eoi(uint64_t lr)
{
    return lr & ~(gic_v3 ? GIC3_LR_EOI : GIC2_LR_EOI);
}

/* GICH_HCR.En / ICH_HCR_EL2.En (TC, TALL0, TALL1, TDIR clear). */
static inline void gic_vif_enable(bool en)
{
    if (gic_v3) {
        sysreg_write(ich_hcr_el2, (uint64_t)en);
    } else {
        mmio_write32(gic_gich_base + GICH_HCR, (uint32_t)en);
    }
}

/* MISR.EOI (GICv2 5.3.4; ICH_MISR_EL2 bit 0). */
static inline bool gic_vif_eoi_pending(void)
{
    return (gic_v3 ? sysreg_read(ich_misr_el2) : mmio_read32(gic_gich_base + GICH_MISR)) & 1;
}

static inline uint64_t gic_vif_eisr(void)
{
    if (gic_v3) {
        return sysreg_read(ich_eisr_el2);
    }
    uint64_t lo = mmio_read32(gic_gich_base + GICH_EISR0);
    uint64_t hi = gic_lrs > 32 ? mmio_read32(gic_gich_base + GICH_EISR1) : 0;
    return lo | (hi << 32);
}

/* ICH_LR<n>_EL2 needs n in the instruction: a switch, out of line (gic_v3.c). */
uint64_t gic3_vif_read_lr(unsigned idx);
void gic3_vif_write_lr(unsigned idx, uint64_t v);

static inline uint64_t gic_vif_read_lr(unsigned idx)
{
    return gic_v3 ? gic3_vif_read_lr(idx) : mmio_read32(gic_gich_base + GICH_LR0 + 4 * idx);
}

static inline void gic_vif_write_lr(unsigned idx, uint64_t v)
{
    if (gic_v3) {
        gic3_vif_write_lr(idx, v);
    } else {
        mmio_write32(gic_gich_base + GICH_LR0 + 4 * idx, (uint32_t)v);
    }
}

uint32_t gic_vif_read_vmcr(void);
void gic_vif_write_vmcr(uint32_t v);
/* Active-priority registers: GICv2 GICH_APR in [0]; GICv3 ICH_AP0R0_EL2 in [0], ICH_AP1R0_EL2 in [1]. */
void gic_vif_read_apr(uint32_t apr[2]);
void gic_vif_write_apr(const uint32_t apr[2]);
