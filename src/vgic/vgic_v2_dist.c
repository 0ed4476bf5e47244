/*
 * GICv2 distributor register file (GIC architecture spec IHI 0048B section
 * 4.3, table 4-1), on top of the version-independent state machine.
 *
 * What is emulated: a GICv2 distributor without the Security Extensions
 * (GICD_TYPER.SecurityExtn = 0: both groups are visible, IGROUPR is
 * writable, GICD_SGIR.NSATT is ignored, NSACR is RAZ/WI), one CPU interface
 * per configured vCPU and VGIC_MAX_SPIS SPIs. Identification:
 *   GICD_IIDR = 0x4c00043b: Implementer 0x43b (JEP106 code of Arm, the
 *   architecture owner, as KVM's emulated GIC also reports), ProductID 0x4c
 *   ('L', libvmm's own emulation), Variant 0, Revision 0;
 *   PIDR0-4 carry the same JEP106 code and part number 0x04c, PIDR2.ArchRev =
 *   2 (GICv2); CIDR0-3 are the standard component ID 0xb105f00d.
 *
 * Access widths (4.1, table 4-1): every register is word-accessible; IPRIORITYR,
 * ITARGETSR, CPENDSGIR and SPENDSGIR are also byte-accessible. Any other
 * width or a misaligned access is RAZ/WI with a rate-limited warning, as are
 * reserved and unimplemented offsets (without the warning). Nothing asserts.
 */
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "vgic/vgic_internal.h"

#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IIDR 0x008
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ISPENDR 0x200
#define GICD_ICPENDR 0x280
#define GICD_ISACTIVER 0x300
#define GICD_ICACTIVER 0x380
#define GICD_BITS_END 0x400
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_ICFGR 0xc00
#define GICD_ICFGR_END 0xd00
#define GICD_SGIR 0xf00
#define GICD_CPENDSGIR 0xf10
#define GICD_SPENDSGIR 0xf20
#define GICD_SGI_PEND_END 0xf30
#define GICD_ID_START 0xfd0

#define GICD_BIT_BLOCK 0x80 /* each bit-per-INTID register array spans 0x80 bytes */

#define VGIC_V2_IIDR 0x4c00043bu

/* PIDR4..7, PIDR0..3, CIDR0..3 at 0xfd0..0xffc. */
static const uint8_t gicd_id_regs[12] = {0x04, 0x00, 0x00, 0x00, 0x4c, 0xb0, 0x2b, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

#define SGIR_FILTER_SHIFT 24
#define SGIR_TARGETS_SHIFT 16
#define SGIR_INTID_MASK 0xfu

/* GICD_TYPER (4.3.2): ITLinesNumber = lines/32 - 1, CPUNumber = CPU interfaces - 1. */
static uint32_t typer_read(void)
{
    uint32_t it_lines = VGIC_NUM_INTIDS / 32 - 1;
    return it_lines | (uint32_t)((vgic_state.num_vcpus - 1) << 5);
}

/* --- bit-per-INTID arrays: IGROUPR, IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER ---------------------------- */

enum bit_reg { BIT_GROUP, BIT_SET_ENABLE, BIT_CLEAR_ENABLE, BIT_SET_PEND, BIT_CLEAR_PEND, BIT_SET_ACT, BIT_CLEAR_ACT };

/*
 * One written bit. IS/ICPENDR bits of SGIs are WI (SPENDSGIR/CPENDSGIR set
 * and clear their per-source state, 4.3.7, 4.3.8).
 */
static void bit_set(enum bit_reg reg, struct vgic_irq *irq, bool one)
{
    bool sgi = irq->intid < VGIC_NUM_SGIS;
    switch (reg) {
    case BIT_GROUP:
        vgic_irq_set_group(irq, one);
        break;
    case BIT_SET_ENABLE:
    case BIT_CLEAR_ENABLE:
        if (one) {
            vgic_irq_set_enabled(irq, reg == BIT_SET_ENABLE);
        }
        break;
    case BIT_SET_PEND:
    case BIT_CLEAR_PEND:
        if (one && !sgi) {
            vgic_irq_set_pending(irq, reg == BIT_SET_PEND);
        }
        break;
    default:
        if (one) {
            vgic_irq_set_active(irq, reg == BIT_SET_ACT);
        }
        break;
    }
}

_Static_assert(BIT_GROUP == 0 && BIT_CLEAR_ENABLE == 2 && BIT_CLEAR_PEND == 4 && BIT_CLEAR_ACT == 6 &&
                   VGIC_BIT_GROUP == 0 && VGIC_BIT_ENABLED == 1 && VGIC_BIT_PENDING == 2 && VGIC_BIT_ACTIVE == 3,
               "bit_kind");

/* The set and clear views of a register share a word: BIT_GROUP -> group, BIT_{SET,CLEAR}_ENABLE -> enabled, ... */
static enum vgic_bit bit_kind(enum bit_reg reg)
{
    return (enum vgic_bit)((reg + 1) / 2);
}

static uint32_t bits_read(size_t vcpu, uint32_t off)
{
    enum bit_reg reg = (enum bit_reg)((off - GICD_IGROUPR) / GICD_BIT_BLOCK);
    return vgic_bits_read(vcpu, (off % GICD_BIT_BLOCK) * 8, bit_kind(reg));
}

static void bits_write(size_t vcpu, uint32_t off, uint32_t value)
{
    enum bit_reg reg = (enum bit_reg)((off - GICD_IGROUPR) / GICD_BIT_BLOCK);
    unsigned first = (off % GICD_BIT_BLOCK) * 8;
    for (unsigned i = 0; i < 32; i++) {
        struct vgic_irq *irq = vgic_irq_get(vcpu, first + i);
        if (irq != NULL) {
            bit_set(reg, irq, (value >> i) & 1);
        }
    }
}

/* --- byte-per-INTID arrays: IPRIORITYR, ITARGETSR; SPENDSGIR/CPENDSGIR ------------------------------------ */

static uint8_t priority_read(size_t vcpu, unsigned intid)
{
    const struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    return irq != NULL ? irq->priority : 0;
}

static void priority_write(size_t vcpu, unsigned intid, uint8_t value)
{
    struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    if (irq != NULL) {
        vgic_irq_set_priority(irq, value);
    }
}

/* 4.3.12: ITARGETSR0-7 (SGIs, PPIs) are read-only and read as the accessing CPU's own bit. */
static uint8_t targets_read(size_t vcpu, unsigned intid)
{
    if (intid < VGIC_NUM_LOCAL) {
        return (uint8_t)(1u << vcpu);
    }
    const struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    return irq != NULL ? irq->targets : 0;
}

/* Bits naming CPU interfaces that do not exist are RAZ/WI. */
static void targets_write(size_t vcpu, unsigned intid, uint8_t value)
{
    struct vgic_irq *irq = vgic_irq_get(vcpu, intid);
    if (intid >= VGIC_NUM_LOCAL && irq != NULL) {
        vgic_irq_set_targets(irq, value);
    }
}

/* 4.3.16/4.3.17: byte n holds SGI n's pending state, one bit per source CPU, banked per target. */
static uint8_t sgi_pend_read(size_t vcpu, unsigned sgi)
{
    return vgic_state.vcpu[vcpu].local[sgi].sgi_sources;
}

static void sgi_pend_write(size_t vcpu, unsigned sgi, uint8_t value, bool set)
{
    value &= vgic_state.vcpu_mask;
    if (!set) {
        vgic_sgi_clear(vcpu, sgi, value);
        return;
    }
    for (uint32_t m = value; m != 0; m &= m - 1) {
        vgic_sgi_raise(vcpu, sgi, (size_t)__builtin_ctz(m));
    }
}

static bool byte_accessible(uint32_t off)
{
    return (off >= GICD_IPRIORITYR && off < GICD_ICFGR) || (off >= GICD_CPENDSGIR && off < GICD_SGI_PEND_END);
}

static uint8_t byte_read(size_t vcpu, uint32_t off)
{
    if (off < GICD_ITARGETSR) {
        return priority_read(vcpu, off - GICD_IPRIORITYR);
    }
    if (off < GICD_ICFGR) {
        return targets_read(vcpu, off - GICD_ITARGETSR);
    }
    if (off < GICD_SPENDSGIR) {
        return sgi_pend_read(vcpu, off - GICD_CPENDSGIR);
    }
    return sgi_pend_read(vcpu, off - GICD_SPENDSGIR);
}

static void byte_write(size_t vcpu, uint32_t off, uint8_t value)
{
    if (off < GICD_ITARGETSR) {
        priority_write(vcpu, off - GICD_IPRIORITYR, value);
    } else if (off < GICD_ICFGR) {
        targets_write(vcpu, off - GICD_ITARGETSR, value);
    } else if (off < GICD_SPENDSGIR) {
        sgi_pend_write(vcpu, off - GICD_CPENDSGIR, value, false);
    } else {
        sgi_pend_write(vcpu, off - GICD_SPENDSGIR, value, true);
    }
}

/* --- ICFGR (4.3.13): Int_config[1] = 1 edge, 0 level; Int_config[0] reserved; SGIs always edge -------------- */

static uint32_t icfgr_read(size_t vcpu, uint32_t off)
{
    unsigned first = (off - GICD_ICFGR) * 4;
    uint32_t value = 0;
    for (unsigned i = 0; i < 16; i++) {
        const struct vgic_irq *irq = vgic_irq_get(vcpu, first + i);
        if (irq != NULL && irq->edge) {
            value |= 2u << (2 * i);
        }
    }
    return value;
}

static void icfgr_write(size_t vcpu, uint32_t off, uint32_t value)
{
    unsigned first = (off - GICD_ICFGR) * 4;
    if (first < VGIC_NUM_SGIS) {
        return;
    }
    for (unsigned i = 0; i < 16; i++) {
        struct vgic_irq *irq = vgic_irq_get(vcpu, first + i);
        if (irq != NULL) {
            vgic_irq_set_edge(irq, (value >> (2 * i + 1)) & 1);
        }
    }
}

/*
 * GICD_SGIR (4.3.15). Target lists are clipped to the vCPUs that exist
 * (a guest naming others must not reach beyond the array: Xen XSA-225).
 * Always true (the write is done or ignored); out of line, so that the
 * dispatch's fast path, which tail-calls it, needs no stack frame.
 */
static __attribute__((noinline)) bool sgir_write(size_t vcpu, uint32_t value)
{
    unsigned sgi = value & SGIR_INTID_MASK;
    uint8_t list = (uint8_t)(value >> SGIR_TARGETS_SHIFT);
    uint8_t targets;
    switch ((value >> SGIR_FILTER_SHIFT) & 3) {
    case 0:
        targets = list & vgic_state.vcpu_mask;
        break;
    case 1:
        targets = vgic_state.vcpu_mask & (uint8_t) ~(1u << vcpu);
        break;
    case 2:
        targets = (uint8_t)(1u << vcpu);
        break;
    default:
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: GICD_SGIR 0x%x uses the reserved target filter: ignored", vcpu, value);
        return true;
    }
    for (uint32_t m = targets; m != 0; m &= m - 1) {
        vgic_sgi_raise((size_t)__builtin_ctz(m), sgi, vcpu);
    }
    return true;
}

/* --- word and byte dispatch ---------------------------------------------------------------------------------- */

/* A word of a byte-per-INTID register, into access->value; out of line, like icfgr_into(). */
static __attribute__((noinline)) bool bytes_into(size_t vcpu, uint32_t off, struct mmio_access *access)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < 4; i++) {
        value |= (uint32_t)byte_read(vcpu, off + i) << (8 * i);
    }
    access->value = value;
    return true;
}

static __attribute__((noinline)) bool icfgr_into(size_t vcpu, uint32_t off, struct mmio_access *access)
{
    access->value = icfgr_read(vcpu, off);
    return true;
}

/*
 * An aligned word read, into access->value. The registers that visit INTIDs
 * one by one are tail calls, so the common ones (bit-per-INTID words are one
 * load) need no stack frame (DESIGN 3).
 */
static bool word_read(size_t vcpu, uint32_t off, struct mmio_access *access)
{
    uint32_t value = 0; /* reserved, IMPLEMENTATION DEFINED, NSACR (no Security Extensions), write-only SGIR */
    if (off >= GICD_IGROUPR && off < GICD_BITS_END) {
        value = bits_read(vcpu, off);
    } else if (off == GICD_CTLR) {
        value = vgic_state.ctlr;
    } else if (off == GICD_TYPER) {
        value = typer_read();
    } else if (off == GICD_IIDR) {
        value = VGIC_V2_IIDR;
    } else if (byte_accessible(off)) {
        return bytes_into(vcpu, off, access);
    } else if (off >= GICD_ICFGR && off < GICD_ICFGR_END) {
        return icfgr_into(vcpu, off, access);
    } else if (off >= GICD_ID_START) {
        value = gicd_id_regs[(off - GICD_ID_START) / 4];
    }
    access->value = value;
    return true;
}

static void word_write(size_t vcpu, uint32_t off, uint32_t value)
{
    if (off == GICD_CTLR) {
        vgic_set_ctlr(value);
    } else if (off >= GICD_IGROUPR && off < GICD_BITS_END) {
        bits_write(vcpu, off, value);
    } else if (byte_accessible(off)) {
        for (unsigned i = 0; i < 4; i++) {
            byte_write(vcpu, off + i, (uint8_t)(value >> (8 * i)));
        }
    } else if (off >= GICD_ICFGR && off < GICD_ICFGR_END) {
        icfgr_write(vcpu, off, value);
    } else if (off == GICD_SGIR) {
        sgir_write(vcpu, value);
    }
    /* Everything else is read-only or reserved: WI. */
}

static __attribute__((noinline, cold)) bool refused(size_t vcpu, struct mmio_access *access, uint64_t off)
{
    if (!access->is_write) {
        access->value = 0;
    }
    LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: distributor access at offset 0x%llx refused: RAZ/WI", vcpu,
              (unsigned long long)off);
    return true;
}

/* Everything but an aligned word read: writes, byte accesses and unsupported widths. */
static __attribute__((noinline)) bool other_access(size_t vcpu, struct mmio_access *access, uint32_t o)
{
    if (!access->is_write) {
        access->value = 0;
    }
    if (access->width == 4 && (o & 3) == 0) {
        word_write(vcpu, o, (uint32_t)access->value);
    } else if (access->width == 1 && byte_accessible(o)) {
        if (access->is_write) {
            byte_write(vcpu, o, (uint8_t)access->value);
        } else {
            access->value = byte_read(vcpu, o);
        }
    } else {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: %u-byte %s at GICD+0x%x is not a supported access: RAZ/WI", vcpu,
                  access->width, access->is_write ? "write" : "read", o);
    }
    return true;
}

bool vgic_v2_dist_mmio(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)cookie;
    uint64_t off = access->offset;
    if (!vgic_state.ready || vcpu >= vgic_state.num_vcpus || off >= VGIC_V2_DIST_SIZE) {
        return refused(vcpu, access, off);
    }
    /* Fast paths (DESIGN 3): an aligned word read, what a guest mostly does here, and an SGI (an IPI). */
    if (access->width == 4 && (off & 3) == 0) {
        if (!access->is_write) {
            return word_read(vcpu, (uint32_t)off, access);
        }
        if (off == GICD_SGIR) {
            return sgir_write(vcpu, (uint32_t)access->value);
        }
    }
    return other_access(vcpu, access, (uint32_t)off);
}
