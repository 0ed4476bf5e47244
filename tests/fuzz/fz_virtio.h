/*
 * What the virtio harnesses (fuzz_virtio_mmio.c, fuzz_virtio_queue.c) share:
 * one device of each kind (blk, net, console) on a shared-queue region
 * between guard pages, set up exactly as a VMM program does it, a guest
 * whose distributor and device SPI are enabled, and register accesses
 * delivered through the MMIO dispatcher (as fault_handle() does after
 * decoding a data abort). Test-only helpers, included by one harness each.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/shq.h>
#include <libvmm/virtio/blk.h>
#include <libvmm/virtio/console.h>
#include <libvmm/virtio/net.h>
#include "fz_support.h"
#include "mmio_internal.h"

#define FV_RAM_SIZE 0x10000u
#define FV_DEV_GPA 0x0a000000ull
#define FV_IRQ 48
#define FV_CH 5
#define FV_REGION_SIZE SHQ_REGION_MIN_SIZE

/* virtio 1.2 4.2.2 register offsets and 2.1 status bits, as a driver knows them. */
#define FV_MAGIC 0x000
#define FV_VERSION 0x004
#define FV_DEVICE_ID 0x008
#define FV_VENDOR_ID 0x00c
#define FV_DEV_FEATURES 0x010
#define FV_DEV_FEATURES_SEL 0x014
#define FV_DRV_FEATURES 0x020
#define FV_DRV_FEATURES_SEL 0x024
#define FV_QUEUE_SEL 0x030
#define FV_QUEUE_NUM_MAX 0x034
#define FV_QUEUE_NUM 0x038
#define FV_QUEUE_READY 0x044
#define FV_QUEUE_NOTIFY 0x050
#define FV_INT_STATUS 0x060
#define FV_INT_ACK 0x064
#define FV_STATUS 0x070
#define FV_DESC_LO 0x080
#define FV_DESC_HI 0x084
#define FV_DRIVER_LO 0x090
#define FV_DRIVER_HI 0x094
#define FV_DEVICE_LO 0x0a0
#define FV_DEVICE_HI 0x0a4
#define FV_SHM_SEL 0x0ac
#define FV_SHM_LEN_LO 0x0b0
#define FV_QUEUE_RESET 0x0c0
#define FV_CONFIG_GEN 0x0fc
#define FV_CONFIG 0x100

#define FV_S_ACK 1u
#define FV_S_DRIVER 2u
#define FV_S_DRIVER_OK 4u
#define FV_S_FEATURES_OK 8u
#define FV_S_NEEDS_RESET 64u
#define FV_S_FAILED 128u

#define FV_F_INDIRECT (1ull << 28)
#define FV_F_EVENT_IDX (1ull << 29)
#define FV_F_VERSION_1 (1ull << 32)

enum fv_kind {
    FV_BLK,
    FV_NET,
    FV_CONSOLE,
};

static uint8_t *fv_ram;
static uint8_t *fv_region;
static enum fv_kind fv_kind;
static struct virtio_blk_device fv_blk;
static struct virtio_net_device fv_net;
static struct virtio_console_device fv_con;

static inline struct virtio_mmio_device *fv_vdev(void)
{
    switch (fv_kind) {
    case FV_BLK:
        return &fv_blk.vdev;
    case FV_NET:
        return &fv_net.vdev;
    default:
        return &fv_con.vdev;
    }
}

static inline struct shq_ring *fv_ring(unsigned n)
{
    return shq_ring(fv_region, n);
}

static inline struct shq_header *fv_hdr(void)
{
    return (struct shq_header *)fv_region;
}

/* A power of two between 1 and max from the low bits of b (both powers of two). */
static inline uint32_t fv_pow2(uint8_t b, uint32_t max)
{
    uint32_t v = 1u << (b % 16);
    return v > max ? max : v;
}

/*
 * The backend's half of the region, as a hyp driver leaves it before the
 * VMM starts. `cfg` picks the backend's configuration and ring capacities;
 * bit 7 leaves the backend not ready (the device then reads DeviceID 0).
 */
static inline void fv_backend_init(enum fv_kind kind, uint8_t cfg, uint8_t caps)
{
    memset(fv_region, 0, SHQ_DATA_OFFSET); /* header and rings; the data area is the backend's scratch */
    struct shq_header *h = fv_hdr();
    h->magic = SHQ_MAGIC;
    switch (kind) {
    case FV_BLK:
        h->kind = SHQ_KIND_BLK;
        h->config.blk.capacity_sectors = (cfg & 0x20) ? 0x10 : 0x2000;
        h->config.blk.block_size = (cfg & 0x40) ? 4096 : 512;
        h->config.blk.max_request_bytes = (cfg & 0x08) ? 0x2000 : 0x10000;
        h->config.blk.read_only = (cfg & 0x04) != 0;
        h->config.blk.flush = (cfg & 0x10) == 0;
        h->config.blk.discard = (cfg & 0x10) == 0;
        h->config.blk.write_zeroes = 1;
        memcpy(h->config.blk.serial, "fuzz-disk-0123456789", 20);
        fv_ring(0)->capacity = fv_pow2(caps, shq_ring_max_capacity(sizeof(struct shq_blk_request)));
        fv_ring(1)->capacity = fv_pow2(caps >> 4, shq_ring_max_capacity(sizeof(struct shq_blk_response)));
        break;
    case FV_NET: {
        static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
        h->kind = SHQ_KIND_NET;
        memcpy(h->config.net.mac, mac, (cfg & 0x04) ? 0 : sizeof(mac));
        h->config.net.link_up = (cfg & 0x08) != 0;
        h->config.net.mtu = (cfg & 0x10) ? 9000 : (cfg & 0x20) ? 68 : 0;
        uint32_t max = shq_ring_max_capacity(sizeof(struct shq_net_buffer));
        fv_ring(0)->capacity = fv_pow2(caps & 7, max);
        fv_ring(1)->capacity = fv_pow2(caps & 7, max);
        fv_ring(2)->capacity = fv_pow2((caps >> 4) & 7, max);
        fv_ring(3)->capacity = fv_pow2((caps >> 4) & 7, max);
        break;
    }
    default:
        h->kind = SHQ_KIND_CONSOLE;
        fv_ring(0)->capacity = fv_pow2(caps, shq_ring_max_capacity(1));
        fv_ring(1)->capacity = fv_pow2(caps >> 4, shq_ring_max_capacity(1));
        break;
    }
    h->ready = (cfg & 0x80) ? 0 : 1;
}

static inline bool fv_device_init(enum fv_kind kind)
{
    fv_kind = kind;
    switch (kind) {
    case FV_BLK:
        return virtio_blk_init(&fv_blk, FV_DEV_GPA, 0, FV_IRQ, fv_region, FV_REGION_SIZE, FV_CH);
    case FV_NET:
        return virtio_net_init(&fv_net, FV_DEV_GPA, 0, FV_IRQ, fv_region, FV_REGION_SIZE, FV_CH);
    default:
        return virtio_console_init(&fv_con, FV_DEV_GPA, 0, FV_IRQ, fv_region, FV_REGION_SIZE, FV_CH);
    }
}

static inline void fv_handle_notification(void)
{
    switch (fv_kind) {
    case FV_BLK:
        virtio_blk_handle_notification(&fv_blk);
        break;
    case FV_NET:
        virtio_net_handle_notification(&fv_net);
        break;
    default:
        virtio_console_handle_notification(&fv_con);
        break;
    }
}

/* One guest access to the device window (or past it: the dispatcher refuses those). */
static inline enum mmio_dispatch_result fv_access(uint64_t off, unsigned width, bool write, uint64_t *value)
{
    struct mmio_access a = {.gpa = FV_DEV_GPA + off, .width = (uint8_t)width, .is_write = write, .value = *value};
    if (write && width < 8) {
        a.value &= (1ull << (8 * width)) - 1;
    }
    enum mmio_dispatch_result r = mmio_dispatch(0, &a);
    *value = a.value;
    return r;
}

static inline uint32_t fv_read(uint32_t off)
{
    uint64_t v = 0xdeadbeefcafef00dull;
    fv_access(off, 4, false, &v);
    return (uint32_t)v;
}

static inline void fv_write(uint32_t off, uint32_t v)
{
    uint64_t value = v;
    fv_access(off, 4, true, &value);
}

static inline void fv_gicd_write(uint32_t off, uint32_t v)
{
    struct mmio_access a = {.gpa = FZ_GICD_GPA + off, .width = 4, .is_write = true, .value = v};
    if (mmio_dispatch(0, &a) != MMIO_HANDLED) {
        fz_fail("distributor write 0x%x refused", off);
    }
}

/*
 * A clean guest with one device of `kind`: guest RAM between guard pages,
 * GICv2 with the distributor and the device SPI enabled, the backend
 * configured from cfg/caps. Aborts if the library refuses the set-up.
 */
static inline void fv_setup(enum fv_kind kind, uint8_t cfg, uint8_t caps)
{
    if (fv_ram == NULL) {
        fv_ram = fz_guarded_alloc(FV_RAM_SIZE);
        fv_region = fz_guarded_alloc(FV_REGION_SIZE);
        vmm_log_level = LOG_LEVEL_DEBUG;
    }
    memset(fv_ram, 0, FV_RAM_SIZE);
    fz_guest_setup(1, 4, GIC_VERSION_2, fv_ram, FV_RAM_SIZE, true);
    fv_backend_init(kind, cfg, caps);
    if (!fv_device_init(kind)) {
        fz_fail("virtio device init refused the harness configuration");
    }
    fv_gicd_write(0x000, 1);
    fv_gicd_write(0x100 + (FV_IRQ / 32) * 4, 1u << (FV_IRQ % 32));
}

/* The guest takes the device interrupt (IAR, EOI, the kernel's maintenance fault), then reads and acks it. */
static inline void fv_take_irq(bool ack_status)
{
    int lr = fake_lr_find(0, FV_IRQ);
    if (lr >= 0) {
        fake_guest_ack(0, (unsigned)lr);
        fake_guest_eoi(0, (unsigned)lr);
        uint64_t idx = (uint64_t)lr;
        microkit_msginfo reply;
        FZ_CHECK(fz_fault(0, seL4_Fault_VGICMaintenance, 1, &idx, 1, &reply), "maintenance fault did not resume");
    }
    if (ack_status) {
        fv_write(FV_INT_ACK, fv_read(FV_INT_STATUS));
    }
}

/* The queue's three ring areas in guest RAM, as the device translated them. */
static inline bool fv_inside_ram(const void *p, size_t len)
{
    const uint8_t *b = p;
    return b >= fv_ram && (size_t)(b - fv_ram) <= FV_RAM_SIZE && len <= FV_RAM_SIZE - (size_t)(b - fv_ram);
}

/*
 * Promises about one queue that hold after every access: a ready queue has
 * a valid size and its rings lie wholly in guest RAM, aligned as 2.7
 * requires; the device never took more heads than the driver offered.
 */
static inline FZ_CHECKER void fv_check_queue(const struct vqueue *q, unsigned i)
{
    if (!q->ready) {
        return;
    }
    FZ_CHECK(q->num != 0 && q->num <= q->max_num && (q->num & (q->num - 1)) == 0, "queue %u ready with size %u", i,
             q->num);
    FZ_CHECK(fv_inside_ram(q->desc, 16ull * q->num) && ((uintptr_t)q->desc & 15) == 0,
             "queue %u descriptor table outside RAM or misaligned", i);
    FZ_CHECK(fv_inside_ram(q->avail, 6 + 2ull * q->num) && ((uintptr_t)q->avail & 1) == 0,
             "queue %u driver area outside RAM or misaligned", i);
    FZ_CHECK(fv_inside_ram(q->used, 6 + 8ull * q->num) && ((uintptr_t)q->used & 3) == 0,
             "queue %u device area outside RAM or misaligned", i);
    FZ_CHECK((uint16_t)(q->last_avail - q->used_idx) <= q->num, "queue %u: %u heads taken, %u used, size %u", i,
             q->last_avail, q->used_idx, q->num);
    FZ_CHECK((uint16_t)(q->avail_seen - q->last_avail) <= q->num, "queue %u: avail seen %u, taken %u, size %u", i,
             q->avail_seen, q->last_avail, q->num);
}

/* Status (2.1, 3.1.1): known bits only, each step implies the ones before it; FEATURES_OK only for a valid set. */
static inline FZ_CHECKER void fv_check_status(const struct virtio_mmio_device *d)
{
    uint32_t s = d->status;
    FZ_CHECK((s & ~(FV_S_ACK | FV_S_DRIVER | FV_S_DRIVER_OK | FV_S_FEATURES_OK | FV_S_NEEDS_RESET | FV_S_FAILED)) == 0,
             "status 0x%x has unknown bits", s);
    FZ_CHECK(!(s & FV_S_DRIVER) || (s & FV_S_ACK), "status 0x%x: DRIVER without ACKNOWLEDGE", s);
    FZ_CHECK(!(s & FV_S_FEATURES_OK) || (s & FV_S_DRIVER), "status 0x%x: FEATURES_OK without DRIVER", s);
    FZ_CHECK(!(s & FV_S_DRIVER_OK) || (s & FV_S_FEATURES_OK), "status 0x%x: DRIVER_OK without FEATURES_OK", s);
    if (s & FV_S_FEATURES_OK) {
        FZ_CHECK((d->driver_features & ~d->device_features) == 0 && (d->driver_features & FV_F_VERSION_1),
                 "FEATURES_OK with features 0x%llx of 0x%llx", (unsigned long long)d->driver_features,
                 (unsigned long long)d->device_features);
    }
    FZ_CHECK((d->interrupt_status & ~3u) == 0, "InterruptStatus 0x%x", d->interrupt_status);
    FZ_CHECK(d->present || s == 0, "a device without a backend reached status 0x%x", s);
}
