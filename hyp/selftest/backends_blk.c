/*
 * Block part of hyp's backend selftest. Disk a (serial hyp-disk-a, 16 MiB,
 * read-write) and disk b (hyp-disk-b, 8 MiB, read-only) sit in QEMU slots in
 * the opposite order of the description, so their capacities and contents
 * prove serial matching. Steps, each a batch of requests kept flowing
 * through ring 0 as ring room allows:
 *   1 64 WRITEs of 16 KiB (a 1 MiB pattern at sector 2048), malformed
 *     requests hyp must refuse, then a FLUSH that must be answered after every
 *     write (more requests than hyp's slots: back-pressure)
 *   2 WRITE_ZEROES and DISCARD (where offered), FLUSH
 *   3 read the 1 MiB back and compare; meanwhile disk b's ring indices are
 *     corrupted (hyp must count, log and ignore them) and then restored
 *   4 disk b: read its signature, a WRITE must fail (read-only)
 *   5 8 MiB of WRITEs of 64 KiB + FLUSH, timed (the host checks the image)
 *   6 eight sequential reads of all of disk a, timed
 */
#include <string.h>
#include "backends.h"

#define WBUF 0x100000u /* data-area offsets in disk a's region */
#define RBUF 0x200000u
#define PERF_WINDOW 0x400000u
#define PERF_WINDOW_BYTES 0x400000u
#define PAT_SECTOR 2048u
#define PAT_BYTES 0x100000u
#define ZERO_SECTOR (PAT_SECTOR + 64)
#define ZERO_BYTES 4096u
#define PERF_DISK_OFFSET 0x800000u
#define PERF_WRITE_BYTES 0x800000u
#define REQ_BYTES 0x10000u
#define SECTOR 512u

struct disk {
    uint8_t *base;
    const struct shq_header *h;
    struct cring req, resp;
    microkit_channel ch;
};

struct step {
    const char *name;
    struct disk *d;
    unsigned total; /* requests */
    void (*make)(unsigned k, struct shq_blk_request *r);
    void (*answered)(const struct shq_blk_response *resp);
    void (*finish)(void);
};

static struct disk da, db;
static const struct step *step;
static unsigned step_index, next_req, answered;
static bool all_done;
static uint64_t t0;
static unsigned writes_answered;

static void rq(struct shq_blk_request *r, uint32_t op, uint32_t id, uint64_t sector, uint32_t bytes, uint32_t off)
{
    *r = (struct shq_blk_request){.op = op, .id = id, .sector = sector, .bytes = bytes, .data_offset = off};
}

/* ---- step 1: pattern writes, malformed requests, ordered flush ---- */
#define BAD_FIRST 1000
#define BAD_COUNT 7
#define FLUSH_ID 2000

static void make_write(unsigned k, struct shq_blk_request *r)
{
    uint32_t chunk = PAT_BYTES / 64;
    if (k < 64) {
        rq(r, SHQ_BLK_WRITE, k, PAT_SECTOR + k * (chunk / SECTOR), chunk, WBUF + k * chunk);
        return;
    }
    uint32_t size = (uint32_t)region_size_blk_a;
    uint64_t cap = da.h->config.blk.capacity_sectors;
    switch (k - 64) {
    case 0: /* buffer runs past the region */
        rq(r, SHQ_BLK_READ, BAD_FIRST, 0, 1024, size - 512);
        return;
    case 1: /* past the end of the disk */
        rq(r, SHQ_BLK_READ, BAD_FIRST + 1, cap - 1, 1024, RBUF);
        return;
    case 2: /* not whole sectors */
        rq(r, SHQ_BLK_WRITE, BAD_FIRST + 2, 0, 100, WBUF);
        return;
    case 3: /* unknown op */
        rq(r, 99, BAD_FIRST + 3, 0, 512, WBUF);
        return;
    case 4: /* offset + bytes wraps 32 bits */
        rq(r, SHQ_BLK_READ, BAD_FIRST + 4, 0, 0x2000, 0xfffff000u);
        return;
    case 5: /* inside the header and rings */
        rq(r, SHQ_BLK_READ, BAD_FIRST + 5, 0, 512, 0x1000);
        return;
    case 6: /* larger than max_request_bytes */
        rq(r, SHQ_BLK_READ, BAD_FIRST + 6, 0, 0x200000, RBUF);
        return;
    default:
        rq(r, SHQ_BLK_FLUSH, FLUSH_ID, 0, 0, 0);
        return;
    }
}

static void answered_write(const struct shq_blk_response *resp)
{
    if (resp->id < 64) {
        check_eq(resp->status, SHQ_BLK_OK, "pattern write status");
        check_eq(resp->bytes_done, PAT_BYTES / 64, "pattern write bytes_done");
        writes_answered++;
    } else if (resp->id == FLUSH_ID) {
        check_eq(resp->status, SHQ_BLK_OK, "flush status");
        check_eq(writes_answered, 64, "writes answered before the flush");
    } else if (resp->id >= BAD_FIRST && resp->id < BAD_FIRST + BAD_COUNT) {
        uint32_t want = resp->id == BAD_FIRST + 3 ? SHQ_BLK_UNSUPPORTED : SHQ_BLK_IOERR;
        check_eq(resp->status, want, "malformed request refused");
        check_eq(resp->bytes_done, 0, "malformed request bytes_done");
    } else {
        check_eq(resp->id, 0, "unexpected response id in step 1");
    }
}

/* ---- step 2: write zeroes, discard, flush ---- */
static void make_zero(unsigned k, struct shq_blk_request *r)
{
    if (k == 0) {
        rq(r, SHQ_BLK_WRITE_ZEROES, 3000, ZERO_SECTOR, ZERO_BYTES, 0);
    } else if (k == 1) {
        rq(r, SHQ_BLK_DISCARD, 3001, 30000, 8 * SECTOR, 0);
    } else {
        rq(r, SHQ_BLK_FLUSH, 3002, 0, 0, 0);
    }
}

static void answered_zero(const struct shq_blk_response *resp)
{
    const struct shq_blk_config *c = &da.h->config.blk;
    bool offered = resp->id == 3000 ? c->write_zeroes : resp->id == 3001 ? c->discard : c->flush;
    check_eq(resp->status, offered ? SHQ_BLK_OK : SHQ_BLK_UNSUPPORTED, "write-zeroes/discard/flush status");
}

/* ---- step 3: read back ---- */
static void make_readback(unsigned k, struct shq_blk_request *r)
{
    rq(r, SHQ_BLK_READ, 4000 + k, PAT_SECTOR + k * (REQ_BYTES / SECTOR), REQ_BYTES, RBUF + k * REQ_BYTES);
}

static void answered_ok(const struct shq_blk_response *resp)
{
    check_eq(resp->status, SHQ_BLK_OK, "request status");
}

/* A hostile PD: disk b's request tail runs ahead of capacity, its response head ahead of the tail. */
static uint32_t saved_tail, saved_head;

static void corrupt_disk_b(void)
{
    saved_tail = db.req.r->tail;
    saved_head = db.resp.r->head;
    db.req.r->tail = saved_tail + 5000;
    db.resp.r->head = saved_head + 777;
    microkit_notify(CH_BLK_B);
}

/* Every response of step 3 came from a backend pass after that notification. */
static void finish_readback(void)
{
    db.req.r->tail = saved_tail;
    db.resp.r->head = saved_head;
    const uint8_t *p = da.base + RBUF;
    unsigned bad = 0;
    bool zeroes = da.h->config.blk.write_zeroes;
    for (uint32_t i = 0; i < PAT_BYTES; i++) {
        uint64_t disk = (uint64_t)PAT_SECTOR * SECTOR + i;
        bool zeroed =
            zeroes && disk >= (uint64_t)ZERO_SECTOR * SECTOR && disk < (uint64_t)ZERO_SECTOR * SECTOR + ZERO_BYTES;
        bad += p[i] != (zeroed ? 0 : pattern_a(disk));
    }
    check_eq(bad, 0, "bytes read back that differ from what was written");
}

/* ---- step 4: disk b ---- */
static void make_disk_b(unsigned k, struct shq_blk_request *r)
{
    if (k == 0) {
        rq(r, SHQ_BLK_READ, 5000, 0, DISK_B_SIG_BYTES, WBUF);
    } else {
        rq(r, SHQ_BLK_WRITE, 5001, 0, SECTOR, WBUF);
    }
}

static void answered_disk_b(const struct shq_blk_response *resp)
{
    check_eq(resp->status, resp->id == 5000 ? SHQ_BLK_OK : SHQ_BLK_IOERR, "disk b read ok / write refused");
}

static void finish_disk_b(void)
{
    unsigned bad = 0;
    for (uint32_t i = 0; i < DISK_B_SIG_BYTES; i++) {
        bad += db.base[WBUF + i] != pattern_b(i);
    }
    check_eq(bad, 0, "disk b signature bytes that differ");
}

/* ---- steps 5 and 6: timed streams ---- */
#define PERF_WRITES (PERF_WRITE_BYTES / REQ_BYTES)
#define PERF_READ_PASSES 8
#define PERF_READS (PERF_READ_PASSES * DISK_A_BYTES / REQ_BYTES)

static void make_perf_write(unsigned k, struct shq_blk_request *r)
{
    if (k == PERF_WRITES) {
        rq(r, SHQ_BLK_FLUSH, 7000, 0, 0, 0);
        return;
    }
    uint32_t off = k * REQ_BYTES;
    rq(r, SHQ_BLK_WRITE, 6000 + k, (PERF_DISK_OFFSET + off) / SECTOR, REQ_BYTES, PERF_WINDOW + off % PERF_WINDOW_BYTES);
}

static void finish_perf_write(void)
{
    print_rate("blk-write+flush", PERF_WRITE_BYTES, ticks() - t0);
}

static void make_perf_read(unsigned k, struct shq_blk_request *r)
{
    uint32_t off = (k * REQ_BYTES) % DISK_A_BYTES;
    rq(r, SHQ_BLK_READ, 8000 + k, off / SECTOR, REQ_BYTES, PERF_WINDOW + off % PERF_WINDOW_BYTES);
}

/* The window was zeroed before the reads; the last pass leaves the disk's last 4 MiB (the timed write) in it. */
static void finish_perf_read(void)
{
    print_rate("blk-read", (uint64_t)PERF_READ_PASSES * DISK_A_BYTES, ticks() - t0);
    unsigned bad = 0;
    for (uint32_t off = 0; off < PERF_WINDOW_BYTES; off++) {
        bad += da.base[PERF_WINDOW + off] != pattern_perf(off);
    }
    check_eq(bad, 0, "bytes of the timed reads that differ from the disk");
}

static const struct step steps[] = {
    {"pattern writes + flush", &da, 64 + BAD_COUNT + 1, make_write, answered_write, NULL},
    {"write zeroes + discard", &da, 3, make_zero, answered_zero, NULL},
    {"read back", &da, PAT_BYTES / REQ_BYTES, make_readback, answered_ok, finish_readback},
    {"disk b", &db, 2, make_disk_b, answered_disk_b, finish_disk_b},
    {"timed writes", &da, PERF_WRITES + 1, make_perf_write, answered_ok, finish_perf_write},
    {"timed reads", &da, PERF_READS, make_perf_read, answered_ok, finish_perf_read},
};

static void pump(void)
{
    bool sent = false;
    struct shq_blk_request r;
    while (step && next_req < step->total && cring_room(&step->d->req)) {
        step->make(next_req++, &r);
        cring_put(&step->d->req, &r);
        sent = true;
    }
    if (sent) {
        microkit_notify(step->d->ch);
    }
}

static void begin_step(unsigned i)
{
    step_index = i;
    next_req = answered = 0;
    if (i == sizeof(steps) / sizeof(steps[0])) {
        step = NULL;
        all_done = true;
        return;
    }
    step = &steps[i];
    if (step->make == make_perf_write) {
        for (uint32_t off = 0; off < PERF_WINDOW_BYTES; off++) {
            da.base[PERF_WINDOW + off] = pattern_perf(off);
        }
    }
    if (step->make == make_readback) {
        corrupt_disk_b();
    }
    if (step->make == make_perf_read) {
        memset(da.base + PERF_WINDOW, 0, PERF_WINDOW_BYTES);
    }
    t0 = ticks();
    pump();
}

static void disk_init(struct disk *d, uintptr_t vaddr, microkit_channel ch)
{
    d->base = (uint8_t *)vaddr;
    d->h = (const struct shq_header *)vaddr;
    d->ch = ch;
    cring_init(&d->req, d->base, 0, sizeof(struct shq_blk_request));
    cring_init(&d->resp, d->base, 1, sizeof(struct shq_blk_response));
}

static void check_header(const struct disk *d, const char *serial, uint64_t bytes, bool ro)
{
    const struct shq_header *h = d->h;
    const struct shq_blk_config *c = &h->config.blk;
    check(__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) == 1, "disk backend ready");
    check_eq(h->magic, SHQ_MAGIC, "disk magic");
    check_eq(h->kind, SHQ_KIND_BLK, "disk kind");
    check(strncmp(c->serial, serial, sizeof(c->serial)) == 0, "disk serial in the header");
    check_eq(c->capacity_sectors, bytes / SECTOR, "disk capacity (serial bound to the right image)");
    check_eq(c->block_size, 512, "block size");
    check_eq(c->read_only, ro, "read-only flag");
    check(c->flush == 1 && c->max_request_bytes >= REQ_BYTES, "flush offered, max request >= 64 KiB");
    check_eq(d->req.cap, shq_ring_max_capacity(sizeof(struct shq_blk_request)), "request ring capacity");
    check_eq(d->resp.cap, shq_ring_max_capacity(sizeof(struct shq_blk_response)), "response ring capacity");
}

void blk_test_start(void)
{
    disk_init(&da, blk_a_vaddr, CH_BLK_A);
    disk_init(&db, blk_b_vaddr, CH_BLK_B);
    check_header(&da, DISK_A_SERIAL, DISK_A_BYTES, false);
    check_header(&db, DISK_B_SERIAL, DISK_B_BYTES, true);
    check(da.h->config.blk.write_zeroes == 1, "write zeroes offered by QEMU's virtio-blk");
    check(db.h->config.blk.discard == 0 && db.h->config.blk.write_zeroes == 0, "no discard on a read-only disk");
    for (uint32_t i = 0; i < PAT_BYTES; i++) {
        da.base[WBUF + i] = pattern_a((uint64_t)PAT_SECTOR * SECTOR + i);
    }
    begin_step(0);
}

void blk_test_notified(microkit_channel ch)
{
    struct disk *d = ch == CH_BLK_A ? &da : &db;
    struct shq_blk_response resp;
    while (cring_get(&d->resp, &resp)) {
        if (!step || d != step->d) {
            check_eq(resp.id, 0, "response on the idle disk");
            continue;
        }
        step->answered(&resp);
        answered++;
    }
    if (step && answered == step->total) {
        if (step->finish) {
            step->finish();
        }
        begin_step(step_index + 1);
    } else {
        pump();
    }
}

bool blk_test_done(void)
{
    return all_done;
}
