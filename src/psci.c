/*
 * PSCI 1.1 (Arm DEN0022) for the guest: DESIGN section 5.
 *
 * Every argument comes from the guest and is checked here. Functions outside
 * the implemented set answer NOT_SUPPORTED, so a guest is never left blocked.
 */
#include <libvmm/guest.h>
#include <libvmm/guest_ram.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "psci.h"
#include "vcpu.h"

/*
 * The vCPU SYSTEM_RESET boots again. guest_start() may have used any vCPU,
 * but the library does not record which; vCPU 0 is the boot vCPU of every
 * configuration we build (DT cpu@0).
 */
#define PSCI_RESET_BOOT_VCPU 0

static int64_t psci_features(uint32_t queried)
{
    switch (queried) {
    case PSCI_FID_CPU_SUSPEND:
    case PSCI_FID_64(PSCI_FID_CPU_SUSPEND):
        /* Bit 1 = 0: original power_state format; bit 0 = 0: no OS-initiated mode (DEN0022 PSCI_FEATURES). */
        return 0;
    case PSCI_FID_VERSION:
    case PSCI_FID_CPU_OFF:
    case PSCI_FID_CPU_ON:
    case PSCI_FID_64(PSCI_FID_CPU_ON):
    case PSCI_FID_AFFINITY_INFO:
    case PSCI_FID_64(PSCI_FID_AFFINITY_INFO):
    case PSCI_FID_MIGRATE_INFO_TYPE:
    case PSCI_FID_SYSTEM_OFF:
    case PSCI_FID_SYSTEM_RESET:
    case PSCI_FID_FEATURES:
    case SMCCC_VERSION_FID: /* how a guest discovers SMCCC 1.1 (DEN0028, SMCCC_VERSION) */
        return PSCI_SUCCESS;
    default:
        return PSCI_NOT_SUPPORTED;
    }
}

static int64_t psci_cpu_on(size_t caller, uint64_t target_mpidr, uint64_t entry, uint64_t context_id)
{
    size_t target;
    if (!vcpu_from_mpidr(target_mpidr, &target)) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: CPU_ON for MPIDR 0x%llx, which names no vCPU", caller,
                  (unsigned long long)target_mpidr);
        return PSCI_INVALID_PARAMETERS;
    }
    if (vcpu_power_state(target) == VCPU_POWER_ON) {
        return PSCI_ALREADY_ON;
    }
    if ((entry & 3) != 0 || !guest_ram_contains(entry, 4)) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: CPU_ON vCPU %zu at 0x%llx, outside guest RAM", caller, target,
                  (unsigned long long)entry);
        return PSCI_INVALID_ADDRESS;
    }
    /* Full reset of the target: EL1 sysregs, timer, PSTATE, x0 = context id (DEN0022 CPU_ON). */
    if (!vcpu_boot(target, entry, context_id)) {
        return PSCI_INTERNAL_FAILURE;
    }
    return PSCI_SUCCESS;
}

static int64_t psci_affinity_info(uint64_t target_affinity, uint64_t lowest_level)
{
    size_t target;
    /* Only level 0 is required from PSCI 1.0 on; higher levels have no nodes to report here. */
    if (lowest_level != 0 || !vcpu_from_mpidr(target_affinity, &target)) {
        return PSCI_INVALID_PARAMETERS;
    }
    return vcpu_power_state(target) == VCPU_POWER_ON ? PSCI_AFFINITY_ON : PSCI_AFFINITY_OFF;
}

static enum smccc_outcome psci_system_off(size_t vcpu)
{
    LOG_GUEST(LOG_LEVEL_INFO, "guest powered off (PSCI SYSTEM_OFF from vCPU %zu)", vcpu);
    guest_stop(vcpu);
    guest_notify_power(GUEST_POWER_OFF);
    return SMCCC_STOPPED;
}

static enum smccc_outcome psci_system_reset(size_t vcpu)
{
    LOG_GUEST(LOG_LEVEL_INFO, "guest reboot (PSCI SYSTEM_RESET from vCPU %zu)", vcpu);
    const struct guest_config *cfg = guest_config_get();
    if (cfg != NULL &&
        guest_restart(PSCI_RESET_BOOT_VCPU, (uintptr_t)cfg->ram[0].vmm_vaddr, (size_t)cfg->ram[0].size)) {
        guest_notify_power(GUEST_POWER_RESET);
        return SMCCC_RESTARTED;
    }
    LOG_ERR("SYSTEM_RESET from vCPU %zu: restart failed, guest stopped", vcpu);
    guest_stop(vcpu);
    return SMCCC_STOPPED;
}

enum smccc_outcome psci_handle(size_t vcpu, uint32_t fid, const uint64_t args[8], int64_t *ret)
{
    *ret = PSCI_SUCCESS;
    switch (fid) {
    case PSCI_FID_VERSION:
        *ret = PSCI_VERSION_1_1;
        return SMCCC_RESUME;
    case PSCI_FID_CPU_SUSPEND:
    case PSCI_FID_64(PSCI_FID_CPU_SUSPEND):
        /*
         * Standby and powerdown alike return at once, as if a wake-up event
         * had arrived (DEN0022 allows an early return from CPU_SUSPEND). An
         * idle guest idles in WFI, which hyp lets run on the hardware.
         */
        return SMCCC_RESUME;
    case PSCI_FID_CPU_OFF:
        vcpu_power_off(vcpu);
        return SMCCC_STOPPED;
    case PSCI_FID_CPU_ON:
    case PSCI_FID_64(PSCI_FID_CPU_ON):
        *ret = psci_cpu_on(vcpu, args[1], args[2], args[3]);
        return SMCCC_RESUME;
    case PSCI_FID_AFFINITY_INFO:
    case PSCI_FID_64(PSCI_FID_AFFINITY_INFO):
        *ret = psci_affinity_info(args[1], args[2]);
        return SMCCC_RESUME;
    case PSCI_FID_MIGRATE_INFO_TYPE:
        *ret = PSCI_MIGRATE_INFO_TYPE_NONE;
        return SMCCC_RESUME;
    case PSCI_FID_SYSTEM_OFF:
        return psci_system_off(vcpu);
    case PSCI_FID_SYSTEM_RESET:
        return psci_system_reset(vcpu);
    case PSCI_FID_FEATURES:
        *ret = psci_features((uint32_t)args[1]);
        return SMCCC_RESUME;
    default:
        /* MIGRATE, SYSTEM_SUSPEND, SYSTEM_RESET2, statistics, ...: optional, not offered. */
        LOG_GUEST(LOG_LEVEL_DEBUG, "vCPU %zu: PSCI function 0x%x not supported", vcpu, fid);
        *ret = PSCI_NOT_SUPPORTED;
        return SMCCC_RESUME;
    }
}
