/*
 * Handling every fault a guest vCPU delivers to the VMM (seL4 fault IPC,
 * shared/reference/sel4-microkit-abi.md section 2).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <microkit.h>

/*
 * Handle one fault from vCPU `vcpu_id` (the Microkit `child`). Call it from the
 * program's fault() entry point:
 *
 *     seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply)
 *     {
 *         return fault_handle(child, msginfo, reply);
 *     }
 *
 * Returns true with *reply set when the vCPU should resume. Returns false when
 * the vCPU must not resume: either it powered itself off (PSCI CPU_OFF or
 * SYSTEM_OFF), or the guest had to be stopped (an unknown trap, an
 * unrecoverable request), in which case a decoded register dump has been
 * logged. Never crashes the VMM.
 */
bool fault_handle(size_t vcpu_id, microkit_msginfo msginfo, microkit_msginfo *reply);
