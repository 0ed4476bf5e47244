/*
 * Physical interrupt ownership and dispatch (ABI 3.6, 3.7, 1.3 irq_ack).
 * Interrupts are taken on the CPU they target: hyp's kick SGI and the
 * vtimer/maintenance PPIs on every CPU, a PD's SPIs on that PD's first CPU. What one does
 * to this CPU's hardware is done at once; what it means for shared state
 * (a fault, a notification) is recorded per CPU and published under the
 * kernel lock by irq_publish().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/cpu.h>

struct pd;

void irq_init(void);
/* Each CPU: enable the kick SGI, the vtimer and the maintenance PPI at its GIC. */
void irq_cpu_init(void);
/* Bind a device INTID to a PD channel (configured, left masked until acked). */
void irq_bind_channel(uint32_t intid, struct pd *pd, unsigned ch, bool edge);
/* Bind a virtio device's INTID to backend `index` of `pd` (level, enabled, routed to the PD's first CPU). */
void irq_bind_backend(uint32_t intid, unsigned index, struct pd *pd);
/* The PD's first CPU, before its init(): route every SPI bound to the PD (channels, backends) to this CPU. */
void irq_route_pd(const struct pd *pd);
/* The PD has ended: mask every SPI bound to it, for good. */
void irq_disable_pd(const struct pd *pd);
/*
 * Acknowledge and handle every pending interrupt of this CPU. `guest_exit`:
 * the guest of this CPU's vCPU has just been interrupted, so a vtimer or
 * maintenance interrupt becomes its fault (v->exit_label); otherwise they
 * are only masked and fire again at the vCPU's next entry.
 */
void irq_poll(struct hyp_cpu *c, bool guest_exit);
/* Kernel lock held: hand what irq_poll recorded on `c` to the PD and the backends. */
void irq_publish_pending(struct hyp_cpu *c);
static inline void irq_publish(struct hyp_cpu *c)
{
    if (c->irq_notify | c->irq_backends) {
        irq_publish_pending(c);
    }
}
/* Before entering the vCPU: unmask the vtimer PPI (its CPU, once AckVPPI cleared the flag: ABI 3.6). */
void irq_vtimer_unmask(struct hyp_cpu *c);
/* seL4_IRQHandler_Ack on an IRQ channel of `pd` (any CPU). */
void irq_ack_channel(struct pd *pd, unsigned ch);
