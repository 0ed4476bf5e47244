/*
 * A fake backend for the virtio device tests: it plays the other side of a
 * shared-queue region (<libvmm/shq.h>) the way a hyp driver or an sDDF
 * component would: a RAM disk, a loopback-style NIC, a console.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <libvmm/shq.h>

#define VB_REGION_SIZE SHQ_REGION_MIN_SIZE
#define VB_DISK_SECTORS 8192u

static uint8_t vb_region[VB_REGION_SIZE] __attribute__((aligned(4096)));
static uint8_t vb_disk[VB_DISK_SECTORS * 512];
static unsigned vb_flushes;
static unsigned vb_writes_at_last_flush;
static unsigned vb_writes;

static inline struct shq_header *vb_hdr(void)
{
    return (struct shq_header *)vb_region;
}

static inline struct shq_ring *vb_ring(unsigned n)
{
    return shq_ring(vb_region, n);
}

/* A ready backend of `kind` with the given ring capacities (0 = ring unused). */
static inline void vb_init(enum shq_kind kind, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3)
{
    memset(vb_region, 0, sizeof(vb_region));
    vb_hdr()->magic = SHQ_MAGIC;
    vb_hdr()->kind = kind;
    const uint32_t caps[4] = {c0, c1, c2, c3};
    for (unsigned i = 0; i < 4; i++) {
        vb_ring(i)->capacity = caps[i];
    }
    vb_hdr()->ready = 1;
    vb_flushes = vb_writes = vb_writes_at_last_flush = 0;
}

static inline uint32_t vb_pending(unsigned n)
{
    return vb_ring(n)->tail - vb_ring(n)->head;
}

static inline void *vb_entry(unsigned n, uint32_t index, size_t esize)
{
    return (uint8_t *)shq_ring_entries(vb_ring(n)) + (index & (vb_ring(n)->capacity - 1)) * esize;
}

/* Consume one entry of a ring the VMM produces. */
static inline bool vb_take(unsigned n, void *out, size_t esize)
{
    struct shq_ring *r = vb_ring(n);
    if (r->tail == r->head) {
        return false;
    }
    memcpy(out, vb_entry(n, r->head, esize), esize);
    r->head++;
    return true;
}

/* Produce one entry on a ring the VMM consumes. */
static inline bool vb_put(unsigned n, const void *in, size_t esize)
{
    struct shq_ring *r = vb_ring(n);
    if (r->tail - r->head == r->capacity) {
        return false;
    }
    memcpy(vb_entry(n, r->tail, esize), in, esize);
    r->tail++;
    return true;
}

static inline uint8_t *vb_data(uint32_t off)
{
    return vb_region + off;
}

/* ---- block: a RAM disk ---- */

static inline void vb_blk_config(uint64_t sectors, bool ro, const char *serial)
{
    struct shq_blk_config *c = &vb_hdr()->config.blk;
    c->capacity_sectors = sectors;
    c->block_size = 512;
    c->max_request_bytes = 0x10000;
    c->read_only = ro;
    c->flush = 1;
    c->discard = 1;
    c->write_zeroes = 1;
    size_t n = strlen(serial);
    memset(c->serial, 0, sizeof(c->serial));
    memcpy(c->serial, serial, n < sizeof(c->serial) ? n : sizeof(c->serial));
}

/* Do what a request asks on the RAM disk; the response it earns. */
static inline struct shq_blk_response vb_blk_exec(const struct shq_blk_request *rq)
{
    struct shq_blk_response rs = {.id = rq->id, .status = SHQ_BLK_OK, .bytes_done = rq->bytes};
    uint64_t off = rq->sector * 512;
    if (rq->op != SHQ_BLK_FLUSH && (off > sizeof(vb_disk) || rq->bytes > sizeof(vb_disk) - off)) {
        rs.status = SHQ_BLK_IOERR;
        rs.bytes_done = 0;
        return rs;
    }
    switch (rq->op) {
    case SHQ_BLK_READ:
        memcpy(vb_data(rq->data_offset), vb_disk + off, rq->bytes);
        break;
    case SHQ_BLK_WRITE:
        memcpy(vb_disk + off, vb_data(rq->data_offset), rq->bytes);
        vb_writes++;
        break;
    case SHQ_BLK_FLUSH:
        vb_flushes++;
        vb_writes_at_last_flush = vb_writes;
        break;
    case SHQ_BLK_DISCARD:
        memset(vb_disk + off, 0xdd, rq->bytes);
        break;
    case SHQ_BLK_WRITE_ZEROES:
        memset(vb_disk + off, 0, rq->bytes);
        break;
    default:
        rs.status = SHQ_BLK_UNSUPPORTED;
        break;
    }
    return rs;
}

/* Serve up to max requests in order; returns how many. */
static inline unsigned vb_blk_serve(unsigned max)
{
    unsigned n = 0;
    struct shq_blk_request rq;
    while (n < max && vb_pending(1) < vb_ring(1)->capacity && vb_take(0, &rq, sizeof(rq))) {
        struct shq_blk_response rs = vb_blk_exec(&rq);
        assert_true(vb_put(1, &rs, sizeof(rs)));
        n++;
    }
    return n;
}

/* ---- network ---- */

static inline void vb_net_config(const uint8_t mac[6], bool link_up, uint16_t mtu)
{
    struct shq_net_config *c = &vb_hdr()->config.net;
    memcpy(c->mac, mac, 6);
    c->link_up = link_up;
    c->mtu = mtu;
}

/* Take one transmitted frame (ring 0) and return its buffer (ring 1). Returns its length, or -1. */
static inline int vb_net_tx(uint8_t *frame, size_t max)
{
    struct shq_net_buffer b;
    if (!vb_take(0, &b, sizeof(b))) {
        return -1;
    }
    assert_true(b.len <= max);
    memcpy(frame, vb_data(b.data_offset), b.len);
    assert_true(vb_put(1, &b, sizeof(b)));
    return (int)b.len;
}

/* Receive a frame: fill a free buffer (ring 2) and hand it over (ring 3). False if no free buffer. */
static inline bool vb_net_rx(const uint8_t *frame, uint32_t len)
{
    struct shq_net_buffer b;
    if (vb_pending(3) == vb_ring(3)->capacity || !vb_take(2, &b, sizeof(b))) {
        return false;
    }
    assert_true(len <= b.len);
    memcpy(vb_data(b.data_offset), frame, len);
    b.len = len;
    assert_true(vb_put(3, &b, sizeof(b)));
    return true;
}

/* ---- console ---- */

/* Drain transmitted bytes (ring 0). */
static inline size_t vb_con_out(char *buf, size_t max)
{
    size_t n = 0;
    struct shq_console_byte b;
    while (n < max && vb_take(0, &b, 1)) {
        buf[n++] = (char)b.c;
    }
    return n;
}

/* Queue bytes for the guest (ring 1), as many as fit; returns how many. */
static inline size_t vb_con_in(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n) {
        struct shq_console_byte b = {(uint8_t)s[k]};
        if (!vb_put(1, &b, 1)) {
            break;
        }
        k++;
    }
    return k;
}
