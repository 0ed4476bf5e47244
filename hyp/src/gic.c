/*
 * Physical GICv2 (IHI 0048B). hyp configures the distributor and this CPU's
 * interface once, then polls GICC_IAR from its event loop with PSTATE.I
 * masked. The virtual interface control block GICH carries the guest's list
 * registers. Distributor settings follow seL4's gic_v2.c (ABI 4.4): SPIs
 * level-triggered unless the system description says edge, routed to CPU 0,
 * group 0; EOImode 0 (EOIR drops priority and deactivates).
 */
#include <hyp/arch.h>
#include <hyp/gic.h>
#include <hyp/log.h>
#include <hyp/platform.h>

/* Distributor (GICv2 spec 4.3). */
#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ICPENDR 0x280
#define GICD_ICACTIVER 0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_ICFGR 0xc00
/* CPU interface (GICv2 spec 4.4). */
#define GICC_CTLR 0x0000
#define GICC_PMR 0x0004
#define GICC_BPR 0x0008
/* Virtual interface control (GICv2 spec 5.3). */
#define GICH_VTR 0x004
#define GICH_VMCR 0x008
#define GICH_APR 0x0f0

#define GIC_PRIO_DEFAULT 0xa0
#define GIC_PMR_ALL 0xf0

static uintptr_t gicd, gicc, gich;
uintptr_t gic_gicc_base, gic_gich_base;
unsigned gic_lr_count;
static uint32_t max_intid;

void gic_init(void)
{
    gicd = platform.gicd_pa;
    gicc = platform.gicc_pa;
    gich = platform.gich_pa;
    gic_gicc_base = gicc;
    gic_gich_base = gich;
    max_intid = 32 * ((mmio_read32(gicd + GICD_TYPER) & 0x1f) + 1);
    if (max_intid > GIC_MAX_INTID) {
        max_intid = GIC_MAX_INTID;
    }
    mmio_write32(gicd + GICD_CTLR, 0);
    for (uint32_t i = 32; i < max_intid; i += 32) {
        mmio_write32(gicd + GICD_ICENABLER + i / 8, 0xffffffff);
        mmio_write32(gicd + GICD_ICPENDR + i / 8, 0xffffffff);
        mmio_write32(gicd + GICD_ICACTIVER + i / 8, 0xffffffff);
        mmio_write32(gicd + GICD_IGROUPR + i / 8, 0);
    }
    for (uint32_t i = 32; i < max_intid; i += 16) {
        mmio_write32(gicd + GICD_ICFGR + i / 4, 0); /* level-sensitive */
    }
    for (uint32_t i = 32; i < max_intid; i += 4) {
        mmio_write32(gicd + GICD_IPRIORITYR + i, GIC_PRIO_DEFAULT * 0x01010101u);
        mmio_write32(gicd + GICD_ITARGETSR + i, 0x01010101u); /* CPU interface 0 */
    }
    /* GICv2 spec 4.3.1: without Security Extensions bit 0 enables group 0, bit 1 group 1. */
    mmio_write32(gicd + GICD_CTLR, 3);

    uint32_t vtr = mmio_read32(gich + GICH_VTR);
    gic_lr_count = (vtr & 0x3f) + 1; /* GICv2 spec 5.3.2: ListRegs = number of LRs - 1 */
    if (gic_lr_count > GIC_MAX_LRS) {
        gic_lr_count = GIC_MAX_LRS;
    }
    gic_cpu_init();
}

/* Banked per-CPU state: SGIs/PPIs, CPU interface, GICH. */
void gic_cpu_init(void)
{
    mmio_write32(gicd + GICD_ICENABLER, 0xffffffff);
    mmio_write32(gicd + GICD_ICPENDR, 0xffffffff);
    mmio_write32(gicd + GICD_ICACTIVER, 0xffffffff);
    mmio_write32(gicd + GICD_IGROUPR, 0);
    for (uint32_t i = 0; i < 32; i += 4) {
        mmio_write32(gicd + GICD_IPRIORITYR + i, GIC_PRIO_DEFAULT * 0x01010101u);
    }
    mmio_write32(gicc + GICC_PMR, GIC_PMR_ALL);
    mmio_write32(gicc + GICC_BPR, 0);
    mmio_write32(gicc + GICC_CTLR, 3); /* EnableGrp0 | EnableGrp1, FIQEn = 0, EOImode 0 */
    mmio_write32(gich + GICH_HCR, 0);
    mmio_write32(gich + GICH_VMCR, 0);
    mmio_write32(gich + GICH_APR, 0);
    for (unsigned i = 0; i < gic_lr_count; i++) {
        mmio_write32(gich + GICH_LR0 + 4 * i, 0);
    }
}

uint32_t gic_max_intid(void)
{
    return max_intid;
}

void gic_irq_enable(uint32_t intid)
{
    mmio_write32(gicd + GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

void gic_irq_disable(uint32_t intid)
{
    mmio_write32(gicd + GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

/* GICv2 spec 4.3.13 GICD_ICFGRn: bit 2n+1 set = edge-triggered (SPIs only). */
void gic_irq_configure(uint32_t intid, bool edge)
{
    uintptr_t reg = gicd + GICD_ICFGR + 4 * (intid / 16);
    uint32_t bit = 2u << (2 * (intid % 16));
    uint32_t v = mmio_read32(reg);
    mmio_write32(reg, edge ? (v | bit) : (v & ~bit));
}

void gich_write_vmcr(uint32_t v)
{
    mmio_write32(gich + GICH_VMCR, v);
}

void gich_write_apr(uint32_t v)
{
    mmio_write32(gich + GICH_APR, v);
}

uint32_t gich_read_vmcr(void)
{
    return mmio_read32(gich + GICH_VMCR);
}

uint32_t gich_read_apr(void)
{
    return mmio_read32(gich + GICH_APR);
}
