/*
 * virtio-blk (virtio 1.2 section 5.2) against a RAM-disk backend: every
 * request type, bounds, read-only disks, several requests in flight with
 * out-of-order completion, back-pressure (ring, data area, request table:
 * attack class 8), reset while requests are in flight, and a backend that
 * answers nonsense.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include "virtio_blk_driver.h"

static struct virtio_blk_device blk;
static struct vt_queue vq;

static void start(uint32_t ring_cap, bool ro)
{
    vt_guest();
    vb_init(SHQ_KIND_BLK, ring_cap, ring_cap, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, ro, "blk-serial-1234567890");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&vq, 0, 256);
    vt_bringup(~0ull, &vq, 1);
    memset(vb_disk, 0, sizeof(vb_disk));
}

static int setup(void **state)
{
    (void)state;
    start(64, false);
    return 0;
}

/* The backend serves everything it has, then signals the VMM. */
static void backend_round(void)
{
    vb_blk_serve(1000);
    virtio_blk_handle_notification(&blk);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
    }
}

static void test_blk_write_then_read_round_trip(void **state)
{
    (void)state;
    struct bt_req w = bt_submit(&vq, BT_OUT, 10, 4096);
    fill(bt_data(&w), 4096, 1);
    vt_kick(&vq);
    assert_int_equal(fake.signals[VT_CH], 1); /* the backend was notified */
    assert_int_equal(bt_status(&w), BS_NONE);
    backend_round();
    assert_int_equal(bt_status(&w), BS_OK);
    bt_expect_used(&vq, &w, 1);
    assert_memory_equal(vb_disk + 10 * 512, bt_data(&w), 4096);
    assert_int_equal(vt_take_irq(), 1);

    struct bt_req r = bt_submit(&vq, BT_IN, 10, 4096);
    vt_kick(&vq);
    backend_round();
    assert_int_equal(bt_status(&r), BS_OK);
    bt_expect_used(&vq, &r, 4097);
    assert_memory_equal(bt_data(&r), bt_data(&w), 4096);
}

static void test_blk_large_request_split_and_completed_once(void **state)
{
    (void)state;
    uint32_t len = 200 * 1024; /* 64 + 64 + 64 + 8 KiB */
    struct bt_req w = bt_submit(&vq, BT_OUT, 100, len);
    fill(bt_data(&w), len, 9);
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 4);
    vb_blk_serve(2);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&w), BS_NONE);
    assert_int_equal(vt_used_pending(&vq), 0);
    backend_round();
    assert_int_equal(bt_status(&w), BS_OK);
    bt_expect_used(&vq, &w, 1);
    assert_memory_equal(vb_disk + 100 * 512, bt_data(&w), len);
}

static void test_blk_flush_acknowledged_after_backend(void **state)
{
    (void)state;
    struct bt_req w = bt_submit(&vq, BT_OUT, 0, 512);
    vt_kick(&vq);
    backend_round();
    struct bt_req f = bt_submit(&vq, BT_FLUSH, 0, 0);
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 1);
    virtio_blk_handle_notification(&blk); /* no answer yet: not acknowledged */
    assert_int_equal(bt_status(&f), BS_NONE);
    assert_int_equal(vb_flushes, 0);
    backend_round();
    assert_int_equal(vb_flushes, 1);
    assert_int_equal(vb_writes_at_last_flush, 1);
    assert_int_equal(bt_status(&f), BS_OK);
    bt_expect_used(&vq, &w, 1);
    bt_expect_used(&vq, &f, 1);
}

static void test_blk_get_id(void **state)
{
    (void)state;
    struct bt_req r = bt_submit(&vq, BT_GET_ID, 0, 20);
    vt_kick(&vq);
    assert_int_equal(bt_status(&r), BS_OK);
    assert_memory_equal(bt_data(&r), "blk-serial-123456789", 20); /* 20 bytes, no NUL when full */
    bt_expect_used(&vq, &r, 21);
    assert_int_equal(vb_pending(0), 0);
}

/* A DISCARD / WRITE_ZEROES request with one range. */
static struct bt_req range_req(uint32_t type, uint64_t sector, uint32_t nsect, uint32_t flags, unsigned nranges)
{
    struct bt_req r = {.hdr = bt_header(type, 0), .status = vt_alloc(1, 1)};
    uint64_t seg = vt_alloc(16ull * nranges, 8);
    for (unsigned i = 0; i < nranges; i++) {
        memcpy(vt_ptr(seg + 16 * i), &sector, 8);
        memcpy(vt_ptr(seg + 16 * i + 8), &nsect, 4);
        memcpy(vt_ptr(seg + 16 * i + 12), &flags, 4);
    }
    *(uint8_t *)vt_ptr(r.status) = BS_NONE;
    const struct vt_buf bufs[] = {{r.hdr, 16, false}, {seg, 16 * nranges, false}, {r.status, 1, true}};
    r.head = vt_add(&vq, bufs, 3);
    vt_kick(&vq);
    return r;
}

static void test_blk_discard_and_write_zeroes(void **state)
{
    (void)state;
    uint64_t offered = blk.vdev.device_features;
    assert_true(offered & (1ull << 13));
    assert_true(offered & (1ull << 14));
    memset(vb_disk, 0x11, 16 * 512);
    struct bt_req d = range_req(BT_DISCARD, 4, 4, 0, 1);
    backend_round();
    assert_int_equal(bt_status(&d), BS_OK);
    assert_int_equal(vb_disk[4 * 512], 0xdd);
    assert_int_equal(vb_disk[8 * 512 - 1], 0xdd);
    assert_int_equal(vb_disk[8 * 512], 0x11);
    struct bt_req z = range_req(BT_WRITE_ZEROES, 9, 2, 1, 1); /* unmap allowed for write zeroes */
    backend_round();
    assert_int_equal(bt_status(&z), BS_OK);
    assert_int_equal(vb_disk[9 * 512], 0);
    assert_int_equal(vb_disk[11 * 512], 0x11);
    /* Refused without reaching the backend. */
    assert_int_equal(bt_status(&(struct bt_req){.status = range_req(BT_DISCARD, 0, 1, 1, 1).status}), BS_UNSUPP);
    assert_int_equal(bt_status(&(struct bt_req){.status = range_req(BT_DISCARD, 0, 1, 4, 1).status}), BS_UNSUPP);
    assert_int_equal(bt_status(&(struct bt_req){.status = range_req(BT_DISCARD, VB_DISK_SECTORS - 1, 2, 0, 1).status}),
                     BS_IOERR);
    assert_int_equal(bt_status(&(struct bt_req){.status = range_req(BT_WRITE_ZEROES, 0, 1, 0, 2).status}), BS_IOERR);
    assert_int_equal(bt_status(&(struct bt_req){.status = range_req(BT_DISCARD, 0, 0x400000, 0, 1).status}), BS_IOERR);
    assert_int_equal(vb_pending(0), 0);
}

static void test_blk_unsupported_types(void **state)
{
    (void)state;
    const uint32_t types[] = {2, 3, 10, 14, 0x80000000u, 0xffffffffu};
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct bt_req r = bt_submit(&vq, types[i], 0, 0);
        vt_kick(&vq);
        assert_int_equal(bt_status(&r), BS_UNSUPP);
        bt_expect_used(&vq, &r, 1);
    }
    assert_int_equal(vb_pending(0), 0);
}

static void test_blk_bounds_against_capacity(void **state)
{
    (void)state;
    struct bt_req last = bt_submit(&vq, BT_IN, VB_DISK_SECTORS - 1, 512); /* ends exactly at the end */
    struct bt_req past = bt_submit(&vq, BT_IN, VB_DISK_SECTORS - 1, 1024);
    struct bt_req at = bt_submit(&vq, BT_OUT, VB_DISK_SECTORS, 512);
    struct bt_req wrap = bt_submit(&vq, BT_IN, 0xffffffffffffffffull, 512);
    struct bt_req odd = bt_submit(&vq, BT_IN, 0, 100); /* not a multiple of 512 */
    vt_kick(&vq);
    assert_int_equal(bt_status(&past), BS_IOERR);
    assert_int_equal(bt_status(&at), BS_IOERR);
    assert_int_equal(bt_status(&wrap), BS_IOERR);
    assert_int_equal(bt_status(&odd), BS_IOERR);
    assert_int_equal(vb_pending(0), 1);
    backend_round();
    assert_int_equal(bt_status(&last), BS_OK);
}

static void test_blk_read_only_disk(void **state)
{
    (void)state;
    start(64, true);
    uint64_t f = blk.vdev.driver_features;
    assert_true(f & (1ull << 5));
    assert_false(f & (1ull << 13)); /* no DISCARD / WRITE_ZEROES on a read-only disk */
    assert_false(f & (1ull << 14));
    memset(vb_disk, 0x42, 512);
    struct bt_req w = bt_submit(&vq, BT_OUT, 0, 512);
    memset(bt_data(&w), 0x99, 512);
    vt_kick(&vq);
    assert_int_equal(bt_status(&w), BS_IOERR);
    assert_int_equal(vb_pending(0), 0);
    assert_int_equal(vb_disk[0], 0x42);
    struct bt_req r = bt_submit(&vq, BT_IN, 0, 512);
    vt_kick(&vq);
    backend_round();
    assert_int_equal(bt_status(&r), BS_OK);
    assert_int_equal(bt_data(&r)[511], 0x42);
}

static void test_blk_bad_framing_reported(void **state)
{
    (void)state;
    uint64_t st = vt_alloc(1, 1), data = vt_alloc(1024, 8), hdr = bt_header(BT_IN, 0);
    /* Header only 8 bytes long. */
    const struct vt_buf shorthdr[] = {{hdr, 8, false}, {st, 1, true}};
    vt_add(&vq, shorthdr, 2);
    vt_kick(&vq);
    assert_int_equal(*(uint8_t *)vt_ptr(st), BS_IOERR);
    /* OUT with two device-writable bytes after the data. */
    const struct vt_buf out2[] = {{bt_header(BT_OUT, 0), 16, false}, {data, 512, false}, {st, 2, true}};
    *(uint8_t *)vt_ptr(st) = BS_NONE;
    vt_add(&vq, out2, 3);
    vt_kick(&vq);
    assert_int_equal(*(uint8_t *)vt_ptr(st + 1), BS_IOERR);
    assert_int_equal(vb_pending(0), 0);
    /* Header split across descriptors and data sharing one with the status byte (2.6.4): fine. */
    memset(vb_disk + 512, 0x61, 512);
    uint64_t h = bt_header(BT_IN, 1);
    const struct vt_buf split[] = {{h, 5, false}, {h + 5, 11, false}, {data, 513, true}};
    vt_add(&vq, split, 3);
    vt_kick(&vq);
    backend_round();
    assert_int_equal(*(uint8_t *)vt_ptr(data + 512), BS_OK);
    assert_int_equal(*(uint8_t *)vt_ptr(data + 511), 0x61);
    /* Nothing device-writable: no place for a status, the device needs a reset. */
    const struct vt_buf nostatus[] = {{bt_header(BT_FLUSH, 0), 16, false}};
    vt_add(&vq, nostatus, 1);
    vt_kick(&vq);
    bt_expect_needs_reset();
}

static void test_blk_in_flight_out_of_order(void **state)
{
    (void)state;
    struct bt_req r[8];
    for (unsigned i = 0; i < 8; i++) {
        memset(vb_disk + i * 4096, 0x30 + i, 4096);
        r[i] = bt_submit(&vq, BT_IN, i * 8, 4096);
    }
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 8);
    struct shq_blk_request rq[8] = {{0}};
    for (unsigned i = 0; i < 8; i++) {
        assert_true(vb_take(0, &rq[i], sizeof(rq[i])));
    }
    for (int i = 7; i >= 0; i--) {
        struct shq_blk_response rs = vb_blk_exec(&rq[i]);
        assert_true(vb_put(1, &rs, sizeof(rs)));
        if (i % 3 == 0) {
            virtio_blk_handle_notification(&blk);
        }
    }
    virtio_blk_handle_notification(&blk);
    for (int i = 7; i >= 0; i--) {
        assert_int_equal(bt_status(&r[i]), BS_OK);
        assert_int_equal(bt_data(&r[i])[4095], 0x30 + i);
        bt_expect_used(&vq, &r[i], 4097); /* used in completion order */
    }
}

static void test_blk_back_pressure_ring_full(void **state)
{
    (void)state;
    start(4, false);
    struct bt_req w[10];
    for (unsigned i = 0; i < 10; i++) {
        w[i] = bt_submit(&vq, BT_OUT, i * 8, 4096);
        fill(bt_data(&w[i]), 4096, (uint8_t)i);
    }
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 4);
    unsigned rounds = 0;
    while (vb_pending(0) > 0 && rounds++ < 10) {
        backend_round();
    }
    for (unsigned i = 0; i < 10; i++) {
        assert_int_equal(bt_status(&w[i]), BS_OK);
        assert_memory_equal(vb_disk + i * 4096, bt_data(&w[i]), 4096);
    }
    assert_int_equal(vt_used_pending(&vq), 10);
    assert_int_equal(rounds, 3);
}

static void test_blk_back_pressure_data_area_full(void **state)
{
    (void)state;
    /* One READ larger than the whole data area (31 slots of 64 KiB): sent in two waves. */
    uint32_t len = 40 * 0x10000;
    fill(vb_disk, len, 3);
    struct bt_req r = bt_submit(&vq, BT_IN, 0, len);
    vt_kick(&vq);
    assert_int_equal(blk.num_slots, (VB_REGION_SIZE - SHQ_DATA_OFFSET) / 0x10000);
    assert_int_equal(vb_pending(0), blk.num_slots);
    backend_round();
    assert_int_equal(bt_status(&r), BS_NONE);
    assert_int_equal(vb_pending(0), 40 - blk.num_slots);
    backend_round();
    assert_int_equal(bt_status(&r), BS_OK);
    assert_memory_equal(bt_data(&r), vb_disk, len);
    bt_expect_used(&vq, &r, len + 1);
}

static void test_class08_in_flight_requests_bounded(void **state)
{
    (void)state;
    struct bt_req f[80];
    for (unsigned i = 0; i < 80; i++) {
        f[i] = bt_submit(&vq, BT_FLUSH, 0, 0);
    }
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), VIRTIO_BLK_MAX_REQS); /* the rest wait in the guest's ring */
    unsigned rounds = 0;
    while (vb_pending(0) > 0 && rounds++ < 10) {
        backend_round();
    }
    for (unsigned i = 0; i < 80; i++) {
        assert_int_equal(bt_status(&f[i]), BS_OK);
    }
    assert_int_equal(vb_flushes, 80);
}

static void test_blk_reset_mid_flight_stale_response_ignored(void **state)
{
    (void)state;
    struct bt_req r = bt_submit(&vq, BT_IN, 0, 0x10000);
    vt_kick(&vq);
    struct shq_blk_request old = {0};
    assert_true(vb_take(0, &old, sizeof(old)));
    vt_write(R_STATUS, 0); /* the driver resets the device with the read in flight */
    vt_queue_alloc(&vq, 0, 256);
    vt_bringup(~0ull, &vq, 1);
    memset(vb_disk, 0x5e, 0x10000);
    struct shq_blk_response rs = vb_blk_exec(&old);
    assert_true(vb_put(1, &rs, sizeof(rs)));
    virtio_blk_handle_notification(&blk);
    assert_int_equal(blk.stale_responses, 1);
    assert_int_equal(vt_used_pending(&vq), 0);
    assert_int_equal(bt_status(&r), BS_NONE);
    assert_int_equal(bt_data(&r)[0], 0); /* the old buffer is not written */
    /* Its slot came back: the whole data area is usable again. */
    assert_int_equal(blk.free_slots, (1ull << blk.num_slots) - 1);
    /* The same through a guest reboot (reset hook). */
    struct bt_req r2 = bt_submit(&vq, BT_OUT, 0, 512);
    vt_kick(&vq);
    guest_run_reset_hooks();
    backend_round();
    assert_int_equal(blk.stale_responses, 2);
    assert_int_equal(bt_status(&r2), BS_NONE);
}

static void test_blk_backend_answers_nonsense(void **state)
{
    (void)state;
    struct bt_req r = bt_submit(&vq, BT_IN, 0, 4096);
    vt_kick(&vq);
    struct shq_blk_request rq = {0};
    assert_true(vb_take(0, &rq, sizeof(rq)));
    const struct shq_blk_response bad[] = {
        {rq.id + 1, SHQ_BLK_OK, 4096, 0}, /* a part not in flight */
        {rq.id ^ 0x100, SHQ_BLK_OK, 4096, 0}, /* right part, wrong sequence number */
        {0xffffffffu, SHQ_BLK_OK, 4096, 0},
    };
    for (unsigned i = 0; i < 3; i++) {
        assert_true(vb_put(1, &bad[i], sizeof(bad[i])));
    }
    virtio_blk_handle_notification(&blk);
    assert_int_equal(blk.bad_responses, 3);
    assert_int_equal(bt_status(&r), BS_NONE);
    /* Short data: the request fails rather than handing the guest stale bytes. */
    struct shq_blk_response shortrs = {rq.id, SHQ_BLK_OK, 512, 0};
    assert_true(vb_put(1, &shortrs, sizeof(shortrs)));
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&r), BS_IOERR);
    assert_int_equal(blk.bad_responses, 4);
    /* Status values pass through. */
    struct bt_req u = bt_submit(&vq, BT_FLUSH, 0, 0);
    vt_kick(&vq);
    assert_true(vb_take(0, &rq, sizeof(rq)));
    struct shq_blk_response unsupp = {rq.id, SHQ_BLK_UNSUPPORTED, 0, 0};
    assert_true(vb_put(1, &unsupp, sizeof(unsupp)));
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&u), BS_UNSUPP);
    /* Ring indices that make no sense are not followed. */
    unsigned long bad_before = blk.bad_responses;
    vb_ring(1)->tail += 1000;
    virtio_blk_handle_notification(&blk);
    assert_int_equal(blk.bad_responses, bad_before); /* no entry was read */
    assert_int_equal(vb_ring(1)->head, vb_ring(1)->tail - 1000);
    vb_ring(1)->tail -= 1000;
    vb_ring(0)->head += 1000;
    uint32_t tail_before = vb_ring(0)->tail;
    struct bt_req stuck = bt_submit(&vq, BT_FLUSH, 0, 0);
    vt_kick(&vq);
    assert_int_equal(vb_ring(0)->tail, tail_before); /* nothing produced into a ring that claims to be overfull */
    assert_int_equal(bt_status(&stuck), BS_NONE);
    assert_int_equal(vt_read(R_STATUS) & S_NEEDS_RESET, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_blk_write_then_read_round_trip, setup),
        cmocka_unit_test_setup(test_blk_large_request_split_and_completed_once, setup),
        cmocka_unit_test_setup(test_blk_flush_acknowledged_after_backend, setup),
        cmocka_unit_test_setup(test_blk_get_id, setup),
        cmocka_unit_test_setup(test_blk_discard_and_write_zeroes, setup),
        cmocka_unit_test_setup(test_blk_unsupported_types, setup),
        cmocka_unit_test_setup(test_blk_bounds_against_capacity, setup),
        cmocka_unit_test_setup(test_blk_read_only_disk, setup),
        cmocka_unit_test_setup(test_blk_bad_framing_reported, setup),
        cmocka_unit_test_setup(test_blk_in_flight_out_of_order, setup),
        cmocka_unit_test_setup(test_blk_back_pressure_ring_full, setup),
        cmocka_unit_test_setup(test_blk_back_pressure_data_area_full, setup),
        cmocka_unit_test_setup(test_class08_in_flight_requests_bounded, setup),
        cmocka_unit_test_setup(test_blk_reset_mid_flight_stale_response_ignored, setup),
        cmocka_unit_test_setup(test_blk_backend_answers_nonsense, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
