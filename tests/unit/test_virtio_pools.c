/*
 * Pool accounting of the virtio devices (virtio_*_pool_usage(),
 * virtio_pool_usage_format()): occupancy rises with requests in flight and
 * comes back to its starting value after completion, after a device reset
 * with requests in flight once the backend's late answers are in, and after
 * guest_restart(). What a reboot soak (tests/system/test_reboot_soak.py)
 * relies on to tell a leak from a busy device.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include "virtio_blk_driver.h"
#include <libfdt.h>
#include <libvmm/loader.h>
#include <libvmm/virtio/console.h>
#include <libvmm/virtio/net.h>

#define RAW_IMAGE_BYTES 64u
#define DTB_BYTES 512u
#define DTB_GPA (VT_RAM_GPA + 0x300000)

static struct virtio_blk_device blk;
static struct virtio_net_device net;
static struct virtio_console_device con;
static struct vt_queue vq, rxq, txq;
static uint8_t raw_image[RAW_IMAGE_BYTES];
static uint8_t dtb[DTB_BYTES] __attribute__((aligned(8)));

/* ---- helpers ---- */

static struct virtio_pool pool_of(const struct virtio_pool_usage *u, const char *name)
{
    for (unsigned i = 0; i < u->count; i++) {
        if (strcmp(u->pools[i].name, name) == 0) {
            return u->pools[i];
        }
    }
    fail_msg("no pool \"%s\" in %s", name, u->device);
    return (struct virtio_pool){0};
}

static uint32_t blk_in_use(const char *name)
{
    struct virtio_pool_usage u;
    assert_true(virtio_blk_pool_usage(&blk, &u));
    return pool_of(&u, name).in_use;
}

static void assert_blk_pools(uint32_t reqs, uint32_t parts, uint32_t slots)
{
    assert_int_equal(blk_in_use("reqs"), reqs);
    assert_int_equal(blk_in_use("parts"), parts);
    assert_int_equal(blk_in_use("slots"), slots);
}

static uint32_t net_in_use(const char *name)
{
    struct virtio_pool_usage u;
    assert_true(virtio_net_pool_usage(&net, &u));
    return pool_of(&u, name).in_use;
}

static uint32_t con_in_use(const char *name)
{
    struct virtio_pool_usage u;
    assert_true(virtio_console_pool_usage(&con, &u));
    return pool_of(&u, name).in_use;
}

/* Images for guest_restart() to reload: a raw binary and an empty device tree, outside guest RAM. */
static void record_images(void)
{
    memset(raw_image, 0x5a, sizeof(raw_image));
    assert_int_equal(fdt_create_empty_tree(dtb, DTB_BYTES), 0);
    uintptr_t entry = raw_setup_images((uintptr_t)vt_ram, (uintptr_t)raw_image, sizeof(raw_image), (uintptr_t)dtb,
                                       DTB_GPA, fdt_totalsize(dtb), 0, 0, 0);
    assert_int_equal(entry, VT_RAM_GPA + LOADER_RAW_OFFSET);
}

/* guest_restart() wipes RAM (the driver's rings with it) and the vGIC; the new driver starts afresh. */
static void restart_guest(void)
{
    assert_true(guest_restart(0, (uintptr_t)vt_ram, VT_RAM_SIZE));
    vt_next_gpa = VT_RAM_GPA + 0x1000;
    vt_enable_irq();
}

/* ---- virtio-blk ---- */

static void blk_bringup(void)
{
    vt_queue_alloc(&vq, 0, 256);
    vt_bringup(~0ull, &vq, 1);
}

static int blk_setup(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "pools");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    blk_bringup();
    record_images();
    return 0;
}

static void test_blk_pools_start_empty(void **state)
{
    (void)state;
    struct virtio_pool_usage u;
    assert_true(virtio_blk_pool_usage(&blk, &u));
    assert_string_equal(u.device, "blk");
    assert_int_equal(u.count, 3);
    assert_string_equal(u.pools[0].name, "reqs");
    assert_int_equal(u.pools[0].capacity, VIRTIO_BLK_MAX_REQS);
    assert_string_equal(u.pools[1].name, "parts");
    assert_int_equal(u.pools[1].capacity, VIRTIO_BLK_MAX_PARTS);
    assert_string_equal(u.pools[2].name, "slots");
    /* 64 KiB slots in the data area after the rings. */
    assert_int_equal(u.pools[2].capacity, (VB_REGION_SIZE - SHQ_DATA_OFFSET) / 0x10000);
    assert_blk_pools(0, 0, 0);
}

static void test_blk_pools_follow_requests_and_completions(void **state)
{
    (void)state;
    struct bt_req a = bt_submit(&vq, BT_OUT, 0, 4096);
    struct bt_req b = bt_submit(&vq, BT_IN, 8, 4096);
    struct bt_req c = bt_submit(&vq, BT_OUT, 64, 200 * 1024); /* four parts: 64 + 64 + 64 + 8 KiB */
    struct bt_req f = bt_submit(&vq, BT_FLUSH, 0, 0); /* a part without a slot */
    vt_kick(&vq);
    assert_blk_pools(4, 7, 6);

    assert_int_equal(vb_blk_serve(2), 2); /* a and b */
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&a), BS_OK);
    assert_int_equal(bt_status(&b), BS_OK);
    assert_blk_pools(2, 5, 4);

    assert_int_equal(vb_blk_serve(3), 3); /* three of c's parts: c is not finished */
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&c), BS_NONE);
    assert_blk_pools(2, 2, 1);

    vb_blk_serve(100);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&c), BS_OK);
    assert_int_equal(bt_status(&f), BS_OK);
    assert_blk_pools(0, 0, 0);
}

static void test_blk_pools_full_then_drained(void **state)
{
    (void)state;
    /* More requests than request records: the table fills, the rest wait in the avail ring. */
    for (unsigned i = 0; i < VIRTIO_BLK_MAX_REQS + 8; i++) {
        bt_submit(&vq, BT_IN, i, 512);
    }
    vt_kick(&vq);
    /* Each 512-byte read needs a data slot: 31 of them, so the 32nd request waits for a slot. */
    assert_int_equal(blk.num_slots, 31);
    assert_blk_pools(VIRTIO_BLK_MAX_REQS, 31, 31);
    for (unsigned round = 0; round < 8 && blk_in_use("reqs") > 0; round++) {
        vb_blk_serve(1000);
        virtio_blk_handle_notification(&blk);
    }
    assert_int_equal(vt_used_pending(&vq), VIRTIO_BLK_MAX_REQS + 8);
    assert_blk_pools(0, 0, 0);
}

static void test_blk_pools_after_device_reset_drain_with_late_answers(void **state)
{
    (void)state;
    bt_submit(&vq, BT_OUT, 0, 8192);
    bt_submit(&vq, BT_IN, 16, 4096);
    vt_kick(&vq);
    assert_blk_pools(2, 2, 2);
    vt_write(R_STATUS, 0); /* the driver resets the device with both at the backend */
    assert_blk_pools(0, 2, 2); /* the guest requests are gone; their parts wait for answers */
    vb_blk_serve(100);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(blk.stale_responses, 2);
    assert_blk_pools(0, 0, 0);
}

static void test_blk_pools_after_guest_restart(void **state)
{
    (void)state;
    bt_submit(&vq, BT_OUT, 0, 100 * 1024); /* two parts */
    bt_submit(&vq, BT_IN, 300, 512);
    vt_kick(&vq);
    assert_blk_pools(2, 3, 3);
    restart_guest();
    assert_blk_pools(0, 3, 3);
    assert_int_equal(vt_read(R_STATUS), 0);

    /* The rebooted guest's driver uses the device while the old answers are still out. */
    blk_bringup();
    struct bt_req r = bt_submit(&vq, BT_IN, 1, 512);
    vt_kick(&vq);
    assert_blk_pools(1, 4, 4);
    vb_blk_serve(100);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&r), BS_OK);
    assert_int_equal(blk.stale_responses, 3);
    assert_blk_pools(0, 0, 0);
}

/* ---- virtio-net ---- */

static int net_setup(void **state)
{
    (void)state;
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    vt_guest();
    vb_init(SHQ_KIND_NET, 64, 64, 64, 64);
    vb_net_config(mac, true, 1500);
    assert_true(virtio_net_init(&net, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    record_images();
    return 0;
}

static void net_bringup(void)
{
    vt_queue_alloc(&rxq, 0, 64);
    vt_queue_alloc(&txq, 1, 64);
    struct vt_queue qs[2] = {rxq, txq};
    vt_bringup(~0ull, qs, 2);
}

static void guest_tx(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t buf = vt_alloc(12 + 60, 8);
        memset(vt_ptr(buf + 12), (int)i, 60);
        const struct vt_buf b = {buf, 12 + 60, false};
        vt_add(&txq, &b, 1);
    }
    vt_kick(&txq);
}

/* The backend sends n transmitted frames and returns their buffers. */
static void backend_tx(unsigned n)
{
    struct shq_net_buffer b = {0};
    for (unsigned i = 0; i < n; i++) {
        assert_true(vb_take(0, &b, sizeof(b)));
        assert_true(vb_put(1, &b, sizeof(b)));
    }
}

static void test_net_pools_start_with_every_rx_buffer_posted(void **state)
{
    (void)state;
    struct virtio_pool_usage u;
    assert_true(virtio_net_pool_usage(&net, &u));
    assert_string_equal(u.device, "net");
    assert_int_equal(u.count, 2);
    assert_string_equal(u.pools[0].name, "tx");
    assert_int_equal(u.pools[0].capacity, net.ntx);
    assert_int_equal(u.pools[0].in_use, 0);
    assert_string_equal(u.pools[1].name, "rx");
    assert_int_equal(u.pools[1].capacity, net.nrx);
    assert_int_equal(u.pools[1].in_use, net.nrx);
    assert_int_equal(vb_pending(2), net.nrx);
}

static void test_net_pools_follow_tx_and_rx(void **state)
{
    (void)state;
    net_bringup();
    guest_tx(3);
    assert_int_equal(net_in_use("tx"), 3);
    struct shq_net_buffer held[3];
    for (unsigned i = 0; i < 3; i++) {
        assert_true(vb_take(0, &held[i], sizeof(held[i])));
    }
    assert_true(vb_put(1, &held[0], sizeof(held[0])));
    virtio_net_handle_notification(&net);
    assert_int_equal(net_in_use("tx"), 2);

    /* A frame the guest has no buffer for: dropped, its buffer posted again. */
    uint8_t frame[64] = {0};
    assert_true(vb_net_rx(frame, sizeof(frame)));
    assert_int_equal(net_in_use("rx"), net.nrx); /* filled, still the backend's until the VMM takes it */
    virtio_net_handle_notification(&net);
    assert_int_equal(net.rx_dropped, 1);
    assert_int_equal(net_in_use("rx"), net.nrx);
    assert_int_equal(vb_pending(2), net.nrx);

    /* The other two transmit buffers come back late. */
    assert_true(vb_put(1, &held[1], sizeof(held[1])));
    assert_true(vb_put(1, &held[2], sizeof(held[2])));
    virtio_net_handle_notification(&net);
    assert_int_equal(net_in_use("tx"), 0);
}

static void test_net_pools_after_reset_and_restart(void **state)
{
    (void)state;
    net_bringup();
    guest_tx(4);
    struct shq_net_buffer held[4];
    for (unsigned i = 0; i < 4; i++) {
        assert_true(vb_take(0, &held[i], sizeof(held[i])));
    }
    assert_int_equal(net_in_use("tx"), 4);
    vt_write(R_STATUS, 0); /* device reset: the backend still holds the four */
    assert_int_equal(net_in_use("tx"), 4);
    assert_true(vb_put(1, &held[0], sizeof(held[0])));
    virtio_net_handle_notification(&net);
    assert_int_equal(net_in_use("tx"), 3);

    restart_guest();
    assert_int_equal(net_in_use("tx"), 3);
    assert_int_equal(net_in_use("rx"), net.nrx);
    for (unsigned i = 1; i < 4; i++) {
        assert_true(vb_put(1, &held[i], sizeof(held[i])));
    }
    virtio_net_handle_notification(&net);
    assert_int_equal(net_in_use("tx"), 0);
    assert_int_equal(net_in_use("rx"), net.nrx);
    assert_int_equal(net.bad_responses, 0);

    /* The rebooted guest transmits again; everything comes back. */
    net_bringup();
    guest_tx(2);
    assert_int_equal(net_in_use("tx"), 2);
    backend_tx(2);
    virtio_net_handle_notification(&net);
    assert_int_equal(net_in_use("tx"), 0);
}

/* ---- virtio-console ---- */

static int con_setup(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_CONSOLE, 1024, 1024, 0, 0);
    assert_true(virtio_console_init(&con, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&rxq, 0, 16);
    vt_queue_alloc(&txq, 1, 16);
    struct vt_queue qs[2] = {rxq, txq};
    vt_bringup(~0ull, qs, 2);
    return 0;
}

static void test_console_pools_follow_the_rings(void **state)
{
    (void)state;
    struct virtio_pool_usage u;
    assert_true(virtio_console_pool_usage(&con, &u));
    assert_string_equal(u.device, "console");
    assert_int_equal(u.count, 2);
    assert_int_equal(u.pools[0].capacity, 1024);
    assert_int_equal(u.pools[1].capacity, 1024);
    assert_int_equal(con_in_use("tx"), 0);
    assert_int_equal(con_in_use("rx"), 0);

    uint64_t out = vt_alloc(10, 1);
    memcpy(vt_ptr(out), "0123456789", 10);
    const struct vt_buf b = {out, 10, false};
    vt_add(&txq, &b, 1);
    vt_kick(&txq);
    assert_int_equal(con_in_use("tx"), 10);
    char got[16];
    assert_int_equal(vb_con_out(got, 4), 4);
    assert_int_equal(con_in_use("tx"), 6);
    assert_int_equal(vb_con_out(got, sizeof(got)), 6);
    assert_int_equal(con_in_use("tx"), 0);

    /* Input with no guest buffer waits in ring 1, then goes to the guest. */
    assert_int_equal(vb_con_in("hello", 5), 5);
    virtio_console_handle_notification(&con);
    assert_int_equal(con_in_use("rx"), 5);
    uint64_t in = vt_alloc(16, 1);
    const struct vt_buf r = {in, 16, true};
    vt_add(&rxq, &r, 1);
    vt_kick(&rxq);
    assert_int_equal(con_in_use("rx"), 0);
    assert_memory_equal(vt_ptr(in), "hello", 5);
}

static void test_console_pools_clamp_a_bad_backend_index(void **state)
{
    (void)state;
    vb_ring(1)->tail = 0x7fffffff; /* the backend claims more than the ring holds */
    assert_int_equal(con_in_use("rx"), 1024);
    vb_ring(1)->tail = 0;
    vb_ring(0)->head = 5; /* ahead of our tail */
    assert_int_equal(con_in_use("tx"), 1024);
}

/* ---- no backend, bad arguments, formatting ---- */

static void test_pools_of_an_absent_device(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_hdr()->ready = 0; /* no device behind the region */
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    struct virtio_pool_usage u = {.count = 7};
    assert_false(virtio_blk_pool_usage(&blk, &u));
    assert_int_equal(u.count, 0);
    char text[32];
    assert_int_equal(virtio_pool_usage_format(&u, text, sizeof(text)), 10);
    assert_string_equal(text, "blk absent");

    assert_false(virtio_blk_pool_usage(NULL, &u));
    assert_false(virtio_net_pool_usage(NULL, &u));
    assert_false(virtio_console_pool_usage(NULL, &u));
    assert_false(virtio_blk_pool_usage(&blk, NULL));
    assert_false(virtio_net_pool_usage(&net, NULL));
    assert_false(virtio_console_pool_usage(&con, NULL));
    assert_int_equal(virtio_pool_usage_format(NULL, text, sizeof(text)), -1);
    assert_int_equal(virtio_pool_usage_format(&u, NULL, 4), -1);
}

static void test_pools_format(void **state)
{
    (void)state;
    const struct virtio_pool_usage u = {
        .device = "blk",
        .count = 3,
        .pools = {{"reqs", 1, 32}, {"parts", 12, 64}, {"slots", 3, 31}},
    };
    const char *want = "blk reqs 1/32 parts 12/64 slots 3/31";
    char text[64];
    assert_int_equal(virtio_pool_usage_format(&u, text, sizeof(text)), (int)strlen(want));
    assert_string_equal(text, want);
    /* Truncated, NUL-terminated, and the return value is still the whole length. */
    char small[10];
    memset(small, 'x', sizeof(small));
    assert_int_equal(virtio_pool_usage_format(&u, small, sizeof(small)), (int)strlen(want));
    assert_string_equal(small, "blk reqs ");
    assert_int_equal(virtio_pool_usage_format(&u, NULL, 0), (int)strlen(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_blk_pools_start_empty, blk_setup),
        cmocka_unit_test_setup(test_blk_pools_follow_requests_and_completions, blk_setup),
        cmocka_unit_test_setup(test_blk_pools_full_then_drained, blk_setup),
        cmocka_unit_test_setup(test_blk_pools_after_device_reset_drain_with_late_answers, blk_setup),
        cmocka_unit_test_setup(test_blk_pools_after_guest_restart, blk_setup),
        cmocka_unit_test_setup(test_net_pools_start_with_every_rx_buffer_posted, net_setup),
        cmocka_unit_test_setup(test_net_pools_follow_tx_and_rx, net_setup),
        cmocka_unit_test_setup(test_net_pools_after_reset_and_restart, net_setup),
        cmocka_unit_test_setup(test_console_pools_follow_the_rings, con_setup),
        cmocka_unit_test_setup(test_console_pools_clamp_a_bad_backend_index, con_setup),
        cmocka_unit_test(test_pools_of_an_absent_device),
        cmocka_unit_test(test_pools_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
