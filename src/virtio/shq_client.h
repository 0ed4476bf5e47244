/*
 * The VMM side of a shared-queue region (<libvmm/shq.h>), library-internal.
 * The backend is untrusted too: its header is checked once before a device
 * is offered, capacities and configuration are read once, its indices are
 * checked on every read (tail - head <= capacity), and every entry is
 * copied before it is used.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/shq.h>
#include <libvmm/virtio/virtio.h>

/* Magic, kind, ready (read with acquire), region size and alignment. False (logged) if not usable. */
bool shq_client_check_header(void *region, size_t size, enum shq_kind kind, const char *name);

/*
 * Attach ring n of a checked region; `produce` is true for a ring the VMM
 * fills. The capacity (read once) must be a power of two that fits the ring
 * page for entry_size; the indices must be consistent. False (logged) if not.
 */
bool shq_client_attach(struct shq_client_ring *r, void *region, unsigned n, uint32_t entry_size, bool produce,
                       const char *name);

/* Producer: free entries (0 if the consumer's head is inconsistent). */
uint32_t shq_client_space(struct shq_client_ring *r);

/* Consumer: filled entries (0 if the producer's tail is inconsistent). */
uint32_t shq_client_avail(struct shq_client_ring *r);

/* Entry i past our index (a free slot to fill, or a filled one to read). */
void *shq_client_entry(struct shq_client_ring *r, uint32_t i);

/* Producer: publish n filled entries (release, then tail). */
void shq_client_produce(struct shq_client_ring *r, uint32_t n);

/* Consumer: hand n read entries back (release, then head). */
void shq_client_consume(struct shq_client_ring *r, uint32_t n);

/* Data-area bounds of a region of `size` bytes. */
static inline bool shq_client_data_range(size_t size, uint64_t offset, uint64_t len)
{
    return offset >= SHQ_DATA_OFFSET && offset <= size && len <= size - offset;
}
