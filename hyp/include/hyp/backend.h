/*
 * Device backends (hyp/system.h struct hyp_backend): hyp drives QEMU's own
 * virtio-mmio devices and serves them to a PD through the shared queues of
 * <libvmm/shq.h>, as an sDDF driver PD would on seL4. Everything in the
 * shared region is written by the PD and so untrusted: indices are checked
 * against hyp's private copies, entries are copied out before they are
 * validated, and every offset and length is bounds-checked against the data
 * area. A bad entry fails that request (blk) or is dropped (net), counted and
 * logged at a rate limit; hyp never crashes on it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <hyp/system.h>
#include <hyp/virtio.h>

struct pd;

#define HYP_MAX_BACKENDS 16
#define BACKEND_SERIAL_BYTES 20 /* virtio-blk GET_ID (VIRTIO_BLK_ID_BYTES), struct shq_blk_config.serial */
/* hyp's EL2 window for backend regions (each 2 MiB aligned); VMM maps may not use it. */
#define BACKEND_WINDOW_VA 0x6000000000ull
#define BACKEND_WINDOW_SIZE 0x1000000000ull

/* hyp's side of one ring of a shared region. `idx` is hyp's own index (head when hyp consumes,
 * tail when it produces); the peer's index is re-read and range-checked on every use. */
struct shq_port {
    struct shq_ring *ring;
    uint8_t *entries;
    uint32_t cap; /* entries, a power of two: hyp's copy, never read back from the region */
    uint32_t entry_size;
    uint32_t idx;
    uint32_t published; /* idx last written to the region */
};

struct backend;

struct backend_ops {
    uint32_t device_id;
    uint64_t features; /* device features the driver accepts (VERSION_1 is implied) */
    /* Between FEATURES_OK and DRIVER_OK: set up queues, fill hdr->config and the ring capacities. */
    bool (*start)(struct backend *b);
    /* One service pass: device completions -> response rings, request rings -> device. */
    void (*service)(struct backend *b);
    void (*config_changed)(struct backend *b);
};

struct backend {
    const struct hyp_backend *desc;
    const struct backend_ops *ops;
    unsigned index;
    struct pd *pd;
    uint8_t *region; /* hyp's mapping of the shared region */
    uint64_t region_pa;
    uint64_t region_size;
    struct shq_header *hdr;
    struct virtio_dev dev;
    void *priv; /* the kind's state, from its fixed pool */
    bool bound; /* a device is driven for this backend */
    bool irq_pending;
    bool notify; /* notify the PD at the end of this pass */
    uint64_t errors; /* bad entries and indices from the PD */
    uint64_t drops, drop_events; /* data lost for lack of room in the PD's ring (console rx) */
};

extern const struct backend_ops backend_blk_ops, backend_net_ops, backend_console_ops;
/* Pool sizes of the per-kind state (hyp has no heap). */
#define BACKEND_MAX_BLK 8
#define BACKEND_MAX_NET 4
#define BACKEND_MAX_CONSOLE 4

/*
 * Boot (system.c): check each PD's backends and add them to hyp's list (PD by PD), claim their
 * channels, map the regions and the virtio window for hyp (in every PD's EL2 table), then probe
 * the virtio-mmio slots, bind devices (explicit matches first, then command-line order over all
 * PDs' backends in list order) and fill the headers. Pending work is pd->backend_pending.
 */
void backend_validate(struct pd *pd);
bool backend_any(void);
void backend_claim_channels(struct pd *pd);
void backend_map(void);
void backend_start(void);
/* The PD has ended (lifecycle.c, on one of its CPUs): reset its devices, mask their interrupts. */
void backend_stop(struct pd *pd);
/* EL2 range of the virtio-mmio registers hyp maps (size 0 if none). */
void backend_virtio_window(uint64_t *base, uint64_t *size);

/* Kernel lock held: the PD notified the backend on its channel (seL4_Signal). */
void backend_signal(unsigned index);
/* Kernel lock held: the device's SPI fired; irq.c has masked it at the distributor. */
void backend_irq(unsigned index);
/* Run one pass of every pending backend of `pd` (pd.c event loop, by the CPU owning the PD, without the lock). */
void backend_service(struct pd *pd);

/* Boot-time identification (the device is reset afterwards). */
bool backend_blk_read_serial(struct virtio_dev *d, char serial[BACKEND_SERIAL_BYTES]);
bool backend_net_read_mac(struct virtio_dev *d, uint8_t mac[6]);

/* For the kinds' implementations. */
void backend_error(struct backend *b, const char *what, uint64_t value);
void backend_dropped(struct backend *b, uint64_t count);
/* [offset, offset + len) lies inside the region's data area. */
bool backend_data_ok(const struct backend *b, uint64_t offset, uint64_t len);
static inline uint64_t backend_data_pa(const struct backend *b, uint64_t offset)
{
    return b->region_pa + offset;
}
void shq_port_init(struct shq_port *p, struct backend *b, unsigned ring, uint32_t entry_size, uint32_t cap);
/* Consumer: entries the PD has produced (0, counted as an error, if its tail is out of range). */
uint32_t shq_port_avail(struct backend *b, struct shq_port *p);
/* Consumer: copy out the entry at hyp's head (it is validated from the copy, never re-read). */
void shq_port_peek(const struct shq_port *p, void *entry);
static inline void shq_port_skip(struct shq_port *p)
{
    p->idx++;
}
/* Producer: free entries (0, counted as an error, if the PD's head is out of range). */
uint32_t shq_port_room(struct backend *b, struct shq_port *p);
void shq_port_push(struct shq_port *p, const void *entry);
/* Write hyp's index to the region (release); true if it moved, i.e. the PD should be notified. */
bool shq_port_publish(struct shq_port *p, bool producer);
