/*
 * GICv3 redistributors (GIC architecture spec IHI 0069, sections 12.10 and
 * 12.11): one per vCPU, each two contiguous 64 KiB frames, RD_base then
 * SGI_base, the frames of vCPU n at gicr_gpa + n * 128 KiB. Any vCPU may
 * access any redistributor (Linux reads every GICR_TYPER to find its own);
 * the SGI_base frame of vCPU n shows vCPU n's banked SGIs and PPIs.
 *
 * RD_base:
 *  - GICR_CTLR: no LPIs, so EnableLPIs is RAZ/WI; RWP and UWP read 0 (writes
 *    take effect at once); DPG* RAZ/WI (GICR_TYPER.DPGS = 0).
 *  - GICR_IIDR = VGIC_V3_IIDR.
 *  - GICR_TYPER (64-bit, or 32-bit halves): Affinity_Value [63:32] =
 *    Aff3.Aff2.Aff1.Aff0 of vcpu_mpidr(n), the MPIDR the vCPU reads and the
 *    DT's cpu reg; Processor_Number [23:8] = n; Last [4] on the final frame;
 *    PLPIS, VLPIS, DirectLPI, DPGS, PPInum all 0 (no LPIs, no extended PPIs).
 *  - GICR_WAKER: ProcessorSleep [1] is read/write, ChildrenAsleep [2] follows
 *    it without delay (so "write ProcessorSleep = 0, poll ChildrenAsleep
 *    until 0" completes at the first poll). Both reset to 1. Delivery of
 *    SGIs/PPIs is not gated by it; it chooses the vCPUs of 1-of-N SPIs.
 *  - GICR_STATUSR, PROPBASER, PENDBASER, SETLPIR, CLRLPIR, INVLPIR, INVALLR,
 *    SYNCR (Busy 0) and every reserved offset: RAZ/WI.
 *  - PIDR2.ArchRev = 3 at 0xffe8 (vgic_v3_id_reg()).
 * SGI_base: IGROUPR0, IS/ICENABLER0, IS/ICPENDR0, IS/ICACTIVER0,
 * IPRIORITYR0-7, ICFGR0 (SGIs, read-only edge) and ICFGR1 (PPIs) through the
 * shared block (vgic_v3_regs.c); IGRPMODR0 and NSACR (one security state) and
 * the extended PPI registers are RAZ/WI.
 */
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "vcpu.h"
#include "vgic/vgic_internal.h"

#define GICR_SGI_BASE 0x10000

#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_TYPER_HIGH 0x000c
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PENDBASER 0x0078

#define GICR_TYPER_LAST (1u << 4)
#define GICR_TYPER_PROC_SHIFT 8

#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)

/* GICR_TYPER of the redistributor of vCPU n. */
static uint64_t typer(size_t n)
{
    uint64_t mpidr = vcpu_mpidr(n);
    uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24; /* Aff3.Aff2.Aff1.Aff0 */
    uint64_t value = aff << 32 | (uint64_t)n << GICR_TYPER_PROC_SHIFT;
    if (n + 1 == vgic_state.num_vcpus) {
        value |= GICR_TYPER_LAST;
    }
    return value;
}

static uint32_t waker_read(size_t n)
{
    return vgic_state.vcpu[n].rd_asleep ? GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP : 0;
}

static void waker_write(size_t n, uint32_t value)
{
    bool asleep = (value & GICR_WAKER_PROCESSOR_SLEEP) != 0;
    if (asleep != vgic_state.vcpu[n].rd_asleep) {
        vgic_state.vcpu[n].rd_asleep = asleep;
        vgic_v3_awake_changed();
    }
}

/* The 64-bit registers of RD_base: 8-byte accesses, or 4-byte accesses to either half. */
static bool rd_reg64(uint32_t off, uint32_t *base)
{
    uint32_t b = off & ~7u;
    if (b == GICR_TYPER || b == GICR_PROPBASER || b == GICR_PENDBASER) {
        *base = b;
        return true;
    }
    return false;
}

static void rd_access64(size_t vcpu, size_t n, struct mmio_access *access, uint32_t off, uint32_t base)
{
    bool whole = access->width == 8 && off == base;
    bool half = access->width == 4 && (off & 3) == 0;
    if (!whole && !half) {
        vgic_v3_bad_access(vcpu, "GICR_RD_base", access, off);
        return;
    }
    if (access->is_write || base != GICR_TYPER) {
        return; /* TYPER is read-only; PROPBASER/PENDBASER RAZ/WI without LPIs */
    }
    uint64_t value = typer(n);
    access->value = whole ? value : (uint32_t)(off == GICR_TYPER_HIGH ? value >> 32 : value);
}

static void rd_access(size_t vcpu, size_t n, struct mmio_access *access, uint32_t off)
{
    uint32_t base;
    if (rd_reg64(off, &base)) {
        rd_access64(vcpu, n, access, off, base);
        return;
    }
    if (access->width != 4 || (off & 3) != 0) {
        vgic_v3_bad_access(vcpu, "GICR_RD_base", access, off);
        return;
    }
    if (access->is_write) {
        if (off == GICR_WAKER) {
            waker_write(n, (uint32_t)access->value);
        }
        return; /* CTLR, STATUSR and the LPI registers: WI */
    }
    switch (off) {
    case GICR_IIDR:
        access->value = VGIC_V3_IIDR;
        break;
    case GICR_WAKER:
        access->value = waker_read(n);
        break;
    default:
        access->value = vgic_v3_id_reg(off); /* 0 outside the ID block: CTLR, STATUSR, SYNCR, reserved */
        break;
    }
}

static void sgi_access(size_t vcpu, size_t n, struct mmio_access *access, uint32_t off)
{
    if (vgic_v3_irq_regs(vcpu, n, access, off, 0, VGIC_NUM_LOCAL)) {
        return;
    }
    if (access->width != 4 || (off & 3) != 0) {
        vgic_v3_bad_access(vcpu, "GICR_SGI_base", access, off);
    }
    /* IGRPMODR0, NSACR, extended PPI registers, reserved: RAZ/WI (access->value is already 0). */
}

bool vgic_v3_redist_mmio(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)cookie;
    uint64_t off = access->offset;
    if (!access->is_write) {
        access->value = 0;
    }
    if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus || off >= vgic_v3_redist_window(vgic_state.num_vcpus)) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: redistributor access at offset 0x%llx refused: RAZ/WI", vcpu,
                  (unsigned long long)off);
        return true;
    }
    size_t n = (size_t)(off / VGIC_V3_REDIST_SIZE);
    uint32_t in = (uint32_t)(off % VGIC_V3_REDIST_SIZE);
    if (in >= GICR_SGI_BASE) {
        sgi_access(vcpu, n, access, in - GICR_SGI_BASE);
    } else {
        rd_access(vcpu, n, access, in);
    }
    return true;
}
