/*
 * SMC Calling Convention and PSCI (library-internal).
 * Arm DEN0028 (SMCCC) and DEN0022 (PSCI 1.1): DESIGN section 5.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SMCCC function-identifier fields (DEN0028, "Function Identifiers"). */
#define SMCCC_FAST_CALL (1u << 31)
#define SMCCC_64BIT (1u << 30)
#define SMCCC_OWNER_SHIFT 24
#define SMCCC_OWNER_MASK 0x3fu
#define SMCCC_MBZ_MASK (0x7fu << 17) /* bits 23:17 must be zero in fast calls */
#define SMCCC_OWNER_ARCH 0
#define SMCCC_OWNER_STANDARD 4
#define SMCCC_PSCI_LAST 0x1fu /* Standard Secure Service calls 0x00..0x1f are PSCI */

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

/* x0 after a call answered NOT_SUPPORTED: -1, which for a 32-bit call is also -1 sign-extended from W0. */
#define SMCCC_NOT_SUPPORTED_X0 (~(uint64_t)0)

/*
 * True if the function id (W0) names a service this library provides: a
 * well-formed fast call to the Arm Architecture Service or to PSCI. Any other
 * id (unknown owner or range, yielding, malformed) is answered by
 * SMCCC_NOT_SUPPORTED_X0 in x0 alone, so the fault path needs no other
 * register for it (DESIGN 3: its fast path). Inline: every SMC and HVC asks.
 */
static inline bool smccc_fid_served(uint32_t fid)
{
    uint32_t owner = (fid >> SMCCC_OWNER_SHIFT) & SMCCC_OWNER_MASK;
    if ((fid & SMCCC_FAST_CALL) == 0 || (fid & SMCCC_MBZ_MASK) != 0) {
        return false;
    }
    return owner == SMCCC_OWNER_ARCH || (owner == SMCCC_OWNER_STANDARD && (fid & 0xffff) <= SMCCC_PSCI_LAST);
}

/* Log (debug level, rate limited) that vcpu called an id !smccc_fid_served(). Check the level first: cold. */
void smccc_log_unsupported(size_t vcpu, uint32_t fid);
