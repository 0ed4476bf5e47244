/*
 * A virtio-blk driver for the tests (virtio 1.2 section 5.2.6): builds
 * requests in guest RAM and reads their results. Needs virtio_test.h and
 * virtio_backend.h first.
 */
#pragma once

#include <libvmm/virtio/blk.h>

#define BT_IN 0u
#define BT_OUT 1u
#define BT_FLUSH 4u
#define BT_GET_ID 8u
#define BT_DISCARD 11u
#define BT_WRITE_ZEROES 13u

#define BS_OK 0u
#define BS_IOERR 1u
#define BS_UNSUPP 2u
#define BS_NONE 0xeeu /* what the status byte holds until the device writes it */

struct bt_req {
    uint16_t head;
    uint64_t hdr;
    uint64_t data;
    uint32_t len;
    uint64_t status;
};

static inline uint64_t bt_header(uint32_t type, uint64_t sector)
{
    uint64_t hdr = vt_alloc(16, 8);
    memcpy(vt_ptr(hdr), &type, 4);
    memcpy(vt_ptr(hdr + 8), &sector, 8);
    return hdr;
}

/* Header, optional data (device-writable for IN and GET_ID), status; published, not kicked. */
static inline struct bt_req bt_submit(struct vt_queue *q, uint32_t type, uint64_t sector, uint32_t len)
{
    struct bt_req r = {.hdr = bt_header(type, sector), .len = len};
    r.data = len ? vt_alloc(len, 8) : 0;
    r.status = vt_alloc(1, 1);
    *(uint8_t *)vt_ptr(r.status) = BS_NONE;
    bool dev_writes = type == BT_IN || type == BT_GET_ID;
    struct vt_buf bufs[3] = {{r.hdr, 16, false}, {r.data, len, dev_writes}, {r.status, 1, true}};
    if (len == 0) {
        bufs[1] = bufs[2];
    }
    r.head = vt_add(q, bufs, len ? 3 : 2);
    return r;
}

static inline uint8_t bt_status(const struct bt_req *r)
{
    return *(uint8_t *)vt_ptr(r->status);
}

static inline uint8_t *bt_data(const struct bt_req *r)
{
    return vt_ptr(r->data);
}

/* Pop one used entry and check it completes r with `len` bytes written. */
static inline void bt_expect_used(struct vt_queue *q, const struct bt_req *r, uint32_t len)
{
    uint32_t id, got;
    assert_true(vt_used_pop(q, &id, &got));
    assert_int_equal(id, r->head);
    assert_int_equal(got, len);
}

/* The device gave up: DEVICE_NEEDS_RESET with a configuration-change interrupt (2.1.2). */
static inline void bt_expect_needs_reset(void)
{
    assert_true(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_true(vt_take_irq() & 2);
}

/* The reason the queue gave for its last refusal contains `what`. */
static inline void bt_expect_refused(const struct vqueue *q, const char *what)
{
    assert_non_null(q->last_error);
    if (strstr(q->last_error, what) == NULL) {
        fail_msg("refused for \"%s\", expected \"%s\"", q->last_error, what);
    }
}
