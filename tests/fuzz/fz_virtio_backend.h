/*
 * The backend side of fuzz_virtio_queue.c: a device backend (as a hyp driver
 * or an sDDF component would be) that plays the other end of the shared-queue
 * region, fairly or not, driven by the fuzzer's input, and checks what the
 * VMM hands it: requests and buffers inside the data area, sane blk
 * operations and sector ranges, TX frame lengths, no buffer or data range
 * handed out twice while the backend still holds it, and producer indices
 * never more than a ring's capacity ahead. The checks that depend on the
 * backend playing fair are switched off once it has not (`tainted`).
 * Test-only, included by that one harness.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fz_virtio.h"

#define MAX_HELD 512

struct held {
    uint32_t id;
    uint32_t op;
    uint32_t offset;
    uint32_t len;
};

static struct held held[MAX_HELD];
static unsigned num_held;
static uint32_t backend_head[4]; /* our consumer index on the rings the VMM produces */
static bool tainted; /* the backend broke the ring protocol: the VMM's ring checks are off */
static bool capacity_changed;

/* Forget everything: a new input, a new backend. */
static void backend_reset(void)
{
    num_held = 0;
    memset(backend_head, 0, sizeof(backend_head));
    tainted = false;
    capacity_changed = false;
}

static bool ring_ok(const struct shq_ring *r)
{
    return r->capacity != 0 && (r->capacity & (r->capacity - 1)) == 0;
}

/* Check one request the VMM produced and remember it as held by the backend. */
static FZ_CHECKER void hold(uint32_t id, uint32_t op, uint32_t offset, uint32_t len, bool data)
{
    if (data && !tainted) {
        FZ_CHECK(offset >= SHQ_DATA_OFFSET && offset <= FV_REGION_SIZE && len <= FV_REGION_SIZE - offset,
                 "VMM handed the backend [0x%x, +0x%x) outside the data area", offset, len);
        for (unsigned k = 0; k < num_held; k++) {
            const struct held *h = &held[k];
            bool h_data = fv_kind == FV_NET || h->op == SHQ_BLK_READ || h->op == SHQ_BLK_WRITE;
            FZ_CHECK(!h_data || offset >= h->offset + h->len || h->offset >= offset + len,
                     "VMM handed the backend [0x%x, +0x%x) while it holds [0x%x, +0x%x)", offset, len, h->offset,
                     h->len);
        }
    }
    if (num_held < MAX_HELD) {
        held[num_held++] = (struct held){id, op, offset, len};
    }
}

static void drop_held(unsigned k)
{
    held[k] = held[--num_held];
}

/* A made-up answer that happens to name something held releases it in the VMM too. */
static void drop_matching(uint32_t op, uint32_t id, uint32_t offset)
{
    for (unsigned k = 0; k < num_held; k++) {
        if (fv_kind == FV_BLK ? held[k].id == id : (held[k].op == op && held[k].offset == offset)) {
            drop_held(k);
            return;
        }
    }
}

/* Take every entry the VMM produced on ring n (it must never be more than the capacity ahead). */
static void consume(unsigned n, size_t esize, void (*take)(const void *entry, unsigned ring))
{
    struct shq_ring *r = fv_ring(n);
    uint32_t tail = r->tail;
    if (!ring_ok(r)) {
        return;
    }
    FZ_CHECK(tainted || tail - backend_head[n] <= r->capacity, "ring %u: VMM tail %u runs %u entries ahead of head %u",
             n, tail, tail - backend_head[n], backend_head[n]);
    uint32_t count = tail - backend_head[n];
    if (count > r->capacity) {
        count = r->capacity;
    }
    for (uint32_t k = 0; k < count; k++) {
        uint8_t e[sizeof(struct shq_blk_request)];
        const uint8_t *src = (const uint8_t *)shq_ring_entries(r) + ((backend_head[n] + k) & (r->capacity - 1)) * esize;
        memcpy(e, src, esize);
        take(e, n);
    }
    backend_head[n] += count;
    r->head = backend_head[n];
}

static FZ_CHECKER void take_blk(const void *entry, unsigned ring)
{
    const struct shq_blk_request *rq = entry;
    (void)ring;
    FZ_CHECK(tainted || rq->op <= SHQ_BLK_WRITE_ZEROES, "VMM sent block op %u", rq->op);
    bool data = rq->op == SHQ_BLK_READ || rq->op == SHQ_BLK_WRITE;
    if (!tainted && !capacity_changed && rq->op != SHQ_BLK_FLUSH) {
        uint64_t cap = fv_hdr()->config.blk.capacity_sectors;
        FZ_CHECK(rq->sector <= cap && rq->bytes / 512 <= cap - rq->sector && rq->bytes % 512 == 0,
                 "VMM sent block op %u for sectors [%llu, +%u bytes) of a %llu-sector disk", rq->op,
                 (unsigned long long)rq->sector, rq->bytes, (unsigned long long)cap);
    }
    if (data && !tainted) {
        FZ_CHECK(rq->bytes > 0 && rq->bytes <= fv_blk.slot_bytes, "VMM sent a %u-byte data request (slots of %u)",
                 rq->bytes, fv_blk.slot_bytes);
    }
    hold(rq->id, rq->op, rq->data_offset, rq->bytes, data);
}

static FZ_CHECKER void take_net(const void *entry, unsigned ring)
{
    const struct shq_net_buffer *b = entry;
    if (!tainted && ring == 0) {
        FZ_CHECK(b->len >= 14 && b->len <= fv_net.max_frame, "VMM transmits a %u-byte frame (max %u)", b->len,
                 fv_net.max_frame);
    }
    if (!tainted && ring == 2) {
        FZ_CHECK(b->len == fv_net.buf_size, "VMM posts a %u-byte receive buffer (buffers are %u)", b->len,
                 fv_net.buf_size);
    }
    hold(ring, ring, b->data_offset, ring == 0 ? b->len : fv_net.buf_size, true);
}

static void take_console(const void *entry, unsigned ring)
{
    (void)entry;
    (void)ring;
}

static void produce(unsigned n, const void *entry, size_t esize)
{
    struct shq_ring *r = fv_ring(n);
    if (!ring_ok(r) || r->tail - r->head >= r->capacity) {
        return; /* full: a backend that plays by the rules waits */
    }
    memcpy((uint8_t *)shq_ring_entries(r) + (r->tail & (r->capacity - 1)) * esize, entry, esize);
    r->tail++;
}

/* Responses: to requests it holds (right or wrong lengths and statuses), or to ids it never received. */
static void backend_blk(struct fz *in)
{
    consume(0, sizeof(struct shq_blk_request), take_blk);
    unsigned n = fz_u8(in) % 8;
    for (unsigned k = 0; k < n; k++) {
        uint8_t sel = fz_u8(in);
        struct shq_blk_response rs = {0};
        if ((sel & 7) == 7 || num_held == 0) {
            rs.id = fz_u32(in);
            rs.bytes_done = fz_u32(in);
            drop_matching(0, rs.id, 0);
        } else {
            unsigned h = fz_u8(in) % num_held;
            rs.id = held[h].id;
            rs.bytes_done = (sel & 8) ? fz_u32(in) : held[h].len;
            drop_held(h);
        }
        rs.status = (sel & 0x30) == 0x30     ? fz_u32(in)
                    : (sel & 0x30) >> 4 == 1 ? SHQ_BLK_IOERR
                    : (sel & 0x30) >> 4 == 2 ? SHQ_BLK_UNSUPPORTED
                                             : SHQ_BLK_OK;
        produce(1, &rs, sizeof(rs));
    }
}

static uint32_t frame_len(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    switch (sel & 7) {
    case 0:
        return 14;
    case 1:
        return 60;
    case 2:
        return 1514;
    case 3:
        return fv_net.max_frame;
    case 4:
        return fv_net.max_frame + 1;
    case 5:
        return 13;
    default:
        return fz_u16(in);
    }
}

/* Transmit buffers back (held or not), received frames in posted buffers (or in buffers never posted). */
static void backend_net(struct fz *in)
{
    consume(0, sizeof(struct shq_net_buffer), take_net);
    consume(2, sizeof(struct shq_net_buffer), take_net);
    unsigned n = fz_u8(in) % 8;
    for (unsigned k = 0; k < n; k++) {
        uint8_t sel = fz_u8(in);
        bool rx = (sel & 1) != 0;
        unsigned want_ring = rx ? 2 : 0;
        struct shq_net_buffer b = {0};
        unsigned h = num_held;
        if (sel & 2) {
            b.data_offset = fz_u32(in);
            b.len = fz_u16(in);
            drop_matching(want_ring, 0, b.data_offset);
        } else {
            unsigned start = fz_u8(in);
            for (unsigned j = 0; j < num_held; j++) {
                unsigned c = (start + j) % num_held;
                if (held[c].op == want_ring) {
                    h = c;
                    break;
                }
            }
            if (h == num_held) {
                continue;
            }
            b.data_offset = held[h].offset;
            b.len = rx ? frame_len(in) : held[h].len;
            drop_held(h);
        }
        if (rx && b.data_offset >= SHQ_DATA_OFFSET && b.data_offset < FV_REGION_SIZE) {
            uint32_t room = FV_REGION_SIZE - b.data_offset;
            uint32_t fill = b.len < room ? b.len : room;
            memset(fv_region + b.data_offset, 0x5a ^ (uint8_t)k, fill < fv_net.buf_size ? fill : fv_net.buf_size);
        }
        produce(rx ? 3 : 1, &b, sizeof(b));
    }
}

/* Bytes for the guest (as many as the ring takes); everything transmitted is drained. */
static void backend_console(struct fz *in)
{
    consume(0, 1, take_console);
    unsigned n = fz_u8(in);
    for (unsigned k = 0; k < n; k++) {
        uint8_t c = (uint8_t)('a' + k % 26);
        produce(1, &c, 1);
    }
}

static void op_backend(struct fz *in)
{
    switch (fv_kind) {
    case FV_BLK:
        backend_blk(in);
        break;
    case FV_NET:
        backend_net(in);
        break;
    default:
        backend_console(in);
        break;
    }
    if (fz_u8(in) & 1) {
        fv_handle_notification();
    }
}

/* The backend breaks the protocol: an index of a ring moves anywhere (the VMM must cope, not trust). */
static void op_corrupt(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    struct shq_ring *r = fv_ring(sel & 3);
    uint32_t v = fz_u32(in);
    if (sel & 4) {
        r->head = v;
    } else {
        r->tail = v;
    }
    tainted = true;
    fv_handle_notification();
}

static void op_backend_config(struct fz *in)
{
    uint8_t b = fz_u8(in);
    if (fv_kind == FV_BLK) {
        fv_hdr()->config.blk.capacity_sectors = (b & 1) ? fz_u64(in) : b;
        capacity_changed = true;
    } else if (fv_kind == FV_NET) {
        fv_hdr()->config.net.link_up = b & 1;
    }
    fv_handle_notification();
}
