/*
 * Phase 1 driver side: bring devices up as the virtio 1.2 driver
 * requirements say (3.1.1 initialization, 4.2.3 MMIO specifics), then run
 * the attacks of virtio_regs.c, virtio_rings.c and virtio_dev.c on each.
 */
#include "vio.h"

struct vdev vdevs[VIRTIO_SLOTS] = {
    {.name = "virtio-blk", .kind = VDEV_BLK, .base = VIRTIO_BASE(0), .device_id = 2, .num_queues = 1, .work_queue = 0},
    {.name = "virtio-net", .kind = VDEV_NET, .base = VIRTIO_BASE(1), .device_id = 1, .num_queues = 2, .work_queue = 1},
    {.name = "virtio-console",
     .kind = VDEV_CONSOLE,
     .base = VIRTIO_BASE(2),
     .device_id = 3,
     .num_queues = 2,
     .work_queue = 1},
};

#define REGISTER_FUZZ 4000u
#define RING_AVAIL_OFF 0x2000u
#define RING_USED_OFF 0x3000u
#define RING_BYTES 0x4000u

static unsigned slot_of(const struct vdev *d)
{
    return (unsigned)((d->base - VIRTIO_BASE(0)) / 0x200);
}

uint64_t vio_ring_mem(const struct vdev *d, unsigned q)
{
    return SCRATCH_RINGS + slot_of(d) * 0x40000ull + q * 0x10000ull;
}

uint64_t vio_buf_mem(const struct vdev *d)
{
    return SCRATCH_BUFS + slot_of(d) * 0x100000ull;
}

/* ---- guest RAM ---- */

void mem_fill(uint64_t addr, uint8_t byte, uint64_t len)
{
    uint64_t word = byte * 0x0101010101010101ull;
    while (len > 0 && (addr & 7) != 0) {
        *(volatile uint8_t *)addr++ = byte;
        len--;
    }
    for (; len >= 8; addr += 8, len -= 8) {
        *(volatile uint64_t *)addr = word;
    }
    for (; len > 0; len--) {
        *(volatile uint8_t *)addr++ = byte;
    }
}

void mem_copy_in(uint64_t addr, const void *src, uint64_t len)
{
    const uint8_t *s = src;
    for (uint64_t i = 0; i < len; i++) {
        *(volatile uint8_t *)(addr + i) = s[i];
    }
}

bool mem_equal(uint64_t addr, const void *want, uint64_t len)
{
    const uint8_t *w = want;
    for (uint64_t i = 0; i < len; i++) {
        if (*(volatile uint8_t *)(addr + i) != w[i]) {
            return false;
        }
    }
    return true;
}

bool mem_all(uint64_t addr, uint8_t byte, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) {
        if (*(volatile uint8_t *)(addr + i) != byte) {
            return false;
        }
    }
    return true;
}

/* ---- device bring-up ---- */

bool vio_reset(struct vdev *d)
{
    vset(d, VIO_STATUS, 0);
    bool ok = vreg(d, VIO_STATUS) == 0;
    for (unsigned q = 0; q < d->num_queues; q++) {
        vset(d, VIO_QUEUE_SEL, q);
        ok = ok && vreg(d, VIO_QUEUE_READY) == 0;
    }
    vset(d, VIO_QUEUE_SEL, 0);
    if (!ok) {
        put_str("HOSTILE: FAIL ");
        put_str(d->name);
        put_str(": Status = 0 did not reset the device (Status ");
        put_hex(vreg(d, VIO_STATUS));
        put_str(")\n");
        fail("device reset");
    }
    return ok;
}

bool vio_negotiate(struct vdev *d, uint64_t want)
{
    if (!vio_reset(d)) {
        return false;
    }
    vset(d, VIO_STATUS, ST_ACK);
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER);
    vset(d, VIO_DEV_FEATURES_SEL, 0);
    uint64_t offered = vreg(d, VIO_DEV_FEATURES);
    vset(d, VIO_DEV_FEATURES_SEL, 1);
    offered |= (uint64_t)vreg(d, VIO_DEV_FEATURES) << 32;
    d->offered = offered;
    uint64_t f = (offered & want) | F_VERSION_1;
    vset(d, VIO_DRV_FEATURES_SEL, 0);
    vset(d, VIO_DRV_FEATURES, (uint32_t)f);
    vset(d, VIO_DRV_FEATURES_SEL, 1);
    vset(d, VIO_DRV_FEATURES, (uint32_t)(f >> 32));
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    return (vreg(d, VIO_STATUS) & ST_FEATURES_OK) != 0;
}

bool vq_setup(struct vq *q, struct vdev *d, unsigned index, uint16_t num, uint64_t mem)
{
    mem_fill(mem, 0, RING_BYTES);
    q->d = d;
    q->index = (uint16_t)index;
    q->num = num;
    q->desc = (volatile struct vdesc *)mem;
    q->avail = (volatile uint16_t *)(mem + RING_AVAIL_OFF);
    q->used = (volatile uint32_t *)(mem + RING_USED_OFF);
    q->avail_idx = 0;
    q->used_seen = 0;
    vset(d, VIO_QUEUE_SEL, index);
    vset(d, VIO_QUEUE_NUM, num);
    vset(d, VIO_QUEUE_DESC_LO, (uint32_t)mem);
    vset(d, VIO_QUEUE_DESC_HI, (uint32_t)(mem >> 32));
    vset(d, VIO_QUEUE_DRIVER_LO, (uint32_t)(mem + RING_AVAIL_OFF));
    vset(d, VIO_QUEUE_DRIVER_HI, 0);
    vset(d, VIO_QUEUE_DEVICE_LO, (uint32_t)(mem + RING_USED_OFF));
    vset(d, VIO_QUEUE_DEVICE_HI, 0);
    vset(d, VIO_QUEUE_READY, 1);
    return vreg(d, VIO_QUEUE_READY) == 1;
}

bool vio_bring_up(struct vdev *d, uint64_t want, uint16_t num, struct vq qs[2])
{
    if (!vio_negotiate(d, want)) {
        fail("FEATURES_OK refused for offered features");
        return false;
    }
    for (unsigned i = 0; i < d->num_queues; i++) {
        if (!vq_setup(&qs[i], d, i, num, vio_ring_mem(d, i))) {
            fail("a valid queue did not become ready");
            return false;
        }
    }
    vset(d, VIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    return check(vreg(d, VIO_STATUS) == (ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK),
                 "DRIVER_OK not accepted after a proper initialization");
}

/* ---- rings ---- */

void vq_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    volatile struct vdesc *d = &q->desc[i];
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

void vq_post(struct vq *q, uint16_t head)
{
    q->avail[2 + (q->avail_idx & (q->num - 1))] = head;
    barrier_full();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    barrier_full();
}

void vq_set_avail_idx(struct vq *q, uint16_t idx)
{
    q->avail_idx = idx;
    q->avail[1] = idx;
    barrier_full();
}

void vq_kick(struct vq *q)
{
    barrier_full();
    vset(q->d, VIO_QUEUE_NOTIFY, q->index);
}

uint16_t vq_used_idx(const struct vq *q)
{
    barrier_full();
    return (uint16_t)(q->used[0] >> 16);
}

uint32_t vq_used_id(const struct vq *q, uint16_t i)
{
    return q->used[1 + 2 * (i & (q->num - 1))];
}

uint32_t vq_used_len(const struct vq *q, uint16_t i)
{
    return q->used[2 + 2 * (i & (q->num - 1))];
}

bool vq_wait_used(const struct vq *q, uint16_t want, unsigned ms)
{
    uint64_t end = now_ticks() + ms_to_ticks(ms);
    while ((uint16_t)(vq_used_idx(q) - q->used_seen) < (uint16_t)(want - q->used_seen)) {
        if (now_ticks() > end) {
            return false;
        }
    }
    return true;
}

/* ---- phase 1 ---- */

static bool identify(struct vdev *d)
{
    bool ok = check_eq(vreg(d, VIO_MAGIC), 0x74726976u, "virtio MagicValue") &
              check_eq(vreg(d, VIO_VERSION), 2, "virtio Version");
    uint32_t id = vreg(d, VIO_DEVICE_ID);
    d->present = id != 0;
    put_str("HOSTILE: ");
    put_str(d->name);
    put_str(id == d->device_id ? ": present (DeviceID " : ": DeviceID ");
    put_dec(id);
    put_str(id == d->device_id ? ")\n" : ", no backend: only its register file is attacked\n");
    if (id != 0 && id != d->device_id) {
        fail_hex("unexpected DeviceID", id, d->device_id);
        d->present = false;
    }
    for (unsigned q = 0; q < d->num_queues && d->present; q++) {
        vset(d, VIO_QUEUE_SEL, q);
        d->queue_max[q] = vreg(d, VIO_QUEUE_NUM_MAX);
        uint32_t m = d->queue_max[q];
        ok = check(m >= 8 && m <= 32768 && (m & (m - 1)) == 0, "QueueNumMax not a power of two >= 8") && ok;
    }
    vset(d, VIO_QUEUE_SEL, 0);
    return ok;
}

static void done(const struct vdev *d, const char *part)
{
    put_str("HOSTILE: phase 1 ");
    put_str(d->name);
    put_str(" ");
    put_str(part);
    put_str(" done\n");
}

void phase_virtio(void)
{
    for (unsigned i = 0; i < VIRTIO_SLOTS; i++) {
        struct vdev *d = &vdevs[i];
        identify(d);
        vio_register_attacks(d);
        done(d, "registers");
        vio_register_fuzz(d, REGISTER_FUZZ);
        done(d, "register fuzz");
        if (!d->present) {
            continue;
        }
        vio_ring_attacks(d);
        done(d, "rings");
        vio_device_attacks(d);
        done(d, "requests");
    }
    /* Only now, after every device was abused: each must still work. */
    for (unsigned i = 0; i < VIRTIO_SLOTS; i++) {
        if (vdevs[i].present) {
            vio_valid_ops(&vdevs[i]);
            done(&vdevs[i], "valid operations");
        }
        vio_reset(&vdevs[i]);
    }
}
