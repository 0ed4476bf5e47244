/*
 * The fuzzed driver's side of fuzz_virtio_queue.c: its virtqueues in fake
 * guest RAM (below QUEUE_AREA + the ring layout), the buffers and indirect
 * tables it hands out from BUF_START up, and where they lie, so that the
 * harness's invariants can tell the device's writes from the guest's own.
 * Included once, after fz_virtio.h, by that harness only.
 */
#pragma once

#include "fz_virtio.h"

#define QUEUE_AREA 0x3000u
#define BUF_START 0x6000u
#define BUF_END FV_RAM_SIZE

struct drv_queue {
    uint16_t num;
    uint16_t avail_idx;
    uint16_t next_desc;
    uint64_t desc, avail, used;
};

static struct drv_queue dq[2];
static uint64_t want_features;
static uint8_t queue_sizes;
static uint32_t buf_cursor;
/* The guest aimed a buffer at its rings (or poked raw bytes): used entries may hold its bytes, not the device's. */
static bool layout_dirty;

#define MAX_TABLES 32
static struct {
    uint64_t lo, hi;
} tables[MAX_TABLES];
static unsigned num_tables;

/* ---- guest RAM helpers ---- */

static uint8_t *ram_at(uint64_t gpa)
{
    return fv_ram + (gpa - FZ_RAM_GPA);
}

static bool overlaps(uint64_t gpa, uint64_t len, uint64_t lo, uint64_t hi)
{
    uint64_t end = gpa + len;
    return len != 0 && (end < gpa || (gpa < hi && end > lo));
}

/*
 * Mark the layout dirty if [gpa, gpa + len) touches the ring areas, or an
 * indirect table the harness wrote (the device may then read descriptors
 * made of other bytes).
 */
static void note_buffer(uint64_t gpa, uint64_t len)
{
    if (overlaps(gpa, len, FZ_RAM_GPA, FZ_RAM_GPA + BUF_START)) {
        layout_dirty = true;
    }
    for (unsigned k = 0; k < num_tables; k++) {
        if (overlaps(gpa, len, tables[k].lo, tables[k].hi)) {
            layout_dirty = true;
        }
    }
}

static void note_table(uint64_t gpa, uint64_t len)
{
    note_buffer(gpa, len);
    if (num_tables == MAX_TABLES) {
        layout_dirty = true;
        return;
    }
    tables[num_tables].lo = gpa;
    tables[num_tables].hi = gpa + len;
    num_tables++;
}

static void write_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = ram_at(dq[q].desc + 16ull * (i % 256));
    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
    note_buffer(addr, len);
}

/* A buffer in the buffer area (wrapping round); may run off the end of RAM if len is large. */
static uint64_t buf_alloc(uint32_t len)
{
    uint32_t room = BUF_END - BUF_START;
    uint32_t need = len > room ? room : len;
    if (buf_cursor + need > room) {
        buf_cursor = 0;
    }
    uint64_t gpa = FZ_RAM_GPA + BUF_START + buf_cursor;
    buf_cursor = (buf_cursor + need + 15) & ~15u;
    if (buf_cursor >= room) {
        buf_cursor = 0;
    }
    return gpa;
}

static uint32_t pick_len(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    switch (sel & 7) {
    case 0:
        return 1;
    case 1:
        return (sel & 8) ? 12 : 16;
    case 2:
        return 512;
    case 3:
        return 4096;
    case 4:
        return fz_u8(in);
    case 5:
        return fz_u16(in);
    case 6:
        return fz_u32(in);
    default:
        return (sel & 8) ? 0 : 0xffffffffu;
    }
}

static uint64_t pick_addr(struct fz *in, uint32_t len)
{
    uint8_t sel = fz_u8(in);
    switch (sel & 7) {
    case 0:
    case 1:
    case 2:
        return buf_alloc(len);
    case 3:
        return FZ_RAM_GPA + BUF_START + fz_u16(in) % (BUF_END - BUF_START);
    case 4:
        return FZ_RAM_GPA + fz_u16(in) % BUF_START; /* on the rings themselves */
    case 5:
        return FZ_RAM_GPA + FV_RAM_SIZE - fz_u8(in); /* up to the very end of RAM, or across it */
    case 6:
        return ~0ull - fz_u8(in); /* addr + len wraps */
    default:
        return fz_u64(in);
    }
}
