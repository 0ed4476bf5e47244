/*
 * Physical GICv2: distributor, CPU interface and the virtual interface
 * control block GICH (IHI 0048B, GIC Architecture Specification v2).
 * hyp owns the distributor and CPU interface; the guest gets GICV.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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
unsigned gic_num_lrs(void);
uint32_t gic_max_intid(void);

void gic_irq_enable(uint32_t intid);
void gic_irq_disable(uint32_t intid);
void gic_irq_configure(uint32_t intid, bool edge);
/* GICC_IAR read / GICC_EOIR write (GICv2 spec 4.4.4, 4.4.5). */
uint32_t gic_ack(void);
void gic_eoi(uint32_t iar);

/* GICH_HCR (GICv2 spec 5.3.1), written before a guest entry when En changed (vcpu_run, irq.c): inline. */
extern uintptr_t gic_gich_base;
static inline void gich_write_hcr(uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(gic_gich_base) : "memory");
}
uint32_t gich_read_misr(void);
uint64_t gich_read_eisr(void);
uint32_t gich_read_lr(unsigned idx);
void gich_write_lr(unsigned idx, uint32_t v);
uint32_t gich_read_vmcr(void);
void gich_write_vmcr(uint32_t v);
void gich_write_apr(uint32_t v);
uint32_t gich_read_apr(void);
