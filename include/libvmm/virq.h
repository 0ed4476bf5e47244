/*
 * Virtual interrupts: the seed virq_* functions (exact 0.1.0 signatures).
 *
 * The library emulates a GIC distributor per guest with a real per-INTID state
 * machine (inactive / pending / active / pending+active, edge or level,
 * enable, priority, target; GIC architecture spec 4.1.2). An interrupt injected
 * while the guest has it disabled stays pending and is delivered on enable.
 * One INTID is never in two list registers; every free list register is
 * refilled; overflow waits in priority order; the list-register count is
 * learned from the kernel, not assumed.
 *
 * The one approximation (the Microkit ABI has no call to read or clear a list
 * register): once a vIRQ sits in a list register, a guest write to ICPENDR or
 * ICACTIVER cannot withdraw it; the guest still receives it once, and the
 * distributor state it reads is exact up to that point.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <microkit.h>

/* Called when the guest deactivates (EOIs) `irq` on `vcpu_id`. */
typedef void (*virq_ack_fn_t)(size_t vcpu_id, int irq, void *cookie);

/*
 * Initialise the virtual interrupt controller for the guest configured by
 * guest_init(); cpu_id is the boot vCPU. Registers the distributor (and
 * redistributor) MMIO windows, the virtual timer PPI on every vCPU, and all
 * SGIs on every vCPU. Must be called before virq_register().
 */
bool virq_controller_init(size_t cpu_id);

/*
 * Register interrupt virq_num (SGI/PPI 0..31 are per vCPU; SPIs 32..287 are
 * global and vcpu_id names the vCPU they target initially). ack_fn may be NULL.
 * Refuses invalid vCPU ids, out-of-range numbers and duplicates.
 */
bool virq_register(size_t vcpu_id, size_t virq_num, virq_ack_fn_t ack_fn, void *ack_data);

/*
 * Make `irq` pending (an edge). Returns false if irq is not registered or the
 * arguments are invalid; an interrupt the guest has disabled is latched and
 * the call returns true.
 */
bool virq_inject(size_t vcpu_id, int irq);

/*
 * Route hardware interrupt `irq`, delivered on Microkit channel irq_ch, to the
 * guest as the same INTID. The channel is acked when the guest EOIs.
 */
bool virq_register_passthrough(size_t vcpu_id, size_t irq, microkit_channel irq_ch);

/* Inject the interrupt registered for irq_ch; false if none is registered. */
bool virq_handle_passthrough(microkit_channel irq_ch);
