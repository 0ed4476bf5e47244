/*
 * SMP selftest guest (EL1, MMU off: guest RAM is Device memory to it, so no
 * exclusives and only aligned accesses; every vCPU writes its own slots).
 * vCPU 0 starts the others with PSCI CPU_ON through the VMM; all of them
 * then, at the same time, take their own virtual timer interrupts, make
 * HVCs whose sequence numbers the VMM checks, have the VMM read and write a
 * running neighbour's registers, and send the next vCPU an IPI through the
 * VMM. Then the secondaries CPU_OFF, and vCPU 0 starts one again, has the
 * VMM stop one that spins without exits, restarts it and powers off.
 */
#include <stdint.h>
#include "guest_gic.h"
#include "selftest.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define PSCI_AFFINITY_OFF 1

uint64_t smp_smc(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3);
uint64_t smp_hvc(uint64_t x0, uint64_t x1);
void smp_guest_main(uint64_t arg);
void smp_guest_irq(void);
void smp_guest_bad_vector(uint64_t n);
void _start(void);

static volatile uint32_t choosing[SMP_CPUS], ticket[SMP_CPUS];
static volatile uint32_t checked_in[SMP_CPUS], phase_done[SMP_CPUS], again[SMP_CPUS];
static volatile uint32_t timer_irqs[SMP_CPUS], sgi_irqs[SMP_CPUS], other_irqs[SMP_CPUS];
static volatile uint64_t failures[SMP_CPUS];
static volatile uint64_t spin_count;

static void dmb(void)
{
    __asm__ volatile("dmb sy" ::: "memory");
}

static unsigned this_cpu(void)
{
    uint64_t mpidr;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    return (unsigned)(mpidr & 0xff);
}

/* Lamport's bakery lock around console lines (no exclusives on Device memory). */
static void print_lock(unsigned me)
{
    choosing[me] = 1;
    dmb();
    uint32_t max = 0;
    for (unsigned j = 0; j < SMP_CPUS; j++) {
        max = ticket[j] > max ? ticket[j] : max;
    }
    ticket[me] = max + 1;
    dmb();
    choosing[me] = 0;
    dmb();
    for (unsigned j = 0; j < SMP_CPUS; j++) {
        while (choosing[j]) {
        }
        dmb();
        while (ticket[j] && (ticket[j] < ticket[me] || (ticket[j] == ticket[me] && j < me))) {
        }
    }
    dmb();
}

static void print_unlock(unsigned me)
{
    dmb();
    ticket[me] = 0;
}

static void putc(char c)
{
    while (*(volatile uint32_t *)(GUEST_UART_IPA + UART_FR) & (1u << 5)) {
    }
    *(volatile uint32_t *)(GUEST_UART_IPA + UART_DR) = (uint8_t)c;
}

static void puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') {
            putc('\r');
        }
        putc(*s);
    }
}

static void putdec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        putc(buf[--n]);
    }
}

/* "guest: cpu N: <what>[ <value>]" as one line. */
static void say(unsigned me, const char *what, int64_t value)
{
    print_lock(me);
    puts("guest: cpu ");
    putdec(me);
    puts(": ");
    puts(what);
    if (value >= 0) {
        putc(' ');
        putdec((uint64_t)value);
    }
    puts("\n");
    print_unlock(me);
}

static void check(unsigned me, int ok, const char *what)
{
    if (!ok) {
        failures[me]++;
        say(me, what, -1);
    }
}

static uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb\n mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

static void delay_ms(uint64_t ms)
{
    uint64_t end = counter() + counter_freq() * ms / 1000;
    while (counter() < end) {
    }
}

void smp_guest_irq(void)
{
    unsigned me = this_cpu();
    uint32_t iar = guest_gic_ack();
    uint32_t id = iar & (guest_gic_v3() ? 0xffffffu : 0x3ffu);
    if (id >= 1020) {
        return;
    }
    if (id == VTIMER_IRQ) {
        __asm__ volatile("msr cntv_ctl_el0, %0\n isb" ::"r"(0ull));
        timer_irqs[me]++;
    } else if (id == SMP_SGI) {
        sgi_irqs[me]++;
    } else {
        other_irqs[me]++;
    }
    guest_gic_eoi(iar);
}

void smp_guest_bad_vector(uint64_t n)
{
    uint64_t esr, elr;
    __asm__ volatile("mrs %0, esr_el1\n mrs %1, elr_el1" : "=r"(esr), "=r"(elr));
    say(this_cpu(), "unexpected exception, vector", (int64_t)n);
    say(this_cpu(), "  ESR_EL1", (int64_t)esr);
    say(this_cpu(), "  ELR_EL1", (int64_t)elr);
    register uint64_t x0 __asm__("x0") = 0xbad;
    __asm__ volatile("smc %1" : "+r"(x0) : "i"(SMC_IMM_POWEROFF));
    for (;;) {
    }
}

/* Sleep in WFI until `count` moves: an interrupt injected from another CPU must wake us. */
static void wait_irq(volatile uint32_t *count, uint32_t before)
{
    __asm__ volatile("msr daifclr, #2");
    while (*count == before) {
        __asm__ volatile("wfi");
    }
    __asm__ volatile("msr daifset, #2");
}

static void send_sgi(unsigned target)
{
    if (guest_gic_v3()) {
        /* ICC_SGI1R_EL1: INTID 27:24, Aff1..3 = 0, TargetList bit = Aff0 (traps to the VMM). */
        uint64_t v = ((uint64_t)SMP_SGI << 24) | (1ull << target);
        __asm__ volatile("msr icc_sgi1r_el1, %0\n isb" ::"r"(v));
    } else {
        /* GICD_SGIR: TargetListFilter 0, CPUTargetList 23:16 (the VMM emulates the distributor). */
        *(volatile uint32_t *)(GUEST_GICD_IPA + GICD_SGIR) = (1u << (16 + target)) | SMP_SGI;
    }
}

static void timer_rounds(unsigned me)
{
    for (int i = 0; i < SMP_TIMER_ROUNDS; i++) {
        uint32_t before = timer_irqs[me];
        uint64_t deadline = counter() + counter_freq() / 100;
        __asm__ volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(deadline), "r"(1ull));
        wait_irq(&timer_irqs[me], before);
        check(me, counter() >= deadline, "FAIL timer interrupt before its deadline");
    }
}

static void barrier(volatile uint32_t *flags, unsigned me)
{
    flags[me] = 1;
    dmb();
    for (unsigned j = 0; j < SMP_CPUS; j++) {
        while (!flags[j]) {
        }
    }
    dmb();
}

static void cpu_off(void)
{
    smp_smc(PSCI_CPU_OFF, 0, 0, 0);
    for (;;) { /* CPU_OFF does not return */
    }
}

/* What every vCPU does, all at the same time. */
static void concurrent_phase(unsigned me)
{
    unsigned next = (me + 1) % SMP_CPUS;
    timer_rounds(me);
    for (uint64_t seq = 1; seq <= SMP_SEQ_ROUNDS; seq++) {
        smp_hvc(HVC_SEQ, seq);
    }
    check(me, smp_hvc(HVC_PEEK, next) == 0, "FAIL the VMM read a running neighbour's registers wrongly");
    smp_hvc(HVC_POKE, next);
    send_sgi(next);
    /* The previous vCPU's IPI may have come in already (while this one waited for its timer). */
    wait_irq(&sgi_irqs[me], 0);
    check(me, timer_irqs[me] == SMP_TIMER_ROUNDS, "FAIL timer interrupts");
    say(me, "timer interrupts, IPI received, HVCs made:", SMP_SEQ_ROUNDS);
}

static void wait_off(unsigned cpu)
{
    while (smp_smc(PSCI_AFFINITY_INFO, cpu, 0, 0) != PSCI_AFFINITY_OFF) {
        delay_ms(1);
    }
}

/* vCPU 0 after the concurrent phase: restart, stop-while-running, restart again. */
static uint64_t boot_cpu_finish(void)
{
    for (unsigned i = 1; i < SMP_CPUS; i++) {
        wait_off(i);
    }
    check(0, smp_smc(PSCI_CPU_ON, 2, (uintptr_t)_start, (SMP_MODE_AGAIN << 8) | 2) == 0, "FAIL CPU_ON again");
    while (!again[2]) {
    }
    wait_off(2);
    check(0, smp_smc(PSCI_CPU_ON, 3, (uintptr_t)_start, (SMP_MODE_SPIN << 8) | 3) == 0, "FAIL CPU_ON spin");
    while (spin_count < 1000) {
    }
    check(0, smp_hvc(HVC_STOP, 3) == 0, "FAIL stop a running vCPU");
    uint64_t frozen = spin_count;
    delay_ms(20);
    check(0, spin_count == frozen, "FAIL a stopped vCPU kept running");
    say(0, "a vCPU spinning on another CPU stopped at count", (int64_t)frozen);
    check(0, smp_smc(PSCI_CPU_ON, 3, (uintptr_t)_start, (SMP_MODE_AGAIN << 8) | 3) == 0, "FAIL CPU_ON after stop");
    while (!again[3]) {
    }
    wait_off(3);
    uint64_t total = 0;
    for (unsigned i = 0; i < SMP_CPUS; i++) {
        total += failures[i] + other_irqs[i];
    }
    return total;
}

void smp_guest_main(uint64_t arg)
{
    unsigned me = (unsigned)(arg & 0xff), mode = (unsigned)(arg >> 8) & 0xff;
    if (mode == SMP_MODE_AGAIN) {
        say(me, "started again", -1);
        again[me] = 1;
        cpu_off();
    }
    if (mode == SMP_MODE_SPIN) {
        say(me, "spinning", -1);
        for (;;) {
            spin_count++;
        }
    }
    __asm__ volatile("msr contextidr_el1, %0\n msr tpidrro_el0, %1" ::"r"((uint64_t)(SMP_CIDR_MAGIC | me)),
                     "r"(SMP_TPIDRRO_MAGIC | me));
    guest_gic_cpu_enable();
    say(me, guest_gic_v3() ? "up (GICv3), MPIDR.Aff0" : "up (GICv2), MPIDR.Aff0", this_cpu());
    check(me, this_cpu() == me, "FAIL MPIDR_EL1 does not name this vCPU");
    if (me == 0) {
        for (unsigned i = 1; i < SMP_CPUS; i++) {
            check(0, smp_smc(PSCI_CPU_ON, i, (uintptr_t)_start, (SMP_MODE_MAIN << 8) | i) == 0, "FAIL CPU_ON");
        }
    }
    barrier(checked_in, me);
    concurrent_phase(me);
    barrier(phase_done, me);
    uint64_t poked;
    __asm__ volatile("mrs %0, tpidr_el1" : "=r"(poked));
    check(me, poked == (SMP_POKE_MAGIC | me), "FAIL TPIDR_EL1 written by the VMM while running");
    if (me != 0) {
        cpu_off();
    }
    uint64_t result = boot_cpu_finish();
    register uint64_t x0 __asm__("x0") = result;
    __asm__ volatile("smc %1" : "+r"(x0) : "i"(SMC_IMM_POWEROFF));
    for (;;) {
    }
}
