/*
 * Library-internal view of the guest (not part of the public API).
 * Owned by guest.c; used by every other module.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/guest.h>

/* The configuration given to guest_init(), or NULL before it was called. */
const struct guest_config *guest_config_get(void);

/* Number of configured vCPUs (0 before guest_init()). */
size_t guest_num_vcpus(void);

/* Number of configured vCPUs, 0 before guest_init(): read through guest_vcpu_valid(). */
extern size_t guest_vcpu_limit;

/* True if id names a configured vCPU. Logs nothing. Inline: every fault checks it. */
static inline bool guest_vcpu_valid(size_t id)
{
    return id < guest_vcpu_limit;
}

/* Report a power event to the VMM's handler, if one is set. */
void guest_notify_power(enum guest_power_event event);

/* Run every hook registered with guest_register_reset_hook(), in order. */
void guest_run_reset_hooks(void);
