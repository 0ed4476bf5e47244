/*
 * The shared virtqueue module (src/virtio/queue.c) as a hostile guest sees
 * it, through the virtio-blk device: attack classes 2-7, 9, 10 and 15 of
 * guest-attack-classes.md, indirect descriptors, EVENT_IDX notification and
 * interrupt suppression, and interrupt re-injection.
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
    vb_blk_config(VB_DISK_SECTORS, false, "q");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&vq, 0, 16);
    vt_bringup(~0ull, &vq, 1);
    fake_console_clear();
    return 0;
}

/* A READ of one sector into [data, +len) with the descriptors given explicitly. */
static void read_into(uint64_t data, uint32_t len, uint64_t status)
{
    const struct vt_buf bufs[] = {{bt_header(BT_IN, 0), 16, false}, {data, len, true}, {status, 1, true}};
    vt_add(&vq, bufs, 3);
    vt_kick(&vq);
}

static void test_class02_buffer_one_byte_past_ram(void **state)
{
    (void)state;
    /* Ending exactly at the end of RAM is fine. */
    uint64_t end = VT_RAM_GPA + VT_RAM_SIZE;
    uint64_t st = vt_alloc(1, 1);
    memset(vb_disk, 0x5a, 512);
    read_into(end - 512, 512, st);
    assert_int_equal(vb_blk_serve(8), 1);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(*(uint8_t *)vt_ptr(st), BS_OK);
    assert_int_equal(*(uint8_t *)vt_ptr(end - 1), 0x5a);
    /* One byte further is not RAM: the device cannot trust the chain. */
    read_into(end - 511, 512, st);
    bt_expect_needs_reset();
    assert_int_equal(vb_pending(0), 0);
    bt_expect_refused(&blk.vdev.queues[0], "buffer not inside guest RAM");
}

static void test_class03_addr_len_overflow(void **state)
{
    (void)state;
    uint64_t st = vt_alloc(1, 1);
    read_into(0xffffffffffffff00ull, 512, st); /* openvmm #4047 */
    bt_expect_needs_reset();
    vt_write(R_STATUS, 0);
    vt_queue_alloc(&vq, 0, 16);
    vt_bringup(~0ull, &vq, 1);
    read_into(VT_RAM_GPA + 0x100, 0xffffff00u, st); /* gpa + len far past RAM */
    bt_expect_needs_reset();
}

static void test_class04_writable_descriptor_past_ram(void **state)
{
    (void)state;
    /* The status byte (device-writable) one byte past the end of RAM. */
    uint64_t data = vt_alloc(512, 8);
    const struct vt_buf bufs[] = {
        {bt_header(BT_IN, 0), 16, false}, {data, 512, true}, {VT_RAM_GPA + VT_RAM_SIZE, 1, true}};
    vt_add(&vq, bufs, 3);
    vt_kick(&vq);
    bt_expect_needs_reset();
    assert_int_equal(vb_pending(0), 0); /* nothing reached the backend */
    /* Once broken, the device does not touch the queue again until reset. */
    struct bt_req r = bt_submit(&vq, BT_GET_ID, 0, 20);
    vt_kick(&vq);
    assert_int_equal(bt_status(&r), BS_NONE);
    assert_int_equal(vt_used_pending(&vq), 0);
}

static void test_class05_head_index_out_of_range(void **state)
{
    (void)state;
    vt_publish(&vq, 16); /* queue size is 16: heads are 0..15 */
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "head index out of range");
}

static void test_class05_avail_idx_runs_ahead(void **state)
{
    (void)state;
    struct bt_req r = bt_submit(&vq, BT_GET_ID, 0, 20);
    *vt_avail_idx(&vq) = 17; /* claims 17 new buffers in a 16-entry queue */
    vt_kick(&vq);
    bt_expect_needs_reset();
    assert_int_equal(bt_status(&r), BS_NONE);
    bt_expect_refused(&blk.vdev.queues[0], "avail->idx ahead");
}

static void test_class06_descriptors_not_reread_after_validation(void **state)
{
    (void)state;
    memset(vb_disk, 0x77, 1024);
    struct bt_req r = bt_submit(&vq, BT_IN, 0, 1024);
    vt_kick(&vq);
    assert_int_equal(vb_pending(0), 1);
    /* While the request is in flight the guest rewrites its descriptors: to
     * outside RAM, and to another buffer. The device must keep using what it
     * validated, and never look at the table again for this request. */
    uint64_t decoy = vt_alloc(1024, 8);
    vt_set_desc(&vq, (uint16_t)(r.head + 1), 0xfffffffffff00000ull, 1024, D_WRITE | D_NEXT, (uint16_t)(r.head + 2));
    vt_set_desc(&vq, (uint16_t)(r.head + 2), decoy, 1, D_WRITE, 0);
    vb_blk_serve(8);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(bt_status(&r), BS_OK);
    assert_int_equal(bt_data(&r)[1023], 0x77);
    assert_int_equal(*(uint8_t *)vt_ptr(decoy), 0);
    bt_expect_used(&vq, &r, 1025);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
}

static void test_class07_zero_length_descriptor(void **state)
{
    (void)state;
    uint64_t st = vt_alloc(1, 1);
    uint64_t data = vt_alloc(512, 8);
    const struct vt_buf bufs[] = {{bt_header(BT_IN, 0), 16, false}, {data, 0, true}, {data, 512, true}, {st, 1, true}};
    vt_add(&vq, bufs, 4);
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "zero-length buffer");
}

static void test_class07_huge_length(void **state)
{
    (void)state;
    uint64_t st = vt_alloc(1, 1);
    read_into(VT_RAM_GPA + 0x2000, 0xffffffffu, st);
    bt_expect_needs_reset();
}

static void test_class09_index_wraparound(void **state)
{
    (void)state;
    /* 70000 requests: avail->idx and used->idx wrap past 0xffff; unsigned
     * arithmetic keeps every index meaningful. Buffers are reused. */
    uint64_t hdr = bt_header(BT_GET_ID, 0), data = vt_alloc(20, 8), st = vt_alloc(1, 1);
    const struct vt_buf bufs[] = {{hdr, 16, false}, {data, 20, true}, {st, 1, true}};
    unsigned done = 0;
    for (unsigned round = 0; round < 70000 / 5; round++) {
        for (unsigned i = 0; i < 5; i++) {
            vt_add(&vq, bufs, 3);
        }
        vt_kick(&vq);
        uint32_t id, len;
        while (vt_used_pop(&vq, &id, &len)) {
            assert_int_equal(len, 21);
            done++;
        }
        vt_take_irq();
    }
    assert_int_equal(done, 70000);
    assert_int_equal(vt_used_idx(&vq), 70000 & 0xffff);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
}

static void test_class10_lengths_never_size_a_copy(void **state)
{
    (void)state;
    /* A 64 KiB "header" descriptor on a READ: only 16 bytes are the header; the request is malformed (IOERR). */
    uint64_t big = vt_alloc(0x10000, 8), data = vt_alloc(512, 8), st = vt_alloc(1, 1);
    memcpy(vt_ptr(big), &(uint32_t){BT_IN}, 4);
    const struct vt_buf bufs[] = {{big, 0x10000, false}, {data, 512, true}, {st, 1, true}};
    vt_add(&vq, bufs, 3);
    vt_kick(&vq);
    assert_int_equal(*(uint8_t *)vt_ptr(st), BS_IOERR);
    /* GET_ID into a 4-byte buffer: 4 bytes written, nothing more. */
    uint64_t small = vt_alloc(8, 8);
    memset(vt_ptr(small), 0xab, 8);
    const struct vt_buf id[] = {{bt_header(BT_GET_ID, 0), 16, false}, {small, 4, true}, {st, 1, true}};
    vt_add(&vq, id, 3);
    vt_kick(&vq);
    assert_int_equal(*(uint8_t *)vt_ptr(st), BS_OK);
    assert_memory_equal(vt_ptr(small), "q\0\0\0\xab\xab\xab\xab", 8);
    uint32_t i, len;
    assert_true(vt_used_pop(&vq, &i, &len));
    assert_true(vt_used_pop(&vq, &i, &len));
    assert_int_equal(len, 5);
}

static void test_class15_descriptor_loop(void **state)
{
    (void)state;
    uint64_t buf = vt_alloc(16, 8);
    memcpy(vt_ptr(buf), &(uint32_t){BT_OUT}, 4);
    /* 0 -> 1 -> 0 -> ... */
    vt_set_desc(&vq, 0, buf, 16, D_NEXT, 1);
    vt_set_desc(&vq, 1, buf, 16, D_NEXT, 0);
    vt_publish(&vq, 0);
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "longer than its descriptor table");
}

/* A fresh, live queue after a reset. */
static void restart_queue(uint64_t features)
{
    vt_write(R_STATUS, 0);
    vt_queue_alloc(&vq, 0, 16);
    vt_bringup(features, &vq, 1);
}

/* Point descriptor 0 at an indirect table of n GET_ID-shaped entries chained 0 -> 1 -> ..., publish, kick. */
static void indirect_chain(uint16_t n, uint16_t last_next, uint16_t last_flags)
{
    uint64_t hdr = bt_header(BT_GET_ID, 0), data = vt_alloc(20, 8);
    uint64_t table = vt_alloc(16ull * n, 16);
    for (uint16_t i = 0; i < n; i++) {
        bool last = i + 1 == n;
        uint64_t addr = i == 0 ? hdr : data;
        uint32_t len = i == 0 ? 16 : (last ? 1 : 20);
        uint16_t flags = (uint16_t)((i == 0 ? 0 : D_WRITE) | (last ? last_flags : D_NEXT));
        vt_desc_write(vt_ptr(table + 16ull * i), addr, len, flags, last ? last_next : (uint16_t)(i + 1));
    }
    vt_set_desc(&vq, 0, table, 16u * n, D_INDIRECT, 0);
    vt_publish(&vq, 0);
    vt_kick(&vq);
}

static void test_class15_self_loop_and_long_indirect_tables(void **state)
{
    (void)state;
    uint64_t buf = vt_alloc(16, 8);
    vt_set_desc(&vq, 3, buf, 16, D_NEXT, 3);
    vt_publish(&vq, 3);
    vt_kick(&vq);
    bt_expect_needs_reset();
    /* A loop inside an indirect table: the last entry points back to the first. */
    restart_queue(~0ull);
    indirect_chain(8, 0, D_NEXT);
    bt_expect_needs_reset();
    /* An indirect table longer than a small queue is what Linux builds: fine (up to VQUEUE_MAX_SIZE). */
    restart_queue(~0ull);
    indirect_chain(40, 0, 0);
    assert_int_equal(vt_used_pending(&vq), 1);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
    restart_queue(~0ull);
    indirect_chain(VQUEUE_MAX_SIZE + 1, 0, 0);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "indirect table empty, too long");
}

static void test_next_out_of_range_and_direction(void **state)
{
    (void)state;
    uint64_t hdr = bt_header(BT_IN, 0), st = vt_alloc(1, 1);
    vt_set_desc(&vq, 0, hdr, 16, D_NEXT, 16); /* next beyond the table */
    vt_publish(&vq, 0);
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "index out of range");
    vt_write(R_STATUS, 0);
    vt_queue_alloc(&vq, 0, 16);
    vt_bringup(~0ull, &vq, 1);
    const struct vt_buf bufs[] = {{st, 1, true}, {hdr, 16, false}}; /* readable after writable */
    vt_add(&vq, bufs, 2);
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "device-readable buffer after");
}

static void test_indirect_chain(void **state)
{
    (void)state;
    memset(vb_disk + 512, 0x3c, 512);
    uint64_t hdr = bt_header(BT_IN, 1), data = vt_alloc(512, 8), st = vt_alloc(1, 1);
    uint64_t table = vt_alloc(3 * 16, 16);
    vt_desc_write(vt_ptr(table), hdr, 16, D_NEXT, 1);
    vt_desc_write(vt_ptr(table + 16), data, 512, D_WRITE | D_NEXT, 2);
    vt_desc_write(vt_ptr(table + 32), st, 1, D_WRITE, 0);
    vt_set_desc(&vq, 5, table, 48, D_INDIRECT, 0);
    vt_publish(&vq, 5);
    vt_kick(&vq);
    vb_blk_serve(8);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(*(uint8_t *)vt_ptr(st), BS_OK);
    assert_int_equal(*(uint8_t *)vt_ptr(data + 511), 0x3c);
    uint32_t id, len;
    assert_true(vt_used_pop(&vq, &id, &len));
    assert_int_equal(id, 5);
    assert_int_equal(len, 513);
}

static void test_indirect_rules(void **state)
{
    (void)state;
    uint64_t hdr = bt_header(BT_GET_ID, 0);
    uint64_t table = vt_alloc(64, 16), inner = vt_alloc(32, 16);
    vt_desc_write(vt_ptr(inner), hdr, 16, 0, 0);
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        bool nest;
        const char *why;
    } bad[] = {
        {table, 32, D_INDIRECT | D_NEXT, false, "not allowed here"}, /* INDIRECT with NEXT */
        {table, 24, D_INDIRECT, false, "not a multiple of 16"},
        {table, 0, D_INDIRECT, false, "empty"},
        {VT_RAM_GPA + VT_RAM_SIZE - 16, 32, D_INDIRECT, false, "table not inside guest RAM"},
        {table, 32, D_INDIRECT, true, "not allowed here"}, /* nested indirect */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vt_write(R_STATUS, 0);
        vt_queue_alloc(&vq, 0, 16);
        vt_bringup(~0ull, &vq, 1);
        vt_desc_write(vt_ptr(table), bad[i].nest ? inner : hdr, bad[i].nest ? 32 : 16, bad[i].nest ? D_INDIRECT : 0, 0);
        vt_set_desc(&vq, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
        vt_publish(&vq, 0);
        vt_kick(&vq);
        bt_expect_needs_reset();
        bt_expect_refused(&blk.vdev.queues[0], bad[i].why);
    }
    /* A well-formed indirect GET_ID, but the driver did not accept INDIRECT_DESC. */
    restart_queue(~F_INDIRECT);
    uint64_t data = vt_alloc(21, 8);
    vt_desc_write(vt_ptr(table), hdr, 16, D_NEXT, 1);
    vt_desc_write(vt_ptr(table + 16), data, 21, D_WRITE, 0);
    vt_set_desc(&vq, 0, table, 32, D_INDIRECT, 0);
    vt_publish(&vq, 0);
    vt_kick(&vq);
    bt_expect_needs_reset();
    bt_expect_refused(&blk.vdev.queues[0], "indirect descriptor not allowed");
    /* The same chain once INDIRECT_DESC is negotiated works. */
    restart_queue(~0ull);
    vt_set_desc(&vq, 0, table, 32, D_INDIRECT, 0);
    vt_publish(&vq, 0);
    vt_kick(&vq);
    assert_int_equal(vt_used_pending(&vq), 1);
    assert_int_equal(*(uint8_t *)vt_ptr(data + 20), BS_OK);
}

/* One GET_ID, kicked and completed at once. */
static void one_request(void)
{
    bt_submit(&vq, BT_GET_ID, 0, 20);
    vt_kick(&vq);
}

static void test_event_idx_suppresses_interrupts(void **state)
{
    (void)state;
    assert_true(blk.vdev.queues[0].event_idx);
    one_request(); /* used 0 -> 1: the first one is always signalled */
    assert_int_equal(vt_injects(), 1);
    vt_take_irq();
    vt_set_used_event(&vq, 4); /* "interrupt me when entry 4 is used" */
    for (unsigned i = 0; i < 3; i++) {
        one_request(); /* used idx 2, 3, 4 */
    }
    assert_int_equal(vt_injects(), 1);
    one_request(); /* used idx 5: entry 4 is now used */
    assert_int_equal(vt_injects(), 2);
    vt_take_irq();
    one_request();
    assert_int_equal(vt_injects(), 2);
    /* The device asks to be notified of the next buffer (2.7.10). */
    assert_int_equal(vt_avail_event(&vq), vq.avail_idx);
    assert_int_equal(vt_used_pending(&vq), 6);
}

static void test_no_interrupt_flag_without_event_idx(void **state)
{
    (void)state;
    vt_write(R_STATUS, 0);
    vt_queue_alloc(&vq, 0, 16);
    vt_bringup(~F_EVENT_IDX, &vq, 1);
    *(uint16_t *)vt_ptr(vq.avail) = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    one_request();
    one_request();
    assert_int_equal(vt_injects(), 0);
    assert_int_equal(vt_used_pending(&vq), 2);
    *(uint16_t *)vt_ptr(vq.avail) = 0;
    one_request();
    assert_int_equal(vt_injects(), 1);
    /* Notifications stay enabled after a batch (VIRTQ_USED_F_NO_NOTIFY clear). */
    assert_int_equal(*(uint16_t *)vt_ptr(vq.used), 0);
}

static void test_interrupt_reinjected_only_when_needed(void **state)
{
    (void)state;
    vt_set_used_event(&vq, 0xffff);
    one_request();
    assert_int_equal(vt_injects(), 1);
    /* The guest takes the interrupt (IAR) but has not read InterruptStatus yet;
     * another used buffer is already covered by it: no second injection, so no
     * spurious re-delivery after the EOI. */
    int lr = fake_lr_find(0, VT_IRQ);
    assert_true(lr >= 0);
    fake_guest_ack(0, (unsigned)lr);
    vt_set_used_event(&vq, 1);
    one_request();
    fake_guest_eoi(0, (unsigned)lr);
    microkit_msginfo reply;
    seL4_Word idx = (seL4_Word)lr;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VGICMaintenance, 1, &idx), &reply));
    assert_int_equal(vt_injects(), 1);
    assert_int_equal(vt_read(R_INT_STATUS), 1);
    vt_write(R_INT_ACK, 1);
    assert_int_equal(vt_read(R_INT_STATUS), 0);
    vt_set_used_event(&vq, 2);
    one_request();
    assert_int_equal(vt_injects(), 2);
    /* A config change while the used-buffer bit is still set is a new event: injected. */
    vb_hdr()->config.blk.capacity_sectors = 7;
    virtio_blk_handle_notification(&blk);
    assert_int_equal(vt_read(R_INT_STATUS), 3);
    assert_int_equal(fake_lr_count(0, VT_IRQ), 1);
}

static void test_full_queue_in_one_kick_rearms_notification(void **state)
{
    (void)state;
    /* The guest fills all 16 avail entries and kicks once. The batch stops at
     * its bound (the queue size); the rest of the work runs before the device
     * returns to the guest, so avail_event is re-armed and the next buffer is
     * notified (2.7.10) instead of the queue stalling. (8 two-descriptor
     * chains, each made available twice.) */
    uint64_t hdr = bt_header(BT_GET_ID, 0), st = vt_alloc(1, 1);
    for (uint16_t c = 0; c < 8; c++) {
        vt_set_desc(&vq, (uint16_t)(2 * c), hdr, 16, D_NEXT, (uint16_t)(2 * c + 1));
        vt_set_desc(&vq, (uint16_t)(2 * c + 1), st, 1, D_WRITE, 0);
    }
    for (uint16_t i = 0; i < 16; i++) {
        vt_publish(&vq, (uint16_t)(2 * (i % 8)));
    }
    vt_kick(&vq);
    assert_false(vt_read(R_STATUS) & S_NEEDS_RESET);
    assert_int_equal(vt_used_idx(&vq), 16);
    assert_int_equal(vt_avail_event(&vq), 16);
    assert_int_equal(blk.vdev.pending_queues, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_class02_buffer_one_byte_past_ram, setup),
        cmocka_unit_test_setup(test_class03_addr_len_overflow, setup),
        cmocka_unit_test_setup(test_class04_writable_descriptor_past_ram, setup),
        cmocka_unit_test_setup(test_class05_head_index_out_of_range, setup),
        cmocka_unit_test_setup(test_class05_avail_idx_runs_ahead, setup),
        cmocka_unit_test_setup(test_class06_descriptors_not_reread_after_validation, setup),
        cmocka_unit_test_setup(test_class07_zero_length_descriptor, setup),
        cmocka_unit_test_setup(test_class07_huge_length, setup),
        cmocka_unit_test_setup(test_class09_index_wraparound, setup),
        cmocka_unit_test_setup(test_class10_lengths_never_size_a_copy, setup),
        cmocka_unit_test_setup(test_class15_descriptor_loop, setup),
        cmocka_unit_test_setup(test_class15_self_loop_and_long_indirect_tables, setup),
        cmocka_unit_test_setup(test_next_out_of_range_and_direction, setup),
        cmocka_unit_test_setup(test_indirect_chain, setup),
        cmocka_unit_test_setup(test_indirect_rules, setup),
        cmocka_unit_test_setup(test_event_idx_suppresses_interrupts, setup),
        cmocka_unit_test_setup(test_no_interrupt_flag_without_event_idx, setup),
        cmocka_unit_test_setup(test_interrupt_reinjected_only_when_needed, setup),
        cmocka_unit_test_setup(test_full_queue_in_one_kick_rearms_notification, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
