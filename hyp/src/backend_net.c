/*
 * Network backend over QEMU's virtio-net-device (virtio 1.2, 5.1), zero
 * copy both ways. Features: VERSION_1, MAC, STATUS; no offloads and no
 * MRG_RXBUF, so every frame is a complete Ethernet frame behind a 12-byte
 * struct virtio_net_hdr (5.1.6).
 *  - rx: each buffer the PD offers on ring 2 is posted to receiveq as a
 *    two-descriptor chain, a hyp-owned 12-byte header buffer followed by the
 *    PD's buffer; a filled buffer goes to ring 3 with the frame length
 *    (header stripped). Buffers are posted only while ring 3 has room for
 *    all of them. A PD that offers none lets QEMU's queue run dry: QEMU
 *    drops frames, hyp never stalls.
 *  - tx: a frame from ring 0 is sent as a shared all-zero header followed by
 *    the PD's buffer; the buffer returns on ring 1 when the device is done.
 *    A bad entry (outside the data area, empty, longer than a frame) is
 *    returned at once unsent and counted.
 */
#include <string.h>
#include <hyp/backend.h>
#include <hyp/log.h>
#include <hyp/pools.h>

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1
#define CFG_MAC 0
#define CFG_STATUS 6
#define RXQ 0
#define TXQ 1

#define NET_HDR_LEN 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define NET_MTU 1500
#define NET_MAX_FRAME 1518 /* Ethernet header + 802.1Q tag + MTU, no FCS */
#define NET_MIN_RX_BUF 1514 /* an untagged frame of NET_MTU */
#define NET_SLOTS 64 /* per direction; each slot owns two descriptors */

struct net_state {
    struct virtq_mem rx_mem, tx_mem;
    struct virtq rxq, txq;
    uint8_t rx_hdr[NET_SLOTS][16]; /* device-written, ignored */
    struct shq_net_buffer rx_buf[NET_SLOTS], tx_buf[NET_SLOTS];
    uint64_t rx_free, tx_free; /* bit n: slot n is free */
    unsigned rx_slots, tx_slots, rx_posted, tx_in_flight;
    struct shq_port tx, tx_done, rx_offer, rx_filled;
};

static struct net_state pool[BACKEND_MAX_NET];
static unsigned pool_used;
static const uint8_t zero_hdr[NET_HDR_LEN];

bool backend_net_read_mac(struct virtio_dev *d, uint8_t mac[6])
{
    uint64_t offered;
    bool ok =
        virtio_negotiate(d, VIRTIO_BIT(VIRTIO_NET_F_MAC), &offered) && (d->features & VIRTIO_BIT(VIRTIO_NET_F_MAC));
    memset(mac, 0, 6);
    if (ok) {
        virtio_config_bytes(d, CFG_MAC, mac, 6);
    }
    virtio_reset(d);
    return ok;
}

static uint64_t slot_mask(unsigned n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

static uint8_t link_up(struct backend *b)
{
    if (!(b->dev.features & VIRTIO_BIT(VIRTIO_NET_F_STATUS))) {
        return 1;
    }
    return (virtio_config_read16(&b->dev, CFG_STATUS) & VIRTIO_NET_S_LINK_UP) != 0;
}

static bool net_start(struct backend *b)
{
    struct net_state *st = &pool[pool_used++];
    b->priv = st;
    if (!virtio_queue_init(&b->dev, &st->rxq, RXQ, &st->rx_mem, 2 * NET_SLOTS) ||
        !virtio_queue_init(&b->dev, &st->txq, TXQ, &st->tx_mem, 2 * NET_SLOTS)) {
        return false;
    }
    st->rx_slots = st->rxq.num / 2;
    st->tx_slots = st->txq.num / 2;
    st->rx_free = slot_mask(st->rx_slots);
    st->tx_free = slot_mask(st->tx_slots);
    struct shq_net_config *c = &b->hdr->config.net;
    if (b->dev.features & VIRTIO_BIT(VIRTIO_NET_F_MAC)) {
        virtio_config_bytes(&b->dev, CFG_MAC, c->mac, 6);
    }
    c->link_up = link_up(b);
    c->mtu = NET_MTU;
    uint32_t cap = shq_ring_max_capacity(sizeof(struct shq_net_buffer));
    shq_port_init(&st->tx, b, 0, sizeof(struct shq_net_buffer), cap);
    shq_port_init(&st->tx_done, b, 1, sizeof(struct shq_net_buffer), cap);
    shq_port_init(&st->rx_offer, b, 2, sizeof(struct shq_net_buffer), cap);
    shq_port_init(&st->rx_filled, b, 3, sizeof(struct shq_net_buffer), cap);
    LOG_INFO("backend %u: link %s, %u rx and %u tx slots", b->index, c->link_up ? "up" : "down", st->rx_slots,
             st->tx_slots);
    return true;
}

static void rx_post(struct net_state *st, unsigned i)
{
    uint16_t head = (uint16_t)(2 * i);
    *virtq_desc(&st->rxq, head) = (struct virtq_desc){virtio_hyp_pa(st->rx_hdr[i]), NET_HDR_LEN,
                                                      VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1)};
    virtq_add(&st->rxq, head);
}

/* Filled rx buffers -> ring 3 (while it has room; the rest wait in the used ring). */
static void rx_complete(struct backend *b, struct net_state *st)
{
    uint32_t room = shq_port_room(b, &st->rx_filled);
    uint32_t id, len;
    while (room && virtq_get_used(&st->rxq, &id, &len)) {
        unsigned i = id / 2;
        if (id % 2 || i >= st->rx_slots || (st->rx_free & (1ull << i))) {
            LOG_WARN("backend %u: device returned unknown rx descriptor %u", b->index, id);
            continue;
        }
        if (len <= NET_HDR_LEN) {
            rx_post(st, i); /* nothing received: give the same buffer back to the device */
            continue;
        }
        struct shq_net_buffer out = st->rx_buf[i];
        if (len - NET_HDR_LEN < out.len) {
            out.len = len - NET_HDR_LEN;
        }
        shq_port_push(&st->rx_filled, &out);
        room--;
        st->rx_free |= 1ull << i;
        st->rx_posted--;
    }
}

/* Buffers offered on ring 2 -> receiveq, no more than ring 3 can take back. */
static void rx_refill(struct backend *b, struct net_state *st)
{
    uint32_t avail = shq_port_avail(b, &st->rx_offer);
    uint32_t room = shq_port_room(b, &st->rx_filled);
    while (avail && st->rx_free && st->rx_posted < room) {
        struct shq_net_buffer buf;
        shq_port_peek(&st->rx_offer, &buf);
        shq_port_skip(&st->rx_offer);
        avail--;
        if (buf.len < NET_MIN_RX_BUF || !backend_data_ok(b, buf.data_offset, buf.len)) {
            backend_error(b, "rx buffer too small or outside the data area: dropped", buf.data_offset);
            continue;
        }
        unsigned i = (unsigned)__builtin_ctzll(st->rx_free);
        st->rx_free &= ~(1ull << i);
        st->rx_buf[i] = buf;
        *virtq_desc(&st->rxq, (uint16_t)(2 * i + 1)) =
            (struct virtq_desc){backend_data_pa(b, buf.data_offset), buf.len, VIRTQ_DESC_F_WRITE, 0};
        rx_post(st, i);
        st->rx_posted++;
    }
}

static void tx_complete(struct backend *b, struct net_state *st)
{
    uint32_t room = shq_port_room(b, &st->tx_done);
    uint32_t id, len;
    while (room && virtq_get_used(&st->txq, &id, &len)) {
        unsigned i = id / 2;
        if (id % 2 || i >= st->tx_slots || (st->tx_free & (1ull << i))) {
            LOG_WARN("backend %u: device returned unknown tx descriptor %u", b->index, id);
            continue;
        }
        shq_port_push(&st->tx_done, &st->tx_buf[i]);
        room--;
        st->tx_free |= 1ull << i;
        st->tx_in_flight--;
    }
}

/* Frames on ring 0 -> transmitq while a slot is free and ring 1 can take every buffer back. */
static void tx_send(struct backend *b, struct net_state *st)
{
    uint32_t avail = shq_port_avail(b, &st->tx);
    uint32_t room = shq_port_room(b, &st->tx_done);
    while (avail && room > st->tx_in_flight) {
        struct shq_net_buffer buf;
        shq_port_peek(&st->tx, &buf);
        bool bad = buf.len == 0 || buf.len > NET_MAX_FRAME || !backend_data_ok(b, buf.data_offset, buf.len);
        if (!bad && !st->tx_free) {
            break;
        }
        shq_port_skip(&st->tx);
        avail--;
        if (bad) {
            backend_error(b, "tx frame empty, too long or outside the data area: returned unsent", buf.data_offset);
            shq_port_push(&st->tx_done, &buf);
            room--;
            continue;
        }
        unsigned i = (unsigned)__builtin_ctzll(st->tx_free);
        uint16_t head = (uint16_t)(2 * i);
        st->tx_free &= ~(1ull << i);
        st->tx_buf[i] = buf;
        *virtq_desc(&st->txq, head) =
            (struct virtq_desc){virtio_hyp_pa(zero_hdr), NET_HDR_LEN, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1)};
        *virtq_desc(&st->txq, (uint16_t)(head + 1)) =
            (struct virtq_desc){backend_data_pa(b, buf.data_offset), buf.len, 0, 0};
        virtq_add(&st->txq, head);
        st->tx_in_flight++;
    }
}

static void net_service(struct backend *b)
{
    struct net_state *st = b->priv;
    tx_complete(b, st);
    rx_complete(b, st);
    tx_send(b, st);
    rx_refill(b, st);
    virtq_kick(&st->txq);
    virtq_kick(&st->rxq);
    shq_port_publish(&st->tx, false);
    shq_port_publish(&st->rx_offer, false);
    bool produced = shq_port_publish(&st->tx_done, true);
    produced |= shq_port_publish(&st->rx_filled, true);
    if (produced) {
        b->notify = true;
    }
}

static void net_config_changed(struct backend *b)
{
    uint8_t up = link_up(b);
    if (up != b->hdr->config.net.link_up) {
        __atomic_store_n(&b->hdr->config.net.link_up, up, __ATOMIC_RELEASE);
        b->notify = true;
        LOG_INFO("backend %u: link %s", b->index, up ? "up" : "down");
    }
}

const struct backend_ops backend_net_ops = {
    .device_id = VIRTIO_ID_NET,
    .features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS),
    .start = net_start,
    .service = net_service,
    .config_changed = net_config_changed,
};

/* hyp/pools.h: receive slots posted to the device, transmit slots at the device. */
void backend_net_report_pools(const struct backend *b)
{
    const struct net_state *st = b->priv;
    unsigned rx = st->rx_slots - (unsigned)__builtin_popcountll(st->rx_free & slot_mask(st->rx_slots));
    unsigned tx = st->tx_slots - (unsigned)__builtin_popcountll(st->tx_free & slot_mask(st->tx_slots));
    hyp_printf("hyp-pools: backend %u net rx %u/%u tx %u/%u\n", b->index, rx, st->rx_slots, tx, st->tx_slots);
}
