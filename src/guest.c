/*
 * Guest configuration (guest_init) and the VMM's power and reset hooks.
 * Lifecycle (start/stop/restart) lives in guest_lifecycle.c.
 */
#include <string.h>
#include <libvmm/guest.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "loader_internal.h"
#include "mmio_internal.h"

#define GUEST_MAX_RESET_HOOKS 16

static struct guest_config config;
static bool configured;
size_t guest_vcpu_limit;

static guest_power_fn_t power_fn;
static void *power_cookie;

static struct {
    guest_reset_fn_t fn;
    void *cookie;
} reset_hooks[GUEST_MAX_RESET_HOOKS];
static size_t num_reset_hooks;

static bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size)
{
    return a < b + b_size && b < a + a_size;
}

static bool ram_region_valid(const struct guest_ram_region *r, size_t i)
{
    if (r->size == 0 || r->vmm_vaddr == 0) {
        LOG_ERR("RAM region %zu: size and VMM address must be non-zero", i);
        return false;
    }
    if (r->gpa + r->size < r->gpa || r->gpa + r->size == 0 || r->vmm_vaddr + r->size < r->vmm_vaddr) {
        LOG_ERR("RAM region %zu: [0x%llx, +0x%llx) wraps the address space", i, (unsigned long long)r->gpa,
                (unsigned long long)r->size);
        return false;
    }
    if ((r->gpa | r->size) & 0xfff) {
        LOG_ERR("RAM region %zu: base 0x%llx and size 0x%llx must be 4 KiB aligned", i, (unsigned long long)r->gpa,
                (unsigned long long)r->size);
        return false;
    }
    return true;
}

bool guest_init(const struct guest_config *cfg)
{
    if (cfg == NULL) {
        LOG_ERR("no configuration given");
        return false;
    }
    if (cfg->num_vcpus == 0 || cfg->num_vcpus > GUEST_MAX_VCPUS) {
        LOG_ERR("num_vcpus %zu out of range 1..%d", cfg->num_vcpus, GUEST_MAX_VCPUS);
        return false;
    }
    if (cfg->num_ram_regions == 0 || cfg->num_ram_regions > GUEST_MAX_RAM_REGIONS) {
        LOG_ERR("num_ram_regions %zu out of range 1..%d", cfg->num_ram_regions, GUEST_MAX_RAM_REGIONS);
        return false;
    }
    if (cfg->gic_version != GIC_VERSION_2 && cfg->gic_version != GIC_VERSION_3) {
        LOG_ERR("unsupported GIC version %d", (int)cfg->gic_version);
        return false;
    }
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        const struct guest_ram_region *r = &cfg->ram[i];
        if (!ram_region_valid(r, i)) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const struct guest_ram_region *o = &cfg->ram[j];
            if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
                ranges_overlap(r->vmm_vaddr, r->size, o->vmm_vaddr, o->size)) {
                LOG_ERR("RAM regions %zu and %zu overlap", j, i);
                return false;
            }
        }
    }
    config = *cfg;
    configured = true;
    guest_vcpu_limit = config.num_vcpus;
    loader_forget();
    mmio_reset();
    return true;
}

const struct guest_config *guest_config_get(void)
{
    return configured ? &config : NULL;
}

size_t guest_num_vcpus(void)
{
    return configured ? config.num_vcpus : 0;
}

void guest_set_power_handler(guest_power_fn_t fn, void *cookie)
{
    power_fn = fn;
    power_cookie = cookie;
}

void guest_notify_power(enum guest_power_event event)
{
    if (power_fn != NULL) {
        power_fn(event, power_cookie);
    }
}

bool guest_register_reset_hook(guest_reset_fn_t fn, void *cookie)
{
    if (fn == NULL) {
        LOG_ERR("NULL reset hook");
        return false;
    }
    for (size_t i = 0; i < num_reset_hooks; i++) {
        if (reset_hooks[i].fn == fn && reset_hooks[i].cookie == cookie) {
            LOG_ERR("reset hook %p (cookie %p) is already registered", (void *)fn, cookie);
            return false;
        }
    }
    if (num_reset_hooks == GUEST_MAX_RESET_HOOKS) {
        LOG_ERR("reset hook table full (%d)", GUEST_MAX_RESET_HOOKS);
        return false;
    }
    reset_hooks[num_reset_hooks].fn = fn;
    reset_hooks[num_reset_hooks].cookie = cookie;
    num_reset_hooks++;
    return true;
}

void guest_run_reset_hooks(void)
{
    for (size_t i = 0; i < num_reset_hooks; i++) {
        reset_hooks[i].fn(reset_hooks[i].cookie);
    }
}
