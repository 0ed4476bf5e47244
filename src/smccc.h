/*
 * SMC Calling Convention and PSCI (library-internal).
 * Arm DEN0028 (SMCCC) and DEN0022 (PSCI 1.1): DESIGN section 5.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smccc_outcome {
    SMCCC_RESUME, /* results are in regs[0..3]; advance past the call */
    SMCCC_STOPPED, /* the calling vCPU was stopped (CPU_OFF, SYSTEM_OFF) */
    SMCCC_RESTARTED, /* the guest was rebooted (SYSTEM_RESET): touch no registers */
};

/*
 * Handle one call from `vcpu`, made over SMC or HVC (same semantics).
 * regs[0..7] hold x0..x7 on entry; on SMCCC_RESUME regs[0..3] hold the
 * results. Unknown function ids answer NOT_SUPPORTED (-1) in x0.
 */
enum smccc_outcome smccc_handle(size_t vcpu, uint64_t regs[8]);

/*
 * Fast path (DESIGN 3) for the commonest call, one no service here
 * implements: true if x0's function id is one (unknown owner or range,
 * yielding or malformed), with the whole answer, NOT_SUPPORTED, in *result
 * for x0; nothing else is read or changed. False: call smccc_handle().
 */
bool smccc_unsupported(size_t vcpu, uint64_t x0, uint64_t *result);
