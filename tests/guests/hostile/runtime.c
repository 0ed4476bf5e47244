/*
 * Runtime of the hostile guest: its own exception vectors (so expected
 * aborts can be caught and skipped), the PRNG, time, reporting, SMCCC calls
 * with all seven arguments, and the seed from /chosen/bootargs.
 */
#include "hostile.h"

struct trap_record trap;
struct irq_record irqs;
struct hostile_counts counts;

static unsigned failures;
static uint64_t rng_state;

/* ---- PRNG ---- */

void rnd_seed(uint64_t seed)
{
    rng_state = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint32_t rnd_below(uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)((rnd() >> 32) % n);
}

bool rnd_chance(uint32_t one_in)
{
    return rnd_below(one_in) == 0;
}

/* ---- time ---- */

uint64_t now_ticks(void)
{
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

uint64_t ms_to_ticks(uint64_t ms)
{
    uint64_t f;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
    return f / 1000 * ms;
}

/* ---- output and verdicts ---- */

void put_str(const char *s)
{
    uart_puts(s);
}

void put_dec(uint64_t n)
{
    uart_put_dec(n);
}

void put_hex(uint64_t n)
{
    uart_put_hex(n, n >> 32 ? 16 : 8);
}

void say(const char *s)
{
    uart_puts("HOSTILE: ");
    uart_puts(s);
    uart_puts("\n");
}

void say_num(const char *s, uint64_t n)
{
    uart_puts("HOSTILE: ");
    uart_puts(s);
    uart_put_dec(n);
    uart_puts("\n");
}

void fail(const char *what)
{
    failures++;
    uart_puts("HOSTILE: FAIL ");
    uart_puts(what);
    uart_puts("\n");
}

void fail_hex(const char *what, uint64_t got, uint64_t want)
{
    failures++;
    uart_puts("HOSTILE: FAIL ");
    uart_puts(what);
    uart_puts(": got ");
    put_hex(got);
    uart_puts(", want ");
    put_hex(want);
    uart_puts("\n");
}

unsigned fail_count(void)
{
    return failures;
}

bool check(bool ok, const char *what)
{
    if (!ok) {
        fail(what);
    }
    return ok;
}

bool check_eq(uint64_t got, uint64_t want, const char *what)
{
    if (got != want) {
        fail_hex(what, got, want);
    }
    return got == want;
}

/* ---- SMCCC ---- */

#define SMCCC_CALL(insn)                                                                                               \
    register uint64_t x0 __asm__("x0") = fid;                                                                          \
    register uint64_t x1 __asm__("x1") = a[0];                                                                         \
    register uint64_t x2 __asm__("x2") = a[1];                                                                         \
    register uint64_t x3 __asm__("x3") = a[2];                                                                         \
    register uint64_t x4 __asm__("x4") = a[3];                                                                         \
    register uint64_t x5 __asm__("x5") = a[4];                                                                         \
    register uint64_t x6 __asm__("x6") = a[5];                                                                         \
    register uint64_t x7 __asm__("x7") = a[6];                                                                         \
    __asm__ volatile(insn                                                                                              \
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)                  \
                     :                                                                                                 \
                     : "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");                  \
    out[0] = x0;                                                                                                       \
    out[1] = x1;                                                                                                       \
    out[2] = x2;                                                                                                       \
    out[3] = x3;                                                                                                       \
    out[4] = x4;                                                                                                       \
    out[5] = x5;                                                                                                       \
    out[6] = x6;                                                                                                       \
    out[7] = x7

void call_smccc(bool smc, uint64_t fid, const uint64_t a[7], uint64_t out[8])
{
    if (smc) {
        SMCCC_CALL("smc #0");
    } else {
        SMCCC_CALL("hvc #0");
    }
}

uint64_t call_smc(uint64_t fid, const uint64_t a[7])
{
    uint64_t out[8];
    call_smccc(true, fid, a, out);
    return out[0];
}

uint64_t call_hvc(uint64_t fid, const uint64_t a[7])
{
    uint64_t out[8];
    call_smccc(false, fid, a, out);
    return out[0];
}

void power_off(void)
{
    static const uint64_t none[7];
    (void)call_smc(0x84000008u, none);
    uart_puts("HOSTILE: FAIL SYSTEM_OFF returned\n");
    guest_halt();
}

/* ---- exceptions ---- */

#define GICC_IAR 0x00c
#define GICC_EOIR 0x010
#define SPURIOUS_FIRST 1020u

void trap_arm(void)
{
    trap.hits = 0;
    trap.esr = 0;
    trap.far = 0;
    __asm__ volatile("" ::: "memory");
    trap.armed = 1;
    __asm__ volatile("" ::: "memory");
}

uint32_t trap_disarm(void)
{
    __asm__ volatile("" ::: "memory");
    trap.armed = 0;
    __asm__ volatile("" ::: "memory");
    return trap.hits;
}

bool trap_is_external_abort(bool instruction)
{
    uint64_t esr = trap.esr;
    return ESR_EC(esr) == (instruction ? EC_IABT_CUR : EC_DABT_CUR) && ESR_FSC(esr) == FSC_SYNC_EXTERNAL;
}

static uint64_t read_esr(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(v));
    return v;
}

static uint64_t read_far(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, far_el1" : "=r"(v));
    return v;
}

/* IHI 0048B 4.4.4/4.4.5 (GICV_* here): acknowledge and EOI until nothing is pending. */
static void irq_drain(void)
{
    for (unsigned n = 0; n < 64; n++) {
        uint32_t iar = rd32(GICC_BASE + GICC_IAR);
        uint32_t intid = iar & 0x3ff;
        if (intid >= SPURIOUS_FIRST) {
            return;
        }
        irqs.count++;
        irqs.last_iar = iar;
        if (intid < 64) {
            irqs.seen_mask |= 1ull << intid;
        }
        wr32(GICC_BASE + GICC_EOIR, iar);
    }
}

/* Vector entries (Arm ARM D1.10.2): 0-3 current EL SP0, 4-7 current EL SPx, 8-15 lower ELs. */
#define VEC_SYNC_SPX 4
#define VEC_IRQ_SPX 5

static void unexpected(struct exc_frame *f, uint64_t vector, uint64_t esr)
{
    failures++;
    uart_puts("HOSTILE: FAIL unexpected exception: vector ");
    uart_put_dec(vector);
    uart_puts(" ESR ");
    put_hex(esr);
    uart_puts(" ELR ");
    put_hex(f->elr);
    uart_puts(" FAR ");
    put_hex(read_far());
    uart_puts("\n");
    uart_puts("HOSTILE: FAIL run abandoned\n");
    power_off();
}

void hostile_exception(struct exc_frame *f, uint64_t vector);
void hostile_exception(struct exc_frame *f, uint64_t vector)
{
    if (vector == VEC_IRQ_SPX) {
        irq_drain();
        return;
    }
    uint64_t esr = read_esr();
    if (vector != VEC_SYNC_SPX || !trap.armed) {
        unexpected(f, vector, esr);
    }
    trap.hits++;
    trap.esr = esr;
    trap.far = read_far();
    if (ESR_EC(esr) == EC_IABT_CUR) {
        f->elr = f->x[30]; /* entered bad code with BLR: return to the caller */
    } else {
        f->elr += 4;
    }
}

/*
 * The vector table: each entry saves x0/x1 and jumps to a common path that
 * saves the rest as a struct exc_frame (guest.h) and calls
 * hostile_exception(frame, entry index), which may change the frame.
 */
__asm__(".pushsection .text.hostile_vectors, \"ax\"\n"
        "    .balign 0x800\n"
        "    .global hostile_vectors\n"
        "hostile_vectors:\n"
        "    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
        "    .balign 0x80\n"
        "    sub     sp, sp, #(34 * 8)\n"
        "    stp     x0, x1, [sp, #0]\n"
        "    mov     x0, #\\i\n"
        "    b       hostile_exc_common\n"
        "    .endr\n"
        "hostile_exc_common:\n"
        "    stp     x2, x3, [sp, #16]\n"
        "    stp     x4, x5, [sp, #32]\n"
        "    stp     x6, x7, [sp, #48]\n"
        "    stp     x8, x9, [sp, #64]\n"
        "    stp     x10, x11, [sp, #80]\n"
        "    stp     x12, x13, [sp, #96]\n"
        "    stp     x14, x15, [sp, #112]\n"
        "    stp     x16, x17, [sp, #128]\n"
        "    stp     x18, x19, [sp, #144]\n"
        "    stp     x20, x21, [sp, #160]\n"
        "    stp     x22, x23, [sp, #176]\n"
        "    stp     x24, x25, [sp, #192]\n"
        "    stp     x26, x27, [sp, #208]\n"
        "    stp     x28, x29, [sp, #224]\n"
        "    mrs     x2, elr_el1\n"
        "    stp     x30, x2, [sp, #240]\n"
        "    mrs     x2, spsr_el1\n"
        "    str     x2, [sp, #256]\n"
        "    mov     x1, x0\n"
        "    mov     x0, sp\n"
        "    bl      hostile_exception\n"
        "    ldr     x2, [sp, #256]\n"
        "    msr     spsr_el1, x2\n"
        "    ldp     x30, x2, [sp, #240]\n"
        "    msr     elr_el1, x2\n"
        "    ldp     x28, x29, [sp, #224]\n"
        "    ldp     x26, x27, [sp, #208]\n"
        "    ldp     x24, x25, [sp, #192]\n"
        "    ldp     x22, x23, [sp, #176]\n"
        "    ldp     x20, x21, [sp, #160]\n"
        "    ldp     x18, x19, [sp, #144]\n"
        "    ldp     x16, x17, [sp, #128]\n"
        "    ldp     x14, x15, [sp, #112]\n"
        "    ldp     x12, x13, [sp, #96]\n"
        "    ldp     x10, x11, [sp, #80]\n"
        "    ldp     x8, x9, [sp, #64]\n"
        "    ldp     x6, x7, [sp, #48]\n"
        "    ldp     x4, x5, [sp, #32]\n"
        "    ldp     x2, x3, [sp, #16]\n"
        "    ldp     x0, x1, [sp, #0]\n"
        "    add     sp, sp, #(34 * 8)\n"
        "    eret\n"
        ".popsection\n");

/* ---- the seed from the device tree (DTB spec v0.4 chapter 5: big-endian blocks) ---- */

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
#define FDT_MAX_WALK 100000u

static uint32_t be32_at(uint64_t p)
{
    const volatile uint8_t *b = (const volatile uint8_t *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool str_eq_at(uint64_t p, const char *s)
{
    const volatile char *c = (const volatile char *)p;
    for (; *s; s++, c++) {
        if (*c != *s) {
            return false;
        }
    }
    return *c == 0;
}

static uint64_t str_len_at(uint64_t p, uint64_t limit)
{
    uint64_t n = 0;
    while (n < limit && *(const volatile char *)(p + n) != 0) {
        n++;
    }
    return n;
}

/* Parse "hostile.seed=" followed by 0x-hex or decimal in [p, p + len). */
static bool parse_seed(uint64_t p, uint64_t len, uint64_t *seed)
{
    static const char key[] = "hostile.seed=";
    for (uint64_t i = 0; i + sizeof(key) - 1 <= len; i++) {
        uint64_t k = 0;
        while (k < sizeof(key) - 1 && *(const volatile char *)(p + i + k) == key[k]) {
            k++;
        }
        if (k != sizeof(key) - 1) {
            continue;
        }
        uint64_t q = p + i + k, end = p + len, v = 0;
        unsigned base = 10, digits = 0;
        if (q + 1 < end && *(const volatile char *)q == '0' && (*(const volatile char *)(q + 1) | 0x20) == 'x') {
            base = 16;
            q += 2;
        }
        for (; q < end; q++, digits++) {
            char c = *(const volatile char *)q;
            unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                         : (c | 0x20) >= 'a'  ? (unsigned)((c | 0x20) - 'a' + 10)
                                              : 99;
            if (d >= base) {
                break;
            }
            v = v * base + d;
        }
        *seed = v;
        return digits > 0;
    }
    return false;
}

bool dtb_seed(uint64_t dtb, uint64_t *seed)
{
    if (dtb < RAM_BASE || dtb >= RAM_END - 64 || (dtb & 7) != 0 || be32_at(dtb) != FDT_MAGIC) {
        return false;
    }
    uint32_t total = be32_at(dtb + 4);
    uint64_t structs = dtb + be32_at(dtb + 8);
    uint64_t strings = dtb + be32_at(dtb + 12);
    if (total > 0x200000 || dtb + total > RAM_END) {
        return false;
    }
    uint64_t p = structs, end = dtb + total;
    unsigned depth = 0;
    bool in_chosen = false;
    for (unsigned steps = 0; p + 4 <= end && steps < FDT_MAX_WALK; steps++) {
        uint32_t token = be32_at(p);
        p += 4;
        if (token == FDT_BEGIN_NODE) {
            uint64_t n = str_len_at(p, end - p);
            in_chosen = depth == 1 && str_eq_at(p, "chosen");
            depth++;
            p += (n + 4) & ~3ull;
        } else if (token == FDT_END_NODE) {
            depth = depth > 0 ? depth - 1 : 0;
            in_chosen = false;
        } else if (token == FDT_PROP) {
            uint32_t len = be32_at(p), nameoff = be32_at(p + 4);
            uint64_t value = p + 8;
            if (in_chosen && str_eq_at(strings + nameoff, "bootargs")) {
                return parse_seed(value, len, seed);
            }
            p = value + ((len + 3) & ~3u);
        } else if (token != FDT_NOP) {
            return false; /* FDT_END or garbage */
        }
    }
    return false;
}

/* ---- single-access probes ---- */

static enum probe probe_result(void)
{
    if (trap_disarm() == 0) {
        return PROBE_DONE;
    }
    if (trap_is_external_abort(false)) {
        counts.aborts++;
        return PROBE_ABORT;
    }
    if (ESR_EC(trap.esr) == EC_DABT_CUR) {
        counts.local_faults++;
        return PROBE_LOCAL;
    }
    return PROBE_OTHER;
}

enum probe probe_read(uint64_t addr, unsigned width, uint64_t *value)
{
    uint64_t v = 0x5a5a5a5a5a5a5a5aull;
    trap_arm();
    switch (width) {
    case 1:
        __asm__ volatile("ldrb %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
        break;
    case 2:
        __asm__ volatile("ldrh %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
        break;
    case 4:
        __asm__ volatile("ldr %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
        break;
    default:
        __asm__ volatile("ldr %0, [%1]" : "+r"(v) : "r"(addr) : "memory");
        break;
    }
    enum probe r = probe_result();
    *value = v;
    return r;
}

enum probe probe_write(uint64_t addr, unsigned width, uint64_t value)
{
    trap_arm();
    switch (width) {
    case 1:
        __asm__ volatile("strb %w0, [%1]" ::"r"(value), "r"(addr) : "memory");
        break;
    case 2:
        __asm__ volatile("strh %w0, [%1]" ::"r"(value), "r"(addr) : "memory");
        break;
    case 4:
        __asm__ volatile("str %w0, [%1]" ::"r"(value), "r"(addr) : "memory");
        break;
    default:
        __asm__ volatile("str %0, [%1]" ::"r"(value), "r"(addr) : "memory");
        break;
    }
    return probe_result();
}

/* The compiler may call these for struct initialisation and copies (freestanding: no libc). */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

void *memset(void *dst, int c, size_t n)
{
    volatile uint8_t *d = dst; /* volatile: keeps GCC from turning the loop back into a memset call */
    for (size_t i = 0; i < n; i++) {
        d[i] = (uint8_t)c;
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    volatile uint8_t *d = dst;
    const volatile uint8_t *s = src;
    for (size_t i = 0; i < n; i++) {
        d[i] = s[i];
    }
    return dst;
}
