/*
 * Driver side of the virtio-mmio transport, modern interface (virtio 1.2,
 * 4.2.2 register layout, 4.2.3 driver requirements) and of split
 * virtqueues (2.7). Registers are Device-nGnRnE; the rings are Normal
 * write-back memory in hyp's image. Ordering follows 2.7.13 (driver makes a
 * buffer available: descriptors and ring entry, write barrier, idx, full
 * barrier, check suppression, notify) and 2.7.14 (read used idx, read
 * barrier, then the entries), with outer-shareable barriers as for DMA.
 */
#include <hyp/arch.h>
#include <hyp/log.h>
#include <hyp/virtio.h>

#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */

/* Device status bits (virtio 1.2, 2.1). */
#define STATUS_ACKNOWLEDGE 1u
#define STATUS_DRIVER 2u
#define STATUS_DRIVER_OK 4u
#define STATUS_FEATURES_OK 8u
#define STATUS_NEEDS_RESET 64u
#define STATUS_FAILED 128u

#define RESET_TIMEOUT_MS 100

static uint32_t rd(struct virtio_dev *d, uint32_t reg)
{
    return mmio_read32(d->base + reg);
}

static void wr(struct virtio_dev *d, uint32_t reg, uint32_t v)
{
    mmio_write32(d->base + reg, v);
}

static uint64_t now_ticks(void)
{
    isb();
    return sysreg_read(cntpct_el0);
}

static uint64_t ms_to_ticks(unsigned ms)
{
    return sysreg_read(cntfrq_el0) / 1000 * ms;
}

uint32_t virtio_probe(uintptr_t base, uint32_t *version)
{
    *version = 0;
    if (mmio_read32(base + VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC) {
        return 0;
    }
    *version = mmio_read32(base + VIRTIO_MMIO_VERSION);
    return mmio_read32(base + VIRTIO_MMIO_DEVICE_ID);
}

bool virtio_reset(struct virtio_dev *d)
{
    wr(d, VIRTIO_MMIO_STATUS, 0);
    uint64_t deadline = now_ticks() + ms_to_ticks(RESET_TIMEOUT_MS);
    /* 4.2.3.1.1 / 2.4.2: the reset is complete when Status reads back 0. */
    while (rd(d, VIRTIO_MMIO_STATUS) != 0) {
        if (now_ticks() > deadline) {
            return false;
        }
    }
    return true;
}

static void set_status(struct virtio_dev *d, uint32_t bits)
{
    wr(d, VIRTIO_MMIO_STATUS, rd(d, VIRTIO_MMIO_STATUS) | bits);
}

void virtio_fail(struct virtio_dev *d)
{
    set_status(d, STATUS_FAILED);
}

bool virtio_negotiate(struct virtio_dev *d, uint64_t wanted, uint64_t *offered)
{
    if (!virtio_reset(d)) {
        LOG_WARN("virtio slot %u: reset did not complete", d->slot);
        return false;
    }
    set_status(d, STATUS_ACKNOWLEDGE);
    set_status(d, STATUS_DRIVER);
    wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t feat = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
    wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    feat |= (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
    *offered = feat;
    if (!(feat & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
        LOG_WARN("virtio slot %u: device does not offer VIRTIO_F_VERSION_1", d->slot);
        virtio_fail(d);
        return false;
    }
    /* ACCESS_PLATFORM only says addresses are translated by the platform: hyp's are physical anyway. */
    uint64_t accept = (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM)) & feat;
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accept);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
    set_status(d, STATUS_FEATURES_OK);
    if (!(rd(d, VIRTIO_MMIO_STATUS) & STATUS_FEATURES_OK)) {
        LOG_WARN("virtio slot %u: device refused features 0x%lx", d->slot, accept);
        virtio_fail(d);
        return false;
    }
    d->features = accept;
    return true;
}

bool virtio_queue_init(struct virtio_dev *d, struct virtq *q, uint16_t index, struct virtq_mem *mem, uint16_t max_num)
{
    wr(d, VIRTIO_MMIO_QUEUE_SEL, index);
    if (rd(d, VIRTIO_MMIO_QUEUE_READY) != 0) {
        LOG_WARN("virtio slot %u: queue %u already in use after reset", d->slot, index);
        return false;
    }
    uint32_t dev_max = rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
    uint32_t limit = dev_max < max_num ? dev_max : max_num;
    if (limit > VIRTQ_MAX) {
        limit = VIRTQ_MAX;
    }
    uint16_t num = 1;
    while ((uint32_t)num * 2 <= limit) {
        num = (uint16_t)(num * 2);
    }
    if (limit == 0) {
        LOG_WARN("virtio slot %u: queue %u does not exist", d->slot, index);
        return false;
    }
    *q = (struct virtq){.dev = d, .mem = mem, .index = index, .num = num};
    mem->avail.flags = 0;
    mem->avail.idx = 0;
    mem->used.idx = 0;
    dmb(oshst);
    wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
    uint64_t desc = virtio_hyp_pa(mem->desc), drv = virtio_hyp_pa(&mem->avail), dev = virtio_hyp_pa(&mem->used);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(drv >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dev);
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(dev >> 32));
    wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
    return true;
}

void virtio_driver_ok(struct virtio_dev *d)
{
    dmb(oshst);
    set_status(d, STATUS_DRIVER_OK);
}

uint32_t virtio_irq_ack(struct virtio_dev *d)
{
    uint32_t isr = rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
    if (isr) {
        wr(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    }
    return isr;
}

bool virtio_needs_reset(struct virtio_dev *d)
{
    return (rd(d, VIRTIO_MMIO_STATUS) & STATUS_NEEDS_RESET) != 0;
}

uint8_t virtio_config_read8(struct virtio_dev *d, uint32_t offset)
{
    uint8_t v;
    __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(d->base + VIRTIO_MMIO_CONFIG + offset) : "memory");
    return v;
}

uint16_t virtio_config_read16(struct virtio_dev *d, uint32_t offset)
{
    uint16_t v;
    __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(d->base + VIRTIO_MMIO_CONFIG + offset) : "memory");
    return v;
}

uint32_t virtio_config_read32(struct virtio_dev *d, uint32_t offset)
{
    return rd(d, VIRTIO_MMIO_CONFIG + offset);
}

uint64_t virtio_config_read64(struct virtio_dev *d, uint32_t offset)
{
    uint32_t gen, lo, hi;
    do {
        gen = rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
        lo = virtio_config_read32(d, offset);
        hi = virtio_config_read32(d, offset + 4);
    } while (gen != rd(d, VIRTIO_MMIO_CONFIG_GENERATION));
    return lo | ((uint64_t)hi << 32);
}

void virtio_config_bytes(struct virtio_dev *d, uint32_t offset, uint8_t *buf, uint32_t len)
{
    uint32_t gen;
    do {
        gen = rd(d, VIRTIO_MMIO_CONFIG_GENERATION);
        for (uint32_t i = 0; i < len; i++) {
            buf[i] = virtio_config_read8(d, offset + i);
        }
    } while (gen != rd(d, VIRTIO_MMIO_CONFIG_GENERATION));
}

void virtq_add(struct virtq *q, uint16_t head)
{
    q->mem->avail.ring[q->avail_idx & (q->num - 1)] = head;
    q->avail_idx++;
}

void virtq_kick(struct virtq *q)
{
    if (q->avail_idx == q->kicked_idx) {
        return;
    }
    /* 2.7.13: descriptors and ring entries before idx; idx before the suppression check. */
    dmb(oshst);
    *(volatile uint16_t *)&q->mem->avail.idx = q->avail_idx;
    q->kicked_idx = q->avail_idx;
    dmb(osh);
    if (*(volatile uint16_t *)&q->mem->used.flags & VIRTQ_USED_F_NO_NOTIFY) {
        return;
    }
    wr(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

bool virtq_get_used(struct virtq *q, uint32_t *id, uint32_t *len)
{
    uint16_t used_idx = *(volatile uint16_t *)&q->mem->used.idx;
    if (used_idx == q->last_used) {
        return false;
    }
    dmb(oshld);
    const volatile struct virtq_used_elem *e = &q->mem->used.ring[q->last_used & (q->num - 1)];
    *id = e->id;
    *len = e->len;
    q->last_used++;
    return true;
}

bool virtq_poll_used(struct virtq *q, uint32_t *id, uint32_t *len, unsigned timeout_ms)
{
    virtq_kick(q);
    uint64_t deadline = now_ticks() + ms_to_ticks(timeout_ms);
    while (!virtq_get_used(q, id, len)) {
        if (now_ticks() > deadline) {
            return false;
        }
    }
    return true;
}
