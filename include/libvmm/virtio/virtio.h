/*
 * virtio-mmio devices: what every device has in common (virtio 1.2).
 *
 * A VMM program does not call anything declared here directly (but for the
 * pool report at the end); it uses the per-device headers
 * (<libvmm/virtio/blk.h>, net.h, console.h). The types are public only
 * because the device structs embed them and a VMM program owns its device
 * structs (static storage, no heap). Every field is private to the library.
 *
 * Transport: virtio-mmio, modern interface only (Version 2; virtio 1.2
 * section 4.2.2), split virtqueues (2.7), VIRTIO_F_VERSION_1,
 * VIRTIO_F_RING_EVENT_IDX and VIRTIO_F_INDIRECT_DESC. Each device occupies
 * VIRTIO_MMIO_REGION_SIZE bytes of guest-physical address space at a GPA the
 * VMM chooses and raises one edge-triggered SPI through virq_inject().
 * VendorID reads VIRTIO_MMIO_VENDOR_ID ("LVMM").
 *
 * Backends: each device talks to whatever does the real I/O through one
 * shared-queue region (<libvmm/shq.h>) and one Microkit channel. A device
 * whose region is not a valid, ready backend of its kind is still registered,
 * but reads DeviceID 0 ("no device", virtio 1.2 4.2.2), so the guest's driver
 * skips it; the reason is logged at init.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>

#define VIRTIO_MMIO_REGION_SIZE 0x200u
#define VIRTIO_MMIO_VENDOR_ID 0x4d4d564cu /* "LVMM" in memory order */

/* Largest queue a device offers (QueueNumMax). */
#define VQUEUE_MAX_SIZE 256u

/* Most queues any device here has. */
#define VIRTIO_MMIO_MAX_QUEUES 2u

/* Bytes of device-specific configuration space a device can expose at 0x100. */
#define VIRTIO_MMIO_CONFIG_MAX 64u

/* One guest buffer of a descriptor chain, already translated and bounds-checked. */
struct vqueue_seg {
    uint8_t *ptr;
    uint32_t len;
};

/*
 * A walked descriptor chain: the device-readable segments first (nread of
 * them), then the device-writable ones. Storage for segs is the caller's.
 */
struct vqueue_chain {
    uint16_t head;
    uint16_t nsegs;
    uint16_t nread;
    uint16_t max_segs;
    uint32_t read_bytes;
    uint32_t write_bytes;
    struct vqueue_seg *segs;
};

/* A split virtqueue (virtio 1.2 section 2.7), device side. */
struct vqueue {
    /* Written by the driver through the transport while not ready. */
    uint32_t num;
    uint64_t desc_gpa;
    uint64_t driver_gpa;
    uint64_t device_gpa;
    bool ready;
    /* Fixed when the driver sets QueueReady (translated once). */
    void *desc;
    void *avail;
    void *used;
    uint16_t max_num;
    uint16_t last_avail; /* next avail ring entry to consume */
    uint16_t avail_seen; /* avail->idx last read (entries up to it are validated as present) */
    uint16_t used_idx; /* next used ring entry to fill */
    uint16_t published; /* used->idx as last written */
    uint16_t signalled_used; /* used index at the last interrupt decision (2.7.10) */
    bool signalled_valid;
    bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */
    const char *last_error; /* why the last chain or avail entry was refused (logs, tests) */
};

struct virtio_mmio_device;

/* What a device model supplies to the transport. */
struct virtio_mmio_ops {
    /* The driver notified queue `index` (< num_queues) of a live device. */
    void (*queue_notify)(struct virtio_mmio_device *dev, uint16_t index);
    /* DRIVER_OK was accepted: start using the queues. */
    void (*activate)(struct virtio_mmio_device *dev);
    /* Device reset (Status = 0, guest reboot): forget everything in flight. */
    void (*reset)(struct virtio_mmio_device *dev);
    /* Optional: a write to device configuration space (width 1, 2 or 4, in range). */
    void (*config_write)(struct virtio_mmio_device *dev, uint32_t offset, unsigned width, uint32_t value);
};

/* The virtio-mmio transport state of one device. */
struct virtio_mmio_device {
    const struct virtio_mmio_ops *ops;
    const char *name;
    uint64_t gpa;
    size_t vcpu;
    int irq;
    microkit_channel ch;
    bool present; /* backend usable: DeviceID reads device_id, else 0 */
    uint32_t device_id;
    uint64_t device_features;
    uint64_t driver_features;
    uint32_t device_features_sel;
    uint32_t driver_features_sel;
    uint32_t queue_sel;
    uint32_t status;
    uint32_t interrupt_status;
    uint32_t config_generation;
    uint32_t shm_sel;
    uint16_t num_queues;
    uint16_t pending_queues; /* bit per queue: work left over when a batch hit its bound */
    uint32_t config_size;
    uint8_t config[VIRTIO_MMIO_CONFIG_MAX]; /* little-endian image of the config space */
    struct vqueue queues[VIRTIO_MMIO_MAX_QUEUES];
    unsigned long guest_errors; /* malformed requests seen (tests, logs) */
};

/* One ring of a shared-queue region as the VMM side sees it. */
struct shq_client_ring {
    void *ring; /* struct shq_ring * */
    uint8_t *entries;
    uint32_t capacity; /* read once at init */
    uint32_t entry_size;
    uint32_t index; /* our own side's free-running index: tail if we produce, head if we consume */
    bool produce;
};

/*
 * Occupancy of a device's fixed pools, for tests, soak runs and logs: per
 * pool its capacity and how many of its entries are in use now. Each device
 * says what "in use" means for its pools (virtio_blk_pool_usage(),
 * virtio_net_pool_usage(), virtio_console_pool_usage()); for all of them
 * the counts return to their starting values once the guest is idle and the
 * backend has answered everything it was sent, also across device resets.
 */
#define VIRTIO_POOLS_MAX 4u

struct virtio_pool {
    const char *name; /* one word: "reqs", "tx", ... */
    uint32_t in_use;
    uint32_t capacity;
};

struct virtio_pool_usage {
    const char *device; /* "blk", "net", "console" */
    unsigned count; /* pools filled in; 0 if the device has no usable backend */
    struct virtio_pool pools[VIRTIO_POOLS_MAX];
};

/*
 * Write `usage` as one line of text, "<device> <name> <in_use>/<capacity>
 * ..." ("<device> absent" without pools), into buf (always NUL-terminated
 * when size > 0, truncated to fit). Returns the length the whole text needs,
 * as snprintf does.
 */
int virtio_pool_usage_format(const struct virtio_pool_usage *usage, char *buf, size_t size);
