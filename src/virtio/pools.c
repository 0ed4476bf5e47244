/*
 * Occupancy of the devices' fixed pools (struct virtio_pool_usage): what a
 * soak run compares across reboots to find a leak. Each count is taken from
 * the free list the device allocates from, so an entry that is never given
 * back shows up as in use for good.
 */
#include <stddef.h>
#include <libvmm/log.h>
#include <libvmm/virtio/blk.h>
#include <libvmm/virtio/console.h>
#include <libvmm/virtio/net.h>
#include <libvmm/virtio/virtio.h>
#include "virtio/barrier.h"

static void usage_start(struct virtio_pool_usage *u, const char *device)
{
    u->device = device;
    u->count = 0;
}

static void usage_add(struct virtio_pool_usage *u, const char *name, uint32_t in_use, uint32_t capacity)
{
    if (u->count < VIRTIO_POOLS_MAX) {
        u->pools[u->count++] = (struct virtio_pool){.name = name, .in_use = in_use, .capacity = capacity};
    }
}

static uint32_t low_mask_count(uint64_t free, unsigned n)
{
    uint64_t mask = n >= 64 ? ~0ull : (1ull << n) - 1;
    return (uint32_t)__builtin_popcountll(free & mask);
}

bool virtio_blk_pool_usage(const struct virtio_blk_device *dev, struct virtio_pool_usage *usage)
{
    if (usage == NULL) {
        return false;
    }
    usage_start(usage, "blk");
    if (dev == NULL || !dev->vdev.present) {
        return false;
    }
    usage_add(usage, "reqs", VIRTIO_BLK_MAX_REQS - low_mask_count(dev->free_reqs, VIRTIO_BLK_MAX_REQS),
              VIRTIO_BLK_MAX_REQS);
    usage_add(usage, "parts", VIRTIO_BLK_MAX_PARTS - low_mask_count(dev->free_parts, VIRTIO_BLK_MAX_PARTS),
              VIRTIO_BLK_MAX_PARTS);
    usage_add(usage, "slots", dev->num_slots - low_mask_count(dev->free_slots, dev->num_slots), dev->num_slots);
    return true;
}

bool virtio_net_pool_usage(const struct virtio_net_device *dev, struct virtio_pool_usage *usage)
{
    if (usage == NULL) {
        return false;
    }
    usage_start(usage, "net");
    if (dev == NULL || !dev->vdev.present) {
        return false;
    }
    usage_add(usage, "tx", (uint32_t)dev->ntx - dev->tx_free_count, dev->ntx);
    usage_add(usage, "rx", (uint32_t)dev->nrx - dev->rx_idle_count, dev->nrx);
    return true;
}

/* Entries between the producer's tail and the consumer's head; the peer's index read once, clamped. */
static uint32_t ring_filled(const struct shq_client_ring *r)
{
    const struct shq_ring *ring = r->ring;
    uint32_t n = r->produce ? r->index - vio_load32(&ring->head) : vio_load32(&ring->tail) - r->index;
    return n > r->capacity ? r->capacity : n;
}

bool virtio_console_pool_usage(const struct virtio_console_device *dev, struct virtio_pool_usage *usage)
{
    if (usage == NULL) {
        return false;
    }
    usage_start(usage, "console");
    if (dev == NULL || !dev->vdev.present) {
        return false;
    }
    usage_add(usage, "tx", ring_filled(&dev->tx_ring), dev->tx_ring.capacity);
    usage_add(usage, "rx", ring_filled(&dev->rx_ring), dev->rx_ring.capacity);
    return true;
}

/* Where the next piece of text goes: past the text so far, or the end of buf once it is full. */
static char *tail(char *buf, size_t size, int len, size_t *room)
{
    size_t at = (size_t)len < size ? (size_t)len : size;
    *room = size - at;
    return *room > 0 ? buf + at : NULL;
}

int virtio_pool_usage_format(const struct virtio_pool_usage *usage, char *buf, size_t size)
{
    if (usage == NULL || (buf == NULL && size != 0)) {
        return -1;
    }
    size_t room;
    char *at = tail(buf, size, 0, &room);
    int len = vmm_snprintf(at, room, "%s", usage->device != NULL ? usage->device : "?");
    if (usage->count == 0) {
        at = tail(buf, size, len, &room);
        len += vmm_snprintf(at, room, " absent");
    }
    for (unsigned i = 0; i < usage->count && i < VIRTIO_POOLS_MAX; i++) {
        const struct virtio_pool *p = &usage->pools[i];
        at = tail(buf, size, len, &room);
        len += vmm_snprintf(at, room, " %s %u/%u", p->name, p->in_use, p->capacity);
    }
    return len;
}
