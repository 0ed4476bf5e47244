/*
 * virtio-net (virtio 1.2 section 5.1): configuration, feature offer and the
 * transmit path (5.1.6.2). The receive path is in net_rx.c.
 *
 * Data-area buffers: [0, ntx) carry transmitted frames to the backend,
 * [ntx, ntx + nrx) are posted for received frames. Each buffer's owner is
 * tracked, so the backend can only ever return a buffer it holds.
 */
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/virtio/net.h>
#include <microkit.h>
#include "virtio/barrier.h"
#include "virtio/net_internal.h"
#include "virtio/queue.h"
#include "virtio/shq_client.h"
#include "virtio/transport.h"
#include "virtio/virtio_spec.h"

/* 5.1.4 struct virtio_net_config offsets. */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MAX_PAIRS 8
#define CFG_MTU 10
#define CFG_SIZE 12

#define NET_MIN_MTU 68u

static struct virtio_net_device *to_net(struct virtio_mmio_device *d)
{
    return (struct virtio_net_device *)d;
}

int virtio_net_buf_index(const struct virtio_net_device *n, uint32_t off, unsigned first, unsigned count)
{
    if (off < SHQ_DATA_OFFSET || (off - SHQ_DATA_OFFSET) % n->buf_size != 0) {
        return -1;
    }
    uint32_t i = (off - SHQ_DATA_OFFSET) / n->buf_size;
    return i >= first && i - first < count ? (int)i : -1;
}

static void kick_backend(struct virtio_net_device *n)
{
    if (n->kick) {
        n->kick = false;
        microkit_notify(n->vdev.ch);
    }
}

/* The frame of a transmit chain is acceptable (5.1.6.2.1: no offload offered, so flags and gso_type are 0). */
static bool tx_frame_ok(struct virtio_net_device *n, const struct vqueue_chain *c)
{
    uint8_t hdr[VIO_NET_HDR_BYTES];
    if (c->read_bytes < VIO_NET_HDR_BYTES + NET_ETH_HDR || c->read_bytes - VIO_NET_HDR_BYTES > n->max_frame) {
        LOG_GUEST(LOG_LEVEL_WARN, "virtio-net: transmit of %u bytes dropped (max frame %u)", c->read_bytes,
                  n->max_frame);
        return false;
    }
    vqueue_chain_read(c, 0, hdr, sizeof(hdr));
    if (hdr[VIO_NET_HDR_FLAGS] != 0 || hdr[VIO_NET_HDR_GSO_TYPE] != 0) {
        LOG_GUEST(LOG_LEVEL_WARN, "virtio-net: transmit asks for offload (flags 0x%x, gso 0x%x): dropped",
                  hdr[VIO_NET_HDR_FLAGS], hdr[VIO_NET_HDR_GSO_TYPE]);
        return false;
    }
    return true;
}

/* Copy one frame into a free TX buffer and hand it to the backend (ring 0). */
static void send_frame(struct virtio_net_device *n, const struct vqueue_chain *c)
{
    uint32_t len = c->read_bytes - VIO_NET_HDR_BYTES;
    unsigned i = n->tx_free[--n->tx_free_count];
    vqueue_chain_read(c, VIO_NET_HDR_BYTES, net_buf_ptr(n, i), len);
    n->buf_state[i] = NET_BUF_TX;
    struct shq_net_buffer *e = shq_client_entry(&n->tx_ring, 0);
    e->data_offset = net_buf_offset(n, i);
    e->len = len;
    shq_client_produce(&n->tx_ring, 1);
    n->kick = true;
    n->tx_packets++;
}

/* Take one transmit chain. False if the device broke. */
static bool take_tx(struct virtio_net_device *n, struct vqueue *q, uint16_t head)
{
    struct vqueue_chain c = {.segs = n->scratch, .max_segs = VQUEUE_MAX_SIZE};
    if (vqueue_walk(q, head, &c) != VQUEUE_CHAIN_OK || c.write_bytes != 0) {
        virtio_mmio_needs_reset(&n->vdev, "malformed transmit chain");
        return false;
    }
    if (tx_frame_ok(n, &c)) {
        send_frame(n, &c);
    } else {
        n->tx_errors++;
        n->vdev.guest_errors++;
    }
    vqueue_push(q, head, 0);
    return true;
}

/* One transmit step: a frame to the backend, unless TX buffers or ring space ran out. */
static enum virtio_drain_step net_tx_step(struct virtio_mmio_device *d, struct vqueue *q)
{
    struct virtio_net_device *n = to_net(d);
    if (n->tx_free_count == 0 || shq_client_space(&n->tx_ring) == 0) {
        n->tx_blocked = true; /* resumes when the backend returns buffers */
        return VIRTIO_DRAIN_STOP;
    }
    uint16_t head;
    enum vqueue_pop got = vqueue_pop(q, &head);
    if (got == VQUEUE_EMPTY) {
        return VIRTIO_DRAIN_EMPTY;
    }
    if (got == VQUEUE_BROKEN) {
        virtio_mmio_needs_reset(d, "transmit avail ring corrupt");
        return VIRTIO_DRAIN_STOP;
    }
    return take_tx(n, q, head) ? VIRTIO_DRAIN_TOOK : VIRTIO_DRAIN_STOP;
}

/* Transmit until the queue is empty, TX buffers or ring space run out, or the batch bound is hit. */
static void net_tx(struct virtio_net_device *n)
{
    n->tx_blocked = false;
    virtio_mmio_drain(&n->vdev, NET_TXQ, net_tx_step);
}

/* Ring 1: the backend is done with transmitted frames. True if any buffer came back. */
static bool reclaim_tx(struct virtio_net_device *n)
{
    uint32_t avail = shq_client_avail(&n->tx_done_ring);
    for (uint32_t k = 0; k < avail; k++) {
        struct shq_net_buffer e;
        vio_snapshot(&e, shq_client_entry(&n->tx_done_ring, k), sizeof(e));
        int i = virtio_net_buf_index(n, e.data_offset, 0, n->ntx);
        if (i < 0 || n->buf_state[i] != NET_BUF_TX) {
            LOG_GUEST(LOG_LEVEL_ERROR, "virtio-net: backend returned transmit buffer 0x%x it does not hold",
                      e.data_offset);
            n->bad_responses++;
            continue;
        }
        n->buf_state[i] = NET_BUF_VMM;
        n->tx_free[n->tx_free_count++] = (uint16_t)i;
    }
    shq_client_consume(&n->tx_done_ring, avail);
    return avail > 0;
}

static void net_queue_notify(struct virtio_mmio_device *d, uint16_t index)
{
    struct virtio_net_device *n = to_net(d);
    if (index == NET_TXQ) {
        net_tx(n);
        kick_backend(n);
    }
    /* Receive buffers are only used when a frame arrives; nothing to do on a receive kick. */
}

static void net_activate(struct virtio_mmio_device *d)
{
    (void)d;
}

static void net_reset(struct virtio_mmio_device *d)
{
    /* Buffers stay where they are: the backend still owns the ones it holds. */
    to_net(d)->tx_blocked = false;
}

static const struct virtio_mmio_ops net_ops = {
    .queue_notify = net_queue_notify,
    .activate = net_activate,
    .reset = net_reset,
};

static void build_config(struct virtio_net_device *n)
{
    uint8_t *c = n->vdev.config;
    memset(c, 0, VIRTIO_MMIO_CONFIG_MAX);
    memcpy(c + CFG_MAC, n->cfg.mac, sizeof(n->cfg.mac));
    vio_put_le16(c + CFG_STATUS, n->cfg.link_up ? VIO_NET_S_LINK_UP : 0);
    vio_put_le16(c + CFG_MAX_PAIRS, 1);
    vio_put_le16(c + CFG_MTU, (uint16_t)n->mtu);
}

static uint64_t offered_features(const struct virtio_net_device *n)
{
    static const uint8_t zero_mac[6];
    uint64_t f = VIO_BIT(VIO_NET_F_STATUS) | VIO_BIT(VIO_NET_F_MTU) | VIO_BIT(VIO_NET_F_MRG_RXBUF) |
                 VIO_BIT(VIO_F_EVENT_IDX) | VIO_BIT(VIO_F_INDIRECT_DESC);
    if (memcmp(n->cfg.mac, zero_mac, sizeof(zero_mac)) != 0) {
        f |= VIO_BIT(VIO_NET_F_MAC);
    }
    return f;
}

/* Split the data area into buffers; every buffer starts in the VMM's hands. */
static bool carve_buffers(struct virtio_net_device *n, size_t size)
{
    n->buf_size = (n->max_frame + 63u) & ~63u;
    size_t nbufs = (size - SHQ_DATA_OFFSET) / n->buf_size;
    nbufs = nbufs > VIRTIO_NET_MAX_BUFS ? VIRTIO_NET_MAX_BUFS : nbufs;
    uint32_t nrx = (uint32_t)nbufs / 2;
    n->nrx = (uint16_t)(nrx < n->rx_free_ring.capacity ? nrx : n->rx_free_ring.capacity);
    uint32_t ntx = (uint32_t)nbufs - n->nrx;
    n->ntx = (uint16_t)(ntx < n->tx_ring.capacity ? ntx : n->tx_ring.capacity);
    if (n->ntx == 0 || n->nrx == 0) {
        LOG_ERR("virtio-net: data area too small for buffers of %u bytes", n->buf_size);
        return false;
    }
    for (unsigned i = 0; i < n->ntx; i++) {
        n->tx_free[i] = (uint16_t)(n->ntx - 1 - i);
    }
    n->tx_free_count = n->ntx;
    for (unsigned i = 0; i < n->nrx; i++) {
        n->rx_idle[i] = (uint16_t)(n->ntx + n->nrx - 1 - i);
    }
    n->rx_idle_count = n->nrx;
    return true;
}

static bool attach_backend(struct virtio_net_device *n, void *region, size_t size)
{
    const char *name = "virtio-net";
    const uint32_t esize = sizeof(struct shq_net_buffer);
    if (!shq_client_check_header(region, size, SHQ_KIND_NET, name) ||
        !shq_client_attach(&n->tx_ring, region, 0, esize, true, name) ||
        !shq_client_attach(&n->tx_done_ring, region, 1, esize, false, name) ||
        !shq_client_attach(&n->rx_free_ring, region, 2, esize, true, name) ||
        !shq_client_attach(&n->rx_ring, region, 3, esize, false, name)) {
        return false;
    }
    vio_snapshot(&n->cfg, &((const struct shq_header *)region)->config.net, sizeof(n->cfg));
    n->mtu = n->cfg.mtu == 0 ? VIRTIO_NET_DEFAULT_MTU : n->cfg.mtu;
    if (n->mtu < NET_MIN_MTU || n->mtu > VIRTIO_NET_MAX_MTU) {
        LOG_ERR("%s: backend MTU %u outside %u..%u", name, n->mtu, NET_MIN_MTU, VIRTIO_NET_MAX_MTU);
        return false;
    }
    n->max_frame = n->mtu + NET_ETH_HDR + NET_VLAN_TAG;
    n->region = region;
    n->region_size = size;
    return carve_buffers(n, size);
}

bool virtio_net_init(struct virtio_net_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
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
    }
    const struct virtio_mmio_params params = {
        .name = "virtio-net",
        .device_id = VIO_ID_NET,
        .features = present ? offered_features(dev) : 0,
        .num_queues = 2,
        .queue_max = VIRTIO_NET_QUEUE_SIZE,
        .config_size = CFG_SIZE,
        .ops = &net_ops,
    };
    if (!virtio_mmio_register(&dev->vdev, &params, gpa, vcpu, irq, ch, present)) {
        return false;
    }
    if (present) {
        virtio_net_rx_refill(dev);
        kick_backend(dev);
    }
    return true;
}

/* 5.1.4: the link state follows the backend's; a change is a configuration change. */
static void check_link(struct virtio_net_device *n)
{
    uint8_t up = *(const volatile uint8_t *)&((const struct shq_header *)n->region)->config.net.link_up;
    if ((up != 0) != (n->cfg.link_up != 0)) {
        n->cfg.link_up = up;
        vio_put_le16(n->vdev.config + CFG_STATUS, up ? VIO_NET_S_LINK_UP : 0);
        virtio_mmio_config_changed(&n->vdev);
    }
}

void virtio_net_handle_notification(struct virtio_net_device *dev)
{
    if (dev == NULL || !dev->vdev.present) {
        return;
    }
    if (reclaim_tx(dev) && dev->tx_blocked) {
        net_tx(dev);
    }
    virtio_net_rx_receive(dev);
    check_link(dev);
    kick_backend(dev);
    virtio_mmio_run_deferred(&dev->vdev);
}
