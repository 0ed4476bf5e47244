/*
 * Split virtqueue, device side (virtio 1.2 section 2.7). See queue.h for the
 * rules every access follows.
 */
#include <string.h>
#include <libvmm/guest_ram.h>
#include <libvmm/log.h>
#include "virtio/barrier.h"
#include "virtio/queue.h"
#include "virtio/virtio_spec.h"

/* 2.7.5: a descriptor as the guest lays it out (little-endian). */
struct vio_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

_Static_assert(sizeof(struct vio_desc) == VIO_DESC_SIZE, "descriptor layout");

/* 2.7.6 / 2.7.8: where each field of the driver and device areas is. */
static inline uint8_t *avail_idx_ptr(const struct vqueue *q)
{
    return (uint8_t *)q->avail + 2;
}

static inline uint8_t *avail_entry_ptr(const struct vqueue *q, uint16_t i)
{
    return (uint8_t *)q->avail + VIO_RING_HDR + VIO_AVAIL_ENTRY * (i & (q->num - 1));
}

static inline uint8_t *used_event_ptr(const struct vqueue *q)
{
    return (uint8_t *)q->avail + VIO_RING_HDR + VIO_AVAIL_ENTRY * q->num;
}

static inline uint8_t *used_entry_ptr(const struct vqueue *q, uint16_t i)
{
    return (uint8_t *)q->used + VIO_RING_HDR + VIO_USED_ENTRY * (i & (q->num - 1));
}

static inline uint8_t *avail_event_ptr(const struct vqueue *q)
{
    return (uint8_t *)q->used + VIO_RING_HDR + VIO_USED_ENTRY * q->num;
}

void vqueue_reset(struct vqueue *q, uint16_t max_num)
{
    memset(q, 0, sizeof(*q));
    q->max_num = max_num;
    q->num = max_num;
}

bool vqueue_size_valid(const struct vqueue *q, uint32_t n)
{
    return n != 0 && n <= q->max_num && (n & (n - 1)) == 0;
}

/* Translate one ring area: whole size in RAM, aligned both as a GPA and as a VMM pointer. */
static void *ring_area(uint64_t gpa, size_t size, uintptr_t align)
{
    if ((gpa & (align - 1)) != 0) {
        return NULL;
    }
    void *p = guest_ram_ptr(gpa, size);
    if (p == NULL || ((uintptr_t)p & (align - 1)) != 0) {
        return NULL;
    }
    return p;
}

bool vqueue_enable(struct vqueue *q, const char *name, unsigned index)
{
    if (!vqueue_size_valid(q, q->num)) {
        LOG_GUEST(LOG_LEVEL_WARN, "%s: queue %u: size %u invalid, not enabled", name, index, q->num);
        return false;
    }
    /* 2.7 table "Virtqueue Part Alignment Size": 16, 2, 4 bytes. */
    void *desc = ring_area(q->desc_gpa, (size_t)VIO_DESC_SIZE * q->num, 16);
    void *avail = ring_area(q->driver_gpa, VIO_RING_HDR + VIO_AVAIL_ENTRY * (size_t)q->num + 2, 2);
    void *used = ring_area(q->device_gpa, VIO_RING_HDR + VIO_USED_ENTRY * (size_t)q->num + 2, 4);
    if (desc == NULL || avail == NULL || used == NULL) {
        LOG_GUEST(LOG_LEVEL_WARN,
                  "%s: queue %u: rings desc 0x%llx driver 0x%llx device 0x%llx (size %u) misaligned or "
                  "outside RAM, not enabled",
                  name, index, (unsigned long long)q->desc_gpa, (unsigned long long)q->driver_gpa,
                  (unsigned long long)q->device_gpa, q->num);
        return false;
    }
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->last_avail = q->avail_seen = q->used_idx = q->published = 0;
    q->signalled_valid = false;
    q->ready = true;
    return true;
}

void vqueue_start(struct vqueue *q, uint64_t features)
{
    q->event_idx = (features & VIO_BIT(VIO_F_EVENT_IDX)) != 0;
    q->indirect = (features & VIO_BIT(VIO_F_INDIRECT_DESC)) != 0;
}

enum vqueue_pop vqueue_pop(struct vqueue *q, uint16_t *head)
{
    if (q->avail_seen == q->last_avail) {
        uint16_t idx = vio_load16(avail_idx_ptr(q));
        if ((uint16_t)(idx - q->last_avail) > q->num) {
            LOG_GUEST(LOG_LEVEL_WARN, "avail->idx %u is more than %u ahead of %u", idx, q->num, q->last_avail);
            q->last_error = "avail->idx ahead by more than the queue size";
            return VQUEUE_BROKEN;
        }
        if (idx == q->last_avail) {
            return VQUEUE_EMPTY;
        }
        q->avail_seen = idx;
        /* 2.7.13.3: read the ring entries only after the index that covers them. */
        vio_acquire();
    }
    /* A driver has only num heads: one more in flight means it offered a head twice (class 8). */
    if ((uint16_t)(q->last_avail - q->used_idx) >= q->num) {
        LOG_GUEST(LOG_LEVEL_WARN, "avail entry %u: already %u buffers in flight, queue size %u", q->last_avail,
                  (uint16_t)(q->last_avail - q->used_idx), q->num);
        q->last_error = "more buffers in flight than the queue size";
        return VQUEUE_BROKEN;
    }
    uint16_t h = vio_load16(avail_entry_ptr(q, q->last_avail));
    if (h >= q->num) {
        LOG_GUEST(LOG_LEVEL_WARN, "avail ring entry %u names head %u, queue size %u", q->last_avail, h, q->num);
        q->last_error = "head index out of range";
        return VQUEUE_BROKEN;
    }
    q->last_avail++;
    *head = h;
    return VQUEUE_GOT;
}

void vqueue_unpop(struct vqueue *q, uint16_t n)
{
    q->last_avail = (uint16_t)(q->last_avail - n);
    /* avail->idx may have been read after the first of them was taken: check it again against the queue size. */
    q->avail_seen = q->last_avail;
}

static enum vqueue_walk malformed(struct vqueue *q, uint16_t head, const char *why)
{
    LOG_GUEST(LOG_LEVEL_WARN, "descriptor chain at head %u refused: %s", head, why);
    q->last_error = why;
    return VQUEUE_CHAIN_MALFORMED;
}

/* Append one direct descriptor to the chain; NULL if it is acceptable, else why not. */
static const char *chain_append(struct vqueue_chain *c, const struct vio_desc *d)
{
    if (d->len == 0) {
        return "zero-length buffer";
    }
    uint8_t *p = guest_ram_ptr(d->addr, d->len);
    if (p == NULL) {
        return "buffer not inside guest RAM";
    }
    bool write = (d->flags & VIO_DESC_F_WRITE) != 0;
    if (!write && c->nsegs > c->nread) {
        return "device-readable buffer after a device-writable one";
    }
    if (c->nsegs == c->max_segs) {
        return "more buffers than the device takes";
    }
    uint32_t *total = write ? &c->write_bytes : &c->read_bytes;
    if (d->len > UINT32_MAX - *total) {
        return "chain longer than 4 GiB";
    }
    *total += d->len;
    c->segs[c->nsegs].ptr = p;
    c->segs[c->nsegs].len = d->len;
    c->nsegs++;
    if (!write) {
        c->nread++;
    }
    return NULL;
}

enum vqueue_walk vqueue_walk(struct vqueue *q, uint16_t head, struct vqueue_chain *c)
{
    const uint8_t *table = q->desc;
    uint32_t table_len = q->num;
    bool in_indirect = false;
    uint32_t idx = head;
    uint32_t visited = 0; /* in the current table: more than its length means a loop */

    c->head = head;
    c->nsegs = c->nread = 0;
    c->read_bytes = c->write_bytes = 0;
    for (;;) {
        if (idx >= table_len) {
            return malformed(q, head, "descriptor index out of range");
        }
        if (visited++ == table_len) {
            return malformed(q, head, "longer than its descriptor table (a loop?)");
        }
        struct vio_desc d;
        vio_snapshot(&d, table + (size_t)idx * VIO_DESC_SIZE, sizeof(d));
        if (d.flags & VIO_DESC_F_INDIRECT) {
            /* 2.7.5.3.1 */
            if (!q->indirect || in_indirect || (d.flags & VIO_DESC_F_NEXT)) {
                return malformed(q, head, "indirect descriptor not allowed here");
            }
            if (d.len == 0 || d.len % VIO_DESC_SIZE != 0 || d.len / VIO_DESC_SIZE > VQUEUE_MAX_SIZE) {
                return malformed(q, head, "indirect table empty, too long or not a multiple of 16");
            }
            table = guest_ram_ptr(d.addr, d.len);
            if (table == NULL) {
                return malformed(q, head, "indirect table not inside guest RAM");
            }
            table_len = d.len / VIO_DESC_SIZE;
            in_indirect = true;
            idx = 0;
            visited = 0;
            continue;
        }
        const char *why = chain_append(c, &d);
        if (why != NULL) {
            return malformed(q, head, why);
        }
        if (!(d.flags & VIO_DESC_F_NEXT)) {
            return VQUEUE_CHAIN_OK;
        }
        idx = d.next;
    }
}

static size_t chain_copy(const struct vqueue_chain *c, bool to_chain, size_t off, uint8_t *buf, size_t len)
{
    uint16_t first = to_chain ? c->nread : 0;
    uint16_t end = to_chain ? c->nsegs : c->nread;
    size_t done = 0;
    for (uint16_t i = first; i < end && done < len; i++) {
        const struct vqueue_seg *s = &c->segs[i];
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t n = s->len - off;
        if (n > len - done) {
            n = len - done;
        }
        if (to_chain) {
            memcpy(s->ptr + off, buf + done, n);
        } else {
            memcpy(buf + done, s->ptr + off, n);
        }
        done += n;
        off = 0;
    }
    return done;
}

size_t vqueue_chain_read(const struct vqueue_chain *c, size_t off, void *dst, size_t len)
{
    return chain_copy(c, false, off, dst, len);
}

size_t vqueue_chain_write(const struct vqueue_chain *c, size_t off, const void *src, size_t len)
{
    return chain_copy(c, true, off, (uint8_t *)src, len);
}

void vqueue_push(struct vqueue *q, uint16_t head, uint32_t len)
{
    uint8_t *e = used_entry_ptr(q, q->used_idx);
    vio_store32(e, head);
    vio_store32(e + 4, len);
    q->used_idx++;
}

void vqueue_unpush(struct vqueue *q, uint16_t n)
{
    q->used_idx = (uint16_t)(q->used_idx - n);
}

/* 2.7.10: does the driver want an interrupt for used entries old..new? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vqueue_publish(struct vqueue *q)
{
    if (q->used_idx == q->published) {
        return false;
    }
    /* 2.7.13.3 (device side): entries (and the buffers they describe) before the index. */
    vio_release();
    vio_store16((uint8_t *)q->used + 2, q->used_idx);
    q->published = q->used_idx;
    /* The index store must be visible before we read the driver's suppression state. */
    vio_full();
    if (!q->event_idx) {
        return (vio_load16(q->avail) & VIO_AVAIL_F_NO_INTERRUPT) == 0;
    }
    uint16_t old = q->signalled_used;
    bool valid = q->signalled_valid;
    q->signalled_used = q->used_idx;
    q->signalled_valid = true;
    return !valid || need_event(vio_load16(used_event_ptr(q)), q->used_idx, old);
}

void vqueue_notify_off(struct vqueue *q)
{
    if (!q->event_idx) {
        vio_store16(q->used, VIO_USED_F_NO_NOTIFY);
    }
}

bool vqueue_notify_on(struct vqueue *q)
{
    if (q->event_idx) {
        vio_store16(avail_event_ptr(q), q->last_avail);
    } else {
        vio_store16(q->used, 0);
    }
    vio_full();
    return vqueue_has_avail(q);
}

bool vqueue_has_avail(struct vqueue *q)
{
    return vio_load16(avail_idx_ptr(q)) != q->last_avail;
}
