/*
 * Machine exit (semihosting) and panics. Every way out of hyp ends QEMU with
 * a status (DESIGN 3, Exit status): 0 when every PD powered off cleanly, 1
 * for a panic or a PD that failed or crashed (lifecycle.c).
 */
#include <stdarg.h>
#include <stdint.h>
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/log.h>
#include <hyp/machine.h>
#include <hyp/pd.h>
#include <hyp/smp.h>

/* Semihosting for AArch64 (Arm IHI 0098 "Semihosting for AArch32 and AArch64"): HLT #0xF000. */
#define SEMIHOSTING_SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static uint32_t panicking;

/*
 * A second panic (e.g. HLT faulting because QEMU runs without -semihosting,
 * or another CPU panicking at the same time) just stops the CPU.
 */
static void panic_enter(void)
{
    if (atomic_fetch_add32(&panicking, 1)) {
        for (;;) {
            __asm__ volatile("msr daifset, #0xf\n wfi");
        }
    }
}

static void print_statistics(void)
{
    uint64_t ms = sysreg_read(cntfrq_el0) / 1000;
    for (unsigned i = 0; i < smp_num_cpus; i++) {
        const struct hyp_cpu *c = &hyp_cpus[i];
        LOG_INFO("CPU %u: %lu exits, %lu faults delivered, %lu idle wakeups, %lu lock waits, %lu kicks, "
                 "%lu stalls, %lu unloads requested; ms idle %lu, waiting for the lock %lu",
                 i, c->exits, c->faults, c->idles, c->lock_waits, c->kicks, c->stalls, c->unloads, c->idle_ticks / ms,
                 c->lock_ticks / ms);
    }
}

/* Called by a VMM from one of its entry points: that PD ends (the machine with the last PD). */
void hyp_machine_poweroff(int status)
{
    struct hyp_cpu *c = cpu_this();
    struct pd *pd = c->pd;
    if (!panicking && pd && pd->in_entry && pd->owner == (int)c->id) {
        pd_end(pd, status);
    }
    machine_exit(status);
}

void machine_exit(int status)
{
    if (!panicking) {
        print_statistics();
    }
    /* SYS_EXIT, 64-bit form: x1 points to {reason, subcode = exit status}. */
    static volatile uint64_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint64_t)(int64_t)status;
    register uint64_t x0 __asm__("x0") = SEMIHOSTING_SYS_EXIT;
    register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    /* Without -semihosting QEMU treats HLT as undefined; should we get here, stop for good. */
    for (;;) {
        __asm__ volatile("msr daifset, #0xf\n wfi");
    }
}

static void dump_sysregs(void)
{
    hyp_printf("hyp|   last EL2 exception: ESR_EL2 %016lx  ELR_EL2 %016lx  FAR_EL2 %016lx\n", sysreg_read(esr_el2),
               sysreg_read(elr_el2), sysreg_read(far_el2));
    hyp_printf("hyp|   SPSR_EL2 %016lx HPFAR_EL2 %016lx\n", sysreg_read(spsr_el2), sysreg_read(hpfar_el2));
}

void hyp_panic(const char *fmt, ...)
{
    panic_enter();
    struct pd *pd = cpu_this()->pd;
    if (pd && pd->dbg_len) {
        uart_puts("\n");
        uart_write_line(pd->dbg_line, pd->dbg_len); /* what the PD printed last, without its newline */
        pd->dbg_len = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    uart_puts("\nhyp| PANIC: ");
    hyp_vprintf(fmt, ap);
    uart_putc('\n');
    va_end(ap);
    hyp_printf("hyp|   caller %p\n", __builtin_return_address(0));
    dump_sysregs();
    machine_exit(1);
}

/*
 * Called from vectors.S for an exception hyp does not expect at EL2.
 * regs: x0-x30, ELR, SPSR, ESR, FAR, SP at the vector (SP_EL2), SP_EL0 (hyp's stack).
 */
void hyp_panic_exception(uint64_t vector, const uint64_t *regs) __attribute__((noreturn));
void hyp_panic_exception(uint64_t vector, const uint64_t *regs)
{
    static const char *const names[16] = {"EL2t sync",    "EL2t IRQ",    "EL2t FIQ",    "EL2t SError",
                                          "EL2h sync",    "EL2h IRQ",    "EL2h FIQ",    "EL2h SError",
                                          "lower sync",   "lower IRQ",   "lower FIQ",   "lower SError",
                                          "AArch32 sync", "AArch32 IRQ", "AArch32 FIQ", "AArch32 SError"};
    uint64_t esr = regs[33];
    struct pd *pd = pd_exception_owner(vector, regs);
    if (pd) {
        pd_dbg_flush(pd);
        /* The PD's own code faulted: only that PD ends (lifecycle.c). */
        hyp_printf("\nhyp| PD '%s' crashed: exception at EL2 in its code: ", pd->desc->name);
    } else {
        panic_enter();
        uart_puts("\nhyp| PANIC: unexpected exception at EL2: ");
    }
    uart_puts(names[vector & 15]);
    hyp_printf(" (EC 0x%lx)\n", ESR_EC(esr));
    for (unsigned i = 0; i < HYP_MAX_CPUS; i++) {
        uintptr_t guard = (uintptr_t)hyp_stacks[i].guard;
        if (regs[34] >= guard && regs[34] < guard + HYP_STACK_GUARD) {
            hyp_printf("hyp|   stack overflow: FAR is in the guard page of CPU %u's stack\n", i);
        }
    }
    hyp_printf("hyp|   ESR %016lx  ELR %016lx  FAR %016lx\n", esr, regs[31], regs[34]);
    hyp_printf("hyp|   SPSR %016lx  SP_EL2 %016lx  SP_EL0 %016lx\n", regs[32], regs[35], regs[36]);
    for (int i = 0; i < 31; i += 2) {
        if (i < 30) {
            hyp_printf("hyp|   x%-2d %016lx  x%-2d %016lx\n", i, regs[i], i + 1, regs[i + 1]);
        } else {
            hyp_printf("hyp|   x%-2d %016lx\n", i, regs[i]);
        }
    }
    if (pd) {
        pd_end(pd, 1);
    }
    machine_exit(1);
}

/*
 * Stack-protector support for prebuilt libraries linked into the VMM
 * (Debian's libfdt is built with -fstack-protector); without these the
 * link would pull in picolibc's hosted versions. The guard gets a per-boot
 * value from the counter in hyp_main, before any protected code runs.
 */
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;

void __stack_chk_fail(void) __attribute__((noreturn));
void __stack_chk_fail(void)
{
    hyp_panic("stack protector: stack smashing detected (caller %p)", __builtin_return_address(0));
}
