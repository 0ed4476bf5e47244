/*
 * Bad input from the VMM author, virtio devices and shq.h (issue 5 item 4;
 * the harness and the other headers' tables: api_bad_input.h,
 * test_api_bad_input.c): every virtio_*_init() refuses a NULL device, a
 * misaligned or overlapping window, out-of-range channels, vCPUs and IRQs
 * with false and a log line naming the problem; a device without a usable
 * backend registers and reads DeviceID 0.
 */
#include "api_bad_input.h"

static struct virtio_blk_device blk2; /* a good device above DEV_GPA, for the duplicate-GPA rows */

/* ---- virtio/blk.h, net.h, console.h: the same rows for each device ---- */

#define VIRTIO_CASES(X, kind, dev)                                                                                     \
    X(kind##_init_null_device, kind##_refused(NULL, DEV_GPA, 0, DEV_IRQ, DEV_CH), "no device given")                   \
    X(kind##_init_gpa_misaligned, kind##_refused(&dev, DEV_GPA + 0x10, 0, DEV_IRQ, DEV_CH), "is not 0x200 aligned")    \
    X(kind##_init_channel_63, kind##_refused(&dev, DEV_GPA, 0, DEV_IRQ, 63), "channel 63 out of range")                \
    X(kind##_init_channel_huge, kind##_refused(&dev, DEV_GPA, 0, DEV_IRQ, UINT_MAX),                                   \
      "channel 4294967295 out of range")                                                                               \
    X(kind##_init_vcpu_eq_num, kind##_refused(&dev, DEV_GPA, NUM_VCPUS, DEV_IRQ, DEV_CH), "vCPU 2 is not configured")  \
    X(kind##_init_vcpu_huge, kind##_refused(&dev, DEV_GPA, SIZE_MAX, DEV_IRQ, DEV_CH), "is not configured")            \
    X(kind##_init_irq_sgi, kind##_refused(&dev, DEV_GPA, 0, 5, DEV_CH), "IRQ 5 is not an SPI")                         \
    X(kind##_init_irq_ppi, kind##_refused(&dev, DEV_GPA, 0, 20, DEV_CH), "IRQ 20 is not an SPI")                       \
    X(kind##_init_irq_negative, kind##_refused(&dev, DEV_GPA, 0, -1, DEV_CH), "IRQ -1 is not an SPI")                  \
    X(kind##_init_irq_1020, kind##_refused(&dev, DEV_GPA, 0, 1020, DEV_CH), "IRQ 1020 out of range")                   \
    X(kind##_init_over_distributor, kind##_refused(&dev, GICD_GPA, 0, DEV_IRQ, DEV_CH), "overlaps [0x8000000")         \
    X(kind##_init_duplicate_gpa, kind##_refused(&dev, DEV_GPA + 0x200, 0, DEV_IRQ, DEV_CH), "overlaps [0xa000200")

VIRTIO_CASES(CASE_FN, blk, blk)
VIRTIO_CASES(CASE_FN, net, net)
VIRTIO_CASES(CASE_FN, console, con)

static uint32_t device_id_at(uint64_t gpa)
{
    const seL4_Word mrs[4] = {T_LOAD, gpa + 8, 0, 0x93800006}; /* LDR W0, DeviceID */
    microkit_msginfo reply;
    fake.vcpu[0].regs.pc = T_LOAD;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    return (uint32_t)fake.vcpu[0].regs.x0;
}

static void test_virtio_h(void **state)
{
    (void)state;
    /* A good device one window above DEV_GPA, for the duplicate-GPA rows. */
    assert_true(virtio_blk_init(&blk2, DEV_GPA + 0x200, 0, DEV_IRQ + 1, vb_region, VB_REGION_SIZE, DEV_CH + 1));
    static const struct bad_case cases[] = {VIRTIO_CASES(CASE_ROW, blk, blk) VIRTIO_CASES(CASE_ROW, net, net)
                                                VIRTIO_CASES(CASE_ROW, console, con)};
    run_cases("virtio", cases, sizeof(cases) / sizeof(cases[0]));
    /* NULL notifications are ignored. */
    virtio_blk_handle_notification(NULL);
    virtio_net_handle_notification(NULL);
    virtio_console_handle_notification(NULL);
    /* No backend (NULL region, or one of another kind): registered, reads DeviceID 0, says why (virtio.h). */
    fake_console_clear();
    assert_true(virtio_net_init(&net, DEV_GPA, 0, DEV_IRQ, NULL, 0, DEV_CH));
    assert_true(fake_console_contains("missing, unaligned or smaller"));
    assert_true(virtio_console_init(&con, DEV_GPA + 0x400, 0, DEV_IRQ + 2, vb_region, VB_REGION_SIZE, DEV_CH + 2));
    assert_true(fake_console_contains("not a backend region"));
    assert_int_equal(device_id_at(DEV_GPA), 0);
    assert_int_equal(device_id_at(DEV_GPA + 0x400), 0);
    assert_int_equal(device_id_at(DEV_GPA + 0x200), 2);
    virtio_net_handle_notification(&net);
    virtio_console_handle_notification(&con);
    assert_int_equal(fake.crashes, 0);
}

/* ---- shq.h: its only functions are the layout helpers ---- */

static void test_shq_h(void **state)
{
    (void)state;
    /* Every entry size a ring page can hold gets a power-of-two capacity that fits, and the largest one. */
    for (uint32_t size = 1; size <= SHQ_RING_BYTES - SHQ_RING_ENTRIES_OFFSET; size++) {
        uint32_t cap = shq_ring_max_capacity(size);
        assert_true(cap != 0 && (cap & (cap - 1)) == 0);
        assert_true((uint64_t)cap * size <= SHQ_RING_BYTES - SHQ_RING_ENTRIES_OFFSET);
        assert_true((uint64_t)cap * 2 * size > SHQ_RING_BYTES - SHQ_RING_ENTRIES_OFFSET);
    }
    /* No entry fits: 0 (it once looped forever on 0 and answered 1 above the page). */
    assert_int_equal(shq_ring_max_capacity(0), 0);
    assert_int_equal(shq_ring_max_capacity(SHQ_RING_BYTES - SHQ_RING_ENTRIES_OFFSET + 1), 0);
    assert_int_equal(shq_ring_max_capacity(UINT32_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_virtio_h, setup_guest),
        cmocka_unit_test(test_shq_h),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
