/*
 * hyp backend selftest VMM (no guest): checks the shq headers hyp filled at
 * boot, then runs the block and network tests (backends_blk.c,
 * backends_net.c) and echoes the console, all through the shared queues and
 * channels of the system description below. Powers off 0 only when every
 * check passed. BACKENDS_VARIANT 1: QEMU's devices are legacy, so no
 * backend may be ready; 2: a backend region the PD does not map (hyp must
 * refuse the description).
 */
#include <string.h>
#include <microkit.h>
#include <hyp/machine.h>
#include <hyp/system.h>
#include "backends.h"

#ifndef BACKENDS_VARIANT
#define BACKENDS_VARIANT 0
#endif

#define REGION_BLK_A 0x800000u
#define REGION_2M 0x200000u

uintptr_t blk_a_vaddr, blk_b_vaddr, net_vaddr, console_vaddr, blk_missing_vaddr, net_missing_vaddr;
uint64_t region_size_blk_a = REGION_BLK_A, region_size_net = REGION_2M;
unsigned failures;

static struct cring con_tx, con_rx;
static unsigned con_received, con_echoed;
static uint8_t con_backlog[CONSOLE_BYTES];
static bool con_started, finished;

void check(bool ok, const char *what)
{
    if (!ok) {
        microkit_dbg_puts("backends: FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts("\n");
        failures++;
    }
}

void put_dec(uint64_t v)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        microkit_dbg_putc(buf[--n]);
    }
}

void check_eq(uint64_t got, uint64_t want, const char *what)
{
    if (got != want) {
        microkit_dbg_puts("backends: FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts(": got ");
        put_dec(got);
        microkit_dbg_puts(" want ");
        put_dec(want);
        microkit_dbg_puts("\n");
        failures++;
    }
}

uint64_t ticks(void)
{
    uint64_t t;
    __asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(t)::"memory");
    return t;
}

uint64_t tick_hz(void)
{
    uint64_t f;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(f));
    return f;
}

/* "backends: figure <what> <MiB/s with one decimal> MiB/s (<MiB> MiB in <us> us)" */
void print_rate(const char *what, uint64_t bytes, uint64_t dt)
{
    uint64_t tenths = dt ? bytes * 10 / (1 << 20) * tick_hz() / dt : 0;
    microkit_dbg_puts("backends: figure ");
    microkit_dbg_puts(what);
    microkit_dbg_puts(" ");
    put_dec(tenths / 10);
    microkit_dbg_puts(".");
    put_dec(tenths % 10);
    microkit_dbg_puts(" MiB/s (");
    put_dec(bytes >> 20);
    microkit_dbg_puts(" MiB in ");
    put_dec(dt * 1000000 / tick_hz());
    microkit_dbg_puts(" us)\n");
}

bool cring_put(struct cring *c, const void *entry)
{
    if (cring_room(c) == 0) {
        return false;
    }
    memcpy(cring_slot(c, c->r->tail), entry, c->size);
    __atomic_store_n(&c->r->tail, c->r->tail + 1, __ATOMIC_RELEASE);
    return true;
}

bool cring_get(struct cring *c, void *entry)
{
    uint32_t head = c->r->head;
    if (__atomic_load_n(&c->r->tail, __ATOMIC_ACQUIRE) == head) {
        return false;
    }
    memcpy(entry, cring_slot(c, head), c->size);
    __atomic_store_n(&c->r->head, head + 1, __ATOMIC_RELEASE);
    return true;
}

static const struct shq_header *hdr_at(uintptr_t vaddr)
{
    return (const struct shq_header *)vaddr;
}

static void check_absent(uintptr_t vaddr, uint32_t kind, const char *what)
{
    const struct shq_header *h = hdr_at(vaddr);
    check_eq(__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE), 0, what);
    check_eq(h->magic, SHQ_MAGIC, "magic of an absent backend");
    check_eq(h->kind, kind, "kind of an absent backend");
}

/* Console: check the host's bytes against its generator and echo them back. */
static uint8_t console_expected(unsigned i)
{
    return (uint8_t)('a' + (i * 7) % 26);
}

static void console_pump(void)
{
    struct shq_console_byte b;
    while (cring_get(&con_rx, &b)) {
        if (con_received < CONSOLE_BYTES) {
            if (b.c != console_expected(con_received)) {
                check_eq(b.c, console_expected(con_received), "console byte from the host");
            }
            con_backlog[con_received] = b.c;
        }
        con_received++;
    }
    bool sent = false;
    while (con_echoed < con_received && con_echoed < CONSOLE_BYTES) {
        struct shq_console_byte out = {con_backlog[con_echoed]};
        if (!cring_put(&con_tx, &out)) {
            break;
        }
        con_echoed++;
        sent = true;
    }
    if (sent) {
        microkit_notify(CH_CONSOLE);
    }
}

static void maybe_finish(void)
{
    if (finished || !blk_test_done() || !net_test_done() || con_echoed < CONSOLE_BYTES) {
        return;
    }
    finished = true;
    check_eq(con_received, CONSOLE_BYTES, "console bytes received");
    microkit_dbg_puts(failures ? "hyp-selftest-backends: FAIL\n" : "hyp-selftest-backends: PASS\n");
    hyp_machine_poweroff(failures ? 1 : 0);
}

void init(void)
{
    check_absent(blk_missing_vaddr, SHQ_KIND_BLK, "a disk QEMU was not given is not ready");
    check_absent(net_missing_vaddr, SHQ_KIND_NET, "a second NIC QEMU was not given is not ready");
#if BACKENDS_VARIANT == 1
    check_absent(blk_a_vaddr, SHQ_KIND_BLK, "legacy disk a refused");
    check_absent(blk_b_vaddr, SHQ_KIND_BLK, "legacy disk b refused");
    check_absent(net_vaddr, SHQ_KIND_NET, "legacy NIC refused");
    check_absent(console_vaddr, SHQ_KIND_CONSOLE, "legacy console refused");
    microkit_dbg_puts(failures ? "hyp-selftest-backends: FAIL\n" : "hyp-selftest-backends: PASS (legacy refused)\n");
    hyp_machine_poweroff(failures ? 1 : 0);
#else
    const struct shq_header *h = hdr_at(console_vaddr);
    check(__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) == 1 && h->magic == SHQ_MAGIC && h->kind == SHQ_KIND_CONSOLE,
          "console backend ready");
    cring_init(&con_tx, (void *)console_vaddr, 0, sizeof(struct shq_console_byte));
    cring_init(&con_rx, (void *)console_vaddr, 1, sizeof(struct shq_console_byte));
    check_eq(con_tx.cap, shq_ring_max_capacity(1), "console ring capacity");
    con_started = true;
    blk_test_start();
    net_test_start();
#endif
}

void notified(microkit_channel ch)
{
    switch (ch) {
    case CH_BLK_A:
    case CH_BLK_B:
        blk_test_notified(ch);
        break;
    case CH_NET:
        net_test_notified();
        break;
    case CH_CONSOLE:
        if (con_started) {
            console_pump();
        }
        break;
    default:
        check_eq(ch, 0, "notification on a channel of a missing backend");
        break;
    }
    maybe_finish();
}

/* The system description. */
static const struct hyp_memory_region regions[] = {
    {.name = "blk_a", .size = REGION_BLK_A, .source = HYP_MR_ALLOCATE},
    {.name = "blk_b", .size = REGION_2M, .source = HYP_MR_ALLOCATE},
    {.name = "net", .size = REGION_2M, .source = HYP_MR_ALLOCATE},
    {.name = "console", .size = REGION_2M, .source = HYP_MR_ALLOCATE},
    {.name = "blk_missing", .size = REGION_2M, .source = HYP_MR_ALLOCATE},
    {.name = "net_missing", .size = REGION_2M, .source = HYP_MR_ALLOCATE},
};

#define MAP(i, va, var)                                                                                                \
    {                                                                                                                  \
        .mr = &regions[i], .vaddr = (va), .perms = HYP_PERM_RW, .cached = true, .setvar_vaddr = &(var)                 \
    }
static const struct hyp_vmm_map vmm_maps[] = {
    MAP(0, 0x3000000000ull, blk_a_vaddr),       MAP(1, 0x3040000000ull, blk_b_vaddr),
    MAP(2, 0x3080000000ull, net_vaddr),         MAP(3, 0x30c0000000ull, console_vaddr),
    MAP(4, 0x3100000000ull, blk_missing_vaddr),
#if BACKENDS_VARIANT != 2
    MAP(5, 0x3140000000ull, net_missing_vaddr),
#endif
};

/* Listed in an order unlike QEMU's slots: disks are bound by serial, the NIC by MAC. */
static const struct hyp_backend backends[] = {
    {.kind = SHQ_KIND_BLK, .match = DISK_A_SERIAL, .mr = &regions[0], .pd = 0, .id = CH_BLK_A},
    {.kind = SHQ_KIND_CONSOLE, .match = NULL, .mr = &regions[3], .pd = 0, .id = CH_CONSOLE},
    {.kind = SHQ_KIND_NET, .match = NULL, .mr = &regions[5], .pd = 0, .id = CH_NET_MISSING},
    {.kind = SHQ_KIND_BLK, .match = "no-such-disk", .mr = &regions[4], .pd = 0, .id = CH_BLK_MISSING},
    {.kind = SHQ_KIND_NET, .match = NET_MAC, .mr = &regions[2], .pd = 0, .id = CH_NET},
    {.kind = SHQ_KIND_BLK, .match = DISK_B_SERIAL, .mr = &regions[1], .pd = 0, .id = CH_BLK_B},
};

static const struct hyp_pd pds[] = {{
    .name = "backends-vmm",
    .init = init,
    .notified = notified,
    .maps = vmm_maps,
    .num_maps = HYP_ARRAY_SIZE(vmm_maps),
}};

const struct hyp_system hyp_system = {
    .regions = regions,
    .num_regions = HYP_ARRAY_SIZE(regions),
    .pds = pds,
    .num_pds = 1,
    .backends = backends,
    .num_backends = HYP_ARRAY_SIZE(backends),
};
