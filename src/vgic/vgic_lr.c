/*
 * Pending queues and list registers, independent of the GIC version.
 *
 * The kernel offers one operation on list registers: InjectIRQ writes LR
 * `index` as pending with the EOI maintenance bit set (ABI 3.1). There is no
 * call to read or clear one, so occupancy is tracked here: LR i is busy from
 * our InjectIRQ until the VGICMaintenance fault that carries IDX = i (the
 * guest's EOI). Invariants kept after every operation:
 *   - an INTID is in at most one LR of one vCPU (two valid LRs with the same
 *     virtual ID are UNPREDICTABLE: GICH_LRn, IHI 0048B chapter 5);
 *   - a vCPU with a free LR has an empty queue (every free LR is refilled);
 *   - LRs are filled best priority first, lower INTID first among equals.
 */
#include <string.h>
#include <libvmm/log.h>
#include "vgic/vgic_internal.h"

bool vgic_lr_probe(size_t vcpu, uint8_t *num_lrs)
{
    /* Index 255 is out of range on every GIC: the RangeError's MR1 is the highest LR index (ABI 3.1). */
    seL4_Error err = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + vcpu, 0, 0, 0, 255);
    if (err != seL4_RangeError) {
        LOG_ERR("vCPU %zu: cannot learn the list-register count (probe returned error %d, not a range error)", vcpu,
                (int)err);
        return false;
    }
    seL4_Word max = seL4_GetMR(1);
    if (max >= VGIC_MAX_LRS) {
        LOG_WARN("vCPU %zu: %lu list registers, using the first %d", vcpu, (unsigned long)max + 1, VGIC_MAX_LRS);
        max = VGIC_MAX_LRS - 1;
    }
    *num_lrs = (uint8_t)(max + 1);
    return true;
}

void vgic_queue_insert(size_t vcpu, const struct vgic_irq *irq, unsigned level)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    vc->queue[level][irq->intid / 64] |= 1ull << (irq->intid % 64);
    vc->queued_levels |= 1u << level;
}

void vgic_queue_remove(size_t vcpu, const struct vgic_irq *irq, unsigned level)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    uint64_t *q = vc->queue[level];
    uint64_t any = 0;
    q[irq->intid / 64] &= ~(1ull << (irq->intid % 64));
    for (unsigned w = 0; w < VGIC_QUEUE_WORDS; w++) {
        any |= q[w];
    }
    if (any == 0) {
        vc->queued_levels &= ~(1u << level);
    }
}

/* Inline into vgic_lr_load_now(): loading a lone SGI or PPI straight into an LR is the IPI path (DESIGN 3). */
static inline bool lr_load(size_t vcpu, unsigned idx, struct vgic_irq *irq);

/* Best queued INTID of vcpu: lowest priority value, then lowest INTID. Queue must be non-empty. */
static struct vgic_irq *queue_best(size_t vcpu)
{
    const struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    const uint64_t *q = vc->queue[__builtin_ctz(vc->queued_levels)];
    for (unsigned w = 0; w < VGIC_QUEUE_WORDS; w++) {
        if (q[w] != 0) {
            return vgic_irq_get(vcpu, w * 64 + (unsigned)__builtin_ctzll(q[w]));
        }
    }
    return NULL;
}

/*
 * Which free LR to use. After a vGIC reset, stale LRs may still hold a vIRQ
 * of the previous boot in the kernel. One holding this very INTID is reused
 * for it (so the INTID never sits in two LRs); otherwise fresh LRs go first,
 * leaving stale ones to be taken and EOIed by the guest (which clears them)
 * before they are overwritten.
 */
static unsigned pick_lr(const struct vgic_vcpu *vc, uint32_t free, unsigned intid)
{
    uint32_t stale = free & vc->lr_stale;
    if (stale == 0) {
        return (unsigned)__builtin_ctz(free);
    }
    for (uint32_t m = stale; m != 0; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if (vc->stale_intid[i] == intid) {
            return i;
        }
    }
    uint32_t fresh = free & ~stale;
    return (unsigned)__builtin_ctz(fresh != 0 ? fresh : stale);
}

/*
 * Put irq into LR idx of vcpu. The InjectIRQ priority is 5 bits, 0..31 (ABI
 * 3.1): on GICv2 the kernel stores it as GICH_LR priority[7:3], which is
 * exactly the emulated priority. On GICv3 it goes unshifted into the 8-bit
 * ICH_LR_EL2.Priority field, so the vIRQ runs at priority `prio >> 3`
 * (0..31; a CPU with 5 virtual priority bits, like QEMU's cortex-a57, keeps
 * only field bits [7:3], leaving 4 levels): order between vIRQs is never
 * inverted (the LRs are filled best first here), and every value is below the guest's
 * priority mask as long as ICC_PMR_EL1 > 31 (Linux runs with 0xf0; its IRQs
 * are at 0xa0 -> 20). A guest that masks by PMR below 0x20 (Linux pseudo-NMI,
 * irqchip.gicv3_pseudo_nmi=1) is not supported: its masking would not hold.
 * The LR group is the INTID's IGROUPR bit (GICv3 resets it to 1: vgic.c).
 * The LR copy reads as active in the distributor until its EOI; an SGI takes
 * one pending source at a time (seL4 cannot set GICH_LR.CPUID, so the guest's
 * IAR reports source 0; vgic.h).
 */
/*
 * InjectIRQ answered DeleteFirst: the kernel still holds, active, the vIRQ
 * this LR carried before a vGIC reset (stale_intid). Track the LR as holding
 * that INTID again, so it is not loaded into a second LR meanwhile (two LRs
 * with one virtual ID are UNPREDICTABLE: GICH_LRn, IHI 0048B chapter 5) and
 * the guest's EOI (VGICMaintenance with this index) completes it like any
 * other. False if what the LR holds is unknown or already tracked elsewhere.
 * Found by tests/fuzz/fuzz_vgic_dist.
 */
static bool lr_adopt_stale(size_t vcpu, unsigned idx)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    unsigned intid = vc->stale_intid[idx];
    struct vgic_irq *held = intid == VGIC_LR_NONE ? NULL : vgic_irq_get(vcpu, intid);
    if (held == NULL || held->in_lr) {
        return false;
    }
    vc->lr_busy |= 1u << idx;
    vc->lr_intid[idx] = (uint16_t)intid;
    held->in_lr = true;
    held->active = true;
    held->lr_vcpu = (uint8_t)vcpu;
    held->lr_index = (uint8_t)idx;
    vgic_irq_requeue(held);
    return true;
}

static bool lr_load(size_t vcpu, unsigned idx, struct vgic_irq *irq)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    uint32_t bit = 1u << idx;
    seL4_Error err = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + vcpu, irq->intid, irq->priority >> VGIC_PRIO_SHIFT,
                                             irq->group1 ? 1 : 0, (seL4_Uint8)idx);
    vc->lr_stale &= ~bit;
    if (err != seL4_NoError) {
        if (err == seL4_DeleteFirst && lr_adopt_stale(vcpu, idx)) {
            return false;
        }
        /* The kernel still sees an active vIRQ there, and which one is not known. */
        vc->lr_stuck |= bit;
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: kernel refused LR %u (error %d): unused until the guest EOIs it", vcpu,
                  idx, (int)err);
        return false;
    }
    vc->lr_busy |= bit;
    vc->lr_intid[idx] = irq->intid;
    if (irq->intid < VGIC_NUM_SGIS) {
        irq->sgi_sources &= (uint8_t)(irq->sgi_sources - 1);
    } else {
        irq->latch = false;
    }
    irq->in_lr = true;
    irq->active = true;
    irq->lr_vcpu = (uint8_t)vcpu;
    irq->lr_index = (uint8_t)idx;
    vgic_irq_requeue(irq);
    return true;
}

static uint32_t lr_free(const struct vgic_vcpu *vc)
{
    uint32_t all = vc->num_lrs >= 32 ? ~0u : (1u << vc->num_lrs) - 1;
    return all & ~(vc->lr_busy | vc->lr_stuck);
}

void vgic_lr_refill(size_t vcpu)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    uint32_t free = lr_free(vc);
    while (free != 0 && vc->queued_levels != 0) {
        struct vgic_irq *irq = queue_best(vcpu);
        if (irq == NULL) {
            break;
        }
        unsigned idx = pick_lr(vc, free, irq->intid);
        lr_load(vcpu, idx, irq);
        free &= ~(1u << idx);
    }
}

bool vgic_lr_load_now(size_t vcpu, struct vgic_irq *irq)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    uint32_t free = lr_free(vc);
    if (free == 0 || vc->queued_levels != 0) {
        return false;
    }
    return lr_load(vcpu, pick_lr(vc, free, irq->intid), irq);
}

void vgic_lr_refill_mask(uint8_t vcpus)
{
    for (uint32_t m = vcpus; m != 0; m &= m - 1) {
        size_t vcpu = (size_t)__builtin_ctz(m);
        if (vgic_state.vcpu[vcpu].queued_levels != 0) { /* nothing queued, nothing to load (the common case) */
            vgic_lr_refill(vcpu);
        }
    }
}

void vgic_lr_reset(size_t vcpu)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    for (unsigned i = 0; i < VGIC_MAX_LRS; i++) {
        uint32_t bit = 1u << i;
        if (vc->lr_busy & bit) {
            vc->stale_intid[i] = vc->lr_intid[i];
            vc->lr_stale |= bit;
        } else if (vc->lr_stuck & bit) {
            vc->stale_intid[i] = VGIC_LR_NONE;
            vc->lr_stale |= bit;
        }
        vc->lr_intid[i] = VGIC_LR_NONE;
    }
    vc->lr_busy = 0;
    vc->lr_stuck = 0;
    vc->queued_levels = 0;
    memset(vc->queue, 0, sizeof(vc->queue));
}

/* An EOI for an LR we hold nothing in: one left over from before a reset, or a kernel/VMM mismatch. */
static bool maintenance_for_free_lr(size_t vcpu, unsigned idx, uint32_t bit)
{
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    if ((vc->lr_stale | vc->lr_stuck) & bit) {
        vc->lr_stale &= ~bit;
        vc->lr_stuck &= ~bit;
    } else {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: maintenance for LR %u, which holds nothing: ignored", vcpu, idx);
    }
    vgic_lr_refill(vcpu);
    return true;
}

/*
 * VGICMaintenance (ABI 3.7): the guest deactivated the vIRQ in LR `lr_index`.
 * It leaves the LR and becomes inactive (re-queued if it was made pending
 * again meanwhile), its ack callback runs, then every free LR is refilled.
 */
bool vgic_handle_maintenance(size_t vcpu, seL4_Word lr_index)
{
    if (!vgic_state.ready) {
        LOG_GUEST(LOG_LEVEL_WARN, "maintenance fault before virq_controller_init(): ignored");
        return true;
    }
    if (vcpu >= vgic_state.num_vcpus) {
        LOG_ERR("maintenance fault from vCPU %zu, which is not configured", vcpu);
        return false;
    }
    struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    if (lr_index >= vc->num_lrs) {
        /* IDX -1: the kernel found no EOIed LR. Nothing to retire. */
        LOG_GUEST(LOG_LEVEL_DEBUG, "vCPU %zu: maintenance without a valid LR index (%ld)", vcpu, (long)lr_index);
        vgic_lr_refill(vcpu);
        return true;
    }
    unsigned idx = (unsigned)lr_index;
    uint32_t bit = 1u << idx;
    if ((vc->lr_busy & bit) == 0) {
        return maintenance_for_free_lr(vcpu, idx, bit);
    }
    unsigned intid = vc->lr_intid[idx];
    vc->lr_busy &= ~bit;
    vc->lr_intid[idx] = VGIC_LR_NONE;
    struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    irq->in_lr = false;
    irq->active = false;
    uint8_t refill = vgic_irq_requeue(irq);
    if (irq->ack_fn != NULL) {
        irq->ack_fn(vcpu, (int)intid, irq->ack_cookie);
        if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus) {
            return true; /* the callback re-initialised the vGIC */
        }
    }
    vgic_lr_refill_mask((uint8_t)((refill | (1u << vcpu)) & vgic_state.vcpu_mask));
    return true;
}

/*
 * Conservative for WFI: an LR we loaded may hold an interrupt the guest has
 * not taken yet (we cannot read LRs), so any busy LR counts as pending.
 */
bool vgic_vcpu_has_pending(size_t vcpu)
{
    if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus) {
        return false;
    }
    const struct vgic_vcpu *vc = &vgic_state.vcpu[vcpu];
    return vc->queued_levels != 0 || vc->lr_busy != 0;
}

/*
 * The guest changed the priority or group of a vIRQ whose copy sits in an LR
 * (IPRIORITYR 4.3.11, IGROUPR 4.3.4: a pending interrupt is signalled by its
 * current priority). The copy keeps the values it was loaded with, so a vIRQ
 * loaded at a priority the guest's mask hides would hold its LR, and its
 * INTID, for good. Rewriting the LR with the same INTID updates a copy that is
 * still pending; a copy the guest has taken is active and the kernel refuses
 * (DeleteFirst): it keeps the priority it was taken at, as on hardware. If the
 * guest had EOIed it and the VGICMaintenance is not in yet, the rewrite makes
 * it pending once more (one spurious delivery, its ack callback run once):
 * the ABI cannot read an LR to tell (vgic.h).
 */
void vgic_lr_retag(struct vgic_irq *irq)
{
    if (!irq->in_lr) {
        return;
    }
    seL4_Error err = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + irq->lr_vcpu, irq->intid, irq->priority >> VGIC_PRIO_SHIFT,
                                             irq->group1 ? 1 : 0, irq->lr_index);
    if (err != seL4_NoError && err != seL4_DeleteFirst) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %u: rewriting LR %u for INTID %u failed (error %d)", irq->lr_vcpu,
                  irq->lr_index, irq->intid, (int)err);
    }
}
