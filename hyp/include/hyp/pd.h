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
#include <hyp/vcpu.h>

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
    int owner; /* the CPU running this PD's entry points (and the backends), -1 if none */
};

#define HYP_MAX_PDS 1

extern struct pd hyp_pds[HYP_MAX_PDS];
extern unsigned hyp_num_pds;

/*
 * Kernel lock held: may CPU `c` take the PD now, and should it before running its vCPU? Backend work
 * and notifications, in any CPU; a queued fault only on its own vCPU's CPU (pd.c).
 */
static inline bool pd_has_work_for(const struct pd *pd, const struct hyp_cpu *c)
{
    if (pd->owner >= 0) {
        return false;
    }
    return backend_pending_mask || pd->notify_pending || (pd->fault_head && pd->fault_head->cpu == c->id);
}

/* Kernel lock held: true if the PD has anything to receive (ABI 1.2 receive order, hyp's backends first). */
static inline bool pd_has_work(const struct pd *pd)
{
    return backend_pending_mask || pd->notify_pending || pd->fault_head;
}

/* The PD whose code is running (the caller of a seL4_* operation). Inline: every seL4_* operation asks. */
static inline struct pd *pd_current(void)
{
    return cpu_this()->pd;
}
/* Kernel lock held: queue the fault whose MRs are in v->fault_mr on its PD's endpoint (BlockedOnSend). */
void pd_queue_fault(struct vcpu *v, seL4_Word label, seL4_Word len);
/*
 * Kernel lock held, the PD free and with nothing to receive (!pd_has_work): this CPU takes it and
 * delivers the fault an exit of its own vCPU `v` raised (MRs in v->fault_mr) at once, as seL4's receive
 * order would deliver it next, then runs whatever else came in meanwhile (pd.c).
 */
void pd_deliver_fault(struct vcpu *v, seL4_Word label, seL4_Word len);
/* Kernel lock held: remove `v`'s pending fault (queued or awaiting reply), as seL4 cancelIPC does. */
void pd_cancel_fault(struct vcpu *v);
/* Kernel lock held: set notification bit `ch` of `pd`. */
void pd_signal(struct pd *pd, microkit_channel ch);
/* Boot CPU: run init(), then the event loop; never returns. */
void pd_run(struct pd *pd) __attribute__((noreturn));
/* Every CPU's loop: the PD's pending work when it may take it, else its vCPU, else WFI. */
void pd_cpu_loop(void) __attribute__((noreturn));
