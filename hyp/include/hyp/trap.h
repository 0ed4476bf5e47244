/*
 * Guest traps -> seL4 faults (ABI 2.3) and fault replies (ABI 2.5).
 */
#pragma once

#include <sel4/sel4.h>

struct vcpu;

/* Classify ESR_EL2 of a synchronous exit and deliver the matching fault on `v` (pd_deliver_fault). */
void trap_handle_sync(struct vcpu *v);
/* Apply the reply to `v`'s delivered fault (seL4 handleFaultReply); `v` stays BlockedOnReply on return. */
bool trap_apply_reply(struct vcpu *v, seL4_MessageInfo_t reply, const seL4_Word *mrs);
