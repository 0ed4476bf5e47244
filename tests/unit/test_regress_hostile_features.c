/*
 * Regression found by the hostile test guest (tests/guests/hostile.c,
 * phase 1 status_order): a driver that acknowledged a feature bit above 63
 * (DriverFeaturesSel = 2, DriverFeatures = 1) and only then wrote bits 0-63
 * got FEATURES_OK. The refusal was kept in bit 63 of driver_features, which
 * the later write of DriverFeaturesSel = 1 overwrote. virtio 1.2 2.2.1: the
 * device MUST fail FEATURES_OK for features it did not offer, and no device
 * offers any bit above 63.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/blk.h>

static struct virtio_blk_device blk;
static struct virtio_blk_device blk2;

#define DEV2 (VT_DEV + 0x200)

static int setup(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "disk-serial-0");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    fake_console_clear();
    return 0;
}

/* ACKNOWLEDGE, DRIVER, one word of DriverFeatures at `sel`, then bits 0-63 = VERSION_1, FEATURES_OK. */
static uint32_t high_word_then_low(uint32_t sel, uint32_t value)
{
    vt_write(R_STATUS, 0);
    vt_write(R_STATUS, S_ACK);
    vt_write(R_STATUS, S_ACK | S_DRIVER);
    vt_write(R_DRV_FEATURES_SEL, sel);
    vt_write(R_DRV_FEATURES, value);
    vt_driver_features(F_VERSION_1);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    return vt_read(R_STATUS);
}

static void test_high_feature_bit_before_low_words_refused(void **state)
{
    (void)state;
    assert_int_equal(high_word_then_low(2, 1), S_ACK | S_DRIVER);
    assert_true(vt_logged("bits above 63"));
    assert_int_equal(high_word_then_low(0xffffffffu, 0x80000000u), S_ACK | S_DRIVER);
    assert_int_equal(high_word_then_low(3, 0xffffffffu), S_ACK | S_DRIVER);
}

static void test_zero_high_word_is_harmless(void **state)
{
    (void)state;
    assert_int_equal(high_word_then_low(2, 0), S_ACK | S_DRIVER | S_FEATURES_OK);
}

static void test_refusal_ends_with_reset(void **state)
{
    (void)state;
    assert_int_equal(high_word_then_low(2, 1), S_ACK | S_DRIVER);
    /* The refusal holds until Status = 0 (3.1.1 step 1 starts again there). */
    vt_driver_features(F_VERSION_1);
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
    vt_write(R_STATUS, 0);
    assert_int_equal(vt_negotiate(F_VERSION_1), F_VERSION_1);
}

/* The mark is per device: another device's driver is not affected, and its reset clears only its own. */
static void test_mark_is_per_device(void **state)
{
    (void)state;
    assert_true(virtio_blk_init(&blk2, DEV2, 0, VT_IRQ + 1, vb_region, VB_REGION_SIZE, VT_CH + 1));
    assert_int_equal(high_word_then_low(2, 1), S_ACK | S_DRIVER);
    struct mmio_access a = {.gpa = DEV2 + R_STATUS, .width = 4, .is_write = true, .value = S_ACK};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    a.value = S_ACK | S_DRIVER;
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    a = (struct mmio_access){.gpa = DEV2 + R_DRV_FEATURES_SEL, .width = 4, .is_write = true, .value = 1};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    a = (struct mmio_access){.gpa = DEV2 + R_DRV_FEATURES, .width = 4, .is_write = true, .value = 1};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    a = (struct mmio_access){
        .gpa = DEV2 + R_STATUS, .width = 4, .is_write = true, .value = S_ACK | S_DRIVER | S_FEATURES_OK};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    a = (struct mmio_access){.gpa = DEV2 + R_STATUS, .width = 4, .is_write = false};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
    assert_int_equal(a.value, S_ACK | S_DRIVER | S_FEATURES_OK);
    /* The first device still refuses until its own reset. */
    vt_write(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_high_feature_bit_before_low_words_refused, setup),
        cmocka_unit_test_setup(test_zero_high_word_is_harmless, setup),
        cmocka_unit_test_setup(test_refusal_ends_with_reset, setup),
        cmocka_unit_test_setup(test_mark_is_per_device, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
