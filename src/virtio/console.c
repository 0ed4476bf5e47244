/*
 * virtio-console, one port (virtio 1.2 section 5.3): receiveq0 and
 * transmitq0 over byte rings shared with a console backend.
 */
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/virtio/console.h>
#include <microkit.h>
#include "virtio/queue.h"
#include "virtio/shq_client.h"
#include "virtio/transport.h"
#include "virtio/virtio_spec.h"

#define CON_RXQ 0u
#define CON_TXQ 1u
#define CFG_SIZE 12u /* 5.3.4: cols, rows, max_nr_ports, emerg_wr; all zero without the features */

static struct virtio_console_device *to_console(struct virtio_mmio_device *d)
{
    return (struct virtio_console_device *)d;
}

static void kick_backend(struct virtio_console_device *c)
{
    if (c->kick) {
        c->kick = false;
        microkit_notify(c->vdev.ch);
    }
}

/* Entries from entry i of r that are contiguous in memory, at most n. */
static uint32_t ring_span(const struct shq_client_ring *r, uint32_t i, uint32_t n)
{
    uint32_t to_end = r->capacity - ((r->index + i) & (r->capacity - 1));
    return n < to_end ? n : to_end;
}

/* Move as much of the current transmit chain into ring 0 as fits. True when all of it is sent. */
static bool tx_send_some(struct virtio_console_device *c)
{
    struct shq_client_ring *r = &c->tx_ring;
    uint32_t left = c->tx_chain.read_bytes - c->tx_sent;
    uint32_t space = shq_client_space(r);
    uint32_t n = left < space ? left : space;
    for (uint32_t k = 0; k < n;) {
        uint32_t span = ring_span(r, k, n - k);
        vqueue_chain_read(&c->tx_chain, c->tx_sent + k, shq_client_entry(r, k), span);
        k += span;
    }
    if (n > 0) {
        shq_client_produce(r, n);
        c->kick = true;
        c->tx_sent += n;
        c->tx_bytes += n;
    }
    return c->tx_sent == c->tx_chain.read_bytes;
}

/* Start the next transmit chain. False if the queue is empty or the device broke. */
static bool tx_take(struct virtio_console_device *c, struct vqueue *q)
{
    uint16_t head;
    enum vqueue_pop got = vqueue_pop(q, &head);
    if (got == VQUEUE_BROKEN) {
        virtio_mmio_needs_reset(&c->vdev, "transmit avail ring corrupt");
    }
    if (got != VQUEUE_GOT) {
        return false;
    }
    c->tx_chain = (struct vqueue_chain){.segs = c->tx_segs, .max_segs = VQUEUE_MAX_SIZE};
    if (vqueue_walk(q, head, &c->tx_chain) != VQUEUE_CHAIN_OK || c->tx_chain.write_bytes != 0) {
        virtio_mmio_needs_reset(&c->vdev, "malformed transmit chain");
        return false;
    }
    c->tx_busy = true;
    c->tx_sent = 0;
    return true;
}

/* One transmit step: resume the chain the backend had no room for, or take the next one. */
static enum virtio_drain_step console_tx_step(struct virtio_mmio_device *d, struct vqueue *q)
{
    struct virtio_console_device *c = to_console(d);
    enum virtio_drain_step done = VIRTIO_DRAIN_RESUMED;
    if (!c->tx_busy) {
        if (!tx_take(c, q)) {
            return virtio_mmio_live(d) ? VIRTIO_DRAIN_EMPTY : VIRTIO_DRAIN_STOP;
        }
        done = VIRTIO_DRAIN_TOOK;
    }
    if (!tx_send_some(c)) {
        c->tx_blocked = true; /* resumes when the backend makes room */
        return VIRTIO_DRAIN_STOP;
    }
    vqueue_push(q, c->tx_chain.head, 0);
    c->tx_busy = false;
    return done;
}

static void console_tx(struct virtio_console_device *c)
{
    c->tx_blocked = false;
    virtio_mmio_drain(&c->vdev, CON_TXQ, console_tx_step);
}

/* Fill one receive chain from ring 1 (taken entries already consumed). Returns bytes placed, 0 if none. */
static uint32_t rx_fill(struct virtio_console_device *c, struct vqueue *q, uint32_t taken, uint32_t avail)
{
    uint16_t head;
    enum vqueue_pop got = vqueue_pop(q, &head);
    if (got == VQUEUE_BROKEN) {
        virtio_mmio_needs_reset(&c->vdev, "receive avail ring corrupt");
    }
    if (got != VQUEUE_GOT) {
        return 0;
    }
    struct vqueue_chain ch = {.segs = c->scratch, .max_segs = VQUEUE_MAX_SIZE};
    if (vqueue_walk(q, head, &ch) != VQUEUE_CHAIN_OK || ch.read_bytes != 0) {
        virtio_mmio_needs_reset(&c->vdev, "malformed receive chain");
        return 0;
    }
    uint32_t n = avail - taken < ch.write_bytes ? avail - taken : ch.write_bytes;
    for (uint32_t k = 0; k < n;) {
        uint32_t span = ring_span(&c->rx_ring, taken + k, n - k);
        vqueue_chain_write(&ch, k, shq_client_entry(&c->rx_ring, taken + k), span);
        k += span;
    }
    vqueue_push(q, head, n);
    return n;
}

static void console_rx(struct virtio_console_device *c)
{
    struct vqueue *q = virtio_mmio_queue(&c->vdev, CON_RXQ);
    uint32_t avail = shq_client_avail(&c->rx_ring);
    if (avail == 0 || q == NULL || !virtio_mmio_live(&c->vdev)) {
        return; /* the bytes wait in the backend's ring */
    }
    uint32_t taken = 0;
    for (;;) {
        uint32_t n;
        while (taken < avail && (n = rx_fill(c, q, taken, avail)) > 0) {
            taken += n;
        }
        /* Out of guest buffers with bytes left: ask to be told of the next buffer. */
        if (taken == avail || !virtio_mmio_live(&c->vdev) || !vqueue_notify_on(q)) {
            break;
        }
    }
    if (taken > 0) {
        shq_client_consume(&c->rx_ring, taken);
        c->rx_bytes += taken;
        c->kick = true;
    }
    virtio_mmio_flush(&c->vdev, CON_RXQ);
}

static void console_queue_notify(struct virtio_mmio_device *d, uint16_t index)
{
    struct virtio_console_device *c = to_console(d);
    if (index == CON_TXQ) {
        console_tx(c);
    } else {
        console_rx(c);
    }
    kick_backend(c);
}

static void console_activate(struct virtio_mmio_device *d)
{
    console_rx(to_console(d)); /* bytes may be waiting from before */
    kick_backend(to_console(d));
}

static void console_reset(struct virtio_mmio_device *d)
{
    struct virtio_console_device *c = to_console(d);
    c->tx_busy = false;
    c->tx_blocked = false;
}

static const struct virtio_mmio_ops console_ops = {
    .queue_notify = console_queue_notify,
    .activate = console_activate,
    .reset = console_reset,
};

static bool attach_backend(struct virtio_console_device *c, void *region, size_t size)
{
    const char *name = "virtio-console";
    const uint32_t esize = sizeof(struct shq_console_byte);
    return shq_client_check_header(region, size, SHQ_KIND_CONSOLE, name) &&
           shq_client_attach(&c->tx_ring, region, 0, esize, true, name) &&
           shq_client_attach(&c->rx_ring, region, 1, esize, false, name);
}

bool virtio_console_init(struct virtio_console_device *dev, uint64_t gpa, size_t vcpu, int irq, void *shq_region,
                         size_t region_size, microkit_channel ch)
{
    if (dev == NULL) {
        LOG_ERR("no device given");
        return false;
    }
    memset(dev, 0, sizeof(*dev));
    bool present = attach_backend(dev, shq_region, region_size);
    const struct virtio_mmio_params params = {
        .name = "virtio-console",
        .device_id = VIO_ID_CONSOLE,
        .features = present ? VIO_BIT(VIO_F_EVENT_IDX) | VIO_BIT(VIO_F_INDIRECT_DESC) : 0,
        .num_queues = 2,
        .queue_max = VIRTIO_CONSOLE_QUEUE_SIZE,
        .config_size = CFG_SIZE,
        .ops = &console_ops,
    };
    return virtio_mmio_register(&dev->vdev, &params, gpa, vcpu, irq, ch, present);
}

void virtio_console_handle_notification(struct virtio_console_device *dev)
{
    if (dev == NULL || !dev->vdev.present) {
        return;
    }
    console_rx(dev);
    if (dev->tx_blocked) {
        console_tx(dev);
    }
    kick_backend(dev);
    virtio_mmio_run_deferred(&dev->vdev);
}
