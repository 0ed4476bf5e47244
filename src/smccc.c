/*
 * SMC Calling Convention 1.1 (Arm DEN0028) for guest SMC and HVC calls:
 * DESIGN section 5. Both conduits land here with the same semantics.
 *
 * Register use (DEN0028, "SMC32/HVC32" and "SMC64/HVC64" argument passing):
 * the function id is W0; an SMC32/HVC32 call passes its arguments in W1-W7,
 * so their upper halves are ignored; results go to X0-X3 (W0-W3), X4-X17 are
 * preserved. A 32-bit result is written sign-extended, which is how DEN0028
 * (issue B on) defines the Unknown Function Identifier value (-1 "sign-extended
 * ... in R0, W0 or X0") and leaves every other 32-bit result unchanged in W0.
 */
#include <stdbool.h>
#include <libvmm/log.h>
#include "psci.h"
#include "smccc.h"

static int64_t smccc_arch_features(uint32_t queried)
{
    switch (queried) {
    case SMCCC_VERSION_FID:
    case SMCCC_ARCH_FEATURES_FID:
        return SMCCC_RET_SUCCESS;
    case SMCCC_ARCH_WORKAROUND_1_FID:
    case SMCCC_ARCH_WORKAROUND_2_FID:
    case SMCCC_ARCH_WORKAROUND_3_FID:
        /*
         * Not implemented: the guest must not call them on every context
         * switch (DESIGN 5). NOT_SUPPORTED tells it no firmware mitigation
         * exists.
         */
    default:
        return SMCCC_RET_NOT_SUPPORTED;
    }
}

static int64_t smccc_arch_call(size_t vcpu, uint32_t fid, const uint64_t args[8])
{
    switch (fid) {
    case SMCCC_VERSION_FID:
        return SMCCC_VERSION_1_1;
    case SMCCC_ARCH_FEATURES_FID:
        return smccc_arch_features((uint32_t)args[1]);
    default:
        LOG_GUEST(LOG_LEVEL_DEBUG, "vCPU %zu: Arm architecture call 0x%x not supported", vcpu, fid);
        return SMCCC_RET_NOT_SUPPORTED;
    }
}

enum smccc_service {
    SERVICE_NONE, /* everything !smccc_fid_served() */
    SERVICE_ARCH, /* Arm Architecture Calls */
    SERVICE_PSCI, /* Standard Secure Service calls 0x00..0x1f */
};

static enum smccc_service fid_service(uint32_t fid)
{
    if (!smccc_fid_served(fid)) {
        return SERVICE_NONE; /* there is no Trusted OS behind us for yielding calls, nor any other service */
    }
    return ((fid >> SMCCC_OWNER_SHIFT) & SMCCC_OWNER_MASK) == SMCCC_OWNER_ARCH ? SERVICE_ARCH : SERVICE_PSCI;
}

void smccc_log_unsupported(size_t vcpu, uint32_t fid)
{
    LOG_GUEST(LOG_LEVEL_DEBUG, "vCPU %zu: function id 0x%x (owner %u) not supported", vcpu, fid,
              (fid >> SMCCC_OWNER_SHIFT) & SMCCC_OWNER_MASK);
}

_Static_assert(SMCCC_NOT_SUPPORTED_X0 == (uint64_t)(int64_t)SMCCC_RET_NOT_SUPPORTED, "NOT_SUPPORTED in x0");

static enum smccc_outcome dispatch(size_t vcpu, uint32_t fid, const uint64_t args[8], int64_t *ret)
{
    switch (fid_service(fid)) {
    case SERVICE_ARCH:
        *ret = smccc_arch_call(vcpu, fid, args);
        return SMCCC_RESUME;
    case SERVICE_PSCI:
        return psci_handle(vcpu, fid, args, ret);
    default:
        smccc_log_unsupported(vcpu, fid);
        *ret = SMCCC_RET_NOT_SUPPORTED;
        return SMCCC_RESUME;
    }
}

enum smccc_outcome smccc_handle(size_t vcpu, uint64_t regs[8])
{
    uint32_t fid = (uint32_t)regs[0];
    bool is64 = (fid & SMCCC_64BIT) != 0;
    uint64_t args[8];
    for (size_t i = 0; i < 8; i++) {
        args[i] = is64 ? regs[i] : (uint32_t)regs[i];
    }
    int64_t ret = SMCCC_RET_NOT_SUPPORTED;
    enum smccc_outcome outcome = dispatch(vcpu, fid, args, &ret);
    if (outcome == SMCCC_RESUME) {
        regs[0] = is64 ? (uint64_t)ret : (uint64_t)(int64_t)(int32_t)ret;
    }
    return outcome;
}
