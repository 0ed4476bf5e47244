/*
 * A fake guest for the virtio device tests: guest RAM registered with
 * guest_init(), a GICv2 distributor with the device's SPI enabled, MMIO
 * accesses delivered through the MMIO dispatcher (as fault_handle() does),
 * and a minimal split-virtqueue driver that writes rings into guest RAM the
 * way Linux does (virtio 1.2 sections 2.7 and 3.1.1).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/virq.h>
#include "fake_microkit.h"
#include "guest_internal.h"
#include "mmio_internal.h"

#define VT_RAM_GPA 0x40000000ull
#define VT_RAM_SIZE 0x400000ull
#define VT_GICD 0x08000000ull
#define VT_DEV 0x0a000000ull
#define VT_IRQ 48
#define VT_CH 5

/* virtio 1.2 register offsets (4.2.2) and bits, as a driver knows them. */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_VENDOR_ID 0x00c
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DESC_HI 0x084
#define R_DRIVER_LO 0x090
#define R_DRIVER_HI 0x094
#define R_DEVICE_LO 0x0a0
#define R_DEVICE_HI 0x0a4
#define R_SHM_SEL 0x0ac
#define R_SHM_LEN_LO 0x0b0
#define R_SHM_LEN_HI 0x0b4
#define R_CONFIG_GEN 0x0fc
#define R_CONFIG 0x100

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u
#define S_FAILED 128u

#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define F_VERSION_1 (1ull << 32)

#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u

static uint8_t vt_ram[VT_RAM_SIZE] __attribute__((aligned(4096)));
static uint64_t vt_next_gpa;

static inline void *vt_ptr(uint64_t gpa)
{
    assert_true(gpa >= VT_RAM_GPA && gpa < VT_RAM_GPA + VT_RAM_SIZE);
    return vt_ram + (gpa - VT_RAM_GPA);
}

/* Zeroed guest memory, `align` aligned. */
static inline uint64_t vt_alloc(uint64_t size, uint64_t align)
{
    uint64_t gpa = (vt_next_gpa + align - 1) & ~(align - 1);
    assert_true(gpa + size <= VT_RAM_GPA + VT_RAM_SIZE);
    vt_next_gpa = gpa + size;
    memset(vt_ptr(gpa), 0, size);
    return gpa;
}

static inline void vt_gicd_write(uint32_t off, uint32_t v)
{
    struct mmio_access a = {.gpa = VT_GICD + off, .width = 4, .is_write = true, .value = v};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
}

/* Fresh guest: one vCPU, RAM, vGIC with the distributor and VT_IRQ enabled. */
static inline void vt_guest(void)
{
    fake_microkit_reset();
    struct guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.num_vcpus = 1;
    cfg.num_ram_regions = 1;
    cfg.ram[0].gpa = VT_RAM_GPA;
    cfg.ram[0].size = VT_RAM_SIZE;
    cfg.ram[0].vmm_vaddr = (uintptr_t)vt_ram;
    cfg.gic_version = GIC_VERSION_2;
    cfg.gicd_gpa = VT_GICD;
    assert_true(guest_init(&cfg));
    assert_true(virq_controller_init(0));
    memset(vt_ram, 0, sizeof(vt_ram));
    vt_next_gpa = VT_RAM_GPA + 0x1000;
}

/* Enable the distributor and VT_IRQ (after the device registered it). */
static inline void vt_enable_irq(void)
{
    vt_gicd_write(0x000, 1);
    vt_gicd_write(0x100 + (VT_IRQ / 32) * 4, 1u << (VT_IRQ % 32));
}

static inline uint64_t vt_access(uint64_t off, unsigned width, bool write, uint64_t value)
{
    struct mmio_access a = {.gpa = VT_DEV + off, .width = (uint8_t)width, .is_write = write, .value = value};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    return a.value;
}

static inline uint32_t vt_read(uint32_t off)
{
    return (uint32_t)vt_access(off, 4, false, 0xdeadbeef);
}

static inline void vt_write(uint32_t off, uint32_t v)
{
    vt_access(off, 4, true, v);
}

/* ---- interrupts ---- */

/* InjectIRQ calls that loaded VT_IRQ into a list register so far. */
static inline unsigned vt_injects(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < fake.num_injects; i++) {
        n += fake.injects[i].virq == VT_IRQ;
    }
    return n;
}

/*
 * The guest takes the device interrupt if one is pending: IAR + EOI of the
 * list register, and the handler's InterruptStatus read + InterruptACK
 * (Linux vm_interrupt). Returns the status it read (0 if no interrupt).
 */
static inline uint32_t vt_take_irq(void)
{
    int lr = fake_lr_find(0, VT_IRQ);
    if (lr < 0) {
        return 0;
    }
    fake_guest_ack(0, (unsigned)lr);
    fake_guest_eoi(0, (unsigned)lr);
    microkit_msginfo reply;
    seL4_Word idx = (seL4_Word)lr;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VGICMaintenance, 1, &idx), &reply));
    uint32_t status = vt_read(R_INT_STATUS);
    vt_write(R_INT_ACK, status);
    return status;
}

/* ---- split virtqueue, driver side ---- */

struct vt_queue {
    uint16_t index;
    uint16_t num;
    uint64_t desc;
    uint64_t avail;
    uint64_t used;
    uint16_t avail_idx;
    uint16_t last_used;
    uint16_t next_desc;
};

struct vt_buf {
    uint64_t gpa;
    uint32_t len;
    bool write;
};

static inline void vt_queue_alloc(struct vt_queue *q, uint16_t index, uint16_t num)
{
    memset(q, 0, sizeof(*q));
    q->index = index;
    q->num = num;
    q->desc = vt_alloc(16ull * num, 16);
    q->avail = vt_alloc(6 + 2ull * num, 2);
    q->used = vt_alloc(6 + 8ull * num, 4);
}

/* Program queue q into the device (4.2.3.2). */
static inline void vt_queue_setup(const struct vt_queue *q)
{
    vt_write(R_QUEUE_SEL, q->index);
    assert_int_equal(vt_read(R_QUEUE_READY), 0);
    assert_true(vt_read(R_QUEUE_NUM_MAX) >= q->num);
    vt_write(R_QUEUE_NUM, q->num);
    vt_write(R_DESC_LO, (uint32_t)q->desc);
    vt_write(R_DESC_HI, (uint32_t)(q->desc >> 32));
    vt_write(R_DRIVER_LO, (uint32_t)q->avail);
    vt_write(R_DRIVER_HI, (uint32_t)(q->avail >> 32));
    vt_write(R_DEVICE_LO, (uint32_t)q->used);
    vt_write(R_DEVICE_HI, (uint32_t)(q->used >> 32));
    vt_write(R_QUEUE_READY, 1);
    assert_int_equal(vt_read(R_QUEUE_READY), 1);
}

static inline uint8_t *vt_desc_ptr(const struct vt_queue *q, uint16_t i)
{
    return vt_ptr(q->desc + 16ull * i);
}

static inline void vt_desc_write(uint8_t *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static inline void vt_set_desc(struct vt_queue *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                               uint16_t next)
{
    vt_desc_write(vt_desc_ptr(q, i), addr, len, flags, next);
}

static inline uint16_t *vt_avail_idx(const struct vt_queue *q)
{
    return (uint16_t *)vt_ptr(q->avail + 2);
}

/* Make head available (no notification). */
static inline void vt_publish(struct vt_queue *q, uint16_t head)
{
    uint16_t *ring = (uint16_t *)vt_ptr(q->avail + 4);
    ring[q->avail_idx % q->num] = head;
    q->avail_idx++;
    *vt_avail_idx(q) = q->avail_idx;
}

/* Descriptors for bufs, chained with NEXT, published; returns the head. */
static inline uint16_t vt_add(struct vt_queue *q, const struct vt_buf *bufs, unsigned n)
{
    uint16_t head = q->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t d = (uint16_t)((head + i) % q->num);
        uint16_t next = (uint16_t)((d + 1) % q->num);
        vt_set_desc(q, d, bufs[i].gpa, bufs[i].len,
                    (uint16_t)((bufs[i].write ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)), next);
    }
    q->next_desc = (uint16_t)((head + n) % q->num);
    vt_publish(q, head);
    return head;
}

static inline void vt_kick(const struct vt_queue *q)
{
    vt_write(R_QUEUE_NOTIFY, q->index);
}

static inline uint16_t vt_used_idx(const struct vt_queue *q)
{
    return *(uint16_t *)vt_ptr(q->used + 2);
}

/* Used entries not yet consumed by the driver. */
static inline unsigned vt_used_pending(const struct vt_queue *q)
{
    return (uint16_t)(vt_used_idx(q) - q->last_used);
}

/* Take the next used entry; false if none. */
static inline bool vt_used_pop(struct vt_queue *q, uint32_t *id, uint32_t *len)
{
    if (vt_used_pending(q) == 0) {
        return false;
    }
    const uint8_t *e = vt_ptr(q->used + 4 + 8ull * (q->last_used % q->num));
    memcpy(id, e, 4);
    memcpy(len, e + 4, 4);
    q->last_used++;
    return true;
}

/* used_event (driver -> device, 2.7.10) and avail_event (device -> driver). */
static inline void vt_set_used_event(const struct vt_queue *q, uint16_t v)
{
    *(uint16_t *)vt_ptr(q->avail + 4 + 2ull * q->num) = v;
}

static inline uint16_t vt_avail_event(const struct vt_queue *q)
{
    return *(uint16_t *)vt_ptr(q->used + 4 + 8ull * q->num);
}

static inline uint64_t vt_device_features(void)
{
    vt_write(R_DEV_FEATURES_SEL, 0);
    uint64_t f = vt_read(R_DEV_FEATURES);
    vt_write(R_DEV_FEATURES_SEL, 1);
    return f | ((uint64_t)vt_read(R_DEV_FEATURES) << 32);
}

static inline void vt_driver_features(uint64_t f)
{
    vt_write(R_DRV_FEATURES_SEL, 0);
    vt_write(R_DRV_FEATURES, (uint32_t)f);
    vt_write(R_DRV_FEATURES_SEL, 1);
    vt_write(R_DRV_FEATURES, (uint32_t)(f >> 32));
}

/* Steps 1-6 of 3.1.1; returns the negotiated features (offered & want). */
static inline uint64_t vt_negotiate(uint64_t want)
{
    assert_int_equal(vt_read(R_MAGIC), 0x74726976);
    assert_int_equal(vt_read(R_VERSION), 2);
    vt_write(R_STATUS, 0);
    assert_int_equal(vt_read(R_STATUS), 0);
    vt_write(R_STATUS, S_ACK);
    vt_write(R_STATUS, S_ACK | S_DRIVER);
    uint64_t f = vt_device_features() & want;
    vt_driver_features(f);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
    return f;
}

/* The whole of 3.1.1: negotiate, set up the queues, DRIVER_OK. */
static inline uint64_t vt_bringup(uint64_t want, struct vt_queue *queues, unsigned nq)
{
    uint64_t f = vt_negotiate(want);
    for (unsigned i = 0; i < nq; i++) {
        vt_queue_setup(&queues[i]);
    }
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return f;
}

/* Bytes of console output that contain `s` since the last clear. */
static inline bool vt_logged(const char *s)
{
    return fake_console_contains(s);
}
