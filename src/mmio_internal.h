/*
 * MMIO region registry, library-internal side (the public side is
 * <libvmm/mmio.h>). Used by the fault path.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/mmio.h>

enum mmio_dispatch_result {
    MMIO_HANDLED, /* the handler emulated the access (a read's value is in access->value) */
    MMIO_UNCLAIMED, /* no region contains access->gpa */
    MMIO_REFUSED, /* a region claims it but the handler failed, or the access runs off its end */
};

/*
 * Find the region containing access->gpa, fill access->offset and call its
 * handler. access->gpa, width, is_write and (for writes) value must be set.
 */
enum mmio_dispatch_result mmio_dispatch(size_t vcpu, struct mmio_access *access);

/* True if some region contains gpa. */
bool mmio_claimed(uint64_t gpa);

/* Number of registered regions. */
size_t mmio_region_count(void);

/* Forget every region (tests, and a VMM re-initialising from scratch). */
void mmio_reset(void);
