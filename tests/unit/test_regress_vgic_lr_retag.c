/*
 * Regression (tests/guests/hostile.c, seed 0x484f53544f655b5a in CI): a vIRQ
 * loaded into a list register while its priority was the lowest (0xf8, which
 * no priority mask lets through: IHI 0048B 3.3) kept that priority in its LR
 * copy after the guest raised it. The copy was never delivered, held its LR
 * and its INTID for good, and every later SGI of that INTID waited behind it.
 * Now a priority or group change rewrites a still-pending LR copy.
 */
#include "test_vgic_helpers.h"

#define SGI 5
#define SPI 40

static int setup(void **state)
{
    (void)state;
    memset(&t_ack, 0, sizeof(t_ack));
    t_guest(1, 4);
    assert_true(virq_register(0, SPI, t_ack_fn, NULL));
    t_dist_enable();
    return 0;
}

/* The LR copy of virq on vcpu 0, which must be loaded. */
static const struct fake_lr *lr_of(unsigned virq)
{
    int idx = fake_lr_find(0, virq);
    assert_true(idx >= 0);
    return &fake.vcpu[0].lr[idx];
}

static void test_priority_raised_while_pending_in_lr(void **state)
{
    (void)state;
    t_enable(0, SGI);
    t_priority(0, SGI, 0xf8);
    t_write(0, GICD_SGIR, 4, (2u << 24) | SGI); /* to self */
    assert_int_equal(lr_of(SGI)->priority, 0xf8 >> 3);
    t_priority(0, SGI, 0x80);
    /* The same LR, still pending, now at the new priority; nothing loaded twice. */
    assert_int_equal(lr_of(SGI)->priority, 0x80 >> 3);
    assert_int_equal(lr_of(SGI)->state, FAKE_LR_PENDING);
    t_assert_lrs_unique(1);
    /* Taken and EOIed once: the next SGI of that INTID is delivered. */
    t_guest_eoi_irq(0, SGI);
    t_write(0, GICD_SGIR, 4, (2u << 24) | SGI);
    assert_int_equal(lr_of(SGI)->priority, 0x80 >> 3);
    assert_int_equal(fake.crashes, 0);
}

static void test_group_change_rewrites_pending_copy(void **state)
{
    (void)state;
    t_enable(0, SPI);
    t_priority(0, SPI, 0xa0);
    assert_true(virq_inject(0, SPI));
    assert_int_equal(lr_of(SPI)->group, 0);
    t_set_bit(0, GICD_IGROUPR, SPI);
    assert_int_equal(lr_of(SPI)->group, 1);
    assert_int_equal(lr_of(SPI)->priority, 0xa0 >> 3);
}

/* A copy the guest has taken is active: the kernel keeps it (DeleteFirst), and its EOI completes it once. */
static void test_active_copy_is_left_alone(void **state)
{
    (void)state;
    t_enable(0, SPI);
    t_priority(0, SPI, 0xa0);
    assert_true(virq_inject(0, SPI));
    int idx = fake_lr_find(0, SPI);
    assert_true(idx >= 0);
    fake_guest_ack(0, (unsigned)idx);
    size_t injects = fake.num_injects;
    t_priority(0, SPI, 0x20);
    assert_int_equal(fake.num_injects, injects); /* refused: nothing recorded as loaded */
    assert_int_equal(fake.vcpu[0].lr[idx].state, FAKE_LR_ACTIVE);
    assert_int_equal(fake.vcpu[0].lr[idx].priority, 0xa0 >> 3);
    fake_guest_eoi(0, (unsigned)idx);
    assert_true(t_maintenance(0, (unsigned)idx));
    assert_int_equal(t_ack.count, 1);
    t_assert_lrs_unique(1);
}

/* Writing the same priority again does not touch the LR. */
static void test_unchanged_priority_is_not_rewritten(void **state)
{
    (void)state;
    t_enable(0, SPI);
    t_priority(0, SPI, 0xa0);
    assert_true(virq_inject(0, SPI));
    size_t injects = fake.num_injects;
    t_priority(0, SPI, 0xa0);
    t_priority(0, SPI, 0xa7); /* bits [2:0] are RAZ/WI: the same priority */
    assert_int_equal(fake.num_injects, injects);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_priority_raised_while_pending_in_lr, setup),
        cmocka_unit_test_setup(test_group_change_rewrites_pending_copy, setup),
        cmocka_unit_test_setup(test_active_copy_is_left_alone, setup),
        cmocka_unit_test_setup(test_unchanged_priority_is_not_rewritten, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
