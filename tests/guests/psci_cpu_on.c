/*
 * psci_cpu_on: PSCI CPU_ON, CPU_OFF and AFFINITY_INFO with several vCPUs
 * (PSCI DEN0022: 5.1.4 CPU_ON, 5.1.3 CPU_OFF, 5.1.5 AFFINITY_INFO; return
 * codes in its "Return error codes" table: INVALID_PARAMETERS -2, ALREADY_ON
 * -4, INVALID_ADDRESS -9). Needs 4 CPUs; the calls go over SMC, the guest
 * DT's conduit (HVC where SMC is UNDEFINED, directly on QEMU).
 *
 *  - invalid targets: an Aff0 with no CPU, Aff1/Aff2/Aff3 != 0, bits outside
 *    the affinity fields (5.1.4: target_cpu has MPIDR's affinity layout, the
 *    rest is RES0) -> INVALID_PARAMETERS, and nothing starts;
 *  - ALREADY_ON for the caller itself and for a CPU it started;
 *  - entry points outside guest RAM (below, the last byte + 1, above; and
 *    unaligned, which src/psci.c also refuses) -> INVALID_ADDRESS;
 *  - a started CPU sees x0 = context id, x1..x30 = 0, SCTLR_EL1 with the MMU
 *    and caches off, EL1h, DAIF masked, CNTV_CTL_EL0 = 0 (5.1.4 and DESIGN 5:
 *    CPU_ON resets the target's registers, not only its PC); CPU_ON over SMC32
 *    uses the low 32 bits of its arguments (SMCCC DEN0028: W registers);
 *  - AFFINITY_INFO of ON and OFF CPUs, and of names that are not CPUs;
 *  - a secondary starts another CPU and gets ALREADY_ON for CPU 0;
 *  - a secondary dirties its registers, SCTLR, PSTATE and virtual timer, then
 *    CPU_OFF: AFFINITY_INFO says OFF, and a new CPU_ON with a new context id
 *    starts it from a full reset.
 * ON_PENDING is not tested: src/psci.c completes CPU_ON before it returns,
 * so it never answers ON_PENDING (a second CPU_ON sees ALREADY_ON).
 *
 * One line per check, "PASS ..." or "FAIL ...", then
 * "psci_cpu_on: N passed, M failed" and SYSTEM_OFF with three CPUs still on.
 */
#include "guest.h"

/* Guest RAM (mk/guest.mk: GUEST_RAM_BASE, GUEST_RAM_SIZE; the guest DT's memory node). */
#define RAM_BASE 0x40000000ull
#define RAM_END 0x60000000ull
#define WAIT_MS 10000 /* for a CPU to enter or answer: a bound on a hang, not a timing check */

#define SCTLR_M (1ull << 0)
#define SCTLR_C (1ull << 2)
#define SCTLR_I (1ull << 12)
#define SCTLR_EE (1ull << 25)
#define DAIF_ALL 0x3c0ull
#define CURRENT_EL1 (1ull << 2)

enum op { OP_CPU_ON = 1, OP_AFFINITY_INFO, OP_DIRTY_CPU_OFF };

/* CPU 0 writes op and args, then seq; the CPU runs it, writes result, then done = seq. */
struct mailbox {
    volatile uint32_t seq;
    volatile uint32_t op;
    volatile uint64_t arg[3];
    volatile int64_t result;
    volatile uint32_t done;
};

static struct mailbox mbox[GUEST_MAX_CPUS];
static volatile uint64_t alive[GUEST_MAX_CPUS]; /* entry count of the life that runs its mailbox loop */
volatile uint64_t cpu_off_returned; /* written by cpu_off_dirty if CPU_OFF comes back */
static unsigned passed, failed;

/*
 * void cpu_off_dirty(uint64_t use_hvc): the CPU leaves as much state behind
 * as it can before PSCI CPU_OFF: caches "on" (SCTLR_EL1.C, I; harmless with
 * the MMU off), the virtual timer enabled (masked, compare value far away),
 * DAIF clear, SPSel 0 (EL1t), and x1..x30 all non-zero. CPU_OFF does not
 * return on success (5.1.3); if it does, x0 lands in cpu_off_returned.
 */
__asm__(
    ".pushsection .text.cpu_off_dirty, \"ax\"\n"
    "    .global cpu_off_dirty\n"
    "cpu_off_dirty:\n"
    "    mov     x9, x0\n"
    "    mrs     x1, sctlr_el1\n"
    "    orr     x1, x1, #(1 << 2)\n"
    "    orr     x1, x1, #(1 << 12)\n"
    "    msr     sctlr_el1, x1\n"
    "    mov     x1, #-1\n"
    "    msr     cntv_cval_el0, x1\n"
    "    mov     x1, #3\n" /* ENABLE | IMASK */
    "    msr     cntv_ctl_el0, x1\n"
    "    msr     daifclr, #0xf\n"
    "    msr     spsel, #0\n"
    "    isb\n"
    "    .irp r, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, "
    "29, 30\n"
    "    mov     x\\r, #(0x5a00 + \\r)\n"
    "    .endr\n"
    "    movz    x0, #0x8400, lsl #16\n"
    "    movk    x0, #0x0002\n" /* PSCI_CPU_OFF */
    "    cbnz    x9, 1f\n"
    "    mov     x9, #0x5a09\n"
    "    smc     #0\n"
    "    b       2f\n"
    "1:  mov     x9, #0x5a09\n"
    "    hvc     #0\n"
    "2:  adrp    x1, cpu_off_returned\n"
    "    str     x0, [x1, :lo12:cpu_off_returned]\n"
    "3:  wfi\n"
    "    b       3b\n"
    ".popsection\n");

void cpu_off_dirty(uint64_t use_hvc) __attribute__((noreturn));

static void secondary_main(unsigned cpu, uint64_t context_id)
{
    (void)context_id;
    struct mailbox *m = &mbox[cpu];
    uint32_t last = m->seq;
    alive[cpu] = guest_cpu_entries[cpu].count;
    for (;;) {
        uint32_t seq = m->seq;
        if (seq == last) {
            continue;
        }
        __asm__ volatile("dmb sy" ::: "memory");
        int64_t r = 0;
        switch (m->op) {
        case OP_CPU_ON:
            r = guest_psci(PSCI_CPU_ON, m->arg[0], m->arg[1], m->arg[2]);
            break;
        case OP_AFFINITY_INFO:
            r = guest_psci(PSCI_AFFINITY_INFO, m->arg[0], m->arg[1], 0);
            break;
        case OP_DIRTY_CPU_OFF:
            m->done = seq;
            cpu_off_dirty(guest_psci_uses_hvc());
        default:
            break;
        }
        m->result = r;
        last = seq;
        __asm__ volatile("dmb sy" ::: "memory");
        m->done = seq;
    }
}

static bool wait_at_least(volatile uint64_t *word, uint64_t value)
{
    uint64_t end = guest_ticks() + WAIT_MS * guest_ticks_per_ms();
    while (*word < value) {
        if (guest_ticks() > end) {
            return false;
        }
    }
    return true;
}

/* Run op on secondary `cpu`; false if it does not answer. */
static bool run_on(unsigned cpu, enum op op, uint64_t a0, uint64_t a1, uint64_t a2, int64_t *result)
{
    struct mailbox *m = &mbox[cpu];
    uint32_t seq = m->seq + 1;
    m->op = op;
    m->arg[0] = a0;
    m->arg[1] = a1;
    m->arg[2] = a2;
    __asm__ volatile("dmb sy" ::: "memory");
    m->seq = seq;
    uint64_t end = guest_ticks() + WAIT_MS * guest_ticks_per_ms();
    while (m->done != seq) {
        if (guest_ticks() > end) {
            return false;
        }
    }
    __asm__ volatile("dmb sy" ::: "memory");
    *result = m->result;
    return true;
}

static bool verdict(bool ok, const char *what)
{
    uart_puts(ok ? "PASS " : "FAIL ");
    uart_puts(what);
    ok ? passed++ : failed++;
    return ok;
}

static void end_line(void)
{
    uart_puts("\n");
}

static void put_signed(int64_t v)
{
    uart_puts(v < 0 ? "-" : "");
    uart_put_dec(v < 0 ? (uint64_t)-v : (uint64_t)v);
}

/* A call's result against the one DEN0022 (or libvmm's documented choice) wants. */
static void expect_ret(const char *what, int64_t got, int64_t want)
{
    verdict(got == want, what);
    uart_puts(": returned ");
    put_signed(got);
    if (got != want) {
        uart_puts(", want ");
        put_signed(want);
    }
    end_line();
}

static int64_t cpu_on(uint64_t target, uint64_t entry, uint64_t context_id)
{
    return guest_psci(PSCI_CPU_ON, target, entry, context_id);
}

static int64_t affinity(uint64_t target, uint64_t level)
{
    return guest_psci(PSCI_AFFINITY_INFO, target, level, 0);
}

static uint64_t entry_pc(void)
{
    return (uint64_t)(uintptr_t)guest_secondary_entry;
}

/* Nothing was started by the refused calls: every CPU but 0 off, no entry recorded. */
static void expect_nothing_started(const char *what)
{
    bool quiet = true;
    for (unsigned c = 1; c < 4; c++) {
        quiet = quiet && affinity(c, 0) == PSCI_AFFINITY_OFF && guest_cpu_entries[c].count == 0;
    }
    verdict(quiet, what);
    end_line();
}

static void invalid_targets(void)
{
    static const struct {
        uint64_t mpidr;
        const char *what;
    } bad[] = {
        {4, "CPU_ON of Aff0 4 (no such CPU) -> INVALID_PARAMETERS"},
        {0xff, "CPU_ON of Aff0 255 -> INVALID_PARAMETERS"},
        {0x101, "CPU_ON of Aff1 1 -> INVALID_PARAMETERS"},
        {0x10001, "CPU_ON of Aff2 1 -> INVALID_PARAMETERS"},
        {0x100000001ull, "CPU_ON of Aff3 1 -> INVALID_PARAMETERS"},
        {(1ull << 40) | 1, "CPU_ON of cpu1 with bit 40 set -> INVALID_PARAMETERS"},
        {(1ull << 63) | 1, "CPU_ON of cpu1 with bit 63 set -> INVALID_PARAMETERS"},
        {(1ull << 28) | 1, "CPU_ON of cpu1 with bit 28 set -> INVALID_PARAMETERS"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_ret(bad[i].what, cpu_on(bad[i].mpidr, entry_pc(), 0x1111), PSCI_RET_INVALID_PARAMETERS);
    }
    expect_ret("CPU_ON (SMC32) of Aff0 4 -> INVALID_PARAMETERS", guest_psci(PSCI_CPU_ON_32, 4, entry_pc(), 0x1111),
               PSCI_RET_INVALID_PARAMETERS);
    expect_nothing_started("after the invalid targets every other CPU is still OFF and never entered");
}

static void invalid_addresses(void)
{
    static const struct {
        uint64_t entry;
        const char *what;
    } bad[] = {
        {0, "CPU_ON of cpu2 at 0 (below RAM) -> INVALID_ADDRESS"},
        {RAM_BASE - 4, "CPU_ON of cpu2 at RAM base - 4 -> INVALID_ADDRESS"},
        {RAM_END, "CPU_ON of cpu2 at the last RAM byte + 1 -> INVALID_ADDRESS"},
        {RAM_END - 2, "CPU_ON of cpu2 at the last RAM byte - 1 (an instruction would not fit) -> INVALID_ADDRESS"},
        {0x80000000ull, "CPU_ON of cpu2 at 0x80000000 (above RAM) -> INVALID_ADDRESS"},
        {~3ull, "CPU_ON of cpu2 at 0xff..fc -> INVALID_ADDRESS"},
        {RAM_BASE + 0x80002, "CPU_ON of cpu2 at an unaligned address in RAM -> INVALID_ADDRESS"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_ret(bad[i].what, cpu_on(2, bad[i].entry, 0x2222), PSCI_RET_INVALID_ADDRESS);
    }
    expect_nothing_started("after the invalid entry points every other CPU is still OFF and never entered");
}

/* The record of `cpu`'s entry number `count`: everything reset, x0 = context id. */
static void expect_fresh_entry(unsigned cpu, uint64_t count, uint64_t context_id, const char *how)
{
    if (!verdict(wait_at_least(&guest_cpu_entries[cpu].count, count) && wait_at_least(&alive[cpu], count), how)) {
        uart_puts(": the CPU did not enter (entries ");
        uart_put_dec(guest_cpu_entries[cpu].count);
        uart_puts(")\n");
        return;
    }
    uart_puts(": entered\n");
    volatile struct guest_cpu_entry *e = &guest_cpu_entries[cpu];
    verdict(e->context_id == context_id, "  x0 = context id");
    uart_puts(": ");
    uart_put_hex(e->context_id, 16);
    end_line();
    verdict(e->gpr_or == 0, "  x1..x30 = 0");
    uart_puts(": OR of them ");
    uart_put_hex(e->gpr_or, 16);
    end_line();
    verdict((e->sctlr & (SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_EE)) == 0,
            "  SCTLR_EL1: MMU, data and instruction caches off, little-endian");
    uart_puts(": ");
    uart_put_hex(e->sctlr, 8);
    end_line();
    verdict(e->current_el == CURRENT_EL1 && e->spsel == 1, "  PSTATE EL1h");
    end_line();
    verdict(e->daif == DAIF_ALL, "  PSTATE DAIF all masked");
    uart_puts(": ");
    uart_put_hex(e->daif, 3);
    end_line();
    verdict(e->cntv_ctl == 0, "  CNTV_CTL_EL0 = 0 (virtual timer reset)");
    uart_puts(": ");
    uart_put_hex(e->cntv_ctl, 1);
    end_line();
}

static void affinity_checks(void)
{
    expect_ret("AFFINITY_INFO of cpu0 (the caller) -> ON", affinity(0, 0), PSCI_AFFINITY_ON);
    expect_ret("AFFINITY_INFO of cpu1 (started) -> ON", affinity(1, 0), PSCI_AFFINITY_ON);
    expect_ret("AFFINITY_INFO of cpu2 (started over SMC32) -> ON", affinity(2, 0), PSCI_AFFINITY_ON);
    expect_ret("AFFINITY_INFO of cpu3 (never started) -> OFF", affinity(3, 0), PSCI_AFFINITY_OFF);
    expect_ret("AFFINITY_INFO of Aff0 4 -> INVALID_PARAMETERS", affinity(4, 0), PSCI_RET_INVALID_PARAMETERS);
    expect_ret("AFFINITY_INFO of Aff1 1 -> INVALID_PARAMETERS", affinity(0x100, 0), PSCI_RET_INVALID_PARAMETERS);
    /* src/psci.c: only level 0 (the one DEN0022 requires from PSCI 1.0 on) is answered. */
    expect_ret("AFFINITY_INFO of cpu1 at level 1 -> INVALID_PARAMETERS (libvmm: level 0 only)", affinity(1, 1),
               PSCI_RET_INVALID_PARAMETERS);
}

/* cpu1 starts cpu3, then asks for cpu0 and cpu3. */
static void from_a_secondary(void)
{
    const uint64_t ctx3 = 0x3333000033330003ull;
    int64_t r = 1;
    bool answered = run_on(1, OP_CPU_ON, 3, entry_pc(), ctx3, &r);
    expect_ret("cpu1: CPU_ON of cpu3 -> SUCCESS", answered ? r : 1, PSCI_RET_SUCCESS);
    expect_fresh_entry(3, 1, ctx3, "cpu3 started by cpu1");
    answered = run_on(1, OP_CPU_ON, 0, entry_pc(), 0, &r);
    expect_ret("cpu1: CPU_ON of cpu0 -> ALREADY_ON", answered ? r : 1, PSCI_RET_ALREADY_ON);
    answered = run_on(1, OP_AFFINITY_INFO, 3, 0, 0, &r);
    expect_ret("cpu1: AFFINITY_INFO of cpu3 -> ON", answered ? r : -99, PSCI_AFFINITY_ON);
}

/* cpu2 leaves dirty state behind and powers off; a new CPU_ON must start it clean. */
static void off_and_on_again(void)
{
    const uint64_t ctx_new = 0x2222000022220002ull;
    int64_t r = 1;
    verdict(run_on(2, OP_DIRTY_CPU_OFF, 0, 0, 0, &r), "cpu2 dirties its state and calls CPU_OFF");
    end_line();
    uint64_t end = guest_ticks() + WAIT_MS * guest_ticks_per_ms();
    while ((r = affinity(2, 0)) != PSCI_AFFINITY_OFF && guest_ticks() < end) {
    }
    expect_ret("AFFINITY_INFO of cpu2 after its CPU_OFF -> OFF", r, PSCI_AFFINITY_OFF);
    verdict(cpu_off_returned == 0, "CPU_OFF did not return");
    end_line();
    expect_ret("CPU_ON of cpu2 again, new context id -> SUCCESS", cpu_on(2, entry_pc(), ctx_new), PSCI_RET_SUCCESS);
    expect_fresh_entry(2, 2, ctx_new, "cpu2 started again");
    bool answered = run_on(2, OP_AFFINITY_INFO, 2, 0, 0, &r);
    expect_ret("cpu2, running again, asks AFFINITY_INFO of itself -> ON", answered ? r : -99, PSCI_AFFINITY_ON);
}

void guest_main(uint64_t dtb)
{
    (void)dtb;
    unsigned ncpus = guest_count_cpus();
    uart_puts("psci_cpu_on: ");
    uart_put_dec(ncpus);
    uart_puts(" CPUs\n");
    guest_secondary_main = secondary_main;
    if (verdict(ncpus == 4, "four CPUs (PSCI AFFINITY_INFO knows Aff0 0..3)")) {
        end_line();
        invalid_targets();
        expect_ret("CPU_ON of cpu0 (the caller itself) -> ALREADY_ON", cpu_on(0, entry_pc(), 0), PSCI_RET_ALREADY_ON);
        invalid_addresses();

        const uint64_t ctx1 = 0x0123456789abcdefull;
        expect_ret("CPU_ON of cpu1 -> SUCCESS", cpu_on(1, entry_pc(), ctx1), PSCI_RET_SUCCESS);
        expect_ret("CPU_ON of cpu1 again at once -> ALREADY_ON (never ON_PENDING: libvmm starts it synchronously)",
                   cpu_on(1, entry_pc(), ctx1), PSCI_RET_ALREADY_ON);
        expect_fresh_entry(1, 1, ctx1, "cpu1 started");

        /* SMC32: W1..W3 (DEN0028); upper halves of x1..x3 are junk the call must ignore. */
        const uint64_t junk = 0xdead000000000000ull;
        expect_ret("CPU_ON (SMC32) of cpu2, junk in the upper halves -> SUCCESS",
                   guest_psci(PSCI_CPU_ON_32, junk | 2, junk | entry_pc(), 0xfedcba9876543210ull), PSCI_RET_SUCCESS);
        expect_fresh_entry(2, 1, 0x76543210ull, "cpu2 started over SMC32, x0 = the low 32 bits of the context id");

        affinity_checks();
        from_a_secondary();
        off_and_on_again();
    } else {
        end_line();
    }
    uart_puts("psci_cpu_on: ");
    uart_put_dec(passed);
    uart_puts(" passed, ");
    uart_put_dec(failed);
    uart_puts(" failed\n");
    guest_power_off();
}
