/*
 * The one checked GPA -> VMM pointer translation (DESIGN section 2; attack
 * classes 2-4 of shared/reference/guest-attack-classes.md: no overflow, a
 * range ending exactly at the end of RAM is fine, one byte more is not).
 */
#include <libvmm/guest_ram.h>
#include <libvmm/log.h>
#include "guest_internal.h"

static const struct guest_ram_region *region_of(uint64_t gpa, size_t len)
{
    const struct guest_config *cfg = guest_config_get();
    if (cfg == NULL || len == 0) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        const struct guest_ram_region *r = &cfg->ram[i];
        /* gpa - r->gpa cannot underflow once gpa >= r->gpa; compare lengths, never sums. */
        if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
            return r;
        }
    }
    return NULL;
}

void *guest_ram_ptr(uint64_t gpa, size_t len)
{
    const struct guest_ram_region *r = region_of(gpa, len);
    if (r == NULL) {
        return NULL;
    }
    return (void *)(r->vmm_vaddr + (uintptr_t)(gpa - r->gpa));
}

bool guest_ram_contains(uint64_t gpa, size_t len)
{
    return region_of(gpa, len) != NULL;
}

bool guest_ram_gpa_of(uintptr_t vaddr, size_t len, uint64_t *gpa)
{
    const struct guest_config *cfg = guest_config_get();
    if (gpa == NULL) {
        LOG_ERR("no place for the result given (NULL)");
        return false;
    }
    if (cfg == NULL || len == 0) {
        return false;
    }
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        const struct guest_ram_region *r = &cfg->ram[i];
        if (vaddr >= r->vmm_vaddr && vaddr - r->vmm_vaddr < r->size && len <= r->size - (vaddr - r->vmm_vaddr)) {
            *gpa = r->gpa + (vaddr - r->vmm_vaddr);
            return true;
        }
    }
    return false;
}
