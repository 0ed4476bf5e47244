/*
 * virtio-console (virtio 1.2 section 5.3) against a fake console backend:
 * one port both ways, bytes waiting for guest buffers (attack class 13),
 * transmit back-pressure with a chain longer than the ring, an echoing
 * backend, malformed chains and reset.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/console.h>

static struct virtio_console_device con;
static struct vt_queue rxq, txq;

static void start(uint32_t cap)
{
    vt_guest();
    vb_init(SHQ_KIND_CONSOLE, cap, cap, 0, 0);
    assert_true(virtio_console_init(&con, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&rxq, 0, 64);
    vt_queue_alloc(&txq, 1, 64);
    struct vt_queue qs[2] = {rxq, txq};
    vt_bringup(~0ull, qs, 2);
}

static int setup(void **state)
{
    (void)state;
    start(64);
    return 0;
}

static void guest_write(const char *s, size_t n)
{
    uint64_t b = vt_alloc(n, 1);
    memcpy(vt_ptr(b), s, n);
    const struct vt_buf buf = {b, (uint32_t)n, false};
    vt_add(&txq, &buf, 1);
    vt_kick(&txq);
}

/* Post n receive buffers of `size` bytes; returns the first (they are contiguous). */
static uint64_t guest_post(unsigned n, uint32_t size)
{
    uint64_t first = vt_alloc((uint64_t)n * size, 1);
    for (unsigned i = 0; i < n; i++) {
        const struct vt_buf buf = {first + (uint64_t)i * size, size, true};
        vt_add(&rxq, &buf, 1);
    }
    vt_kick(&rxq);
    return first;
}

static void test_console_features_and_config(void **state)
{
    (void)state;
    assert_int_equal(vt_read(R_DEVICE_ID), 3);
    uint64_t f = con.vdev.device_features;
    assert_int_equal(f, F_VERSION_1 | F_EVENT_IDX | F_INDIRECT); /* no SIZE, MULTIPORT, EMERG_WRITE */
    for (uint32_t off = 0; off < 12; off += 4) {
        assert_int_equal(vt_read(R_CONFIG + off), 0);
    }
    vt_access(R_CONFIG + 8, 4, true, 'x'); /* emerg_wr without EMERG_WRITE: ignored */
    assert_int_equal(vb_pending(0), 0);
    assert_int_equal(vt_read(R_CONFIG + 12), 0);
}

static void test_console_transmit(void **state)
{
    (void)state;
    uint64_t a = vt_alloc(6, 1), b = vt_alloc(6, 1);
    memcpy(vt_ptr(a), "hello ", 6);
    memcpy(vt_ptr(b), "world\n", 6);
    const struct vt_buf bufs[] = {{a, 6, false}, {b, 6, false}};
    vt_add(&txq, bufs, 2);
    vt_kick(&txq);
    char out[64];
    assert_int_equal(vb_con_out(out, sizeof(out)), 12);
    assert_memory_equal(out, "hello world\n", 12);
    uint32_t id, len;
    assert_true(vt_used_pop(&txq, &id, &len));
    assert_int_equal(len, 0);
    assert_int_equal(fake.signals[VT_CH], 1);
    assert_int_equal(vt_take_irq(), 1);
}

static void test_console_receive(void **state)
{
    (void)state;
    uint64_t buf = guest_post(1, 16);
    assert_int_equal(vb_con_in("abc", 3), 3);
    virtio_console_handle_notification(&con);
    uint32_t id, len;
    assert_true(vt_used_pop(&rxq, &id, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(vt_ptr(buf), "abc", 3);
    assert_int_equal(vb_pending(1), 0);
    assert_int_equal(vt_take_irq(), 1);
}

static void test_class13_bytes_wait_for_guest_buffers_bounded_by_ring(void **state)
{
    (void)state;
    char in[100];
    for (unsigned i = 0; i < sizeof(in); i++) {
        in[i] = (char)('A' + i % 26);
    }
    /* The guest posts nothing: the ring fills to its capacity, the backend keeps (drops) the rest. */
    assert_int_equal(vb_con_in(in, 100), 64);
    virtio_console_handle_notification(&con);
    virtio_console_handle_notification(&con);
    assert_int_equal(vb_pending(1), 64);
    assert_int_equal(con.rx_bytes, 0);
    /* The device asked to be notified of the next receive buffer (2.7.10). */
    vt_set_used_event(&rxq, 0);
    *(uint16_t *)vt_ptr(rxq.used + 4 + 8ull * rxq.num) = 0xbeef;
    virtio_console_handle_notification(&con);
    assert_int_equal(vt_avail_event(&rxq), rxq.avail_idx);
    /* Buffers arrive: the waiting bytes are delivered in order, across buffers. */
    uint64_t bufs = guest_post(5, 16);
    assert_int_equal(vb_pending(1), 0);
    uint32_t id = 0, len = 0, total = 0;
    while (vt_used_pop(&rxq, &id, &len)) {
        assert_memory_equal(vt_ptr(bufs + 16ull * id), in + total, len);
        total += len;
    }
    assert_int_equal(total, 64);
    /* One buffer left over takes the next bytes. */
    assert_int_equal(vb_con_in(in + 64, 10), 10);
    virtio_console_handle_notification(&con);
    assert_true(vt_used_pop(&rxq, &id, &len));
    assert_int_equal(len, 10);
}

static void test_console_tx_chain_longer_than_ring(void **state)
{
    (void)state;
    char msg[200];
    for (unsigned i = 0; i < sizeof(msg); i++) {
        msg[i] = (char)('a' + i % 26);
    }
    guest_write(msg, sizeof(msg));
    guest_write("!", 1);
    char out[256];
    size_t got = 0;
    unsigned rounds = 0;
    while (got < 201 && rounds++ < 10) {
        assert_true(vb_pending(0) <= 64);
        got += vb_con_out(out + got, sizeof(out) - got);
        virtio_console_handle_notification(&con);
    }
    assert_int_equal(got, 201);
    assert_memory_equal(out, msg, 200);
    assert_int_equal(out[200], '!');
    assert_int_equal(vt_used_pending(&txq), 2);
    assert_int_equal(con.tx_bytes, 201);
}

static void test_console_echo_both_ways(void **state)
{
    (void)state;
    start(2048);
    uint64_t buf = guest_post(1, 64);
    guest_write("ping\n", 5);
    char out[16];
    size_t n = vb_con_out(out, sizeof(out));
    assert_int_equal(vb_con_in(out, n), n);
    virtio_console_handle_notification(&con);
    uint32_t id, len;
    assert_true(vt_used_pop(&rxq, &id, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(vt_ptr(buf), "ping\n", 5);
}

static void test_console_malformed_chains_need_reset(void **state)
{
    (void)state;
    uint64_t b = vt_alloc(8, 1);
    const struct vt_buf w = {b, 8, true}; /* device-writable in the transmit queue */
    vt_add(&txq, &w, 1);
    vt_kick(&txq);
    assert_true(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_true(vt_take_irq() & 2);
    assert_int_equal(vb_pending(0), 0);
    start(64);
    const struct vt_buf r = {b, 8, false}; /* device-readable in the receive queue */
    vt_add(&rxq, &r, 1);
    vt_kick(&rxq);
    vb_con_in("x", 1);
    virtio_console_handle_notification(&con);
    assert_true(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_int_equal(vb_pending(1), 1); /* the byte is still there for the next driver */
}

static void test_console_reset_drops_partial_transmit(void **state)
{
    (void)state;
    char msg[100];
    memset(msg, 'z', sizeof(msg));
    guest_write(msg, sizeof(msg));
    assert_true(con.tx_busy);
    vt_write(R_STATUS, 0);
    assert_false(con.tx_busy);
    char out[128];
    assert_int_equal(vb_con_out(out, sizeof(out)), 64);
    virtio_console_handle_notification(&con); /* nothing more is sent for the dead chain */
    assert_int_equal(vb_pending(0), 0);
    vt_queue_alloc(&rxq, 0, 64);
    vt_queue_alloc(&txq, 1, 64);
    struct vt_queue qs[2] = {rxq, txq};
    vt_bringup(~0ull, qs, 2);
    guest_write("ok", 2);
    assert_int_equal(vb_con_out(out, sizeof(out)), 2);
}

static void test_console_bytes_before_driver_ok_wait(void **state)
{
    (void)state;
    vt_write(R_STATUS, 0);
    assert_int_equal(vb_con_in("early", 5), 5);
    virtio_console_handle_notification(&con);
    assert_int_equal(vb_pending(1), 5); /* nobody to give them to yet */
    /* Linux posts its receive buffers before DRIVER_OK; the bytes go out when the device goes live. */
    vt_negotiate(~0ull);
    vt_queue_alloc(&rxq, 0, 64);
    vt_queue_alloc(&txq, 1, 64);
    vt_queue_setup(&rxq);
    vt_queue_setup(&txq);
    uint64_t buf = guest_post(1, 16);
    assert_int_equal(vb_pending(1), 5);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    assert_int_equal(vb_pending(1), 0);
    assert_memory_equal(vt_ptr(buf), "early", 5);
    assert_int_equal(vt_used_pending(&rxq), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_console_features_and_config, setup),
        cmocka_unit_test_setup(test_console_transmit, setup),
        cmocka_unit_test_setup(test_console_receive, setup),
        cmocka_unit_test_setup(test_class13_bytes_wait_for_guest_buffers_bounded_by_ring, setup),
        cmocka_unit_test_setup(test_console_tx_chain_longer_than_ring, setup),
        cmocka_unit_test_setup(test_console_echo_both_ways, setup),
        cmocka_unit_test_setup(test_console_malformed_chains_need_reset, setup),
        cmocka_unit_test_setup(test_console_reset_drops_partial_transmit, setup),
        cmocka_unit_test_setup(test_console_bytes_before_driver_ok_wait, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
