/*
 * vGIC delivery: the per-INTID state machine, list-register management and
 * maintenance (DESIGN sections 4-6), against the recording fake kernel.
 */
#include "test_vgic_helpers.h"

static int setup(void **state)
{
    (void)state;
    memset(&t_ack, 0, sizeof(t_ack));
    return 0;
}

/* Register SPIs first..first+n-1 on vCPU 0, enabled. */
static void spis(unsigned first, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        assert_true(virq_register(0, first + i, t_ack_fn, NULL));
        t_enable(0, first + i);
    }
}

static void lr_count_case(unsigned lrs)
{
    t_guest(1, lrs);
    t_dist_enable();
    spis(40, lrs + 3);
    for (unsigned i = 0; i < lrs + 3; i++) {
        assert_true(virq_inject(0, 40 + (int)i));
    }
    assert_int_equal(t_lrs_used(0), lrs);
    assert_int_equal(fake.num_injects, lrs);
    for (size_t i = 0; i < fake.num_injects; i++) {
        assert_true(fake.injects[i].index < lrs);
    }
    assert_int_equal(fake.crashes, 0);
    assert_false(fake_console_contains("refused"));
}

static void test_lr_count_read_from_kernel(void **state)
{
    (void)state;
    lr_count_case(2);
    lr_count_case(4);
    lr_count_case(16);
}

static void test_inject_while_disabled_then_enable(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    assert_true(virq_register(0, 40, t_ack_fn, NULL));
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake.num_injects, 0);
    assert_true(t_get_bit(0, GICD_ISPENDR, 40));
    t_enable(0, 40);
    assert_int_equal(t_injects(0, 40), 1);
    assert_int_equal(fake_lr_count(0, 40), 1);
    /* Further state changes do not deliver it again. */
    t_enable(0, 40);
    t_write(0, GICD_CTLR, 4, 1);
    assert_int_equal(t_injects(0, 40), 1);
    t_guest_eoi_irq(0, 40);
    assert_int_equal(t_ack.count, 1);
    assert_int_equal(t_injects(0, 40), 1);
}

static void test_distributor_disabled_then_enabled(void **state)
{
    (void)state;
    t_guest(1, 4);
    spis(40, 1);
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake.num_injects, 0);
    t_dist_enable();
    assert_int_equal(t_injects(0, 40), 1);
    t_guest_eoi_irq(0, 40);
    t_write(0, GICD_CTLR, 4, 0);
    assert_int_equal(t_read(0, GICD_CTLR, 4), 0);
    assert_true(virq_inject(0, 40));
    assert_int_equal(t_injects(0, 40), 1);
    t_dist_enable();
    assert_int_equal(t_injects(0, 40), 2);
}

static void test_priority_and_group_passed_to_kernel(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    spis(40, 1);
    t_priority(0, 40, 0xa8);
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake.num_injects, 1);
    assert_int_equal(fake.injects[0].priority, 0xa8 >> 3);
    assert_int_equal(fake.injects[0].group, 0);
}

/* Enabling the distributor with more pending than LRs fills every LR with the best ones. */
static void test_overflow_fills_every_lr_in_priority_order(void **state)
{
    (void)state;
    t_guest(1, 4);
    spis(40, 8);
    static const uint8_t prio[8] = {0x80, 0x20, 0x80, 0x10, 0x40, 0x20, 0xf0, 0x00};
    for (unsigned i = 0; i < 8; i++) {
        t_priority(0, 40 + i, prio[i]);
        assert_true(virq_inject(0, 40 + (int)i));
    }
    t_dist_enable();
    /* Best four: 47 (0x00), 43 (0x10), 41 (0x20), 45 (0x20, higher INTID). */
    assert_int_equal(fake.num_injects, 4);
    static const unsigned first[4] = {47, 43, 41, 45};
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(fake.injects[i].virq, first[i]);
    }
    /* Each EOI refills its LR with the next best: 44 (0x40), 40 (0x80), 42 (0x80), 46 (0xf0). */
    static const unsigned next[4] = {44, 40, 42, 46};
    for (unsigned i = 0; i < 4; i++) {
        t_guest_eoi(0, 0);
        assert_int_equal(fake.num_injects, 5 + i);
        assert_int_equal(fake.injects[4 + i].virq, next[i]);
        assert_int_equal(t_lrs_used(0), 4);
        t_assert_lrs_unique(1);
    }
    assert_int_equal(t_ack.count, 4);
}

/* Several LRs free at once are all refilled by one event (0.1.0 refilled one per EOI). */
static void test_every_free_lr_refilled(void **state)
{
    (void)state;
    t_guest(1, 4);
    spis(40, 6);
    for (unsigned i = 0; i < 4; i++) {
        assert_true(virq_inject(0, 40 + (int)i));
    }
    t_dist_enable();
    assert_int_equal(t_lrs_used(0), 4);
    /* Three EOIs with nothing queued: three free LRs. */
    t_guest_eoi_irq(0, 40);
    t_guest_eoi_irq(0, 41);
    t_guest_eoi_irq(0, 42);
    assert_int_equal(t_lrs_used(0), 1);
    /* Queue up two while the distributor is off, then enable: both loaded at once. */
    t_write(0, GICD_CTLR, 4, 0);
    assert_true(virq_inject(0, 44));
    assert_true(virq_inject(0, 45));
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake.num_injects, 4);
    t_dist_enable();
    assert_int_equal(fake.num_injects, 7);
    assert_int_equal(t_lrs_used(0), 4);
    t_assert_lrs_unique(1);
}

static void test_never_two_lrs_with_one_intid(void **state)
{
    (void)state;
    t_guest(2, 4);
    t_dist_enable();
    spis(40, 1);
    assert_true(virq_inject(0, 40));
    assert_true(virq_inject(0, 40));
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake_lr_count(0, 40), 1);
    assert_int_equal(t_injects(0, 40), 1);
    /* Retargeted to vCPU 1 while in vCPU 0's LR: not loaded there too. */
    t_write(0, GICD_ITARGETSR + 40, 1, 0x2);
    assert_true(virq_inject(0, 40));
    assert_int_equal(t_injects(1, 40), 0);
    t_guest_eoi_irq(0, 40);
    assert_int_equal(t_injects(1, 40), 1);
    assert_int_equal(fake_lr_count(0, 40) + fake_lr_count(1, 40), 1);
}

static void test_eoi_calls_ack_with_vcpu_irq_cookie(void **state)
{
    (void)state;
    static int cookie;
    t_guest(2, 4);
    t_dist_enable();
    assert_true(virq_register(1, 45, t_ack_fn, &cookie));
    t_enable(1, 45);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 44, 4) >> 8 & 0xff, 0x2);
    assert_true(virq_inject(1, 45));
    assert_int_equal(t_injects(1, 45), 1);
    assert_int_equal(t_ack.count, 0);
    t_guest_eoi_irq(1, 45);
    assert_int_equal(t_ack.count, 1);
    assert_int_equal(t_ack.vcpu, 1);
    assert_int_equal(t_ack.irq, 45);
    assert_ptr_equal(t_ack.cookie, &cookie);
    /* A PPI's ack names its own vCPU. */
    assert_true(virq_register(1, 20, t_ack_fn, NULL));
    t_enable(1, 20);
    assert_true(virq_inject(1, 20));
    t_guest_eoi_irq(1, 20);
    assert_int_equal(t_ack.count, 2);
    assert_int_equal(t_ack.vcpu, 1);
    assert_int_equal(t_ack.irq, 20);
}

static void test_reinjected_in_lr_delivered_again_after_eoi(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    spis(40, 1);
    assert_true(virq_inject(0, 40));
    fake_guest_ack(0, (unsigned)fake_lr_find(0, 40));
    assert_true(virq_inject(0, 40)); /* pending + active */
    assert_true(t_get_bit(0, GICD_ISPENDR, 40));
    assert_true(t_get_bit(0, GICD_ISACTIVER, 40));
    assert_int_equal(t_injects(0, 40), 1);
    t_guest_eoi_irq(0, 40);
    assert_int_equal(t_ack.count, 1);
    assert_int_equal(t_injects(0, 40), 2);
    t_guest_eoi_irq(0, 40);
    assert_int_equal(t_ack.count, 2);
    assert_int_equal(t_injects(0, 40), 2);
    assert_false(t_get_bit(0, GICD_ISPENDR, 40));
    assert_false(t_get_bit(0, GICD_ISACTIVER, 40));
}

static void test_icpendr_before_lr_never_delivered(void **state)
{
    (void)state;
    t_guest(1, 2);
    t_dist_enable();
    assert_true(virq_register(0, 40, t_ack_fn, NULL));
    assert_true(virq_inject(0, 40)); /* disabled: latched */
    t_set_bit(0, GICD_ICPENDR, 40);
    assert_false(t_get_bit(0, GICD_ISPENDR, 40));
    t_enable(0, 40);
    assert_int_equal(t_injects(0, 40), 0);
    /* Queued behind full LRs, then cleared: never delivered. */
    spis(41, 3);
    assert_true(virq_inject(0, 41));
    assert_true(virq_inject(0, 42));
    assert_true(virq_inject(0, 43));
    assert_int_equal(t_injects(0, 43), 0);
    t_set_bit(0, GICD_ICPENDR, 43);
    t_guest_eoi_irq(0, 41);
    t_guest_eoi_irq(0, 42);
    assert_int_equal(t_injects(0, 43), 0);
    assert_int_equal(t_lrs_used(0), 0);
}

static void test_ispendr_makes_pending(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    /* Unregistered SPI (reset target list 0, so the guest sets it): the guest can still pend it itself. */
    t_write(0, GICD_ITARGETSR + 50, 1, 0x1);
    t_set_bit(0, GICD_ISPENDR, 50);
    assert_true(t_get_bit(0, GICD_ISPENDR, 50));
    assert_int_equal(fake.num_injects, 0);
    t_enable(0, 50);
    assert_int_equal(t_injects(0, 50), 1);
    t_guest_eoi_irq(0, 50);
    assert_int_equal(t_ack.count, 0);
    assert_false(t_get_bit(0, GICD_ISPENDR, 50));
}

static void test_vtimer_vppi_acked_on_eoi(void **state)
{
    (void)state;
    t_guest(2, 4);
    t_dist_enable();
    t_enable(1, 27);
    seL4_Word irq = 27;
    microkit_msginfo reply;
    assert_true(fault_handle(1, fake_fault(seL4_Fault_VPPIEvent, 1, &irq), &reply));
    assert_int_equal(t_injects(1, 27), 1);
    assert_int_equal(fake.vcpu[1].vppi_acks, 0);
    t_guest_eoi_irq(1, 27);
    assert_int_equal(fake.vcpu[1].vppi_acks, 1);
    /* vCPU 0 has its own registration; the timer is disabled there: latched, acked after delivery. */
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VPPIEvent, 1, &irq), &reply));
    assert_int_equal(t_injects(0, 27), 0);
    t_enable(0, 27);
    t_guest_eoi_irq(0, 27);
    assert_int_equal(fake.vcpu[0].vppi_acks, 1);
    /* A VPPI for a PPI nobody registered: logged, guest resumed, nothing acked. */
    irq = 26;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VPPIEvent, 1, &irq), &reply));
    assert_int_equal(fake.vcpu[0].vppi_acks, 1);
    assert_int_equal(fake.crashes, 0);
}

static void test_maintenance_bad_index_is_harmless(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    spis(40, 1);
    assert_true(virq_inject(0, 40));
    int idx = fake_lr_find(0, 40);
    assert_true(t_maintenance(0, (seL4_Word)-1));
    assert_true(t_maintenance(0, (unsigned)idx + 1)); /* an LR we hold nothing in */
    assert_true(t_maintenance(0, 200));
    assert_true(t_maintenance(0, 4));
    assert_int_equal(t_ack.count, 0);
    assert_int_equal(fake_lr_count(0, 40), 1);
    t_guest_eoi(0, (unsigned)idx);
    assert_int_equal(t_ack.count, 1);
    /* A second EOI report for the same (now free) LR does not ack twice. */
    assert_true(t_maintenance(0, (unsigned)idx));
    assert_int_equal(t_ack.count, 1);
    assert_int_equal(fake.crashes, 0);
}

static void test_level_triggered_line(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    spis(60, 2);
    assert_int_equal(t_read(0, GICD_ICFGR + 60 / 16 * 4, 4), 0); /* SPIs reset level-sensitive */
    assert_true(vgic_set_level(0, 60, true));
    assert_int_equal(t_injects(0, 60), 1);
    t_guest_eoi_irq(0, 60); /* still asserted: delivered again */
    assert_int_equal(t_injects(0, 60), 2);
    assert_true(vgic_set_level(0, 60, false));
    t_guest_eoi_irq(0, 60);
    assert_int_equal(t_injects(0, 60), 2);
    assert_false(t_get_bit(0, GICD_ISPENDR, 60));
    /* ICPENDR cannot clear a level input that is still asserted (IHI 0048B 4.3.8). */
    t_write(0, GICD_ICENABLER + 4, 4, 1u << (60 - 32));
    assert_true(vgic_set_level(0, 60, true));
    t_set_bit(0, GICD_ICPENDR, 60);
    assert_true(t_get_bit(0, GICD_ISPENDR, 60));
    /* Edge-triggered: one delivery per rising edge. */
    t_write(0, GICD_ICFGR + 61 / 16 * 4, 4, 2u << (2 * (61 % 16)));
    assert_true(vgic_set_level(0, 61, true));
    assert_true(vgic_set_level(0, 61, true));
    t_guest_eoi_irq(0, 61);
    assert_int_equal(t_injects(0, 61), 1);
    assert_true(vgic_set_level(0, 61, false));
    assert_true(vgic_set_level(0, 61, true));
    assert_int_equal(t_injects(0, 61), 2);
    assert_false(vgic_set_level(0, 3, true)); /* SGIs have no line */
    assert_false(vgic_set_level(0, 99, true)); /* not registered */
}

static void test_vgic_reset(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    spis(40, 4);
    assert_true(virq_register(0, 44, t_ack_fn, NULL)); /* never pending: no ack at reset */
    t_priority(0, 40, 0x80);
    assert_true(virq_inject(0, 43));
    assert_true(virq_inject(0, 40)); /* in LR 1 */
    t_guest_eoi_irq(0, 43); /* LR 0 free again */
    assert_int_equal(fake_lr_find(0, 40), 1);
    t_write(0, GICD_ICENABLER + 4, 4, 1u << (41 - 32));
    assert_true(virq_inject(0, 41)); /* latched */
    t_ack.count = 0;
    vgic_reset();
    assert_int_equal(t_ack.count, 2); /* 40 (in an LR) and 41 (pending) retired */
    assert_int_equal(t_read(0, GICD_CTLR, 4), 0);
    assert_int_equal(t_read(0, GICD_ISENABLER, 4), 0xffff); /* SGIs only */
    assert_int_equal(t_read(0, GICD_ISENABLER + 4, 4), 0);
    assert_int_equal(t_read(0, GICD_ISPENDR + 4, 4), 0);
    assert_int_equal(t_read(0, GICD_ISACTIVER + 4, 4), 0);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 40, 1), 0);
    assert_int_equal(t_read(0, GICD_ITARGETSR + 40, 1), 0x1);
    assert_false(vgic_vcpu_has_pending(0));
    /* Registrations survive. Another INTID takes a fresh LR, not the stale LR 1. */
    size_t before = fake.num_injects;
    assert_true(virq_inject(0, 42));
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake.num_injects, before);
    t_dist_enable();
    t_enable(0, 42);
    assert_int_equal(fake.num_injects, before + 1);
    assert_int_equal(fake.injects[before].index, 0);
    /* 40 goes back into the stale LR 1 that still holds it, never into a second LR. */
    t_enable(0, 40);
    assert_int_equal(fake.num_injects, before + 2);
    assert_int_equal(fake.injects[before + 1].index, 1);
    assert_int_equal(fake_lr_count(0, 40), 1);
    t_guest_eoi_irq(0, 40);
    assert_int_equal(t_ack.count, 3);
    assert_true(vgic_ready());
}

/* A list register the kernel still holds as active (from before a reset) is skipped, not fatal. */
static void test_lr_left_active_by_reset_is_skipped(void **state)
{
    (void)state;
    t_guest(1, 2);
    t_dist_enable();
    spis(40, 3);
    assert_true(virq_inject(0, 40));
    fake_guest_ack(0, 0); /* active in LR 0 when the guest is reset */
    vgic_reset();
    t_dist_enable();
    for (unsigned i = 0; i < 3; i++) {
        t_enable(0, 40 + i);
    }
    assert_true(virq_inject(0, 41));
    assert_true(virq_inject(0, 42));
    assert_int_equal(fake.crashes, 0);
    assert_int_equal(fake_lr_find(0, 41), 1);
    assert_int_equal(fake_lr_find(0, 42), -1); /* waits: LR 0 refused */
    t_guest_eoi_irq(0, 41);
    assert_int_equal(fake_lr_find(0, 42), 1);
    /* The guest finally EOIs the old LR 0: it becomes usable again. */
    fake_guest_eoi(0, 0);
    assert_true(t_maintenance(0, 0));
    assert_true(virq_inject(0, 40));
    assert_int_equal(fake_lr_find(0, 40), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lr_count_read_from_kernel, setup),
        cmocka_unit_test_setup(test_inject_while_disabled_then_enable, setup),
        cmocka_unit_test_setup(test_distributor_disabled_then_enabled, setup),
        cmocka_unit_test_setup(test_priority_and_group_passed_to_kernel, setup),
        cmocka_unit_test_setup(test_overflow_fills_every_lr_in_priority_order, setup),
        cmocka_unit_test_setup(test_every_free_lr_refilled, setup),
        cmocka_unit_test_setup(test_never_two_lrs_with_one_intid, setup),
        cmocka_unit_test_setup(test_eoi_calls_ack_with_vcpu_irq_cookie, setup),
        cmocka_unit_test_setup(test_reinjected_in_lr_delivered_again_after_eoi, setup),
        cmocka_unit_test_setup(test_icpendr_before_lr_never_delivered, setup),
        cmocka_unit_test_setup(test_ispendr_makes_pending, setup),
        cmocka_unit_test_setup(test_vtimer_vppi_acked_on_eoi, setup),
        cmocka_unit_test_setup(test_maintenance_bad_index_is_harmless, setup),
        cmocka_unit_test_setup(test_level_triggered_line, setup),
        cmocka_unit_test_setup(test_vgic_reset, setup),
        cmocka_unit_test_setup(test_lr_left_active_by_reset_is_skipped, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
