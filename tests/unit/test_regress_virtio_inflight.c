/*
 * Regression found by fuzz_virtio_queue (corpus regress-inflight-beyond-queue-size):
 * a driver that made the same head available again while the device still
 * held it got it taken twice, so the device had more buffers in flight than
 * the queue has heads (2 in a queue of size 1 here) and would complete one
 * head twice. A correct driver cannot do that; QEMU fails such a
 * device ("Virtqueue size exceeded"), the bound that closed CVE-2016-5403
 * (attack class 8). vqueue_pop() now refuses the pop and the device sets
 * DEVICE_NEEDS_RESET.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include "virtio_blk_driver.h"

static struct virtio_blk_device blk;
static struct vt_queue vq;

static int setup(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "inflight");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&vq, 0, 1);
    vt_bringup(~0ull, &vq, 1);
    fake_console_clear();
    return 0;
}

/* A 512-byte read as the one descriptor of a size-1 queue: header, data and status in an indirect table. */
static uint64_t submit_read(uint64_t sector)
{
    uint64_t hdr = bt_header(BT_IN, sector);
    uint64_t data = vt_alloc(512, 8);
    uint64_t status = vt_alloc(1, 1);
    uint64_t table = vt_alloc(48, 16);
    *(uint8_t *)vt_ptr(status) = BS_NONE;
    vt_desc_write(vt_ptr(table), hdr, 16, D_NEXT, 1);
    vt_desc_write(vt_ptr(table + 16), data, 512, D_WRITE | D_NEXT, 2);
    vt_desc_write(vt_ptr(table + 32), status, 1, D_WRITE, 0);
    vt_set_desc(&vq, 0, table, 48, D_INDIRECT, 0);
    vt_publish(&vq, 0);
    return status;
}

static void test_head_offered_again_while_in_flight_refused(void **state)
{
    (void)state;
    submit_read(0);
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 1); /* the read waits for the backend */
    vt_publish(&vq, 0); /* the same head again: two in flight in a queue of one */
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 1); /* not taken a second time */
    bt_expect_needs_reset();
    assert_true(vt_logged("in flight"));
    /* The read taken once completes once. */
    assert_int_equal(vb_blk_serve(10), 1);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(vt_used_pending(&vq), 1);
    assert_int_equal(fake.crashes, 0);
}

static void test_head_reused_after_completion_accepted(void **state)
{
    (void)state;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t status = submit_read(i);
        vt_kick(&vq);
        vb_blk_serve(10);
        virtio_blk_handle_notification(&blk);
        assert_int_equal(*(uint8_t *)vt_ptr(status), BS_OK);
        uint32_t id, len;
        assert_true(vt_used_pop(&vq, &id, &len));
        assert_int_equal(id, 0);
        assert_int_equal(len, 513);
    }
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_head_offered_again_while_in_flight_refused, setup),
        cmocka_unit_test_setup(test_head_reused_after_completion_accepted, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
