/*
 * Console backend over port 0 of QEMU's virtio-serial-device (virtio 1.2,
 * 5.3), i.e. a virtconsole. MULTIPORT is not negotiated, so only receiveq0
 * and transmitq0 exist (5.3.2) and QEMU connects port 0 as soon as the
 * driver is ready. Bytes are copied through small hyp-owned buffers (a
 * byte-stream ring cannot be handed to the device without splitting at the
 * wrap, and the console is slow): ring 0 -> transmitq0, receiveq0 -> ring 1,
 * where bytes that do not fit are dropped and counted.
 */
#include <hyp/backend.h>
#include <hyp/log.h>
#include <hyp/pools.h>

#define RXQ 0
#define TXQ 1
#define CON_BUF 512
#define CON_BUFS 4 /* per direction, one descriptor each */

struct console_state {
    struct virtq_mem rx_mem, tx_mem;
    struct virtq rxq, txq;
    uint8_t rx_buf[CON_BUFS][CON_BUF];
    uint8_t tx_buf[CON_BUFS][CON_BUF];
    uint32_t tx_free; /* bit n: tx buffer n is free */
    bool rx_posted;
    struct shq_port tx, rx;
};

static struct console_state pool[BACKEND_MAX_CONSOLE];
static unsigned pool_used;

static bool console_start(struct backend *b)
{
    struct console_state *st = &pool[pool_used++];
    b->priv = st;
    if (!virtio_queue_init(&b->dev, &st->rxq, RXQ, &st->rx_mem, CON_BUFS) ||
        !virtio_queue_init(&b->dev, &st->txq, TXQ, &st->tx_mem, CON_BUFS)) {
        return false;
    }
    st->tx_free = (1u << CON_BUFS) - 1;
    uint32_t cap = shq_ring_max_capacity(sizeof(struct shq_console_byte));
    shq_port_init(&st->tx, b, 0, sizeof(struct shq_console_byte), cap);
    shq_port_init(&st->rx, b, 1, sizeof(struct shq_console_byte), cap);
    return true;
}

static void rx_post(struct console_state *st, unsigned i)
{
    *virtq_desc(&st->rxq, (uint16_t)i) =
        (struct virtq_desc){virtio_hyp_pa(st->rx_buf[i]), CON_BUF, VIRTQ_DESC_F_WRITE, 0};
    virtq_add(&st->rxq, (uint16_t)i);
}

static void rx_complete(struct backend *b, struct console_state *st)
{
    uint32_t id, len;
    while (virtq_get_used(&st->rxq, &id, &len)) {
        if (id >= CON_BUFS) {
            LOG_WARN("backend %u: device returned unknown rx descriptor %u", b->index, id);
            continue;
        }
        if (len > CON_BUF) {
            len = CON_BUF;
        }
        uint32_t room = shq_port_room(b, &st->rx);
        uint32_t n = len < room ? len : room;
        struct shq_port *p = &st->rx;
        for (uint32_t k = 0; k < n; k++) {
            p->entries[(p->idx + k) & (p->cap - 1)] = st->rx_buf[id][k];
        }
        p->idx += n;
        if (n < len) {
            backend_dropped(b, len - n);
        }
        rx_post(st, id);
    }
}

static void tx_complete(struct backend *b, struct console_state *st)
{
    uint32_t id, len;
    while (virtq_get_used(&st->txq, &id, &len)) {
        if (id >= CON_BUFS || (st->tx_free & (1u << id))) {
            LOG_WARN("backend %u: device returned unknown tx descriptor %u", b->index, id);
            continue;
        }
        st->tx_free |= 1u << id;
    }
}

static void tx_send(struct backend *b, struct console_state *st)
{
    struct shq_port *p = &st->tx;
    uint32_t avail = shq_port_avail(b, p);
    while (avail && st->tx_free) {
        unsigned i = (unsigned)__builtin_ctz(st->tx_free);
        uint32_t n = avail < CON_BUF ? avail : CON_BUF;
        for (uint32_t k = 0; k < n; k++) {
            st->tx_buf[i][k] = p->entries[(p->idx + k) & (p->cap - 1)];
        }
        p->idx += n;
        avail -= n;
        st->tx_free &= ~(1u << i);
        *virtq_desc(&st->txq, (uint16_t)i) = (struct virtq_desc){virtio_hyp_pa(st->tx_buf[i]), n, 0, 0};
        virtq_add(&st->txq, (uint16_t)i);
    }
}

static void console_service(struct backend *b)
{
    struct console_state *st = b->priv;
    if (!st->rx_posted) {
        st->rx_posted = true;
        for (unsigned i = 0; i < CON_BUFS; i++) {
            rx_post(st, i);
        }
    }
    tx_complete(b, st);
    rx_complete(b, st);
    tx_send(b, st);
    virtq_kick(&st->txq);
    virtq_kick(&st->rxq);
    /* Ring 0 has no completion ring: its head moving is the PD's signal that there is room again. */
    bool moved = shq_port_publish(&st->tx, false);
    moved |= shq_port_publish(&st->rx, true);
    if (moved) {
        b->notify = true;
    }
}

const struct backend_ops backend_console_ops = {
    .device_id = VIRTIO_ID_CONSOLE,
    .features = 0,
    .start = console_start,
    .service = console_service,
    .config_changed = NULL,
};

/* hyp/pools.h: transmit buffers at the device (the receive buffers are always all posted). */
void backend_console_report_pools(const struct backend *b)
{
    const struct console_state *st = b->priv;
    unsigned tx = CON_BUFS - (unsigned)__builtin_popcount(st->tx_free & ((1u << CON_BUFS) - 1));
    hyp_printf("hyp-pools: backend %u console tx %u/%u\n", b->index, tx, CON_BUFS);
}
