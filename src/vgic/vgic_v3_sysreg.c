/*
 * GICv3 CPU-interface system registers that trap to the VMM. The guest's
 * ICC_* accesses go to the ICV_* registers backed by the hardware list
 * registers (HCR_EL2.IMO/FMO = 1); what still traps (ABI 2.3) is:
 *  - writes to ICC_SGI0R_EL1, ICC_SGI1R_EL1 and ICC_ASGI1R_EL1: generating
 *    an SGI needs the distributor, so they trap whenever HCR_EL2.IMO or FMO
 *    is set (Arm ARM, the registers' "Traps and enables"; QEMU does the
 *    same). Emulated here.
 *  - ICC_SRE_EL1 on a kernel that leaves ICC_SRE_EL2.Enable = 0 (seL4 does;
 *    QEMU's TCG GIC never traps it): reads give SRE = DFB = DIB = 1 (0x7:
 *    system registers only, no bypass), writes are ignored.
 *  - anything else in the GIC register space only if the kernel sets
 *    ICH_HCR_EL2.TC/TALL0/TALL1/TDIR, which seL4 does not: RAZ/WI with a
 *    rate-limited warning, so the guest carries on.
 * Reads of the write-only SGI registers, and any register outside the GIC
 * CPU interface, are not the vGIC's: the caller makes them UNDEFINED.
 *
 * SGI register fields (IHI 0069 12.11, ICC_SGI1R_EL1): TargetList [15:0],
 * Aff1 [23:16], INTID [27:24], Aff2 [39:32], IRM [40], RS [47:44], Aff3
 * [55:48]. IRM = 1: every vCPU but the sender. IRM = 0: each vCPU whose
 * MPIDR has that Aff3.Aff2.Aff1 and an Aff0 = RS * 16 + n with TargetList[n]
 * set; names of vCPUs that do not exist select nothing (the loop runs over
 * the vCPUs, never over guest-supplied indices: Xen XSA-225).
 * Groups with one security state (GICD_CTLR.DS = 1): ICC_SGI0R_EL1 raises
 * only SGIs configured as group 0, ICC_SGI1R_EL1 those of either group, and
 * ICC_ASGI1R_EL1 (there is no other security state) behaves as ICC_SGI0R_EL1
 * ("Forwarding an SGI to a target PE", IHI 0069; KVM reads it the same way).
 * GICv3 SGIs have no source: one pending bit per target (vgic_sgi_raise()
 * with the target as source, so simultaneous senders coalesce).
 */
#include <libvmm/log.h>
#include "vcpu.h"
#include "vgic/vgic_internal.h"

#define ICC_PMR_EL1 VGIC_SYSREG_KEY(3, 0, 4, 6, 0)
#define ICC_SGI1R_EL1 VGIC_SYSREG_KEY(3, 0, 12, 11, 5)
#define ICC_ASGI1R_EL1 VGIC_SYSREG_KEY(3, 0, 12, 11, 6)
#define ICC_SGI0R_EL1 VGIC_SYSREG_KEY(3, 0, 12, 11, 7)
#define ICC_SRE_EL1 VGIC_SYSREG_KEY(3, 0, 12, 12, 5)

#define ICC_SRE_VALUE 0x7u /* SRE | DFB | DIB */

#define SGIR_TARGETS_MASK 0xffffull
#define SGIR_AFF1_SHIFT 16
#define SGIR_INTID_SHIFT 24
#define SGIR_AFF2_SHIFT 32
#define SGIR_IRM (1ull << 40)
#define SGIR_RS_SHIFT 44
#define SGIR_AFF3_SHIFT 48

#define MPIDR_AFF_MASK 0xff00ffffffull

/* Fields of a key (the ISS layout: vgic.h). */
#define KEY_OP0(k) (((k) >> 20) & 0x3)
#define KEY_OP2(k) (((k) >> 17) & 0x7)
#define KEY_OP1(k) (((k) >> 14) & 0x7)
#define KEY_CRN(k) (((k) >> 10) & 0xf)
#define KEY_CRM(k) (((k) >> 1) & 0xf)

/* The GICv3 CPU interface's EL1 registers: op0 3, op1 0, CRn 12, CRm 8/9/11/12, or ICC_PMR_EL1 (IHI 0069 ch. 12). */
static bool is_icc_el1(uint32_t key)
{
    if (key == ICC_PMR_EL1) {
        return true;
    }
    unsigned crm = KEY_CRM(key);
    return KEY_OP0(key) == 3 && KEY_OP1(key) == 0 && KEY_CRN(key) == 12 &&
           (crm == 8 || crm == 9 || crm == 11 || crm == 12);
}

/* The vCPUs an IRM = 0 SGI register value names. */
static uint8_t sgi_affinity_targets(uint64_t value)
{
    uint64_t cluster = ((value >> SGIR_AFF3_SHIFT) & 0xff) << 32 | ((value >> SGIR_AFF2_SHIFT) & 0xff) << 16 |
                       ((value >> SGIR_AFF1_SHIFT) & 0xff) << 8;
    unsigned rs = (value >> SGIR_RS_SHIFT) & 0xf;
    uint16_t list = (uint16_t)(value & SGIR_TARGETS_MASK);
    uint8_t targets = 0;
    for (size_t v = 0; v < vgic_state.num_vcpus; v++) {
        uint64_t aff = vcpu_mpidr(v) & MPIDR_AFF_MASK;
        unsigned aff0 = aff & 0xff;
        if ((aff & ~0xffull) == cluster && aff0 / 16 == rs && ((list >> (aff0 % 16)) & 1)) {
            targets |= (uint8_t)(1u << v);
        }
    }
    return targets;
}

static void sgi_generate(size_t sender, uint64_t value, bool any_group)
{
    unsigned sgi = (value >> SGIR_INTID_SHIFT) & 0xf;
    uint8_t targets;
    if (value & SGIR_IRM) {
        targets = vgic_state.vcpu_mask & (uint8_t) ~(1u << sender);
    } else {
        targets = sgi_affinity_targets(value);
    }
    for (uint32_t m = targets; m != 0; m &= m - 1) {
        size_t t = (size_t)__builtin_ctz(m);
        if (any_group || !vgic_state.vcpu[t].local[sgi].group1) {
            vgic_sgi_raise(t, sgi, t);
        }
    }
}

bool vgic_sysreg_access(size_t vcpu, uint32_t key, bool is_read, uint64_t *value)
{
    if (!vgic_state.ready || vgic_state.version != GIC_VERSION_3 || vcpu >= vgic_state.num_vcpus) {
        return false; /* no GICv3 CPU interface: UNDEFINED, as on hardware without one */
    }
    switch (key) {
    case ICC_SGI1R_EL1:
    case ICC_SGI0R_EL1:
    case ICC_ASGI1R_EL1:
        if (is_read) {
            return false; /* write-only */
        }
        sgi_generate(vcpu, *value, key == ICC_SGI1R_EL1);
        return true;
    case ICC_SRE_EL1:
        if (is_read) {
            *value = ICC_SRE_VALUE;
        }
        return true;
    default:
        break;
    }
    if (!is_icc_el1(key)) {
        return false;
    }
    LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: trapped %s of ICC register S3_%u_C%u_C%u_%u: RAZ/WI", vcpu,
              is_read ? "read" : "write", KEY_OP1(key), KEY_CRN(key), KEY_CRM(key), KEY_OP2(key));
    if (is_read) {
        *value = 0;
    }
    return true;
}
