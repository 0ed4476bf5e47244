/*
 * The virtual GIC, version-independent core (library-internal).
 *
 * Per-INTID state machine (GIC architecture spec IHI 0048B section 3.2.4 /
 * IHI 0069 section 4.1.2), list-register management, and the distributor
 * register files. virq.c implements the seed virq_* API on top of this.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/guest.h>
#include <libvmm/virq.h>

#define VGIC_NUM_SGIS 16
#define VGIC_NUM_PPIS 16
#define VGIC_NUM_LOCAL 32 /* SGIs + PPIs, banked per vCPU */
#define VGIC_MAX_SPIS 256 /* SPIs 32..287 */
#define VGIC_MAX_INTID (VGIC_NUM_LOCAL + VGIC_MAX_SPIS - 1)
#define VGIC_MAX_LRS 16
#define VGIC_VTIMER_PPI 27

/*
 * Initialise for the configured guest: learns the LR count from the kernel,
 * resets all state, registers the distributor MMIO window. False (logged) on
 * an unsupported configuration.
 */
bool vgic_init(const struct guest_config *config);

/* True once vgic_init() succeeded. */
bool vgic_ready(void);

/*
 * Back to the power-on state for a guest reboot: every INTID inactive,
 * disabled, default priority/target/config; no LR considered occupied;
 * overflow queues empty. Registrations (ack callbacks) are kept.
 */
void vgic_reset(void);

/* Register an ack callback for intid (per vCPU for < 32, global for SPIs). */
bool vgic_register_irq(size_t vcpu, unsigned intid, virq_ack_fn_t ack_fn, void *cookie);

/* True if intid is registered (for vcpu when intid < 32). */
bool vgic_irq_registered(size_t vcpu, unsigned intid);

/* Make intid pending (edge). False if not registered / invalid. */
bool vgic_inject(size_t vcpu, unsigned intid);

/* VGICMaintenance fault: LR `lr_index` (or -1) was EOIed by the guest. */
bool vgic_handle_maintenance(size_t vcpu, seL4_Word lr_index);

/* VPPIEvent fault for `irq` (27, the virtual timer). */
bool vgic_handle_vppi(size_t vcpu, seL4_Word irq);

/* True if vcpu has an interrupt pending that it could take now. */
bool vgic_vcpu_has_pending(size_t vcpu);
