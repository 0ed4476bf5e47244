/*
 * virtio-net over virtio-mmio (virtio 1.2 section 5.1), backed by a
 * shared-queue network backend (<libvmm/shq.h>, SHQ_KIND_NET).
 *
 * Offered features: VERSION_1, MAC (when the backend has one), STATUS (link
 * state from the backend; a change raises a configuration interrupt), MTU,
 * MRG_RXBUF, RING_EVENT_IDX, INDIRECT_DESC. Checksum and segmentation
 * offloads (CSUM, GUEST_CSUM, GSO/TSO) are NOT offered: the backend does no
 * offload and the device does not compute checksums, so it could not keep
 * the promise. A transmitted header that asks for one anyway is a driver
 * error: the frame is dropped and counted in tx_errors.
 *
 * Every frame is copied: TX frames (without the 12-byte virtio_net_hdr) into
 * a data-area buffer for the backend; received frames into the guest's
 * receive buffers, across several of them with MRG_RXBUF. Frame lengths are
 * checked against the MTU. When the guest has no receive buffer a frame is
 * dropped and counted in rx_dropped: the backend is never stalled. When TX
 * buffers or ring space run out the device stops taking guest frames until
 * the backend returns buffers (back-pressure).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>
#include <libvmm/shq.h>
#include <libvmm/virtio/virtio.h>

#define VIRTIO_NET_QUEUE_SIZE 256u
#define VIRTIO_NET_MAX_BUFS 256u /* data-area buffers, shared between TX and RX */
#define VIRTIO_NET_MAX_MTU 9000u
#define VIRTIO_NET_DEFAULT_MTU 1500u

struct virtio_net_device {
    struct virtio_mmio_device vdev; /* first: the transport's callbacks cast back */
    uint8_t *region;
    size_t region_size;
    struct shq_client_ring tx_ring; /* ring 0 */
    struct shq_client_ring tx_done_ring; /* ring 1 */
    struct shq_client_ring rx_free_ring; /* ring 2 */
    struct shq_client_ring rx_ring; /* ring 3 */
    struct shq_net_config cfg; /* read once; link_up re-read on notifications */
    uint32_t mtu;
    uint32_t max_frame; /* bytes of Ethernet frame, MTU + header + VLAN tag */
    uint32_t buf_size;
    uint16_t ntx;
    uint16_t nrx;
    uint16_t tx_free_count;
    uint16_t rx_idle_count;
    uint16_t tx_free[VIRTIO_NET_MAX_BUFS];
    uint16_t rx_idle[VIRTIO_NET_MAX_BUFS];
    uint8_t buf_state[VIRTIO_NET_MAX_BUFS];
    bool tx_blocked;
    bool kick;
    struct vqueue_seg scratch[VQUEUE_MAX_SIZE];
    struct vqueue_seg rx_first[VQUEUE_MAX_SIZE];
    /* Counters (tests, logs). */
    unsigned long tx_packets;
    unsigned long tx_errors; /* frames the driver got wrong, dropped */
    unsigned long rx_packets;
    unsigned long rx_dropped; /* frames with no guest buffer (or too small a one) */
    unsigned long bad_responses; /* backend entries naming a buffer it does not hold, or bad lengths */
};

/*
 * Set up a virtio-net device; arguments as virtio_blk_init() (see
 * <libvmm/virtio/blk.h>). Posts the receive buffers to the backend.
 */
bool virtio_net_init(struct virtio_net_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
                     size_t region_size, microkit_channel ch);

/* The backend signalled: reclaim TX buffers, deliver received frames, follow the link state. */
void virtio_net_handle_notification(struct virtio_net_device *dev);

/*
 * Occupancy of the device's fixed pools (struct virtio_pool_usage in
 * <libvmm/virtio/virtio.h>), in this order:
 *   tx  transmit buffers held by the backend (sent, not returned yet), of
 *       the transmit buffers carved from the data area;
 *   rx  receive buffers held by the backend (posted on ring 2, or filled on
 *       ring 3 and not taken yet), of the receive buffers.
 * Buffers stay where they are across a device reset; the backend returns
 * them later. At rest tx is 0 and every receive buffer is posted (rx equals
 * its capacity). False (usage->count 0) if dev is NULL or has no usable
 * backend.
 */
bool virtio_net_pool_usage(const struct virtio_net_device *dev, struct virtio_pool_usage *usage);
