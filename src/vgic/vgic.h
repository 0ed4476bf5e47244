/*
 * The virtual GIC, version-independent core (library-internal).
 *
 * Per-INTID state machine (GIC architecture spec IHI 0048B section 3.2.4 /
 * IHI 0069 section 4.1.2), list-register management, and the distributor
 * register files. virq.c implements the seed virq_* API on top of this.
 * Layout: vgic.c (state machine, init, reset, injection), vgic_lr.c (pending
 * queues, list registers, maintenance), vgic_v2_dist.c (GICv2 distributor
 * registers), vgic_v3_dist.c, vgic_v3_redist.c, vgic_v3_regs.c (GICv3
 * distributor, redistributors), vgic_v3_sysreg.c (trapped GICv3 system
 * registers: SGI generation, ICC_SRE_EL1). The version is chosen at run time
 * from the guest configuration.
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
 *    On GICv3 the kernel puts the 5-bit value unshifted into ICH_LR_EL2
 *    (ABI 3.1): a vIRQ of priority p runs at p >> 3 (vgic_lr.c).
 *  - GICv3 SGIs carry no source (ICC_IAR1_EL1 has none); GICR_WAKER does not
 *    gate delivery (vgic_v3_redist.c).
 *  - Overflow: a vIRQ that finds every LR busy waits in the vCPU's queue; it
 *    does not evict a lower-priority vIRQ already in an LR.
 *  - Reset: LRs that held a vIRQ when vgic_reset() ran count as free but
 *    "stale": one holding the same INTID is reused for it (an INTID never
 *    sits in two LRs), others are used after the fresh ones; the kernel
 *    overwrites them. One the kernel still holds active (DeleteFirst) is
 *    tracked again as holding its old INTID, active, until the guest EOIs
 *    it, so that INTID is not loaded anywhere else meanwhile (an LR whose
 *    content is unknown stays unused instead). If the guest EOIs a stale
 *    vIRQ and the VMM loads that LR before handling the maintenance fault,
 *    that fault is taken as the new vIRQ's EOI (a race that exists only
 *    after a reset).
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
 * the kernel, resets all state and registers the MMIO windows. GICv2: a
 * 4 KiB distributor at config->gicd_gpa (4 KiB aligned). GICv3: a 64 KiB
 * distributor at config->gicd_gpa and one 128 KiB redistributor (RD_base +
 * SGI_base) per vCPU from config->gicr_gpa on (IHI 0069 12.8, 12.10), both
 * 64 KiB aligned and disjoint. False (logged) on an invalid configuration.
 * Calling it again starts from scratch (registrations dropped, the old
 * windows unregistered).
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

/*
 * A system register named as a trapped MSR/MRS names it (ESR_ELx ISS for EC
 * 0x18, Arm ARM D17.2.40): Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn
 * [13:10], CRm [4:1] in their ISS positions; Rt and Direction masked out.
 * `iss & VGIC_SYSREG_KEY_MASK` of a trap equals VGIC_SYSREG_KEY(...) of the
 * register it accessed.
 */
#define VGIC_SYSREG_KEY(op0, op1, crn, crm, op2)                                                                       \
    ((uint32_t)(op0) << 20 | (uint32_t)(op2) << 17 | (uint32_t)(op1) << 14 | (uint32_t)(crn) << 10 |                   \
     (uint32_t)(crm) << 1)
#define VGIC_SYSREG_KEY_MASK 0x3ffc1eu

/*
 * A trapped MSR (is_read false, *value = Xt) or MRS (is_read true: set
 * *value) of the GIC CPU-interface register `key` by `vcpu` (GICv3 only:
 * vgic_v3_sysreg.c). True if emulated (the caller completes the instruction);
 * false if it is not a register the vGIC provides, or is read-only/write-only
 * the other way (the caller makes it UNDEFINED). Never fails otherwise.
 */
bool vgic_sysreg_access(size_t vcpu, uint32_t key, bool is_read, uint64_t *value);
