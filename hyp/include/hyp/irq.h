/*
 * Physical interrupt ownership and dispatch (ABI 3.6, 3.7, 1.3 irq_ack).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct pd;

void irq_init(void);
/* Bind a device INTID to a PD channel (configured, left masked until acked). */
void irq_bind_channel(uint32_t intid, struct pd *pd, unsigned ch, bool edge);
/* Bind a virtio device's INTID to backend `index` (level, enabled): never delivered to a PD. */
void irq_bind_backend(uint32_t intid, unsigned index);
/* Acknowledge and dispatch every pending physical IRQ of this CPU. */
void irq_poll(void);
/* Before entering the loaded vCPU: unmask the vtimer PPI if AckVPPI cleared the flag (ABI 3.6). */
void irq_vcpu_entry(void);
/* seL4_IRQHandler_Ack on an IRQ channel of `pd`. */
void irq_ack_channel(struct pd *pd, unsigned ch);
