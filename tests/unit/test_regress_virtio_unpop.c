/*
 * Regression found by fuzz_virtio_queue (corpus regress-unpop-revalidate):
 * virtio-net with MRG_RXBUF takes several receive chains for one frame and
 * gives them all back when the guest runs out (vqueue_unpop). If avail->idx
 * had been read after the first of them was taken, the device kept that
 * index: it then believed more entries were present than the ring has
 * slots (5 in a ring of 4 here), so the next frame read a slot the driver
 * had already overwritten, and the check "avail->idx at most the queue
 * size ahead" (attack classes 5 and 16) never saw the driver's overrun.
 * vqueue_unpop() now makes the next pop read and check avail->idx again.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/net.h>

static struct virtio_net_device net;
static struct vt_queue rxq, txq;
static uint8_t frame[1024];

static int setup(void **state)
{
    (void)state;
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    vt_guest();
    vb_init(SHQ_KIND_NET, 64, 64, 64, 64);
    vb_net_config(mac, true, 1500);
    assert_true(virtio_net_init(&net, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&rxq, 0, 4);
    vt_queue_alloc(&txq, 1, 4);
    struct vt_queue qs[2] = {rxq, txq};
    assert_true(vt_bringup(~0ull, qs, 2) & (1ull << 15)); /* MRG_RXBUF */
    memset(frame, 0x5a, sizeof(frame));
    fake_console_clear();
    return 0;
}

static void post_rx(uint32_t size)
{
    const struct vt_buf b = {vt_alloc(size, 8), size, true};
    vt_add(&rxq, &b, 1);
}

static void backend_rx(uint32_t len)
{
    assert_true(vb_net_rx(frame, len));
    virtio_net_handle_notification(&net);
}

static void test_overrun_after_given_back_chains_refused(void **state)
{
    (void)state;
    post_rx(1600);
    post_rx(1600);
    backend_rx(100); /* takes entry 0 only; avail->idx 2 seen */
    assert_int_equal(vt_used_pending(&rxq), 1);
    assert_int_equal(net.rx_packets, 1);
    /* The driver overruns its ring: four more entries while entry 1 is still out (5 in a ring of 4). */
    for (unsigned i = 0; i < 4; i++) {
        post_rx(16);
    }
    backend_rx(1000); /* too big for what is there: every chain it took is given back */
    assert_int_equal(net.rx_dropped, 1);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
    backend_rx(20); /* the next pop must see avail->idx 5 ahead of the 1 entry taken */
    assert_true(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_true(vt_logged("more than 4 ahead"));
    assert_int_equal(net.rx_packets, 1);
    assert_int_equal(fake.crashes, 0);
}

static void test_given_back_chains_reused_by_next_frame(void **state)
{
    (void)state;
    post_rx(16);
    post_rx(16);
    backend_rx(100); /* 112 bytes do not fit in 32: both chains are given back */
    assert_int_equal(net.rx_dropped, 1);
    assert_int_equal(vt_used_pending(&rxq), 0);
    backend_rx(14); /* 26 bytes: both chains, published once */
    assert_int_equal(net.rx_packets, 1);
    assert_int_equal(vt_used_pending(&rxq), 2);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_overrun_after_given_back_chains_refused, setup),
        cmocka_unit_test_setup(test_given_back_chains_reused_by_next_frame, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
