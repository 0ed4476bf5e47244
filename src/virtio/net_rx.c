/*
 * virtio-net receive path (virtio 1.2 sections 5.1.6.3, 5.1.6.4): keep the
 * backend stocked with free buffers (ring 2), copy the frames it fills
 * (ring 3) into the guest's receive buffers. The backend is never stalled:
 * a frame nobody can take is dropped and counted, and its buffer goes
 * straight back to the backend.
 */
#include <string.h>
#include <libvmm/log.h>
#include "virtio/barrier.h"
#include "virtio/net_internal.h"
#include "virtio/queue.h"
#include "virtio/shq_client.h"
#include "virtio/transport.h"
#include "virtio/virtio_spec.h"

void virtio_net_rx_refill(struct virtio_net_device *n)
{
    uint32_t space = shq_client_space(&n->rx_free_ring);
    uint32_t k = 0;
    while (k < space && n->rx_idle_count > 0) {
        unsigned i = n->rx_idle[--n->rx_idle_count];
        struct shq_net_buffer *e = shq_client_entry(&n->rx_free_ring, k++);
        e->data_offset = net_buf_offset(n, i);
        e->len = n->buf_size;
        n->buf_state[i] = NET_BUF_RX;
    }
    if (k > 0) {
        shq_client_produce(&n->rx_free_ring, k);
        n->kick = true;
    }
}

enum rx_result {
    RX_DELIVERED,
    RX_NO_BUFFER,
    RX_BROKEN,
};

/* Take the next receive chain; RX_NO_BUFFER if the guest has none. */
static enum rx_result next_chain(struct virtio_net_device *n, struct vqueue *q, struct vqueue_chain *c)
{
    uint16_t head;
    enum vqueue_pop got = vqueue_pop(q, &head);
    if (got == VQUEUE_EMPTY) {
        return RX_NO_BUFFER;
    }
    if (got == VQUEUE_BROKEN) {
        virtio_mmio_needs_reset(&n->vdev, "receive avail ring corrupt");
        return RX_BROKEN;
    }
    if (vqueue_walk(q, head, c) != VQUEUE_CHAIN_OK || c->read_bytes != 0) {
        virtio_mmio_needs_reset(&n->vdev, "malformed receive chain");
        return RX_BROKEN;
    }
    return RX_DELIVERED;
}

/* Take back what a frame that cannot be delivered already used: nothing of it is published. */
static enum rx_result undo(struct vqueue *q, enum rx_result r, uint16_t popped, uint16_t pushed)
{
    if (r == RX_NO_BUFFER) {
        vqueue_unpop(q, popped); /* the chains stay the guest's for the next frame */
    }
    vqueue_unpush(q, pushed);
    return r;
}

/*
 * Copy header + frame into as many receive chains as it takes (one without
 * MRG_RXBUF, 5.1.6.3.1). Nothing is published if the guest runs out first.
 */
static enum rx_result deliver(struct virtio_net_device *n, struct vqueue *q, const uint8_t *frame, uint32_t len)
{
    bool mrg = virtio_mmio_has(&n->vdev, VIO_NET_F_MRG_RXBUF);
    uint8_t hdr[VIO_NET_HDR_BYTES] = {0};
    uint32_t total = VIO_NET_HDR_BYTES + len;
    uint32_t done = 0;
    uint16_t chains = 0;
    struct vqueue_chain first = {.segs = n->rx_first, .max_segs = VQUEUE_MAX_SIZE};
    struct vqueue_chain more = {.segs = n->scratch, .max_segs = VQUEUE_MAX_SIZE};
    while (done < total) {
        struct vqueue_chain *c = chains == 0 ? &first : &more;
        enum rx_result r = next_chain(n, q, c);
        if (r != RX_DELIVERED) {
            return undo(q, r, chains, chains);
        }
        chains++;
        if (!mrg && c->write_bytes < total) {
            vqueue_push(q, c->head, 0); /* 5.1.6.3.1: too small for the frame; the driver recycles it */
            LOG_GUEST(LOG_LEVEL_WARN, "virtio-net: receive buffer of %u bytes for a %u-byte frame", c->write_bytes,
                      total);
            return RX_NO_BUFFER;
        }
        if (c->write_bytes < VIO_NET_HDR_BYTES) {
            virtio_mmio_needs_reset(&n->vdev, "merged receive buffer smaller than the header");
            return undo(q, RX_BROKEN, 0, (uint16_t)(chains - 1));
        }
        uint32_t off = 0;
        if (chains == 1) {
            vqueue_chain_write(c, 0, hdr, sizeof(hdr));
            off = sizeof(hdr);
        }
        uint32_t room = c->write_bytes - off;
        uint32_t data_done = done == 0 ? 0 : done - VIO_NET_HDR_BYTES;
        uint32_t chunk = len - data_done < room ? len - data_done : room;
        vqueue_chain_write(c, off, frame + data_done, chunk);
        done += off + chunk;
        vqueue_push(q, c->head, off + chunk);
    }
    uint8_t nb[2];
    vio_put_le16(nb, chains); /* 1 without MRG_RXBUF (5.1.6.4) */
    vqueue_chain_write(&first, VIO_NET_HDR_NUM_BUFFERS, nb, sizeof(nb));
    return RX_DELIVERED;
}

/* One filled buffer from the backend: check it, deliver or drop, give it back for reposting. */
static void receive_one(struct virtio_net_device *n, const struct shq_net_buffer *e)
{
    int i = virtio_net_buf_index(n, e->data_offset, n->ntx, n->nrx);
    if (i < 0 || n->buf_state[i] != NET_BUF_RX) {
        LOG_GUEST(LOG_LEVEL_ERROR, "virtio-net: backend returned receive buffer 0x%x it does not hold", e->data_offset);
        n->bad_responses++;
        return;
    }
    n->buf_state[i] = NET_BUF_VMM;
    n->rx_idle[n->rx_idle_count++] = (uint16_t)i;
    if (e->len < NET_ETH_HDR || e->len > n->max_frame) {
        LOG_GUEST(LOG_LEVEL_ERROR, "virtio-net: backend frame of %u bytes dropped (max %u)", e->len, n->max_frame);
        n->bad_responses++;
        return;
    }
    struct vqueue *q = virtio_mmio_queue(&n->vdev, NET_RXQ);
    enum rx_result r = RX_NO_BUFFER;
    if (q != NULL && virtio_mmio_live(&n->vdev)) {
        r = deliver(n, q, net_buf_ptr(n, (unsigned)i), e->len);
    }
    if (r == RX_DELIVERED) {
        n->rx_packets++;
    } else {
        n->rx_dropped++;
    }
}

void virtio_net_rx_receive(struct virtio_net_device *n)
{
    uint32_t avail = shq_client_avail(&n->rx_ring);
    for (uint32_t k = 0; k < avail; k++) {
        struct shq_net_buffer e;
        vio_snapshot(&e, shq_client_entry(&n->rx_ring, k), sizeof(e));
        receive_one(n, &e);
    }
    shq_client_consume(&n->rx_ring, avail);
    if (avail > 0) {
        virtio_mmio_flush(&n->vdev, NET_RXQ);
    }
    virtio_net_rx_refill(n);
}
