/*
 * Protection-domain runtime: the Microkit event loop of ABI 1.2 run by hyp
 * for each VMM program linked into the same EL2 image (DESIGN 3: a documented
 * divergence from seL4, where the VMM is an unprivileged PD). PD k is the
 * k-th program (hyp/program.h); it owns physical CPUs first_cpu ..
 * first_cpu + num_cpus - 1 (one per vCPU of its VM, at least one), its own
 * EL2 stage-1 table, stage-2 table and VMID, and its caps name only its own
 * vCPUs, IRQs and channels (a CSpace per PD).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/program.h>
#include <hyp/system.h>
#include <hyp/vcpu.h>

#define PD_DBG_LINE 160

enum pd_deferred {
    PD_DEFERRED_NONE = 0,
    PD_DEFERRED_SIGNAL,
    PD_DEFERRED_IRQ_ACK,
};

struct pd {
    const struct hyp_pd *desc;
    const struct hyp_program *program;
    unsigned index;
    unsigned first_cpu, num_cpus; /* its physical CPUs; vCPU i runs on first_cpu + i */
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
    uint32_t backend_pending; /* bit n: hyp backend n (backend.c's list) of this PD has work; kernel lock */
    bool ended; /* powered off or crashed: its CPUs are parked for good (lifecycle.c) */
    /* seL4_DebugPutChar: the PD's output goes out a line at a time, so PDs on other CPUs do not split it. */
    char dbg_line[PD_DBG_LINE];
    unsigned dbg_len;
    int exit_status;
};

#define HYP_MAX_PDS 4

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
    return pd->backend_pending || pd->notify_pending || (pd->fault_head && pd->fault_head->cpu == c->id);
}

/* Kernel lock held: true if the PD has anything to receive (ABI 1.2 receive order, hyp's backends first). */
static inline bool pd_has_work(const struct pd *pd)
{
    return pd->backend_pending || pd->notify_pending || pd->fault_head;
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
/* The PD's first CPU: run init(), then the event loop; never returns. */
void pd_run(struct pd *pd) __attribute__((noreturn));
/* Every CPU's loop: the PD's pending work when it may take it, else its vCPU, else WFI. */
void pd_cpu_loop(void) __attribute__((noreturn));

/*
 * Lifetimes (lifecycle.c). A PD ends when its VMM calls hyp_machine_poweroff(status) or when it
 * crashes (status 1): its vCPUs stop, its interrupts and backend devices are shut off, its CPUs
 * are parked for good, and every other PD keeps running. QEMU exits when the last PD has ended,
 * with status 0 only if every PD ended with 0. Called on a CPU of `pd`, kernel lock not held.
 */
void pd_end(struct pd *pd, int status) __attribute__((noreturn));
/* Boot: `n` PDs run; QEMU exits when as many have ended. */
void lifecycle_init(unsigned n);
/* Write out what the PD printed since its last newline (sel4.c). */
void pd_dbg_flush(struct pd *pd);
/* The PD crashed: say why on the console, then pd_end(pd, 1). */
void pd_crash(struct pd *pd, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* A CPU of an ended PD: leave the GIC and power off (PSCI CPU_OFF), or sleep for good. */
void pd_cpu_park(struct hyp_cpu *c) __attribute__((noreturn));
/*
 * An exception hyp does not expect at EL2 (machine.c; regs as vectors.S saves them): the PD to
 * blame if it was taken at EL2t in that PD's entry point on this CPU, outside hyp's kernel lock
 * (machine.c then ends only that PD); NULL when hyp itself is at fault (a panic).
 */
struct pd *pd_exception_owner(uint64_t vector, const uint64_t *regs);
