/*
 * virtio-blk, backend side: guest requests become shq_blk_requests of at
 * most one data-area slot each (ring 0), answered on ring 1. The backend is
 * untrusted: a response must name a part in flight by its exact id (part
 * index + sequence number), and a data response must report exactly the
 * bytes asked for; anything else is ignored or fails that part, and logged.
 */
#include <string.h>
#include <libvmm/log.h>
#include <microkit.h>
#include "virtio/barrier.h"
#include "virtio/blk_internal.h"
#include "virtio/queue.h"
#include "virtio/shq_client.h"

#define PART_INDEX_BITS 8u

static uint64_t low_bits(unsigned n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

void virtio_blk_io_init(struct virtio_blk_device *b)
{
    b->free_slots = low_bits(b->num_slots);
    b->free_parts = low_bits(VIRTIO_BLK_MAX_PARTS);
    b->free_reqs = (uint32_t)low_bits(VIRTIO_BLK_MAX_REQS);
    b->blocked_req = -1;
    memset(b->parts, 0, sizeof(b->parts));
}

void virtio_blk_io_reset(struct virtio_blk_device *b)
{
    for (unsigned i = 0; i < VIRTIO_BLK_MAX_PARTS; i++) {
        if (b->parts[i].state == BLK_PART_INFLIGHT) {
            b->parts[i].state = BLK_PART_ORPHAN;
        }
    }
    b->free_reqs = (uint32_t)low_bits(VIRTIO_BLK_MAX_REQS);
    b->blocked_req = -1;
}

bool virtio_blk_io_req_available(const struct virtio_blk_device *b)
{
    return b->free_reqs != 0;
}

unsigned virtio_blk_io_req_alloc(struct virtio_blk_device *b)
{
    unsigned ri = (unsigned)__builtin_ctz(b->free_reqs);
    b->free_reqs &= ~(1u << ri);
    return ri;
}

void virtio_blk_io_req_free(struct virtio_blk_device *b, unsigned ri)
{
    b->free_reqs |= 1u << ri;
}

static uint8_t *slot_ptr(const struct virtio_blk_device *b, unsigned slot)
{
    return b->region + SHQ_DATA_OFFSET + (size_t)slot * b->slot_bytes;
}

static void part_free(struct virtio_blk_device *b, unsigned pi)
{
    struct virtio_blk_part *p = &b->parts[pi];
    if (p->slot != BLK_NO_SLOT) {
        b->free_slots |= 1ull << p->slot;
    }
    p->state = BLK_PART_FREE;
    b->free_parts |= 1ull << pi;
}

static uint32_t backend_op(uint8_t type)
{
    switch (type) {
    case VIO_BLK_T_IN:
        return SHQ_BLK_READ;
    case VIO_BLK_T_OUT:
        return SHQ_BLK_WRITE;
    case VIO_BLK_T_FLUSH:
        return SHQ_BLK_FLUSH;
    case VIO_BLK_T_DISCARD:
        return SHQ_BLK_DISCARD;
    default:
        return SHQ_BLK_WRITE_ZEROES;
    }
}

/* Send one part of request ri; false if a resource is missing. */
static bool submit_part(struct virtio_blk_device *b, unsigned ri)
{
    struct virtio_blk_req *r = &b->reqs[ri];
    bool data = r->type == VIO_BLK_T_IN || r->type == VIO_BLK_T_OUT;
    if (b->free_parts == 0 || shq_client_space(&b->req_ring) == 0 || (data && b->free_slots == 0)) {
        return false;
    }
    unsigned pi = (unsigned)__builtin_ctzll(b->free_parts);
    struct virtio_blk_part *p = &b->parts[pi];
    p->slot = BLK_NO_SLOT;
    p->offset = r->submitted;
    p->bytes = 0;
    uint64_t sector = r->sector;
    if (data) {
        p->slot = (uint8_t)__builtin_ctzll(b->free_slots);
        p->bytes = r->total - r->submitted < b->slot_bytes ? r->total - r->submitted : b->slot_bytes;
        sector += r->submitted / VIO_BLK_SECTOR;
        b->free_slots &= ~(1ull << p->slot);
        if (r->type == VIO_BLK_T_OUT) {
            vqueue_chain_read(&r->chain, VIO_BLK_HDR_BYTES + p->offset, slot_ptr(b, p->slot), p->bytes);
        }
    } else if (r->type != VIO_BLK_T_FLUSH) {
        p->bytes = r->nsectors * VIO_BLK_SECTOR;
    }
    b->free_parts &= ~(1ull << pi);
    b->seq++;
    p->id = (b->seq << PART_INDEX_BITS) | pi;
    p->state = BLK_PART_INFLIGHT;
    p->req = (uint8_t)ri;
    p->op = (uint8_t)backend_op(r->type);

    struct shq_blk_request *e = shq_client_entry(&b->req_ring, 0);
    e->op = p->op;
    e->id = p->id;
    e->sector = sector;
    e->bytes = p->bytes;
    e->data_offset = data ? (uint32_t)(slot_ptr(b, p->slot) - b->region) : 0;
    shq_client_produce(&b->req_ring, 1);
    b->kick = true;
    r->submitted += data ? p->bytes : 1;
    r->parts_out++;
    return true;
}

bool virtio_blk_io_submit(struct virtio_blk_device *b, unsigned ri)
{
    struct virtio_blk_req *r = &b->reqs[ri];
    while (r->submitted < r->total) {
        if (!submit_part(b, ri)) {
            return false;
        }
    }
    return true;
}

/* The status a response gives its part (a data part must be answered in full). */
static uint8_t response_status(struct virtio_blk_device *b, const struct virtio_blk_part *p,
                               const struct shq_blk_response *resp)
{
    if (resp->status == SHQ_BLK_UNSUPPORTED) {
        return VIO_BLK_S_UNSUPP;
    }
    if (resp->status != SHQ_BLK_OK) {
        return VIO_BLK_S_IOERR;
    }
    if ((p->op == SHQ_BLK_READ || p->op == SHQ_BLK_WRITE) && resp->bytes_done != p->bytes) {
        LOG_GUEST(LOG_LEVEL_ERROR, "virtio-blk: backend answered id 0x%x with %u bytes of %u: failing it", resp->id,
                  resp->bytes_done, p->bytes);
        b->bad_responses++;
        return VIO_BLK_S_IOERR;
    }
    return VIO_BLK_S_OK;
}

static void handle_response(struct virtio_blk_device *b, const struct shq_blk_response *resp)
{
    unsigned pi = resp->id & ((1u << PART_INDEX_BITS) - 1);
    if (pi >= VIRTIO_BLK_MAX_PARTS || b->parts[pi].state == BLK_PART_FREE || b->parts[pi].id != resp->id) {
        LOG_GUEST(LOG_LEVEL_ERROR, "virtio-blk: backend response with unknown id 0x%x ignored", resp->id);
        b->bad_responses++;
        return;
    }
    struct virtio_blk_part *p = &b->parts[pi];
    if (p->state == BLK_PART_ORPHAN) {
        b->stale_responses++;
        part_free(b, pi);
        return;
    }
    unsigned ri = p->req;
    struct virtio_blk_req *r = &b->reqs[ri];
    uint8_t status = response_status(b, p, resp);
    if (status == VIO_BLK_S_OK && p->op == SHQ_BLK_READ) {
        r->written += (uint32_t)vqueue_chain_write(&r->chain, p->offset, slot_ptr(b, p->slot), p->bytes);
    }
    if (r->status == VIO_BLK_S_OK) {
        r->status = status;
    }
    part_free(b, pi);
    r->parts_out--;
    if (r->parts_out == 0 && r->submitted == r->total) {
        virtio_blk_complete(b, ri);
    }
}

void virtio_blk_io_reap(struct virtio_blk_device *b)
{
    uint32_t n = shq_client_avail(&b->resp_ring);
    for (uint32_t i = 0; i < n; i++) {
        struct shq_blk_response resp;
        vio_snapshot(&resp, shq_client_entry(&b->resp_ring, i), sizeof(resp));
        handle_response(b, &resp);
    }
    shq_client_consume(&b->resp_ring, n);
}
