/*
 * virtio-blk, guest side (virtio 1.2 section 5.2): configuration space,
 * feature offer, request parsing and completion. The backend side (slots,
 * backend requests, responses) is in blk_io.c.
 *
 * A request is read as two byte streams (2.6.4: no assumptions about
 * framing): the device-readable part starts with the 16-byte header (OUT
 * data follows it), the device-writable part ends with the status byte (IN
 * data and the GET_ID string precede it).
 */
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/virtio/blk.h>
#include <microkit.h>
#include "virtio/barrier.h"
#include "virtio/blk_internal.h"
#include "virtio/queue.h"
#include "virtio/shq_client.h"
#include "virtio/transport.h"
#include "virtio/virtio_spec.h"

/* 5.2.3 feature bits. */
#define VIO_BLK_F_SIZE_MAX 1
#define VIO_BLK_F_SEG_MAX 2
#define VIO_BLK_F_RO 5
#define VIO_BLK_F_BLK_SIZE 6
#define VIO_BLK_F_FLUSH 9
#define VIO_BLK_F_DISCARD 13
#define VIO_BLK_F_WRITE_ZEROES 14

/* 5.2.4 struct virtio_blk_config offsets. */
#define CFG_CAPACITY 0x00
#define CFG_SIZE_MAX 0x08
#define CFG_SEG_MAX 0x0c
#define CFG_BLK_SIZE 0x14
#define CFG_NUM_QUEUES 0x22
#define CFG_MAX_DISCARD_SECTORS 0x24
#define CFG_MAX_DISCARD_SEG 0x28
#define CFG_DISCARD_ALIGNMENT 0x2c
#define CFG_MAX_WZ_SECTORS 0x30
#define CFG_MAX_WZ_SEG 0x34
#define CFG_SIZE 0x3c

/* Largest DISCARD / WRITE_ZEROES range: its byte count must fit a backend request. */
#define BLK_MAX_RANGE_SECTORS 0x3fffffu

static struct virtio_blk_device *to_blk(struct virtio_mmio_device *d)
{
    return (struct virtio_blk_device *)d;
}

static bool range_ok(const struct virtio_blk_device *b, uint64_t sector, uint64_t nsectors)
{
    return sector <= b->cfg.capacity_sectors && nsectors <= b->cfg.capacity_sectors - sector;
}

/* Finish a chain without the backend: status byte last, used length = data + status. */
static void finish_chain(struct virtio_blk_device *b, const struct vqueue_chain *c, uint8_t status, uint32_t written)
{
    vqueue_chain_write(c, c->write_bytes - 1, &status, 1);
    vqueue_push(&b->vdev.queues[0], c->head, written + 1);
}

void virtio_blk_complete(struct virtio_blk_device *b, unsigned ri)
{
    struct virtio_blk_req *r = &b->reqs[ri];
    finish_chain(b, &r->chain, r->status, r->written);
    virtio_blk_io_req_free(b, ri);
}

static void get_id(struct virtio_blk_device *b, const struct vqueue_chain *c)
{
    uint32_t room = c->write_bytes - 1;
    uint32_t n = room < VIO_BLK_ID_BYTES ? room : VIO_BLK_ID_BYTES;
    vqueue_chain_write(c, 0, b->cfg.serial, n);
    finish_chain(b, c, VIO_BLK_S_OK, n);
}

/* 5.2.6.2: DISCARD / WRITE_ZEROES, one range per request (max_*_seg = 1). */
static uint8_t parse_range(struct virtio_blk_device *b, const struct vqueue_chain *c, uint8_t type,
                           struct virtio_blk_req *r)
{
    uint8_t seg[16];
    if (c->read_bytes != VIO_BLK_HDR_BYTES + sizeof(seg) ||
        vqueue_chain_read(c, VIO_BLK_HDR_BYTES, seg, sizeof(seg)) != sizeof(seg)) {
        return VIO_BLK_S_IOERR;
    }
    uint64_t sector = vio_get_le64(seg);
    uint32_t nsectors = vio_get_le32(seg + 8);
    uint32_t flags = vio_get_le32(seg + 12);
    if ((flags & ~1u) != 0 || (type == VIO_BLK_T_DISCARD && (flags & 1u))) {
        return VIO_BLK_S_UNSUPP; /* reserved bits, or unmap on a discard */
    }
    if (nsectors > BLK_MAX_RANGE_SECTORS || !range_ok(b, sector, nsectors)) {
        return VIO_BLK_S_IOERR;
    }
    r->sector = sector;
    r->nsectors = nsectors;
    r->total = nsectors == 0 ? 0 : 1;
    return VIO_BLK_S_OK;
}

/* Fill r from the request; VIO_BLK_S_OK if it goes to the backend (or is done when r->total is 0). */
static uint8_t parse(struct virtio_blk_device *b, const struct vqueue_chain *c, uint32_t type, uint64_t sector,
                     struct virtio_blk_req *r)
{
    bool ro = b->cfg.read_only != 0;
    r->type = (uint8_t)type;
    r->sector = sector;
    switch (type) {
    case VIO_BLK_T_IN:
    case VIO_BLK_T_OUT: {
        bool in = type == VIO_BLK_T_IN;
        uint32_t bytes = in ? c->write_bytes - 1 : c->read_bytes - VIO_BLK_HDR_BYTES;
        if (!in && ro) {
            return VIO_BLK_S_IOERR; /* 5.2.6.2: RO device, no data written */
        }
        if ((in ? c->read_bytes != VIO_BLK_HDR_BYTES : c->write_bytes != 1) || bytes % VIO_BLK_SECTOR != 0 ||
            !range_ok(b, sector, bytes / VIO_BLK_SECTOR)) {
            return VIO_BLK_S_IOERR;
        }
        r->total = bytes;
        return VIO_BLK_S_OK;
    }
    case VIO_BLK_T_FLUSH:
        if (!b->cfg.flush) {
            return VIO_BLK_S_UNSUPP;
        }
        r->total = 1;
        return VIO_BLK_S_OK;
    case VIO_BLK_T_DISCARD:
    case VIO_BLK_T_WRITE_ZEROES:
        if (!(type == VIO_BLK_T_DISCARD ? b->cfg.discard : b->cfg.write_zeroes)) {
            return VIO_BLK_S_UNSUPP;
        }
        if (ro) {
            return VIO_BLK_S_IOERR;
        }
        return parse_range(b, c, (uint8_t)type, r);
    default:
        return VIO_BLK_S_UNSUPP;
    }
}

/*
 * Take the request at head: answer it at once, or give it a request record
 * and send it to the backend. False if it could not be sent in full (it
 * waits in b->blocked_req) or the device broke. A record must be free.
 */
static bool take_request(struct virtio_blk_device *b, uint16_t head)
{
    struct vqueue_chain c = {.segs = b->scratch, .max_segs = VQUEUE_MAX_SIZE};
    if (vqueue_walk(&b->vdev.queues[0], head, &c) != VQUEUE_CHAIN_OK) {
        virtio_mmio_needs_reset(&b->vdev, "malformed descriptor chain");
        return false;
    }
    if (c.write_bytes == 0) {
        virtio_mmio_needs_reset(&b->vdev, "request without a status byte");
        return false;
    }
    uint8_t hdr[VIO_BLK_HDR_BYTES];
    if (vqueue_chain_read(&c, 0, hdr, sizeof(hdr)) != sizeof(hdr) || c.nsegs > VIRTIO_BLK_SEG_MAX + 2) {
        b->vdev.guest_errors++;
        LOG_GUEST(LOG_LEVEL_WARN, "virtio-blk: request %u: short header or more than %u segments", head,
                  VIRTIO_BLK_SEG_MAX);
        finish_chain(b, &c, VIO_BLK_S_IOERR, 0);
        return true;
    }
    if (vio_get_le32(hdr) == VIO_BLK_T_GET_ID) {
        get_id(b, &c);
        return true;
    }
    unsigned ri = virtio_blk_io_req_alloc(b);
    struct virtio_blk_req *r = &b->reqs[ri];
    r->status = VIO_BLK_S_OK;
    r->parts_out = 0;
    r->submitted = r->written = r->nsectors = 0;
    uint8_t status = parse(b, &c, vio_get_le32(hdr), vio_get_le64(hdr + 8), r);
    if (status != VIO_BLK_S_OK || r->total == 0) {
        if (status != VIO_BLK_S_OK) {
            b->vdev.guest_errors++;
        }
        virtio_blk_io_req_free(b, ri);
        finish_chain(b, &c, status, 0);
        return true;
    }
    r->chain = c;
    r->chain.segs = r->segs;
    r->chain.max_segs = VIRTIO_BLK_SEG_MAX + 2;
    memcpy(r->segs, c.segs, c.nsegs * sizeof(c.segs[0]));
    if (!virtio_blk_io_submit(b, ri)) {
        b->blocked_req = (int)ri;
        return false;
    }
    return true;
}

/* Take guest requests until the queue is empty, a resource runs out or the batch bound is hit. */
static void blk_process(struct virtio_blk_device *b)
{
    struct vqueue *q = virtio_mmio_queue(&b->vdev, 0);
    if (q == NULL || !virtio_mmio_live(&b->vdev)) {
        return;
    }
    if (b->blocked_req >= 0) {
        if (!virtio_blk_io_submit(b, (unsigned)b->blocked_req)) {
            return;
        }
        b->blocked_req = -1;
    }
    uint32_t budget = q->num;
    for (;;) {
        vqueue_notify_off(q);
        while (budget > 0 && virtio_blk_io_req_available(b)) {
            uint16_t head;
            enum vqueue_pop got = vqueue_pop(q, &head);
            if (got == VQUEUE_EMPTY) {
                break;
            }
            if (got == VQUEUE_BROKEN) {
                virtio_mmio_needs_reset(&b->vdev, "avail ring corrupt");
                return;
            }
            budget--;
            if (!take_request(b, head)) {
                return; /* blocked (resumes on a response) or broken */
            }
        }
        if (!virtio_blk_io_req_available(b)) {
            return; /* every record in flight: resumes on a response */
        }
        if (budget == 0) {
            virtio_mmio_defer(&b->vdev, 0);
            return;
        }
        if (!vqueue_notify_on(q)) {
            return;
        }
    }
}

static void kick_backend(struct virtio_blk_device *b)
{
    if (b->kick) {
        b->kick = false;
        microkit_notify(b->vdev.ch);
    }
}

static void blk_queue_notify(struct virtio_mmio_device *d, uint16_t index)
{
    struct virtio_blk_device *b = to_blk(d);
    blk_process(b);
    virtio_mmio_flush(d, 0);
    kick_backend(b);
}

static void blk_activate(struct virtio_mmio_device *d)
{
    (void)d;
}

static void blk_reset(struct virtio_mmio_device *d)
{
    virtio_blk_io_reset(to_blk(d));
}

static const struct virtio_mmio_ops blk_ops = {
    .queue_notify = blk_queue_notify,
    .activate = blk_activate,
    .reset = blk_reset,
};

static void build_config(struct virtio_blk_device *b)
{
    uint8_t *c = b->vdev.config;
    memset(c, 0, VIRTIO_MMIO_CONFIG_MAX);
    vio_put_le64(c + CFG_CAPACITY, b->cfg.capacity_sectors);
    vio_put_le32(c + CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
    vio_put_le32(c + CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
    vio_put_le32(c + CFG_BLK_SIZE, b->cfg.block_size);
    vio_put_le16(c + CFG_NUM_QUEUES, 1);
    vio_put_le32(c + CFG_MAX_DISCARD_SECTORS, BLK_MAX_RANGE_SECTORS);
    vio_put_le32(c + CFG_MAX_DISCARD_SEG, 1);
    vio_put_le32(c + CFG_DISCARD_ALIGNMENT, b->cfg.block_size / VIO_BLK_SECTOR);
    vio_put_le32(c + CFG_MAX_WZ_SECTORS, BLK_MAX_RANGE_SECTORS);
    vio_put_le32(c + CFG_MAX_WZ_SEG, 1);
}

static uint64_t offered_features(const struct shq_blk_config *cfg)
{
    uint64_t f = VIO_BIT(VIO_BLK_F_SIZE_MAX) | VIO_BIT(VIO_BLK_F_SEG_MAX) | VIO_BIT(VIO_BLK_F_BLK_SIZE) |
                 VIO_BIT(VIO_F_EVENT_IDX) | VIO_BIT(VIO_F_INDIRECT_DESC);
    f |= cfg->read_only ? VIO_BIT(VIO_BLK_F_RO) : 0;
    f |= cfg->flush ? VIO_BIT(VIO_BLK_F_FLUSH) : 0;
    f |= (cfg->discard && !cfg->read_only) ? VIO_BIT(VIO_BLK_F_DISCARD) : 0;
    f |= (cfg->write_zeroes && !cfg->read_only) ? VIO_BIT(VIO_BLK_F_WRITE_ZEROES) : 0;
    return f;
}

/* Read the backend's configuration once and check it; size the data-area slots. */
static bool attach_backend(struct virtio_blk_device *b, void *region, size_t size)
{
    const char *name = "virtio-blk";
    if (!shq_client_check_header(region, size, SHQ_KIND_BLK, name) ||
        !shq_client_attach(&b->req_ring, region, 0, sizeof(struct shq_blk_request), true, name) ||
        !shq_client_attach(&b->resp_ring, region, 1, sizeof(struct shq_blk_response), false, name)) {
        return false;
    }
    vio_snapshot(&b->cfg, &((const struct shq_header *)region)->config.blk, sizeof(b->cfg));
    uint32_t bs = b->cfg.block_size;
    if (bs < VIO_BLK_SECTOR || bs > VIRTIO_BLK_SLOT_BYTES || (bs & (bs - 1)) != 0 || b->cfg.max_request_bytes < bs) {
        LOG_ERR("%s: backend block size %u or largest request %u unusable", name, bs, b->cfg.max_request_bytes);
        return false;
    }
    uint32_t slot = b->cfg.max_request_bytes < VIRTIO_BLK_SLOT_BYTES ? b->cfg.max_request_bytes : VIRTIO_BLK_SLOT_BYTES;
    b->slot_bytes = slot & ~(bs - 1);
    size_t slots = (size - SHQ_DATA_OFFSET) / b->slot_bytes;
    b->num_slots = slots > 64 ? 64 : (uint32_t)slots;
    b->region = region;
    b->region_size = size;
    return true;
}

bool virtio_blk_init(struct virtio_blk_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
                     size_t region_size, microkit_channel ch)
{
    if (dev == NULL) {
        LOG_ERR("no device given");
        return false;
    }
    memset(dev, 0, sizeof(*dev));
    bool present = attach_backend(dev, shq_region, region_size);
    if (present) {
        build_config(dev);
        virtio_blk_io_init(dev);
    }
    const struct virtio_mmio_params params = {
        .name = "virtio-blk",
        .device_id = VIO_ID_BLOCK,
        .features = present ? offered_features(&dev->cfg) : 0,
        .num_queues = 1,
        .queue_max = VIRTIO_BLK_QUEUE_SIZE,
        .config_size = CFG_SIZE,
        .ops = &blk_ops,
    };
    return virtio_mmio_register(&dev->vdev, &params, gpa, vcpu, irq, ch, present);
}

/* The backend may grow or shrink the disk: 5.2.4 capacity, with a config-change interrupt. */
static void check_capacity(struct virtio_blk_device *b)
{
    uint64_t cap;
    vio_snapshot(&cap, &((const struct shq_header *)b->region)->config.blk.capacity_sectors, sizeof(cap));
    if (cap != b->cfg.capacity_sectors) {
        b->cfg.capacity_sectors = cap;
        vio_put_le64(b->vdev.config + CFG_CAPACITY, cap);
        virtio_mmio_config_changed(&b->vdev);
    }
}

void virtio_blk_handle_notification(struct virtio_blk_device *dev)
{
    if (dev == NULL || !dev->vdev.present) {
        return;
    }
    virtio_blk_io_reap(dev);
    check_capacity(dev);
    blk_process(dev);
    virtio_mmio_flush(&dev->vdev, 0);
    kick_backend(dev);
    virtio_mmio_run_deferred(&dev->vdev);
}
