/*
 * Phase 4, addresses the guest has no business touching (DESIGN 5, 6;
 * attack class 17): loads and stores of every width to random IPAs that are
 * neither RAM nor an emulated or passed-through device, instruction fetches
 * from them and from device pages, and accesses to emulated devices that
 * the data-abort syndrome cannot describe (ISV = 0: LDP/STP, writeback,
 * exclusives, SIMD&FP; Arm ARM D17.2.40). Each must come back to us as a
 * synchronous external abort, with no register or device state changed,
 * and we carry on after it.
 */
#include "hostile.h"
#include "vio.h"

#define POISON 0x5a5a5a5a5a5a5a5aull
#define UNMAPPED_ACCESSES 6000u

struct hole {
    uint64_t start, end;
};

/*
 * What the guest's IPA space holds besides RAM (examples/linux/system.c,
 * vmm.c): with a GICv2, a 4 KiB distributor and the GICV pages at GICC;
 * with a GICv3 (64 KiB distributor, redistributors after it) the whole GIC
 * area up to the UART is left alone.
 */
static const struct hole holes_v2[] = {
    {0x00000000ull, GICD_BASE},           {GICD_BASE + GICD_SIZE, GICC_BASE},    {GICC_BASE + GICC_SIZE, UART_PAGE},
    {UART_PAGE + 0x1000, VIRTIO_BASE(0)}, {VIRTIO_BASE(VIRTIO_SLOTS), RAM_BASE}, {RAM_END, 0x100000000ull},
    {0x100000000ull, 1ull << 40},
};
static const struct hole holes_v3[] = {
    {0x00000000ull, GICD_BASE}, {UART_PAGE + 0x1000, VIRTIO_BASE(0)}, {VIRTIO_BASE(VIRTIO_SLOTS), RAM_BASE},
    {RAM_END, 0x100000000ull},  {0x100000000ull, 1ull << 40},
};

static const struct hole *holes = holes_v2;
static unsigned num_holes = sizeof(holes_v2) / sizeof(holes_v2[0]);
static uint64_t gicd_size = GICD_SIZE;
static uint64_t pa_limit;

static uint64_t random_hole_address(unsigned width)
{
    const struct hole *h = &holes[rnd_below(num_holes)];
    uint64_t end = h->end < pa_limit ? h->end : pa_limit;
    if (end <= h->start + 8) {
        return RAM_END;
    }
    uint64_t span = end - h->start;
    uint64_t a;
    switch (rnd_below(4)) {
    case 0:
        a = h->start; /* first byte after something that exists */
        break;
    case 1:
        a = end - width; /* last bytes before something that exists */
        break;
    default:
        a = h->start + rnd() % span;
        break;
    }
    return a & ~(uint64_t)(width - 1);
}

static void unmapped_accesses(unsigned n)
{
    static const unsigned widths[] = {1, 2, 4, 8};
    unsigned bad = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned w = widths[rnd_below(4)];
        uint64_t a = random_hole_address(w), v = POISON;
        enum probe r = rnd_chance(2) ? probe_read(a, w, &v) : probe_write(a, w, rnd());
        if (r != PROBE_ABORT || v != POISON) {
            if (bad++ < 8) {
                put_str("HOSTILE: FAIL access at IPA ");
                put_hex(a);
                put_str(" (width ");
                put_dec(w);
                put_str("): ");
                put_str(r == PROBE_DONE ? "no abort" : r == PROBE_ABORT ? "register changed" : "not an external abort");
                put_str(", ESR ");
                put_hex(trap.esr);
                put_str("\n");
            }
            fail("an access outside RAM and every device was not answered by an external abort");
        }
    }
}

/* ---- ISV = 0 forms ---- */

enum form {
    F_LDP_W,
    F_LDP_X,
    F_STP_W,
    F_STP_X,
    F_LDR_PRE,
    F_LDR_POST,
    F_STR_PRE,
    F_STR_POST,
    F_LDXR,
    F_LDAXR,
    F_STXR,
    F_LDR_Q,
    F_LD1,
    F_STR_S,
    F_COUNT,
};

static const char *const form_names[F_COUNT] = {
    "ldp w",          "ldp x", "stp w", "stp x", "ldr pre-index", "ldr post-index", "str pre-index",
    "str post-index", "ldxr",  "ldaxr", "stxr",  "ldr q",         "ld1 {v.4s}",     "str s",
};

/*
 * One ISV=0 instruction at `a`. Returns true if the abort came, every
 * destination kept its value and the base register did not move.
 */
static bool isv0(enum form f, uint64_t a, uint64_t store)
{
    bool pre = f == F_LDR_PRE || f == F_STR_PRE;
    uint64_t base = pre ? a - 4 : a, base0 = base, d1 = POISON, d2 = POISON;
    trap_arm();
    switch (f) {
    case F_LDP_W:
        __asm__ volatile("ldp %w0, %w1, [%2]" : "+r"(d1), "+r"(d2) : "r"(base) : "memory");
        break;
    case F_LDP_X:
        __asm__ volatile("ldp %0, %1, [%2]" : "+r"(d1), "+r"(d2) : "r"(base) : "memory");
        break;
    case F_STP_W:
        __asm__ volatile("stp %w0, %w0, [%1]" ::"r"(store), "r"(base) : "memory");
        break;
    case F_STP_X:
        __asm__ volatile("stp %0, %0, [%1]" ::"r"(store), "r"(base) : "memory");
        break;
    case F_LDR_PRE:
        __asm__ volatile("ldr %w0, [%1, #4]!" : "+r"(d1), "+r"(base)::"memory");
        break;
    case F_LDR_POST:
        __asm__ volatile("ldr %w0, [%1], #4" : "+r"(d1), "+r"(base)::"memory");
        break;
    case F_STR_PRE:
        __asm__ volatile("str %w1, [%0, #4]!" : "+r"(base) : "r"(store) : "memory");
        break;
    case F_STR_POST:
        __asm__ volatile("str %w1, [%0], #4" : "+r"(base) : "r"(store) : "memory");
        break;
    case F_LDXR:
        __asm__ volatile("ldxr %w0, [%1]" : "+r"(d1) : "r"(base) : "memory");
        break;
    case F_LDAXR:
        __asm__ volatile("ldaxr %w0, [%1]" : "+r"(d1) : "r"(base) : "memory");
        break;
    case F_STXR:
        __asm__ volatile("stxr %w0, %w1, [%2]" : "+r"(d1) : "r"(store), "r"(base) : "memory");
        break;
    case F_LDR_Q:
        __asm__ volatile("mov v0.d[0], %0\n\tldr q0, [%1]\n\tmov %0, v0.d[0]" : "+r"(d1) : "r"(base) : "v0", "memory");
        break;
    case F_LD1:
        __asm__ volatile("mov v1.d[0], %0\n\tld1 {v1.4s}, [%1]\n\tmov %0, v1.d[0]"
                         : "+r"(d1)
                         : "r"(base)
                         : "v1", "memory");
        break;
    default:
        __asm__ volatile("fmov s2, %w0\n\tstr s2, [%1]" ::"r"(store), "r"(base) : "v2", "memory");
        break;
    }
    uint32_t hits = trap_disarm();
    bool aborted = hits == 1 && trap_is_external_abort(false);
    if (aborted) {
        counts.aborts++;
    }
    if (f == F_STXR && hits == 0 && d1 == 1) {
        return true; /* no exclusive monitor armed: the store failed without accessing memory */
    }
    return aborted && d1 == POISON && d2 == POISON && base == base0;
}

static void isv0_on(const char *what, uint64_t a)
{
    for (unsigned f = 0; f < F_COUNT; f++) {
        if (!isv0((enum form)f, a, ST_ACK)) {
            put_str("HOSTILE: FAIL ");
            put_str(form_names[f]);
            put_str(" at ");
            put_str(what);
            put_str(" ");
            put_hex(a);
            put_str(": ESR ");
            put_hex(trap.esr);
            put_str("\n");
            fail("an access the syndrome cannot describe was not an external abort, or it had an effect");
        }
    }
}

/* Syndrome-describable forms must still be emulated: LDAR/STLR are single-register (ISV = 1, AR = 1). */
static void acquire_release(const struct vdev *d)
{
    uint64_t v = 0;
    __asm__ volatile("ldar %w0, [%1]" : "=r"(v) : "r"(d->base + VIO_MAGIC) : "memory");
    check_eq(v, 0x74726976u, "LDAR of a virtio MagicValue");
    __asm__ volatile("stlr %w0, [%1]" ::"r"(0u), "r"(d->base + VIO_STATUS) : "memory");
}

static void isv0_accesses(void)
{
    uint64_t cpacr;
    __asm__ volatile("mrs %0, cpacr_el1" : "=r"(cpacr));
    __asm__ volatile("msr cpacr_el1, %0\n\tisb" ::"r"(cpacr | (3ull << 20))); /* FPEN: SIMD&FP at EL1 */
    for (unsigned i = 0; i < 8; i++) {
        isv0_on("GICD", GICD_BASE + (rnd_below((uint32_t)gicd_size / 16) * 16));
    }
    isv0_on("GICD_CTLR", GICD_BASE);
    isv0_on("GICD_SGIR", GICD_BASE + 0xf00);
    for (unsigned s = 0; s < VIRTIO_SLOTS; s++) {
        const struct vdev *d = &vdevs[s];
        vset(d, VIO_STATUS, 0);
        isv0_on("virtio Status", d->base + VIO_STATUS);
        isv0_on("virtio QueueNotify", d->base + VIO_QUEUE_NOTIFY);
        isv0_on("virtio config", d->base + VIO_CONFIG);
        check_eq(vreg(d, VIO_STATUS), 0, "an ISV=0 store changed a virtio Status");
        acquire_release(d);
    }
    isv0_on("an unmapped IPA", 0x0a000600);
    isv0_on("an IPA beyond 4 GiB", 0x1000000000ull);
    __asm__ volatile("msr cpacr_el1, %0\n\tisb" ::"r"(cpacr));
}

/* ---- describable accesses that are easy to decode wrongly (DESIGN 5: SSE, SF, SRT = XZR, widths) ---- */

/* GICD_IPRIORITYR10 (INTIDs 40-43, SPIs): word and byte accessible on GICv2 and GICv3 alike. */
#define PRIO_SPI40 (GICD_BASE + 0x428)

static void decode_checks(void)
{
    uint64_t v;
    wr32(PRIO_SPI40, 0xa0a0a0a0u);
    __asm__ volatile("ldrsb %0, [%1]" : "=r"(v) : "r"(PRIO_SPI40 + 1) : "memory");
    check_eq(v, 0xffffffffffffffa0ull, "LDRSB (64-bit) of a distributor byte");
    v = ~0ull;
    __asm__ volatile("ldrsb %w0, [%1]" : "+r"(v) : "r"(PRIO_SPI40 + 1) : "memory");
    check_eq(v, 0xffffffa0ull, "LDRSB (32-bit) of a distributor byte");
    __asm__ volatile("ldrsw %0, [%1]" : "=r"(v) : "r"(PRIO_SPI40) : "memory");
    check_eq(v, 0xffffffffa0a0a0a0ull, "LDRSW of GICD_IPRIORITYR10");
    v = ~0ull;
    __asm__ volatile("ldr %w0, [%1]" : "+r"(v) : "r"(PRIO_SPI40) : "memory");
    check_eq(v, 0xa0a0a0a0ull, "LDR (32-bit) of GICD_IPRIORITYR10 into a register holding ~0");
    __asm__ volatile("str wzr, [%0]" ::"r"(PRIO_SPI40) : "memory");
    check_eq(*(volatile uint8_t *)(PRIO_SPI40 + 1), 0, "STR WZR to GICD_IPRIORITYR10");
    __asm__ volatile("ldr wzr, [%0]" ::"r"(VIRTIO_BASE(0)) : "memory");
    __asm__ volatile("ldr xzr, [%0]" ::"r"(GICD_BASE) : "memory");
}

/* Accesses that start inside a region and end outside it (QEMU passes misaligned ones through). */
static void straddles(void)
{
    static const struct {
        uint64_t addr;
        unsigned width;
        const char *what;
    } cases[] = {
        {VIRTIO_BASE(0) + 0x1fe, 4, "virtio-blk's last bytes into virtio-net"},
        {VIRTIO_BASE(VIRTIO_SLOTS - 1) + 0x1fc, 8, "the last virtio device into nothing"},
        {0, 4, "the distributor's end"},
        {RAM_END - 4, 8, "RAM's end"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t addr = cases[i].addr != 0 ? cases[i].addr : GICD_BASE + gicd_size - 2;
        for (unsigned write = 0; write < 2; write++) {
            uint64_t v = POISON;
            enum probe r = write ? probe_write(addr, cases[i].width, 0) : probe_read(addr, cases[i].width, &v);
            if (r == PROBE_LOCAL) {
                put_str("HOSTILE: note: a straddling access faulted at EL1 first: ");
                put_str(cases[i].what);
                put_str("\n");
            } else if (r != PROBE_ABORT || v != POISON) {
                put_str("HOSTILE: FAIL access straddling ");
                put_str(cases[i].what);
                put_str(write ? " (write): ESR " : " (read): ESR ");
                put_hex(trap.esr);
                put_str("\n");
                fail("an access running past the end of a region was not an external abort");
            }
        }
    }
}

/* ---- instruction fetches ---- */

static void fetch_from(const char *what, uint64_t target)
{
    trap_arm();
    __asm__ volatile("blr %0" ::"r"(target)
                     : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
                       "x15", "x16", "x17", "x30", "memory");
    bool ok = trap_disarm() == 1 && trap_is_external_abort(true);
    if (ok) {
        counts.aborts++;
    } else {
        put_str("HOSTILE: FAIL instruction fetch from ");
        put_str(what);
        put_str(": ESR ");
        put_hex(trap.esr);
        put_str("\n");
        fail("an instruction fetch outside RAM was not an external abort");
    }
}

static void fetches(void)
{
    fetch_from("IPA 0", 0);
    fetch_from("the distributor", GICD_BASE);
    fetch_from("virtio-blk", VIRTIO_BASE(0));
    fetch_from("the UART page (mapped, not executable)", UART_PAGE);
    fetch_from("RAM's end", RAM_END);
    fetch_from("IPA 2^39", 1ull << 39);
}

/* DC on an emulated device: nothing to maintain, the instruction is skipped (CM = 1). */
static void cache_maintenance(void)
{
    trap_arm();
    __asm__ volatile("dc civac, %0" ::"r"(GICD_BASE) : "memory");
    __asm__ volatile("dc cvac, %0" ::"r"(VIRTIO_BASE(1)) : "memory");
    __asm__ volatile("dc civac, %0" ::"r"(0x0a000600ul) : "memory");
    uint32_t hits = trap_disarm();
    if (hits != 0) {
        put_str("HOSTILE: note: DC to a device or hole raised ");
        put_dec(hits);
        put_str(" exceptions (ESR ");
        put_hex(trap.esr);
        put_str(")\n");
    }
}

void phase_regions(void)
{
    uint64_t mmfr0;
    __asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(mmfr0));
    static const unsigned pa_bits[] = {32, 36, 40, 42, 44, 48, 52};
    unsigned range = (unsigned)(mmfr0 & 0xf);
    pa_limit = 1ull << pa_bits[range < 7 ? range : 0];
    uint64_t pidr2 = 0;
    if (((rd32(GICD_BASE + 0xfe8) >> 4) & 0xf) != 2 && probe_read(GICD_BASE + 0xffe8, 4, &pidr2) == PROBE_DONE &&
        ((pidr2 >> 4) & 0xf) >= 3) { /* GICD_PIDR2.ArchRev: not a GICv2, a GICv3 or v4 */
        holes = holes_v3;
        num_holes = sizeof(holes_v3) / sizeof(holes_v3[0]);
        gicd_size = 0x10000;
    }
    unsigned aborts0 = counts.aborts;
    unmapped_accesses(UNMAPPED_ACCESSES);
    isv0_accesses();
    decode_checks();
    straddles();
    fetches();
    cache_maintenance();
    say_num("phase 4 regions done, external aborts taken: ", counts.aborts - aborts0);
}
