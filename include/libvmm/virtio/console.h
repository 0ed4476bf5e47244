/*
 * virtio-console over virtio-mmio (virtio 1.2 section 5.3), backed by a
 * shared-queue console backend (<libvmm/shq.h>, SHQ_KIND_CONSOLE).
 *
 * One port (no MULTIPORT), no console size (no SIZE: resize-free), no
 * EMERG_WRITE; features VERSION_1, RING_EVENT_IDX, INDIRECT_DESC. Queue 0
 * (receiveq0) takes bytes from the backend's ring 1, queue 1 (transmitq0)
 * sends bytes to ring 0. Bytes the guest has no buffer for wait in the
 * backend's ring (bounded by its capacity; beyond that the backend drops);
 * bytes the backend has no room for wait in the guest's transmit buffers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>
#include <libvmm/shq.h>
#include <libvmm/virtio/virtio.h>

#define VIRTIO_CONSOLE_QUEUE_SIZE 64u

struct virtio_console_device {
    struct virtio_mmio_device vdev; /* first: the transport's callbacks cast back */
    struct shq_client_ring tx_ring; /* ring 0 */
    struct shq_client_ring rx_ring; /* ring 1 */
    bool tx_busy; /* tx_chain is partly sent */
    bool tx_blocked; /* waiting for room in ring 0 */
    bool kick;
    uint32_t tx_sent;
    struct vqueue_chain tx_chain;
    struct vqueue_seg tx_segs[VQUEUE_MAX_SIZE];
    struct vqueue_seg scratch[VQUEUE_MAX_SIZE];
    /* Counters (tests, logs). */
    unsigned long tx_bytes;
    unsigned long rx_bytes;
};

/*
 * Set up a virtio-console device; arguments as virtio_blk_init() (see
 * <libvmm/virtio/blk.h>).
 */
bool virtio_console_init(struct virtio_console_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
                         size_t region_size, microkit_channel ch);

/* The backend signalled: deliver its bytes, continue a transmit that waited for room. */
void virtio_console_handle_notification(struct virtio_console_device *dev);

/*
 * Occupancy of the device's shared rings (struct virtio_pool_usage in
 * <libvmm/virtio/virtio.h>; the console has no other pool), in this order:
 *   tx  bytes in ring 0 the backend has not taken yet, of its capacity;
 *   rx  bytes in ring 1 not yet delivered to the guest, of its capacity.
 * Both are 0 at rest (rx only if no input is waiting for a guest buffer).
 * The backend's index is read from the shared ring and clamped to the
 * capacity. False (usage->count 0) if dev is NULL or has no usable backend.
 */
bool virtio_console_pool_usage(const struct virtio_console_device *dev, struct virtio_pool_usage *usage);
