/*
 * Emulated MMIO region registry: a sorted array with binary-search lookup.
 * Regions never overlap, so "the last region whose base is <= gpa" is the
 * only candidate for any address. The region found last is tried first:
 * a guest's exits to one device come in runs (DESIGN 3: a short exit path).
 */
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include "mmio_internal.h"

struct mmio_region {
    uint64_t base;
    uint64_t last; /* inclusive, so a region may end at the top of the address space */
    mmio_handler_fn handler;
    void *cookie;
};

static struct mmio_region regions[MMIO_MAX_REGIONS];
static size_t num_regions;

/* The region the last successful lookup found; NULL after any change to the table. */
static const struct mmio_region *last_hit;

/* Index of the first region whose base is > gpa (0..num_regions). */
static size_t upper_bound(uint64_t gpa)
{
    size_t lo = 0;
    size_t hi = num_regions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (regions[mid].base <= gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static __attribute__((noinline)) const struct mmio_region *search(uint64_t gpa)
{
    size_t i = upper_bound(gpa);
    if (i == 0 || gpa > regions[i - 1].last) {
        return NULL;
    }
    last_hit = &regions[i - 1];
    return last_hit;
}

static inline const struct mmio_region *lookup(uint64_t gpa)
{
    const struct mmio_region *r = last_hit;
    if (r != NULL && gpa >= r->base && gpa <= r->last) {
        return r;
    }
    return search(gpa);
}

bool mmio_register(uint64_t gpa, uint64_t size, mmio_handler_fn handler, void *cookie)
{
    if (handler == NULL) {
        LOG_ERR("region 0x%llx: NULL handler", (unsigned long long)gpa);
        return false;
    }
    if (size == 0 || gpa + (size - 1) < gpa) {
        LOG_ERR("region [0x%llx, +0x%llx): empty or wraps the address space", (unsigned long long)gpa,
                (unsigned long long)size);
        return false;
    }
    if (num_regions == MMIO_MAX_REGIONS) {
        LOG_ERR("region 0x%llx: table full (%d regions)", (unsigned long long)gpa, MMIO_MAX_REGIONS);
        return false;
    }
    uint64_t last = gpa + (size - 1);
    size_t i = upper_bound(gpa);
    const struct mmio_region *prev = i > 0 ? &regions[i - 1] : NULL;
    const struct mmio_region *next = i < num_regions ? &regions[i] : NULL;
    if ((prev != NULL && prev->last >= gpa) || (next != NULL && next->base <= last)) {
        const struct mmio_region *o = (prev != NULL && prev->last >= gpa) ? prev : next;
        LOG_ERR("region [0x%llx, 0x%llx] overlaps [0x%llx, 0x%llx]", (unsigned long long)gpa, (unsigned long long)last,
                (unsigned long long)o->base, (unsigned long long)o->last);
        return false;
    }
    for (size_t j = num_regions; j > i; j--) {
        regions[j] = regions[j - 1];
    }
    regions[i] = (struct mmio_region){gpa, last, handler, cookie};
    num_regions++;
    last_hit = NULL;
    return true;
}

bool mmio_unregister(uint64_t gpa)
{
    size_t i = upper_bound(gpa);
    if (i == 0 || regions[i - 1].base != gpa) {
        LOG_WARN("no region registered at 0x%llx", (unsigned long long)gpa);
        return false;
    }
    for (size_t j = i - 1; j + 1 < num_regions; j++) {
        regions[j] = regions[j + 1];
    }
    num_regions--;
    last_hit = NULL;
    return true;
}

enum mmio_dispatch_result mmio_dispatch(size_t vcpu, struct mmio_access *access)
{
    const struct mmio_region *r = lookup(access->gpa);
    if (r == NULL) {
        return MMIO_UNCLAIMED;
    }
    access->offset = access->gpa - r->base;
    /* The whole access must lie in the region: last byte = gpa + width - 1 <= r->last. */
    if (access->width == 0 || r->last - access->gpa < (uint64_t)access->width - 1) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: %u-byte access at 0x%llx runs past the end of its region", vcpu,
                  access->width, (unsigned long long)access->gpa);
        return MMIO_REFUSED;
    }
    if (!r->handler(vcpu, access, r->cookie)) {
        return MMIO_REFUSED;
    }
    return MMIO_HANDLED;
}

bool mmio_claimed(uint64_t gpa)
{
    return lookup(gpa) != NULL;
}

size_t mmio_region_count(void)
{
    return num_regions;
}

void mmio_reset(void)
{
    num_regions = 0;
    last_hit = NULL;
}
