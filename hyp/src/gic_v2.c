/*
 * Physical GICv2 (IHI 0048B): distributor, the memory-mapped CPU interface
 * GICC and the virtual interface control block GICH, both banked per CPU at
 * one address. Everything is group 0 (seL4 on qemu-arm-virt, ABI 4.4),
 * signalled as IRQ (GICC_CTLR.FIQEn = 0); SPIs target the boot CPU until
 * routed to the CPU of the PD that owns them.
 */
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/gic_impl.h>
#include <hyp/platform.h>

#define GICD_SGIR 0xf00
#define GICD_ITARGETSR 0x800
/* CPU interface (4.4). */
#define GICC_CTLR 0x0000
#define GICC_PMR 0x0004
#define GICC_BPR 0x0008
/* Virtual interface control (5.3). */
#define GICH_VTR 0x004
#define GICH_VMCR 0x008
#define GICH_APR 0x0f0

uintptr_t gic_gicc_base, gic_gich_base;
static uintptr_t gicc, gich;

/* 4.3.12: GICD_ITARGETSR0..7 are banked and read as this CPU interface's own bit. */
static uint8_t own_target(void)
{
    return (uint8_t)mmio_read32(gic_gicd + GICD_ITARGETSR);
}

void gic2_init(void)
{
    gicc = platform.gicc_pa;
    gich = platform.gich_pa;
    gic_gicc_base = gicc;
    gic_gich_base = gich;
    uint32_t target = own_target() * 0x01010101u;
    mmio_write32(gic_gicd + GICD_CTLR, 0);
    for (uint32_t i = 32; i < gic_intids; i += 32) {
        gic_reset_bank(gic_gicd, i, 0);
    }
    for (uint32_t i = 32; i < gic_intids; i += 16) {
        mmio_write32(gic_gicd + GICD_ICFGR + i / 4, 0); /* level-sensitive */
    }
    for (uint32_t i = 32; i < gic_intids; i += 4) {
        mmio_write32(gic_gicd + GICD_ITARGETSR + i, target); /* the boot CPU */
    }
    /* 4.3.1: without Security Extensions bit 0 enables group 0, bit 1 group 1. */
    mmio_write32(gic_gicd + GICD_CTLR, 3);
    gic_lrs = (mmio_read32(gich + GICH_VTR) & 0x3f) + 1; /* 5.3.2: ListRegs = number of LRs - 1 */
}

/* Banked per-CPU state: SGIs/PPIs, CPU interface, GICH. */
void gic2_cpu_init(void)
{
    cpu_this()->gic_target = own_target();
    gic_reset_bank(gic_gicd, 0, 0);
    mmio_write32(gicc + GICC_PMR, GIC_PMR_ALL);
    mmio_write32(gicc + GICC_BPR, 0);
    mmio_write32(gicc + GICC_CTLR, 3); /* EnableGrp0 | EnableGrp1, FIQEn = 0, EOImode 0 */
    mmio_write32(gich + GICH_HCR, 0);
    mmio_write32(gich + GICH_VMCR, 0);
    mmio_write32(gich + GICH_APR, 0);
    for (unsigned i = 0; i < gic_lrs; i++) {
        mmio_write32(gich + GICH_LR0 + 4 * i, 0);
    }
}

/* 4.3.12: GICD_ITARGETSRn are byte-accessible; an SPI's byte is the set of CPU interfaces it targets. */
void gic2_irq_route(uint32_t intid, unsigned cpu)
{
    uint8_t target = hyp_cpus[cpu].gic_target;
    if (target) {
        mmio_write8(gic_gicd + GICD_ITARGETSR + intid, target);
    }
}

/* 4.4.1 GICC_CTLR: both groups disabled, so no interrupt is signalled to this CPU any more. */
void gic2_cpu_disable(void)
{
    mmio_write32(gicc + GICC_CTLR, 0);
}

/* 4.3.15 GICD_SGIR: TargetListFilter 0 (the list), CPUTargetList 23:16, NSATT 0 (group 0), SGIINTID 3:0. */
void gic2_send_sgi(unsigned cpu, uint32_t intid)
{
    mmio_write32(gic_gicd + GICD_SGIR, ((uint32_t)hyp_cpus[cpu].gic_target << 16) | (intid & 0xf));
}

uint32_t gic2_vif_read_vmcr(void)
{
    return mmio_read32(gich + GICH_VMCR);
}

void gic2_vif_write_vmcr(uint32_t v)
{
    mmio_write32(gich + GICH_VMCR, v);
}

void gic2_vif_read_apr(uint32_t apr[2])
{
    apr[0] = mmio_read32(gich + GICH_APR);
    apr[1] = 0;
}

void gic2_vif_write_apr(const uint32_t apr[2])
{
    mmio_write32(gich + GICH_APR, apr[0]);
}
