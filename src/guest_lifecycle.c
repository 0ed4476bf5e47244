/*
 * Guest lifecycle: start, stop and a real restart (DESIGN section 4).
 * Boot register state follows Linux Documentation/arch/arm64/booting.rst
 * section 4; vcpu_boot() sets it.
 */
#include <string.h>
#include <libvmm/guest.h>
#include <libvmm/guest_ram.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "loader_common.h"
#include "loader_internal.h"
#include "util/cache.h"
#include "vcpu.h"
#include "vgic/vgic.h"

#define GUEST_DTB_ALIGN 8

static bool boot_args_valid(size_t boot_vcpu_id, uint64_t pc, uint64_t dtb)
{
    if (!guest_vcpu_valid(boot_vcpu_id)) {
        LOG_ERR("boot vCPU %zu is not configured (%zu vCPUs)", boot_vcpu_id, guest_num_vcpus());
        return false;
    }
    if (pc & 3) {
        LOG_ERR("entry point 0x%llx is not 4-byte aligned", (unsigned long long)pc);
        return false;
    }
    if (!guest_ram_contains(pc, 4)) {
        LOG_ERR("entry point 0x%llx is not in guest RAM", (unsigned long long)pc);
        return false;
    }
    if (dtb % GUEST_DTB_ALIGN != 0 || !guest_ram_contains(dtb, GUEST_DTB_ALIGN)) {
        LOG_ERR("DTB address 0x%llx is not an 8-byte aligned guest RAM address", (unsigned long long)dtb);
        return false;
    }
    return true;
}

bool guest_start(size_t boot_vcpu_id, uintptr_t kernel_pc, uintptr_t dtb, uintptr_t initrd)
{
    if (!boot_args_valid(boot_vcpu_id, kernel_pc, dtb)) {
        return false;
    }
    LOG_DEBUG("initrd at 0x%lx (found by the guest through /chosen)", (unsigned long)initrd);
    if (!vcpu_boot(boot_vcpu_id, kernel_pc, dtb)) {
        LOG_ERR("could not start vCPU %zu at 0x%lx", boot_vcpu_id, (unsigned long)kernel_pc);
        return false;
    }
    LOG_INFO("guest started on vCPU %zu at 0x%lx, DTB at 0x%lx", boot_vcpu_id, (unsigned long)kernel_pc,
             (unsigned long)dtb);
    return true;
}

static void stop_all_vcpus(void)
{
    size_t n = guest_num_vcpus();
    for (size_t i = 0; i < n; i++) {
        vcpu_power_off(i);
    }
}

void guest_stop(size_t boot_vcpu_id)
{
    if (!guest_vcpu_valid(boot_vcpu_id)) {
        LOG_WARN("boot vCPU %zu is not configured; stopping every vCPU anyway", boot_vcpu_id);
    }
    stop_all_vcpus();
    LOG_INFO("guest stopped (%zu vCPUs)", guest_num_vcpus());
}

/* The caller's RAM arguments must name exactly one configured region. */
static bool restart_region_valid(uintptr_t ram_vaddr, size_t ram_size)
{
    const struct guest_config *cfg = guest_config_get();
    for (size_t i = 0; cfg != NULL && i < cfg->num_ram_regions; i++) {
        if (cfg->ram[i].vmm_vaddr == ram_vaddr && cfg->ram[i].size == ram_size) {
            return true;
        }
    }
    LOG_ERR("RAM [0x%lx, +0x%zx) is not a configured guest RAM region", (unsigned long)ram_vaddr, ram_size);
    return false;
}

/* memset is picolibc's optimised one on target; the clean keeps stale dirty lines from reaching RAM later. */
static void zero_guest_ram(void)
{
    const struct guest_config *cfg = guest_config_get();
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        const struct guest_ram_region *r = &cfg->ram[i];
        memset((void *)r->vmm_vaddr, 0, (size_t)r->size);
        cache_clean_to_poc(r->vmm_vaddr, (size_t)r->size);
    }
}

static bool restart_args_valid(size_t boot_vcpu_id, uintptr_t ram_vaddr, size_t ram_size)
{
    if (!guest_vcpu_valid(boot_vcpu_id)) {
        LOG_ERR("boot vCPU %zu is not configured (%zu vCPUs)", boot_vcpu_id, guest_num_vcpus());
        return false;
    }
    if (!restart_region_valid(ram_vaddr, ram_size)) {
        return false;
    }
    if (!loader_recorded()) {
        LOG_ERR("no images were set up (linux_setup_images/raw_setup_images): nothing to reboot into");
        return false;
    }
    return true;
}

/*
 * Called from PSCI SYSTEM_RESET inside the faulting vCPU's fault handler too:
 * vcpu_boot() rewrites that vCPU's whole frame, so the pending fault is simply
 * superseded.
 */
bool guest_restart(size_t boot_vcpu_id, uintptr_t guest_ram_vaddr, size_t guest_ram_size)
{
    bool valid = restart_args_valid(boot_vcpu_id, guest_ram_vaddr, guest_ram_size);
    stop_all_vcpus();
    if (!valid) {
        LOG_ERR("restart refused: guest left stopped");
        return false;
    }
    if (vgic_ready()) {
        vgic_reset();
    }
    guest_run_reset_hooks();
    zero_guest_ram();
    uint64_t entry, dtb;
    if (!loader_reload(&entry, &dtb)) {
        LOG_ERR("reloading the images failed: guest left stopped");
        return false;
    }
    if (!vcpu_boot(boot_vcpu_id, entry, dtb)) {
        LOG_ERR("could not start vCPU %zu at 0x%llx: guest left stopped", boot_vcpu_id, (unsigned long long)entry);
        return false;
    }
    LOG_INFO("guest restarted on vCPU %zu at 0x%llx, DTB at 0x%llx", boot_vcpu_id, (unsigned long long)entry,
             (unsigned long long)dtb);
    return true;
}
