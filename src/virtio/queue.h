/*
 * The split virtqueue, device side (virtio 1.2 section 2.7), shared by every
 * device model. The guest owns the ring memory and may change it at any
 * time, so:
 *  - the three ring areas are translated once, when the driver sets
 *    QueueReady, through guest_ram_ptr() for their whole size, and are never
 *    re-translated while the queue is in use;
 *  - every descriptor and ring entry is copied once and the copy validated;
 *  - indices are uint16_t with wrapping arithmetic; the number of new avail
 *    entries is checked against the queue size;
 *  - a chain visits at most `num` descriptors of the descriptor table and
 *    at most the length of an indirect table (so loops end there); every
 *    buffer is translated with its length, zero-length and overflowing
 *    buffers are refused; an indirect table must be in RAM, a multiple of 16
 *    bytes, at most VQUEUE_MAX_SIZE entries, not nested and not combined
 *    with NEXT (2.7.5.3.1). An indirect table may be longer than a small
 *    queue, as Linux builds them (QEMU accepts the same).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/virtio/virtio.h>

/* Power-on state: not ready, num = max_num, addresses 0. */
void vqueue_reset(struct vqueue *q, uint16_t max_num);

/* True if n is a queue size the driver may choose (a power of two, 1..max_num). */
bool vqueue_size_valid(const struct vqueue *q, uint32_t n);

/*
 * The driver wrote QueueReady = 1: check num and the alignment (2.7: 16, 2,
 * 4) and RAM placement of the descriptor table (16 * num bytes), the driver
 * area (6 + 2 * num) and the device area (6 + 8 * num), then translate them.
 * False (queue stays not ready, reason logged) if anything is wrong.
 */
bool vqueue_enable(struct vqueue *q, const char *name, unsigned index);

/* Start using an enabled queue with the negotiated features (DRIVER_OK). */
void vqueue_start(struct vqueue *q, uint64_t features);

enum vqueue_pop {
    VQUEUE_EMPTY,
    VQUEUE_GOT,
    VQUEUE_BROKEN, /* avail->idx moved by more than num, a head index >= num, or num heads already in flight */
};

/* Take the next available head. */
enum vqueue_pop vqueue_pop(struct vqueue *q, uint16_t *head);

/* Give back the last n heads taken by vqueue_pop() and not yet used; the next pop re-reads avail->idx. */
void vqueue_unpop(struct vqueue *q, uint16_t n);

enum vqueue_walk {
    VQUEUE_CHAIN_OK,
    VQUEUE_CHAIN_MALFORMED, /* the guest broke a rule of 2.7.5; nothing in the chain can be trusted */
};

/*
 * Walk the chain at `head` (< num) into c->segs (c->max_segs entries; with
 * max_segs >= VQUEUE_MAX_SIZE every well-formed chain fits). Every segment is
 * a translated, in-RAM, non-empty buffer; readable ones precede writable
 * ones. A chain with more segments than max_segs is MALFORMED. The reason
 * for a refusal is logged (rate limited) and kept in q->last_error.
 */
enum vqueue_walk vqueue_walk(struct vqueue *q, uint16_t head, struct vqueue_chain *c);

/*
 * Copy between a chain and a flat buffer: `off` and `len` are in bytes of
 * the chain's readable (read) or writable (write) part. Both stop at the end
 * of that part; they return the number of bytes copied.
 */
size_t vqueue_chain_read(const struct vqueue_chain *c, size_t off, void *dst, size_t len);
size_t vqueue_chain_write(const struct vqueue_chain *c, size_t off, const void *src, size_t len);

/* Put head on the used ring with `len` bytes written (not yet visible to the driver). */
void vqueue_push(struct vqueue *q, uint16_t head, uint32_t len);

/* Withdraw the last n entries pushed and not yet published. */
void vqueue_unpush(struct vqueue *q, uint16_t n);

/*
 * Make pushed entries visible (release, then used->idx). Returns true if the
 * driver wants an interrupt for them (2.7.7 / 2.7.10: used_event or
 * VIRTQ_AVAIL_F_NO_INTERRUPT, read after a full barrier).
 */
bool vqueue_publish(struct vqueue *q);

/* While consuming a batch: ask the driver not to notify (2.7.7/2.7.10). */
void vqueue_notify_off(struct vqueue *q);

/*
 * At the end of a batch: ask to be notified of the next buffer, then look
 * again (after a full barrier). True if buffers arrived meanwhile: keep going.
 */
bool vqueue_notify_on(struct vqueue *q);

/* True if the driver has made buffers available that were not popped yet. */
bool vqueue_has_avail(struct vqueue *q);
