/*
 * The virtio-mmio register file (virtio 1.2 section 4.2.2) of a virtio-blk,
 * virtio-net or virtio-console device under arbitrary access sequences: any
 * offset in (and just past) the 0x200 window, width 1/2/4/8, read or write,
 * any value; the status handshake (3.1.1), feature negotiation, queue set-up
 * with ring placements in, across the end of, and outside guest RAM,
 * QueueNotify with any index, InterruptACK, config space, and resets at any
 * time (Status = 0, or guest_restart()'s device reset hook). Guest RAM can be
 * poked between accesses, the backend can signal, the guest can take the
 * interrupt. Attack classes 1, 9, 14 and 16.
 *
 * Input: byte 0 = device kind (bits 0-1: blk, net, console, blk) and backend
 * configuration (bits 2-7, fz_virtio.h; bit 7: no backend), byte 1 = backend
 * ring capacities, then operations (an opcode byte, operands following).
 *
 * Checked after every access, besides ASan/UBSan (guest RAM and the shared
 * region sit between guard pages):
 *  - the fake kernel saw no failing libmicrokit call;
 *  - Magic, Version, VendorID and DeviceID read their fixed values; a
 *    register access that is not an aligned 32-bit one, and a config access
 *    wider than 4 bytes or misaligned, reads 0; a config read returns the
 *    device's configuration image byte for byte;
 *  - Status only ever holds known bits in 3.1.1 order; FEATURES_OK only with
 *    a subset of the offered features that includes VERSION_1; a device
 *    without a backend never leaves status 0;
 *  - a ready queue has a valid size and rings wholly inside guest RAM,
 *    aligned as 2.7 requires; a queue's configuration never changes while it
 *    is ready, and a queue stops being ready after DRIVER_OK only through a
 *    reset (class 1);
 *  - InterruptStatus holds only the two defined bits.
 */
#include <stdio.h>
#include <string.h>
#include "fz_virtio.h"
#include "guest_internal.h"

#define MAX_OPS 512

/* Registers and config offsets worth hitting often; anything else comes from raw offsets. */
static const uint16_t interesting_offsets[] = {
    FV_MAGIC,        FV_VERSION,          FV_DEVICE_ID,     FV_VENDOR_ID,     FV_DEV_FEATURES, FV_DEV_FEATURES_SEL,
    FV_DRV_FEATURES, FV_DRV_FEATURES_SEL, FV_QUEUE_SEL,     FV_QUEUE_NUM_MAX, FV_QUEUE_NUM,    FV_QUEUE_READY,
    FV_QUEUE_NOTIFY, FV_INT_STATUS,       FV_INT_ACK,       FV_STATUS,        FV_DESC_LO,      FV_DESC_HI,
    FV_DRIVER_LO,    FV_DRIVER_HI,        FV_DEVICE_LO,     FV_DEVICE_HI,     FV_SHM_SEL,      FV_SHM_LEN_LO,
    FV_QUEUE_RESET,  FV_CONFIG_GEN,       FV_CONFIG,        FV_CONFIG + 4,    FV_CONFIG + 6,   FV_CONFIG + 8,
    FV_CONFIG + 10,  FV_CONFIG + 0x14,    FV_CONFIG + 0x22, FV_CONFIG + 0x3c, 0x1fc,           0x1ff,
};
#define NUM_INTERESTING (sizeof(interesting_offsets) / sizeof(interesting_offsets[0]))

/* ---- invariants ---- */

struct queue_snapshot {
    bool ready;
    uint32_t num;
    void *desc, *avail, *used;
};

static struct queue_snapshot before[VIRTIO_MMIO_MAX_QUEUES];
static uint32_t status_before;

static FZ_CHECKER void snapshot(void)
{
    const struct virtio_mmio_device *d = fv_vdev();
    status_before = d->status;
    for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
        const struct vqueue *q = &d->queues[i];
        before[i] = (struct queue_snapshot){q->ready, q->num, q->desc, q->avail, q->used};
    }
}

/* Class 1: what a ready queue uses only changes through "not ready" first, and after DRIVER_OK only by a reset. */
static FZ_CHECKER void check_queue_stable(const struct virtio_mmio_device *d, unsigned i)
{
    const struct vqueue *q = &d->queues[i];
    const struct queue_snapshot *b = &before[i];
    if (!b->ready) {
        return;
    }
    if (q->ready) {
        FZ_CHECK(q->num == b->num && q->desc == b->desc && q->avail == b->avail && q->used == b->used,
                 "queue %u changed while ready (size %u -> %u)", i, b->num, q->num);
    } else if (status_before & FV_S_DRIVER_OK) {
        FZ_CHECK(d->status == 0, "queue %u stopped being ready after DRIVER_OK without a reset (status 0x%x)", i,
                 d->status);
    }
}

static FZ_CHECKER void check_all(void)
{
    const struct virtio_mmio_device *d = fv_vdev();
    fz_check_kernel();
    fv_check_status(d);
    for (unsigned i = 0; i < d->num_queues; i++) {
        fv_check_queue(&d->queues[i], i);
        check_queue_stable(d, i);
    }
}

/* What a read must return, where the value is fixed by the spec or the device's configuration image. */
static FZ_CHECKER void check_read(uint64_t off, unsigned width, enum mmio_dispatch_result r, uint64_t v)
{
    const struct virtio_mmio_device *d = fv_vdev();
    if (off + width > VIRTIO_MMIO_REGION_SIZE) {
        FZ_CHECK(r != MMIO_HANDLED, "access [0x%llx, +%u) past the window handled", (unsigned long long)off, width);
        return;
    }
    FZ_CHECK(r == MMIO_HANDLED, "access at 0x%llx inside the window refused", (unsigned long long)off);
    if (off >= FV_CONFIG) {
        uint64_t c = off - FV_CONFIG;
        if (width > 4 || (c & (width - 1)) != 0 || c + width > d->config_size || !d->present) {
            FZ_CHECK(v == 0, "refused config read at 0x%llx returned 0x%llx", (unsigned long long)off,
                     (unsigned long long)v);
            return;
        }
        uint64_t want = 0;
        for (unsigned k = 0; k < width; k++) {
            want |= (uint64_t)d->config[c + k] << (8 * k);
        }
        FZ_CHECK(v == want, "config read at 0x%llx: 0x%llx, image says 0x%llx", (unsigned long long)off,
                 (unsigned long long)v, (unsigned long long)want);
        return;
    }
    if (width != 4 || (off & 3) != 0) {
        FZ_CHECK(v == 0, "%u-byte register read at 0x%llx returned 0x%llx", width, (unsigned long long)off,
                 (unsigned long long)v);
        return;
    }
    switch (off) {
    case FV_MAGIC:
        FZ_CHECK(v == 0x74726976, "MagicValue 0x%llx", (unsigned long long)v);
        break;
    case FV_VERSION:
        FZ_CHECK(v == 2, "Version %llu", (unsigned long long)v);
        break;
    case FV_VENDOR_ID:
        FZ_CHECK(v == VIRTIO_MMIO_VENDOR_ID, "VendorID 0x%llx", (unsigned long long)v);
        break;
    case FV_DEVICE_ID:
        FZ_CHECK(v == (d->present ? d->device_id : 0), "DeviceID %llu", (unsigned long long)v);
        break;
    case FV_STATUS:
        FZ_CHECK(v == d->status, "Status read 0x%llx, device has 0x%x", (unsigned long long)v, d->status);
        break;
    default:
        break;
    }
}

/* ---- operations ---- */

static void dev_access(uint64_t off, unsigned width, bool write, uint64_t value)
{
    snapshot();
    enum mmio_dispatch_result r = fv_access(off, width, write, &value);
    if (!write) {
        check_read(off, width, r, value);
    }
    check_all();
}

static void wr(uint32_t off, uint32_t v)
{
    dev_access(off, 4, true, v);
}

static void op_access(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    uint8_t mode = fz_u8(in);
    uint64_t off;
    if (sel < 2 * NUM_INTERESTING) {
        off = interesting_offsets[sel / 2];
    } else {
        off = fz_u16(in) % (VIRTIO_MMIO_REGION_SIZE + 0x10);
    }
    unsigned width = 1u << (mode & 3);
    bool write = (mode & 4) != 0;
    uint64_t value = (mode & 8) ? fz_u64(in) : fz_u32(in);
    dev_access(off, width, write, value);
}

/* A ring address: a good one for queue q, one across the end of RAM, misaligned, outside RAM, or raw. */
static uint64_t pick_ring_gpa(struct fz *in, unsigned q, unsigned part)
{
    uint8_t sel = fz_u8(in);
    uint64_t good = FZ_RAM_GPA + 0x3000ull * q + 0x1000ull * part;
    switch (sel & 7) {
    case 0:
    case 1:
    case 2:
        return good;
    case 3:
        return FZ_RAM_GPA + FV_RAM_SIZE - (fz_u16(in) & 0xfff);
    case 4:
        return good + 1 + (fz_u8(in) & 0xf);
    case 5:
        return FZ_RAM_GPA - 0x1000 + (fz_u16(in) & 0xfff);
    case 6:
        return 0xfffffffffffff000ull + (fz_u16(in) & 0xfff);
    default:
        return fz_u64(in);
    }
}

/* 4.2.3.2: QueueSel, QueueNum, the three addresses, QueueReady; each step may be skipped. */
static void op_queue_setup(struct fz *in)
{
    uint8_t ctl = fz_u8(in);
    uint32_t sel = (ctl & 0x80) ? fz_u32(in) : (ctl & 1);
    wr(FV_QUEUE_SEL, sel);
    if (!(ctl & 2)) {
        uint8_t n = fz_u8(in);
        wr(FV_QUEUE_NUM, (n & 0x80) ? fz_u32(in) : 1u << (n % 10));
    }
    static const uint32_t lo[3] = {FV_DESC_LO, FV_DRIVER_LO, FV_DEVICE_LO};
    for (unsigned p = 0; p < 3; p++) {
        if (ctl & (4u << p)) {
            continue;
        }
        uint64_t gpa = pick_ring_gpa(in, sel & 1, p);
        wr(lo[p], (uint32_t)gpa);
        wr(lo[p] + 4, (uint32_t)(gpa >> 32));
    }
    if (!(ctl & 0x20)) {
        wr(FV_QUEUE_READY, (ctl & 0x40) ? fz_u32(in) : 1);
    }
}

/* 3.1.1 steps 1-6 (and 8), with the features the input asks for; steps may be skipped or out of order. */
static void op_handshake(struct fz *in)
{
    uint8_t ctl = fz_u8(in);
    if (ctl & 1) {
        wr(FV_STATUS, 0);
    }
    wr(FV_STATUS, FV_S_ACK);
    wr(FV_STATUS, FV_S_ACK | FV_S_DRIVER);
    uint64_t offered = 0;
    for (uint32_t w = 0; w < 2; w++) {
        wr(FV_DEV_FEATURES_SEL, w);
        snapshot();
        offered |= (uint64_t)fv_read(FV_DEV_FEATURES) << (32 * w);
    }
    uint64_t want = (ctl & 2) ? fz_u64(in) : (offered & (fz_u64(in) | FV_F_VERSION_1));
    for (uint32_t w = 0; w < 2; w++) {
        wr(FV_DRV_FEATURES_SEL, (ctl & 4) ? fz_u32(in) : w);
        wr(FV_DRV_FEATURES, (uint32_t)(want >> (32 * w)));
    }
    wr(FV_STATUS, FV_S_ACK | FV_S_DRIVER | FV_S_FEATURES_OK);
    if (ctl & 8) {
        op_queue_setup(in);
        op_queue_setup(in);
    }
    if (!(ctl & 0x10)) {
        wr(FV_STATUS, FV_S_ACK | FV_S_DRIVER | FV_S_FEATURES_OK | FV_S_DRIVER_OK);
    }
}

/* The guest writes up to 8 bytes anywhere in its RAM (rings included: the avail index, ring entries, descriptors). */
static void op_poke_ram(struct fz *in)
{
    uint16_t off = fz_u16(in) % FV_RAM_SIZE;
    uint64_t v = fz_u64(in);
    size_t n = FV_RAM_SIZE - off < 8 ? FV_RAM_SIZE - off : 8;
    memcpy(fv_ram + off, &v, n);
}

/* The backend changes what it may change after `ready` (shq.h) and signals. */
static void op_backend_signal(struct fz *in)
{
    uint8_t b = fz_u8(in);
    if (b & 1) {
        if (fv_kind == FV_BLK) {
            fv_hdr()->config.blk.capacity_sectors = (b & 2) ? 0 : 0x1000 + b;
        } else if (fv_kind == FV_NET) {
            fv_hdr()->config.net.link_up = (b >> 1) & 1;
        }
    }
    snapshot();
    fv_handle_notification();
    check_all();
}

static void run_op(struct fz *in)
{
    uint8_t op = fz_u8(in);
    switch (op % 12) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
        op_access(in);
        break;
    case 5:
        op_handshake(in);
        break;
    case 6:
        op_queue_setup(in);
        break;
    case 7:
        op_poke_ram(in);
        break;
    case 8:
        op_backend_signal(in);
        break;
    case 9:
        snapshot();
        fv_take_irq(fz_bool(in));
        check_all();
        break;
    case 10:
        wr(FV_QUEUE_NOTIFY, (fz_u8(in) & 0x80) ? fz_u32(in) : fz_u8(in) & 1);
        break;
    default:
        /* What guest_restart() does to devices (class 1: nothing survives a reset). */
        snapshot();
        guest_run_reset_hooks();
        FZ_CHECK(fv_vdev()->status == 0, "device status 0x%x after the reset hook", fv_vdev()->status);
        for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
            FZ_CHECK(!fv_vdev()->queues[i].ready, "queue %u ready after the reset hook", i);
        }
        check_all();
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    fz_init(&in, data, size);
    uint8_t cfg = fz_u8(&in);
    uint8_t caps = fz_u8(&in);
    enum fv_kind kind = (cfg & 3) == 3 ? FV_BLK : (enum fv_kind)(cfg & 3);
    fv_setup(kind, cfg, caps);
    snapshot();
    check_all();
    for (unsigned i = 0; i < MAX_OPS && !fz_empty(&in); i++) {
        run_op(&in);
    }
    return 0;
}
