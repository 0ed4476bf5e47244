/*
 * Emulated MMIO regions: guest data aborts on unmapped guest-physical
 * addresses are decoded (Arm ARM D13.2.37, ESR_ELx ISS for data aborts) and
 * dispatched to the handler of the region that contains them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MMIO_MAX_REGIONS 64

struct mmio_access {
    uint64_t gpa; /* guest-physical address of the access */
    uint64_t offset; /* gpa - region base */
    uint8_t width; /* bytes: 1, 2, 4 or 8 */
    bool is_write;
    uint64_t value; /* write: the value stored (low `width` bytes); read: set by the handler */
};

/*
 * Emulate one access. For a read, set access->value (the decoder zero- or
 * sign-extends it as the instruction requires). Return false if the access
 * cannot be emulated at all: the guest then receives a synchronous external
 * abort, as real hardware would give it, and the VMM carries on. Registers
 * that do not exist should read as zero and ignore writes (return true).
 */
typedef bool (*mmio_handler_fn)(size_t vcpu_id, struct mmio_access *access, void *cookie);

/*
 * Register [gpa, gpa + size) (size > 0, no overflow). Refuses overlap with an
 * existing region and a full table (MMIO_MAX_REGIONS), logging why.
 */
bool mmio_register(uint64_t gpa, uint64_t size, mmio_handler_fn handler, void *cookie);

/* Remove the region registered at exactly `gpa`. */
bool mmio_unregister(uint64_t gpa);
