/*
 * bench_exits: instructions per round trip of the guest exits a VMM serves,
 * timed with the virtual counter under `qemu -icount shift=0,sleep=off`
 * (bench_common.h: one tick = 1e9 / CNTFRQ_EL0 instructions). Each row is a
 * tight loop of ITERS operations; the cost of an empty loop of the same
 * shape (subs + b.ne) is measured too and subtracted, so a row is what the
 * operation costs the whole machine: the guest instruction(s), the exit to
 * hyp, the VMM's fault handler, the reply and the return to the guest.
 *
 * The same binary runs under hyp and directly on QEMU (virtualization=off),
 * where QEMU itself emulates the GIC and answers every HVC in its PSCI code
 * (NOT_SUPPORTED for the null id too), and SMC is UNDEFINED for want of EL3:
 * the guest tells the two apart by that SMC and prints n/a for it directly.
 *
 * With a second CPU (PSCI AFFINITY_INFO knows MPIDR 1) the guest measures
 * only the IPI row, so the one-vCPU rows are always measured on a machine
 * with one vCPU: CPU 0 starts CPU 1 (PSCI CPU_ON), which waits in WFI with
 * its own vectors (ipi_vectors). Each iteration CPU 0 writes GICD_SGIR = SGI
 * IPI_PING to CPU 1 and spins until its IRQ vector has counted SGI
 * BENCH_SGI; CPU 1's handler acknowledges the ping, EOIs it and sends
 * BENCH_SGI back to CPU 0 (GICD_SGIR filter 0, IHI 0048B 4.3.15). A round
 * trip is everything both CPUs and hyp execute meanwhile (icount is one
 * clock for the whole machine). Single-threaded TCG runs one CPU at a time:
 * CPU 1 idles in WFI and CPU 0's wait loop yields (time_ipi()), so neither
 * runs idle while the other has work.
 *
 * Output, parsed by bench/bench.py (instr = net instructions per iteration):
 *   BENCH-EXITS: env hyp|direct cntfrq <Hz> iters <n>
 *   BENCH-EXITS: row <name> ticks <t> instr <i>      (or: row <name> n/a <why>)
 *   BENCH-EXITS: FAIL <what>                          (a wrong result)
 *   BENCH-EXITS: done
 * One vCPU: rows loop hvc smc mmio gicd sgi, and ipi n/a. Two: loop, ipi.
 */
#include "bench_common.h"

#define ITERS 10000u

/* A fast SMC32 id (DEN0028, function identifiers) of the vendor hypervisor service, owner 6: nothing behind it. */
#define FID_NULL 0x8600ff00u
#define SMCCC_NOT_SUPPORTED ~0ull /* -1, sign-extended by the VMM for an SMC32 id */

/* GICv2 (IHI 0048B 4.1.2, 4.1.3): QEMU virt's distributor and CPU interface (the GICV page under hyp). */
#define GICD_BASE 0x08000000ul
#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_ISENABLER0 0x100
#define GICD_SGIR 0xf00
#define GICC_BASE 0x08010000ul
#define GICC_CTLR 0x000
#define GICC_PMR 0x004
#define INTID_MASK 0x3ffu

/* GICD_SGIR (4.3.15): TargetListFilter 2 = "this CPU only", SGI 1. */
#define BENCH_SGI 1u
#define SGIR_SELF (2u << 24)
/* Filter 0 with one target: the ping to CPU 1 (SGI 2) and its answer to CPU 0 (BENCH_SGI). */
#define IPI_PING 2u
#define SGIR_TO_CPU(n) (1u << (16 + (n)))
#define IPI_WARMUP 16u

#define PSCI_AFFINITY_INFO_64 0xc4000004u
#define PSCI_CPU_ON_64 0xc4000003u

/* Bound on the wait for one SGI (loop passes), so a lost interrupt ends in a FAIL, not a hang. */
#define SGI_SPIN 100000u

/* Written by the IRQ vector below. */
volatile uint32_t bench_irq_count;
volatile uint32_t bench_irq_last;

/*
 * Our own vector table (Arm ARM D1.10.2): IRQ from the current EL with SP_ELx
 * (offset 0x280) is a minimal handler: acknowledge on GICC_IAR, EOI on
 * GICC_EOIR (IHI 0048B 4.4.4, 4.4.5), count; every other entry goes on to the
 * common runtime's vector at the same offset (report, or UNDEFINED SMC/HVC).
 */
__asm__(".pushsection .text.bench_vectors, \"ax\"\n"
        "    .balign 0x800\n"
        "    .global bench_vectors\n"
        "bench_vectors:\n"
        "    .irp off, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, "
        "0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780\n"
        "    .balign 0x80\n"
        "    .if \\off == 0x280\n"
        "    stp     x0, x1, [sp, #-16]!\n"
        "    movz    x0, #0x0801, lsl #16\n" /* GICC_BASE */
        "    ldr     w1, [x0, #0xc]\n" /* GICC_IAR */
        "    str     w1, [x0, #0x10]\n" /* GICC_EOIR */
        "    adrp    x0, bench_irq_last\n"
        "    str     w1, [x0, :lo12:bench_irq_last]\n"
        "    adrp    x0, bench_irq_count\n"
        "    ldr     w1, [x0, :lo12:bench_irq_count]\n"
        "    add     w1, w1, #1\n"
        "    str     w1, [x0, :lo12:bench_irq_count]\n"
        "    ldp     x0, x1, [sp], #16\n"
        "    eret\n"
        "    .else\n"
        "    b       guest_vectors + \\off\n"
        "    .endif\n"
        "    .endr\n"
        ".popsection\n");

extern const char bench_vectors[];

/* CPU 1's pings answered, written by its IRQ vector below. */
volatile uint32_t ipi_pings;
static volatile uint32_t ipi_ready;

/*
 * CPU 1's vectors: IRQ from EL1 with SP_ELx acknowledges (GICC_IAR), EOIs,
 * and if it was the ping sends BENCH_SGI to CPU 0 through GICD_SGIR and
 * counts it; every other entry goes on to the common runtime's vector.
 */
__asm__(".pushsection .text.ipi_vectors, \"ax\"\n"
        "    .balign 0x800\n"
        "    .global ipi_vectors\n"
        "ipi_vectors:\n"
        "    .irp off, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, "
        "0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780\n"
        "    .balign 0x80\n"
        "    .if \\off == 0x280\n"
        "    stp     x0, x1, [sp, #-16]!\n"
        "    movz    x0, #0x0801, lsl #16\n" /* GICC_BASE */
        "    ldr     w1, [x0, #0xc]\n" /* GICC_IAR */
        "    str     w1, [x0, #0x10]\n" /* GICC_EOIR */
        "    and     w1, w1, #0x3ff\n"
        "    cmp     w1, #2\n" /* IPI_PING */
        "    b.ne    1f\n"
        "    movz    x0, #0x0800, lsl #16\n" /* GICD_BASE */
        "    movz    w1, #0x1, lsl #16\n" /* SGIR_TO_CPU(0) */
        "    orr     w1, w1, #1\n" /* | BENCH_SGI */
        "    str     w1, [x0, #0xf00]\n" /* GICD_SGIR */
        "    adrp    x0, ipi_pings\n"
        "    ldr     w1, [x0, :lo12:ipi_pings]\n"
        "    add     w1, w1, #1\n"
        "    str     w1, [x0, :lo12:ipi_pings]\n"
        "1:  ldp     x0, x1, [sp], #16\n"
        "    eret\n"
        "    .else\n"
        "    b       guest_vectors + \\off\n"
        "    .endif\n"
        "    .endr\n"
        ".popsection\n");

extern const char ipi_vectors[];

static inline uint32_t mmio_read(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}

static inline void mmio_write(uintptr_t addr, uint32_t value)
{
    *(volatile uint32_t *)addr = value;
}

static uint64_t time_empty(uint64_t n)
{
    uint64_t t0 = bench_counter();
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(n)::"cc");
    return bench_counter() - t0;
}

/* x4-x17 are unpredictable after an SMCCC 1.0 call (DEN0028, register use); the loop keeps nothing in x0-x17. */
#define SMCCC_CLOBBERS                                                                                                 \
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",       \
        "x17", "cc", "memory"

static uint64_t time_hvc(uint64_t n, uint64_t fid)
{
    uint64_t t0 = bench_counter();
    __asm__ volatile("1: mov x0, %1\n\thvc #0\n\tsubs %0, %0, #1\n\tb.ne 1b" : "+r"(n) : "r"(fid) : SMCCC_CLOBBERS);
    return bench_counter() - t0;
}

static uint64_t time_smc(uint64_t n, uint64_t fid)
{
    uint64_t t0 = bench_counter();
    __asm__ volatile("1: mov x0, %1\n\tsmc #0\n\tsubs %0, %0, #1\n\tb.ne 1b" : "+r"(n) : "r"(fid) : SMCCC_CLOBBERS);
    return bench_counter() - t0;
}

static uint64_t time_read32(uint64_t n, uintptr_t addr)
{
    uint32_t v;
    uint64_t t0 = bench_counter();
    __asm__ volatile("1: ldr %w1, [%2]\n\tsubs %0, %0, #1\n\tb.ne 1b" : "+r"(n), "=&r"(v) : "r"(addr) : "cc", "memory");
    return bench_counter() - t0;
}

/*
 * Self-SGI round trip: write GICD_SGIR, then wait until the IRQ vector has
 * counted the interrupt (acked and EOIed it). Under hyp the SGIR write exits
 * to the VMM, which injects the SGI into a list register; the guest's EOI
 * raises a maintenance interrupt that exits again: all inside the loop.
 * The store's source register is pinned (w4): the VMM reads and writes the
 * guest's registers up to Rt (ReadRegisters/WriteRegisters count), so Rt is
 * part of what a row costs and must not move with the compiler's choices.
 */
static uint64_t time_sgi(uint64_t n)
{
    uint32_t before, now, spin;
    register uint32_t sgir __asm__("w4") = SGIR_SELF | BENCH_SGI;
    uint64_t t0 = bench_counter();
    __asm__ volatile("msr daifclr, #2\n"
                     "1: ldr %w1, [%4]\n\t"
                     "mov %w3, %w7\n\t"
                     "str %w6, [%5]\n"
                     "2: ldr %w2, [%4]\n\t"
                     "cmp %w2, %w1\n\t"
                     "b.ne 3f\n\t"
                     "subs %w3, %w3, #1\n\t"
                     "b.ne 2b\n"
                     "3: subs %0, %0, #1\n\t"
                     "b.ne 1b\n\t"
                     "msr daifset, #2"
                     : "+r"(n), "=&r"(before), "=&r"(now), "=&r"(spin)
                     : "r"(&bench_irq_count), "r"(GICD_BASE + GICD_SGIR), "r"(sgir), "r"(SGI_SPIN)
                     : "cc", "memory");
    return bench_counter() - t0;
}

/*
 * IPI round trip: the loop of time_sgi() with the ping to CPU 1 as the SGIR
 * value (Rt w4 again) and a YIELD in the wait. Single-threaded TCG (icount)
 * takes an interrupt raised for another CPU only when that CPU's turn comes,
 * and QEMU ends a CPU's turn at a YIELD (WFE and WFI too) when it runs the
 * CPUs in turn; under multi-threaded TCG it is a NOP. Without it CPU 0 would
 * spin through its whole time slice before CPU 1 ever ran.
 */
static uint64_t time_ipi(uint64_t n)
{
    uint32_t before, now, spin;
    register uint32_t sgir __asm__("w4") = SGIR_TO_CPU(1) | IPI_PING;
    uint64_t t0 = bench_counter();
    __asm__ volatile("msr daifclr, #2\n"
                     "1: ldr %w1, [%4]\n\t"
                     "mov %w3, %w7\n\t"
                     "str %w6, [%5]\n"
                     "2: ldr %w2, [%4]\n\t"
                     "cmp %w2, %w1\n\t"
                     "b.ne 3f\n\t"
                     "yield\n\t"
                     "subs %w3, %w3, #1\n\t"
                     "b.ne 2b\n"
                     "3: subs %0, %0, #1\n\t"
                     "b.ne 1b\n\t"
                     "msr daifset, #2"
                     : "+r"(n), "=&r"(before), "=&r"(now), "=&r"(spin)
                     : "r"(&bench_irq_count), "r"(GICD_BASE + GICD_SGIR), "r"(sgir), "r"(SGI_SPIN)
                     : "cc", "memory");
    return bench_counter() - t0;
}

static void put_row(const char *name, uint64_t ticks, uint64_t empty_ticks)
{
    uint64_t net = ticks > empty_ticks ? ticks - empty_ticks : 0;
    uint64_t instr = net * 1000000000ull / bench_counter_freq() / ITERS;
    uart_puts("BENCH-EXITS: row ");
    uart_puts(name);
    uart_puts(" ticks ");
    uart_put_dec(ticks);
    uart_puts(" instr ");
    uart_put_dec(instr);
    uart_puts("\n");
}

static void put_na(const char *name, const char *why)
{
    uart_puts("BENCH-EXITS: row ");
    uart_puts(name);
    uart_puts(" n/a ");
    uart_puts(why);
    uart_puts("\n");
}

static void fail(const char *what, uint64_t value)
{
    uart_puts("BENCH-EXITS: FAIL ");
    uart_puts(what);
    uart_puts(" ");
    uart_put_hex(value, 16);
    uart_puts("\n");
}

/* Distributor and CPU interface on, SGI enabled at the highest priority (IHI 0048B 4.3.1, 4.4.1, 4.4.2). */
static void gic_setup(void)
{
    mmio_write(GICD_BASE + GICD_CTLR, 1);
    mmio_write(GICD_BASE + GICD_ISENABLER0, 1u << BENCH_SGI);
    mmio_write(GICC_BASE + GICC_PMR, 0xf0);
    mmio_write(GICC_BASE + GICC_CTLR, 1);
}

static void bench_sgi(uint64_t empty)
{
    gic_setup();
    bench_irq_count = 0;
    uint64_t ticks = time_sgi(ITERS);
    uint32_t count = bench_irq_count;
    if (count != ITERS) {
        fail("self-SGI: interrupts taken (of ITERS)", count);
        return;
    }
    if ((bench_irq_last & INTID_MASK) != BENCH_SGI) {
        fail("self-SGI: GICC_IAR gave", bench_irq_last);
        return;
    }
    put_row("sgi", ticks, empty);
}

/* CPU 1: its GIC CPU interface on, the ping enabled (banked ISENABLER0), then idle in WFI with IRQs open. */
static void ipi_responder(unsigned cpu, uint64_t context_id)
{
    (void)cpu;
    (void)context_id;
    __asm__ volatile("msr vbar_el1, %0\n\tisb" ::"r"(ipi_vectors));
    mmio_write(GICD_BASE + GICD_ISENABLER0, 1u << IPI_PING);
    mmio_write(GICC_BASE + GICC_PMR, 0xf0);
    mmio_write(GICC_BASE + GICC_CTLR, 1);
    ipi_ready = 1;
    __asm__ volatile("msr daifclr, #2" ::: "memory");
    for (;;) {
        __asm__ volatile("wfi");
    }
}

static bool start_responder(void)
{
    guest_secondary_main = ipi_responder;
    uint64_t r = smccc_hvc(PSCI_CPU_ON_64, 1, (uintptr_t)guest_secondary_entry, 0);
    if (r != 0) {
        fail("IPI: CPU_ON of CPU 1 returned", r);
        return false;
    }
    for (uint32_t spin = 0; ipi_ready == 0; spin++) {
        __asm__ volatile("yield"); /* let CPU 1 run under single-threaded TCG: see time_ipi() */
        if (spin > 100000000u) {
            fail("IPI: CPU 1 did not come up", 0);
            return false;
        }
    }
    return true;
}

/* The IPI row: round trips to CPU 1 and back, after a few unmeasured ones. */
static void bench_ipi(uint64_t empty)
{
    gic_setup();
    if (!start_responder()) {
        return;
    }
    bench_irq_count = 0;
    (void)time_ipi(IPI_WARMUP);
    bench_irq_count = 0;
    uint32_t pings = ipi_pings;
    uint64_t ticks = time_ipi(ITERS);
    uint32_t count = bench_irq_count;
    if (count != ITERS || ipi_pings - pings != ITERS) {
        fail("IPI: answers taken by CPU 0 (of ITERS)", count);
        fail("IPI: pings answered by CPU 1 (of ITERS)", ipi_pings - pings);
        return;
    }
    if ((bench_irq_last & INTID_MASK) != BENCH_SGI) {
        fail("IPI: GICC_IAR gave", bench_irq_last);
        return;
    }
    put_row("ipi", ticks, empty);
}

void guest_main(uint64_t dtb)
{
    (void)dtb;
    __asm__ volatile("msr vbar_el1, %0\n\tisb" ::"r"(bench_vectors));

    /* Under hyp the VMM answers the null id over SMC; directly, SMC is UNDEFINED at EL1 (no EL3). */
    uint64_t probe = smccc_smc(FID_NULL, 0, 0, 0);
    bool direct = probe == GUEST_CALL_UNDEFINED;
    if (!direct && probe != SMCCC_NOT_SUPPORTED) {
        fail("null SMC returned", probe);
    }
    probe = smccc_hvc(FID_NULL, 0, 0, 0);
    if (probe != SMCCC_NOT_SUPPORTED) {
        fail("null HVC returned", probe);
    }
    uart_puts("BENCH-EXITS: env ");
    uart_puts(direct ? "direct" : "hyp");
    uart_puts(" cntfrq ");
    uart_put_dec(bench_counter_freq());
    uart_puts(" iters ");
    uart_put_dec(ITERS);
    uart_puts("\n");

    uint64_t empty = time_empty(ITERS);
    put_row("loop", empty, 0);
    if (smccc_hvc(PSCI_AFFINITY_INFO_64, 1, 0, 0) <= 1) { /* CPU 1 exists: ON (0) or OFF (1) */
        bench_ipi(empty);
        uart_puts("BENCH-EXITS: done\n");
        bench_power_off();
    }
    put_row("hvc", time_hvc(ITERS, FID_NULL), empty);
    if (direct) {
        put_na("smc", "no EL3: SMC is UNDEFINED");
    } else {
        put_row("smc", time_smc(ITERS, FID_NULL), empty);
    }
    if (mmio_read(GICD_BASE + GICD_TYPER) == 0) {
        fail("GICD_TYPER reads as", 0);
    }
    put_row("mmio", time_read32(ITERS, GICD_BASE + GICD_TYPER), empty);
    put_row("gicd", time_read32(ITERS, GICD_BASE + GICD_ISENABLER0), empty);
    bench_sgi(empty);
    put_na("ipi", "one vCPU");
    uart_puts("BENCH-EXITS: done\n");
    bench_power_off();
}
