/*
 * A minimal virtio-mmio driver (virtio 1.2 sections 2.7, 3.1, 4.2) for the
 * hostile guest: just enough to bring a device up properly and then feed
 * it bad rings. Split virtqueues, polled (no interrupts).
 */
#pragma once

#include "hostile.h"

/* 4.2.2 register offsets. */
#define VIO_MAGIC 0x000
#define VIO_VERSION 0x004
#define VIO_DEVICE_ID 0x008
#define VIO_VENDOR_ID 0x00c
#define VIO_DEV_FEATURES 0x010
#define VIO_DEV_FEATURES_SEL 0x014
#define VIO_DRV_FEATURES 0x020
#define VIO_DRV_FEATURES_SEL 0x024
#define VIO_QUEUE_SEL 0x030
#define VIO_QUEUE_NUM_MAX 0x034
#define VIO_QUEUE_NUM 0x038
#define VIO_QUEUE_READY 0x044
#define VIO_QUEUE_NOTIFY 0x050
#define VIO_INT_STATUS 0x060
#define VIO_INT_ACK 0x064
#define VIO_STATUS 0x070
#define VIO_QUEUE_DESC_LO 0x080
#define VIO_QUEUE_DESC_HI 0x084
#define VIO_QUEUE_DRIVER_LO 0x090
#define VIO_QUEUE_DRIVER_HI 0x094
#define VIO_QUEUE_DEVICE_LO 0x0a0
#define VIO_QUEUE_DEVICE_HI 0x0a4
#define VIO_SHM_SEL 0x0ac
#define VIO_SHM_LEN_LO 0x0b0
#define VIO_SHM_LEN_HI 0x0b4
#define VIO_SHM_BASE_LO 0x0b8
#define VIO_SHM_BASE_HI 0x0bc
#define VIO_QUEUE_RESET 0x0c0
#define VIO_CONFIG_GEN 0x0fc
#define VIO_CONFIG 0x100
#define VIO_WINDOW 0x200

/* 2.1 status bits. */
#define ST_ACK 1u
#define ST_DRIVER 2u
#define ST_DRIVER_OK 4u
#define ST_FEATURES_OK 8u
#define ST_NEEDS_RESET 64u
#define ST_FAILED 128u

/* Feature bits (6, 5.1.3, 5.2.3). */
#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)

/* 2.7.5 descriptor flags. */
#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

enum vdev_kind { VDEV_BLK, VDEV_NET, VDEV_CONSOLE };

struct vdev {
    const char *name;
    enum vdev_kind kind;
    uintptr_t base;
    uint32_t device_id; /* what the slot should read */
    uint16_t num_queues;
    uint16_t work_queue; /* where requests/transmits go: blk 0, net 1, console 1 */
    bool present;
    uint64_t offered;
    uint32_t queue_max[2];
};

extern struct vdev vdevs[VIRTIO_SLOTS];

struct vq {
    struct vdev *d;
    uint16_t index;
    uint16_t num;
    volatile struct vdesc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
    volatile uint32_t *used; /* flags|idx, then {id, len} pairs */
    uint16_t avail_idx; /* our next avail->idx */
    uint16_t used_seen; /* used->idx we have consumed up to */
};

static inline uint32_t vreg(const struct vdev *d, uint32_t off)
{
    return rd32(d->base + off);
}
static inline void vset(const struct vdev *d, uint32_t off, uint32_t v)
{
    wr32(d->base + off, v);
}

/* Scratch addresses of each device's rings and buffers. */
uint64_t vio_ring_mem(const struct vdev *d, unsigned q);
uint64_t vio_buf_mem(const struct vdev *d);

/* Status = 0, then check it reads 0 and every queue reads not ready. */
bool vio_reset(struct vdev *d);
/* Reset, ACKNOWLEDGE, DRIVER, features (offered & want, plus VERSION_1), FEATURES_OK; true if accepted. */
bool vio_negotiate(struct vdev *d, uint64_t want);
/* Lay out a queue's rings at `mem` (zeroed) and program it; true if QueueReady reads 1. */
bool vq_setup(struct vq *q, struct vdev *d, unsigned index, uint16_t num, uint64_t mem);
/* vio_negotiate + vq_setup of every queue (num entries) + DRIVER_OK. */
bool vio_bring_up(struct vdev *d, uint64_t want, uint16_t num, struct vq qs[2]);

/* Put head on the avail ring and publish it (no notification). */
void vq_post(struct vq *q, uint16_t head);
/* Write avail->idx directly (for bad indices). */
void vq_set_avail_idx(struct vq *q, uint16_t idx);
void vq_kick(struct vq *q);
uint16_t vq_used_idx(const struct vq *q);
/* Used ring entry i (mod num): id and len. */
uint32_t vq_used_id(const struct vq *q, uint16_t i);
uint32_t vq_used_len(const struct vq *q, uint16_t i);
/* Bounds on waiting for a device: generous, a completion normally takes microseconds. */
#define WAIT_MS 5000u
#define WAIT_LONG_MS 10000u

/* Wait until used->idx reaches `want` or ms pass; true if reached. */
bool vq_wait_used(const struct vq *q, uint16_t want, unsigned ms);
void vq_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);

/* Guest RAM helpers (volatile, aligned as the MMU-off guest needs). */
void mem_fill(uint64_t addr, uint8_t byte, uint64_t len);
void mem_copy_in(uint64_t addr, const void *src, uint64_t len);
bool mem_equal(uint64_t addr, const void *want, uint64_t len);
bool mem_all(uint64_t addr, uint8_t byte, uint64_t len);

/* The parts of phase 1. */
void vio_register_attacks(struct vdev *d); /* virtio_regs.c */
void vio_register_fuzz(struct vdev *d, unsigned n); /* virtio_regs.c */
void vio_ring_attacks(struct vdev *d); /* virtio_rings.c */
void vio_device_attacks(struct vdev *d); /* virtio_dev.c: blk requests, net/console specifics */
void vio_valid_ops(struct vdev *d); /* virtio_dev.c */
