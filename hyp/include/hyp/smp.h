/*
 * Several physical CPUs (static partitioning: CPU i runs vCPU i only).
 *
 * Locking. hyp's shared state (the PD's notification word and fault queue,
 * vCPU thread states, each vCPU's saved registers) is under one kernel lock,
 * as seL4 SMP has its big kernel lock. It is held for short, bounded
 * sections only: never across a guest run or a VMM entry point. The VMM
 * itself is serialised by ownership (pd.c), not by this lock, so its
 * seL4_* calls take the lock like system calls do.
 *
 * Cross-CPU requests. Only the kernel-lock holder asks another CPU for
 * something (unload its vCPU's registers, leave its guest), and it waits for
 * the answer while still holding the lock; the other CPU serves requests
 * wherever it waits (for the lock, or idle in WFI), so this cannot deadlock.
 * Wake-ups across CPUs are SGI GIC_SGI_KICK: it ends a guest run (HCR_EL2.IMO)
 * and wakes WFI (Arm ARM D1.16.2: WFI wakes on a pending interrupt even when
 * PSTATE.I masks it), so an idle CPU sleeps in WFI instead of spinning.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/cpu.h>

struct vcpu;

/* A ticket lock (FIFO, so no CPU starves): `next` is taken with exclusives, `owner` released with STLRH. */
struct spinlock {
    uint16_t owner;
    uint16_t next;
} __attribute__((aligned(4)));

void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

/*
 * Take a ticket: atomically `next` += 1 with exclusives (Arm ARM B2.9; no LSE
 * on cortex-a57). Returns the whole word as it was: the lock is ours at once
 * if its `owner` half equals the `next` half we took.
 */
static inline uint32_t spin_ticket(struct spinlock *l)
{
    uint32_t old, tmp, fail;
    __asm__ volatile("1: ldaxr %w0, [%3]\n"
                     "   add %w1, %w0, #0x10000\n"
                     "   stxr %w2, %w1, [%3]\n"
                     "   cbnz %w2, 1b\n"
                     : "=&r"(old), "=&r"(tmp), "=&r"(fail)
                     : "r"(l)
                     : "memory");
    return old;
}

extern struct spinlock kernel_big_lock;
/* Wait for ticket `ticket` of the kernel lock, serving cross-CPU requests meanwhile. */
void kernel_lock_wait(uint16_t ticket);

/*
 * false until a second CPU starts (smp_boot_secondaries, before any CPU takes
 * the lock), and never false again: with one CPU the lock is elided, as
 * seL4's uniprocessor builds have no big kernel lock (hyp takes no interrupt
 * at EL2, so nothing on one CPU can contend).
 */
extern bool smp_active;

static inline void kernel_lock(void)
{
    if (!smp_active) {
        return;
    }
    uint32_t word = spin_ticket(&kernel_big_lock);
    if ((uint16_t)word != (uint16_t)(word >> 16)) {
        kernel_lock_wait((uint16_t)(word >> 16));
    }
    cpu_this()->holds_lock = true;
}

/* Send the kicks smp_kick() deferred (after the release: a GIC access is slow under QEMU). */
void smp_send_kicks(struct hyp_cpu *c);
/* Wake the CPU sleeping for ticket `owner` of the kernel lock, if one is. */
void kernel_lock_wake(uint16_t owner);

/*
 * Release. STLRH then LDAR are not reordered (Arm ARM B2.3.11), and neither
 * are a sleeping waiter's STLR of lock_sleeper and LDAR of `owner`: either
 * it sees its turn or we see it asleep.
 */
static inline void kernel_unlock(void)
{
    if (!smp_active) {
        return; /* no other CPU: nobody to kick either */
    }
    struct hyp_cpu *c = cpu_this();
    c->holds_lock = false;
    uint16_t owner = (uint16_t)(kernel_big_lock.owner + 1);
    __atomic_store_n(&kernel_big_lock.owner, owner, __ATOMIC_RELEASE);
    uint32_t word = __atomic_load_n((uint32_t *)&kernel_big_lock, __ATOMIC_ACQUIRE);
    if ((uint16_t)(word >> 16) != owner) {
        kernel_lock_wake(owner);
    }
    if (c->kick_mask) {
        smp_send_kicks(c);
    }
}

/* Kernel lock held: kick CPU `cpu` out of its guest or its WFI once the lock is released (not itself). */
void smp_kick(unsigned cpu);
/* Kernel lock held: if v runs in its guest on another CPU, kick it out and wait until its frame is saved. */
void smp_stall(struct vcpu *v);
/* Kernel lock held, v loaded on another CPU: have that CPU move v's registers into v->saved. */
void smp_unload(struct vcpu *v);
/* Serve a request posted to this CPU (called wherever it waits). */
void smp_service(struct hyp_cpu *c);
/*
 * Sleep in WFI until an interrupt is pending. The virtual interface is
 * disabled first: QEMU counts a pending virtual IRQ (an LR of the vCPU) as a
 * reason to leave WFI even at EL2, so with it enabled an idle CPU would spin.
 * vcpu_run enables it again before the next entry.
 */
void smp_wait_for_interrupt(struct hyp_cpu *c);
/* Boot CPU, after system_setup(): start CPUs 1..n-1 with PSCI CPU_ON and wait until they run. */
void smp_boot_secondaries(unsigned n);
/* CPUs started (boot CPU included). */
extern unsigned smp_num_cpus;
/* This CPU powers itself off (PSCI CPU_OFF, DEN0022 5.1.3); returns only if the firmware refuses. */
void smp_cpu_off(void);
