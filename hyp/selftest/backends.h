/*
 * hyp's backend selftest: a VMM with no guest that drives the client side of
 * <libvmm/shq.h> directly against hyp's virtio backends (blk, net, console).
 * Constants shared with the host harness (backends_run.py) are marked HOST.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <microkit.h>
#include <libvmm/shq.h>

#define CH_BLK_A 1
#define CH_BLK_B 2
#define CH_NET 3
#define CH_CONSOLE 4
#define CH_BLK_MISSING 5
#define CH_NET_MISSING 6

#define DISK_A_SERIAL "hyp-disk-a" /* HOST: 16 MiB, read-write */
#define DISK_B_SERIAL "hyp-disk-b" /* HOST: 8 MiB, read-only, signature in its first 8 KiB */
#define DISK_A_BYTES 0x1000000u
#define DISK_B_BYTES 0x800000u
#define DISK_B_SIG_BYTES 0x2000u
#define NET_MAC "52:54:00:aa:bb:01" /* HOST: -device virtio-net-device,mac=... */
#define CONSOLE_BYTES 3000 /* HOST: bytes the host sends and expects echoed */
#define TFTP_FILE "hello.txt" /* HOST: in the user-net tftp= directory */
#define TFTP_TEXT "hyp backend selftest: hello over slirp tftp\n" /* HOST: its content */

/* HOST: the patterns, byte `p` of the disk or region. */
static inline uint8_t pattern_a(uint64_t p)
{
    return (uint8_t)((p >> 9) * 31 + (p & 511) * 7 + 1);
}
static inline uint8_t pattern_perf(uint64_t off)
{
    return (uint8_t)((off & 4095) + (off >> 12));
}
static inline uint8_t pattern_b(uint64_t p)
{
    return (uint8_t)((p * 5 + 3) ^ 0x5a);
}

/* A client's view of one ring (the VMM side of the contract). */
struct cring {
    struct shq_ring *r;
    uint8_t *e;
    uint32_t cap, size;
};

static inline void cring_init(struct cring *c, void *region, unsigned n, uint32_t size)
{
    c->r = shq_ring(region, n);
    c->e = shq_ring_entries(c->r);
    c->cap = c->r->capacity;
    c->size = size;
}

static inline uint32_t cring_room(const struct cring *c)
{
    return c->cap - (c->r->tail - __atomic_load_n(&c->r->head, __ATOMIC_ACQUIRE));
}

static inline void *cring_slot(struct cring *c, uint32_t i)
{
    return c->e + (i & (c->cap - 1)) * c->size;
}

bool cring_put(struct cring *c, const void *entry);
bool cring_get(struct cring *c, void *entry);

extern unsigned failures;
void check(bool ok, const char *what);
void check_eq(uint64_t got, uint64_t want, const char *what);
void put_dec(uint64_t v);
uint64_t ticks(void);
uint64_t tick_hz(void);
void print_rate(const char *what, uint64_t bytes, uint64_t dt);

extern uintptr_t blk_a_vaddr, blk_b_vaddr, net_vaddr, console_vaddr, blk_missing_vaddr, net_missing_vaddr;
extern uint64_t region_size_blk_a, region_size_net;

void blk_test_start(void);
void blk_test_notified(microkit_channel ch);
bool blk_test_done(void);
void net_test_start(void);
void net_test_notified(void);
bool net_test_done(void);
