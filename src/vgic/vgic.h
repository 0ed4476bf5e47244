/*
 * The virtual GIC, version-independent core (library-internal).
 *
 * Per-INTID state machine (GIC architecture spec IHI 0048B section 3.2.4 /
 * IHI 0069 section 4.1.2), list-register management, and the distributor
 * register files. virq.c implements the seed virq_* API on top of this.
 * Layout: vgic.c (state machine, init, reset, injection), vgic_lr.c (pending
 * queues, list registers, maintenance), vgic_v2_dist.c (GICv2 distributor
 * registers); a GICv3 distributor/redistributor is added as further files.
 *
 * Approximations forced by the kernel ABI (no call reads or clears an LR):
 *  - A vIRQ in a list register cannot be withdrawn. From the InjectIRQ until
 *    the guest's EOI (VGICMaintenance) the distributor reports it active and
 *    not pending (the LR may really still be pending: the guest's IAR is
 *    invisible); ICACTIVER/ICPENDR/ICENABLER then change what the guest
 *    reads back and the pending latch, but the LR copy is still delivered
 *    once. Everything before the load (disabled, latched, queued) is exact:
 *    ICPENDR of a queued vIRQ removes it.
 *  - SGI source: GICv2 keeps SGIs pending per source CPU; SPENDSGIR and
 *    CPENDSGIR show and change that state exactly and each pending source is
 *    delivered once, one at a time. seL4's InjectIRQ cannot set GICH_LR.CPUID,
 *    so the guest's GICC_IAR reports source CPU 0 for every SGI (Linux ignores
 *    the field). An SGI injected by the VMM counts as sent by the target.
 *  - Priority: 5 bits are implemented (IPRIORITYR bits [2:0] RAZ/WI), the
 *    precision of GICH_LR.Priority, so queue order equals delivery order.
 *  - Overflow: a vIRQ that finds every LR busy waits in the vCPU's queue; it
 *    does not evict a lower-priority vIRQ already in an LR.
 *  - Reset: LRs that held a vIRQ when vgic_reset() ran count as free but
 *    "stale": one holding the same INTID is reused for it (an INTID never
 *    sits in two LRs), others are used after the fresh ones; the kernel
 *    overwrites them. One the kernel still holds active (DeleteFirst) stays
 *    unused until the guest EOIs it. If the guest EOIs a stale vIRQ and the
 *    VMM loads that LR before handling the maintenance fault, that fault is
 *    taken as the new vIRQ's EOI (a race that exists only after a reset).
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
 * Initialise for the configured guest: learns the LR count of each vCPU from
 * the kernel, resets all state, registers the 4 KiB distributor window at
 * config->gicd_gpa. False (logged) on an unsupported configuration: GICv3 is
 * refused ("not yet supported"). Calling it again starts from scratch
 * (registrations dropped, the old window unregistered).
 */
bool vgic_init(const struct guest_config *config);

/* True once vgic_init() succeeded. */
bool vgic_ready(void);

/*
 * Back to the power-on state for a guest reboot (call with the vCPUs
 * stopped): every INTID inactive, disabled, default priority/target/config;
 * no LR considered occupied; queues empty; GICD_CTLR 0. Registrations (ack
 * callbacks) are kept. Each registered INTID that was pending or in an LR
 * has its ack callback called once, so sources the kernel keeps masked until
 * the ack (pass-through lines, the virtual timer) are re-armed.
 */
void vgic_reset(void);

/*
 * Register an ack callback (may be NULL) for intid: per vCPU for < 32,
 * global for SPIs, whose targets (and reset targets) become this vCPU.
 * False (logged) if invalid or already registered.
 */
bool vgic_register_irq(size_t vcpu, unsigned intid, virq_ack_fn_t ack_fn, void *cookie);

/* True if intid is registered (for vcpu when intid < 32). */
bool vgic_irq_registered(size_t vcpu, unsigned intid);

/*
 * Make intid pending (an edge: sets the pending latch, for level-sensitive
 * INTIDs too). SPIs go where ITARGETSR sends them; vcpu is only checked.
 * An interrupt the guest has disabled stays pending and is delivered when it
 * is enabled. False (logged, rate limited) if not registered / invalid.
 */
bool vgic_inject(size_t vcpu, unsigned intid);

/*
 * Drive the input line of a registered PPI/SPI. Level-sensitive (ICFGR):
 * pending while asserted, re-delivered after EOI if still asserted.
 * Edge-triggered: a rising edge makes it pending. False if invalid.
 */
bool vgic_set_level(size_t vcpu, unsigned intid, bool asserted);

/*
 * VGICMaintenance fault: LR `lr_index` (or -1) was EOIed by the guest. Calls
 * the INTID's ack callback and refills every free LR. An index that is -1,
 * out of range or names an LR holding nothing is logged and ignored. False
 * only for a vCPU that is not configured.
 */
bool vgic_handle_maintenance(size_t vcpu, seL4_Word lr_index);

/*
 * VPPIEvent fault for `irq` (27, the virtual timer): injects it; its ack
 * callback (virq_controller_init) acks the VPPI when the guest EOIs it.
 */
bool vgic_handle_vppi(size_t vcpu, seL4_Word irq);

/*
 * True if vcpu has an interrupt it could take now: one queued for an LR, or
 * any busy LR (it may still be pending; LRs cannot be read). For WFI.
 */
bool vgic_vcpu_has_pending(size_t vcpu);
