/*
 * sgi_filters: SGI delivery for every target form, from every CPU in turn,
 * on whichever GIC the machine has (gic_version(): the distributor's PIDR2).
 *
 * CPU 0 starts the others with PSCI CPU_ON; each enables its CPU interface,
 * takes SGIs with IRQs and FIQs unmasked and counts them per INTID in its own
 * record (one writer per variable: the MMU is off, see smp.c), and otherwise
 * polls its mailbox for an operation to run (send this SGI, ping). For each
 * check CPU 0 has the sender generate one SGI, waits until every expected
 * target has counted it, pings every CPU twice (so an interrupt wrongly sent
 * elsewhere has been taken by then), and compares every CPU's counts for
 * every SGI: exactly one, with the right INTID, on exactly the right CPUs.
 *
 * GICv2 (IHI 0048B 4.3.15 GICD_SGIR): TargetListFilter 0 with each single
 * target, several, bits naming CPUs that do not exist, the empty list; 1 (all
 * but self); 2 (self); 3 (reserved: nobody). GICC_IAR.CPUID: libvmm documents
 * that it reads 0 (src/vgic/vgic.h: seL4's InjectIRQ cannot set the LR's
 * CPUID), so 0 or the true sender is accepted. The source is exact in
 * GICD_SPENDSGIR/CPENDSGIR (4.3.16, 4.3.17), checked with the SGI disabled.
 *
 * GICv3 (IHI 0069 12.11 ICC_SGI1R_EL1): TargetList bits, several, Aff0 16..31
 * (RS = 1), Aff1/Aff2/Aff3 != 0 (nobody here: every CPU is 0.0.0.n), the
 * empty list, IRM = 1 (all but self). With one security state (GICD_CTLR.DS
 * = 1) src/vgic/vgic_v3_sysreg.c promises: ICC_SGI0R_EL1 raises only SGIs
 * configured as group 0, ICC_SGI1R_EL1 those of either group, ICC_ASGI1R_EL1
 * behaves as ICC_SGI0R_EL1. A group 0 SGI is taken as a (virtual) FIQ.
 *
 * Then SGIs 0..15 from every CPU to all, and a burst of them into one CPU's
 * full list registers while it has IRQs masked. One line per check, "PASS ..." or
 * "FAIL ...", and last "sgi_filters: N passed, M failed"; then SYSTEM_OFF.
 */
#include "gic.h"
#include "guest.h"

#define NUM_SGIS 16
#define WAIT_MS 10000 /* for an expected interrupt or a mailbox answer: a bound on a hang, not a timing check */
#define SETTLE_PINGS 2

/* What one CPU took, written only by that CPU's handler. */
struct cpu_irqs {
    volatile uint32_t irq[NUM_SGIS];
    volatile uint32_t fiq[NUM_SGIS];
    volatile uint32_t other; /* any other INTID, spurious included */
    volatile uint32_t source[NUM_SGIS]; /* GICv2: GICC_IAR.CPUID of the last one */
};

enum op { OP_PING = 1, OP_SGIR, OP_SGI1R, OP_SGI0R, OP_ASGI1R };

/* CPU 0 writes op and arg, then seq; the CPU runs it and writes done = seq. */
struct mailbox {
    volatile uint32_t seq;
    volatile uint32_t op;
    volatile uint64_t arg;
    volatile uint32_t done;
};

static struct cpu_irqs irqs[GUEST_MAX_CPUS];
static struct mailbox mbox[GUEST_MAX_CPUS];
static volatile uint32_t cpu_ready[GUEST_MAX_CPUS]; /* 1 up, 2 its GIC setup failed */
static unsigned ncpus;
static unsigned gic;
static unsigned passed, failed;
static bool stuck; /* a CPU stopped answering: the rest is skipped */
static uint32_t expected_total; /* interrupts the checks so far expected, for the final count */

static void on_interrupt(unsigned cpu, bool fiq)
{
    uint32_t iar = gic_ack(fiq);
    unsigned intid = GIC_IAR_INTID(iar);
    struct cpu_irqs *r = &irqs[cpu];
    if (intid < NUM_SGIS) {
        if (fiq) {
            r->fiq[intid]++;
        } else {
            r->irq[intid]++;
        }
        r->source[intid] = gic == 2 ? GIC_IAR_CPUID(iar) : 0;
    } else {
        r->other++;
    }
    if (intid != GIC_SPURIOUS) {
        gic_eoi(iar, fiq);
    }
}

static void run_op(enum op op, uint64_t arg)
{
    switch (op) {
    case OP_SGIR:
        gic_write(GIC_DIST_BASE + GICD_SGIR, (uint32_t)arg);
        break;
    case OP_SGI1R:
        gic_sgi1r(arg);
        break;
    case OP_SGI0R:
        gic_sgi0r(arg);
        break;
    case OP_ASGI1R:
        gic_asgi1r(arg);
        break;
    default:
        break;
    }
}

static void secondary_main(unsigned cpu, uint64_t context_id)
{
    (void)context_id;
    guest_set_irq_handler(on_interrupt);
    cpu_ready[cpu] = gic_init_cpu() ? 1 : 2;
    __asm__ volatile("msr daifclr, #3" ::: "memory"); /* IRQ and FIQ */
    uint32_t last = 0;
    for (;;) {
        uint32_t seq = mbox[cpu].seq;
        if (seq == last) {
            continue;
        }
        __asm__ volatile("dmb sy" ::: "memory");
        run_op((enum op)mbox[cpu].op, mbox[cpu].arg);
        last = seq;
        __asm__ volatile("dmb sy" ::: "memory");
        mbox[cpu].done = seq;
    }
}

static bool wait_for(volatile uint32_t *word, uint32_t at_least)
{
    uint64_t end = guest_ticks() + WAIT_MS * guest_ticks_per_ms();
    while (*word < at_least) {
        if (guest_ticks() > end) {
            return false;
        }
    }
    return true;
}

/* Run op on `cpu` (CPU 0 itself runs it directly) and wait until it is done. */
static bool run_on(unsigned cpu, enum op op, uint64_t arg)
{
    if (cpu == 0) {
        run_op(op, arg);
        return true;
    }
    struct mailbox *m = &mbox[cpu];
    uint32_t seq = m->seq + 1;
    m->op = op;
    m->arg = arg;
    __asm__ volatile("dmb sy" ::: "memory");
    m->seq = seq;
    if (wait_for(&m->done, seq)) {
        return true;
    }
    uart_puts("FAIL cpu");
    uart_put_dec(cpu);
    uart_puts(" does not answer its mailbox: the remaining checks are skipped\n");
    failed++;
    stuck = true;
    return false;
}

/* Every CPU runs its mailbox loop twice: whatever was sent to it before has been taken by then. */
static void settle(void)
{
    for (unsigned round = 0; round < SETTLE_PINGS && !stuck; round++) {
        for (unsigned c = 1; c < ncpus && !stuck; c++) {
            run_on(c, OP_PING, 0);
        }
    }
}

static void put_mask(uint8_t mask)
{
    uart_put_hex(mask, 2);
}

/* One check: what was sent, by whom; which CPUs must take it as an IRQ / as a FIQ. */
struct sgi_case {
    const char *form;
    unsigned sender;
    enum op op;
    uint64_t value;
    unsigned intid;
    uint8_t irq_cpus;
    uint8_t fiq_cpus;
};

/* The CPUs whose count of `intid` grew by exactly one, those where it grew otherwise, and other growth. */
struct delivery {
    uint8_t irq_once, fiq_once, wrong;
    uint32_t stray; /* growth of other INTIDs or spurious acknowledges */
    bool bad_source;
};

static struct delivery compare(const struct sgi_case *c, const struct cpu_irqs *before)
{
    struct delivery d = {0, 0, 0, 0, false};
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        const struct cpu_irqs *now = &irqs[cpu], *was = &before[cpu];
        for (unsigned i = 0; i < NUM_SGIS; i++) {
            uint32_t di = now->irq[i] - was->irq[i], df = now->fiq[i] - was->fiq[i];
            if (i != c->intid) {
                d.stray += di + df;
                continue;
            }
            d.irq_once |= (uint8_t)(di == 1 ? 1u << cpu : 0);
            d.fiq_once |= (uint8_t)(df == 1 ? 1u << cpu : 0);
            d.wrong |= (uint8_t)(di > 1 || df > 1 || (di == 1 && df == 1) ? 1u << cpu : 0);
            /* GICC_IAR.CPUID: 0 as libvmm documents (no source in an seL4 LR), or the sender. */
            if (di + df != 0 && now->source[i] != 0 && now->source[i] != c->sender) {
                d.bad_source = true;
            }
        }
        d.stray += now->other - was->other;
    }
    return d;
}

static void report(const struct sgi_case *c, const struct delivery *d, bool ok)
{
    uart_puts(ok ? "PASS " : "FAIL ");
    uart_puts(gic == 2 ? "gicv2 " : "gicv3 ");
    uart_puts("cpu");
    uart_put_dec(c->sender);
    uart_puts(" ");
    uart_puts(c->form);
    uart_puts(" value ");
    uart_put_hex(c->value, c->value >> 32 ? 16 : 8);
    uart_puts(" sgi ");
    uart_put_dec(c->intid);
    uart_puts(": expected irq ");
    put_mask(c->irq_cpus);
    uart_puts(" fiq ");
    put_mask(c->fiq_cpus);
    if (!ok) {
        uart_puts(", got irq ");
        put_mask(d->irq_once);
        uart_puts(" fiq ");
        put_mask(d->fiq_once);
        uart_puts(" more than once ");
        put_mask(d->wrong);
        uart_puts(" other interrupts ");
        uart_put_dec(d->stray);
        uart_puts(d->bad_source ? " wrong GICC_IAR.CPUID" : "");
    }
    uart_puts("\n");
}

/* No libc: a field-by-field copy (a struct assignment would call memcpy). */
static void snapshot(struct cpu_irqs *to)
{
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        for (unsigned i = 0; i < NUM_SGIS; i++) {
            to[cpu].irq[i] = irqs[cpu].irq[i];
            to[cpu].fiq[i] = irqs[cpu].fiq[i];
            to[cpu].source[i] = irqs[cpu].source[i];
        }
        to[cpu].other = irqs[cpu].other;
    }
}

static uint32_t count_cpus(uint8_t mask)
{
    uint32_t n = 0;
    for (; mask != 0; mask &= (uint8_t)(mask - 1)) {
        n++;
    }
    return n;
}

static void run_case(const struct sgi_case *c)
{
    if (stuck) {
        return;
    }
    static struct cpu_irqs before[GUEST_MAX_CPUS];
    snapshot(before);
    if (!run_on(c->sender, c->op, c->value)) {
        return;
    }
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        if (c->irq_cpus & (1u << cpu)) {
            wait_for(&irqs[cpu].irq[c->intid], before[cpu].irq[c->intid] + 1);
        }
        if (c->fiq_cpus & (1u << cpu)) {
            wait_for(&irqs[cpu].fiq[c->intid], before[cpu].fiq[c->intid] + 1);
        }
    }
    settle();
    struct delivery d = compare(c, before);
    bool ok = d.irq_once == c->irq_cpus && d.fiq_once == c->fiq_cpus && d.wrong == 0 && d.stray == 0 && !d.bad_source;
    expected_total += count_cpus(c->irq_cpus) + count_cpus(c->fiq_cpus);
    ok ? passed++ : failed++;
    report(c, &d, ok);
}

static void verdict_count(bool ok, const char *what, const char *count_what, uint32_t count)
{
    uart_puts(ok ? "PASS " : "FAIL ");
    uart_puts(what);
    if (count_what != (const char *)0) {
        uart_puts(count_what);
        uart_put_dec(count);
    }
    uart_puts("\n");
    ok ? passed++ : failed++;
}

static void verdict(bool ok, const char *what)
{
    verdict_count(ok, what, (const char *)0, 0);
}

static uint8_t all_cpus(void)
{
    return (uint8_t)((1u << ncpus) - 1);
}

static uint8_t bit(unsigned cpu)
{
    return (uint8_t)(1u << (cpu % ncpus));
}

/* --- GICv2 ------------------------------------------------------------------------------------------------------- */

static void v2_send(unsigned sender, const char *form, unsigned filter, uint8_t list, unsigned intid, uint8_t expect)
{
    uint32_t value = GICD_SGIR_FILTER(filter) | GICD_SGIR_TARGETS(list) | intid;
    struct sgi_case c = {form, sender, OP_SGIR, value, intid, expect, 0};
    run_case(&c);
}

static void v2_forms(unsigned s)
{
    unsigned k = s * 5;
    for (unsigned t = 0; t < ncpus; t++) {
        v2_send(s, "filter 0 one target", 0, bit(t), (k + t) % NUM_SGIS, bit(t));
    }
    v2_send(s, "filter 0 all targets", 0, all_cpus(), (k + 4) % NUM_SGIS, all_cpus());
    v2_send(s, "filter 0 self and one", 0, bit(s) | bit(s + 2), (k + 5) % NUM_SGIS, bit(s) | bit(s + 2));
    v2_send(s, "filter 0 two others", 0, bit(s + 1) | bit(s + 3), (k + 6) % NUM_SGIS, bit(s + 1) | bit(s + 3));
    v2_send(s, "filter 0 one plus CPUs that do not exist", 0, (uint8_t)(~all_cpus() | bit(s + 1)), (k + 7) % NUM_SGIS,
            bit(s + 1));
    v2_send(s, "filter 0 empty list", 0, 0, (k + 8) % NUM_SGIS, 0);
    v2_send(s, "filter 1 all but self", 1, bit(s), (k + 9) % NUM_SGIS, (uint8_t)(all_cpus() & ~bit(s)));
    v2_send(s, "filter 2 self only", 2, 0xff, (k + 10) % NUM_SGIS, bit(s));
    v2_send(s, "filter 3 reserved", 3, all_cpus(), (k + 11) % NUM_SGIS, 0);
}

/*
 * GICD_SPENDSGIR/CPENDSGIR (4.3.16, 4.3.17) keep an SGI pending once per
 * source: with SGI 9 disabled on CPU 0, CPUs 1..n-1 each send it there; CPU
 * 0's byte 9 shows their bits; clearing one leaves the others; enabling the
 * SGI delivers each remaining source once.
 */
static void v2_pending_sources(void)
{
    const unsigned sgi = 9;
    uintptr_t pend = GIC_DIST_BASE + GICD_SPENDSGIR + sgi;
    uint32_t before = irqs[0].irq[sgi];
    uint8_t sources = (uint8_t)(all_cpus() & ~1u);
    gic_write(GIC_DIST_BASE + GICD_ICENABLER, 1u << sgi);
    for (unsigned s = 1; s < ncpus; s++) {
        run_on(s, OP_SGIR, GICD_SGIR_FILTER(0) | GICD_SGIR_TARGETS(1) | sgi);
    }
    settle();
    uint8_t seen = gic_read8(pend);
    bool pending = (gic_read(GIC_DIST_BASE + GICD_ISPENDR) >> sgi) & 1;
    verdict(seen == sources && pending && irqs[0].irq[sgi] == before,
            "gicv2 GICD_SPENDSGIR of a disabled SGI 9 on cpu0 holds one bit per sending CPU (1..n-1)");
    gic_write8(GIC_DIST_BASE + GICD_CPENDSGIR + sgi, 0x2);
    sources &= (uint8_t)~0x2u;
    seen = gic_read8(pend);
    verdict(seen == sources, "gicv2 GICD_CPENDSGIR clears source cpu1 only");
    gic_write(GIC_DIST_BASE + GICD_ISENABLER, 1u << sgi);
    uint32_t want = before + count_cpus(sources);
    wait_for(&irqs[0].irq[sgi], want);
    settle();
    expected_total += count_cpus(sources);
    verdict(irqs[0].irq[sgi] == want && gic_read8(pend) == 0,
            "gicv2 enabling SGI 9 delivers each pending source once, then none is left");
}

/* --- GICv3 ------------------------------------------------------------------------------------------------------- */

static void v3_send(unsigned sender, const char *form, enum op op, uint64_t fields, unsigned intid, uint8_t irq,
                    uint8_t fiq)
{
    struct sgi_case c = {form, sender, op, fields | ICC_SGIR_INTID(intid), intid, irq, fiq};
    run_case(&c);
}

/* IGROUPR0 bit of SGI `sgi` in every CPU's SGI_base frame (IHI 0069, GICR_IGROUPR0): 1 = group 1. */
static void v3_set_group(unsigned sgi, bool group1)
{
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        uintptr_t reg = gic_redist(cpu) + GIC_REDIST_SGI_FRAME + GICD_IGROUPR;
        uint32_t v = gic_read(reg);
        gic_write(reg, group1 ? v | 1u << sgi : v & ~(1u << sgi));
    }
}

static void v3_forms(unsigned s)
{
    unsigned k = s * 7;
    uint64_t all = ICC_SGIR_TARGETS(all_cpus());
    for (unsigned t = 0; t < ncpus; t++) {
        v3_send(s, "ICC_SGI1R one TargetList bit", OP_SGI1R, ICC_SGIR_TARGETS(bit(t)), (k + t) % NUM_SGIS, bit(t), 0);
    }
    v3_send(s, "ICC_SGI1R all TargetList bits", OP_SGI1R, all, (k + 4) % NUM_SGIS, all_cpus(), 0);
    v3_send(s, "ICC_SGI1R self and one", OP_SGI1R, ICC_SGIR_TARGETS(bit(s) | bit(s + 2)), (k + 5) % NUM_SGIS,
            bit(s) | bit(s + 2), 0);
    v3_send(s, "ICC_SGI1R two others", OP_SGI1R, ICC_SGIR_TARGETS(bit(s + 1) | bit(s + 3)), (k + 6) % NUM_SGIS,
            bit(s + 1) | bit(s + 3), 0);
    v3_send(s, "ICC_SGI1R one plus Aff0 that name no CPU", OP_SGI1R,
            ICC_SGIR_TARGETS(0xffffu & ~(uint32_t)all_cpus()) | ICC_SGIR_TARGETS(bit(s + 1)), (k + 7) % NUM_SGIS,
            bit(s + 1), 0);
    v3_send(s, "ICC_SGI1R empty TargetList", OP_SGI1R, 0, (k + 8) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_SGI1R Aff1 1", OP_SGI1R, all | ICC_SGIR_AFF1(1), (k + 9) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_SGI1R Aff2 1", OP_SGI1R, all | ICC_SGIR_AFF2(1), (k + 10) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_SGI1R Aff3 1", OP_SGI1R, all | ICC_SGIR_AFF3(1), (k + 11) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_SGI1R RS 1", OP_SGI1R, all | ICC_SGIR_RS(1), (k + 12) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_SGI1R IRM 1 all but self", OP_SGI1R, ICC_SGIR_IRM | ICC_SGIR_TARGETS(bit(s)), (k + 13) % NUM_SGIS,
            (uint8_t)(all_cpus() & ~bit(s)), 0);
    v3_send(s, "ICC_SGI0R of a group 1 SGI", OP_SGI0R, all, (k + 14) % NUM_SGIS, 0, 0);
    v3_send(s, "ICC_ASGI1R of a group 1 SGI", OP_ASGI1R, all, (k + 15) % NUM_SGIS, 0, 0);

    unsigned g0 = (k + 3) % NUM_SGIS;
    v3_set_group(g0, false);
    v3_send(s, "ICC_SGI0R of a group 0 SGI", OP_SGI0R, all, g0, 0, all_cpus());
    v3_send(s, "ICC_ASGI1R IRM 1 of a group 0 SGI", OP_ASGI1R, ICC_SGIR_IRM, g0, 0, (uint8_t)(all_cpus() & ~bit(s)));
    v3_send(s, "ICC_SGI1R of a group 0 SGI", OP_SGI1R, ICC_SGIR_TARGETS(bit(s + 1)), g0, 0, bit(s + 1));
    v3_set_group(g0, true);
}

/*
 * A burst into full list registers: with IRQs masked on cpu0, CPUs 1..n-1
 * each send it SGIs 0..15; nothing is taken until it unmasks, then each is
 * taken from the LRs and the queue behind them. GICv2 keeps one pending state
 * per source (4.3.16): each SGI exactly n-1 times. GICv3 SGIs have no source
 * and coalesce while pending, but libvmm cannot see whether an SGI in a list
 * register is still pending, so one raised again meanwhile is delivered once
 * more after the EOI (src/vgic/vgic.h): each SGI once or twice.
 */
static void burst_to_cpu0(void)
{
    static struct cpu_irqs before[GUEST_MAX_CPUS];
    uint32_t per_sgi = gic == 2 ? ncpus - 1 : 1;
    snapshot(before);
    __asm__ volatile("msr daifset, #3" ::: "memory");
    for (unsigned s = 1; s < ncpus && !stuck; s++) {
        for (unsigned i = 0; i < NUM_SGIS && !stuck; i++) {
            if (gic == 2) {
                run_on(s, OP_SGIR, GICD_SGIR_FILTER(0) | GICD_SGIR_TARGETS(1) | i);
            } else {
                run_on(s, OP_SGI1R, ICC_SGIR_TARGETS(1) | ICC_SGIR_INTID(i));
            }
        }
    }
    settle();
    bool none = true;
    for (unsigned i = 0; i < NUM_SGIS; i++) {
        none = none && irqs[0].irq[i] == before[0].irq[i];
    }
    verdict(none, "burst: cpu0 takes none of the SGIs CPUs 1..n-1 send it while its IRQs are masked");
    __asm__ volatile("msr daifclr, #3" ::: "memory");
    for (unsigned i = 0; i < NUM_SGIS; i++) {
        wait_for(&irqs[0].irq[i], before[0].irq[i] + per_sgi);
    }
    settle();
    bool ok = !stuck;
    uint32_t taken = 0;
    for (unsigned i = 0; i < NUM_SGIS; i++) {
        uint32_t got = irqs[0].irq[i] - before[0].irq[i];
        ok = ok && (gic == 2 ? got == per_sgi : got >= 1 && got <= 2);
        taken += got;
    }
    expected_total += taken;
    for (unsigned cpu = 1; cpu < ncpus; cpu++) {
        for (unsigned i = 0; i < NUM_SGIS; i++) {
            ok = ok && irqs[cpu].irq[i] == before[cpu].irq[i];
        }
    }
    verdict_count(ok,
                  gic == 2 ? "burst: unmasked, cpu0 takes every SGI once per sending CPU, nobody else any"
                           : "burst: unmasked, cpu0 takes every SGI once or twice (LR approximation), nobody else any",
                  ": taken ", taken);
}

/* --- the run ----------------------------------------------------------------------------------------------------- */

static void every_sgi_from(unsigned s)
{
    for (unsigned i = 0; i < NUM_SGIS; i++) {
        if (gic == 2) {
            v2_send(s, "every SGI: filter 0 all", 0, all_cpus(), i, all_cpus());
        } else {
            v3_send(s, "every SGI: ICC_SGI1R all", OP_SGI1R, ICC_SGIR_TARGETS(all_cpus()), i, all_cpus(), 0);
        }
    }
}

static bool start_cpus(void)
{
    guest_secondary_main = secondary_main;
    for (unsigned c = 1; c < ncpus; c++) {
        int64_t r = guest_psci(PSCI_CPU_ON, c, (uintptr_t)guest_secondary_entry, c);
        if (r != PSCI_RET_SUCCESS) {
            uart_puts("FAIL CPU_ON of cpu");
            uart_put_dec(c);
            uart_puts(" returned ");
            uart_put_hex((uint64_t)r, 16);
            uart_puts("\n");
            return false;
        }
        if (!wait_for(&cpu_ready[c], 1) || cpu_ready[c] != 1) {
            uart_puts("FAIL cpu");
            uart_put_dec(c);
            uart_puts(" did not come up with its GIC interface\n");
            return false;
        }
    }
    return true;
}

static uint32_t total_taken(void)
{
    uint32_t n = 0;
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        for (unsigned i = 0; i < NUM_SGIS; i++) {
            n += irqs[cpu].irq[i] + irqs[cpu].fiq[i];
        }
        n += irqs[cpu].other;
    }
    return n;
}

void guest_main(uint64_t dtb)
{
    (void)dtb;
    gic = gic_version();
    ncpus = guest_count_cpus();
    uart_puts("sgi_filters: GICv");
    uart_put_dec(gic);
    uart_puts(", ");
    uart_put_dec(ncpus);
    uart_puts(" CPUs\n");
    guest_set_irq_handler(on_interrupt);
    bool up = ncpus >= 2 && gic_init_dist() && gic_init_cpu();
    __asm__ volatile("msr daifclr, #3" ::: "memory");
    up = up && start_cpus();
    verdict(up, "boot: every CPU on, its GIC CPU interface enabled");
    if (up) {
        for (unsigned s = 0; s < ncpus && !stuck; s++) {
            gic == 2 ? v2_forms(s) : v3_forms(s);
        }
        for (unsigned s = 0; s < ncpus && !stuck; s++) {
            every_sgi_from(s);
        }
        if (!stuck) {
            burst_to_cpu0();
        }
        if (gic == 2 && !stuck) {
            v2_pending_sources();
        }
        settle();
        verdict(!stuck && total_taken() == expected_total, "totals: every CPU took exactly the interrupts expected");
    }
    uart_puts("sgi_filters: ");
    uart_put_dec(passed);
    uart_puts(" passed, ");
    uart_put_dec(failed);
    uart_puts(" failed\n");
    guest_power_off();
}
