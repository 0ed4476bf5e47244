/*
 * Several physical CPUs: the kernel lock, cross-CPU kicks and requests, and
 * the start of the secondary CPUs (see <hyp/smp.h> for the model).
 */
#include <stddef.h>
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/mmu.h>
#include <hyp/pd.h>
#include <hyp/platform.h>
#include <hyp/setup.h>
#include <hyp/smp.h>
#include <hyp/stage2.h>
#include <hyp/vcpu.h>

#define PSCI_CPU_ON_64 0xc4000003u /* DEN0022 5.1.4 */
#define PSCI_CPU_OFF 0x84000002u /* DEN0022 5.1.3 */
#define SECONDARY_TIMEOUT_S 5
#define LOCK_SPINS 64 /* polls of the kernel lock before its waiter sleeps */

struct smp_boot_args {
    uint64_t mair, tcr, ttbr0, sctlr, sp_el2, sp_el0, vbar, tpidr;
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct smp_boot_args, mair) == BOOT_ARGS_MAIR, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, tcr) == BOOT_ARGS_TCR, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, ttbr0) == BOOT_ARGS_TTBR0, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, sctlr) == BOOT_ARGS_SCTLR, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, sp_el2) == BOOT_ARGS_SP_EL2, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, sp_el0) == BOOT_ARGS_SP_EL0, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, vbar) == BOOT_ARGS_VBAR, "boot args layout");
_Static_assert(offsetof(struct smp_boot_args, tpidr) == BOOT_ARGS_TPIDR, "boot args layout");
_Static_assert(sizeof(struct spinlock) == 4, "a ticket lock is one word for the exclusives");

static struct smp_boot_args boot_args[HYP_MAX_CPUS];
struct spinlock kernel_big_lock __attribute__((aligned(64)));
bool smp_active;
unsigned smp_num_cpus = 1;

/*
 * Wait for our turn. LDAXRH arms the exclusive monitor on `owner`, so the
 * releasing STLRH wakes WFE (Arm ARM D1.16.1).
 */
void spin_lock(struct spinlock *l)
{
    uint32_t word = spin_ticket(l), owner;
    uint16_t ticket = (uint16_t)(word >> 16);
    if ((uint16_t)word == ticket) {
        return;
    }
    __asm__ volatile("sevl" ::: "memory");
    do {
        __asm__ volatile("wfe\n ldaxrh %w0, [%1]" : "=&r"(owner) : "r"(&l->owner) : "memory");
    } while ((uint16_t)owner != ticket);
}

void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->owner, (uint16_t)(l->owner + 1), __ATOMIC_RELEASE);
}

/*
 * A waiter spins briefly, then sleeps in WFI until the releaser kicks it:
 * QEMU's MTTCG runs WFE as a no-op, so a spinning waiter would take a host
 * CPU from the lock holder it waits for. Requests to this CPU are served
 * meanwhile (smp.h); interrupts taken while waiting are only recorded.
 */
void kernel_lock_wait(uint16_t ticket)
{
    struct hyp_cpu *c = cpu_this();
    uint64_t t0 = sysreg_read(cntpct_el0);
    c->lock_waits++;
    for (unsigned spins = 0;; spins++) {
        if (__atomic_load_n(&kernel_big_lock.owner, __ATOMIC_ACQUIRE) == ticket) {
            break;
        }
        smp_service(c);
        if (spins < LOCK_SPINS) {
            cpu_relax();
            continue;
        }
        __atomic_store_n(&c->lock_sleeper, ticket + 1u, __ATOMIC_RELEASE);
        if (__atomic_load_n(&kernel_big_lock.owner, __ATOMIC_ACQUIRE) != ticket) {
            smp_wait_for_interrupt(c);
        }
        __atomic_store_n(&c->lock_sleeper, 0, __ATOMIC_RELAXED);
        irq_poll(c, false);
        spins = 0;
    }
    c->lock_ticks += sysreg_read(cntpct_el0) - t0;
}

void kernel_lock_wake(uint16_t owner)
{
    for (unsigned i = 0; i < HYP_MAX_CPUS; i++) {
        if (__atomic_load_n(&hyp_cpus[i].lock_sleeper, __ATOMIC_ACQUIRE) == owner + 1u) {
            gic_send_sgi(i, GIC_SGI_KICK);
            return;
        }
    }
}

void smp_kick(unsigned cpu)
{
    struct hyp_cpu *c = cpu_this();
    if (cpu != c->id) {
        c->kick_mask |= 1u << cpu;
    }
}

void smp_send_kicks(struct hyp_cpu *c)
{
    uint32_t mask = c->kick_mask;
    c->kick_mask = 0;
    for (; mask; mask &= mask - 1) {
        unsigned cpu = (unsigned)__builtin_ctz(mask);
        if (__atomic_load_n(&hyp_cpus[cpu].online, __ATOMIC_ACQUIRE)) {
            c->kicks++;
            gic_send_sgi(cpu, GIC_SGI_KICK);
        }
    }
}

void smp_stall(struct vcpu *v)
{
    struct hyp_cpu *t = &hyp_cpus[v->cpu];
    if (t == cpu_this() || !__atomic_load_n(&t->in_guest, __ATOMIC_ACQUIRE)) {
        return;
    }
    /* in_guest only rises under the kernel lock, which we hold: it falls once the exit is recorded. */
    cpu_this()->stalls++;
    gic_send_sgi(t->id, GIC_SGI_KICK);
    while (__atomic_load_n(&t->in_guest, __ATOMIC_ACQUIRE)) {
        cpu_relax();
    }
}

void smp_unload(struct vcpu *v)
{
    struct hyp_cpu *t = &hyp_cpus[v->loaded_cpu];
    uint32_t seq = t->xcall_req + 1;
    cpu_this()->unloads++;
    __atomic_store_n(&t->xcall_req, seq, __ATOMIC_RELEASE);
    gic_send_sgi(t->id, GIC_SGI_KICK);
    sev();
    while (__atomic_load_n(&t->xcall_done, __ATOMIC_ACQUIRE) != seq) {
        cpu_relax();
    }
}

void smp_wait_for_interrupt(struct hyp_cpu *c)
{
    if (c->vif_en) {
        gic_vif_enable(false);
        c->vif_en = false;
    }
    dsb(sy);
    wfi();
}

void smp_service(struct hyp_cpu *c)
{
    uint32_t req = __atomic_load_n(&c->xcall_req, __ATOMIC_ACQUIRE);
    if (req == c->xcall_done) {
        return;
    }
    /* The requester holds the kernel lock for us (smp.h): v's state is ours to move. */
    struct vcpu *v = c->vcpu;
    if (v && v->loaded_cpu == (int)c->id) {
        vcpu_unload(v);
    }
    __atomic_store_n(&c->xcall_done, req, __ATOMIC_RELEASE);
    sev();
}

static int64_t psci_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    /* SMCCC (DEN0028): x4-x17 may be clobbered by the callee. */
    if (platform.psci_conduit == PSCI_HVC) {
        __asm__ volatile("hvc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                         :
                         : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                           "memory");
    } else {
        __asm__ volatile("smc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                         :
                         : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                           "memory");
    }
    return (int64_t)x0;
}

/* The secondary reads its arguments with the MMU (and so its caches) off: clean them to the PoC. */
static void clean_to_poc(const void *p, size_t size)
{
    uint64_t ctr = sysreg_read(ctr_el0);
    uintptr_t line = 4u << ((ctr >> 16) & 0xf);
    for (uintptr_t a = (uintptr_t)p & ~(line - 1); a < (uintptr_t)p + size; a += line) {
        __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
    }
    dsb(sy);
}

static void start_cpu(unsigned i)
{
    struct hyp_cpu *c = &hyp_cpus[i];
    struct smp_boot_args *a = &boot_args[i];
    struct hyp_stack *s = &hyp_stacks[i];
    c->id = i; /* c->pd and c->mpidr: system.c */
    c->fp_saved = 1; /* lazy FP: the vCPU's (zero) save area is its FP state until the first entry */
    mmu_secondary_regs(c->pd->index, &a->mair, &a->tcr, &a->ttbr0, &a->sctlr);
    a->sp_el2 = (uintptr_t)s->exception + HYP_EXC_STACK_SIZE;
    a->sp_el0 = (uintptr_t)s->stack + HYP_STACK_SIZE;
    a->vbar = (uintptr_t)hyp_vectors;
    a->tpidr = (uintptr_t)c;
    clean_to_poc(a, sizeof(*a));
    int64_t ret = psci_call(PSCI_CPU_ON_64, c->mpidr, (uintptr_t)hyp_secondary_entry, (uintptr_t)a);
    if (ret != 0) {
        hyp_panic("PSCI CPU_ON of CPU %u (MPIDR 0x%lx) failed: %ld", i, c->mpidr, ret);
    }
    uint64_t deadline = sysreg_read(cntpct_el0) + SECONDARY_TIMEOUT_S * sysreg_read(cntfrq_el0);
    while (!__atomic_load_n(&c->started, __ATOMIC_ACQUIRE)) {
        if (sysreg_read(cntpct_el0) > deadline) {
            hyp_panic("CPU %u (MPIDR 0x%lx) did not come up", i, c->mpidr);
        }
        cpu_relax();
    }
}

void smp_boot_secondaries(unsigned n)
{
    if (n <= 1) {
        return;
    }
    if (n > platform.num_cpus || n > HYP_MAX_CPUS) {
        hyp_panic("%u CPUs needed, the machine has %u (hyp supports %d)", n, platform.num_cpus, HYP_MAX_CPUS);
    }
    if (platform.psci_conduit == PSCI_NONE) {
        hyp_panic("no PSCI in the device tree: secondary CPUs cannot be started");
    }
    smp_active = true; /* from here on the kernel lock is taken (no CPU holds it now) */
    for (unsigned i = 1; i < n; i++) {
        start_cpu(i);
        smp_num_cpus = i + 1;
    }
    LOG_INFO("%u CPUs online", n);
}

void smp_cpu_off(void)
{
    int64_t ret = psci_call(PSCI_CPU_OFF, 0, 0, 0);
    LOG_WARN("CPU %u: PSCI CPU_OFF failed (%ld)", cpu_this()->id, ret);
}

/* C entry of a secondary CPU (boot.S), on its own stacks with the MMU on (its PD's EL2 table). */
void hyp_secondary_main(void) __attribute__((noreturn));
void hyp_secondary_main(void)
{
    struct hyp_cpu *c = cpu_this();
    struct pd *pd = c->pd;
    sysreg_write(cptr_el2, CPTR_EL2_RES1);
    isb();
    el2_cpu_setup();
    stage2_cpu_init(pd->index);
    gic_cpu_init();
    irq_cpu_init();
    if ((sysreg_read(mpidr_el1) & 0xff00ffffffull) != c->mpidr) {
        hyp_panic("CPU %u: MPIDR_EL1 0x%lx, the device tree says 0x%lx", c->id, sysreg_read(mpidr_el1), c->mpidr);
    }
    LOG_INFO("CPU %u online (MPIDR 0x%lx), PD '%s'", c->id, c->mpidr, pd->desc->name);
    if (c->id == pd->first_cpu) {
        irq_route_pd(pd); /* its SPIs to this CPU, before init() acks them */
    }
    __atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&c->started, 1, __ATOMIC_RELEASE);
    sev();
    if (c->id == pd->first_cpu) {
        pd_run(pd); /* the boot CPU runs PD 0's init(); each other PD's first CPU runs its own */
    }
    pd_cpu_loop();
}
