/*
 * The seed virq_* API: argument validation (issue 5 item 4), registrations
 * made by virq_controller_init, and pass-through interrupts.
 */
#include <limits.h>
#include "test_vgic_helpers.h"

/* Runs first, in a fresh process: nothing initialised yet. */
static void test_calls_before_init_refused(void **state)
{
    (void)state;
    fake_microkit_reset();
    assert_false(virq_register(0, 40, NULL, NULL));
    assert_true(fake_console_contains("before virq_controller_init"));
    assert_false(virq_inject(0, 40));
    assert_false(virq_register_passthrough(0, 40, 1));
    assert_false(virq_handle_passthrough(1));
    assert_false(virq_controller_init(0)); /* no guest_init() yet */
    assert_true(fake_console_contains("guest_init"));
    /* Faults that arrive before init are survived. */
    assert_true(vgic_handle_maintenance(0, 0));
    assert_true(vgic_handle_vppi(0, 27));
    assert_false(vgic_vcpu_has_pending(0));
    assert_int_equal(fake.num_injects, 0);
    assert_int_equal(fake.crashes, 0);
}

static void test_controller_init_validation(void **state)
{
    (void)state;
    t_guest(2, 4);
    assert_false(virq_controller_init(2));
    assert_false(virq_controller_init(SIZE_MAX));
    /* A failed init leaves the API refusing calls until a good one. */
    assert_false(virq_register(0, 40, NULL, NULL));
    assert_true(virq_controller_init(1));
    assert_true(virq_register(0, 40, NULL, NULL));
}

static void test_init_registers_vtimer_and_sgis_on_every_vcpu(void **state)
{
    (void)state;
    t_guest(4, 4);
    for (size_t v = 0; v < 4; v++) {
        assert_true(vgic_irq_registered(v, 27));
        for (unsigned sgi = 0; sgi < 16; sgi++) {
            assert_true(vgic_irq_registered(v, sgi));
        }
        assert_false(vgic_irq_registered(v, 26));
    }
    assert_false(virq_register(3, 27, NULL, NULL)); /* already there */
    /* Every vCPU's timer works and is acked on its own vCPU. */
    t_dist_enable();
    for (size_t v = 0; v < 4; v++) {
        t_enable(v, 27);
        assert_true(vgic_handle_vppi(v, 27));
        t_guest_eoi_irq(v, 27);
        assert_int_equal(fake.vcpu[v].vppi_acks, 1);
    }
    /* The VMM can raise any SGI on any vCPU (libvmm crashed on unregistered ones). */
    for (int sgi = 0; sgi < 16; sgi++) {
        assert_true(virq_inject(3, sgi));
    }
    assert_int_equal(t_lrs_used(3), 4);
}

static void test_register_validation(void **state)
{
    (void)state;
    t_guest(2, 4);
    assert_false(virq_register(2, 40, NULL, NULL));
    assert_false(virq_register(SIZE_MAX, 40, NULL, NULL));
    assert_false(virq_register(0, 288, NULL, NULL)); /* beyond the emulated SPIs */
    assert_false(virq_register(0, 1020, NULL, NULL));
    assert_false(virq_register(0, SIZE_MAX, NULL, NULL));
    assert_false(virq_register(0, (size_t)UINT_MAX + 41, NULL, NULL)); /* must not truncate to 40 */
    assert_true(virq_register(0, 40, t_ack_fn, NULL));
    assert_false(virq_register(0, 40, t_ack_fn, NULL));
    assert_false(virq_register(1, 40, t_ack_fn, NULL)); /* SPIs are global */
    assert_true(virq_register(0, 20, NULL, NULL));
    assert_true(virq_register(1, 20, NULL, NULL)); /* PPIs are banked */
    assert_false(virq_register(1, 20, NULL, NULL));
    assert_true(virq_register(0, 287, NULL, NULL));
    assert_true(fake_console_contains("already registered"));
    assert_true(fake_console_contains("out of range"));
}

static void test_inject_validation(void **state)
{
    (void)state;
    t_guest(2, 4);
    assert_true(virq_register(0, 40, NULL, NULL));
    assert_false(virq_inject(0, -1));
    assert_false(virq_inject(0, INT_MIN));
    assert_false(virq_inject(0, 288));
    assert_false(virq_inject(0, 1023));
    assert_false(virq_inject(0, 41)); /* not registered */
    assert_false(virq_inject(0, 20));
    assert_false(virq_inject(2, 40));
    assert_false(virq_inject(SIZE_MAX, 40));
    assert_true(virq_inject(0, 40)); /* disabled by the guest: latched, still success */
    assert_true(virq_inject(1, 40)); /* any valid vCPU for an SPI */
    assert_int_equal(fake.num_injects, 0);
    assert_int_equal(fake.crashes, 0);
}

static void test_passthrough_register_handle_ack(void **state)
{
    (void)state;
    t_guest(2, 4);
    t_dist_enable();
    assert_true(virq_register_passthrough(1, 33, 5));
    assert_int_equal(t_read(0, GICD_ITARGETSR + 33, 1), 0x2);
    /* Fires before the guest enabled it: latched, delivered on enable, acked on EOI. */
    assert_true(virq_handle_passthrough(5));
    assert_int_equal(fake.num_injects, 0);
    t_enable(1, 33);
    assert_int_equal(t_injects(1, 33), 1);
    assert_int_equal(fake.irq_acks[5], 0);
    t_guest_eoi_irq(1, 33);
    assert_int_equal(fake.irq_acks[5], 1);
    assert_true(virq_handle_passthrough(5));
    assert_int_equal(t_injects(1, 33), 2);
    t_guest_eoi_irq(1, 33);
    assert_int_equal(fake.irq_acks[5], 2);
    /* A PPI can be passed through too, on its own vCPU. */
    assert_true(virq_register_passthrough(0, 30, 0));
    t_enable(0, 30);
    assert_true(virq_handle_passthrough(0));
    t_guest_eoi_irq(0, 30);
    assert_int_equal(fake.irq_acks[0], 1);
    assert_true(virq_register_passthrough(0, 34, MICROKIT_MAX_CHANNEL_ID));
}

static void test_passthrough_invalid_arguments(void **state)
{
    (void)state;
    t_guest(2, 4);
    assert_false(virq_register_passthrough(0, 40, MICROKIT_MAX_CHANNEL_ID + 1));
    assert_false(virq_register_passthrough(0, 40, UINT_MAX));
    assert_false(virq_register_passthrough(2, 40, 1));
    assert_false(virq_register_passthrough(SIZE_MAX, 40, 1));
    assert_false(virq_register_passthrough(0, 3, 1)); /* SGI */
    assert_false(virq_register_passthrough(0, 288, 1)); /* beyond the emulated SPIs */
    assert_false(virq_register_passthrough(0, SIZE_MAX, 1));
    assert_false(virq_register_passthrough(0, 27, 1)); /* the vtimer PPI is taken */
    assert_true(virq_register_passthrough(0, 40, 1));
    assert_false(virq_register_passthrough(0, 41, 1)); /* channel taken */
    assert_false(virq_register_passthrough(0, 40, 2)); /* IRQ taken */
    assert_false(virq_register(0, 40, NULL, NULL));
    /* Channel 2's failed registration left no route behind. */
    assert_false(virq_handle_passthrough(2));
    /* Unregistered channels inject nothing (0.1.0 sent them to IRQ 0). */
    t_dist_enable();
    assert_false(virq_handle_passthrough(7));
    assert_false(virq_handle_passthrough(0));
    assert_false(virq_handle_passthrough(MICROKIT_MAX_CHANNEL_ID + 1));
    assert_false(virq_handle_passthrough(UINT_MAX));
    assert_int_equal(fake.num_injects, 0);
    assert_true(fake_console_contains("no pass-through IRQ"));
    /* Re-initialising forgets the routes. */
    assert_true(virq_controller_init(0));
    assert_false(virq_handle_passthrough(1));
    assert_true(virq_register_passthrough(0, 40, 1));
}

static void test_has_pending(void **state)
{
    (void)state;
    t_guest(2, 1);
    assert_false(vgic_vcpu_has_pending(0));
    assert_false(vgic_vcpu_has_pending(5));
    t_dist_enable();
    assert_true(virq_register(0, 40, NULL, NULL));
    assert_true(virq_register(0, 41, NULL, NULL));
    t_enable(0, 40);
    t_enable(0, 41);
    assert_true(virq_inject(0, 40));
    assert_true(vgic_vcpu_has_pending(0));
    assert_false(vgic_vcpu_has_pending(1));
    assert_true(virq_inject(0, 41)); /* queued behind the one LR */
    t_guest_eoi_irq(0, 40);
    assert_true(vgic_vcpu_has_pending(0));
    t_guest_eoi_irq(0, 41);
    assert_false(vgic_vcpu_has_pending(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_before_init_refused),
        cmocka_unit_test(test_controller_init_validation),
        cmocka_unit_test(test_init_registers_vtimer_and_sgis_on_every_vcpu),
        cmocka_unit_test(test_register_validation),
        cmocka_unit_test(test_inject_validation),
        cmocka_unit_test(test_passthrough_register_handle_ack),
        cmocka_unit_test(test_passthrough_invalid_arguments),
        cmocka_unit_test(test_has_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
