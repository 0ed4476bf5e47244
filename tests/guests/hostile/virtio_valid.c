/*
 * Phase 1, last part: after all the abuse each device is brought up once
 * more and does real work, the way a driver would. virtio-blk: GET_ID,
 * sector 0 (the test's marker), write + FLUSH + read back of sector 1, a
 * read whose descriptor is rewritten while the backend is busy with it
 * (class 6), and 64 requests in flight at once (class 8). virtio-net: an
 * ARP request to the user-network gateway and its reply. virtio-console:
 * text out, and whatever the test sent in.
 */
#include "ring.h"

#define VALID_QSIZE 256u
#define CONSOLE_INPUT_WAIT_MS 5000u
#define BLK_F_FLUSH (1ull << 9)
#define NET_F_MAC (1ull << 5)

void net_send_arp(struct vq *tx, uint64_t at, const uint8_t mac[6]);
void net_read_mac(const struct vdev *d, uint8_t mac[6]);

/* ---- virtio-blk ---- */

struct blk_io {
    struct vq *q;
    uint64_t area; /* headers and status bytes, 32 bytes per request */
};

/* Post one request (header, optional data, status) using descriptors 3*slot..3*slot+2. */
static void blk_post(struct blk_io *io, unsigned slot, uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
    uint64_t hdr = io->area + 32ull * slot, status = hdr + 16;
    uint16_t d = (uint16_t)(3 * slot);
    *(volatile uint32_t *)hdr = type;
    *(volatile uint32_t *)(hdr + 4) = 0;
    *(volatile uint64_t *)(hdr + 8) = sector;
    *(volatile uint8_t *)status = 0xff;
    vq_desc(io->q, d, hdr, 16, D_NEXT, (uint16_t)(d + 1));
    if (len != 0) {
        vq_desc(io->q, (uint16_t)(d + 1), data, len, D_NEXT | (type == BLK_T_OUT ? 0 : D_WRITE), (uint16_t)(d + 2));
        vq_desc(io->q, (uint16_t)(d + 2), status, 1, D_WRITE, 0);
    } else {
        vq_desc(io->q, (uint16_t)(d + 1), status, 1, D_WRITE, 0);
    }
    vq_post(io->q, d);
}

static uint8_t blk_status(const struct blk_io *io, unsigned slot)
{
    return *(volatile uint8_t *)(io->area + 32ull * slot + 16);
}

/* Post, kick, wait; the status byte (0xff if it never came). */
static uint8_t blk_sync(struct blk_io *io, uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
    blk_post(io, 0, type, sector, data, len);
    vq_kick(io->q);
    if (!vq_wait_used(io->q, (uint16_t)(io->q->used_seen + 1), WAIT_MS)) {
        return 0xff;
    }
    io->q->used_seen++;
    return blk_status(io, 0);
}

static void print_marker(uint64_t at)
{
    put_str("HOSTILE: virtio-blk sector 0 starts '");
    for (unsigned i = 0; i < 24; i++) {
        char ch = *(volatile char *)(at + i);
        uart_putc(ch >= 0x20 && ch < 0x7f ? ch : '.');
    }
    put_str("'\n");
}

static void blk_toctou_read(struct blk_io *io, uint64_t a, uint64_t b, const uint8_t *pattern)
{
    mem_fill(a, 0, 512);
    mem_fill(b, 0x77, 512);
    blk_post(io, 0, BLK_T_IN, 1, a, 512);
    vq_kick(io->q);
    vq_desc(io->q, 1, b, 512, D_NEXT | D_WRITE, 2); /* the backend is still reading: too late */
    vq_desc(io->q, 2, RAM_END, 0xffffffffu, D_WRITE, 0);
    bool done = vq_wait_used(io->q, (uint16_t)(io->q->used_seen + 1), WAIT_MS);
    io->q->used_seen++;
    check(done && blk_status(io, 0) == BLK_S_OK, "read rewritten after the notification did not complete");
    check(mem_equal(a, pattern, 512), "class 6: the data did not go to the buffer the chain named at notify time");
    check(mem_all(b, 0x77, 512), "class 6: the device re-read a descriptor after the notification");
}

/* Class 8: more requests than the device keeps in flight; all must complete. */
static void blk_many_in_flight(struct blk_io *io, uint64_t data, uint64_t cap)
{
    const unsigned n = 64;
    for (unsigned i = 0; i < n; i++) {
        blk_post(io, i, BLK_T_IN, i % cap, data + 512ull * i, 512);
    }
    vq_kick(io->q);
    bool done = vq_wait_used(io->q, (uint16_t)(io->q->used_seen + n), WAIT_LONG_MS);
    io->q->used_seen = (uint16_t)(io->q->used_seen + n);
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        ok += blk_status(io, i) == BLK_S_OK;
    }
    check(done && ok == n, "class 8: 64 reads in flight did not all complete OK");
    say_num("virtio-blk reads completed with 64 in flight: ", ok);
}

static void blk_valid(struct vdev *d)
{
    struct vq qs[2];
    if (!vio_bring_up(d, F_INDIRECT | BLK_F_FLUSH, VALID_QSIZE, qs)) {
        return;
    }
    uint64_t buf = vio_buf_mem(d), data = buf + 0x10000, back = buf + 0x20000, other = buf + 0x30000;
    struct blk_io io = {.q = &qs[0], .area = buf + 0x1000};
    uint64_t cap = vreg(d, VIO_CONFIG) | (uint64_t)vreg(d, VIO_CONFIG + 4) << 32;
    say_num("virtio-blk capacity in sectors: ", cap);

    mem_fill(data, 0, 64);
    check_eq(blk_sync(&io, BLK_T_GET_ID, 0, data, 20), BLK_S_OK, "virtio-blk GET_ID status");
    check(mem_equal(data, "libvmm-disk0", 13), "virtio-blk GET_ID is not 'libvmm-disk0'");
    check_eq(blk_sync(&io, BLK_T_IN, 0, data, 512), BLK_S_OK, "virtio-blk read of sector 0");
    print_marker(data);

    if (cap >= 64) {
        uint8_t pattern[512];
        uint64_t r = rnd();
        for (unsigned i = 0; i < sizeof(pattern); i++) {
            pattern[i] = (uint8_t)(r >> (8 * (i % 8))) ^ (uint8_t)i;
        }
        mem_copy_in(data, pattern, 512);
        check_eq(blk_sync(&io, BLK_T_OUT, 1, data, 512), BLK_S_OK, "virtio-blk write of sector 1");
        if (d->offered & BLK_F_FLUSH) {
            check_eq(blk_sync(&io, BLK_T_FLUSH, 0, 0, 0), BLK_S_OK, "virtio-blk FLUSH");
        }
        mem_fill(back, 0, 512);
        check_eq(blk_sync(&io, BLK_T_IN, 1, back, 512), BLK_S_OK, "virtio-blk read of sector 1");
        check(mem_equal(back, pattern, 512), "virtio-blk sector 1 read back differs from what was written");
        blk_toctou_read(&io, back, other, pattern);
        blk_many_in_flight(&io, buf + 0x40000, cap);
    } else {
        fail("virtio-blk disk smaller than 64 sectors: the test gives a larger one");
    }
    say("virtio-blk valid operations ok");
}

/* ---- virtio-net ---- */

static bool is_arp_reply_from_gateway(uint64_t frame)
{
    static const uint8_t want[] = {0x08, 0x06}, op[] = {0x00, 0x02}, gw[] = {10, 0, 2, 2};
    return mem_equal(frame + 12, want, 2) && mem_equal(frame + 20, op, 2) && mem_equal(frame + 28, gw, 4);
}

static void net_valid(struct vdev *d)
{
    struct vq qs[2];
    if (!vio_bring_up(d, NET_F_MAC, 64, qs)) {
        return;
    }
    uint64_t buf = vio_buf_mem(d);
    uint8_t mac[6];
    net_read_mac(d, mac);
    for (uint16_t i = 0; i < 8; i++) {
        vq_desc(&qs[0], i, buf + 0x10000 + 0x800ull * i, 0x800, D_WRITE, 0);
        vq_post(&qs[0], i);
    }
    vq_kick(&qs[0]);
    bool got = false;
    for (unsigned attempt = 0; attempt < 3 && !got; attempt++) {
        net_send_arp(&qs[1], buf + B_DATA, mac);
        uint64_t end = now_ticks() + ms_to_ticks(1000);
        while (!got && now_ticks() < end) {
            while (!got && qs[0].used_seen != vq_used_idx(&qs[0])) {
                uint16_t u = qs[0].used_seen++;
                uint32_t id = vq_used_id(&qs[0], u), len = vq_used_len(&qs[0], u);
                got =
                    id < 8 && len >= NET_HDR + 42 && is_arp_reply_from_gateway(buf + 0x10000 + 0x800ull * id + NET_HDR);
            }
        }
    }
    if (check(got, "virtio-net: no ARP reply from the gateway 10.0.2.2")) {
        say("virtio-net ARP reply from 10.0.2.2 received");
    }
    check((vreg(d, VIO_STATUS) & ST_NEEDS_RESET) == 0, "virtio-net needs reset after valid traffic");
}

/* ---- virtio-console ---- */

static void console_valid(struct vdev *d)
{
    static const char text[] = "HOSTILE-CONSOLE-OK from the hostile guest\n";
    struct vq qs[2];
    if (!vio_bring_up(d, 0, 16, qs)) {
        return;
    }
    uint64_t buf = vio_buf_mem(d), in = buf + 0x10000;
    mem_fill(in, 0, 64);
    vq_desc(&qs[0], 0, in, 64, D_WRITE, 0);
    vq_post(&qs[0], 0);
    vq_kick(&qs[0]);
    mem_copy_in(buf + B_DATA, text, sizeof(text) - 1);
    vq_desc(&qs[1], 0, buf + B_DATA, sizeof(text) - 1, 0, 0);
    vq_post(&qs[1], 0);
    vq_kick(&qs[1]);
    check(vq_wait_used(&qs[1], 1, WAIT_MS), "virtio-console: the transmit was not completed");
    /* The test writes a line into the socket once it is connected; it may still be on its way. */
    if (vq_wait_used(&qs[0], 1, CONSOLE_INPUT_WAIT_MS)) {
        uint32_t len = vq_used_len(&qs[0], 0);
        put_str("HOSTILE: virtio-console received '");
        for (uint32_t i = 0; i < len && i < 64; i++) {
            char ch = *(volatile char *)(in + i);
            uart_putc(ch >= 0x20 && ch < 0x7f ? ch : '.');
        }
        put_str("'\n");
    } else {
        say("note: virtio-console received nothing within 5 s");
    }
    check((vreg(d, VIO_STATUS) & ST_NEEDS_RESET) == 0, "virtio-console needs reset after valid traffic");
}

void vio_valid_ops(struct vdev *d)
{
    switch (d->kind) {
    case VDEV_BLK:
        blk_valid(d);
        break;
    case VDEV_NET:
        net_valid(d);
        break;
    default:
        console_valid(d);
        break;
    }
}
