/*
 * The virtqueues of a virtio-blk, virtio-net or virtio-console device that
 * a driver brought up properly (features incl. EVENT_IDX / INDIRECT_DESC /
 * MRG_RXBUF as the input chooses, queues of any valid size in guest RAM),
 * fed arbitrary ring and descriptor contents: avail indices and entries,
 * descriptor addr/len/flags/next (inside RAM, across its end, on the rings
 * themselves, wrapping), indirect tables, chains, request headers (blk type
 * and sector, DISCARD ranges, net headers), used_event and avail flags,
 * notifications with any index. The backend on the other side of the
 * shared-queue region answers with arbitrary ids, statuses and lengths
 * (including ids it never received), returns buffers it does not hold,
 * delivers RX frames and console bytes of any length, changes its
 * configuration, and corrupts its ring indices; the device is reset at any
 * time with requests in flight. Attack classes 1-10, 13, 15 and 16.
 *
 * Input: byte 0 = device kind (bits 0-1) and backend configuration (bits
 * 2-6, fz_virtio.h), byte 1 = backend ring capacities, byte 2 = features the
 * driver asks for (bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 every
 * device-specific feature offered, bit 3 MRG_RXBUF), byte 3 = queue sizes
 * (log2, 4 bits each), then operations (an opcode byte, operands following).
 * The backend's side is fz_virtio_backend.h.
 *
 * Guest RAM (64 KiB, between guard pages): queue 0's descriptor table,
 * driver area and device area at 0x0000/0x1000/0x2000, queue 1's at
 * 0x3000/0x4000/0x5000, buffers from 0x6000 to the end.
 *
 * Checked after every operation, besides ASan/UBSan (so every byte the
 * device reads or writes is inside guest RAM or the shared region):
 *  - the fake kernel saw no failing libmicrokit call;
 *  - the status and queue promises of fz_virtio.h;
 *  - the device publishes everything it uses (used_idx == used->idx as it
 *    last wrote it); its used index never moves backwards and never passes
 *    the heads it took; after DEVICE_NEEDS_RESET it takes no new avail
 *    entry until a reset (it may still complete what it took);
 *  - a refused chain or avail entry always ends in DEVICE_NEEDS_RESET, and
 *    setting it after DRIVER_OK raises the configuration-change interrupt;
 *  - the used entries it writes name heads below the queue size (checked
 *    while the guest has not aimed buffers at its own rings);
 *  - what the VMM hands the backend is sane: blk requests have a known op,
 *    sector ranges inside the disk and data inside the data area, and no
 *    two requests the backend still holds share data bytes; net buffers lie
 *    in the data area, TX frames are 14..max_frame bytes, and no buffer is
 *    held twice; the VMM's producer indices never run more than the ring's
 *    capacity ahead (checked while the backend played by the rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fz_virtio.h"
#include "fz_virtio_backend.h"
#include "fz_virtio_driver.h"
#include "guest_internal.h"

#define MAX_OPS 384

/* Device-specific feature bits the driver may take (5.1.3, 5.2.3). */
#define F_NET_MRG_RXBUF (1ull << 15)

/* ---- per-operation device tracking ---- */

static uint16_t last_published[2];
static uint16_t last_avail[2]; /* q->last_avail before the operation */
static uint32_t status_before;

static unsigned num_queues(void)
{
    return fv_vdev()->num_queues;
}

/* ---- invariants ---- */

static FZ_CHECKER void check_used_entries(const struct vqueue *q, unsigned i, uint16_t from, uint16_t to)
{
    if (layout_dirty) {
        return;
    }
    for (uint16_t k = from; k != to; k++) {
        uint32_t id;
        memcpy(&id, (const uint8_t *)q->used + 4 + 8u * (k & (q->num - 1)), 4);
        FZ_CHECK(id < q->num, "queue %u: used entry %u names head %u, queue size %u", i, k, id, q->num);
    }
}

static FZ_CHECKER void check_queue_progress(const struct virtio_mmio_device *d, unsigned i)
{
    const struct vqueue *q = &d->queues[i];
    if (!q->ready) {
        last_published[i] = 0;
        return;
    }
    fv_check_queue(q, i);
    FZ_CHECK(q->used_idx == q->published, "queue %u: %u used entries pushed but not published", i,
             (uint16_t)(q->used_idx - q->published));
    /* Forward only, and never past the heads taken: a move backwards would show as a huge one. */
    uint16_t moved = (uint16_t)(q->published - last_published[i]);
    uint16_t taken = (uint16_t)(q->last_avail - last_published[i]);
    FZ_CHECK(moved <= taken && taken <= 2 * q->num,
             "queue %u: used index moved from %u to %u, %u heads taken (size %u)", i, last_published[i], q->published,
             q->last_avail, q->num);
    if ((status_before & FV_S_NEEDS_RESET) && (d->status & FV_S_NEEDS_RESET)) {
        FZ_CHECK(q->last_avail == last_avail[i], "queue %u: took avail entries %u..%u after DEVICE_NEEDS_RESET", i,
                 last_avail[i], q->last_avail);
    }
    check_used_entries(q, i, last_published[i], q->published);
    last_published[i] = q->published;
}

static FZ_CHECKER void check_all(bool irq_taken)
{
    const struct virtio_mmio_device *d = fv_vdev();
    fz_check_kernel();
    fv_check_status(d);
    for (unsigned i = 0; i < d->num_queues; i++) {
        check_queue_progress(d, i);
        FZ_CHECK(d->queues[i].last_error == NULL || (d->status & FV_S_NEEDS_RESET),
                 "queue %u refused a request (%s) without DEVICE_NEEDS_RESET", i, d->queues[i].last_error);
    }
    bool newly = (d->status & FV_S_NEEDS_RESET) && !(status_before & FV_S_NEEDS_RESET);
    if (newly && (d->status & FV_S_DRIVER_OK) && !irq_taken) {
        FZ_CHECK(d->interrupt_status & 2, "DEVICE_NEEDS_RESET without a configuration-change interrupt");
    }
}

/* Before each operation: what the checks compare against. */
static void begin_op(void)
{
    struct virtio_mmio_device *d = fv_vdev();
    status_before = d->status;
    for (unsigned i = 0; i < d->num_queues; i++) {
        d->queues[i].last_error = NULL; /* diagnostic only: lets the check see this operation's refusals */
        last_avail[i] = d->queues[i].last_avail;
    }
}

/* ---- driver operations ---- */

static void op_desc(struct fz *in)
{
    unsigned q = (fz_u8(in) & 1) % num_queues();
    uint16_t idx = fz_u8(in);
    uint32_t len = pick_len(in);
    uint64_t addr = pick_addr(in, len);
    uint8_t f = fz_u8(in);
    uint16_t flags = (f & 0x80) ? fz_u16(in) : (f & 7);
    uint16_t next = (f & 0x40) ? fz_u16(in) : (uint16_t)((idx + 1) % dq[q].num);
    write_desc(q, idx, addr, len, flags, next);
    if (flags & 4) {
        layout_dirty = true; /* an indirect table of whatever bytes are there */
    }
}

/* Make heads available: the given ones (any value, checked by the device), or a raw avail->idx. */
static void op_avail(struct fz *in)
{
    uint8_t ctl = fz_u8(in);
    struct drv_queue *d = &dq[(ctl & 1) % num_queues()];
    if (ctl & 0x80) {
        d->avail_idx = fz_u16(in);
    } else {
        unsigned n = 1 + ((ctl >> 1) & 7);
        for (unsigned k = 0; k < n; k++) {
            uint16_t head = (ctl & 0x40) ? fz_u16(in) : fz_u8(in) % d->num;
            memcpy(ram_at(d->avail + 4 + 2ull * (d->avail_idx % d->num)), &head, 2);
            d->avail_idx++;
        }
    }
    memcpy(ram_at(d->avail + 2), &d->avail_idx, 2);
}

struct seg {
    uint32_t len;
    bool write;
    const uint8_t *content; /* NULL: leave the buffer as it is */
};

/* Descriptors for segs (direct from the queue's cursor, or one indirect table), published as one chain. */
static void add_chain(unsigned q, const struct seg *segs, unsigned n, bool indirect, bool scramble)
{
    struct drv_queue *d = &dq[q];
    uint16_t head = d->next_desc % d->num;
    uint64_t table = indirect ? buf_alloc(16u * n) : 0;
    if (indirect) {
        note_table(table, 16u * n);
    }
    for (unsigned k = 0; k < n; k++) {
        uint64_t gpa = buf_alloc(segs[k].len);
        note_buffer(gpa, segs[k].len);
        if (segs[k].content != NULL && gpa + segs[k].len <= FZ_RAM_GPA + FV_RAM_SIZE) {
            memcpy(ram_at(gpa), segs[k].content, segs[k].len);
        }
        uint16_t flags = (uint16_t)((segs[k].write ? 2 : 0) | (k + 1 < n ? 1 : 0));
        if (indirect) {
            uint8_t *e = ram_at(table + 16ull * k);
            uint16_t next = (uint16_t)(scramble ? n - 1 - k : k + 1);
            memcpy(e, &gpa, 8);
            memcpy(e + 8, &segs[k].len, 4);
            memcpy(e + 12, &flags, 2);
            memcpy(e + 14, &next, 2);
        } else {
            uint16_t i = (uint16_t)((head + k) % d->num);
            write_desc(q, i, gpa, segs[k].len, flags, (uint16_t)(scramble ? head : (i + 1) % d->num));
        }
    }
    if (indirect) {
        write_desc(q, head, table, 16u * n, 4, 0);
        d->next_desc = (uint16_t)(head + 1);
    } else {
        d->next_desc = (uint16_t)(head + n);
    }
    memcpy(ram_at(d->avail + 4 + 2ull * (d->avail_idx % d->num)), &head, 2);
    d->avail_idx++;
    memcpy(ram_at(d->avail + 2), &d->avail_idx, 2);
}

/* 5.2.6: header (sometimes split over two buffers), data, status; DISCARD/WRITE_ZEROES carry one range. */
static unsigned blk_request(struct fz *in, struct seg *segs, uint8_t *hdr, uint8_t *range)
{
    static const uint32_t types[] = {0, 1, 4, 8, 11, 13, 0, 1};
    uint8_t ctl = fz_u8(in);
    uint32_t type = (ctl & 0x80) ? fz_u32(in) : types[ctl & 7];
    uint8_t ssel = fz_u8(in);
    uint64_t cap = fv_hdr()->config.blk.capacity_sectors;
    uint64_t sector = (ssel & 3) == 0   ? ssel >> 2
                      : (ssel & 3) == 1 ? cap - (ssel >> 2)
                      : (ssel & 3) == 2 ? cap
                                        : fz_u64(in);
    memset(hdr, 0, 16);
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    unsigned n = 0;
    if (ctl & 0x08) {
        segs[n++] = (struct seg){8, false, hdr};
        segs[n++] = (struct seg){8, false, hdr + 8};
    } else {
        segs[n++] = (struct seg){16, false, hdr};
    }
    if (type == 11 || type == 13) {
        uint64_t rs = fz_bool(in) ? sector : fz_u64(in);
        uint32_t nsec = fz_u8(in);
        uint32_t flags = fz_u8(in) & 3;
        memcpy(range, &rs, 8);
        memcpy(range + 8, &nsec, 4);
        memcpy(range + 12, &flags, 4);
        segs[n++] = (struct seg){16, false, range};
    } else {
        unsigned ndata = (ctl >> 4) & 3;
        bool dev_writes = type == 0 || type == 8;
        for (unsigned k = 0; k < ndata; k++) {
            segs[n++] = (struct seg){fz_bool(in) ? 512u << (fz_u8(in) & 3) : pick_len(in), dev_writes, NULL};
        }
    }
    if (!(ctl & 0x40)) {
        segs[n++] = (struct seg){1, true, NULL};
    }
    return n;
}

/* A well-formed-looking chain for queue q of the current device, built from the input. */
static void op_chain(struct fz *in)
{
    uint8_t ctl = fz_u8(in);
    unsigned q = (ctl & 1) % num_queues();
    bool indirect = (ctl & 2) != 0;
    bool scramble = (ctl & 4) == 4 && (ctl & 8) == 8;
    struct seg segs[8];
    uint8_t hdr[16], range[16], nethdr[12] = {0};
    unsigned n = 0;
    bool device_reads = (fv_kind == FV_BLK) || q == 1; /* blk requests, net/console transmit */
    if (fv_kind == FV_BLK) {
        n = blk_request(in, segs, hdr, range);
    } else if (fv_kind == FV_NET && device_reads) {
        if (ctl & 0x10) {
            nethdr[0] = fz_u8(in);
            nethdr[1] = fz_u8(in);
        }
        segs[n++] = (struct seg){12, false, nethdr};
        segs[n++] = (struct seg){fz_bool(in) ? 14u + fz_u16(in) % 1600 : pick_len(in), false, NULL};
    } else {
        unsigned k = 1 + (ctl >> 6);
        for (unsigned i = 0; i < k; i++) {
            uint32_t len = fz_bool(in) ? 1u + fz_u8(in) * 8u : pick_len(in);
            segs[n++] = (struct seg){len, !device_reads, NULL};
        }
    }
    add_chain(q, segs, n, indirect, scramble);
    if (ctl & 0x20) {
        fv_write(FV_QUEUE_NOTIFY, q);
    }
}

/* The guest writes raw bytes anywhere in its RAM (an indirect table, a header, a ring). */
static void op_poke(struct fz *in)
{
    uint16_t off = fz_u16(in) % FV_RAM_SIZE;
    uint8_t n = 1 + fz_u8(in) % 16;
    uint8_t buf[16];
    fz_bytes(in, buf, n);
    size_t room = FV_RAM_SIZE - off;
    memcpy(fv_ram + off, buf, n < room ? n : room);
    layout_dirty = true;
}

/* used_event or the avail ring's flags (2.7.7, 2.7.10). */
static void op_suppress(struct fz *in)
{
    uint8_t ctl = fz_u8(in);
    struct drv_queue *d = &dq[(ctl & 1) % num_queues()];
    uint16_t v = (ctl & 2) ? fz_u16(in) : (uint16_t)(d->avail_idx - (ctl >> 4));
    uint64_t where = (ctl & 4) ? d->avail : d->avail + 4 + 2ull * d->num;
    memcpy(ram_at(where), &v, 2);
}

/* ---- device bring-up (3.1.1) through the register file ---- */

static uint64_t device_features(void)
{
    fv_write(FV_DEV_FEATURES_SEL, 0);
    uint64_t f = fv_read(FV_DEV_FEATURES);
    fv_write(FV_DEV_FEATURES_SEL, 1);
    return f | ((uint64_t)fv_read(FV_DEV_FEATURES) << 32);
}

static void queue_setup(unsigned q)
{
    struct drv_queue *d = &dq[q];
    fv_write(FV_QUEUE_SEL, q);
    uint32_t max = fv_read(FV_QUEUE_NUM_MAX);
    d->num = (uint16_t)fv_pow2((queue_sizes >> (4 * q)) & 0xf, max == 0 ? 1 : max);
    d->desc = FZ_RAM_GPA + QUEUE_AREA * q;
    d->avail = d->desc + 0x1000;
    d->used = d->desc + 0x2000;
    d->avail_idx = d->next_desc = 0;
    memset(ram_at(d->avail), 0, 4); /* fresh rings, as a driver allocates them (the rest keeps old bytes) */
    memset(ram_at(d->used), 0, 4);
    fv_write(FV_QUEUE_NUM, d->num);
    fv_write(FV_DESC_LO, (uint32_t)d->desc);
    fv_write(FV_DESC_HI, (uint32_t)(d->desc >> 32));
    fv_write(FV_DRIVER_LO, (uint32_t)d->avail);
    fv_write(FV_DRIVER_HI, (uint32_t)(d->avail >> 32));
    fv_write(FV_DEVICE_LO, (uint32_t)d->used);
    fv_write(FV_DEVICE_HI, (uint32_t)(d->used >> 32));
    fv_write(FV_QUEUE_READY, 1);
}

static void bringup(void)
{
    fv_write(FV_STATUS, 0);
    fv_write(FV_STATUS, FV_S_ACK);
    fv_write(FV_STATUS, FV_S_ACK | FV_S_DRIVER);
    uint64_t f = device_features() & want_features;
    fv_write(FV_DRV_FEATURES_SEL, 0);
    fv_write(FV_DRV_FEATURES, (uint32_t)f);
    fv_write(FV_DRV_FEATURES_SEL, 1);
    fv_write(FV_DRV_FEATURES, (uint32_t)(f >> 32));
    fv_write(FV_STATUS, FV_S_ACK | FV_S_DRIVER | FV_S_FEATURES_OK);
    for (unsigned q = 0; q < num_queues(); q++) {
        queue_setup(q);
    }
    fv_write(FV_STATUS, FV_S_ACK | FV_S_DRIVER | FV_S_FEATURES_OK | FV_S_DRIVER_OK);
    last_published[0] = last_published[1] = 0;
}

/* Status = 0 with requests in flight, then (maybe) a new bring-up with the same layout. */
static void op_reset(struct fz *in)
{
    uint8_t b = fz_u8(in);
    if (b & 1) {
        guest_run_reset_hooks(); /* what guest_restart() does */
    } else {
        fv_write(FV_STATUS, 0);
    }
    last_published[0] = last_published[1] = 0;
    status_before = fv_vdev()->status; /* a fresh device from here on */
    if (!(b & 2)) {
        bringup();
    }
}

/* Any register access (QueueNotify with any index, InterruptACK, config space, late queue writes). */
static void op_register(struct fz *in)
{
    uint8_t mode = fz_u8(in);
    uint64_t off = fz_u16(in) % VIRTIO_MMIO_REGION_SIZE;
    uint64_t v = fz_u32(in);
    fv_access(off, 1u << (mode & 3), (mode & 4) != 0, &v);
    if (mode & 4) {
        layout_dirty = true; /* rings may move after a reset */
    }
}

static void run_op(struct fz *in)
{
    uint8_t op = fz_u8(in);
    bool irq_taken = false;
    begin_op();
    switch (op % 14) {
    case 0:
    case 1:
        op_desc(in);
        break;
    case 2:
        op_avail(in);
        break;
    case 3:
    case 4:
        op_chain(in);
        break;
    case 5:
        op_poke(in);
        break;
    case 6: {
        uint8_t q = fz_u8(in);
        fv_write(FV_QUEUE_NOTIFY, (q & 0x80) ? fz_u32(in) : q & 1);
        break;
    }
    case 7:
    case 8:
        op_backend(in);
        break;
    case 9:
        fv_take_irq(fz_bool(in));
        irq_taken = true;
        break;
    case 10:
        op_suppress(in);
        break;
    case 11:
        if (fz_u8(in) & 1) {
            op_corrupt(in);
        } else {
            op_backend_config(in);
        }
        break;
    case 12:
        op_reset(in);
        break;
    default:
        op_register(in);
        break;
    }
    check_all(irq_taken);
}

/* FZ_TRACE=1: where an input left the device (for writing seeds and replaying findings). */
static void trace_end(void)
{
    static int on = -1;
    if (on < 0) {
        on = getenv("FZ_TRACE") != NULL;
    }
    if (!on) {
        return;
    }
    const struct virtio_mmio_device *d = fv_vdev();
    fprintf(stderr, "device %s: status 0x%x, interrupt 0x%x, guest errors %lu\n", d->name, d->status,
            d->interrupt_status, d->guest_errors);
    for (unsigned i = 0; i < d->num_queues; i++) {
        const struct vqueue *q = &d->queues[i];
        fprintf(stderr, "  queue %u: ready %d size %u, taken %u, used %u\n", i, q->ready, q->num, q->last_avail,
                q->used_idx);
    }
    fprintf(stderr,
            "  backend holds %u; blk stale %lu bad %lu; net tx %lu rx %lu dropped %lu bad %lu; console %lu/%lu\n",
            num_held, fv_blk.stale_responses, fv_blk.bad_responses, fv_net.tx_packets, fv_net.rx_packets,
            fv_net.rx_dropped, fv_net.bad_responses, fv_con.tx_bytes, fv_con.rx_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    fz_init(&in, data, size);
    uint8_t cfg = fz_u8(&in) & 0x7f; /* always a backend: the register harness covers its absence */
    uint8_t caps = fz_u8(&in);
    uint8_t feat = fz_u8(&in);
    queue_sizes = fz_u8(&in);
    enum fv_kind kind = (cfg & 3) == 3 ? FV_BLK : (enum fv_kind)(cfg & 3);
    fv_setup(kind, cfg, caps);
    want_features = FV_F_VERSION_1 | ((feat & 1) ? FV_F_EVENT_IDX : 0) | ((feat & 2) ? FV_F_INDIRECT : 0) |
                    ((feat & 4) ? 0xffffffull : 0) | ((feat & 8) ? F_NET_MRG_RXBUF : 0);
    memset(dq, 0, sizeof(dq));
    buf_cursor = 0;
    layout_dirty = false;
    num_tables = 0;
    backend_reset();
    begin_op();
    bringup();
    check_all(false);
    for (unsigned i = 0; i < MAX_OPS && !fz_empty(&in); i++) {
        run_op(&in);
    }
    trace_end();
    return 0;
}
