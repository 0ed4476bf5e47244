/*
 * GIC helpers for the test guests, both versions, the version read from the
 * distributor's PIDR2.ArchRev (the GICD_PIDR2 of IHI 0048B and IHI 0069), never
 * assumed. Addresses are QEMU virt's, which the guest DT repeats
 * (examples/linux/guest/gen-dts.sh): GICv2 GICD + GICC (the GICV page under
 * hyp), GICv3 GICD + one 128 KiB redistributor per CPU, whose own is found by
 * GICR_TYPER affinity (IHI 0069, GICR_TYPER), and the ICC_* system registers.
 *
 * Every SGI/PPI is group 0 on GICv2 and group 1 on GICv3, priority 0; the
 * priority mask is 0xf0; EOImode 0 (EOI also deactivates).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define GIC_DIST_BASE 0x08000000ul
#define GIC_CPU_BASE 0x08010000ul
#define GIC_REDIST_BASE 0x080a0000ul
#define GIC_REDIST_STRIDE 0x20000ul
#define GIC_REDIST_SGI_FRAME 0x10000ul

/* Distributor (IHI 0048B table 4-1), and the same offsets in a GICv3 SGI_base frame (IHI 0069 12.10). */
#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ISPENDR 0x200
#define GICD_ICPENDR 0x280
#define GICD_ISACTIVER 0x300
#define GICD_ICACTIVER 0x380
#define GICD_SGIR 0xf00
#define GICD_CPENDSGIR 0xf10
#define GICD_SPENDSGIR 0xf20

/* GICD_SGIR (IHI 0048B 4.3.15). */
#define GICD_SGIR_FILTER(f) ((uint32_t)(f) << 24)
#define GICD_SGIR_TARGETS(list) ((uint32_t)(list) << 16)

/* ICC_SGI0R/SGI1R/ASGI1R_EL1 (IHI 0069 12.11): TargetList, Aff1, INTID, Aff2, IRM, RS, Aff3. */
#define ICC_SGIR_TARGETS(list) ((uint64_t)(list)&0xffff)
#define ICC_SGIR_AFF1(a) ((uint64_t)(a) << 16)
#define ICC_SGIR_INTID(i) ((uint64_t)(i) << 24)
#define ICC_SGIR_AFF2(a) ((uint64_t)(a) << 32)
#define ICC_SGIR_IRM (1ull << 40)
#define ICC_SGIR_RS(rs) ((uint64_t)(rs) << 44)
#define ICC_SGIR_AFF3(a) ((uint64_t)(a) << 48)

/* The INTID of an acknowledge value; 1023 = spurious. GICv2 GICC_IAR: CPUID (an SGI's source) in 12:10. */
#define GIC_IAR_INTID(v) ((v)&0x3ffu)
#define GIC_IAR_CPUID(v) (((v) >> 10) & 7u)
#define GIC_SPURIOUS 1023u

static inline uint32_t gic_read(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}

static inline void gic_write(uintptr_t addr, uint32_t value)
{
    *(volatile uint32_t *)addr = value;
}

static inline uint8_t gic_read8(uintptr_t addr)
{
    return *(volatile uint8_t *)addr;
}

static inline void gic_write8(uintptr_t addr, uint8_t value)
{
    *(volatile uint8_t *)addr = value;
}

/* 2 or 3 (GICv4 counts as 3), 0 if the distributor says neither. Read once, then remembered. */
unsigned gic_version(void);

/* Once, from one CPU: distributor on, both groups (GICv3: affinity routing). False if no known GIC. */
bool gic_init_dist(void);

/*
 * Every CPU, for itself: its CPU interface on (GICv3: ICC_SRE_EL1.SRE, its
 * redistributor found and woken), its SGIs enabled and in the group above.
 * False (reported on the console) if something is missing.
 */
bool gic_init_cpu(void);

/* GICv3: the RD_base frame of CPU `cpu` as found by its gic_init_cpu(), or 0. */
uintptr_t gic_redist(unsigned cpu);

/* Acknowledge the best pending interrupt of the group an IRQ (fiq false) or FIQ (fiq true) signals. */
uint32_t gic_ack(bool fiq);

/* End it (EOImode 0: also deactivated). */
void gic_eoi(uint32_t iar, bool fiq);

/* GICv3 SGI generation: writes to ICC_SGI1R_EL1, ICC_SGI0R_EL1 and ICC_ASGI1R_EL1 (then ISB). */
void gic_sgi1r(uint64_t value);
void gic_sgi0r(uint64_t value);
void gic_asgi1r(uint64_t value);
