/*
 * GICv3 register blocks shared by the distributor and the redistributors'
 * SGI_base frames (IHI 0069 sections 12.9 and 12.11 use the same offsets for
 * IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER, IPRIORITYR and ICFGR; the
 * distributor's copy covers the SPIs, each SGI_base frame the SGIs and PPIs
 * of its vCPU), the identification registers and access-width policing.
 *
 * Differences from the GICv2 distributor (vgic_v2_dist.c): with affinity
 * routing there is no per-source SGI state, so the SGI bits of
 * GICR_ISPENDR0/ICPENDR0 set and clear the SGI's pending state, and the
 * SGI half of GICR_ICFGR0 is read-only edge (12.11, those registers).
 */
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "vgic/vgic_internal.h"

#define REG_IGROUPR 0x080
#define REG_BITS_END 0x400
#define REG_IPRIORITYR 0x400
#define REG_IPRIORITYR_END 0x800
#define REG_ICFGR 0xc00
#define REG_ICFGR_END 0xd00
#define REG_BIT_BLOCK 0x80 /* each bit-per-INTID array spans 0x80 bytes */

/*
 * PIDR4..7, PIDR0..3, CIDR0..3. JEP106 code of Arm (0x43b: continuation 4,
 * identity 0x3b) and part number 0x04c as in the GICv2 emulation and IIDR;
 * PIDR4.SIZE = 4 (a 64 KiB frame); PIDR2.ArchRev = 3 (GICv3, 12.9/12.10 GICD_PIDR2, GICR_PIDR2: Linux
 * refuses a GICv3 whose PIDR2 does not say 3 or 4); CIDR = 0xb105f00d.
 */
static const uint8_t id_regs[12] = {0x44, 0x00, 0x00, 0x00, 0x4c, 0xb0, 0x3b, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

uint32_t vgic_v3_id_reg(uint32_t off)
{
    if (off < VGIC_V3_ID_START || off > VGIC_V3_ID_START + 0x2c || (off & 3) != 0) {
        return 0;
    }
    return id_regs[(off - VGIC_V3_ID_START) / 4];
}

void vgic_v3_bad_access(size_t vcpu, const char *what, const struct mmio_access *access, uint32_t off)
{
    LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: %u-byte %s at %s+0x%x is not a supported access: RAZ/WI", vcpu, access->width,
              access->is_write ? "write" : "read", what, off);
}

/* The INTID of the block's bank in [lo, hi), or NULL: the rest of the block is RAZ/WI. */
static struct vgic_irq *irq_at(size_t bank, unsigned intid, unsigned lo, unsigned hi)
{
    if (intid < lo || intid >= hi) {
        return NULL;
    }
    return vgic_irq_get(bank, intid);
}

/* --- bit-per-INTID arrays ------------------------------------------------------------------------------------ */

enum bit_reg { BIT_GROUP, BIT_SET_ENABLE, BIT_CLEAR_ENABLE, BIT_SET_PEND, BIT_CLEAR_PEND, BIT_SET_ACT, BIT_CLEAR_ACT };

/* SGI pending state without sources (IHI 0069 12.11, GICR_ISPENDR0): one pending bit, self as the source. */
static void sgi_set_pending(struct vgic_irq *irq, bool pending)
{
    if (pending) {
        vgic_sgi_raise(irq->owner, irq->intid, irq->owner);
    } else {
        vgic_sgi_clear(irq->owner, irq->intid, 0xff);
    }
}

static void bit_set(enum bit_reg reg, struct vgic_irq *irq, bool one)
{
    if (reg == BIT_GROUP) {
        vgic_irq_set_group(irq, one);
        return;
    }
    if (!one) {
        return; /* writing 0 to a set/clear register has no effect */
    }
    switch (reg) {
    case BIT_SET_ENABLE:
    case BIT_CLEAR_ENABLE:
        vgic_irq_set_enabled(irq, reg == BIT_SET_ENABLE);
        break;
    case BIT_SET_PEND:
    case BIT_CLEAR_PEND:
        if (irq->intid < VGIC_NUM_SGIS) {
            sgi_set_pending(irq, reg == BIT_SET_PEND);
        } else {
            vgic_irq_set_pending(irq, reg == BIT_SET_PEND);
        }
        break;
    default:
        vgic_irq_set_active(irq, reg == BIT_SET_ACT);
        break;
    }
}

_Static_assert(BIT_GROUP == 0 && BIT_CLEAR_ENABLE == 2 && BIT_CLEAR_PEND == 4 && BIT_CLEAR_ACT == 6 &&
                   VGIC_BIT_GROUP == 0 && VGIC_BIT_ENABLED == 1 && VGIC_BIT_PENDING == 2 && VGIC_BIT_ACTIVE == 3,
               "set and clear views share a word: BIT_GROUP -> group, BIT_{SET,CLEAR}_ENABLE -> enabled, ...");

/* lo and hi are multiples of 32 (VGIC_NUM_LOCAL, VGIC_NUM_INTIDS): a register word is wholly inside or outside. */
static void bits_access(size_t bank, struct mmio_access *access, uint32_t off, unsigned lo, unsigned hi)
{
    enum bit_reg reg = (enum bit_reg)((off - REG_IGROUPR) / REG_BIT_BLOCK);
    unsigned first = (off % REG_BIT_BLOCK) * 8;
    if (!access->is_write) {
        access->value = first >= lo && first < hi ? vgic_bits_read(bank, first, (enum vgic_bit)((reg + 1) / 2)) : 0;
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        struct vgic_irq *irq = irq_at(bank, first + i, lo, hi);
        if (irq != NULL) {
            bit_set(reg, irq, (access->value >> i) & 1);
        }
    }
}

/* --- IPRIORITYR (byte per INTID, 5 bits implemented) ------------------------------------------------------------ */

static void priority_access(size_t bank, struct mmio_access *access, uint32_t off, unsigned lo, unsigned hi)
{
    unsigned first = off - REG_IPRIORITYR;
    uint64_t value = 0;
    for (unsigned i = 0; i < access->width; i++) {
        struct vgic_irq *irq = irq_at(bank, first + i, lo, hi);
        if (irq == NULL) {
            continue;
        }
        if (access->is_write) {
            vgic_irq_set_priority(irq, (uint8_t)(access->value >> (8 * i)));
        } else {
            value |= (uint64_t)irq->priority << (8 * i);
        }
    }
    if (!access->is_write) {
        access->value = value;
    }
}

/* --- ICFGR: Int_config[1] = 1 edge, 0 level; SGIs are always edge and read-only ------------------------------- */

static void icfgr_access(size_t bank, struct mmio_access *access, uint32_t off, unsigned lo, unsigned hi)
{
    unsigned first = (off - REG_ICFGR) * 4;
    uint32_t value = 0;
    for (unsigned i = 0; i < 16; i++) {
        struct vgic_irq *irq = irq_at(bank, first + i, lo, hi);
        if (irq == NULL) {
            continue;
        }
        if (!access->is_write) {
            value |= irq->edge ? 2u << (2 * i) : 0;
        } else if (irq->intid >= VGIC_NUM_SGIS) {
            vgic_irq_set_edge(irq, (access->value >> (2 * i + 1)) & 1);
        }
    }
    if (!access->is_write) {
        access->value = value;
    }
}

bool vgic_v3_irq_regs(size_t vcpu, size_t bank, struct mmio_access *access, uint32_t off, unsigned lo, unsigned hi)
{
    bool word = access->width == 4 && (off & 3) == 0;
    bool ok;
    if (off >= REG_IGROUPR && off < REG_BITS_END) {
        ok = word;
        if (ok) {
            bits_access(bank, access, off, lo, hi);
        }
    } else if (off >= REG_IPRIORITYR && off < REG_IPRIORITYR_END) {
        ok = word || access->width == 1;
        if (ok) {
            priority_access(bank, access, off, lo, hi);
        }
    } else if (off >= REG_ICFGR && off < REG_ICFGR_END) {
        ok = word;
        if (ok) {
            icfgr_access(bank, access, off, lo, hi);
        }
    } else {
        return false;
    }
    if (!ok) {
        vgic_v3_bad_access(vcpu, lo >= VGIC_NUM_LOCAL ? "GICD" : "GICR_SGI_base", access, off);
    }
    return true;
}
