/*
 * The Microkit event loop (ABI 1.2) for a PD running at EL2 inside hyp.
 * Receive priority as seL4's receiveIPC: the bound notification first (one
 * notified() per set bit, lowest first, in one batch), then queued faults in
 * FIFO order; the guest runs only when the PD has nothing to receive.
 * hyp's device backends (backend.c) run before all of that, like a
 * higher-priority PD: a notification to a backend is served after the entry
 * point that sent it returns, and before the guest resumes.
 * Entry points never nest. A deferred notify/IRQ ack is performed after the
 * entry point (batch) returns and before the reply, as libmicrokit does.
 */
#include <string.h>
#include <hyp/arch.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/pd.h>
#include <hyp/trap.h>
#include <hyp/vcpu.h>

struct pd hyp_pds[HYP_MAX_PDS];
unsigned hyp_num_pds;
seL4_IPCBuffer *__sel4_ipc_buffer;

void pd_queue_fault(struct vcpu *v, seL4_Word label, seL4_Word len)
{
    struct pd *pd = v->pd;
    v->state = VCPU_BLOCKED_ON_SEND;
    v->fault_label = label;
    v->fault_len = len;
    v->fault_next = NULL;
    if (pd->fault_tail) {
        pd->fault_tail->fault_next = v;
    } else {
        pd->fault_head = v;
    }
    pd->fault_tail = v;
}

void pd_cancel_fault(struct vcpu *v)
{
    struct pd *pd = v->pd;
    if (v->state == VCPU_BLOCKED_ON_SEND) {
        struct vcpu **link = &pd->fault_head;
        struct vcpu *prev = NULL;
        while (*link && *link != v) {
            prev = *link;
            link = &(*link)->fault_next;
        }
        if (*link) {
            *link = v->fault_next;
            if (pd->fault_tail == v) {
                pd->fault_tail = prev;
            }
        }
    }
    v->fault_next = NULL;
    v->fault_label = seL4_Fault_NullFault;
}

void pd_signal(struct pd *pd, microkit_channel ch)
{
    pd->notify_pending |= 1ull << ch;
}

static void enter(struct pd *pd)
{
    if (pd->in_entry) {
        hyp_panic("PD '%s': entry points nested", pd->desc->name);
    }
    pd->in_entry = true;
}

static void flush_deferred(struct pd *pd)
{
    enum pd_deferred op = pd->deferred;
    pd->deferred = PD_DEFERRED_NONE;
    if (op == PD_DEFERRED_SIGNAL) {
        seL4_Signal(pd->deferred_cap);
    } else if (op == PD_DEFERRED_IRQ_ACK) {
        seL4_IRQHandler_Ack(pd->deferred_cap);
    }
}

static void deliver_notifications(struct pd *pd)
{
    uint64_t word = pd->notify_pending;
    pd->notify_pending = 0;
    if (!pd->desc->notified) {
        hyp_panic("PD '%s' has no notified() entry point", pd->desc->name);
    }
    enter(pd);
    for (microkit_channel ch = 0; word; ch++, word >>= 1) {
        if (word & 1) {
            pd->desc->notified(ch);
        }
    }
    pd->in_entry = false;
    flush_deferred(pd);
}

/* Deliver `v`'s fault, whose MRs are in the IPC buffer, to the PD's fault() and apply the reply (ABI 2.5). */
static void deliver(struct pd *pd, struct vcpu *v)
{
    seL4_Bool (*fault)(microkit_child, microkit_msginfo, microkit_msginfo *) = pd->desc->fault;
    if (!fault) {
        hyp_panic("PD '%s' has no fault() entry point (vCPU %u fault label %lu)", pd->desc->name, v->id,
                  v->fault_label);
    }
    v->state = VCPU_BLOCKED_ON_REPLY;
    seL4_MessageInfo_t tag = seL4_MessageInfo_new(v->fault_label, 0, 0, v->fault_len);
    seL4_MessageInfo_t reply = seL4_MessageInfo_new(0, 0, 0, 0);
    pd->ipc.tag = tag;
    enter(pd);
    seL4_Bool do_reply = fault(v->id, tag, &reply);
    pd->in_entry = false;
    if (pd->deferred != PD_DEFERRED_NONE) {
        flush_deferred(pd);
    }
    /* A Suspend or restart during fault() unlinked the reply: replying is a silent no-op (ABI 2.5). */
    if (v->state != VCPU_BLOCKED_ON_REPLY) {
        return;
    }
    bool restart = do_reply && trap_apply_reply(v, v->fault_label, reply, pd->ipc.msg);
    /* No reply: seL4 cancels the unused reply object at the next receive and the vCPU becomes Inactive. */
    v->state = restart ? VCPU_RUNNABLE : VCPU_INACTIVE;
    if (!restart) {
        LOG_DEBUG("vCPU %u stopped by its fault reply (label %lu)", v->id, v->fault_label);
    }
    v->fault_label = seL4_Fault_NullFault;
}

void pd_deliver_queued_fault(struct pd *pd)
{
    struct vcpu *v = pd->fault_head;
    pd->fault_head = v->fault_next;
    if (!pd->fault_head) {
        pd->fault_tail = NULL;
    }
    v->fault_next = NULL;
    for (seL4_Word i = 0; i < v->fault_len; i++) {
        pd->ipc.msg[i] = v->fault_mr[i];
    }
    deliver(pd, v);
}

/*
 * A guest trap's fault (DESIGN 3: the fast path). vcpu_run enters the guest
 * only while the PD has nothing else to receive (no backend work, no
 * notification, no queued fault), so seL4's receive order makes the new
 * fault the very next message: it is delivered at once, its MRs already in
 * the IPC buffer, without the queue and the MR copy.
 */
void pd_deliver_fault(struct vcpu *v, seL4_Word label, seL4_Word len)
{
    v->fault_label = label;
    v->fault_len = len;
    deliver(v->pd, v);
}

void pd_run(struct pd *pd)
{
    struct hyp_cpu *c = cpu_this();
    __sel4_ipc_buffer = &pd->ipc;
    c->pd = pd;
    if (pd->desc->init) {
        enter(pd);
        pd->desc->init();
        pd->in_entry = false;
    }
    /* libmicrokit handler_loop: ack every IRQ channel first (seL4 issue #1536 workaround). */
    for (microkit_channel ch = 0; ch < MICROKIT_MAX_CHANNELS; ch++) {
        if (pd->irq_mask & (1ull << ch)) {
            seL4_IRQHandler_Ack(BASE_IRQ_CAP + ch);
        }
    }
    flush_deferred(pd);
    LOG_INFO("PD '%s' initialised, entering the event loop", pd->desc->name);
    for (;;) {
        if (backend_pending_mask) {
            backend_service();
        } else if (pd->notify_pending) {
            deliver_notifications(pd);
        } else if (pd->fault_head) {
            pd_deliver_queued_fault(pd);
        } else if (c->vcpu && c->vcpu->state == VCPU_RUNNABLE) {
            vcpu_run(c->vcpu);
        } else {
            /* Idle: a pending IRQ wakes WFI even with PSTATE.I masked (Arm ARM D1.6.2). */
            c->idles++;
            dsb(sy);
            wfi();
            irq_poll();
        }
    }
}
