/*
 * Guest traps -> seL4 faults (ABI 2.3) and fault replies (ABI 2.5).
 */
#pragma once

#include <sel4/sel4.h>

struct vcpu;

/* Classify ESR_EL2 of a synchronous exit and deliver the matching fault on `v` (pd_deliver_fault). */
void trap_handle_sync(struct vcpu *v);
/* The reply to an UnknownSyscall or UserException fault, which writes registers (trap_apply_reply). */
bool trap_apply_reply_regs(struct vcpu *v, seL4_Word label, seL4_MessageInfo_t reply, const seL4_Word *mrs);

/*
 * Apply the reply to `v`'s delivered fault `label` (seL4 handleFaultReply);
 * `v` stays BlockedOnReply on return. True if `v` restarts. Every other fault
 * restarts whatever the reply (inline: most exits are such faults).
 */
static inline bool trap_apply_reply(struct vcpu *v, seL4_Word label, seL4_MessageInfo_t reply, const seL4_Word *mrs)
{
    if (label != seL4_Fault_UnknownSyscall && label != seL4_Fault_UserException) {
        return true;
    }
    return trap_apply_reply_regs(v, label, reply, mrs);
}
