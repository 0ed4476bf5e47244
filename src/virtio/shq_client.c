/*
 * VMM side of the shared-queue protocol (<libvmm/shq.h>): sDDF-style rings
 * with free-running 32-bit indices. Barriers: the producer releases before
 * advancing tail, the consumer acquires after reading it, and the same the
 * other way round for head.
 */
#include <stddef.h>
#include <libvmm/log.h>
#include "virtio/barrier.h"
#include "virtio/shq_client.h"

#define RING_TAIL offsetof(struct shq_ring, tail)
#define RING_HEAD offsetof(struct shq_ring, head)
#define RING_CAPACITY offsetof(struct shq_ring, capacity)

bool shq_client_check_header(void *region, size_t size, enum shq_kind kind, const char *name)
{
    if (region == NULL || ((uintptr_t)region & 0xfff) != 0 || size < SHQ_REGION_MIN_SIZE) {
        LOG_ERR("%s: shared region %p (0x%zx bytes) missing, unaligned or smaller than 0x%x", name, region, size,
                SHQ_REGION_MIN_SIZE);
        return false;
    }
    const struct shq_header *h = region;
    uint32_t magic = vio_load32(&h->magic);
    uint32_t k = vio_load32(&h->kind);
    uint32_t ready = vio_load32(&h->ready);
    vio_acquire(); /* the header and rings were written before `ready` */
    if (magic == SHQ_MAGIC && k == (uint32_t)kind && ready == 0) {
        /* A described device the platform does not have: expected, not an error. */
        LOG_INFO("%s: backend present but not ready (no device behind it)", name);
        return false;
    }
    if (magic != SHQ_MAGIC || k != (uint32_t)kind || ready == 0) {
        LOG_ERR("%s: not a backend region (magic 0x%x, kind %u, ready %u; want kind %u)", name, magic, k, ready,
                (unsigned)kind);
        return false;
    }
    return true;
}

bool shq_client_attach(struct shq_client_ring *r, void *region, unsigned n, uint32_t entry_size, bool produce,
                       const char *name)
{
    uint8_t *ring = (uint8_t *)shq_ring(region, n);
    uint32_t cap = vio_load32(ring + RING_CAPACITY);
    uint32_t tail = vio_load32(ring + RING_TAIL);
    uint32_t head = vio_load32(ring + RING_HEAD);
    if (cap == 0 || (cap & (cap - 1)) != 0 || cap > shq_ring_max_capacity(entry_size) || tail - head > cap) {
        LOG_ERR("%s: ring %u capacity %u (entries of %u bytes) or indices %u/%u invalid", name, n, cap, entry_size,
                tail, head);
        return false;
    }
    r->ring = ring;
    r->entries = (uint8_t *)shq_ring_entries((struct shq_ring *)ring);
    r->capacity = cap;
    r->entry_size = entry_size;
    r->produce = produce;
    r->index = produce ? tail : head;
    return true;
}

uint32_t shq_client_space(struct shq_client_ring *r)
{
    uint32_t head = vio_load32((uint8_t *)r->ring + RING_HEAD);
    vio_acquire(); /* the consumer's reads of freed entries come before our rewrites */
    uint32_t used = r->index - head;
    if (used > r->capacity) {
        LOG_GUEST(LOG_LEVEL_ERROR, "backend ring head %u inconsistent with tail %u", head, r->index);
        return 0;
    }
    return r->capacity - used;
}

uint32_t shq_client_avail(struct shq_client_ring *r)
{
    uint32_t tail = vio_load32((uint8_t *)r->ring + RING_TAIL);
    uint32_t n = tail - r->index;
    if (n > r->capacity) {
        LOG_GUEST(LOG_LEVEL_ERROR, "backend ring tail %u inconsistent with head %u", tail, r->index);
        return 0;
    }
    vio_acquire(); /* entries are read only after the tail that covers them */
    return n;
}

void *shq_client_entry(struct shq_client_ring *r, uint32_t i)
{
    return r->entries + (size_t)((r->index + i) & (r->capacity - 1)) * r->entry_size;
}

void shq_client_produce(struct shq_client_ring *r, uint32_t n)
{
    if (n == 0) {
        return;
    }
    vio_release();
    r->index += n;
    vio_store32((uint8_t *)r->ring + RING_TAIL, r->index);
}

void shq_client_consume(struct shq_client_ring *r, uint32_t n)
{
    if (n == 0) {
        return;
    }
    vio_release();
    r->index += n;
    vio_store32((uint8_t *)r->ring + RING_HEAD, r->index);
}
