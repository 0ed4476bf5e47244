/*
 * Phase 1, device-specific attacks: virtio-blk requests (5.2.6) that are
 * well-formed chains but bad requests (the device answers IOERR/UNSUPP in
 * the status byte), chains without a writable status byte, more segments
 * than SEG_MAX, huge lengths (classes 7, 10); virtio-net frames (5.1.6)
 * too big, too small or asking for offloads nobody offered, and receive
 * buffers that are read-only or too small (class 4, 10).
 */
#include "ring.h"

#define NO_STATUS 0xffffu /* the case ends in DEVICE_NEEDS_RESET */
#define BLK_F_DISCARD (1ull << 13)
#define BLK_F_WRITE_ZEROES (1ull << 14)

static uint64_t blk_capacity(const struct vdev *d)
{
    return vreg(d, VIO_CONFIG) | (uint64_t)vreg(d, VIO_CONFIG + 4) << 32;
}

struct blk_req {
    const char *name;
    unsigned cls;
    uint32_t type;
    uint64_t sector;
    uint32_t hdr_len;
    uint64_t data;
    uint32_t data_len; /* 0: no data descriptor */
    uint16_t data_flags;
    uint16_t status_flags;
    uint16_t want; /* BLK_S_* or NO_STATUS */
};

/* 5.2.6: the discard / write-zeroes segment (sector, num_sectors, flags) in the data buffer. */
static void blk_segment(struct rctx *c, const struct blk_req *r)
{
    uint64_t cap = blk_capacity(c->d);
    if (r->type == BLK_T_DISCARD) {
        *(volatile uint64_t *)r->data = 0;
        *(volatile uint32_t *)(r->data + 8) = 1;
        *(volatile uint32_t *)(r->data + 12) = 0x80000000u; /* only bit 0 (unmap) is defined */
    } else if (r->type == BLK_T_WRITE_ZEROES) {
        *(volatile uint64_t *)r->data = cap;
        *(volatile uint32_t *)(r->data + 8) = 1;
        *(volatile uint32_t *)(r->data + 12) = 0;
    }
}

static void blk_case(struct rctx *c, const struct blk_req *r)
{
    if (!rc_begin(c, r->name, r->cls, BLK_F_DISCARD | BLK_F_WRITE_ZEROES)) {
        return;
    }
    blk_segment(c, r);
    uint64_t hdr = c->buf + B_HDR, status = c->buf + B_STATUS;
    *(volatile uint32_t *)hdr = r->type;
    *(volatile uint32_t *)(hdr + 4) = 0;
    *(volatile uint64_t *)(hdr + 8) = r->sector;
    uint16_t i = 0;
    rc_put(c->q->desc, i, hdr, r->hdr_len, D_NEXT, (uint16_t)(i + 1));
    i++;
    if (r->data_len != 0) {
        rc_put(c->q->desc, i, r->data, r->data_len, r->data_flags | D_NEXT, (uint16_t)(i + 1));
        i++;
    }
    rc_put(c->q->desc, i, status, 1, r->status_flags, 0);
    vq_post(c->q, 0);
    rc_kick(c);
    if (r->want == NO_STATUS) {
        rc_expect_reset(c);
    } else {
        c->q->used_seen = c->used0;
        if (!vq_wait_used(c->q, (uint16_t)(c->used0 + 1), WAIT_MS)) {
            rc_report(c, "no completion");
        } else if (*(volatile uint8_t *)status != r->want || (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET)) {
            put_str("HOSTILE: status byte ");
            put_dec(*(volatile uint8_t *)status);
            put_str(", want ");
            put_dec(r->want);
            put_str("\n");
            rc_report(c, "wrong status byte");
        } else if (r->want != BLK_S_OK) {
            counts.virtio_error_status++;
        }
    }
    rc_end(c);
}

/* More segments than SEG_MAX (62 data + header + status), through an indirect table. */
static void blk_too_many_segments(struct rctx *c)
{
    if (!rc_begin(c, "70 data segments (SEG_MAX is 62)", 10, F_INDIRECT)) {
        return;
    }
    volatile struct vdesc *t = (volatile struct vdesc *)c->table;
    const uint16_t n = 72;
    *(volatile uint32_t *)(c->buf + B_HDR) = BLK_T_IN;
    *(volatile uint64_t *)(c->buf + B_HDR + 8) = 0;
    rc_put(t, 0, c->buf + B_HDR, 16, D_NEXT, 1);
    for (uint16_t i = 1; i < n - 1; i++) {
        rc_put(t, i, c->buf + B_BIG + 512u * i, 512, D_WRITE | D_NEXT, (uint16_t)(i + 1));
    }
    rc_put(t, n - 1, c->buf + B_STATUS, 1, D_WRITE, 0);
    rc_put(c->q->desc, 0, c->table, 16u * n, D_INDIRECT, 0);
    vq_post(c->q, 0);
    rc_kick(c);
    c->q->used_seen = c->used0;
    if (!vq_wait_used(c->q, (uint16_t)(c->used0 + 1), WAIT_MS)) {
        rc_report(c, "no completion");
    } else if (*(volatile uint8_t *)(c->buf + B_STATUS) != BLK_S_IOERR) {
        rc_report(c, "not answered IOERR");
    } else {
        counts.virtio_error_status++;
    }
    rc_end(c);
}

/* 2.6.4: no framing assumptions. A header in 16 one-byte pieces is still a header. */
static void blk_split_header(struct rctx *c)
{
    if (!rc_begin(c, "GET_ID header split into 16 one-byte descriptors", 10, F_INDIRECT)) {
        return;
    }
    volatile struct vdesc *t = (volatile struct vdesc *)c->table;
    for (uint16_t i = 0; i < 16; i++) {
        rc_put(t, i, c->buf + B_HDR + i, 1, D_NEXT, (uint16_t)(i + 1));
    }
    rc_put(t, 16, c->buf + B_ID, 20, D_WRITE | D_NEXT, 17);
    rc_put(t, 17, c->buf + B_STATUS, 1, D_WRITE, 0);
    rc_put(c->q->desc, 0, c->table, 16 * 18, D_INDIRECT, 0);
    vq_post(c->q, 0);
    rc_kick(c);
    rc_expect_benign(c, 0, c->buf + B_STATUS);
    rc_end(c);
}

static void blk_attacks(struct rctx *c)
{
    struct vdev *d = c->d;
    vio_negotiate(d, 0);
    uint64_t cap = blk_capacity(d);
    bool wzeroes = (d->offered & BLK_F_WRITE_ZEROES) != 0;
    uint64_t big = c->buf + B_BIG;
    const struct blk_req reqs[] = {
        {"unknown request type", 10, 0x7fffffff, 0, 16, big, 512, D_WRITE, D_WRITE, BLK_S_UNSUPP},
        {"read at the capacity", 3, BLK_T_IN, cap, 16, big, 512, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"read at sector 2^64 - 1", 3, BLK_T_IN, ~0ull, 16, big, 512, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"read across the capacity", 3, BLK_T_IN, cap - 1, 16, big, 1024, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"read of 100 bytes", 10, BLK_T_IN, 0, 16, big, 100, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"read into a device-readable buffer", 10, BLK_T_IN, 0, 16, big, 512, 0, D_WRITE, BLK_S_IOERR},
        {"write from a device-writable buffer", 10, BLK_T_OUT, 0, 16, big, 512, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"header of 8 bytes", 10, BLK_T_GET_ID, 0, 8, big, 20, D_WRITE, D_WRITE, BLK_S_IOERR},
        {"no status byte (status descriptor read-only)", 4, BLK_T_GET_ID, 0, 16, 0, 0, 0, 0, NO_STATUS},
        {"status read-only after a writable buffer", 4, BLK_T_GET_ID, 0, 16, big, 20, D_WRITE, 0, NO_STATUS},
        {"GET_ID into 4 bytes", 10, BLK_T_GET_ID, 0, 16, big, 4, D_WRITE, D_WRITE, BLK_S_OK},
        {"GET_ID into 64 KiB", 10, BLK_T_GET_ID, 0, 16, big, 0x10000, D_WRITE, D_WRITE, BLK_S_OK},
        {"discard with reserved flags", 10, BLK_T_DISCARD, 0, 16, big, 16, 0, D_WRITE, BLK_S_UNSUPP},
        {"write-zeroes segment of 8 bytes", 10, BLK_T_WRITE_ZEROES, 0, 16, big, 8, 0, D_WRITE,
         wzeroes ? BLK_S_IOERR : BLK_S_UNSUPP},
        {"write-zeroes past the capacity", 3, BLK_T_WRITE_ZEROES, 0, 16, big, 16, 0, D_WRITE,
         wzeroes ? BLK_S_IOERR : BLK_S_UNSUPP},
        {"read of 0x7e00000 bytes (inside RAM)", 7, BLK_T_IN, 0, 16, SCRATCH_HUGE, 0x7e00000, D_WRITE, D_WRITE,
         cap * 512 < 0x7e00000 ? BLK_S_IOERR : BLK_S_OK},
        {"read of 0xfffffe00 bytes", 7, BLK_T_IN, 0, 16, SCRATCH_HUGE, 0xfffffe00u, D_WRITE, D_WRITE, NO_STATUS},
    };
    for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        blk_case(c, &reqs[i]);
    }
    blk_too_many_segments(c);
    blk_split_header(c);
}

/* ---- virtio-net ---- */

static void net_tx_dropped(struct rctx *c, const char *name, uint32_t len, uint8_t flags, uint8_t gso)
{
    if (!rc_begin(c, name, 10, 0)) {
        return;
    }
    uint64_t f = c->buf + B_BIG;
    mem_fill(f, 0, NET_HDR + 64);
    *(volatile uint8_t *)f = flags;
    *(volatile uint8_t *)(f + 1) = gso;
    mem_fill(f + NET_HDR, 0xff, 6);
    rc_put(c->q->desc, 0, f, len, 0, 0);
    vq_post(c->q, 0);
    rc_kick(c);
    c->q->used_seen = c->used0;
    if (!vq_wait_used(c->q, (uint16_t)(c->used0 + 1), WAIT_MS) || (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET)) {
        rc_report(c, "a bad frame was not simply dropped and returned");
    }
    rc_end(c);
}

/* Post an ARP request for the user-network gateway (10.0.2.2); a reply comes back on receiveq. */
void net_send_arp(struct vq *tx, uint64_t at, const uint8_t mac[6])
{
    static const uint8_t arp[] = {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01};
    static const uint8_t ips[] = {10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2};
    mem_fill(at, 0, NET_HDR + 60);
    mem_fill(at + NET_HDR, 0xff, 6);
    mem_copy_in(at + NET_HDR + 6, mac, 6);
    mem_copy_in(at + NET_HDR + 12, arp, sizeof(arp));
    mem_copy_in(at + NET_HDR + 22, mac, 6);
    mem_copy_in(at + NET_HDR + 28, ips, sizeof(ips));
    uint16_t h = (uint16_t)(tx->avail_idx & (tx->num - 1));
    vq_desc(tx, h, at, NET_HDR + 60, 0, 0);
    vq_post(tx, h);
    vq_kick(tx);
}

void net_read_mac(const struct vdev *d, uint8_t mac[6])
{
    static const uint8_t fallback[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    for (unsigned i = 0; i < 6; i++) {
        mac[i] = (d->offered >> 5) & 1 ? *(volatile uint8_t *)(d->base + VIO_CONFIG + i) : fallback[i];
    }
}

/* A receive buffer the device cannot use, then a frame to put in it (the gateway's ARP reply). */
static void net_rx_bad(struct rctx *c, const char *name, uint32_t len, uint16_t flags, bool reset)
{
    if (!rc_begin(c, name, 4, 1ull << 5)) {
        return;
    }
    struct vq *rx = &c->qs[0];
    uint8_t mac[6];
    net_read_mac(c->d, mac);
    rc_put(rx->desc, 0, c->buf + B_BIG, len, flags, 0);
    vq_post(rx, 0);
    vq_kick(rx);
    uint16_t rx_used0 = vq_used_idx(rx);
    net_send_arp(c->q, c->buf + B_DATA, mac);
    uint64_t end = now_ticks() + ms_to_ticks(2000);
    bool got_reset = false, got_used = false;
    while (now_ticks() < end && !got_reset && !got_used) {
        got_reset = (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET) != 0;
        got_used = vq_used_idx(rx) != rx_used0;
    }
    if (!got_reset && !got_used) {
        put_str("HOSTILE: note: ");
        put_str(name);
        put_str(": no frame arrived to try it with\n");
    } else if (got_reset != reset) {
        rc_report(c, reset ? "a bad receive buffer was used" : "a short receive buffer broke the device");
    } else if (got_used && vq_used_len(rx, rx_used0) != 0) {
        rc_report(c, "a frame was written into a receive buffer too small for it");
    }
    if (got_reset) {
        counts.virtio_resets_seen++;
    }
    rc_end(c);
}

#define NET_F_MRG_RXBUF (1ull << 15)
#define MRG_BUFS 16u

/*
 * VIRTIO_NET_F_MRG_RXBUF (5.1.6.3.1): receive buffers of exactly the header
 * size, so the gateway's ARP reply is spread over several of them, each
 * reported in the used ring and num_buffers in the first; then buffers
 * smaller than the header, which the driver must not post (DEVICE_NEEDS_RESET
 * or simply unused are both fine, but nothing may be written past them).
 */
static void net_rx_merged(struct rctx *c, uint32_t each, const char *name)
{
    if (!rc_begin(c, name, 4, (1ull << 5) | NET_F_MRG_RXBUF)) {
        return;
    }
    if (!(c->d->offered & NET_F_MRG_RXBUF)) {
        rc_end(c);
        return;
    }
    struct vq *rx = &c->qs[0];
    uint64_t bufs = c->buf + B_BIG;
    mem_fill(bufs, 0x33, 16ull * MRG_BUFS);
    for (uint16_t i = 0; i < MRG_BUFS; i++) {
        rc_put(rx->desc, i, bufs + 16ull * i, each, D_WRITE, 0);
        vq_post(rx, i);
    }
    vq_kick(rx);
    uint8_t mac[6];
    net_read_mac(c->d, mac);
    net_send_arp(c->q, c->buf + B_DATA, mac);
    uint64_t end = now_ticks() + ms_to_ticks(2000);
    uint16_t used = 0;
    bool reset = false;
    while (now_ticks() < end && !reset && used == 0) {
        reset = (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET) != 0;
        used = vq_used_idx(rx);
    }
    for (uint16_t i = 0; i < MRG_BUFS; i++) { /* bytes 12-15 of each 16-byte slot are past every buffer */
        if (!mem_all(bufs + 16ull * i + NET_HDR, 0x33, 4)) {
            rc_report(c, "the device wrote past the end of a merged receive buffer");
            break;
        }
    }
    if (each >= NET_HDR && used != 0) {
        uint16_t n = *(volatile uint16_t *)(bufs + 16ull * vq_used_id(rx, 0) + 10);
        if (reset || n == 0 || n > MRG_BUFS || (uint16_t)(vq_used_idx(rx) - 0) < n || vq_used_len(rx, 0) != NET_HDR) {
            rc_report(c, "a frame over header-sized merged buffers was not delivered as the spec says");
        }
    } else if (each >= NET_HDR && !reset) {
        say("note: no frame arrived for the merged receive buffers");
    } else if (each < NET_HDR && used != 0) {
        rc_report(c, "receive buffers smaller than the header were used");
    }
    if (reset) {
        counts.virtio_resets_seen++;
    }
    rc_end(c);
}

static void net_attacks(struct rctx *c)
{
    net_tx_dropped(c, "transmit of 64 KiB", NET_HDR + 0x10000, 0, 0);
    net_tx_dropped(c, "transmit of a header alone", NET_HDR, 0, 0);
    net_tx_dropped(c, "transmit asking for a checksum (not offered)", NET_HDR + 60, 1, 0);
    net_tx_dropped(c, "transmit asking for TSO (not offered)", NET_HDR + 60, 0, 1);
    net_rx_bad(c, "receive buffer device-readable", 2048, 0, true);
    net_rx_bad(c, "receive buffer of 20 bytes", 20, D_WRITE, false);
    net_rx_merged(c, NET_HDR, "merged receive buffers of header size");
    net_rx_merged(c, 8, "merged receive buffers smaller than the header");
}

/* ---- reset with work in flight (2.1.2, 3.1: after a reset the device no longer touches old buffers) ---- */

#define INFLIGHT_REQS 8u
#define INFLIGHT_BYTES 0x100000u
#define FILL 0xcc

/*
 * Eight 1 MiB reads (one 1 MiB segment each, beyond SIZE_MAX: the device
 * splits it), reset right after the notification, buffers refilled, a new
 * bring-up and a GET_ID on fresh rings: the orphaned backend reads that
 * complete now must not land in guest memory.
 */
static void blk_reset_in_flight(struct rctx *c)
{
    struct vdev *d = c->d;
    counts.virtio_cases++;
    if (!vio_bring_up(d, 0, 64, c->qs)) {
        return;
    }
    uint64_t area = c->buf + 0x2000, data = SCRATCH_HUGE;
    mem_fill(area, FILL, 32 * INFLIGHT_REQS);
    for (unsigned i = 0; i < INFLIGHT_REQS; i++) {
        uint64_t hdr = area + 32 * i;
        *(volatile uint32_t *)hdr = BLK_T_IN;
        *(volatile uint32_t *)(hdr + 4) = 0;
        *(volatile uint64_t *)(hdr + 8) = 0;
        uint16_t h = (uint16_t)(3 * i);
        vq_desc(&c->qs[0], h, hdr, 16, D_NEXT, h + 1);
        vq_desc(&c->qs[0], h + 1, data + (uint64_t)INFLIGHT_BYTES * i, INFLIGHT_BYTES, D_WRITE | D_NEXT, h + 2);
        vq_desc(&c->qs[0], h + 2, hdr + 16, 1, D_WRITE, 0);
        vq_post(&c->qs[0], h);
    }
    vq_kick(&c->qs[0]);
    vio_reset(d);
    mem_fill(area, FILL, 32 * INFLIGHT_REQS);
    mem_fill(data, FILL, (uint64_t)INFLIGHT_BYTES * INFLIGHT_REQS);
    c->name = "GET_ID after a reset with reads in flight";
    c->cls = 6;
    if (rc_begin(c, c->name, 6, 0)) {
        rc_benign(c, c->q->desc, 0, c->buf + B_STATUS);
        vq_post(c->q, 0);
        rc_kick(c);
        rc_expect_benign(c, 0, c->buf + B_STATUS);
    }
    uint64_t end = now_ticks() + ms_to_ticks(500);
    while (now_ticks() < end) {
    }
    vio_reset(d);
    check(mem_all(area, FILL, 32 * INFLIGHT_REQS), "virtio-blk wrote a status byte of a request dropped by reset");
    check(mem_all(data, FILL, (uint64_t)INFLIGHT_BYTES * INFLIGHT_REQS),
          "virtio-blk wrote data of a request dropped by reset into guest memory");
}

/*
 * 4 MiB of '#' to the console, far more than its backend ring holds, reset
 * at once and the buffer overwritten with 'X': the test checks the socket
 * never sees an 'X' (nothing is read from the chain after the reset) and at
 * most 4 MiB of '#'.
 */
#define CONSOLE_FLOOD 0x400000u
static void console_reset_while_blocked(struct rctx *c)
{
    counts.virtio_cases++;
    if (!vio_bring_up(c->d, 0, 16, c->qs)) {
        return;
    }
    const uint32_t len = CONSOLE_FLOOD;
    mem_fill(SCRATCH_HUGE, '#', len);
    vq_desc(&c->qs[1], 0, SCRATCH_HUGE, len, 0, 0);
    vq_post(&c->qs[1], 0);
    vq_kick(&c->qs[1]);
    bool done_before_reset = vq_used_idx(&c->qs[1]) != 0;
    vio_reset(c->d);
    if (done_before_reset) {
        say("note: the console sent all of its flood before the reset could stop it");
    }
    mem_fill(SCRATCH_HUGE, 'X', len);
    uint64_t end = now_ticks() + ms_to_ticks(200);
    while (now_ticks() < end) {
    }
    vq_kick(&c->qs[1]);
    mem_fill(SCRATCH_HUGE, 0, len);
}

/*
 * The test writes a line into the console socket at start; its bytes wait in
 * the backend until a receive buffer is posted. A read-only one must not be
 * written (DEVICE_NEEDS_RESET), and the bytes must still be there for the
 * valid receive at the end.
 */
static void console_rx_read_only(struct rctx *c)
{
    if (!rc_begin(c, "receive buffer device-readable", 4, 0)) {
        return;
    }
    struct vq *rx = &c->qs[0];
    mem_fill(c->buf + B_BIG, 0x33, 64);
    rc_put(rx->desc, 0, c->buf + B_BIG, 64, 0, 0);
    vq_post(rx, 0);
    vq_kick(rx);
    bool reset = (vreg(c->d, VIO_STATUS) & ST_NEEDS_RESET) != 0;
    if (vq_used_idx(rx) != 0 || !mem_all(c->buf + B_BIG, 0x33, 64)) {
        rc_report(c, "a read-only receive buffer was written");
    } else if (!reset) {
        say("note: virtio-console had no input waiting to try a read-only receive buffer with");
    } else {
        counts.virtio_resets_seen++;
    }
    rc_end(c);
}

void vio_device_attacks(struct vdev *d)
{
    struct rctx c = {.d = d, .buf = vio_buf_mem(d), .table = vio_buf_mem(d) + 0x80000};
    if (d->kind == VDEV_BLK) {
        blk_attacks(&c);
        blk_reset_in_flight(&c);
    } else if (d->kind == VDEV_NET) {
        net_attacks(&c);
    } else {
        console_rx_read_only(&c);
        console_reset_while_blocked(&c);
    }
}
