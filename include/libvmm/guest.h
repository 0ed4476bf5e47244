/*
 * Guest configuration and lifecycle.
 *
 * The three seed functions (guest_start, guest_stop, guest_restart) keep the
 * exact signatures of the libvmm 0.1.0 interface; guest_init() is the one
 * extension call that gives the library the guest's static configuration
 * (DESIGN section 4: guest RAM is given once at init).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MAX_VCPUS 8
#define GUEST_MAX_RAM_REGIONS 4

enum gic_version {
    GIC_VERSION_2 = 2,
    GIC_VERSION_3 = 3,
};

/* One region of guest RAM: where the guest sees it and where the VMM does. */
struct guest_ram_region {
    uint64_t gpa; /* guest-physical base */
    uint64_t size; /* bytes */
    uintptr_t vmm_vaddr; /* VMM-virtual address of the same bytes */
};

struct guest_config {
    size_t num_vcpus; /* 1..GUEST_MAX_VCPUS; vCPU ids are 0..num_vcpus-1 */
    size_t num_ram_regions; /* 1..GUEST_MAX_RAM_REGIONS, non-overlapping */
    struct guest_ram_region ram[GUEST_MAX_RAM_REGIONS];
    enum gic_version gic_version;
    uint64_t gicd_gpa; /* guest-physical base of the emulated distributor */
    uint64_t gicr_gpa; /* GICv3 only: base of the first redistributor frame */
};

/*
 * Give the library the guest's configuration. Must be called once, before any
 * other libvmm function. Returns false (and logs why) on an invalid config.
 */
bool guest_init(const struct guest_config *config);

/*
 * Start the guest on boot_vcpu_id: x0 = dtb (guest-physical), x1..x3 = 0,
 * PC = kernel_pc (guest-physical), EL1h with DAIF masked, MMU and caches off
 * (Linux booting.rst). `initrd` is informational: Linux finds the initrd
 * through the DTB's /chosen node, which linux_setup_images() patches.
 * Returns false if the vCPU id is invalid, or the entry point is not a
 * 4-byte aligned address in RAM, or the DTB address is not in RAM.
 */
bool guest_start(size_t boot_vcpu_id, uintptr_t kernel_pc, uintptr_t dtb, uintptr_t initrd);

/* Stop every vCPU of the guest; it stays stopped. The VMM keeps running. */
void guest_stop(size_t boot_vcpu_id);

/*
 * A real reboot: stop all vCPUs, reset the vGIC and every registered device,
 * zero guest RAM, reload the images recorded by the last successful
 * linux_setup_images() (or raw_setup_images()), and start boot_vcpu_id again.
 * guest_ram_vaddr/guest_ram_size must describe a configured RAM region.
 * Returns false (guest left stopped) if no images were ever set up or the
 * arguments do not match the configuration.
 */
bool guest_restart(size_t boot_vcpu_id, uintptr_t guest_ram_vaddr, size_t guest_ram_size);

/* Power events the guest asks for through PSCI (DESIGN section 5). */
enum guest_power_event {
    GUEST_POWER_OFF, /* SYSTEM_OFF: the guest has been stopped */
    GUEST_POWER_RESET, /* SYSTEM_RESET: the guest has been restarted */
};

typedef void (*guest_power_fn_t)(enum guest_power_event event, void *cookie);

/*
 * Optional: be told after the library has acted on a guest power request
 * (for example to power the machine off when the guest does).
 */
void guest_set_power_handler(guest_power_fn_t fn, void *cookie);

/*
 * Optional: a device reset hook run by guest_restart() after all vCPUs are
 * stopped and before RAM is cleared. Hooks run in registration order and
 * survive guest_init(). Returns false (with a log line) for a NULL hook, a
 * hook already registered with the same cookie, or a full table.
 */
typedef void (*guest_reset_fn_t)(void *cookie);
bool guest_register_reset_hook(guest_reset_fn_t fn, void *cookie);
