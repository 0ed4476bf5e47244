/*
 * The virtio-mmio transport (virtio 1.2 section 4.2), as the device models
 * use it (library-internal). mmio.c emulates the register block, the device
 * status state machine (2.1, 3.1.1) and the queue configuration; a device
 * model supplies its features, config-space image and struct virtio_mmio_ops.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/virtio/virtio.h>

struct virtio_mmio_params {
    const char *name; /* for log lines: "virtio-blk@0xa003e00" style context */
    uint32_t device_id;
    uint64_t features; /* offered; VERSION_1 is added */
    uint16_t num_queues; /* 1..VIRTIO_MMIO_MAX_QUEUES */
    uint16_t queue_max; /* QueueNumMax, a power of two <= VQUEUE_MAX_SIZE */
    uint32_t config_size; /* <= VIRTIO_MMIO_CONFIG_MAX; dev->config holds the image */
    const struct virtio_mmio_ops *ops;
};

/*
 * Check the VMM's arguments, register the IRQ (unless the VMM already did)
 * and the MMIO window, and add the device to the set guest_restart() resets.
 * `present` false: the device reads DeviceID 0. dev->config must already hold
 * the configuration image. False (logged) if an argument is invalid or a
 * registration failed.
 */
bool virtio_mmio_register(struct virtio_mmio_device *dev, const struct virtio_mmio_params *p, uint64_t gpa, size_t vcpu,
                          int irq, microkit_channel ch, bool present);

/* DRIVER_OK is set and neither FAILED nor DEVICE_NEEDS_RESET: queues may be used. */
bool virtio_mmio_live(const struct virtio_mmio_device *dev);

/* Negotiated feature bit n. */
bool virtio_mmio_has(const struct virtio_mmio_device *dev, unsigned n);

/* Queue i if it exists and is ready, else NULL. */
struct vqueue *virtio_mmio_queue(struct virtio_mmio_device *dev, uint16_t i);

/* Set InterruptStatus bits; inject the IRQ if any of them was clear. */
void virtio_mmio_raise(struct virtio_mmio_device *dev, uint32_t bits);

/* Publish queue i's used entries and interrupt the guest if it wants that. */
void virtio_mmio_flush(struct virtio_mmio_device *dev, uint16_t i);

/*
 * The device cannot tell what the guest meant (2.1.2): set
 * DEVICE_NEEDS_RESET, stop using the queues, raise a configuration-change
 * interrupt. Logged, rate limited.
 */
void virtio_mmio_needs_reset(struct virtio_mmio_device *dev, const char *why);

/* The device changed its configuration space: new ConfigGeneration, interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio_device *dev);

/* A batch on queue i stopped at its work bound: finish it on the next access or notification. */
void virtio_mmio_defer(struct virtio_mmio_device *dev, uint16_t i);

/* What one step of virtio_mmio_drain() did. */
enum virtio_drain_step {
    VIRTIO_DRAIN_TOOK, /* popped and handled a new chain: counts against the batch bound */
    VIRTIO_DRAIN_RESUMED, /* finished a chain taken earlier (not counted again) */
    VIRTIO_DRAIN_EMPTY, /* nothing left to take */
    VIRTIO_DRAIN_STOP, /* blocked on the backend, or the device needs a reset */
};

/*
 * Drain driver-to-device queue i in one batch of at most QueueNum chains,
 * with notifications off while it runs and re-checked before it ends
 * (2.7.10): step() takes and handles one chain. A batch that hits its
 * bound is deferred; used entries are published at the end.
 */
void virtio_mmio_drain(struct virtio_mmio_device *dev, uint16_t i,
                       enum virtio_drain_step (*step)(struct virtio_mmio_device *dev, struct vqueue *q));

/* Run deferred batches (called after every guest access and backend notification). */
void virtio_mmio_run_deferred(struct virtio_mmio_device *dev);

/* Device reset (Status = 0 or a guest reboot): the transport's state and the device's. */
void virtio_mmio_reset(struct virtio_mmio_device *dev);
