/*
 * Physical GICv2: distributor, CPU interface and the virtual interface
 * control block GICH (IHI 0048B, GIC Architecture Specification v2).
 * hyp owns the distributor and CPU interface; the guest gets GICV.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/arch.h>

#define GIC_SPURIOUS 1023
#define GIC_MAX_INTID 1020
#define GIC_MAX_LRS 64

/* GICH_LRn fields (GICv2 spec 5.3.9; ABI 3.1). */
#define GICH_LR_VID_MASK 0x3ffu
#define GICH_LR_EOI (1u << 19)
#define GICH_LR_PRIO_SHIFT 23
#define GICH_LR_STATE_SHIFT 28
#define GICH_LR_STATE_MASK (3u << GICH_LR_STATE_SHIFT)
#define GICH_LR_STATE_PENDING (1u << GICH_LR_STATE_SHIFT)
#define GICH_LR_STATE_ACTIVE (2u << GICH_LR_STATE_SHIFT)
#define GICH_LR_GRP1 (1u << 30)
#define GICH_LR_HW (1u << 31)
/* GICH_HCR.En (GICv2 spec 5.3.1); GICH_MISR.EOI (5.3.4). */
#define GICH_HCR_EN 1u
#define GICH_MISR_EOI 1u

void gic_init(void);
void gic_cpu_init(void);
uint32_t gic_max_intid(void);

void gic_irq_enable(uint32_t intid);
void gic_irq_disable(uint32_t intid);
void gic_irq_configure(uint32_t intid, bool edge);

/*
 * The registers every guest exit with an interrupt touches are inline (DESIGN
 * 3: a short exit path): GICC_IAR/EOIR (GICv2 spec 4.4.4, 4.4.5), GICH_HCR,
 * MISR, EISR and the list registers (5.3.1, 5.3.4, 5.3.6, 5.3.9).
 */
#define GICC_IAR 0x000c
#define GICC_EOIR 0x0010
#define GICH_HCR 0x000
#define GICH_MISR 0x010
#define GICH_EISR0 0x020
#define GICH_EISR1 0x024
#define GICH_LR0 0x100

extern uintptr_t gic_gicc_base, gic_gich_base;
extern unsigned gic_lr_count;

static inline unsigned gic_num_lrs(void)
{
    return gic_lr_count;
}

static inline uint32_t gic_ack(void)
{
    return mmio_read32(gic_gicc_base + GICC_IAR);
}

static inline void gic_eoi(uint32_t iar)
{
    mmio_write32(gic_gicc_base + GICC_EOIR, iar);
}

/* Written before a guest entry when En changed (vcpu_run, irq.c). */
static inline void gich_write_hcr(uint32_t v)
{
    mmio_write32(gic_gich_base + GICH_HCR, v);
}

static inline uint32_t gich_read_misr(void)
{
    return mmio_read32(gic_gich_base + GICH_MISR);
}

static inline uint64_t gich_read_eisr(void)
{
    uint64_t lo = mmio_read32(gic_gich_base + GICH_EISR0);
    uint64_t hi = gic_lr_count > 32 ? mmio_read32(gic_gich_base + GICH_EISR1) : 0;
    return lo | (hi << 32);
}

static inline uint32_t gich_read_lr(unsigned idx)
{
    return mmio_read32(gic_gich_base + GICH_LR0 + 4 * idx);
}

static inline void gich_write_lr(unsigned idx, uint32_t v)
{
    mmio_write32(gic_gich_base + GICH_LR0 + 4 * idx, v);
}

uint32_t gich_read_vmcr(void);
void gich_write_vmcr(uint32_t v);
void gich_write_apr(uint32_t v);
uint32_t gich_read_apr(void);
