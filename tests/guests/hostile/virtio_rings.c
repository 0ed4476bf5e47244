/*
 * Phase 1, malformed rings (virtio 1.2 2.7; attack classes 1, 3-7, 9, 15,
 * 16): each case brings the device up properly, posts one bad chain or bad
 * ring index on its work queue (blk requestq, net and console transmitq0),
 * kicks, checks what the device reports (2.1.2 DEVICE_NEEDS_RESET, or a
 * completion for the chains that are in fact valid) and resets it.
 */
#include "ring.h"

#define QSIZE 16u

/* ---- the device's benign chain ---- */

static const uint8_t net_frame_head[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00,
                                           0x00, 0x00, 0x00, 0x01, 0x88, 0xb5}; /* broadcast, local experimental */

void rc_prepare(struct rctx *c)
{
    uint64_t b = c->buf;
    mem_fill(b, 0, 0x1000);
    switch (c->d->kind) {
    case VDEV_BLK:
        *(volatile uint32_t *)(b + B_HDR) = BLK_T_GET_ID;
        mem_fill(b + B_ID, 0xee, 32);
        *(volatile uint8_t *)(b + B_STATUS) = 0xff;
        break;
    case VDEV_NET:
        mem_copy_in(b + B_DATA + NET_HDR, net_frame_head, sizeof(net_frame_head));
        break;
    default:
        mem_fill(b + B_DATA, '.', CON_TEXT);
        break;
    }
}

unsigned rc_benign(struct rctx *c, volatile struct vdesc *t, uint16_t f, uint64_t status_addr)
{
    switch (c->d->kind) {
    case VDEV_BLK:
        rc_put(t, f, c->buf + B_HDR, 16, D_NEXT, f + 1);
        rc_put(t, f + 1, c->buf + B_ID, 20, D_WRITE | D_NEXT, f + 2);
        rc_put(t, f + 2, status_addr, 1, D_WRITE, 0);
        *(volatile uint8_t *)status_addr = 0xff;
        return 3;
    case VDEV_NET:
        rc_put(t, f, c->buf + B_DATA, NET_HDR + 60, 0, 0);
        return 1;
    default:
        rc_put(t, f, c->buf + B_DATA, CON_TEXT, 0, 0);
        return 1;
    }
}

void rc_put(volatile struct vdesc *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    t[i].addr = addr;
    t[i].len = len;
    t[i].flags = flags;
    t[i].next = next;
}

/* ---- one case ---- */

void rc_report(struct rctx *c, const char *why)
{
    put_str("HOSTILE: FAIL ");
    put_str(c->d->name);
    put_str(" case '");
    put_str(c->name);
    put_str("' (class ");
    put_dec(c->cls);
    put_str("): ");
    put_str(why);
    put_str(" (Status ");
    put_hex(vreg(c->d, VIO_STATUS));
    if (c->q != NULL && c->q->used != NULL) {
        put_str(", used idx ");
        put_dec(vq_used_idx(c->q));
    }
    put_str(")\n");
    fail("ring case");
}

bool rc_begin(struct rctx *c, const char *name, unsigned cls, uint64_t features)
{
    c->name = name;
    c->cls = cls;
    counts.virtio_cases++;
    c->q = NULL;
    if (!vio_bring_up(c->d, features, QSIZE, c->qs)) {
        rc_report(c, "bring-up failed");
        return false;
    }
    c->q = &c->qs[c->d->work_queue];
    rc_prepare(c);
    c->used0 = vq_used_idx(c->q);
    return true;
}

static bool needs_reset(const struct rctx *c)
{
    return (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET) != 0;
}

void rc_expect_reset(struct rctx *c)
{
    uint64_t end = now_ticks() + ms_to_ticks(200);
    while (!needs_reset(c) && now_ticks() < end) {
    }
    if (!needs_reset(c)) {
        rc_report(c, "no DEVICE_NEEDS_RESET");
    } else {
        counts.virtio_resets_seen++;
        /* 2.1.2: a device that needs reset and was DRIVER_OK tells us by a configuration change interrupt. */
        if ((vreg(c->d, VIO_INT_STATUS) & 2) == 0) {
            rc_report(c, "DEVICE_NEEDS_RESET without a configuration-change interrupt");
        }
    }
    if (vq_used_idx(c->q) != c->used0) {
        rc_report(c, "a used entry for a request the device refused");
    }
    /* The transport's contract (src/virtio/transport.h): a device that needs reset stops using its queues. */
    rc_kick(c);
    rc_kick(c);
    if (vq_used_idx(c->q) != c->used0 || !needs_reset(c)) {
        rc_report(c, "the device went on using its queues after DEVICE_NEEDS_RESET");
    }
}

void rc_expect_nothing(struct rctx *c, unsigned ms)
{
    uint64_t end = now_ticks() + ms_to_ticks(ms);
    while (now_ticks() < end) {
    }
    if (needs_reset(c) || vq_used_idx(c->q) != c->used0) {
        rc_report(c, "the device acted on it");
    }
}

bool rc_expect_benign(struct rctx *c, uint16_t head, uint64_t status_addr)
{
    c->q->used_seen = c->used0;
    if (!vq_wait_used(c->q, (uint16_t)(c->used0 + 1), WAIT_MS)) {
        rc_report(c, needs_reset(c) ? "a valid chain was refused" : "a valid chain was not completed");
        return false;
    }
    uint32_t id = vq_used_id(c->q, c->used0), len = vq_used_len(c->q, c->used0);
    bool ok = id == head && !needs_reset(c);
    if (c->d->kind == VDEV_BLK) {
        ok = ok && len == 21 && *(volatile uint8_t *)status_addr == 0 && mem_equal(c->buf + B_ID, "libvmm-disk0", 12);
    }
    if (!ok) {
        rc_report(c, "the completion of a valid chain is wrong (id, length, status or GET_ID string)");
    }
    return ok;
}

void rc_kick(struct rctx *c)
{
    vq_kick(c->q);
}

void rc_end(struct rctx *c)
{
    vio_reset(c->d);
}

/* ---- the cases ---- */

/* One bad descriptor as the whole chain (or as the last part of blk's). */
static void bad_buffer(struct rctx *c, const char *name, unsigned cls, uint64_t addr, uint32_t len)
{
    if (!rc_begin(c, name, cls, 0)) {
        return;
    }
    unsigned n = rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    volatile struct vdesc *last = &c->q->desc[n - 1];
    last->addr = addr;
    last->len = len;
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_reset(c);
    rc_end(c);
}

static void bad_index(struct rctx *c, const char *name, unsigned cls, uint16_t head, uint16_t idx)
{
    if (!rc_begin(c, name, cls, 0)) {
        return;
    }
    rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    c->q->avail[2] = head;
    vq_set_avail_idx(c->q, idx);
    rc_kick(c);
    rc_expect_reset(c);
    rc_end(c);
}

/* A chain of `n` readable 16-byte descriptors, each pointing at the next and the last at last_next. */
static void bad_links(struct rctx *c, const char *name, unsigned cls, unsigned n, uint16_t last_next)
{
    if (!rc_begin(c, name, cls, 0)) {
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        rc_put(c->q->desc, (uint16_t)i, c->buf + B_DATA + 16 * i, 16, D_NEXT,
               (uint16_t)(i + 1 < n ? i + 1 : last_next));
    }
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_reset(c);
    rc_end(c);
}

/*
 * desc 0 is INDIRECT (addr, len, extra flags) with next = 1, where a benign
 * chain follows (for the case with NEXT); the table is written by the caller.
 */
static void indirect_case(struct rctx *c, const char *name, uint64_t features, uint64_t addr, uint32_t len,
                          uint16_t flags, bool valid)
{
    if (!rc_begin(c, name, 15, features)) {
        return;
    }
    rc_put(c->q->desc, 0, addr, len, D_INDIRECT | flags, 1);
    rc_benign(c, c->q->desc, 1, c->buf + B_STATUS);
    vq_post(c->q, 0);
    rc_kick(c);
    if (valid) {
        rc_expect_benign(c, 0, c->buf + B_STATUS);
    } else {
        rc_expect_reset(c);
    }
    rc_end(c);
}

static void bad_indirect(struct rctx *c, const char *name, uint64_t features, uint64_t addr, uint32_t len,
                         uint16_t flags)
{
    indirect_case(c, name, features, addr, len, flags, false);
}

static void indirect_cases(struct rctx *c)
{
    volatile struct vdesc *t = (volatile struct vdesc *)c->table;
    mem_fill(c->table, 0, 0x2000);
    rc_prepare(c);
    rc_benign(c, t, 0, c->buf + B_STATUS);
    bad_indirect(c, "indirect descriptor without VIRTIO_F_INDIRECT_DESC", 0, c->table, 16 * 3, 0);
    bad_indirect(c, "indirect table at 0", F_INDIRECT, 0, 16 * 3, 0);
    bad_indirect(c, "indirect table ending 16 bytes past RAM", F_INDIRECT, RAM_END - 32, 48, 0);
    bad_indirect(c, "indirect table wrapping the address space", F_INDIRECT, 0xfffffffffffffff0ull, 48, 0);
    bad_indirect(c, "indirect table of length 0", F_INDIRECT, c->table, 0, 0);
    bad_indirect(c, "indirect table of 24 bytes", F_INDIRECT, c->table, 24, 0);
    bad_indirect(c, "indirect table of 257 entries", F_INDIRECT, c->table, 16 * 257, 0);
    bad_indirect(c, "indirect table of 0xfffffff0 bytes", F_INDIRECT, c->table, 0xfffffff0u, 0);
    bad_indirect(c, "indirect descriptor with NEXT", F_INDIRECT, c->table, 16 * 3, D_NEXT);
    /* 2.7.5.3.2: the device MUST ignore WRITE on a descriptor that refers to an indirect table. */
    indirect_case(c, "indirect descriptor with WRITE (ignored)", F_INDIRECT, c->table, 16 * 3, D_WRITE, true);

    mem_fill(c->table, 0, 0x2000);
    rc_put(t, 0, c->table + 0x1000, 48, D_INDIRECT, 0);
    bad_indirect(c, "nested indirect table", F_INDIRECT, c->table, 16, 0);
    rc_put(t, 0, c->buf + B_DATA, 16, D_NEXT, 1);
    rc_put(t, 1, c->buf + B_DATA, 16, D_NEXT, 0);
    bad_indirect(c, "loop inside an indirect table", F_INDIRECT, c->table, 32, 0);
    rc_put(t, 1, c->buf + B_DATA, 16, D_NEXT, 2);
    bad_indirect(c, "NEXT leaving an indirect table", F_INDIRECT, c->table, 32, 0);
    rc_put(t, 1, c->buf + B_DATA, 16, D_NEXT, 0xffff);
    bad_indirect(c, "NEXT 0xffff in an indirect table", F_INDIRECT, c->table, 32, 0);
    rc_put(t, 1, c->buf + B_DATA, 0, 0, 0);
    bad_indirect(c, "zero-length descriptor in an indirect table", F_INDIRECT, c->table, 32, 0);
    rc_put(t, 1, RAM_END - 8, 9, 0, 0);
    bad_indirect(c, "indirect entry one byte past RAM", F_INDIRECT, c->table, 32, 0);
}

/* A well-formed indirect table of 32 entries on a 16-entry queue (2.7.5.3.1 allows it). */
static void long_indirect(struct rctx *c)
{
    if (!rc_begin(c, "indirect table longer than the queue", 15, F_INDIRECT)) {
        return;
    }
    volatile struct vdesc *t = (volatile struct vdesc *)c->table;
    const unsigned n = 32;
    if (c->d->kind == VDEV_BLK) {
        rc_put(t, 0, c->buf + B_HDR, 16, D_NEXT, 1);
        for (unsigned i = 1; i < n - 1; i++) {
            rc_put(t, (uint16_t)i, c->buf + B_ID + i - 1, 1, D_WRITE | D_NEXT, (uint16_t)(i + 1));
        }
        rc_put(t, n - 1, c->buf + B_STATUS, 1, D_WRITE, 0);
    } else {
        const uint32_t total = c->d->kind == VDEV_NET ? NET_HDR + 60 : CON_TEXT, each = total / n;
        for (unsigned i = 0; i < n; i++) {
            rc_put(t, (uint16_t)i, c->buf + B_DATA + each * i, i + 1 < n ? each : total - each * (n - 1),
                   i + 1 < n ? D_NEXT : 0, (uint16_t)(i + 1));
        }
    }
    rc_put(c->q->desc, 0, c->table, 16 * n, D_INDIRECT, 0);
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    rc_end(c);
}

/* 2.7.5.3.2: the device MUST handle normal descriptors followed by one indirect descriptor. */
static void direct_then_indirect(struct rctx *c)
{
    if (!rc_begin(c, "direct descriptors, then an indirect one", 15, F_INDIRECT)) {
        return;
    }
    volatile struct vdesc *t = (volatile struct vdesc *)c->table;
    unsigned n = rc_benign(c, t, 0, c->buf + B_STATUS);
    if (n == 1) { /* one buffer: split it, the first half direct */
        uint32_t half = t[0].len / 2;
        rc_put(c->q->desc, 0, t[0].addr, half, D_NEXT, 1);
        rc_put(t, 0, t[0].addr + half, t[0].len - half, 0, 0);
        rc_put(c->q->desc, 1, c->table, 16, D_INDIRECT, 0);
    } else { /* blk: the header direct, the rest indirect */
        rc_put(c->q->desc, 0, t[0].addr, t[0].len, D_NEXT, 1);
        rc_put(c->q->desc, 1, c->table + 16, 16 * (n - 1), D_INDIRECT, 0);
        for (unsigned i = 1; i + 1 < n; i++) {
            t[i].next = (uint16_t)i; /* relative to the table at c->table + 16 */
        }
    }
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    rc_end(c);
}

/* Class 3 on the chain length: nine buffers of all of RAM are 4.5 GiB, more than a 32-bit length. */
static void all_ram_nine_times(struct rctx *c)
{
    if (!rc_begin(c, "nine buffers of all of RAM (4.5 GiB)", 3, 0)) {
        return;
    }
    for (uint16_t i = 0; i < 9; i++) {
        rc_put(c->q->desc, i, RAM_BASE, (uint32_t)(RAM_END - RAM_BASE), i < 8 ? D_NEXT : 0, (uint16_t)(i + 1));
    }
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_reset(c);
    rc_end(c);
}

/* Class 6: the chain and ring entry are rewritten right after the notification. */
static void toctou(struct rctx *c)
{
    if (!rc_begin(c, "descriptor rewritten after the notification", 6, 0)) {
        return;
    }
    rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    vq_post(c->q, 0);
    rc_kick(c);
    rc_put(c->q->desc, 0, 0, 0xffffffffu, D_NEXT | D_INDIRECT, 0xffff);
    c->q->avail[2] = 0xffff;
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    c->used0 = vq_used_idx(c->q);
    rc_kick(c);
    rc_expect_nothing(c, 5);
    rc_end(c);
}

/* Classes 9 and 16: QueueNotify values that are no queue (or alias one if truncated) while live. */
static void huge_notify(struct rctx *c)
{
    if (!rc_begin(c, "QueueNotify out of range while live", 9, 0)) {
        return;
    }
    rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    vq_post(c->q, 0);
    const uint32_t values[] = {0xffffffffu, 0x80000000u, 0x10000u | c->d->work_queue, c->d->num_queues, 0xfffffffeu};
    for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        vset(c->d, VIO_QUEUE_NOTIFY, values[i]);
    }
    rc_expect_nothing(c, 5);
    rc_kick(c);
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    rc_end(c);
}

/* Class 1: after DRIVER_OK the queue's size, addresses and readiness are fixed. */
static void change_after_activation(struct rctx *c)
{
    if (!rc_begin(c, "queue reconfigured after DRIVER_OK", 1, 0)) {
        return;
    }
    struct vdev *d = c->d;
    vset(d, VIO_QUEUE_SEL, c->q->index);
    vset(d, VIO_QUEUE_NUM, 2);
    vset(d, VIO_QUEUE_NUM, 0);
    vset(d, VIO_QUEUE_DESC_LO, 0);
    vset(d, VIO_QUEUE_DESC_HI, 0xffffffffu);
    vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)RAM_END);
    vset(d, VIO_QUEUE_DEVICE_LO, 1);
    vset(d, VIO_QUEUE_READY, 0);
    check_eq(vreg(d, VIO_QUEUE_READY), 1, "QueueReady = 0 after DRIVER_OK took effect");
    rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    rc_end(c);
}

/* The same head made available four times: not valid, but the device must survive it. */
static void duplicate_heads(struct rctx *c)
{
    if (!rc_begin(c, "one head made available four times", 5, 0)) {
        return;
    }
    rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
    for (unsigned i = 0; i < 4; i++) {
        vq_post(c->q, 0);
    }
    rc_kick(c);
    uint64_t end = now_ticks() + ms_to_ticks(WAIT_MS);
    bool done = false;
    while (!done && !needs_reset(c) && now_ticks() < end) {
        done = vq_used_idx(c->q) == (uint16_t)(c->used0 + 4);
    }
    if (!done && !needs_reset(c)) {
        put_str("HOSTILE: FAIL ");
        put_str(c->d->name);
        fail(": four postings of one head neither completed nor reported");
    }
    rc_end(c);
}

/* Classes 3 and 4: the last buffer ends exactly at the end of RAM (valid). */
static void ends_at_ram_end(struct rctx *c)
{
    if (!rc_begin(c, "buffer ending exactly at RAM's end", 3, 0)) {
        return;
    }
    unsigned n = rc_benign(c, c->q->desc, 0, RAM_END - 1);
    if (c->d->kind != VDEV_BLK) {
        volatile struct vdesc *last = &c->q->desc[n - 1];
        uint64_t a = RAM_END - last->len;
        for (uint32_t i = 0; i < last->len; i++) {
            *(volatile uint8_t *)(a + i) = *(volatile uint8_t *)(last->addr + i);
        }
        last->addr = a;
    }
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_benign(c, 0, RAM_END - 1);
    rc_end(c);
}

void vio_ring_attacks(struct vdev *d)
{
    struct rctx c = {.d = d, .buf = vio_buf_mem(d), .table = vio_buf_mem(d) + 0x80000};
    bad_index(&c, "avail idx ahead by the queue size + 1", 5, 0, QSIZE + 1);
    bad_index(&c, "avail idx ahead by 0x8000", 5, 0, 0x8000);
    bad_index(&c, "avail idx moved backwards", 5, 0, 0xffff);
    bad_index(&c, "head index = queue size", 5, QSIZE, 1);
    bad_index(&c, "head index 0xffff", 5, 0xffff, 1);
    bad_links(&c, "two descriptors looping", 15, 2, 0);
    bad_links(&c, "descriptor pointing at itself", 15, 1, 0);
    bad_links(&c, "chain through every descriptor and around again", 15, QSIZE, 0);
    bad_links(&c, "NEXT = queue size", 15, 3, QSIZE);
    bad_links(&c, "NEXT = 0xffff", 15, 3, 0xffff);
    bad_buffer(&c, "zero-length descriptor", 7, c.buf + B_DATA, 0);
    bad_buffer(&c, "length 0xffffffff", 7, c.buf + B_DATA, 0xffffffffu);
    bad_buffer(&c, "addr + len overflowing (0xffffffffffffff00, 512)", 3, 0xffffffffffffff00ull, 512);
    bad_buffer(&c, "buffer at address 0", 3, 0, 16);
    bad_buffer(&c, "buffer straddling RAM's start", 3, RAM_BASE - 8, 16);
    bad_buffer(&c, "buffer on the distributor", 3, GICD_BASE, 16);
    bad_buffer(&c, "buffer ending one byte past RAM", 4, RAM_END - 1, 2);
    bad_buffer(&c, "buffer of 16 bytes one byte past RAM", 4, RAM_END - 15, 16);
    bad_buffer(&c, "buffer entirely past RAM", 4, RAM_END, 1);
    ends_at_ram_end(&c);
    indirect_cases(&c);
    long_indirect(&c);
    direct_then_indirect(&c);
    all_ram_nine_times(&c);
    toctou(&c);
    huge_notify(&c);
    change_after_activation(&c);
    duplicate_heads(&c);
}
