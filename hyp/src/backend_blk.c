/*
 * Block backend: shq ring 0 requests -> virtio-blk requests (virtio 1.2,
 * 5.2.6) on QEMU's virtio-blk-device, completions -> ring 1. Zero copy: a
 * READ/WRITE descriptor points straight at the data area of the shared
 * region; the request header, discard segment and status byte are hyp's.
 * A fixed pool of request slots, each owning three descriptors (header,
 * data or segment, status), bounds the requests in flight; when the pool is
 * full, requests stay in ring 0 until a slot frees (back-pressure). A FLUSH
 * is submitted only once every write before it has completed, and answered
 * only when the device has completed the flush itself.
 */
#include <string.h>
#include <hyp/backend.h>
#include <hyp/log.h>
#include <hyp/pools.h>

/* Feature bits (5.2.3), request types and status values (5.2.6). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
/* struct virtio_blk_config offsets (5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_BLK_SIZE 20
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_WRITE_ZEROES_SECTORS 48

#define SECTOR 512u
#define BLK_SLOTS 32
#define BLK_DESCS_PER_SLOT 3
#define BLK_MAX_REQUEST 0x100000u /* offered unless the device's SIZE_MAX is smaller */
#define GET_ID_TIMEOUT_MS 1000

struct blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct blk_discard_seg {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};

struct blk_slot {
    struct blk_req_hdr hdr;
    struct blk_discard_seg seg;
    uint32_t id; /* the PD's request id, echoed */
    uint32_t bytes;
    uint32_t op;
    volatile uint8_t status; /* written by the device */
};

struct blk_state {
    struct virtq_mem mem;
    struct virtq q;
    struct blk_slot slot[BLK_SLOTS];
    unsigned nslots;
    uint32_t free_mask; /* bit n: slot n is free */
    unsigned in_flight, writes_in_flight;
    struct shq_port req, resp;
    uint64_t capacity; /* sectors */
    uint32_t max_bytes, max_discard, max_write_zeroes;
    bool read_only, flush;
};

static struct blk_state pool[BACKEND_MAX_BLK];
static unsigned pool_used;

bool backend_blk_read_serial(struct virtio_dev *d, char serial[BACKEND_SERIAL_BYTES])
{
    static struct virtq_mem mem;
    static struct {
        struct blk_req_hdr hdr;
        char id[BACKEND_SERIAL_BYTES];
        volatile uint8_t status;
    } req;
    struct virtq q;
    uint64_t offered;
    uint32_t id, len;
    bool ok = false;
    memset(serial, 0, BACKEND_SERIAL_BYTES);
    if (virtio_negotiate(d, 0, &offered) && virtio_queue_init(d, &q, 0, &mem, 4)) {
        virtio_driver_ok(d);
        req.hdr = (struct blk_req_hdr){.type = VIRTIO_BLK_T_GET_ID};
        memset(req.id, 0, sizeof(req.id));
        req.status = 0xff;
        *virtq_desc(&q, 0) = (struct virtq_desc){virtio_hyp_pa(&req.hdr), sizeof(req.hdr), VIRTQ_DESC_F_NEXT, 1};
        *virtq_desc(&q, 1) =
            (struct virtq_desc){virtio_hyp_pa(req.id), BACKEND_SERIAL_BYTES, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2};
        *virtq_desc(&q, 2) = (struct virtq_desc){virtio_hyp_pa((const void *)&req.status), 1, VIRTQ_DESC_F_WRITE, 0};
        virtq_add(&q, 0);
        ok = virtq_poll_used(&q, &id, &len, GET_ID_TIMEOUT_MS);
        if (!ok) {
            LOG_WARN("virtio-mmio slot %u: virtio-blk GET_ID did not complete; disk ignored", d->slot);
        } else if (req.status == VIRTIO_BLK_S_OK) {
            memcpy(serial, req.id, BACKEND_SERIAL_BYTES);
        }
    }
    virtio_reset(d);
    return ok;
}

static void setup_slots(struct blk_state *st, unsigned nslots)
{
    st->nslots = nslots;
    st->free_mask = nslots >= 32 ? 0xffffffffu : (1u << nslots) - 1;
    for (unsigned i = 0; i < nslots; i++) {
        uint16_t base = (uint16_t)(i * BLK_DESCS_PER_SLOT);
        *virtq_desc(&st->q, base) =
            (struct virtq_desc){virtio_hyp_pa(&st->slot[i].hdr), sizeof(struct blk_req_hdr), VIRTQ_DESC_F_NEXT, 0};
        *virtq_desc(&st->q, (uint16_t)(base + 2)) =
            (struct virtq_desc){virtio_hyp_pa((const void *)&st->slot[i].status), 1, VIRTQ_DESC_F_WRITE, 0};
    }
}

static uint32_t read_limits(struct backend *b, struct blk_state *st)
{
    struct virtio_dev *d = &b->dev;
    uint64_t f = d->features;
    uint32_t block = 512;
    if (f & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t bs = virtio_config_read32(d, CFG_BLK_SIZE);
        if (bs >= 512 && bs <= 0x10000 && (bs & (bs - 1)) == 0) {
            block = bs;
        }
    }
    st->capacity = virtio_config_read64(d, CFG_CAPACITY);
    st->max_bytes = BLK_MAX_REQUEST;
    if (f & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX)) {
        uint32_t sm = virtio_config_read32(d, CFG_SIZE_MAX) & ~(block - 1);
        if (sm >= block && sm < st->max_bytes) {
            st->max_bytes = sm;
        }
    }
    st->read_only = (f & VIRTIO_BIT(VIRTIO_BLK_F_RO)) != 0;
    st->flush = (f & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) != 0;
    if ((f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) && !st->read_only) {
        st->max_discard = virtio_config_read32(d, CFG_MAX_DISCARD_SECTORS);
    }
    if ((f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) && !st->read_only) {
        st->max_write_zeroes = virtio_config_read32(d, CFG_MAX_WRITE_ZEROES_SECTORS);
    }
    return block;
}

static bool blk_start(struct backend *b)
{
    struct blk_state *st = &pool[pool_used++];
    b->priv = st;
    if (!virtio_queue_init(&b->dev, &st->q, 0, &st->mem, VIRTQ_MAX)) {
        return false;
    }
    unsigned nslots = st->q.num / BLK_DESCS_PER_SLOT;
    setup_slots(st, nslots < BLK_SLOTS ? nslots : BLK_SLOTS);
    struct shq_blk_config *c = &b->hdr->config.blk;
    c->block_size = read_limits(b, st);
    c->capacity_sectors = st->capacity;
    c->max_request_bytes = st->max_bytes;
    c->read_only = st->read_only;
    c->flush = st->flush;
    c->discard = st->max_discard != 0;
    c->write_zeroes = st->max_write_zeroes != 0;
    shq_port_init(&st->req, b, 0, sizeof(struct shq_blk_request),
                  shq_ring_max_capacity(sizeof(struct shq_blk_request)));
    shq_port_init(&st->resp, b, 1, sizeof(struct shq_blk_response),
                  shq_ring_max_capacity(sizeof(struct shq_blk_response)));
    LOG_INFO("backend %u: disk of %lu sectors, block %u, max request %u, ro %d flush %d discard %u wz %u, %u slots",
             b->index, st->capacity, c->block_size, st->max_bytes, st->read_only, st->flush, st->max_discard,
             st->max_write_zeroes, st->nslots);
    return true;
}

static bool range_ok(const struct blk_state *st, uint64_t sector, uint32_t bytes)
{
    return bytes != 0 && bytes % SECTOR == 0 && sector <= st->capacity && bytes / SECTOR <= st->capacity - sector;
}

/* SHQ_BLK_OK if the request may go to the device, else the status to answer it with. */
static uint32_t check_request(struct backend *b, const struct blk_state *st, const struct shq_blk_request *r)
{
    switch (r->op) {
    case SHQ_BLK_READ:
    case SHQ_BLK_WRITE:
        if (r->op == SHQ_BLK_WRITE && st->read_only) {
            return SHQ_BLK_IOERR;
        }
        if (!range_ok(st, r->sector, r->bytes) || r->bytes > st->max_bytes) {
            backend_error(b, "request outside the disk or too large", r->sector);
            return SHQ_BLK_IOERR;
        }
        if (!backend_data_ok(b, r->data_offset, r->bytes)) {
            backend_error(b, "request buffer outside the data area", r->data_offset);
            return SHQ_BLK_IOERR;
        }
        return SHQ_BLK_OK;
    case SHQ_BLK_FLUSH:
        return st->flush ? SHQ_BLK_OK : SHQ_BLK_UNSUPPORTED;
    case SHQ_BLK_DISCARD:
    case SHQ_BLK_WRITE_ZEROES: {
        uint32_t max = r->op == SHQ_BLK_DISCARD ? st->max_discard : st->max_write_zeroes;
        if (max == 0) {
            return SHQ_BLK_UNSUPPORTED;
        }
        if (!range_ok(st, r->sector, r->bytes) || r->bytes / SECTOR > max) {
            backend_error(b, "discard/write-zeroes outside the disk or too large", r->sector);
            return SHQ_BLK_IOERR;
        }
        return SHQ_BLK_OK;
    }
    default:
        backend_error(b, "unknown request op", r->op);
        return SHQ_BLK_UNSUPPORTED;
    }
}

static bool is_write(uint32_t op)
{
    return op == SHQ_BLK_WRITE || op == SHQ_BLK_DISCARD || op == SHQ_BLK_WRITE_ZEROES;
}

/* Chain: header -> [data | segment] -> status (5.2.6). */
static void submit(struct backend *b, struct blk_state *st, unsigned i, const struct shq_blk_request *r)
{
    static const uint32_t type[] = {
        [SHQ_BLK_READ] = VIRTIO_BLK_T_IN,
        [SHQ_BLK_WRITE] = VIRTIO_BLK_T_OUT,
        [SHQ_BLK_FLUSH] = VIRTIO_BLK_T_FLUSH,
        [SHQ_BLK_DISCARD] = VIRTIO_BLK_T_DISCARD,
        [SHQ_BLK_WRITE_ZEROES] = VIRTIO_BLK_T_WRITE_ZEROES,
    };
    struct blk_slot *s = &st->slot[i];
    uint16_t base = (uint16_t)(i * BLK_DESCS_PER_SLOT);
    struct virtq_desc *head = virtq_desc(&st->q, base), *mid = virtq_desc(&st->q, (uint16_t)(base + 1));
    s->id = r->id;
    s->op = r->op;
    s->bytes = r->op == SHQ_BLK_FLUSH ? 0 : r->bytes;
    s->status = 0xff;
    s->hdr = (struct blk_req_hdr){.type = type[r->op], .sector = 0};
    head->next = (uint16_t)(base + 1);
    if (r->op == SHQ_BLK_READ || r->op == SHQ_BLK_WRITE) {
        s->hdr.sector = r->sector;
        uint16_t flags = VIRTQ_DESC_F_NEXT | (r->op == SHQ_BLK_READ ? VIRTQ_DESC_F_WRITE : 0);
        *mid = (struct virtq_desc){backend_data_pa(b, r->data_offset), r->bytes, flags, (uint16_t)(base + 2)};
    } else if (r->op == SHQ_BLK_FLUSH) {
        head->next = (uint16_t)(base + 2);
    } else {
        s->seg = (struct blk_discard_seg){.sector = r->sector, .num_sectors = r->bytes / SECTOR, .flags = 0};
        *mid = (struct virtq_desc){virtio_hyp_pa(&s->seg), sizeof(s->seg), VIRTQ_DESC_F_NEXT, (uint16_t)(base + 2)};
    }
    st->free_mask &= ~(1u << i);
    st->in_flight++;
    st->writes_in_flight += is_write(r->op);
    virtq_add(&st->q, base);
}

static void respond(struct blk_state *st, uint32_t id, uint32_t status, uint32_t bytes)
{
    struct shq_blk_response resp = {.id = id, .status = status, .bytes_done = bytes};
    shq_port_push(&st->resp, &resp);
}

/* Device completions -> ring 1, as long as ring 1 has room (else they wait in the used ring). */
static void complete(struct backend *b, struct blk_state *st)
{
    uint32_t room = shq_port_room(b, &st->resp);
    uint32_t id, len;
    while (room && virtq_get_used(&st->q, &id, &len)) {
        unsigned i = id / BLK_DESCS_PER_SLOT;
        if (id % BLK_DESCS_PER_SLOT || i >= st->nslots || (st->free_mask & (1u << i))) {
            LOG_WARN("backend %u: device returned unknown descriptor %u", b->index, id);
            continue;
        }
        struct blk_slot *s = &st->slot[i];
        uint8_t vs = s->status;
        uint32_t status = vs == VIRTIO_BLK_S_OK       ? SHQ_BLK_OK
                          : vs == VIRTIO_BLK_S_UNSUPP ? SHQ_BLK_UNSUPPORTED
                                                      : SHQ_BLK_IOERR;
        respond(st, s->id, status, status == SHQ_BLK_OK ? s->bytes : 0);
        room--;
        st->free_mask |= 1u << i;
        st->in_flight--;
        st->writes_in_flight -= is_write(s->op);
    }
}

/* Ring 0 -> device while a slot is free and ring 1 can hold every answer owed. */
static void take_requests(struct backend *b, struct blk_state *st)
{
    uint32_t avail = shq_port_avail(b, &st->req);
    uint32_t room = shq_port_room(b, &st->resp);
    while (avail && room > st->in_flight) {
        struct shq_blk_request r;
        shq_port_peek(&st->req, &r);
        uint32_t status = check_request(b, st, &r);
        if (status != SHQ_BLK_OK) {
            shq_port_skip(&st->req);
            avail--;
            respond(st, r.id, status, 0);
            room--;
            continue;
        }
        if ((r.op == SHQ_BLK_FLUSH && st->writes_in_flight) || st->free_mask == 0) {
            break; /* picked up again when a completion frees the way */
        }
        shq_port_skip(&st->req);
        avail--;
        submit(b, st, (unsigned)__builtin_ctz(st->free_mask), &r);
    }
}

static void blk_service(struct backend *b)
{
    struct blk_state *st = b->priv;
    complete(b, st);
    take_requests(b, st);
    virtq_kick(&st->q);
    shq_port_publish(&st->req, false);
    if (shq_port_publish(&st->resp, true)) {
        b->notify = true;
    }
}

static void blk_config_changed(struct backend *b)
{
    struct blk_state *st = b->priv;
    st->capacity = virtio_config_read64(&b->dev, CFG_CAPACITY);
    __atomic_store_n(&b->hdr->config.blk.capacity_sectors, st->capacity, __ATOMIC_RELEASE);
    b->notify = true;
    LOG_INFO("backend %u: disk capacity now %lu sectors", b->index, st->capacity);
}

const struct backend_ops backend_blk_ops = {
    .device_id = VIRTIO_ID_BLOCK,
    .features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
                VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES),
    .start = blk_start,
    .service = blk_service,
    .config_changed = blk_config_changed,
};

/* hyp/pools.h: request slots at the device (each with its BLK_DESCS_PER_SLOT descriptors). */
void backend_blk_report_pools(const struct backend *b)
{
    const struct blk_state *st = b->priv;
    uint32_t all = st->nslots >= 32 ? 0xffffffffu : (1u << st->nslots) - 1;
    unsigned used = st->nslots - (unsigned)__builtin_popcount(st->free_mask & all);
    hyp_printf("hyp-pools: backend %u blk slots %u/%u\n", b->index, used, st->nslots);
}
