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

/* true on GICv3 (set by gic_init from the platform). */
extern bool gic_v3;
/* GICv2: GICH_HCR's address (this CPU's banked view). */
extern uintptr_t gic_gich_hcr;

/* Boot CPU: the distributor, then this CPU's interfaces. */
void gic_init(void);
/* Each CPU: its banked SGI/PPI state or redistributor, CPU interface and virtual interface. */
void gic_cpu_init(void);
unsigned gic_num_lrs(void);
uint32_t gic_max_intid(void);

/* SGIs and PPIs are this CPU's own (banked / its redistributor); SPIs are the distributor's. */
void gic_irq_enable(uint32_t intid);
void gic_irq_disable(uint32_t intid);
void gic_irq_configure(uint32_t intid, bool edge);
/* Acknowledge the highest-priority pending interrupt (GICC_IAR / ICC_IAR1_EL1). */
uint32_t gic_ack(void);
/*
 * End of interrupt (ABI 4.4). GICv2, EOImode 0: priority drop and deactivation.
 * GICv3, EOImode 1: priority drop only; the interrupt stays active until
 * gic_deactivate() (seL4: deactivated by IRQHandler_Ack).
 */
void gic_eoi(uint32_t iar);
/* Priority drop and deactivation on both versions (interrupts hyp consumes itself). */
void gic_eoi_deactivate(uint32_t iar);
/* GICv3: deactivate an SPI left active by gic_eoi(), from any CPU (GICD_ICACTIVERn). */
void gic_deactivate(uint32_t intid);
/* Send SGI `intid` to physical CPU `cpu` (index into hyp_cpus). */
void gic_send_sgi(unsigned cpu, uint32_t intid);

/* ---- this CPU's virtual CPU interface ---- */

/* ABI 3.1: a pending LR with the EOI maintenance bit, HW = 0. prio is seL4's 0..31. */
uint64_t gic_lr_make(uint32_t virq, uint32_t prio, uint32_t group);
bool gic_lr_active(uint64_t lr);
uint64_t gic_lr_clear_eoi(uint64_t lr);

/* GICH_HCR.En / ICH_HCR_EL2.En, written on every guest entry and exit: inline. */
static inline void gic_vif_enable(bool en)
{
    if (gic_v3) {
        sysreg_write(ich_hcr_el2, (uint64_t)en);
    } else {
        __asm__ volatile("str %w0, [%1]" ::"rZ"((uint32_t)en), "r"(gic_gich_hcr) : "memory");
    }
}
/* MISR.EOI (GICv2 5.3.4; ICH_MISR_EL2 bit 0). */
bool gic_vif_eoi_pending(void);
uint64_t gic_vif_eisr(void);
uint64_t gic_vif_read_lr(unsigned idx);
void gic_vif_write_lr(unsigned idx, uint64_t v);
uint32_t gic_vif_read_vmcr(void);
void gic_vif_write_vmcr(uint32_t v);
/* Active-priority registers: GICv2 GICH_APR in [0]; GICv3 ICH_AP0R0_EL2 in [0], ICH_AP1R0_EL2 in [1]. */
void gic_vif_read_apr(uint32_t apr[2]);
void gic_vif_write_apr(const uint32_t apr[2]);
