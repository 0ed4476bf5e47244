/*
 * Protection-domain runtime: the Microkit event loop of ABI 1.2 run by hyp
 * for a VMM linked into the same EL2 image (DESIGN 3: a documented divergence
 * from seL4, where the VMM is an unprivileged PD).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/system.h>

struct vcpu;

enum pd_deferred {
    PD_DEFERRED_NONE = 0,
    PD_DEFERRED_SIGNAL,
    PD_DEFERRED_IRQ_ACK,
};

struct pd {
    const struct hyp_pd *desc;
    unsigned index;
    seL4_IPCBuffer ipc;
    uint64_t notify_pending; /* bound notification word: bit n = channel n */
    struct vcpu *fault_head, *fault_tail; /* fault endpoint queue, FIFO */
    bool in_entry;
    enum pd_deferred deferred;
    seL4_CPtr deferred_cap;
    uint64_t irq_mask; /* channels bound to IRQs */
    uint64_t notify_mask; /* channels with a peer (microkit_notify) */
    uint64_t backend_mask; /* channels whose peer is a hyp backend: peer[ch].pd is the backend index */
    uint32_t irq_of_channel[MICROKIT_MAX_CHANNELS];
    struct {
        unsigned pd;
        microkit_channel id;
    } peer[MICROKIT_MAX_CHANNELS];
    struct vcpu *vcpus[8];
    unsigned num_vcpus;
};

#define HYP_MAX_PDS 1

extern struct pd hyp_pds[HYP_MAX_PDS];
extern unsigned hyp_num_pds;

/*
 * True if the PD has something to receive before its guest may run again (ABI
 * 1.2 receive order, hyp's backends first): backend work, a notification or a
 * queued fault.
 */
static inline bool pd_has_work(const struct pd *pd)
{
    return backend_pending_mask || pd->notify_pending || pd->fault_head;
}

/* True if all the PD has to receive is queued faults: the next message is the first of them (ABI 1.2). */
static inline bool pd_has_only_faults(const struct pd *pd)
{
    return !backend_pending_mask && !pd->notify_pending && pd->fault_head;
}

/* Deliver the PD's first queued fault (pd->fault_head) to its fault() and apply the reply. */
void pd_deliver_queued_fault(struct pd *pd);

/* The PD whose code is running (the caller of a seL4_* operation). Inline: every seL4_* operation asks. */
static inline struct pd *pd_current(void)
{
    return cpu_this()->pd;
}
/* Queue the fault whose MRs are in v->fault_mr on its PD's endpoint; `v` becomes BlockedOnSend. */
void pd_queue_fault(struct vcpu *v, seL4_Word label, seL4_Word len);
/*
 * Deliver the fault a guest trap raised on `v`, its `len` MRs already in the
 * PD's IPC buffer: fault() runs and its reply is applied before this returns.
 * Only while !pd_has_work(v->pd), which vcpu_run checks before every entry.
 */
void pd_deliver_fault(struct vcpu *v, seL4_Word label, seL4_Word len);
/* Remove `v`'s pending fault (queued or awaiting reply), as seL4 cancelIPC does. */
void pd_cancel_fault(struct vcpu *v);
void pd_signal(struct pd *pd, microkit_channel ch);
/* Run init(), then the event loop on this CPU; never returns. */
void pd_run(struct pd *pd) __attribute__((noreturn));
