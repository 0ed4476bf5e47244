/*
 * Shared queues between a VMM and a device backend.
 *
 * A backend is whatever really does the I/O: on seL4 an sDDF virtualiser or
 * driver protection domain, under hyp the EL2 kernel's drivers for QEMU's own
 * virtio devices. The VMM and the backend share one memory region per device
 * and one Microkit channel; neither side ever sees the other's code. The
 * shape follows sDDF (rings of fixed-size entries with free-running 32-bit
 * indices, a data area addressed by offsets, one notification each way);
 * the layout is this project's own.
 *
 * Region layout (all offsets from the start of the region, which is at least
 * SHQ_REGION_MIN_SIZE bytes and 4 KiB aligned):
 *
 *   0x0000  struct shq_header      written by the backend before it sets
 *                                  `ready`; read-only for the VMM afterwards
 *   0x1000  ring 0                 (meaning per device kind, below)
 *   0x2000  ring 1
 *   0x3000  ring 2
 *   0x4000  ring 3
 *   0x10000 data area              up to the end of the region
 *
 * Each ring is a struct shq_ring followed by `capacity` entries of the
 * kind's entry type. Producer writes the entry, then a release barrier, then
 * advances `tail`; the consumer reads `tail` with acquire, reads the entry,
 * then advances `head` with release. tail - head <= capacity always
 * (free-running, wrapping uint32_t). After producing, a side notifies the
 * channel. Both sides treat the other's indices and entries as untrusted:
 * every offset and length is bounds-checked against the data area.
 *
 * Further rules both sides rely on:
 * - The backend sets `ready` before the VMM's init() runs (under hyp: before
 *   any PD starts). A VMM checks the header once, when it creates the device;
 *   a backend that becomes ready later is not picked up.
 * - After `ready`, the backend may change only config.blk.capacity_sectors
 *   and config.net.link_up, and signals the channel when it does; the VMM
 *   re-reads those two fields on every notification.
 * - Request ids are opaque to the backend, which echoes them unchanged. On
 *   SHQ_BLK_OK, bytes_done equals the request's bytes for READ and WRITE.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define SHQ_MAGIC 0x31514853u /* "SHQ1" */
#define SHQ_REGION_MIN_SIZE 0x200000u
#define SHQ_RING_OFFSET(n) (0x1000u * (1u + (n)))
#define SHQ_RING_BYTES 0x1000u
#define SHQ_DATA_OFFSET 0x10000u

enum shq_kind {
    SHQ_KIND_BLK = 1,
    SHQ_KIND_NET = 2,
    SHQ_KIND_CONSOLE = 3,
};

struct shq_ring {
    uint32_t tail; /* producer: next entry to fill */
    uint32_t head; /* consumer: next entry to take */
    uint32_t capacity; /* entries, a power of two; set by the backend */
    uint32_t reserved[13];
    /* entries follow at offset 64 */
};

#define SHQ_RING_ENTRIES_OFFSET 64u

/* ---- block: ring 0 requests (VMM -> backend), ring 1 responses (backend -> VMM) ---- */

enum shq_blk_op {
    SHQ_BLK_READ = 0,
    SHQ_BLK_WRITE = 1,
    SHQ_BLK_FLUSH = 2, /* completes only after the data is on stable storage */
    SHQ_BLK_DISCARD = 3,
    SHQ_BLK_WRITE_ZEROES = 4,
};

enum shq_blk_status {
    SHQ_BLK_OK = 0,
    SHQ_BLK_IOERR = 1,
    SHQ_BLK_UNSUPPORTED = 2,
};

struct shq_blk_request {
    uint32_t op;
    uint32_t id; /* echoed in the response */
    uint64_t sector; /* 512-byte units */
    uint32_t bytes; /* multiple of 512; 0 for FLUSH */
    uint32_t data_offset; /* READ/WRITE: offset of the buffer from the region start */
};

struct shq_blk_response {
    uint32_t id;
    uint32_t status; /* enum shq_blk_status */
    uint32_t bytes_done;
    uint32_t reserved;
};

struct shq_blk_config {
    uint64_t capacity_sectors; /* 512-byte sectors */
    uint32_t block_size; /* logical block size in bytes (>= 512) */
    uint32_t max_request_bytes;
    uint8_t read_only;
    uint8_t flush;
    uint8_t discard;
    uint8_t write_zeroes;
    char serial[20]; /* virtio-blk GET_ID string, NUL padded */
};

/* ---- network: ring 0 tx (VMM -> backend), ring 1 tx done (backend -> VMM),
 *      ring 2 rx free buffers (VMM -> backend), ring 3 rx filled (backend -> VMM) ---- */

struct shq_net_buffer {
    uint32_t data_offset; /* from the region start */
    uint32_t len; /* tx/rx filled: frame length; rx free: buffer size */
};

struct shq_net_config {
    uint8_t mac[6];
    uint8_t link_up;
    uint8_t reserved;
    uint16_t mtu;
    uint16_t reserved2;
};

/* ---- console: ring 0 tx bytes (VMM -> backend), ring 1 rx bytes (backend -> VMM) ----
 * Entries are single bytes (struct shq_console_byte) so the rings carry a
 * byte stream; capacity up to 4032 per ring. */

struct shq_console_byte {
    uint8_t c;
};

struct shq_header {
    uint32_t magic; /* SHQ_MAGIC */
    uint32_t kind; /* enum shq_kind */
    uint32_t ready; /* set last (release) by the backend; 0 = backend absent */
    uint32_t reserved;
    union {
        struct shq_blk_config blk;
        struct shq_net_config net;
    } config;
};

/* Pointer to ring n of a region, and to its first entry. */
static inline struct shq_ring *shq_ring(void *region, unsigned n)
{
    return (struct shq_ring *)((char *)region + SHQ_RING_OFFSET(n));
}

static inline void *shq_ring_entries(struct shq_ring *ring)
{
    return (char *)ring + SHQ_RING_ENTRIES_OFFSET;
}

/*
 * Largest capacity (a power of two) for entries of `entry_size` bytes in one
 * ring page; 0 when not even one entry fits (or entry_size is 0).
 */
static inline uint32_t shq_ring_max_capacity(uint32_t entry_size)
{
    const uint32_t room = SHQ_RING_BYTES - SHQ_RING_ENTRIES_OFFSET;
    if (entry_size == 0 || entry_size > room) {
        return 0;
    }
    uint32_t cap = 1;
    while ((uint64_t)cap * 2 * entry_size <= room) {
        cap *= 2;
    }
    return cap;
}
