/*
 * Phase 1, the register file (virtio 1.2 4.2.2, 4.2.3; attack classes 1,
 * 14, 16): odd widths, QueueSel/QueueNum out of range, ring addresses
 * outside RAM, wrapping, unaligned or just past its end, queue changes
 * after QueueReady, Status out of order, features not offered, then a
 * random walk over the whole window.
 */
#include "vio.h"

#define CASE() counts.virtio_cases++

static uint32_t status(const struct vdev *d)
{
    return vreg(d, VIO_STATUS);
}

static void expect_status(const struct vdev *d, uint32_t want, const char *what)
{
    uint32_t got = status(d);
    if (d->present && got != want) {
        put_str("HOSTILE: ");
        put_str(d->name);
        put_str(": Status ");
        put_hex(got);
        put_str(", want ");
        put_hex(want);
        put_str("\n");
        fail(what);
    }
}

static uint32_t queue_ready(const struct vdev *d, unsigned q)
{
    vset(d, VIO_QUEUE_SEL, q);
    return vreg(d, VIO_QUEUE_READY);
}

/* Class 14: the common registers are 32-bit only; config space 8/16/32-bit aligned (4.2.2.2). */
static void widths(struct vdev *d)
{
    uint64_t v;
    vio_reset(d);
    for (unsigned w = 1; w <= 8; w *= 2) {
        CASE();
        if (w != 4) {
            probe_write(d->base + VIO_STATUS, w, ST_ACK);
            expect_status(d, 0, "a narrow or 64-bit Status write changed Status");
            probe_read(d->base + VIO_MAGIC, w, &v);
            probe_write(d->base + VIO_QUEUE_NOTIFY, w, d->work_queue);
        }
    }
    /* Misaligned: with the MMU off these are Device accesses, which our own EL1 may fault first. */
    static const uint32_t odd[] = {VIO_MAGIC + 1, VIO_STATUS + 1, VIO_STATUS + 2, VIO_QUEUE_SEL + 3};
    for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        CASE();
        probe_read(d->base + odd[i], 4, &v);
        probe_write(d->base + odd[i], 4, 0x01010101u);
        probe_write(d->base + (odd[i] & ~1u) + 1, 2, 0x0101u);
    }
    expect_status(d, 0, "a misaligned write changed Status");

    /* Config space: every aligned width reads the same bytes; 64-bit, misaligned and past-the-end are refused. */
    uint8_t bytes[16];
    for (unsigned i = 0; i < 16; i++) {
        bytes[i] = *(volatile uint8_t *)(d->base + VIO_CONFIG + i);
    }
    for (unsigned off = 0; off < 16; off += 4) {
        CASE();
        uint32_t word = vreg(d, VIO_CONFIG + off);
        uint32_t lo = *(volatile uint16_t *)(d->base + VIO_CONFIG + off);
        uint32_t want = bytes[off] | bytes[off + 1] << 8 | bytes[off + 2] << 16 | (uint32_t)bytes[off + 3] << 24;
        check(word == want && lo == (want & 0xffff), "config space reads differ between access widths");
        probe_write(d->base + VIO_CONFIG + off, 4, rnd());
        probe_write(d->base + VIO_CONFIG + off + 1, 1, rnd());
        probe_write(d->base + VIO_CONFIG + off + 2, 2, rnd());
        check(vreg(d, VIO_CONFIG + off) == want, "a write to read-only config space changed it");
    }
    probe_read(d->base + VIO_CONFIG, 8, &v);
    probe_write(d->base + VIO_CONFIG + 8, 8, ~0ull);
    probe_read(d->base + VIO_CONFIG + 1, 2, &v);
    probe_read(d->base + VIO_CONFIG + 2, 4, &v);
    probe_read(d->base + VIO_WINDOW - 4, 4, &v);
    probe_write(d->base + VIO_WINDOW - 1, 1, 0xff);
}

/* Class 16: QueueSel beyond the queues, including values that alias a queue if truncated. */
static void queue_sel_out_of_range(struct vdev *d)
{
    const uint32_t sels[] = {d->num_queues, d->num_queues + 1u, 0x10000u,   0x10000u | d->work_queue,
                             0x80000000u,   0xfffffffeu,        0xffffffffu};
    uint64_t mem = vio_ring_mem(d, 0);
    vio_reset(d);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);
    for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
        CASE();
        vset(d, VIO_QUEUE_SEL, sels[i]);
        check_eq(vreg(d, VIO_QUEUE_NUM_MAX), 0, "QueueNumMax of a queue that does not exist");
        check_eq(vreg(d, VIO_QUEUE_READY), 0, "QueueReady of a queue that does not exist");
        vset(d, VIO_QUEUE_NUM, 8);
        vset(d, VIO_QUEUE_DESC_LO, (uint32_t)mem);
        vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)mem + 0x2000);
        vset(d, VIO_QUEUE_DEVICE_LO, (uint32_t)mem + 0x3000);
        vset(d, VIO_QUEUE_READY, 1);
        vset(d, VIO_QUEUE_NOTIFY, sels[i]);
        check_eq(vreg(d, VIO_QUEUE_READY), 0, "QueueReady = 1 for a queue that does not exist");
        for (unsigned q = 0; q < d->num_queues; q++) {
            check_eq(queue_ready(d, q), 0, "QueueReady for an out-of-range QueueSel enabled a real queue");
        }
    }
    vio_reset(d);
}

/* Program queue q's rings (num entries); true if QueueReady = 1 then reads 1. */
static bool try_rings(struct vdev *d, unsigned q, uint32_t num, uint64_t desc, uint64_t drv, uint64_t dev)
{
    vset(d, VIO_QUEUE_SEL, q);
    vset(d, VIO_QUEUE_NUM, num);
    vset(d, VIO_QUEUE_DESC_LO, (uint32_t)desc);
    vset(d, VIO_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
    vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)drv);
    vset(d, VIO_QUEUE_DRIVER_HI, (uint32_t)(drv >> 32));
    vset(d, VIO_QUEUE_DEVICE_LO, (uint32_t)dev);
    vset(d, VIO_QUEUE_DEVICE_HI, (uint32_t)(dev >> 32));
    vset(d, VIO_QUEUE_READY, 1);
    bool ready = vreg(d, VIO_QUEUE_READY) == 1;
    vset(d, VIO_QUEUE_READY, 0); /* allowed before DRIVER_OK */
    if (vreg(d, VIO_QUEUE_READY) != 0) {
        fail("QueueReady = 0 before DRIVER_OK refused");
    }
    return ready;
}

/* Class 16 (QueueNum) and classes 3/4 for ring placement (2.7: alignment 16, 2, 4; sizes 16n, 6+2n, 6+8n). */
static void queue_config(struct vdev *d, unsigned q)
{
    const uint64_t mem = vio_ring_mem(d, q), drv = mem + 0x2000, dev = mem + 0x3000;
    const uint32_t max = d->queue_max[q];
    vio_reset(d);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);

    /* QueueNum 2, then bad values; a descriptor table of exactly two entries ending at RAM's end must be accepted. */
    const uint32_t bad_nums[] = {0, 3, 6, max - 1, max + 1, max * 2, 0x10000, 0x10000 | max, 0x80000000u, 0xffffffffu};
    vset(d, VIO_QUEUE_SEL, q);
    vset(d, VIO_QUEUE_NUM, 2);
    for (unsigned i = 0; i < sizeof(bad_nums) / sizeof(bad_nums[0]); i++) {
        CASE();
        vset(d, VIO_QUEUE_NUM, bad_nums[i]);
    }
    CASE();
    vset(d, VIO_QUEUE_DESC_LO, (uint32_t)(RAM_END - 32));
    vset(d, VIO_QUEUE_DESC_HI, 0);
    vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)drv);
    vset(d, VIO_QUEUE_DEVICE_LO, (uint32_t)dev);
    vset(d, VIO_QUEUE_READY, 1);
    check(vreg(d, VIO_QUEUE_READY) == 1,
          "QueueNum 2 with a table ending exactly at RAM's end: not ready (a bad QueueNum was taken?)");
    vset(d, VIO_QUEUE_READY, 0);

    struct bad_ring {
        uint64_t desc, drv, dev;
        const char *what;
    } const bad[] = {
        {mem + 8, drv, dev, "descriptor table not 16-byte aligned"},
        {0, drv, dev, "descriptor table at 0"},
        {RAM_BASE - 16 * 8, drv, dev, "descriptor table ending where RAM starts"},
        {RAM_BASE - 16, drv, dev, "descriptor table straddling RAM's start"},
        {RAM_END - 16 * 8 + 16, drv, dev, "descriptor table 16 bytes past RAM's end"},
        {RAM_END, drv, dev, "descriptor table at RAM's end"},
        {mem | (1ull << 32), drv, dev, "descriptor table above 4 GiB (high word set)"},
        {0xfffffffffffffff0ull, drv, dev, "descriptor table wrapping the address space"},
        {GICD_BASE, drv, dev, "descriptor table on the distributor"},
        {d->base, drv, dev, "descriptor table on the device itself"},
        {mem, drv + 1, dev, "driver area odd"},
        {mem, RAM_END - 22 + 2, dev, "driver area 2 bytes past RAM's end"},
        {mem, 0xfffffffffffffffeull, dev, "driver area wrapping"},
        {mem, drv, dev + 2, "device area not 4-byte aligned"},
        {mem, drv, RAM_END - 68, "device area 2 bytes past RAM's end"},
        {mem, drv, 0xfffffffffffffffcull, "device area wrapping"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CASE();
        if (try_rings(d, q, 8, bad[i].desc, bad[i].drv, bad[i].dev)) {
            put_str("HOSTILE: FAIL queue enabled with ");
            fail(bad[i].what);
        }
    }
    CASE();
    check(try_rings(d, q, 8, RAM_END - 16 * 8, RAM_END - 22, RAM_END - 72),
          "rings ending exactly at (or just before) RAM's end refused");
    check(try_rings(d, q, max, mem, drv, dev), "valid rings refused");

    /* Class 1 before DRIVER_OK: a ready queue's configuration is fixed until QueueReady = 0. */
    CASE();
    try_rings(d, q, 8, mem, drv, dev);
    vset(d, VIO_QUEUE_READY, 1);
    vset(d, VIO_QUEUE_NUM, 3);
    vset(d, VIO_QUEUE_DESC_LO, 0);
    vset(d, VIO_QUEUE_DRIVER_HI, 0xffffffffu);
    vset(d, VIO_QUEUE_DEVICE_LO, 2);
    vset(d, VIO_QUEUE_READY, 0);
    vset(d, VIO_QUEUE_READY, 1);
    check(vreg(d, VIO_QUEUE_READY) == 1, "queue changes while ready were applied (class 1)");
    vio_reset(d);
}

static void features_then(struct vdev *d, uint32_t sel, uint32_t value, uint64_t f, bool accept, const char *what)
{
    CASE();
    vio_reset(d);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);
    vset(d, VIO_DRV_FEATURES_SEL, sel);
    vset(d, VIO_DRV_FEATURES, value);
    vset(d, VIO_DRV_FEATURES_SEL, 0);
    vset(d, VIO_DRV_FEATURES, (uint32_t)f);
    vset(d, VIO_DRV_FEATURES_SEL, 1);
    vset(d, VIO_DRV_FEATURES, (uint32_t)(f >> 32));
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    expect_status(d, accept ? ST_ACK | ST_DRIVER | ST_FEATURES_OK : ST_ACK | ST_DRIVER, what);
}

/* 2.1.2 / 3.1.1: Status only gains bits, in order; FEATURES_OK only for offered features incl. VERSION_1. */
static void status_order(struct vdev *d)
{
    const uint32_t refused_from_reset[] = {ST_DRIVER,
                                           ST_ACK | ST_FEATURES_OK,
                                           ST_ACK | ST_DRIVER | ST_DRIVER_OK,
                                           0x10,
                                           0x20,
                                           0x30,
                                           ST_NEEDS_RESET,
                                           0xffffffffu,
                                           ST_DRIVER_OK,
                                           ST_FEATURES_OK | ST_DRIVER | ST_ACK | 0x100};
    vio_reset(d);
    for (unsigned i = 0; i < sizeof(refused_from_reset) / sizeof(refused_from_reset[0]); i++) {
        CASE();
        vset(d, VIO_STATUS, refused_from_reset[i]);
        expect_status(d, 0, "an out-of-order Status write was accepted");
    }
    CASE();
    vset(d, VIO_STATUS, ST_ACK);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);
    vset(d, VIO_STATUS, ST_ACK);
    expect_status(d, ST_ACK | ST_DRIVER, "Status cleared a bit without a reset");
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
    expect_status(d, ST_ACK | ST_DRIVER, "DRIVER_OK without FEATURES_OK accepted");

    uint32_t lo = (uint32_t)d->offered;
    features_then(d, 0, 0, ~0ull, false, "FEATURES_OK with every feature bit set accepted");
    features_then(d, 0, 0, lo, false, "FEATURES_OK without VERSION_1 accepted");
    features_then(d, 2, 1, F_VERSION_1, false, "FEATURES_OK after a DriverFeaturesSel 2 bit accepted");
    features_then(d, 0xffffffffu, 0xffffffffu, F_VERSION_1, false,
                  "FEATURES_OK after a DriverFeaturesSel 0xffffffff bit accepted");
    features_then(d, 0, 0, d->offered | F_VERSION_1, true, "FEATURES_OK for exactly the offered features refused");

    /* DriverFeatures before DRIVER and after FEATURES_OK are ignored (3.1.1 steps 4-5). */
    CASE();
    vio_reset(d);
    vset(d, VIO_STATUS, ST_ACK);
    vset(d, VIO_DRV_FEATURES_SEL, 0);
    vset(d, VIO_DRV_FEATURES, 0xffffffffu);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);
    vset(d, VIO_DRV_FEATURES_SEL, 1);
    vset(d, VIO_DRV_FEATURES, 1);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    expect_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK, "DriverFeatures written before DRIVER were taken");
    vset(d, VIO_DRV_FEATURES_SEL, 0);
    vset(d, VIO_DRV_FEATURES, 0xffffffffu);

    /* DRIVER_OK with no queue ready; a queue enabled after DRIVER_OK is refused (4.2.3.2). */
    CASE();
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    expect_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, "DRIVER_OK refused");
    if (d->present) {
        uint64_t mem = vio_ring_mem(d, 0);
        vset(d, VIO_QUEUE_SEL, 0);
        vset(d, VIO_QUEUE_NUM, 8);
        vset(d, VIO_QUEUE_DESC_LO, (uint32_t)mem);
        vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)mem + 0x2000);
        vset(d, VIO_QUEUE_DEVICE_LO, (uint32_t)mem + 0x3000);
        vset(d, VIO_QUEUE_READY, 1);
        check_eq(vreg(d, VIO_QUEUE_READY), 0, "QueueReady accepted after DRIVER_OK");
    }
    for (uint32_t q = 0; q < 4; q++) {
        vset(d, VIO_QUEUE_NOTIFY, q == 3 ? 0xffffffffu : q);
    }
    CASE();
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK | ST_FAILED);
    expect_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK | ST_FAILED, "FAILED refused");
    vset(d, VIO_QUEUE_NOTIFY, d->work_queue);
    vio_reset(d);
}

/* Read-only, write-only and reserved registers (4.2.2). */
static void misc_registers(struct vdev *d)
{
    static const uint32_t ro[] = {VIO_MAGIC,        VIO_VERSION,       VIO_DEVICE_ID,  VIO_VENDOR_ID,
                                  VIO_DEV_FEATURES, VIO_QUEUE_NUM_MAX, VIO_INT_STATUS, VIO_CONFIG_GEN};
    vio_reset(d);
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        CASE();
        uint32_t before = vreg(d, ro[i]);
        vset(d, ro[i], ~before);
        check_eq(vreg(d, ro[i]), before, "a write to a read-only register changed it");
    }
    CASE();
    vset(d, VIO_INT_ACK, 0xffffffffu);
    check((vreg(d, VIO_INT_STATUS) & ~3u) == 0, "InterruptStatus has bits other than 0 and 1");
    vset(d, VIO_SHM_SEL, (uint32_t)rnd());
    if (d->present) {
        /* 4.2.2: a shared memory region that does not exist has length -1. */
        check(vreg(d, VIO_SHM_LEN_LO) == 0xffffffffu && vreg(d, VIO_SHM_LEN_HI) == 0xffffffffu,
              "ShmLen of a region that does not exist is not -1");
    }
    vset(d, VIO_QUEUE_RESET, 1);
    for (uint32_t off = 0; off < VIO_CONFIG; off += 4) {
        bool reserved = (off > VIO_DRV_FEATURES_SEL && off < VIO_QUEUE_SEL) ||
                        (off > VIO_QUEUE_NUM && off < VIO_QUEUE_READY) || (off > VIO_STATUS && off < 0x080) ||
                        (off > VIO_QUEUE_RESET && off < VIO_CONFIG_GEN);
        if (reserved) {
            CASE();
            (void)vreg(d, off);
            vset(d, off, (uint32_t)rnd());
        }
    }
    expect_status(d, 0, "writes to reserved registers changed Status");
}

void vio_register_attacks(struct vdev *d)
{
    widths(d);
    queue_sel_out_of_range(d);
    if (d->present) {
        for (unsigned q = 0; q < d->num_queues; q++) {
            queue_config(d, q);
        }
    }
    status_order(d);
    misc_registers(d);
    vio_reset(d);
}

/*
 * A value for a random register write. Ring addresses stay inside the
 * zeroed fuzz zone or outside RAM, so whatever the device makes of them it
 * can only touch that zone (the rest of RAM holds this program).
 */
static uint32_t fuzz_value(uint32_t off)
{
    switch (off) {
    case VIO_QUEUE_DESC_LO:
    case VIO_QUEUE_DRIVER_LO:
    case VIO_QUEUE_DEVICE_LO:
        return rnd_chance(2) ? (uint32_t)SCRATCH_FUZZ + (rnd_below(0x1000) << 4) + (rnd_chance(4) ? rnd_below(16) : 0)
                             : (uint32_t)rnd() & 0x3fffffffu;
    case VIO_QUEUE_DESC_HI:
    case VIO_QUEUE_DRIVER_HI:
    case VIO_QUEUE_DEVICE_HI:
        return rnd_chance(2) ? 0 : (uint32_t)rnd();
    case VIO_QUEUE_SEL:
    case VIO_QUEUE_NOTIFY:
    case VIO_DRV_FEATURES_SEL:
    case VIO_DEV_FEATURES_SEL:
        return rnd_chance(2) ? rnd_below(4) : (uint32_t)rnd();
    case VIO_QUEUE_NUM:
        return rnd_chance(2) ? 1u << rnd_below(10) : (uint32_t)rnd();
    case VIO_QUEUE_READY:
        return rnd_chance(2) ? rnd_below(2) : (uint32_t)rnd();
    case VIO_STATUS:
        return rnd_chance(8) ? 0 : rnd_chance(2) ? rnd_below(16) : (uint32_t)rnd();
    default:
        return (uint32_t)rnd();
    }
}

void vio_register_fuzz(struct vdev *d, unsigned n)
{
    mem_fill(SCRATCH_FUZZ, 0, 0x20000);
    vio_reset(d);
    for (unsigned i = 0; i < n; i++) {
        static const unsigned widths_by_chance[] = {4, 4, 4, 4, 4, 1, 2, 8};
        unsigned w = widths_by_chance[rnd_below(8)];
        uint32_t off = rnd_below(VIO_WINDOW) & ~(w - 1);
        if (rnd_chance(2)) {
            off = rnd_below(0x100 / 4) * 4; /* the common registers, more often */
            w = 4;
        }
        uint64_t v;
        if (rnd_chance(3)) {
            probe_read(d->base + off, w, &v);
        } else {
            probe_write(d->base + off, w, w == 4 ? fuzz_value(off) : rnd());
        }
        counts.virtio_fuzz++;
    }
    vio_reset(d);
    mem_fill(SCRATCH_FUZZ, 0, 0x20000);
}
