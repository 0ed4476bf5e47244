/*
 * hyp selftest guest (EL1, MMU off, so only aligned accesses). Probes the
 * hypervisor through the VMM and reports through the shared PL011; the exit
 * code given to the power-off SMC is 0 when every guest-side check passed.
 */
#include <stdint.h>
#include "guest_gic.h"
#include "selftest.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_IMSC 0x038
#define UART_ICR 0x044
#define UART_TXI (1u << 5)

void guest_hvc_probe(uint64_t out[8]);
uint64_t guest_smc_probe(void);
uint32_t guest_mmio_probe(void);
void guest_fp_probe(const uint64_t in[64], uint64_t out[64], uint64_t ctl[4]);
uint64_t guest_hvc(uint64_t x0);
void guest_ro_store_probe(void);
void guest_iabt_probe(void);
uint64_t guest_main(uint64_t mode);
void guest_irq(void);
void guest_bad_vector(uint64_t n);

static volatile uint32_t timer_irqs, uart_irqs, other_irqs;
static uint64_t failures, test_mode;
static uint64_t fp_in[64] __attribute__((aligned(16)));
static uint64_t fp_out[64] __attribute__((aligned(16)));
static uint64_t fp_ctl[4] __attribute__((aligned(16)));

static void w32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}

static uint32_t r32(uintptr_t a)
{
    return *(volatile uint32_t *)a;
}

static void putc(char c)
{
    while (r32(GUEST_UART_IPA + UART_FR) & (1u << 5)) {
    }
    w32(GUEST_UART_IPA + UART_DR, (uint8_t)c);
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

static void puthex(uint64_t v)
{
    puts("0x");
    for (int i = 60; i >= 0; i -= 4) {
        putc("0123456789abcdef"[(v >> i) & 0xf]);
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

static void check(int ok, const char *what, uint64_t got)
{
    puts(ok ? "guest: ok   " : "guest: FAIL ");
    puts(what);
    if (!ok) {
        puts(" got ");
        puthex(got);
        failures++;
    }
    puts("\n");
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

/* Arm the EL1 virtual timer and WFI until its interrupt has been taken (DESIGN 3: WFI runs on the hardware). */
static void timer_wait(uint64_t ticks)
{
    uint32_t before = timer_irqs;
    uint64_t deadline = counter() + ticks;
    __asm__ volatile("msr cntv_cval_el0, %0\n msr cntv_ctl_el0, %1\n isb" ::"r"(deadline), "r"(1ull));
    __asm__ volatile("msr daifclr, #2");
    while (timer_irqs == before) {
        __asm__ volatile("wfi");
    }
    __asm__ volatile("msr daifset, #2");
    check(counter() >= deadline, "timer interrupt not before its deadline", counter());
}

void guest_irq(void)
{
    uint32_t iar = guest_gic_ack();
    uint32_t id = iar & 0x3ff;
    if (id == VTIMER_IRQ) {
        __asm__ volatile("msr cntv_ctl_el0, %0\n isb" ::"r"(0ull));
        if (timer_irqs == 0 && test_mode != 3) {
            /* The vIRQ is Active in LR 0 now: the VMM checks InjectIRQ answers DeleteFirst. */
            guest_hvc(HVC_DELETE);
        }
        timer_irqs++;
    } else if (id == UART_IRQ) {
        w32(GUEST_UART_IPA + UART_IMSC, 0);
        w32(GUEST_UART_IPA + UART_ICR, UART_TXI);
        uart_irqs++;
    } else if (id < 1020) {
        other_irqs++;
    } else {
        return; /* spurious */
    }
    guest_gic_eoi(iar);
}

void guest_bad_vector(uint64_t n)
{
    uint64_t esr, elr;
    __asm__ volatile("mrs %0, esr_el1\n mrs %1, elr_el1" : "=r"(esr), "=r"(elr));
    puts("guest: unexpected exception, vector ");
    puthex(n);
    puts(" ESR_EL1 ");
    puthex(esr);
    puts(" ELR_EL1 ");
    puthex(elr);
    puts("\n");
    register uint64_t x0 __asm__("x0") = 0xbad;
    __asm__ volatile("smc %1" : "+r"(x0) : "i"(SMC_IMM_POWEROFF));
    for (;;) {
    }
}

static void test_hvc(void)
{
    uint64_t out[8];
    guest_hvc_probe(out);
    check(out[0] == HVC_REPLY_X0, "HVC: x0 comes from reply MR0", out[0]);
    check(out[1] == 0x2222 && out[2] == 0x3333 && out[3] == 0x4444 && out[4] == 0x5555 && out[5] == 0x6666 &&
              out[7] == 0x7777,
          "HVC: x1-x5, x7 written back unchanged", out[1]);
}

static void test_fp(void)
{
    for (int i = 0; i < 64; i++) {
        fp_in[i] = 0x0123456789abcdefull * (uint64_t)(i + 1) ^ ((uint64_t)i << 56);
    }
    fp_ctl[0] = 0x03c00000; /* FPCR: DN, FZ, RMode = toward zero */
    fp_ctl[1] = 0x0800001f; /* FPSR: QC and the cumulative exception flags */
    guest_fp_probe(fp_in, fp_out, fp_ctl);
    int same = 1;
    for (int i = 0; i < 64; i++) {
        same &= fp_in[i] == fp_out[i];
    }
    check(same, "FP: V0-V31 survive the VMM using FP/SIMD", fp_out[0]);
    check(fp_ctl[2] == fp_ctl[0], "FP: FPCR survives", fp_ctl[2]);
    check(fp_ctl[3] == fp_ctl[1], "FP: FPSR survives", fp_ctl[3]);
}

static void test_uart_irq(void)
{
    uint32_t before = uart_irqs;
    /* PL011 TX interrupt (level) -> SPI 33 -> hyp -> notified(ch) -> InjectIRQ -> here -> EOI -> irq_ack. */
    w32(GUEST_UART_IPA + UART_IMSC, UART_TXI);
    putc('\n');
    __asm__ volatile("msr daifclr, #2");
    while (uart_irqs == before) {
        __asm__ volatile("wfi");
    }
    __asm__ volatile("msr daifset, #2");
    check(uart_irqs == before + 1, "passthrough UART IRQ delivered once", uart_irqs);
}

uint64_t guest_main(uint64_t mode)
{
    test_mode = mode;
    puts(guest_gic_v3() ? "guest: hello from EL1 under hyp (GICv3)\n" : "guest: hello from EL1 under hyp (GICv2)\n");
    guest_gic_cpu_enable();
    if (mode == 6) {
        /* -icount shift=0: one instruction per ns; CNTVCT ticks at CNTFRQ. */
        uint64_t t0 = counter();
        for (int i = 0; i < BENCH_ROUNDS; i++) {
            guest_hvc(HVC_NULL);
        }
        uint64_t t1 = counter();
        puts("guest: null HVC round trip: ");
        putdec((t1 - t0) * (1000000000ull / counter_freq()) / BENCH_ROUNDS);
        puts(" instructions per round trip (guest HVC -> VMM fault() -> reply -> guest)\n");
        return failures;
    }
    if (mode == 3) {
        timer_wait(counter_freq() * IDLE_SECONDS);
        return failures;
    }
    test_hvc();
    test_fp();
    check(guest_smc_probe() == SMC_X0_OUT, "SMC: VMM advanced pc and set x0", 0);
    uint32_t v = guest_mmio_probe();
    check(v == MMIO_READ_VALUE, "MMIO: emulated load value", v);
    guest_ro_store_probe();
    check(*(volatile uint32_t *)(GUEST_RO_IPA + 8) == 0, "read-only page unchanged by the store", 0);
    guest_iabt_probe();
    check(1, "instruction abort: VMM resumed at the return address", 0);
    uint64_t r = guest_hvc(HVC_RESTART);
    check(r == RESTART_X0, "stop + restart inside fault(): reply ignored, new pc and x0", r);
    for (int i = 0; i < TIMER_ROUNDS; i++) {
        timer_wait(counter_freq() / 100);
    }
    check(timer_irqs == TIMER_ROUNDS, "virtual timer: one interrupt per round", timer_irqs);
    test_uart_irq();
    check(other_irqs == 0, "no unexpected interrupts", other_irqs);
    return failures;
}
