/*
 * Regression (tests/fuzz/fuzz_vgic_dist, seed regress-stale-active-lr): a
 * vIRQ the guest had taken (active in its list register) when the vGIC was
 * reset for a reboot. The kernel refuses to overwrite that LR (DeleteFirst),
 * and the vGIC then loaded the same INTID into a second LR: two LRs with one
 * virtual ID (UNPREDICTABLE, GICH_LRn). Now the refused LR is tracked as
 * holding its old INTID, active, until the guest EOIs it.
 */
#include "test_vgic_helpers.h"

#define PPI 23
#define SPI_A 40
#define SPI_B 41

static int setup(void **state)
{
    (void)state;
    memset(&t_ack, 0, sizeof(t_ack));
    return 0;
}

/* Guest with `lrs` LRs; PPI 23 injected, taken by the guest (active), then the vGIC reset. */
static void active_across_reset(unsigned lrs)
{
    t_guest(1, lrs);
    assert_true(virq_register(0, PPI, t_ack_fn, NULL));
    assert_true(virq_register(0, SPI_A, t_ack_fn, NULL));
    assert_true(virq_register(0, SPI_B, t_ack_fn, NULL));
    t_dist_enable();
    t_enable(0, PPI);
    assert_true(virq_inject(0, PPI));
    assert_int_equal(fake_lr_find(0, PPI), 0);
    fake_guest_ack(0, 0);
    vgic_reset(); /* what guest_restart() does */
    t_dist_enable();
    t_enable(0, PPI);
    t_enable(0, SPI_A);
    t_enable(0, SPI_B);
}

/* The fuzzer's sequence: the same INTID injected again while the old copy is still active. */
static void test_same_intid_not_loaded_twice(void **state)
{
    (void)state;
    active_across_reset(2);
    unsigned acks = t_ack.count;
    assert_true(virq_inject(0, PPI));
    assert_int_equal(fake_lr_count(0, PPI), 1);
    t_assert_lrs_unique(1);
    assert_int_equal(fake.crashes, 0);
    /* The guest sees it active (the old copy) and pending (the new one). */
    assert_true(t_get_bit(0, GICD_ISACTIVER, PPI));
    assert_true(t_get_bit(0, GICD_ISPENDR, PPI));
    /* The guest EOIs the old copy: it completes normally, and the new one is delivered exactly once. */
    fake_guest_eoi(0, 0);
    assert_true(t_maintenance(0, 0));
    assert_int_equal(t_ack.count, acks + 1);
    assert_int_equal(fake_lr_count(0, PPI), 1);
    assert_false(t_get_bit(0, GICD_ISPENDR, PPI));
    t_guest_eoi_irq(0, PPI);
    assert_int_equal(fake_lr_count(0, PPI), 0);
    assert_false(t_get_bit(0, GICD_ISACTIVER, PPI));
    t_assert_lrs_unique(1);
}

/*
 * Another INTID finds the stale LR refused; the LR's old INTID must still not
 * be loaded into the other LR once that one is free.
 */
static void test_refused_lr_keeps_its_intid(void **state)
{
    (void)state;
    active_across_reset(2);
    assert_true(virq_inject(0, SPI_A)); /* fresh LR 1 */
    assert_int_equal(fake_lr_find(0, SPI_A), 1);
    assert_true(virq_inject(0, SPI_B)); /* only the stale LR 0 is left: DeleteFirst */
    assert_int_equal(fake_lr_count(0, SPI_B), 0);
    assert_true(t_get_bit(0, GICD_ISACTIVER, PPI));
    t_guest_eoi_irq(0, SPI_A); /* LR 1 free again: SPI_B goes there */
    assert_int_equal(fake_lr_find(0, SPI_B), 1);
    t_guest_eoi_irq(0, SPI_B);
    assert_true(virq_inject(0, PPI)); /* LR 1 is free, but PPI is still active in LR 0 */
    assert_int_equal(fake_lr_count(0, PPI), 1);
    t_assert_lrs_unique(1);
    fake_guest_eoi(0, 0);
    assert_true(t_maintenance(0, 0));
    assert_int_equal(fake_lr_count(0, PPI), 1);
    t_assert_lrs_unique(1);
    assert_int_equal(fake.crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_same_intid_not_loaded_twice, setup),
        cmocka_unit_test_setup(test_refused_lr_keeps_its_intid, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
