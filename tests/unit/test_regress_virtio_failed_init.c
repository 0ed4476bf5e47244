/*
 * Regression found while writing test_api_bad_input.c (issue 5 item 4): a
 * virtio device whose init failed because its MMIO window overlapped another
 * device's was still put on the list of devices guest_restart() resets. The
 * VMM owns the struct and may reuse it (or it was on a stack): the next
 * reboot called through whatever the memory then held (a NULL ops pointer
 * here). A device now joins the reset list only once its window is
 * registered.
 */
#include "virtio_test.h"
#include "virtio_backend.h"
#include <libvmm/virtio/blk.h>
#include <libvmm/virtio/console.h>

static struct virtio_blk_device blk;
static struct virtio_console_device refused;

static void test_refused_device_not_reset_on_reboot(void **state)
{
    (void)state;
    vt_guest();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "disk");
    assert_true(virtio_blk_init(&blk, VT_DEV, 0, VT_IRQ, vb_region, VB_REGION_SIZE, VT_CH));
    fake_console_clear();
    assert_false(virtio_console_init(&refused, VT_DEV, 0, VT_IRQ + 1, vb_region, VB_REGION_SIZE, VT_CH + 1));
    assert_true(vt_logged("overlaps"));
    memset(&refused, 0, sizeof(refused)); /* the VMM reuses the memory of the device it could not set up */

    vt_enable_irq();
    vt_negotiate(~0ull);
    assert_int_equal(vt_read(R_STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
    guest_run_reset_hooks(); /* what guest_restart() does to devices */
    assert_int_equal(vt_read(R_STATUS), 0); /* the registered device was reset */
    assert_int_equal(vt_read(R_DEVICE_ID), 2);
    assert_int_equal(fake.crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_device_not_reset_on_reboot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
