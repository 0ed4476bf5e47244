/*
 * Physical GICv3 (IHI 0069): distributor with affinity routing, one
 * redistributor per CPU (found by its GICR_TYPER affinity and woken through
 * GICR_WAKER), the CPU interface through system registers at EL2, and the
 * virtual interface through ICH_*_EL2. Everything is Group 1 (acknowledged
 * with ICC_IAR1_EL1); SPIs are routed to the boot CPU. EOImode 1 as seL4
 * (ABI 4.4): ICC_EOIR1_EL1 drops the priority, ICC_DIR_EL1 or
 * GICD_ICACTIVERn deactivates.
 *
 * For the guest (ABI 4.4, notes of the vGICv3 side): ICC_SRE_EL2 = SRE | DFB
 * | DIB with Enable = 0; ICH_HCR_EL2.TC/TALL0/TALL1/TDIR clear and En = 1
 * while the guest runs, so the guest's ICC_* accesses go to the virtual CPU
 * interface (HCR_EL2.IMO/FMO = 1) and only ICC_SGI*R_EL1 writes trap.
 * GICD and GICR are never mapped into a guest: a VMM emulates them.
 */
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/gic_impl.h>
#include <hyp/log.h>
#include <hyp/platform.h>

#define GICD_CTLR_RWP (1u << 31)
#define GICD_CTLR_ARE (1u << 4)
#define GICD_CTLR_ENABLE_G1 (1u << 1) /* single security state: EnableGrp1; NS view: EnableGrp1A */
#define GICD_CTLR_ENABLE_G0 (1u << 0) /* single security state: EnableGrp0; NS view: EnableGrp1 */
#define GICD_IROUTER 0x6000
/* Redistributor: RD_base frame (12.10), then the SGI_base frame 64 KiB above it. */
#define GICR_CTLR 0x0000
#define GICR_CTLR_RWP (1u << 3)
#define GICR_TYPER 0x0008
#define GICR_TYPER_VLPIS (1ull << 1)
#define GICR_TYPER_LAST (1ull << 4)
#define GICR_WAKER 0x0014
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)
#define GICR_SGI_BASE 0x10000
#define GICR_FRAME 0x20000 /* RD_base + SGI_base; with VLPIs two more frames */
/* ICC_SRE_EL2 (12.2.22): SRE, DFB, DIB; Enable (bit 3) = 0 so EL1 ICC_SRE_EL1 accesses trap. */
#define ICC_SRE_EL2_VALUE 0x7ull
#define ICC_CTLR_EOIMODE (1ull << 1)

/* The ICH_LR<n>_EL2 / ICH_AP<g>R0_EL2 accessors need the register number in the instruction. */
#define LR_CASES(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

static void wait_rwp(uintptr_t reg, uint32_t bit)
{
    while (mmio_read32(reg) & bit) {
        cpu_relax();
    }
}

/* MPIDR_EL1 -> GICD_IROUTERn affinity (Aff3 39:32, Aff2 23:16, Aff1 15:8, Aff0 7:0; IRM 0). */
static uint64_t mpidr_route(uint64_t mpidr)
{
    return mpidr & 0xff00ffffffull;
}

/* MPIDR_EL1 -> the 32-bit affinity value of GICR_TYPER[63:32] (Aff3.Aff2.Aff1.Aff0). */
static uint32_t mpidr_typer_affinity(uint64_t mpidr)
{
    return (uint32_t)(((mpidr >> 8) & 0xff000000ull) | (mpidr & 0xffffffull));
}

void gic3_init(void)
{
    uintptr_t d = gic_gicd;
    uint64_t route = mpidr_route(sysreg_read(mpidr_el1));
    mmio_write32(d + GICD_CTLR, 0);
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP);
    /* Affinity routing first, with both groups disabled (12.9.4). */
    mmio_write32(d + GICD_CTLR, GICD_CTLR_ARE);
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP);
    for (uint32_t i = 32; i < gic_intids; i += 32) {
        gic_reset_bank(d, i, 0xffffffff);
    }
    for (uint32_t i = 32; i < gic_intids; i += 16) {
        mmio_write32(d + GICD_ICFGR + i / 4, 0); /* level-sensitive */
    }
    for (uint32_t i = 32; i < gic_intids; i++) {
        mmio_write64(d + GICD_IROUTER + 8 * i, route);
    }
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP);
    mmio_write32(d + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1 | GICD_CTLR_ENABLE_G0);
    wait_rwp(d + GICD_CTLR, GICD_CTLR_RWP);
    gic_lrs = (unsigned)(sysreg_read(ich_vtr_el2) & 0x1f) + 1; /* 12.4.9 ListRegs = number of LRs - 1 */
    if (gic_lrs > 16) {
        gic_lrs = 16; /* ICH_LR0..15_EL2 */
    }
}

/* This CPU's redistributor: the frame whose GICR_TYPER affinity is our MPIDR's (12.10.32). */
static uintptr_t find_redistributor(uint64_t mpidr)
{
    uint32_t aff = mpidr_typer_affinity(mpidr);
    uintptr_t rd = platform.gicr_pa, end = platform.gicr_pa + platform.gicr_size;
    while (rd + GICR_FRAME <= end) {
        uint64_t typer = mmio_read64(rd + GICR_TYPER);
        if ((uint32_t)(typer >> 32) == aff) {
            return rd;
        }
        if (typer & GICR_TYPER_LAST) {
            break;
        }
        rd += (typer & GICR_TYPER_VLPIS) ? 2 * GICR_FRAME : GICR_FRAME;
    }
    hyp_panic("GICv3: no redistributor for MPIDR 0x%lx in 0x%lx+0x%lx", mpidr, platform.gicr_pa, platform.gicr_size);
}

void gic3_cpu_init(void)
{
    struct hyp_cpu *c = cpu_this();
    uint64_t mpidr = sysreg_read(mpidr_el1);
    uintptr_t rd = find_redistributor(mpidr);
    c->gicr_sgi = rd + GICR_SGI_BASE;
    /* 12.10.42 GICR_WAKER: clear ProcessorSleep, then wait until ChildrenAsleep reads 0. */
    mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
    while (mmio_read32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP) {
        cpu_relax();
    }
    gic_reset_bank(c->gicr_sgi, 0, 0xffffffff);
    wait_rwp(rd + GICR_CTLR, GICR_CTLR_RWP);

    sysreg_write(icc_sre_el2, ICC_SRE_EL2_VALUE);
    isb();
    sysreg_write(icc_pmr_el1, GIC_PMR_ALL);
    sysreg_write(icc_bpr1_el1, 0);
    sysreg_write(icc_ctlr_el1, ICC_CTLR_EOIMODE);
    sysreg_write(icc_igrpen1_el1, 1);
    isb();

    sysreg_write(ich_hcr_el2, 0);
    sysreg_write(ich_vmcr_el2, 0);
    sysreg_write(ich_ap0r0_el2, 0);
    sysreg_write(ich_ap1r0_el2, 0);
    for (unsigned i = 0; i < gic_lrs; i++) {
        gic3_vif_write_lr(i, 0);
    }
    isb();
}

/* 12.9.22 GICD_IROUTERn: Interrupt_Routing_Mode 0, the target's affinity. */
void gic3_irq_route(uint32_t intid, unsigned cpu)
{
    mmio_write64(gic_gicd + GICD_IROUTER + 8 * intid, mpidr_route(hyp_cpus[cpu].mpidr));
}

/* 12.2.16 ICC_IGRPEN1_EL1: Group 1 (everything hyp uses) disabled on this CPU interface. */
void gic3_cpu_disable(void)
{
    sysreg_write(icc_igrpen1_el1, 0);
    isb();
}

/* 12.2.20 ICC_SGI1R_EL1: Aff3 55:48, RS 47:44, Aff2 39:32, INTID 27:24, Aff1 23:16, TargetList 15:0. */
void gic3_send_sgi(unsigned cpu, uint32_t intid)
{
    uint64_t mpidr = hyp_cpus[cpu].mpidr;
    uint64_t aff0 = mpidr & 0xff;
    uint64_t v = (((mpidr >> 32) & 0xff) << 48) | ((aff0 >> 4) << 44) | (((mpidr >> 16) & 0xff) << 32) |
                 ((uint64_t)(intid & 0xf) << 24) | (((mpidr >> 8) & 0xff) << 16) | (1ull << (aff0 & 0xf));
    sysreg_write(icc_sgi1r_el1, v);
    isb();
}

#define READ_LR(n)                                                                                                     \
    case n:                                                                                                            \
        return sysreg_read(ich_lr##n##_el2);
uint64_t gic3_vif_read_lr(unsigned idx)
{
    switch (idx) {
        LR_CASES(READ_LR)
    default:
        return 0;
    }
}

#define WRITE_LR(n)                                                                                                    \
    case n:                                                                                                            \
        sysreg_write(ich_lr##n##_el2, v);                                                                              \
        break;
void gic3_vif_write_lr(unsigned idx, uint64_t v)
{
    switch (idx) {
        LR_CASES(WRITE_LR)
    default:
        break;
    }
}

uint32_t gic3_vif_read_vmcr(void)
{
    return (uint32_t)sysreg_read(ich_vmcr_el2);
}

void gic3_vif_write_vmcr(uint32_t v)
{
    sysreg_write(ich_vmcr_el2, v);
}

/* ABI 3.5 saves only ICH_AP1R0_EL2; AP0R0 is kept too (5 priority bits on QEMU: one register per group). */
void gic3_vif_read_apr(uint32_t apr[2])
{
    apr[0] = (uint32_t)sysreg_read(ich_ap0r0_el2);
    apr[1] = (uint32_t)sysreg_read(ich_ap1r0_el2);
}

void gic3_vif_write_apr(const uint32_t apr[2])
{
    sysreg_write(ich_ap0r0_el2, apr[0]);
    sysreg_write(ich_ap1r0_el2, apr[1]);
}
