/*
 * virtio-net (virtio 1.2 section 5.1) against a fake NIC backend: features
 * and config, transmit, receive with and without MRG_RXBUF, drops when the
 * guest has no buffers (attack class 13), frame bounds (class 10),
 * back-pressure, link changes, and a backend that returns buffers it does
 * not hold.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/net.h>

#define NF_CSUM (1ull << 0)
#define NF_GUEST_CSUM (1ull << 1)
#define NF_MTU (1ull << 3)
#define NF_MAC (1ull << 5)
#define NF_MRG_RXBUF (1ull << 15)
#define NF_STATUS (1ull << 16)

static struct virtio_net_device net;
static struct vt_queue rxq, txq;
static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static uint8_t frame[9100];

static void start(uint64_t want, uint32_t tx_cap)
{
    vt_guest();
    vb_init(SHQ_KIND_NET, tx_cap, 64, 64, 64);
    vb_net_config(mac, true, 1500);
    assert_true(virtio_net_init(&net, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&rxq, 0, 64);
    vt_queue_alloc(&txq, 1, 64);
    struct vt_queue qs[2];
    qs[0] = rxq;
    qs[1] = txq;
    vt_bringup(want, qs, 2);
    for (unsigned i = 0; i < sizeof(frame); i++) {
        frame[i] = (uint8_t)(i * 13 + 5);
    }
}

static int setup(void **state)
{
    (void)state;
    start(~0ull, 64);
    return 0;
}

/* Guest transmits a frame: 12-byte header then the frame, in two descriptors. */
static void guest_tx(const uint8_t *f, uint32_t len, uint8_t flags)
{
    uint64_t hdr = vt_alloc(12, 8), data = vt_alloc(len, 8);
    *(uint8_t *)vt_ptr(hdr) = flags;
    memcpy(vt_ptr(data), f, len);
    const struct vt_buf bufs[] = {{hdr, 12, false}, {data, len, false}};
    vt_add(&txq, bufs, 2);
}

/* Guest posts n receive buffers of `size` bytes; returns the first one's address. */
static uint64_t guest_rx_buffers(unsigned n, uint32_t size)
{
    uint64_t first = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = vt_alloc(size, 8);
        first = i == 0 ? b : first;
        const struct vt_buf buf = {b, size, true};
        vt_add(&rxq, &buf, 1);
    }
    vt_kick(&rxq);
    return first;
}

static void test_net_features_and_config(void **state)
{
    (void)state;
    uint64_t f = net.vdev.device_features;
    assert_true(f & NF_MAC);
    assert_true(f & NF_STATUS);
    assert_true(f & NF_MRG_RXBUF);
    assert_true(f & NF_MTU);
    assert_true(f & F_EVENT_IDX);
    assert_true(f & F_INDIRECT);
    /* No offload the backend cannot honour: no checksum, no GSO/TSO/UFO (bits 6-14). */
    assert_int_equal(f & (NF_CSUM | NF_GUEST_CSUM | 0x7fc0ull), 0);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(vt_access(R_CONFIG + i, 1, false, 0), mac[i]);
    }
    assert_int_equal(vt_access(R_CONFIG + 6, 2, false, 0), 1); /* VIRTIO_NET_S_LINK_UP */
    assert_int_equal(vt_access(R_CONFIG + 10, 2, false, 0), 1500);
    /* Receive buffers were posted to the backend at init. */
    assert_int_equal(vb_pending(2), net.nrx);
    assert_true(net.nrx > 0 && net.ntx > 0);
}

static void test_net_tx_frame_reaches_backend(void **state)
{
    (void)state;
    guest_tx(frame, 60, 0);
    uint64_t one = vt_alloc(12 + 90, 8); /* header and frame in one descriptor */
    memcpy(vt_ptr(one + 12), frame + 60, 90);
    const struct vt_buf b = {one, 102, false};
    vt_add(&txq, &b, 1);
    vt_kick(&txq);
    uint8_t got[2048];
    assert_int_equal(vb_net_tx(got, sizeof(got)), 60);
    assert_memory_equal(got, frame, 60);
    assert_int_equal(vb_net_tx(got, sizeof(got)), 90);
    assert_memory_equal(got, frame + 60, 90);
    uint32_t id, len;
    assert_true(vt_used_pop(&txq, &id, &len));
    assert_int_equal(len, 0);
    assert_int_equal(net.tx_packets, 2);
    uint16_t free_before = net.tx_free_count;
    virtio_net_handle_notification(&net); /* buffers came back on ring 1 */
    assert_int_equal(net.tx_free_count, free_before + 2);
}

static void test_net_rx_without_mrg(void **state)
{
    (void)state;
    start(~NF_MRG_RXBUF, 64);
    uint64_t buf = guest_rx_buffers(2, 1526);
    assert_true(vb_net_rx(frame, 100));
    virtio_net_handle_notification(&net);
    uint32_t id, len;
    assert_true(vt_used_pop(&rxq, &id, &len));
    assert_int_equal(len, 112);
    const uint8_t *p = vt_ptr(buf);
    assert_int_equal(p[0], 0); /* flags: no DATA_VALID without GUEST_CSUM */
    assert_int_equal(p[1], 0); /* GSO_NONE */
    assert_int_equal(p[10] | (p[11] << 8), 1); /* num_buffers 1 without MRG_RXBUF */
    assert_memory_equal(p + 12, frame, 100);
    assert_int_equal(vt_take_irq(), 1);
    assert_int_equal(net.rx_packets, 1);
    /* The backend got its buffer back. */
    assert_int_equal(vb_pending(2), net.nrx);
}

static void test_net_rx_mrg_spreads_a_frame(void **state)
{
    (void)state;
    uint64_t first = guest_rx_buffers(4, 512);
    assert_true(vb_net_rx(frame, 1200));
    virtio_net_handle_notification(&net);
    uint32_t id = 0, len = 0, total = 0;
    uint8_t got[2048];
    for (unsigned i = 0; i < 3; i++) {
        assert_true(vt_used_pop(&rxq, &id, &len));
        memcpy(got + total, vt_ptr(first + 512ull * id), len);
        total += len;
    }
    assert_false(vt_used_pop(&rxq, &id, &len));
    assert_int_equal(total, 1212);
    assert_int_equal(got[10] | (got[11] << 8), 3); /* num_buffers */
    assert_memory_equal(got + 12, frame, 1200);
}

static void test_class13_rx_without_guest_buffers_drops_and_moves_on(void **state)
{
    (void)state;
    /* A flood with no guest buffers: every frame is dropped and counted, the
     * backend gets every buffer back, nothing waits in the VMM. */
    unsigned sent = 0;
    for (unsigned round = 0; round < 40; round++) {
        while (vb_net_rx(frame, 64)) {
            sent++;
        }
        virtio_net_handle_notification(&net);
        assert_int_equal(vb_pending(3), 0);
    }
    assert_true(sent >= 1000);
    assert_int_equal(net.rx_dropped, sent);
    assert_int_equal(vb_pending(2), net.nrx);
    /* One buffer too small for a 1200-byte frame: dropped, the buffer stays the guest's. */
    guest_rx_buffers(1, 512);
    assert_true(vb_net_rx(frame, 1200));
    virtio_net_handle_notification(&net);
    assert_int_equal(net.rx_dropped, sent + 1);
    assert_int_equal(vt_used_pending(&rxq), 0);
    /* ... and a frame that fits uses it. */
    assert_true(vb_net_rx(frame, 400));
    virtio_net_handle_notification(&net);
    assert_int_equal(vt_used_pending(&rxq), 1);
    assert_int_equal(net.rx_packets, 1);
}

static void test_class10_tx_frame_bounds(void **state)
{
    (void)state;
    guest_tx(frame, 1500 + 18 + 1, 0); /* longer than MTU + Ethernet header + VLAN tag */
    guest_tx(frame, 13, 0); /* shorter than an Ethernet header */
    guest_tx(frame, 9000, 0);
    guest_tx(frame, 1518, 0); /* the largest that fits */
    vt_kick(&txq);
    assert_int_equal(net.tx_errors, 3);
    assert_int_equal(net.tx_packets, 1);
    assert_int_equal(vt_used_pending(&txq), 4);
    uint8_t got[2048];
    assert_int_equal(vb_net_tx(got, sizeof(got)), 1518);
    assert_int_equal(vb_net_tx(got, sizeof(got)), -1);
}

static void test_net_tx_offload_requests_dropped(void **state)
{
    (void)state;
    guest_tx(frame, 100, 1); /* VIRTIO_NET_HDR_F_NEEDS_CSUM: CSUM was never offered */
    uint64_t hdr = vt_alloc(12, 8), data = vt_alloc(100, 8);
    *(uint8_t *)vt_ptr(hdr + 1) = 1; /* GSO_TCPV4 */
    const struct vt_buf bufs[] = {{hdr, 12, false}, {data, 100, false}};
    vt_add(&txq, bufs, 2);
    vt_kick(&txq);
    assert_int_equal(net.tx_errors, 2);
    assert_int_equal(vb_pending(0), 0);
    assert_int_equal(vt_used_pending(&txq), 2);
}

static void test_net_tx_back_pressure(void **state)
{
    (void)state;
    start(~0ull, 4);
    for (unsigned i = 0; i < 6; i++) {
        guest_tx(frame + i, 80, 0);
    }
    vt_kick(&txq);
    assert_int_equal(vb_pending(0), 4);
    assert_int_equal(vt_used_pending(&txq), 4);
    assert_true(net.tx_blocked);
    uint8_t got[2048];
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(vb_net_tx(got, sizeof(got)), 80);
        assert_memory_equal(got, frame + i, 80);
    }
    virtio_net_handle_notification(&net);
    assert_int_equal(vt_used_pending(&txq), 6);
    for (unsigned i = 4; i < 6; i++) {
        assert_int_equal(vb_net_tx(got, sizeof(got)), 80);
        assert_memory_equal(got, frame + i, 80);
    }
}

static void test_net_link_change_is_a_config_change(void **state)
{
    (void)state;
    uint32_t gen = vt_read(R_CONFIG_GEN);
    vb_hdr()->config.net.link_up = 0;
    virtio_net_handle_notification(&net);
    assert_int_equal(vt_access(R_CONFIG + 6, 2, false, 0), 0);
    assert_int_not_equal(vt_read(R_CONFIG_GEN), gen);
    assert_int_equal(vt_take_irq(), 2);
    virtio_net_handle_notification(&net);
    assert_int_equal(vt_take_irq(), 0); /* no change, no interrupt */
}

static void test_net_backend_returns_buffers_it_does_not_hold(void **state)
{
    (void)state;
    const struct shq_net_buffer bad[] = {
        {SHQ_DATA_OFFSET, 60}, /* a TX buffer that was never sent */
        {SHQ_DATA_OFFSET + 3, 60}, /* not a buffer boundary */
        {0, 60}, /* the header */
        {0xfffffff0u, 60},
    };
    for (unsigned i = 0; i < 4; i++) {
        assert_true(vb_put(1, &bad[i], sizeof(bad[i])));
    }
    /* On the receive side: a TX buffer, and a frame longer than the MTU allows. */
    struct shq_net_buffer tx_as_rx = {SHQ_DATA_OFFSET, 60};
    assert_true(vb_put(3, &tx_as_rx, sizeof(tx_as_rx)));
    guest_rx_buffers(4, 2048);
    struct shq_net_buffer rxb;
    assert_true(vb_take(2, &rxb, sizeof(rxb)));
    rxb.len = 1600;
    assert_true(vb_put(3, &rxb, sizeof(rxb)));
    uint16_t free_before = net.tx_free_count;
    virtio_net_handle_notification(&net);
    assert_int_equal(net.bad_responses, 6);
    assert_int_equal(net.tx_free_count, free_before);
    assert_int_equal(vt_used_pending(&rxq), 0);
    /* The oversized frame's buffer went back to the backend. */
    assert_int_equal(vb_pending(2), net.nrx);
    /* A receive buffer handed back twice: the second time it is not the backend's. */
    assert_true(vb_take(2, &rxb, sizeof(rxb)));
    rxb.len = 60;
    assert_true(vb_put(3, &rxb, sizeof(rxb)));
    assert_true(vb_put(3, &rxb, sizeof(rxb)));
    virtio_net_handle_notification(&net);
    assert_int_equal(net.rx_packets, 1);
    assert_int_equal(net.bad_responses, 7);
}

static void test_net_tx_never_overfills_a_ring_the_backend_does_not_drain(void **state)
{
    (void)state;
    /* A backend that returns TX buffers (ring 1) without consuming ring 0. */
    start(~0ull, 4);
    for (unsigned i = 0; i < 4; i++) {
        guest_tx(frame, 60, 0);
    }
    vt_kick(&txq);
    assert_int_equal(vb_pending(0), 4);
    for (uint32_t i = 0; i < 4; i++) {
        struct shq_net_buffer b;
        memcpy(&b, vb_entry(0, vb_ring(0)->head + i, sizeof(b)), sizeof(b));
        assert_true(vb_put(1, &b, sizeof(b)));
    }
    virtio_net_handle_notification(&net);
    guest_tx(frame, 60, 0);
    vt_kick(&txq);
    assert_int_equal(vb_pending(0), 4);
    assert_int_equal(vt_used_pending(&txq), 4);
}

static void test_net_reset_keeps_backend_buffers_straight(void **state)
{
    (void)state;
    guest_tx(frame, 60, 0);
    vt_kick(&txq);
    vt_write(R_STATUS, 0);
    uint8_t got[2048];
    assert_int_equal(vb_net_tx(got, sizeof(got)), 60); /* returned after the reset */
    assert_true(vb_net_rx(frame, 60)); /* a frame for a device being reset */
    virtio_net_handle_notification(&net);
    assert_int_equal(net.tx_free_count, net.ntx);
    assert_int_equal(net.rx_dropped, 1);
    assert_int_equal(vb_pending(2), net.nrx);
}

static void test_net_malformed_rx_chain_needs_reset(void **state)
{
    (void)state;
    uint64_t b = vt_alloc(2048, 8), r = vt_alloc(16, 8);
    const struct vt_buf bufs[] = {{r, 16, false}, {b, 2048, true}}; /* device-readable in a receive queue */
    vt_add(&rxq, bufs, 2);
    vt_kick(&rxq);
    assert_true(vb_net_rx(frame, 60));
    virtio_net_handle_notification(&net);
    assert_true(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_true(vt_take_irq() & 2);
    assert_int_equal(net.rx_dropped, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_net_features_and_config, setup),
        cmocka_unit_test_setup(test_net_tx_frame_reaches_backend, setup),
        cmocka_unit_test_setup(test_net_rx_without_mrg, setup),
        cmocka_unit_test_setup(test_net_rx_mrg_spreads_a_frame, setup),
        cmocka_unit_test_setup(test_class13_rx_without_guest_buffers_drops_and_moves_on, setup),
        cmocka_unit_test_setup(test_class10_tx_frame_bounds, setup),
        cmocka_unit_test_setup(test_net_tx_offload_requests_dropped, setup),
        cmocka_unit_test_setup(test_net_tx_back_pressure, setup),
        cmocka_unit_test_setup(test_net_link_change_is_a_config_change, setup),
        cmocka_unit_test_setup(test_net_backend_returns_buffers_it_does_not_hold, setup),
        cmocka_unit_test_setup(test_net_tx_never_overfills_a_ring_the_backend_does_not_drain, setup),
        cmocka_unit_test_setup(test_net_reset_keeps_backend_buffers_straight, setup),
        cmocka_unit_test_setup(test_net_malformed_rx_chain_needs_reset, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
