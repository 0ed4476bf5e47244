/*
 * The Microkit event loop (ABI 1.2) for a PD running at EL2 inside hyp, on
 * every CPU of the PD (each CPU runs only its own PD). Receive priority as seL4's receiveIPC: the bound notification
 * first (one notified() per set bit, lowest first, in one batch), then
 * queued faults in FIFO order. hyp's device backends (backend.c) run before
 * all of that, like a higher-priority PD: a notification to a backend is
 * served after the entry point that sent it returns.
 *
 * Where the VMM runs (DESIGN 3; a Microkit PD is single-threaded): faults
 * from all vCPUs go into the PD's one FIFO queue under the kernel lock, and
 * one CPU at a time owns the PD (pd->owner) and runs its entry points, so
 * they never nest and see every fault once, in order. A fault is delivered
 * on the CPU of the vCPU that raised it (that CPU has nothing else to do
 * while its vCPU waits, and the VMM's operations on the faulting vCPU stay
 * local); notifications and backend passes on whichever CPU owns the PD.
 * When the head of the queue belongs to another CPU, the owner hands the PD
 * over and kicks that CPU. A CPU with nothing to do sleeps in WFI.
 * A deferred notify/IRQ ack is performed after the entry point (batch)
 * returns and before the reply, as libmicrokit does.
 */
#include <string.h>
#include <hyp/arch.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/pd.h>
#include <hyp/smp.h>
#include <hyp/trap.h>
#include <hyp/vcpu.h>

struct pd hyp_pds[HYP_MAX_PDS];
unsigned hyp_num_pds;

void pd_queue_fault(struct vcpu *v, seL4_Word label, seL4_Word len)
{
    struct pd *pd = v->pd;
    if (v->exit_mr != v->fault_mr) {
        /* The exit wrote the IPC buffer (vcpu.h): the entry points that run first may overwrite it. */
        __builtin_memcpy(v->fault_mr, v->exit_mr, sizeof(v->fault_mr));
    }
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

/* Kernel lock held on entry and on return; dropped while the entry point runs. */
static void deliver_notifications(struct pd *pd)
{
    uint64_t word = pd->notify_pending;
    pd->notify_pending = 0;
    if (!pd->desc->notified) {
        hyp_panic("PD '%s' has no notified() entry point", pd->desc->name);
    }
    kernel_unlock();
    enter(pd);
    for (microkit_channel ch = 0; word; ch++, word >>= 1) {
        if (word & 1) {
            pd->desc->notified(ch);
        }
    }
    pd->in_entry = false;
    flush_deferred(pd);
    kernel_lock();
}

/*
 * Kernel lock held on entry and on return, the PD owned by this CPU and v a vCPU
 * of this CPU (so it needs no kick when it restarts), its fault_len MRs in the
 * IPC buffer: fault() runs with the lock dropped, then its reply is applied (ABI 2.5).
 */
static inline __attribute__((always_inline)) void deliver(struct pd *pd, struct vcpu *v)
{
    seL4_Bool (*fault)(microkit_child, microkit_msginfo, microkit_msginfo *) = pd->desc->fault;
    if (!fault) {
        hyp_panic("PD '%s' has no fault() entry point (vCPU %u fault label %lu)", pd->desc->name, v->id,
                  v->fault_label);
    }
    v->state = VCPU_BLOCKED_ON_REPLY;
    cpu_this()->faults++;
    seL4_MessageInfo_t tag = seL4_MessageInfo_new(v->fault_label, 0, 0, v->fault_len);
    seL4_MessageInfo_t reply = seL4_MessageInfo_new(0, 0, 0, 0);
    pd->ipc.tag = tag;
    kernel_unlock();
    enter(pd);
    seL4_Bool do_reply = fault(v->id, tag, &reply);
    pd->in_entry = false;
    if (pd->deferred != PD_DEFERRED_NONE) {
        flush_deferred(pd);
    }
    kernel_lock();
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

/* All 13 fault MRs whatever the fault's length: a fixed-size copy is a few load/store pairs, no loop. */
static void copy_mrs(struct pd *pd, const struct vcpu *v)
{
    _Static_assert(sizeof(v->fault_mr) == 13 * sizeof(seL4_Word), "fault MRs");
    __builtin_memcpy(pd->ipc.msg, v->fault_mr, sizeof(v->fault_mr));
}

/* Kernel lock held, the PD owned by this CPU: the first queued fault, a vCPU of this CPU's. */
static void deliver_queued_fault(struct pd *pd)
{
    struct vcpu *v = pd->fault_head;
    pd->fault_head = v->fault_next;
    if (!pd->fault_head) {
        pd->fault_tail = NULL;
    }
    v->fault_next = NULL;
    copy_mrs(pd, v);
    deliver(pd, v);
}

/* Kernel lock held, the PD owned by this CPU: run everything it may run here, then let go of the PD. */
static void pd_drain(struct pd *pd, struct hyp_cpu *c)
{
    for (;;) {
        if (pd->backend_pending) {
            kernel_unlock();
            backend_service(pd);
            kernel_lock();
        } else if (pd->notify_pending) {
            deliver_notifications(pd);
        } else if (pd->fault_head && pd->fault_head->cpu == c->id) {
            deliver_queued_fault(pd);
        } else {
            break;
        }
    }
    pd->owner = -1;
    if (pd->fault_head) {
        smp_kick(pd->fault_head->cpu);
    }
}

/*
 * A fault an exit of this CPU's vCPU raised, while the PD is free and has
 * nothing to receive (DESIGN 3: the short path): seL4's receive order makes
 * it the very next message, so it is delivered at once, without the queue.
 */
void pd_deliver_fault(struct vcpu *v, seL4_Word label, seL4_Word len)
{
    struct pd *pd = v->pd;
    pd->owner = (int)v->cpu;
    v->fault_label = label;
    v->fault_len = len;
    if (v->exit_mr != pd->ipc.msg) {
        copy_mrs(pd, v);
    }
    deliver(pd, v);
    if (__builtin_expect(pd_has_work(pd), 0)) {
        pd_drain(pd, cpu_this());
    } else {
        pd->owner = -1;
    }
}

void pd_cpu_loop(void)
{
    struct hyp_cpu *c = cpu_this();
    struct pd *pd = c->pd;
    kernel_lock();
    if (pd->owner == (int)c->id) {
        pd_drain(pd, c);
    }
    for (;;) {
        irq_publish(c);
        if (pd->ended) {
            kernel_unlock();
            pd_cpu_park(c);
        }
        if (pd_has_work_for(pd, c)) {
            pd->owner = (int)c->id;
            pd_drain(pd, c);
        } else if (c->vcpu && c->vcpu->state == VCPU_RUNNABLE) {
            vcpu_run(c, c->vcpu);
        } else {
            /* Idle: a pending IRQ (a kick, too) wakes WFI even with PSTATE.I masked (Arm ARM D1.16.2). */
            kernel_unlock();
            c->idles++;
            uint64_t t0 = sysreg_read(cntpct_el0);
            smp_wait_for_interrupt(c);
            c->idle_ticks += sysreg_read(cntpct_el0) - t0;
            irq_poll(c, false);
            smp_service(c);
            kernel_lock();
        }
    }
}

void pd_run(struct pd *pd)
{
    /* pd->owner is this CPU from creation (system.c): the PD's other CPUs wait until init() has returned. */
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
    pd_cpu_loop();
}
