/*
 * Internal to gic.c, gic_v2.c and gic_v3.c: the state they share and the
 * per-version halves behind the interface of <hyp/gic.h>.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Distributor registers at the same offsets on both versions (IHI 0048B 4.3, IHI 0069 12.9). */
#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ICPENDR 0x280
#define GICD_ICACTIVER 0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ICFGR 0xc00

/* One priority for everything hyp takes (interrupts never preempt each other at EL2). */
#define GIC_PRIO_DEFAULT 0xa0
#define GIC_PMR_ALL 0xf0

extern uintptr_t gic_gicd;
extern uint32_t gic_intids;

/* Clear enable, pending and active and set group and priority of the 32 interrupts at `base`. */
void gic_reset_bank(uintptr_t base, uint32_t first_intid, uint32_t group);

void gic2_init(void);
void gic2_cpu_init(void);
void gic2_send_sgi(unsigned cpu, uint32_t intid);
void gic2_irq_route(uint32_t intid, unsigned cpu);
void gic2_cpu_disable(void);
uint32_t gic2_vif_read_vmcr(void);
void gic2_vif_write_vmcr(uint32_t v);
void gic2_vif_read_apr(uint32_t apr[2]);
void gic2_vif_write_apr(const uint32_t apr[2]);

void gic3_init(void);
void gic3_cpu_init(void);
void gic3_send_sgi(unsigned cpu, uint32_t intid);
void gic3_irq_route(uint32_t intid, unsigned cpu);
void gic3_cpu_disable(void);
uint32_t gic3_vif_read_vmcr(void);
void gic3_vif_write_vmcr(uint32_t v);
void gic3_vif_read_apr(uint32_t apr[2]);
void gic3_vif_write_apr(const uint32_t apr[2]);
