/*
 * GIC helpers for the test guests (gic.h). GICv2: IHI 0048B chapter 4.
 * GICv3: IHI 0069, chapter 12 for the registers and the redistributor
 * power-up sequence ("Power management", GICR_WAKER).
 */
#include "gic.h"
#include "guest.h"

#define GICD_PIDR2_V2 0xfe8 /* in the 4 KiB GICv2 distributor */
#define GICD_PIDR2_V3 0xffe8 /* in the 64 KiB GICv3 frames */
#define PIDR2_ARCHREV(v) (((v) >> 4) & 0xf)

#define GICD_CTLR_V2_ENABLE 0x3u /* EnableGrp0 | EnableGrp1 (4.3.1) */
#define GICD_CTLR_V3_ENABLE 0x13u /* EnableGrp0 | EnableGrp1 | ARE, one security state (GICD_CTLR, DS = 1) */
#define GICD_CTLR_RWP (1u << 31)

#define GICC_CTLR 0x000
#define GICC_PMR 0x004
#define GICC_IAR 0x00c
#define GICC_EOIR 0x010
#define GICC_CTLR_ENABLE_GRP0 0x1u

#define GICR_TYPER 0x008
#define GICR_TYPER_LAST (1u << 4)
#define GICR_WAKER 0x014
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)
#define GICR_MAX_FRAMES 64

#define PRIORITY_MASK 0xf0u
#define SGI_BITS 0xffffu
#define POLL_LIMIT 1000000u

GUEST_DATA static unsigned version;
GUEST_DATA static uintptr_t redist[GUEST_MAX_CPUS];

unsigned gic_version(void)
{
    if (version != 0) {
        return version;
    }
    /* The GICv2 offset first: GICv3's frame is larger, a GICv2 has nothing at 0xffe8. */
    unsigned rev = PIDR2_ARCHREV(gic_read(GIC_DIST_BASE + GICD_PIDR2_V2));
    if (rev == 1 || rev == 2) {
        version = 2;
    } else {
        rev = PIDR2_ARCHREV(gic_read(GIC_DIST_BASE + GICD_PIDR2_V3));
        version = rev == 3 || rev == 4 ? 3 : 0;
    }
    return version;
}

static bool poll_clear(uintptr_t addr, uint32_t bits)
{
    for (unsigned i = 0; i < POLL_LIMIT; i++) {
        if ((gic_read(addr) & bits) == 0) {
            return true;
        }
    }
    return false;
}

bool gic_init_dist(void)
{
    switch (gic_version()) {
    case 2:
        gic_write(GIC_DIST_BASE + GICD_CTLR, GICD_CTLR_V2_ENABLE);
        return true;
    case 3:
        gic_write(GIC_DIST_BASE + GICD_CTLR, GICD_CTLR_V3_ENABLE);
        return poll_clear(GIC_DIST_BASE + GICD_CTLR, GICD_CTLR_RWP);
    default:
        uart_puts("guest: no GICv2 or GICv3 at the distributor (PIDR2.ArchRev)\n");
        return false;
    }
}

static bool init_cpu_v2(void)
{
    gic_write(GIC_DIST_BASE + GICD_ISENABLER, SGI_BITS); /* banked: this CPU's SGIs */
    gic_write(GIC_CPU_BASE + GICC_PMR, PRIORITY_MASK);
    gic_write(GIC_CPU_BASE + GICC_CTLR, GICC_CTLR_ENABLE_GRP0);
    return true;
}

/* GICR_TYPER.Affinity_Value (63:32) is Aff3.Aff2.Aff1.Aff0 of the PE it serves (IHI 0069, GICR_TYPER). */
static uintptr_t find_redist(uint64_t mpidr)
{
    uint32_t want = (uint32_t)((mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24);
    for (unsigned i = 0; i < GICR_MAX_FRAMES; i++) {
        uintptr_t rd = GIC_REDIST_BASE + i * GIC_REDIST_STRIDE;
        uint32_t lo = gic_read(rd + GICR_TYPER);
        if (gic_read(rd + GICR_TYPER + 4) == want) {
            return rd;
        }
        if (lo & GICR_TYPER_LAST) {
            break;
        }
    }
    return 0;
}

#define ICC_WRITE(reg, v) __asm__ volatile("msr " reg ", %0" ::"r"((uint64_t)(v)) : "memory")
#define ICC_READ(reg, v) __asm__ volatile("mrs %0, " reg : "=r"(v)::"memory")
#define ICC_PMR_EL1 "S3_0_C4_C6_0"
#define ICC_IAR0_EL1 "S3_0_C12_C8_0"
#define ICC_EOIR0_EL1 "S3_0_C12_C8_1"
#define ICC_SGI1R_EL1 "S3_0_C12_C11_5"
#define ICC_ASGI1R_EL1 "S3_0_C12_C11_6"
#define ICC_SGI0R_EL1 "S3_0_C12_C11_7"
#define ICC_IAR1_EL1 "S3_0_C12_C12_0"
#define ICC_EOIR1_EL1 "S3_0_C12_C12_1"
#define ICC_SRE_EL1 "S3_0_C12_C12_5"
#define ICC_IGRPEN0_EL1 "S3_0_C12_C12_6"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"

static bool init_cpu_v3(void)
{
    uint64_t mpidr, sre;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    uintptr_t rd = find_redist(mpidr);
    if (rd == 0) {
        uart_puts("guest: no redistributor's GICR_TYPER names this CPU\n");
        return false;
    }
    redist[guest_cpu() % GUEST_MAX_CPUS] = rd;
    gic_write(rd + GICR_WAKER, gic_read(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
    if (!poll_clear(rd + GICR_WAKER, GICR_WAKER_CHILDREN_ASLEEP)) {
        uart_puts("guest: redistributor stays asleep (GICR_WAKER.ChildrenAsleep)\n");
        return false;
    }
    uintptr_t sgi = rd + GIC_REDIST_SGI_FRAME;
    gic_write(sgi + GICD_IGROUPR, ~0u);
    gic_write(sgi + GICD_ISENABLER, SGI_BITS);

    ICC_READ(ICC_SRE_EL1, sre);
    ICC_WRITE(ICC_SRE_EL1, sre | 1);
    __asm__ volatile("isb");
    ICC_READ(ICC_SRE_EL1, sre);
    if ((sre & 1) == 0) {
        uart_puts("guest: ICC_SRE_EL1.SRE stays 0: no system-register CPU interface\n");
        return false;
    }
    ICC_WRITE(ICC_PMR_EL1, PRIORITY_MASK);
    ICC_WRITE(ICC_IGRPEN0_EL1, 1);
    ICC_WRITE(ICC_IGRPEN1_EL1, 1);
    __asm__ volatile("isb");
    return true;
}

bool gic_init_cpu(void)
{
    switch (gic_version()) {
    case 2:
        return init_cpu_v2();
    case 3:
        return init_cpu_v3();
    default:
        return false;
    }
}

uintptr_t gic_redist(unsigned cpu)
{
    return cpu < GUEST_MAX_CPUS ? redist[cpu] : 0;
}

uint32_t gic_ack(bool fiq)
{
    uint64_t v;
    if (gic_version() == 2) {
        return gic_read(GIC_CPU_BASE + GICC_IAR);
    }
    if (fiq) {
        ICC_READ(ICC_IAR0_EL1, v);
    } else {
        ICC_READ(ICC_IAR1_EL1, v);
    }
    return (uint32_t)v;
}

void gic_eoi(uint32_t iar, bool fiq)
{
    if (gic_version() == 2) {
        gic_write(GIC_CPU_BASE + GICC_EOIR, iar);
    } else if (fiq) {
        ICC_WRITE(ICC_EOIR0_EL1, iar);
    } else {
        ICC_WRITE(ICC_EOIR1_EL1, iar);
    }
}

void gic_sgi1r(uint64_t value)
{
    ICC_WRITE(ICC_SGI1R_EL1, value);
    __asm__ volatile("isb");
}

void gic_sgi0r(uint64_t value)
{
    ICC_WRITE(ICC_SGI0R_EL1, value);
    __asm__ volatile("isb");
}

void gic_asgi1r(uint64_t value)
{
    ICC_WRITE(ICC_ASGI1R_EL1, value);
    __asm__ volatile("isb");
}
