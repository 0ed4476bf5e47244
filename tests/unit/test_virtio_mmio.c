/*
 * virtio-mmio transport (virtio 1.2 section 4.2.2): registers, the device
 * status state machine (2.1, 3.1.1), queue configuration rules, access
 * widths, config space and ConfigGeneration, and a device without a
 * backend. Attack classes 1, 9, 14 and 16 of guest-attack-classes.md. The
 * virtio-blk device is the vehicle.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/blk.h>
#include "mmio_decode.h"

static struct virtio_blk_device blk;
static struct vt_queue vq;

#define BLK_F_RO (1ull << 5)

static int setup(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "disk-serial-0");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    vt_enable_irq();
    vt_queue_alloc(&vq, 0, 16);
    fake_console_clear();
    return 0;
}

/* A GET_ID request; returns the status byte the device wrote (0xff if none). */
static uint8_t get_id(char serial[20])
{
    uint64_t hdr = vt_alloc(16, 8), data = vt_alloc(20, 8), st = vt_alloc(1, 1);
    uint32_t type = 8;
    memcpy(vt_ptr(hdr), &type, 4);
    *(uint8_t *)vt_ptr(st) = 0xff;
    const struct vt_buf bufs[] = {{hdr, 16, false}, {data, 20, true}, {st, 1, true}};
    vt_add(&vq, bufs, 3);
    vt_kick(&vq);
    memcpy(serial, vt_ptr(data), 20);
    return *(uint8_t *)vt_ptr(st);
}

static void test_identity_registers(void **state)
{
    (void)state;
    assert_int_equal(vt_read(R_MAGIC), 0x74726976);
    assert_int_equal(vt_read(R_VERSION), 2);
    assert_int_equal(vt_read(R_DEVICE_ID), 2);
    assert_int_equal(vt_read(R_VENDOR_ID), 0x4d4d564c);
    /* No shared memory regions: every SHMSel reads length -1 (4.2.2). */
    for (uint32_t sel = 0; sel < 3; sel++) {
        vt_write(R_SHM_SEL, sel);
        assert_int_equal(vt_read(R_SHM_LEN_LO), 0xffffffff);
        assert_int_equal(vt_read(R_SHM_LEN_HI), 0xffffffff);
    }
    /* Write-only and reserved registers read as zero. */
    assert_int_equal(vt_read(R_QUEUE_NOTIFY), 0);
    assert_int_equal(vt_read(R_INT_ACK), 0);
    assert_int_equal(vt_read(0x0f0), 0);
    assert_int_equal(vt_read(R_DESC_LO), 0);
}

static void test_bringup_per_spec_and_features(void **state)
{
    (void)state;
    uint64_t offered = vt_device_features();
    assert_true(offered & F_VERSION_1);
    assert_true(offered & F_EVENT_IDX);
    assert_true(offered & F_INDIRECT);
    assert_false(offered & BLK_F_RO);
    assert_true(offered & (1ull << 9)); /* FLUSH */
    vt_write(R_DEV_FEATURES_SEL, 7);
    assert_int_equal(vt_read(R_DEV_FEATURES), 0);
    uint64_t f = vt_bringup(~0ull, &vq, 1);
    assert_int_equal(f, offered);
    assert_int_equal(blk.vdev.driver_features, offered);
    char serial[20];
    assert_int_equal(get_id(serial), 0);
    assert_string_equal(serial, "disk-serial-0");
    assert_int_equal(vt_used_pending(&vq), 1);
    assert_int_equal(vt_take_irq(), 1);
}

static void test_features_ok_needs_version1_and_subset(void **state)
{
    (void)state;
    vt_write(R_STATUS, S_ACK);
    vt_write(R_STATUS, S_ACK | S_DRIVER);
    vt_driver_features(F_EVENT_IDX); /* no VERSION_1: legacy driver */
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_driver_features(F_VERSION_1 | (1ull << 40)); /* not offered */
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_driver_features(F_VERSION_1);
    vt_write(R_DRV_FEATURES_SEL, 2);
    vt_write(R_DRV_FEATURES, 1); /* bit 64: nobody offers it */
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_write(R_STATUS, 0);
    assert_int_equal(vt_negotiate(F_VERSION_1), F_VERSION_1);
    /* Features are frozen once FEATURES_OK is set. */
    vt_driver_features(F_VERSION_1 | F_EVENT_IDX);
    assert_int_equal(blk.vdev.driver_features, F_VERSION_1);
    assert_true(vt_logged("DriverFeatures written"));
}

static void test_status_order_enforced(void **state)
{
    (void)state;
    vt_write(R_STATUS, S_DRIVER);
    assert_int_equal(vt_read(R_STATUS), 0);
    vt_write(R_STATUS, S_ACK);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK);
    vt_write(R_STATUS, S_ACK | S_DRIVER);
    vt_write(R_STATUS, S_DRIVER); /* clears ACKNOWLEDGE: only 0 resets */
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_write(R_STATUS, S_ACK | S_DRIVER | 0x10); /* unknown bit */
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_driver_features(F_VERSION_1);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    vt_write(R_STATUS, S_ACK | S_DRIVER); /* clears FEATURES_OK: refused */
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_FAILED);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_FAILED);
    assert_true(vt_logged("refused"));
}

static void test_class01_queue_config_changed_after_driver_ok(void **state)
{
    (void)state;
    vt_bringup(~0ull, &vq, 1);
    unsigned long errors = blk.vdev.guest_errors;
    uint64_t other = vt_alloc(0x2000, 4096);
    vt_write(R_QUEUE_SEL, 0);
    vt_write(R_QUEUE_NUM, 256);
    vt_write(R_DESC_LO, (uint32_t)other);
    vt_write(R_DRIVER_LO, (uint32_t)other);
    vt_write(R_DEVICE_LO, (uint32_t)other);
    vt_write(R_DEVICE_HI, 0x12345);
    vt_write(R_QUEUE_READY, 0);
    assert_int_equal(blk.vdev.guest_errors, errors + 6);
    assert_true(vt_logged("refused: queue in use"));
    /* Nothing the device uses changed, and the queue still works with the old rings. */
    const struct vqueue *q = &blk.vdev.queues[0];
    assert_int_equal(q->num, 16);
    assert_int_equal(q->desc_gpa, vq.desc);
    assert_int_equal(q->device_gpa, vq.used);
    assert_true(q->ready);
    assert_int_equal(vt_read(R_QUEUE_READY), 1);
    char serial[20];
    assert_int_equal(get_id(serial), 0);
    assert_int_equal(vt_used_pending(&vq), 1);
}

static void test_class01_queue_config_changed_while_ready(void **state)
{
    (void)state;
    vt_negotiate(~0ull);
    vt_queue_setup(&vq);
    vt_write(R_QUEUE_NUM, 8);
    vt_write(R_DESC_LO, 0);
    assert_int_equal(blk.vdev.queues[0].num, 16);
    assert_int_equal(blk.vdev.queues[0].desc_gpa, vq.desc);
    /* Before DRIVER_OK the driver may give the queue up and set it up again. */
    vt_write(R_QUEUE_READY, 0);
    assert_int_equal(vt_read(R_QUEUE_READY), 0);
    vt_write(R_QUEUE_NUM, 8);
    assert_int_equal(blk.vdev.queues[0].num, 8);
}

static void test_class16_queue_sel_out_of_range(void **state)
{
    (void)state;
    vt_negotiate(~0ull);
    const uint32_t sels[] = {1, 2, 0xffff, 0x80000000u, 0xffffffffu};
    for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
        unsigned long errors = blk.vdev.guest_errors;
        vt_write(R_QUEUE_SEL, sels[i]);
        assert_int_equal(vt_read(R_QUEUE_NUM_MAX), 0);
        assert_int_equal(vt_read(R_QUEUE_READY), 0);
        vt_write(R_QUEUE_NUM, 4);
        vt_write(R_DESC_LO, 0x1000);
        vt_write(R_QUEUE_READY, 1);
        assert_int_equal(vt_read(R_QUEUE_READY), 0);
        assert_int_equal(blk.vdev.guest_errors, errors + 3);
    }
    vt_write(R_QUEUE_SEL, 0);
    assert_int_equal(vt_read(R_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
    assert_int_equal(blk.vdev.queues[0].desc_gpa, 0);
}

static void test_class16_queue_num_invalid(void **state)
{
    (void)state;
    vt_negotiate(~0ull);
    vt_write(R_QUEUE_SEL, 0);
    const uint32_t bad[] = {0, 3, 6, 100, 512, 0x10000, 0xffffffffu};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vt_write(R_QUEUE_NUM, bad[i]);
        assert_int_equal(blk.vdev.queues[0].num, VIRTIO_BLK_QUEUE_SIZE);
    }
    vt_write(R_QUEUE_NUM, 1);
    assert_int_equal(blk.vdev.queues[0].num, 1);
    assert_true(vt_logged("QueueNum 3 refused"));
}

static void test_queue_ready_checks_rings(void **state)
{
    (void)state;
    vt_negotiate(~0ull);
    vt_write(R_QUEUE_SEL, 0);
    vt_write(R_QUEUE_NUM, 16);
    struct {
        uint64_t desc, avail, used;
    } bad[] = {
        {vq.desc + 8, vq.avail, vq.used}, /* descriptor table not 16-byte aligned */
        {vq.desc, vq.avail + 1, vq.used}, /* driver area odd */
        {vq.desc, vq.avail, vq.used + 2}, /* device area not 4-byte aligned */
        {VT_RAM_GPA + VT_RAM_SIZE - 128, vq.avail, vq.used}, /* table runs off the end of RAM */
        {vq.desc, vq.avail, VT_RAM_GPA + VT_RAM_SIZE - 100}, /* device area 6 + 8 * 16 > 100 */
        {0xfffffffffffff000ull, vq.avail, vq.used}, /* wraps */
        {0x1000, vq.avail, vq.used}, /* not RAM at all */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vt_write(R_DESC_LO, (uint32_t)bad[i].desc);
        vt_write(R_DESC_HI, (uint32_t)(bad[i].desc >> 32));
        vt_write(R_DRIVER_LO, (uint32_t)bad[i].avail);
        vt_write(R_DEVICE_LO, (uint32_t)bad[i].used);
        vt_write(R_QUEUE_READY, 1);
        assert_int_equal(vt_read(R_QUEUE_READY), 0);
    }
    /* A driver area ending exactly at the end of RAM is fine. */
    uint64_t end_avail = VT_RAM_GPA + VT_RAM_SIZE - (6 + 2 * 16);
    vt_write(R_DESC_LO, (uint32_t)vq.desc);
    vt_write(R_DESC_HI, 0);
    vt_write(R_DRIVER_LO, (uint32_t)end_avail);
    vt_write(R_DEVICE_LO, (uint32_t)vq.used);
    vt_write(R_QUEUE_READY, 1);
    assert_int_equal(vt_read(R_QUEUE_READY), 1);
}

static void test_class09_class16_queue_notify_out_of_range(void **state)
{
    (void)state;
    vt_bringup(~0ull, &vq, 1);
    unsigned long errors = blk.vdev.guest_errors;
    const uint32_t bad[] = {1, 2, 0xffff, 0x8000, 0x80000000u, 0xffffffffu};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vt_write(R_QUEUE_NOTIFY, bad[i]);
    }
    assert_int_equal(blk.vdev.guest_errors, errors + 6);
    assert_true(vt_logged("QueueNotify 4294967295 ignored"));
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void test_class14_register_widths(void **state)
{
    (void)state;
    assert_int_equal(vt_access(R_MAGIC, 1, false, 0x55), 0);
    assert_int_equal(vt_access(R_MAGIC, 2, false, 0x55), 0);
    assert_int_equal(vt_access(R_MAGIC, 8, false, 0x55), 0);
    assert_int_equal(vt_access(R_MAGIC + 2, 4, false, 0x55), 0);
    assert_int_equal(vt_access(R_VERSION + 1, 1, false, 0x55), 0);
    vt_access(R_STATUS, 1, true, S_ACK);
    vt_access(R_STATUS, 2, true, S_ACK);
    vt_access(R_STATUS, 8, true, S_ACK);
    vt_access(R_STATUS + 1, 4, true, S_ACK);
    assert_int_equal(vt_read(R_STATUS), 0);
    assert_int_equal(blk.vdev.guest_errors, 9);
    assert_true(vt_logged("32-bit only"));
}

static void test_class14_config_space_widths(void **state)
{
    (void)state;
    /* 8-byte capacity read as two 32-bit halves (4.2.2.2). */
    uint64_t cap = vt_read(R_CONFIG) | ((uint64_t)vt_read(R_CONFIG + 4) << 32);
    assert_int_equal(cap, VB_DISK_SECTORS);
    assert_int_equal(vt_access(R_CONFIG + 1, 1, false, 0), VB_DISK_SECTORS >> 8);
    assert_int_equal(vt_access(R_CONFIG, 2, false, 0), VB_DISK_SECTORS & 0xffff);
    assert_int_equal(vt_access(R_CONFIG + 0x14, 4, false, 0), 512); /* blk_size */
    assert_int_equal(vt_access(R_CONFIG + 0x0c, 4, false, 0), VIRTIO_BLK_SEG_MAX);
    unsigned long errors = blk.vdev.guest_errors;
    assert_int_equal(vt_access(R_CONFIG, 8, false, 0x55), 0); /* 64-bit access */
    assert_int_equal(vt_access(R_CONFIG + 1, 2, false, 0x55), 0); /* misaligned */
    assert_int_equal(vt_access(R_CONFIG + 2, 4, false, 0x55), 0);
    assert_int_equal(vt_access(R_CONFIG + 0x3c, 4, false, 0x55), 0); /* past the end */
    assert_int_equal(vt_access(R_CONFIG + 0xfc, 4, false, 0x55), 0);
    vt_access(R_CONFIG, 4, true, 0); /* read-only field: ignored */
    assert_int_equal(vt_read(R_CONFIG), VB_DISK_SECTORS);
    assert_int_equal(blk.vdev.guest_errors, errors + 5);
}

static void test_config_generation_and_interrupt_on_change(void **state)
{
    (void)state;
    vt_bringup(~0ull, &vq, 1);
    uint32_t gen = vt_read(R_CONFIG_GEN);
    virtio_blk_handle_notification(&blk);
    assert_int_equal(vt_read(R_CONFIG_GEN), gen); /* nothing changed */
    assert_int_equal(vt_take_irq(), 0);
    vb_hdr()->config.blk.capacity_sectors = 0x123456789ull;
    virtio_blk_handle_notification(&blk);
    assert_int_not_equal(vt_read(R_CONFIG_GEN), gen);
    assert_int_equal(vt_take_irq(), 2);
    assert_int_equal(vt_read(R_CONFIG), 0x23456789);
    assert_int_equal(vt_read(R_CONFIG + 4), 0x1);
}

static void test_reset_returns_to_power_on(void **state)
{
    (void)state;
    vt_bringup(~0ull, &vq, 1);
    char serial[20];
    get_id(serial);
    assert_int_equal(vt_read(R_INT_STATUS), 1);
    vt_write(R_STATUS, 0);
    assert_int_equal(vt_read(R_STATUS), 0);
    assert_int_equal(vt_read(R_INT_STATUS), 0);
    vt_write(R_QUEUE_SEL, 0);
    assert_int_equal(vt_read(R_QUEUE_READY), 0);
    assert_int_equal(blk.vdev.driver_features, 0);
    /* A guest reboot does the same through the reset hook. */
    vt_bringup(~0ull, &vq, 1);
    guest_run_reset_hooks();
    assert_int_equal(vt_read(R_STATUS), 0);
    assert_false(blk.vdev.queues[0].ready);
}

static void test_backend_absent_device_reads_id_zero(void **state)
{
    (void)state;
    const char *why[] = {"not ready", "wrong kind", "bad magic", "bad capacity", "bad block size", "small region"};
    for (unsigned i = 0; i < 6; i++) {
        vt_guest();
        vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
        vb_blk_config(VB_DISK_SECTORS, false, "x");
        size_t size = VB_REGION_SIZE;
        switch (i) {
        case 0:
            vb_hdr()->ready = 0;
            break;
        case 1:
            vb_hdr()->kind = SHQ_KIND_NET;
            break;
        case 2:
            vb_hdr()->magic = 0;
            break;
        case 3:
            vb_ring(1)->capacity = 48; /* not a power of two */
            break;
        case 4:
            vb_hdr()->config.blk.block_size = 1000;
            break;
        default:
            size = SHQ_REGION_MIN_SIZE - 4096;
            break;
        }
        assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, size, VT_CH));
        assert_int_equal(vt_read(R_MAGIC), 0x74726976);
        assert_int_equal(vt_read(R_DEVICE_ID), 0);
        assert_int_equal(vt_device_features(), 0);
        vt_write(R_STATUS, S_ACK);
        assert_int_equal(vt_read(R_STATUS), 0);
        assert_int_equal(vt_read(R_CONFIG), 0);
        virtio_blk_handle_notification(&blk);
        assert_true(vt_logged("no usable backend"));
        (void)why[i];
    }
}

static void test_init_argument_validation(void **state)
{
    (void)state;
    assert_false(virtio_blk_init(&blk, VT_DEV + 0x200 + 4, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    assert_false(virtio_blk_init(&blk, VT_DEV + 0x400, 1, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    assert_false(virtio_blk_init(&blk, VT_DEV + 0x400, 0, VT_IRQ, vb_region, VB_REGION_SIZE, 62));
    assert_false(virtio_blk_init(&blk, VT_DEV + 0x400, 0, 27, vb_region, VB_REGION_SIZE, VT_CH));
    assert_false(virtio_blk_init(&blk, VT_DEV + 0x400, 0, 1020, vb_region, VB_REGION_SIZE, VT_CH));
    /* Overlapping an existing device's window. */
    static struct virtio_blk_device other;
    assert_false(virtio_blk_init(&other, VT_DEV, 0, VT_IRQ + 1, vb_region, VB_REGION_SIZE, VT_CH));
    assert_false(virtio_blk_init(NULL, VT_DEV + 0x400, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
}

static void test_through_fault_handle(void **state)
{
    (void)state;
    /* ldr w3, [x?] at the device's MagicValue, delivered as seL4 would. */
    uint32_t esr = (ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_ISV | (2u << ESR_DABT_SAS_SHIFT) |
                   (3u << ESR_DABT_SRT_SHIFT) | 0x07;
    fake.vcpu[0].regs.pc = 0x40080000;
    seL4_Word mrs[4] = {0x40080000, VT_DEV + R_MAGIC, 0, esr};
    microkit_msginfo reply;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_int_equal(fake.vcpu[0].regs.x3, 0x74726976);
    assert_int_equal(fake.vcpu[0].regs.pc, 0x40080004);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_identity_registers, setup),
        cmocka_unit_test_setup(test_bringup_per_spec_and_features, setup),
        cmocka_unit_test_setup(test_features_ok_needs_version1_and_subset, setup),
        cmocka_unit_test_setup(test_status_order_enforced, setup),
        cmocka_unit_test_setup(test_class01_queue_config_changed_after_driver_ok, setup),
        cmocka_unit_test_setup(test_class01_queue_config_changed_while_ready, setup),
        cmocka_unit_test_setup(test_class16_queue_sel_out_of_range, setup),
        cmocka_unit_test_setup(test_class16_queue_num_invalid, setup),
        cmocka_unit_test_setup(test_queue_ready_checks_rings, setup),
        cmocka_unit_test_setup(test_class09_class16_queue_notify_out_of_range, setup),
        cmocka_unit_test_setup(test_class14_register_widths, setup),
        cmocka_unit_test_setup(test_class14_config_space_widths, setup),
        cmocka_unit_test_setup(test_config_generation_and_interrupt_on_change, setup),
        cmocka_unit_test_setup(test_reset_returns_to_power_on, setup),
        cmocka_unit_test_setup(test_backend_absent_device_reads_id_zero, setup),
        cmocka_unit_test_setup(test_init_argument_validation, setup),
        cmocka_unit_test_setup(test_through_fault_handle, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
