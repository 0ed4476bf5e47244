/*
 * vGIC core, independent of the GIC version: the per-INTID state machine
 * (GIC architecture spec IHI 0048B section 3.2.4, IHI 0069 section 4.1.2),
 * init and reset, ack callback registration, injection from the VMM and the
 * VPPI path. Register files (vgic_v2_dist.c, vgic_v3_*.c) and list registers
 * (vgic_lr.c) build on it. The GIC version is chosen at run time from the
 * guest configuration: one library binary serves both.
 */
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "mmio_internal.h"
#include "vgic/vgic_internal.h"

struct vgic_state vgic_state;

static bool irq_is_sgi(const struct vgic_irq *irq)
{
    return irq->intid < VGIC_NUM_SGIS;
}

bool vgic_irq_pending(const struct vgic_irq *irq)
{
    if (irq_is_sgi(irq)) {
        return irq->sgi_sources != 0;
    }
    return irq->latch || (!irq->edge && irq->line);
}

/*
 * Bring irq's bits in its struct vgic_bits up to date: the words hold
 * irq->bits, so flipping the bits that changed makes them hold the new ones.
 * Runs after every state change (vgic_irq_requeue): inline, and cheap when
 * nothing changed.
 */
static inline void sync_bits(struct vgic_irq *irq)
{
    uint32_t now = (irq->group1 ? 1u << VGIC_BIT_GROUP : 0) | (irq->enabled ? 1u << VGIC_BIT_ENABLED : 0) |
                   (vgic_irq_pending(irq) ? 1u << VGIC_BIT_PENDING : 0) | (irq->active ? 1u << VGIC_BIT_ACTIVE : 0);
    uint32_t changed = now ^ irq->bits;
    if (changed == 0) {
        return;
    }
    uint32_t *word = irq->bank->word;
    uint32_t mask = 1u << (irq->intid % 32);
    if (changed & (1u << VGIC_BIT_GROUP)) {
        word[VGIC_BIT_GROUP] ^= mask;
    }
    if (changed & (1u << VGIC_BIT_ENABLED)) {
        word[VGIC_BIT_ENABLED] ^= mask;
    }
    if (changed & (1u << VGIC_BIT_PENDING)) {
        word[VGIC_BIT_PENDING] ^= mask;
    }
    if (changed & (1u << VGIC_BIT_ACTIVE)) {
        word[VGIC_BIT_ACTIVE] ^= mask;
    }
    irq->bits = (uint8_t)now;
}

/*
 * The vCPUs that could take irq now: pending, enabled, its group enabled
 * (4.3.1), not active (an active interrupt is not signalled again until it
 * is deactivated), not in an LR, and targeted (4.3.12; SGIs/PPIs are banked).
 */
static inline __attribute__((always_inline)) uint8_t irq_deliverable_to(const struct vgic_irq *irq)
{
    if (irq->in_lr || irq->active || !irq->enabled || !vgic_irq_pending(irq)) {
        return 0;
    }
    if ((vgic_state.ctlr & (irq->group1 ? 2u : 1u)) == 0) {
        return 0;
    }
    if (irq->intid < VGIC_NUM_LOCAL) {
        return (uint8_t)(1u << irq->owner);
    }
    return irq->targets & vgic_state.vcpu_mask;
}

/* Move irq from the queues it is in to those of `want` at `level`; out of line, off the common path. */
static __attribute__((noinline)) uint8_t requeue_move(struct vgic_irq *irq, uint8_t want, unsigned level)
{
    for (uint32_t m = irq->queued_mask; m != 0; m &= m - 1) {
        vgic_queue_remove((size_t)__builtin_ctz(m), irq, irq->queued_level);
    }
    for (uint32_t m = want; m != 0; m &= m - 1) {
        vgic_queue_insert((size_t)__builtin_ctz(m), irq, level);
    }
    irq->queued_mask = want;
    irq->queued_level = (uint8_t)level;
    return want;
}

uint8_t vgic_irq_requeue(struct vgic_irq *irq)
{
    sync_bits(irq);
    uint8_t want = irq_deliverable_to(irq);
    unsigned level = irq->priority >> VGIC_PRIO_SHIFT;
    if (want == irq->queued_mask && level == irq->queued_level) {
        return 0;
    }
    return requeue_move(irq, want, level);
}

void vgic_irq_update(struct vgic_irq *irq)
{
    /*
     * Fast path (DESIGN 3): an INTID that becomes deliverable to one vCPU
     * whose queue is empty and which has a free LR would be the best queued
     * INTID there, so it goes straight into that LR, as vgic_lr_refill()
     * would load it, without passing through the queue.
     */
    if (irq->queued_mask == 0) {
        sync_bits(irq);
        uint8_t want = irq_deliverable_to(irq);
        if (want != 0 && (want & (want - 1)) == 0 && vgic_lr_load_now((size_t)__builtin_ctz(want), irq)) {
            return;
        }
    }
    vgic_lr_refill_mask(vgic_irq_requeue(irq));
}

void vgic_irq_set_enabled(struct vgic_irq *irq, bool enabled)
{
    irq->enabled = enabled;
    vgic_irq_update(irq);
}

/* ISPENDR/ICPENDR set and clear the latch; a level input still asserted keeps the INTID pending (4.3.7, 4.3.8). */
void vgic_irq_set_pending(struct vgic_irq *irq, bool pending)
{
    irq->latch = pending;
    vgic_irq_update(irq);
}

/*
 * ISACTIVER/ICACTIVER. For an INTID in an LR this only changes what the guest
 * reads back: the LR itself cannot be changed through the kernel ABI.
 */
void vgic_irq_set_active(struct vgic_irq *irq, bool active)
{
    irq->active = active;
    vgic_irq_update(irq);
}

void vgic_irq_set_group(struct vgic_irq *irq, bool group1)
{
    bool changed = irq->group1 != group1;
    irq->group1 = group1;
    if (changed) {
        vgic_lr_retag(irq);
    }
    vgic_irq_update(irq);
}

void vgic_irq_set_priority(struct vgic_irq *irq, uint8_t priority)
{
    uint8_t value = priority & VGIC_PRIO_MASK;
    bool changed = irq->priority != value;
    irq->priority = value;
    if (changed) {
        vgic_lr_retag(irq);
    }
    vgic_irq_update(irq);
}

void vgic_irq_set_targets(struct vgic_irq *irq, uint8_t targets)
{
    irq->targets = targets & vgic_state.vcpu_mask;
    vgic_irq_update(irq);
}

void vgic_irq_set_edge(struct vgic_irq *irq, bool edge)
{
    irq->edge = edge;
    vgic_irq_update(irq);
}

/* Visit every INTID of every vCPU (banked copies included). Not for hot paths. */
static void for_each_irq(void (*fn)(struct vgic_irq *irq, void *arg), void *arg)
{
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        for (unsigned i = 0; i < VGIC_NUM_LOCAL; i++) {
            fn(&vgic_state.vcpu[v].local[i], arg);
        }
    }
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        fn(&vgic_state.spi[i], arg);
    }
}

static void requeue_into(struct vgic_irq *irq, void *arg)
{
    *(uint8_t *)arg |= vgic_irq_requeue(irq);
}

/* GICD_CTLR (4.3.1): a group enable change re-evaluates every INTID; rare (guest boot). */
void vgic_set_ctlr(uint32_t ctlr)
{
    ctlr &= VGIC_CTLR_MASK;
    if (ctlr == vgic_state.ctlr) {
        return;
    }
    vgic_state.ctlr = ctlr;
    uint8_t refill = 0;
    for_each_irq(requeue_into, &refill);
    vgic_lr_refill_mask(refill);
}

void vgic_sgi_clear(size_t target, unsigned sgi, uint8_t sources)
{
    struct vgic_irq *irq = &vgic_state.vcpu[target].local[sgi];
    irq->sgi_sources &= (uint8_t)~sources;
    vgic_irq_update(irq);
}

/*
 * Reset values: everything inactive, disabled and priority 0, SGIs always
 * edge and enabled (4.3.5: whether SGI enables are writable is
 * IMPLEMENTATION DEFINED; here they are, and reset to 1), PPIs and SPIs
 * level, SPI targets = the vCPU given at registration. Group 0 on GICv2;
 * group 1 on GICv3, where a virtual group 0 interrupt is signalled as a
 * vFIQ (IHI 0069, ICH_LR<n>_EL2.Group) that a guest expecting IRQs would
 * never take; the GICv3 reset value of IGROUPR is IMPLEMENTATION DEFINED.
 */
static void irq_reset(struct vgic_irq *irq)
{
    bool sgi = irq_is_sgi(irq);
    irq->priority = 0;
    irq->targets = irq->reset_targets;
    irq->sgi_sources = 0;
    irq->queued_mask = 0;
    irq->queued_level = 0;
    irq->enabled = sgi;
    irq->latch = false;
    irq->line = false;
    irq->active = false;
    irq->in_lr = false;
    irq->edge = sgi;
    irq->group1 = vgic_state.version == GIC_VERSION_3;
    sync_bits(irq);
}

static void irq_init(struct vgic_irq *irq, unsigned intid, size_t owner)
{
    memset(irq, 0, sizeof(*irq));
    irq->intid = (uint16_t)intid;
    irq->owner = (uint8_t)owner;
    irq->bank = intid < VGIC_NUM_LOCAL ? &vgic_state.vcpu[owner].local_bits
                                       : &vgic_state.spi_bits[(intid - VGIC_NUM_LOCAL) / 32];
    irq_reset(irq);
}

static bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size)
{
    return a < b + b_size && b < a + a_size;
}

/* GICv3: 64 KiB aligned frames (IHI 0069 12.8), the two windows disjoint and not wrapping. */
static bool config_v3_valid(const struct guest_config *config)
{
    uint64_t rd_size = vgic_v3_redist_window(config->num_vcpus);
    if (((config->gicd_gpa | config->gicr_gpa) & (VGIC_V3_DIST_SIZE - 1)) != 0) {
        LOG_ERR("GICv3 distributor 0x%llx and redistributors 0x%llx must be 64 KiB aligned",
                (unsigned long long)config->gicd_gpa, (unsigned long long)config->gicr_gpa);
        return false;
    }
    if (config->gicd_gpa + VGIC_V3_DIST_SIZE < config->gicd_gpa || config->gicr_gpa + rd_size < config->gicr_gpa) {
        LOG_ERR("GICv3 windows wrap the address space");
        return false;
    }
    if (ranges_overlap(config->gicd_gpa, VGIC_V3_DIST_SIZE, config->gicr_gpa, rd_size)) {
        LOG_ERR("GICv3 distributor 0x%llx overlaps the redistributors [0x%llx, +0x%llx)",
                (unsigned long long)config->gicd_gpa, (unsigned long long)config->gicr_gpa,
                (unsigned long long)rd_size);
        return false;
    }
    return true;
}

static bool config_valid(const struct guest_config *config)
{
    if (config == NULL) {
        LOG_ERR("no guest configuration (call guest_init() first)");
        return false;
    }
    if (config->gic_version != GIC_VERSION_2 && config->gic_version != GIC_VERSION_3) {
        LOG_ERR("unknown GIC version %d", (int)config->gic_version);
        return false;
    }
    if (config->num_vcpus == 0 || config->num_vcpus > GUEST_MAX_VCPUS) {
        LOG_ERR("%zu vCPUs: the vGIC supports 1..%d", config->num_vcpus, GUEST_MAX_VCPUS);
        return false;
    }
    if (config->gic_version == GIC_VERSION_3) {
        return config_v3_valid(config);
    }
    if ((config->gicd_gpa & (VGIC_V2_DIST_SIZE - 1)) != 0) {
        LOG_ERR("distributor address 0x%llx is not 4 KiB aligned", (unsigned long long)config->gicd_gpa);
        return false;
    }
    return true;
}

/* Drop the MMIO windows of an earlier vgic_init(). */
static void unregister_windows(void)
{
    if (mmio_claimed(vgic_state.gicd_gpa)) {
        mmio_unregister(vgic_state.gicd_gpa);
    }
    if (vgic_state.version == GIC_VERSION_3 && mmio_claimed(vgic_state.gicr_gpa)) {
        mmio_unregister(vgic_state.gicr_gpa);
    }
}

static bool register_windows(const struct guest_config *config)
{
    if (config->gic_version == GIC_VERSION_3) {
        return vgic_v3_register(config);
    }
    if (!mmio_register(config->gicd_gpa, VGIC_V2_DIST_SIZE, vgic_v2_dist_mmio, NULL)) {
        LOG_ERR("cannot register the distributor window at 0x%llx", (unsigned long long)config->gicd_gpa);
        return false;
    }
    return true;
}

bool vgic_init(const struct guest_config *config)
{
    if (!config_valid(config)) {
        return false;
    }
    if (vgic_state.ready) {
        LOG_WARN("re-initialising the vGIC: earlier registrations are dropped");
        unregister_windows();
    }
    memset(&vgic_state, 0, sizeof(vgic_state));
    vgic_state.version = config->gic_version;
    vgic_state.num_vcpus = config->num_vcpus;
    vgic_state.vcpu_mask = (uint8_t)((1u << config->num_vcpus) - 1);
    vgic_state.gicd_gpa = config->gicd_gpa;
    vgic_state.gicr_gpa = config->gicr_gpa;
    for (size_t v = 0; v < config->num_vcpus; v++) {
        struct vgic_vcpu *vc = &vgic_state.vcpu[v];
        if (!vgic_lr_probe(v, &vc->num_lrs)) {
            return false;
        }
        for (unsigned i = 0; i < VGIC_MAX_LRS; i++) {
            vc->lr_intid[i] = VGIC_LR_NONE;
            vc->stale_intid[i] = VGIC_LR_NONE;
        }
        for (unsigned i = 0; i < VGIC_NUM_LOCAL; i++) {
            irq_init(&vc->local[i], i, v);
        }
    }
    for (unsigned i = 0; i < VGIC_MAX_SPIS; i++) {
        irq_init(&vgic_state.spi[i], VGIC_NUM_LOCAL + i, 0);
    }
    if (config->gic_version == GIC_VERSION_3) {
        vgic_v3_reset();
    }
    if (!register_windows(config)) {
        return false;
    }
    vgic_state.ready = true;
    if (config->gic_version == GIC_VERSION_3) {
        LOG_INFO("vGICv3: distributor at 0x%llx, redistributors at 0x%llx, %zu vCPUs, %u list registers, %d SPIs",
                 (unsigned long long)config->gicd_gpa, (unsigned long long)config->gicr_gpa, config->num_vcpus,
                 vgic_state.vcpu[0].num_lrs, VGIC_MAX_SPIS);
    } else {
        LOG_INFO("vGICv2: distributor at 0x%llx, %zu vCPUs, %u list registers, %d SPIs",
                 (unsigned long long)config->gicd_gpa, config->num_vcpus, vgic_state.vcpu[0].num_lrs, VGIC_MAX_SPIS);
    }
    return true;
}

bool vgic_ready(void)
{
    return vgic_state.ready;
}

/* The vCPU an ack callback is told about when an SPI is retired outside an EOI. */
static uint8_t retire_vcpu(const struct vgic_irq *irq)
{
    if (irq->intid < VGIC_NUM_LOCAL) {
        return irq->owner;
    }
    if (irq->in_lr) {
        return irq->lr_vcpu;
    }
    uint8_t t = irq->targets & vgic_state.vcpu_mask;
    return t != 0 ? (uint8_t)__builtin_ctz(t) : 0;
}

static void mark_retire(struct vgic_irq *irq, void *arg)
{
    (void)arg;
    irq->retire = irq->registered && irq->ack_fn != NULL && (irq->in_lr || vgic_irq_pending(irq));
    if (irq->retire) {
        irq->lr_vcpu = retire_vcpu(irq);
    }
}

static void reset_one(struct vgic_irq *irq, void *arg)
{
    (void)arg;
    irq_reset(irq);
}

static void run_retire(struct vgic_irq *irq, void *arg)
{
    (void)arg;
    if (irq->retire) {
        irq->retire = false;
        irq->ack_fn(irq->lr_vcpu, (int)irq->intid, irq->ack_cookie);
    }
}

/*
 * Every registered INTID that was pending or in an LR is retired through its
 * ack callback after the state is reset, so that sources the kernel keeps
 * masked until the ack (pass-through lines, the virtual timer PPI) are re-armed
 * for the next boot instead of staying masked forever.
 */
void vgic_reset(void)
{
    if (!vgic_state.ready) {
        return;
    }
    for_each_irq(mark_retire, NULL);
    vgic_state.ctlr = 0;
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        vgic_lr_reset(v);
    }
    for_each_irq(reset_one, NULL);
    if (vgic_state.version == GIC_VERSION_3) {
        vgic_v3_reset();
    }
    for_each_irq(run_retire, NULL);
}

/* Common argument checks for calls from the VMM; logs the reason. */
static struct vgic_irq *vmm_irq(size_t vcpu, unsigned intid)
{
    if (!vgic_state.ready) {
        LOG_ERR("vGIC not initialised (call virq_controller_init() first)");
        return NULL;
    }
    if (vcpu >= vgic_state.num_vcpus) {
        LOG_GUEST(LOG_LEVEL_ERROR, "vCPU %zu does not exist (%zu vCPUs)", vcpu, vgic_state.num_vcpus);
        return NULL;
    }
    struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    if (irq == NULL) {
        LOG_GUEST(LOG_LEVEL_ERROR, "INTID %u out of range (0..%d emulated)", intid, VGIC_MAX_INTID);
    }
    return irq;
}

bool vgic_register_irq(size_t vcpu, unsigned intid, virq_ack_fn_t ack_fn, void *cookie)
{
    struct vgic_irq *irq = vmm_irq(vcpu, intid);
    if (irq == NULL) {
        return false;
    }
    if (irq->registered) {
        if (intid < VGIC_NUM_LOCAL) {
            LOG_ERR("INTID %u is already registered on vCPU %zu", intid, vcpu);
        } else {
            LOG_ERR("SPI %u is already registered", intid);
        }
        return false;
    }
    irq->registered = true;
    irq->ack_fn = ack_fn;
    irq->ack_cookie = cookie;
    if (intid >= VGIC_NUM_LOCAL) {
        irq->reset_targets = (uint8_t)(1u << vcpu);
        if (vgic_state.version == GIC_VERSION_3) {
            vgic_v3_route_reset(irq);
        }
        vgic_irq_set_targets(irq, irq->reset_targets);
    }
    return true;
}

bool vgic_irq_registered(size_t vcpu, unsigned intid)
{
    if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus) {
        return false;
    }
    const struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    return irq != NULL && irq->registered;
}

static struct vgic_irq *vmm_registered_irq(size_t vcpu, unsigned intid)
{
    struct vgic_irq *irq = vmm_irq(vcpu, intid);
    if (irq != NULL && !irq->registered) {
        LOG_GUEST(LOG_LEVEL_ERROR, "vCPU %zu: INTID %u is not registered", vcpu, intid);
        return NULL;
    }
    return irq;
}

/* Hot path: O(vCPUs) queue update plus an O(LRs) refill; nothing logged on success. */
bool vgic_inject(size_t vcpu, unsigned intid)
{
    struct vgic_irq *irq = vmm_registered_irq(vcpu, intid);
    if (irq == NULL) {
        return false;
    }
    if (irq_is_sgi(irq)) {
        irq->sgi_sources |= (uint8_t)(1u << vcpu); /* an SGI the VMM raises comes from the target itself */
    } else {
        irq->latch = true;
    }
    vgic_irq_update(irq);
    return true;
}

/* Level inputs (3.2.4): level-sensitive: pending while asserted; edge-triggered: a rising edge latches. */
bool vgic_set_level(size_t vcpu, unsigned intid, bool asserted)
{
    struct vgic_irq *irq = vmm_registered_irq(vcpu, intid);
    if (irq == NULL) {
        return false;
    }
    if (irq_is_sgi(irq)) {
        LOG_ERR("INTID %u is an SGI and has no input line", intid);
        return false;
    }
    if (irq->edge && asserted && !irq->line) {
        irq->latch = true;
    }
    irq->line = asserted;
    vgic_irq_update(irq);
    return true;
}

bool vgic_handle_vppi(size_t vcpu, seL4_Word irq)
{
    if (!vgic_state.ready) {
        LOG_GUEST(LOG_LEVEL_ERROR, "VPPI %lu before virq_controller_init(): left masked", (unsigned long)irq);
        return true;
    }
    if (vcpu >= vgic_state.num_vcpus) {
        LOG_ERR("VPPI from vCPU %zu, which is not configured", vcpu);
        return false;
    }
    if (irq < VGIC_NUM_SGIS || irq >= VGIC_NUM_LOCAL || !vgic_state.vcpu[vcpu].local[irq].registered) {
        LOG_GUEST(LOG_LEVEL_ERROR, "vCPU %zu: VPPI for INTID %lu, which is not a registered PPI: left masked", vcpu,
                  (unsigned long)irq);
        return true;
    }
    return vgic_inject(vcpu, (unsigned)irq);
}
