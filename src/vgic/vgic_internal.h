/*
 * vGIC internals shared by the version-independent core (vgic.c), the
 * pending queues and list-register management (vgic_lr.c) and the register
 * files of each GIC version: vgic_v2_dist.c (GICv2 distributor),
 * vgic_v3_dist.c, vgic_v3_redist.c, vgic_v3_regs.c (GICv3 distributor,
 * redistributors and the register blocks they share) and vgic_v3_sysreg.c
 * (trapped GICv3 CPU-interface system registers).
 *
 * State model (GIC architecture spec IHI 0048B section 3.2.4): each INTID has
 * a pending latch (edge event, ISPENDR, or an inject), a line level (level-
 * sensitive inputs, vgic_set_level), an active bit, enable, group, 8-bit
 * priority (5 bits implemented) and, for SPIs, an 8-bit target list.
 * SGIs keep one pending bit per source vCPU instead of the latch.
 *
 * An INTID is "queued" on a vCPU when the guest could take it there now:
 * pending, enabled, its group enabled in GICD_CTLR, not active, not in a list
 * register, and targeting that vCPU. Queued INTIDs sit in per-vCPU bitmaps,
 * one per priority level, so the best one is found with two bit scans.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/mmio.h>
#include "vgic/vgic.h"

#define VGIC_NUM_INTIDS (VGIC_NUM_LOCAL + VGIC_MAX_SPIS)
#define VGIC_PRIO_MASK 0xf8 /* 5 priority bits implemented: GICH_LR holds priority[7:3] */
#define VGIC_PRIO_SHIFT 3
#define VGIC_PRIO_LEVELS 32
#define VGIC_QUEUE_WORDS ((VGIC_NUM_INTIDS + 63) / 64)
#define VGIC_LR_NONE 0xffff

_Static_assert(VGIC_MAX_SPIS % 32 == 0, "GICD_TYPER.ITLinesNumber counts whole 32-INTID blocks");
_Static_assert(VGIC_NUM_INTIDS <= 1020, "INTIDs 1020..1023 are special");
_Static_assert(GUEST_MAX_VCPUS <= 8, "GICv2 target lists and SGI sources are 8-bit");
_Static_assert(VGIC_MAX_LRS <= 32, "LR masks are 32-bit");

/*
 * The bit-per-INTID registers (IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER)
 * of 32 INTIDs as words, so that a guest's register read is one load (DESIGN
 * 3: a short exit path). vgic.c keeps them equal to the per-INTID state:
 * vgic_irq_requeue(), which runs after every state change, syncs them, as
 * does a reset.
 */
enum vgic_bit { VGIC_BIT_GROUP, VGIC_BIT_ENABLED, VGIC_BIT_PENDING, VGIC_BIT_ACTIVE, VGIC_BIT_KINDS };

struct vgic_bits {
    uint32_t word[VGIC_BIT_KINDS];
};

struct vgic_irq {
    virq_ack_fn_t ack_fn;
    void *ack_cookie;
    uint16_t intid;
    uint8_t owner; /* INTID < 32: the vCPU this banked copy belongs to */
    uint8_t priority; /* IPRIORITYR byte, low 3 bits RAZ/WI */
    uint8_t targets; /* SPIs: ITARGETSR byte */
    uint8_t reset_targets; /* SPIs: targets after reset (the registering vCPU) */
    uint8_t sgi_sources; /* SGIs: vCPUs with an SGI pending here (SPENDSGIR) */
    uint8_t queued_mask; /* vCPUs whose queue holds it */
    uint8_t queued_level; /* priority level it is queued under */
    uint8_t lr_vcpu; /* while in_lr: where */
    uint8_t lr_index;
    bool registered; /* the VMM registered it (ack callback may be NULL) */
    bool enabled;
    bool latch; /* pending latch (edge, ISPENDR, inject) */
    bool line; /* input level as last set by vgic_set_level() */
    bool active; /* reads as active; set while it sits in a list register */
    bool in_lr;
    bool edge; /* ICFGR Int_config[1] */
    bool group1; /* IGROUPR */
    bool retire; /* vgic_reset(): call the ack callback once the state is reset */
    uint8_t bits; /* its bits in struct vgic_bits (1 << enum vgic_bit) as last synced */
    struct vgic_bits *bank; /* the struct vgic_bits of its 32 INTIDs (banked per vCPU below 32) */
};

struct vgic_vcpu {
    struct vgic_irq local[VGIC_NUM_LOCAL];
    struct vgic_bits local_bits; /* of the banked SGIs and PPIs */
    uint16_t lr_intid[VGIC_MAX_LRS]; /* what each busy LR holds */
    uint16_t stale_intid[VGIC_MAX_LRS];
    uint32_t lr_busy; /* loaded by us, not yet EOIed (VGICMaintenance with its IDX) */
    uint32_t lr_stale; /* held something when the vGIC was reset; may be overwritten */
    uint32_t lr_stuck; /* the kernel refused to overwrite it (DeleteFirst) */
    uint32_t queued_levels;
    uint64_t queue[VGIC_PRIO_LEVELS][VGIC_QUEUE_WORDS];
    uint8_t num_lrs;
    bool rd_asleep; /* GICv3: GICR_WAKER.ProcessorSleep (ChildrenAsleep follows it at once) */
};

struct vgic_state {
    bool ready;
    enum gic_version version; /* chosen at run time from the guest configuration */
    size_t num_vcpus;
    uint8_t vcpu_mask; /* one bit per configured vCPU */
    uint64_t gicd_gpa;
    uint64_t gicr_gpa; /* GICv3: first redistributor frame */
    /* GICD_CTLR bit 0 EnableGrp0, bit 1 EnableGrp1 (GICv2 without Security Extensions; GICv3 with DS = 1) */
    uint32_t ctlr;
    struct vgic_irq spi[VGIC_MAX_SPIS];
    struct vgic_bits spi_bits[VGIC_MAX_SPIS / 32];
    uint64_t irouter[VGIC_MAX_SPIS]; /* GICv3: GICD_IROUTER<n> of each SPI as the guest reads it */
    struct vgic_vcpu vcpu[GUEST_MAX_VCPUS];
};

extern struct vgic_state vgic_state;

#define VGIC_CTLR_MASK 0x3u

/* --- vgic.c: the per-INTID state machine ------------------------------------------------------------------- */

/* The state of intid as seen from vcpu (banked below 32), or NULL if not implemented. vcpu must be valid. */
static inline struct vgic_irq *vgic_irq_get(size_t vcpu, unsigned intid)
{
    if (intid < VGIC_NUM_LOCAL) {
        return &vgic_state.vcpu[vcpu].local[intid];
    }
    return intid < VGIC_NUM_INTIDS ? &vgic_state.spi[intid - VGIC_NUM_LOCAL] : NULL;
}

/* Pending as the guest reads it (ISPENDR). */
bool vgic_irq_pending(const struct vgic_irq *irq);

/*
 * One bit-per-INTID register word: INTIDs first .. first + 31 (first a
 * multiple of 32) as vcpu sees them; 0 (RAZ) beyond the implemented INTIDs.
 */
static inline uint32_t vgic_bits_read(size_t vcpu, unsigned first, enum vgic_bit which)
{
    if (first < VGIC_NUM_LOCAL) {
        return vgic_state.vcpu[vcpu].local_bits.word[which];
    }
    if (first < VGIC_NUM_INTIDS) {
        return vgic_state.spi_bits[(first - VGIC_NUM_LOCAL) / 32].word[which];
    }
    return 0;
}

/* Re-evaluate where irq is queued after any state change, then refill the LRs of the vCPUs it may go to. */
void vgic_irq_update(struct vgic_irq *irq);

/* As vgic_irq_update() without the refill: returns the vCPUs whose LRs should be refilled. */
uint8_t vgic_irq_requeue(struct vgic_irq *irq);

/* Guest register operations (every one re-evaluates delivery). */
void vgic_irq_set_enabled(struct vgic_irq *irq, bool enabled);
void vgic_irq_set_pending(struct vgic_irq *irq, bool pending);
void vgic_irq_set_active(struct vgic_irq *irq, bool active);
void vgic_irq_set_group(struct vgic_irq *irq, bool group1);
void vgic_irq_set_priority(struct vgic_irq *irq, uint8_t priority);
void vgic_irq_set_targets(struct vgic_irq *irq, uint8_t targets);
void vgic_irq_set_edge(struct vgic_irq *irq, bool edge);

/* GICD_CTLR group enables. */
void vgic_set_ctlr(uint32_t ctlr);

/* SGI `sgi` from vCPU `source` becomes pending on vCPU `target` (both valid). Inline: the IPI path. */
static inline void vgic_sgi_raise(size_t target, unsigned sgi, size_t source)
{
    struct vgic_irq *irq = &vgic_state.vcpu[target].local[sgi];
    irq->sgi_sources |= (uint8_t)(1u << source);
    vgic_irq_update(irq);
}

/* Clear the pending state of SGI `sgi` on `target` for every source in `sources`. */
void vgic_sgi_clear(size_t target, unsigned sgi, uint8_t sources);

/* --- vgic_lr.c: pending queues and list registers ------------------------------------------------------------ */

/* Learn the LR count of vcpu from the kernel (ABI 3.1 RangeError probe). */
bool vgic_lr_probe(size_t vcpu, uint8_t *num_lrs);

/* Add irq to / remove it from the queue of vcpu at priority level `level`. */
void vgic_queue_insert(size_t vcpu, const struct vgic_irq *irq, unsigned level);
void vgic_queue_remove(size_t vcpu, const struct vgic_irq *irq, unsigned level);

/* Load the best queued INTIDs of vcpu into every free LR. */
void vgic_lr_refill(size_t vcpu);

/*
 * Load irq, deliverable to vcpu, into a free LR of vcpu if its queue is empty
 * (irq is then its best INTID). False if there is no free LR, the queue is
 * not empty or the kernel refused the LR: queue irq instead.
 */
bool vgic_lr_load_now(size_t vcpu, struct vgic_irq *irq);

/* Refill every vCPU in the mask. */
void vgic_lr_refill_mask(uint8_t vcpus);

/* Reset: queues empty, no LR busy; LRs that were busy become stale (may still hold an old vIRQ). */
void vgic_lr_reset(size_t vcpu);

/* irq sits in an LR and its priority or group changed: rewrite that LR's copy while it is still pending. */
void vgic_lr_retag(struct vgic_irq *irq);

/* --- vgic_v2_dist.c: the GICv2 distributor register file ---------------------------------------------------- */

#define VGIC_V2_DIST_SIZE 0x1000

/* MMIO handler of the GICv2 distributor window (registered with mmio_register()). */
bool vgic_v2_dist_mmio(size_t vcpu, struct mmio_access *access, void *cookie);

/* --- GICv3 (IHI 0069): vgic_v3_dist.c, vgic_v3_redist.c, vgic_v3_regs.c ------------------------------------- */

#define VGIC_V3_DIST_SIZE 0x10000 /* one 64 KiB frame (IHI 0069 12.8) */
#define VGIC_V3_REDIST_SIZE 0x20000 /* per vCPU: RD_base + SGI_base, 64 KiB each (12.10) */

/* The guest-physical window of all redistributors: one frame pair per vCPU. */
static inline uint64_t vgic_v3_redist_window(size_t num_vcpus)
{
    return (uint64_t)num_vcpus * VGIC_V3_REDIST_SIZE;
}

/* Register both windows (config already validated). False (logged) if the MMIO registry refuses one. */
bool vgic_v3_register(const struct guest_config *config);

/* MMIO handlers of the distributor and the redistributor windows. */
bool vgic_v3_dist_mmio(size_t vcpu, struct mmio_access *access, void *cookie);
bool vgic_v3_redist_mmio(size_t vcpu, struct mmio_access *access, void *cookie);

/*
 * Routing at reset and after registration: GICD_IROUTER of an SPI names the
 * vCPU it was registered on (vCPU 0 if none), Interrupt_Routing_Mode 0, and
 * its target set follows. Does not re-queue: call before anything is pending
 * or follow with vgic_irq_update().
 */
void vgic_v3_route_reset(struct vgic_irq *irq);

/* Every redistributor asleep (GICR_WAKER reset value) and every SPI routed as vgic_v3_route_reset() says. */
void vgic_v3_reset(void);

/* vCPUs whose redistributor is awake (GICR_WAKER.ProcessorSleep = 0): the participating nodes of 1-of-N SPIs. */
uint8_t vgic_v3_awake_mask(void);

/* A redistributor woke or went to sleep: re-route the SPIs with Interrupt_Routing_Mode 1. */
void vgic_v3_awake_changed(void);

/*
 * The register block the distributor (SPIs) and each redistributor's SGI_base
 * frame (SGIs, PPIs) share, at the same offsets (IHI 0069 12.9, 12.11):
 * IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER at 0x080..0x3ff, IPRIORITYR
 * at 0x400..0x7ff, ICFGR at 0xc00..0xcff. `vcpu` makes the access, `bank` is
 * the vCPU whose SGIs/PPIs the frame shows (any vCPU for the distributor);
 * only INTIDs in [lo, hi) are reachable, the rest of the
 * block is RAZ/WI. Returns false if `off` is outside the block (the caller
 * decodes it). Word accesses everywhere, byte accesses to IPRIORITYR; any
 * other width is RAZ/WI with a rate-limited warning.
 */
bool vgic_v3_irq_regs(size_t vcpu, size_t bank, struct mmio_access *access, uint32_t off, unsigned lo, unsigned hi);

/* PIDR4..7, PIDR0..3, CIDR0..3 at 0xffd0..0xfffc of the distributor and RD_base frames; ArchRev 3. */
#define VGIC_V3_ID_START 0xffd0
uint32_t vgic_v3_id_reg(uint32_t off);

/* GICD_IIDR and GICR_IIDR. */
#define VGIC_V3_IIDR 0x4c03043bu

/* Log a refused access (wrong width or alignment) to frame `what`; it is RAZ/WI. */
void vgic_v3_bad_access(size_t vcpu, const char *what, const struct mmio_access *access, uint32_t off);
