/*
 * virtio-blk over virtio-mmio (virtio 1.2 section 5.2), backed by a
 * shared-queue block backend (<libvmm/shq.h>, SHQ_KIND_BLK).
 *
 * Offered features: VERSION_1, BLK_SIZE, SEG_MAX, SIZE_MAX, RING_EVENT_IDX,
 * INDIRECT_DESC; FLUSH, DISCARD and WRITE_ZEROES when the backend's
 * configuration says it can; RO when the backend's disk is read-only.
 * Requests: IN, OUT, FLUSH (acknowledged only after the backend answered
 * the flush), GET_ID (the backend's serial), DISCARD and WRITE_ZEROES (one
 * range per request); anything else gets VIRTIO_BLK_S_UNSUPP.
 *
 * Up to VIRTIO_BLK_MAX_REQS guest requests are in flight. Each is split
 * into backend requests of at most one data-area slot; when the slots, the
 * backend ring or the request table run out, the device stops taking guest
 * requests and resumes when the backend answers (back-pressure, no drops).
 * A request the device can report as failed gets IOERR/UNSUPP; a chain
 * that breaks the virtqueue rules sets DEVICE_NEEDS_RESET.
 *
 * Typical use in a VMM program:
 *
 *     static struct virtio_blk_device blk;
 *     // init(), after guest_init() and virq_controller_init():
 *     virtio_blk_init(&blk, 0xa003e00, 0, 79, blk_region, blk_region_size, BLK_CH);
 *     // notified(ch):
 *     if (ch == BLK_CH) virtio_blk_handle_notification(&blk);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>
#include <libvmm/shq.h>
#include <libvmm/virtio/virtio.h>

#define VIRTIO_BLK_SEG_MAX 62u /* data segments per request (config seg_max) */
#define VIRTIO_BLK_SIZE_MAX 0x10000u /* bytes per segment (config size_max) */
#define VIRTIO_BLK_MAX_REQS 32u /* guest requests in flight */
#define VIRTIO_BLK_MAX_PARTS 64u /* backend requests in flight */
#define VIRTIO_BLK_SLOT_BYTES 0x10000u /* largest data-area slot */
#define VIRTIO_BLK_QUEUE_SIZE 256u

/* Private: one guest request in flight. */
struct virtio_blk_req {
    uint8_t type;
    uint8_t status;
    uint16_t parts_out;
    uint64_t sector;
    uint32_t total; /* bytes for IN/OUT, 1 for single-part requests */
    uint32_t submitted;
    uint32_t written; /* data bytes written into the guest's buffers */
    uint32_t nsectors; /* DISCARD / WRITE_ZEROES */
    struct vqueue_chain chain;
    struct vqueue_seg segs[VIRTIO_BLK_SEG_MAX + 2];
};

/* Private: one backend request in flight. */
struct virtio_blk_part {
    uint32_t id;
    uint8_t state;
    uint8_t req;
    uint8_t slot;
    uint8_t op;
    uint32_t bytes;
    uint32_t offset; /* in the request's data */
};

struct virtio_blk_device {
    struct virtio_mmio_device vdev; /* first: the transport's callbacks cast back */
    uint8_t *region;
    size_t region_size;
    struct shq_client_ring req_ring;
    struct shq_client_ring resp_ring;
    struct shq_blk_config cfg; /* the backend's configuration, read once */
    uint32_t slot_bytes;
    uint32_t num_slots;
    uint64_t free_slots; /* bit per slot */
    uint64_t free_parts; /* bit per part */
    uint32_t free_reqs; /* bit per request */
    uint32_t seq;
    int blocked_req; /* a request waiting for resources, or -1 */
    bool kick; /* requests produced since the last notification of the backend */
    struct virtio_blk_part parts[VIRTIO_BLK_MAX_PARTS];
    struct virtio_blk_req reqs[VIRTIO_BLK_MAX_REQS];
    struct vqueue_seg scratch[VQUEUE_MAX_SIZE];
    /* Counters (tests, logs). */
    unsigned long stale_responses; /* answers to requests dropped by a reset */
    unsigned long bad_responses; /* unknown id or bad length from the backend */
};

/*
 * Set up a virtio-blk device at guest-physical `gpa` (0x200 aligned, size
 * VIRTIO_MMIO_REGION_SIZE), interrupting vCPU `vcpu` with SPI `irq`
 * (registered here unless the VMM already did), backed by the shared-queue
 * region [shq_region, +region_size) whose backend is signalled on channel
 * `ch`. Call after guest_init() and virq_controller_init(). If the region is
 * not a ready block backend with sane configuration, the device is still
 * registered but reads DeviceID 0 and the reason is logged. False only if an
 * argument is invalid or a registration failed.
 */
bool virtio_blk_init(struct virtio_blk_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
                     size_t region_size, microkit_channel ch);

/* The backend signalled channel `ch`: take its responses, complete guest requests, continue. */
void virtio_blk_handle_notification(struct virtio_blk_device *dev);

/*
 * Occupancy of the device's fixed pools (struct virtio_pool_usage in
 * <libvmm/virtio/virtio.h>), in this order:
 *   reqs   guest requests being served, of VIRTIO_BLK_MAX_REQS; a device
 *          reset drops them at once;
 *   parts  backend requests not answered yet, of VIRTIO_BLK_MAX_PARTS,
 *          including those a reset orphaned (each stays taken until its
 *          late answer arrives);
 *   slots  data-area slots those parts hold, of the slots the region has
 *          room for (at most 64).
 * At rest, with every backend request answered, all three are 0. False
 * (usage->count 0) if dev is NULL or has no usable backend.
 */
bool virtio_blk_pool_usage(const struct virtio_blk_device *dev, struct virtio_pool_usage *usage);
