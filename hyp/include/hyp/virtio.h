/*
 * hyp as a virtio DRIVER for QEMU's own virtio-mmio devices (virtio 1.2:
 * 4.2 the MMIO transport, modern interface only; 3.1.1 initialisation;
 * 2.7 split virtqueues). No heap: every queue lives in a fixed,
 * statically allocated struct virtq_mem in hyp's image, which is identity
 * mapped (Normal write-back, so its VA is the PA handed to the device; QEMU's
 * DMA is cache coherent).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Device IDs (virtio 1.2, 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3

/* Device-independent feature bits (virtio 1.2, 6). */
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_BIT(n) (1ull << (n))

/* Largest queue hyp sets up (entries); the real size is min(this, QueueNumMax). */
#define VIRTQ_MAX 256

/* Split virtqueue layout (virtio 1.2, 2.7.5, 2.7.6, 2.7.8). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_mem {
    struct virtq_desc desc[VIRTQ_MAX];
    struct {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[VIRTQ_MAX];
        uint16_t used_event;
    } avail __attribute__((aligned(16)));
    struct {
        uint16_t flags;
        uint16_t idx;
        struct virtq_used_elem ring[VIRTQ_MAX];
        uint16_t avail_event;
    } used __attribute__((aligned(16)));
} __attribute__((aligned(4096)));

struct virtio_dev;

struct virtq {
    struct virtio_dev *dev;
    struct virtq_mem *mem;
    uint16_t index; /* queue number in the device */
    uint16_t num; /* queue size, a power of two */
    uint16_t avail_idx; /* next avail->idx to publish */
    uint16_t kicked_idx; /* avail->idx at the last notification */
    uint16_t last_used; /* next used entry to consume */
};

struct virtio_dev {
    uintptr_t base; /* MMIO registers (identity mapped, Device-nGnRnE) */
    uint32_t intid;
    unsigned slot;
    uint32_t device_id;
    uint64_t features; /* negotiated */
};

/* Physical address of hyp-owned memory handed to a device (hyp's image is identity mapped). */
static inline uint64_t virtio_hyp_pa(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* Probe a slot: 0 if no device, else the DeviceID; *version gets the MMIO Version register. */
uint32_t virtio_probe(uintptr_t base, uint32_t *version);
/* Reset the device (status 0) and wait for the reset to complete (virtio 1.2, 4.2.3.1.1). */
bool virtio_reset(struct virtio_dev *d);
/* 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, negotiate `wanted` & offered (VERSION_1 required),
 * FEATURES_OK. *offered gets the device's features. False (device set FAILED) if refused. */
bool virtio_negotiate(struct virtio_dev *d, uint64_t wanted, uint64_t *offered);
/* 3.1.1 step 7, 4.2.3.2: set up queue `index` over `mem` with at most `max_num` entries. */
bool virtio_queue_init(struct virtio_dev *d, struct virtq *q, uint16_t index, struct virtq_mem *mem, uint16_t max_num);
/* 3.1.1 step 8: DRIVER_OK. */
void virtio_driver_ok(struct virtio_dev *d);
void virtio_fail(struct virtio_dev *d);
/* InterruptStatus, acknowledged (virtio 1.2, 4.2.2: bit 0 used buffer, bit 1 configuration change). */
uint32_t virtio_irq_ack(struct virtio_dev *d);
bool virtio_needs_reset(struct virtio_dev *d);

/* Device-specific configuration (4.2.2, Config at 0x100): accesses of the field's own width (4.2.2.2);
 * multi-access reads retry until ConfigGeneration is stable (2.5.1). */
uint8_t virtio_config_read8(struct virtio_dev *d, uint32_t offset);
uint16_t virtio_config_read16(struct virtio_dev *d, uint32_t offset);
uint32_t virtio_config_read32(struct virtio_dev *d, uint32_t offset);
uint64_t virtio_config_read64(struct virtio_dev *d, uint32_t offset);
void virtio_config_bytes(struct virtio_dev *d, uint32_t offset, uint8_t *buf, uint32_t len);

/* Descriptor `i` of q (hyp's fixed per-slot descriptor assignment). */
static inline struct virtq_desc *virtq_desc(struct virtq *q, uint16_t i)
{
    return &q->mem->desc[i];
}
/* Make the chain starting at descriptor `head` available (not yet visible to the device). */
void virtq_add(struct virtq *q, uint16_t head);
/* Publish avail->idx and notify the device unless it asked not to be (2.7.13, 4.2.3.3). */
void virtq_kick(struct virtq *q);
/* Next used element, if any (2.7.14): false when the used ring is empty. */
bool virtq_get_used(struct virtq *q, uint32_t *id, uint32_t *len);
/* Synchronous use at boot: kick and wait up to `timeout_ms` for one used element. */
bool virtq_poll_used(struct virtq *q, uint32_t *id, uint32_t *len, unsigned timeout_ms);
