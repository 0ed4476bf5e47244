/*
 * The physical GIC, version-neutral part: what the distributor registers of
 * both versions share, list-register encodings (ABI 3.1), and dispatch to
 * gic_v2.c or gic_v3.c. hyp polls the acknowledge register from its event
 * loop with PSTATE.I masked. Configuration follows seL4 (ABI 4.4): SPIs
 * level-triggered unless the system description says edge, routed to the
 * boot CPU at first and then to the first CPU of the PD that owns them; GICv2 EOImode 0 (EOI drops priority and
 * deactivates), GICv3 EOImode 1 (EOI drops priority; a PD's interrupt is deactivated by its ack).
 */
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/gic_impl.h>
#include <hyp/log.h>
#include <hyp/platform.h>

bool gic_v3;
uintptr_t gic_gicd;
unsigned gic_lrs;
uint32_t gic_intids;

void gic_reset_bank(uintptr_t base, uint32_t first_intid, uint32_t group)
{
    uint32_t off = first_intid / 8;
    mmio_write32(base + GICD_ICENABLER + off, 0xffffffff);
    mmio_write32(base + GICD_ICPENDR + off, 0xffffffff);
    mmio_write32(base + GICD_ICACTIVER + off, 0xffffffff);
    mmio_write32(base + GICD_IGROUPR + off, group);
    for (uint32_t i = 0; i < 32; i += 4) {
        mmio_write32(base + GICD_IPRIORITYR + first_intid + i, GIC_PRIO_DEFAULT * 0x01010101u);
    }
}

void gic_init(void)
{
    gic_v3 = platform.gic_version == 3;
    gic_gicd = platform.gicd_pa;
    gic_intids = 32 * ((mmio_read32(gic_gicd + GICD_TYPER) & 0x1f) + 1);
    if (gic_intids > GIC_MAX_INTID) {
        gic_intids = GIC_MAX_INTID;
    }
    if (gic_v3) {
        gic3_init();
    } else {
        gic2_init();
    }
    if (gic_lrs > GIC_MAX_LRS) {
        gic_lrs = GIC_MAX_LRS;
    }
    gic_cpu_init();
}

void gic_cpu_init(void)
{
    if (gic_v3) {
        gic3_cpu_init();
    } else {
        gic2_cpu_init();
    }
}

uint32_t gic_max_intid(void)
{
    return gic_intids;
}

/* SGIs and PPIs: GICv2 banks them in the distributor, GICv3 has them in this CPU's redistributor SGI frame. */
static uintptr_t enable_base(uint32_t intid)
{
    return gic_v3 && intid < 32 ? cpu_this()->gicr_sgi : gic_gicd;
}

void gic_irq_enable(uint32_t intid)
{
    mmio_write32(enable_base(intid) + GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

void gic_irq_disable(uint32_t intid)
{
    mmio_write32(enable_base(intid) + GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

/* GICD_ICFGRn (IHI 0048B 4.3.13, IHI 0069 12.9.9): bit 2n+1 set = edge-triggered (SPIs only). */
void gic_irq_configure(uint32_t intid, bool edge)
{
    uintptr_t reg = gic_gicd + GICD_ICFGR + 4 * (intid / 16);
    uint32_t bit = 2u << (2 * (intid % 16));
    uint32_t v = mmio_read32(reg);
    mmio_write32(reg, edge ? (v | bit) : (v & ~bit));
}

void gic_irq_route(uint32_t intid, unsigned cpu)
{
    if (gic_v3) {
        gic3_irq_route(intid, cpu);
    } else {
        gic2_irq_route(intid, cpu);
    }
}

void gic_cpu_disable(void)
{
    if (gic_v3) {
        gic3_cpu_disable();
    } else {
        gic2_cpu_disable();
    }
}

void gic_deactivate(uint32_t intid)
{
    mmio_write32(gic_gicd + GICD_ICACTIVER + 4 * (intid / 32), 1u << (intid % 32));
}

void gic_send_sgi(unsigned cpu, uint32_t intid)
{
    /* The IPI must not overtake the stores it announces (the target reads them when it wakes). */
    dsb(ish);
    if (gic_v3) {
        gic3_send_sgi(cpu, intid);
    } else {
        gic2_send_sgi(cpu, intid);
    }
}

uint32_t gic_vif_read_vmcr(void)
{
    return gic_v3 ? gic3_vif_read_vmcr() : gic2_vif_read_vmcr();
}

void gic_vif_write_vmcr(uint32_t v)
{
    if (gic_v3) {
        gic3_vif_write_vmcr(v);
    } else {
        gic2_vif_write_vmcr(v);
    }
}

void gic_vif_read_apr(uint32_t apr[2])
{
    if (gic_v3) {
        gic3_vif_read_apr(apr);
    } else {
        gic2_vif_read_apr(apr);
    }
}

void gic_vif_write_apr(const uint32_t apr[2])
{
    if (gic_v3) {
        gic3_vif_write_apr(apr);
    } else {
        gic2_vif_write_apr(apr);
    }
}
