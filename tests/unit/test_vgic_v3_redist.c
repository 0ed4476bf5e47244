/*
 * GICv3 redistributors: one RD_base + SGI_base pair per vCPU at QEMU virt's
 * layout, their identification, GICR_TYPER (affinity = the vCPU's MPIDR,
 * Last on the final frame), the GICR_WAKER handshake, SGIs and PPIs through
 * SGI_base, and the list-register encoding on GICv3.
 */
#include "test_vgic_v3_helpers.h"

static void check_frames(size_t n)
{
    t3_guest(n, 4);
    for (size_t f = 0; f < n; f++) {
        assert_int_equal((t3_rread(0, f, GICR_PIDR2, 4) >> 4) & 0xf, 3);
        assert_int_equal(t3_rread(f, f, GICR_IIDR, 4), T3_IIDR);
        uint64_t typer = t3_rread(n - 1 - f, f, GICR_TYPER, 8);
        uint64_t mpidr = vcpu_mpidr(f);
        uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;
        assert_int_equal(typer >> 32, aff); /* Affinity_Value = Aff3.Aff2.Aff1.Aff0 of the vCPU */
        assert_int_equal((typer >> 8) & 0xffff, f); /* Processor_Number */
        assert_int_equal((typer >> 4) & 1, f == n - 1); /* Last only on the final frame */
        assert_int_equal(typer & 0xf, 0); /* PLPIS, VLPIS, Dirty, DirectLPI */
        /* 32-bit halves agree with the 64-bit read. */
        assert_int_equal(t3_rread(0, f, GICR_TYPER, 4), typer & 0xffffffff);
        assert_int_equal(t3_rread(0, f, GICR_TYPER + 4, 4), typer >> 32);
        /* CTLR: EnableLPIs RAZ/WI, RWP = UWP = 0. */
        t3_rwrite(f, f, GICR_CTLR, 4, 1);
        assert_int_equal(t3_rread(f, f, GICR_CTLR, 4), 0);
    }
}

static void test_frames_one_vcpu(void **state)
{
    (void)state;
    check_frames(1);
}

static void test_frames_four_vcpus(void **state)
{
    (void)state;
    check_frames(4);
    /* The SGI_base frame has no ID registers. */
    assert_int_equal(t3_rread(0, 0, T3_SGI_BASE + 0xffe8, 4), 0);
    /* Past the last frame is not part of the window. */
    struct mmio_access a = {.gpa = T3_GICR + 4 * T3_RD_FRAME, .width = 4, .is_write = false};
    assert_int_not_equal(mmio_dispatch(0, &a), MMIO_HANDLED);
}

static void test_waker_handshake(void **state)
{
    (void)state;
    t3_guest(2, 4);
    /* Reset: ProcessorSleep = ChildrenAsleep = 1. */
    assert_int_equal(t3_rread(1, 1, GICR_WAKER, 4), 6);
    /* Linux: clear ProcessorSleep, then poll ChildrenAsleep until it reads 0. */
    t3_rwrite(1, 1, GICR_WAKER, 4, t3_rread(1, 1, GICR_WAKER, 4) & ~2u);
    assert_int_equal(t3_rread(1, 1, GICR_WAKER, 4) & 4, 0);
    assert_int_equal(t3_rread(1, 1, GICR_WAKER, 4), 0);
    /* Frame 0 is unaffected; ChildrenAsleep is read-only. */
    assert_int_equal(t3_rread(1, 0, GICR_WAKER, 4), 6);
    t3_rwrite(0, 0, GICR_WAKER, 4, 4);
    assert_int_equal(t3_rread(0, 0, GICR_WAKER, 4), 0);
    /* Going to sleep sets both. */
    t3_rwrite(1, 1, GICR_WAKER, 4, 2);
    assert_int_equal(t3_rread(1, 1, GICR_WAKER, 4), 6);
}

static void test_lpi_and_reserved_raz_wi(void **state)
{
    (void)state;
    t3_guest(1, 4);
    t3_rwrite(0, 0, GICR_PROPBASER, 8, 0x40001234ull);
    assert_int_equal(t3_rread(0, 0, GICR_PROPBASER, 8), 0);
    assert_int_equal(t3_rread(0, 0, GICR_PROPBASER + 4, 4), 0);
    t3_rwrite(0, 0, GICR_TYPER, 8, ~0ull); /* read-only */
    assert_int_equal(t3_rread(0, 0, GICR_TYPER, 8), 1u << 4);
    static const uint64_t reserved[] = {0x0010,
                                        0x0040,
                                        0x00a0,
                                        0x00c0,
                                        0x1000,
                                        0xfffc - 0x30,
                                        T3_SGI_BASE + 0x0004,
                                        T3_SGI_BASE + 0x0800,
                                        T3_SGI_BASE + 0x0f00,
                                        T3_SGI_BASE + 0xfffc};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        t3_rwrite(0, 0, reserved[i], 4, 0xffffffff);
        assert_int_equal(t3_rread(0, 0, reserved[i], 4), 0);
    }
    /* Odd widths: RAZ/WI. */
    t3_rwrite(0, 0, GICR_WAKER, 2, 0);
    t3_rwrite(0, 0, GICR_WAKER - 4, 8, 0);
    assert_int_equal(t3_rread(0, 0, GICR_WAKER, 4), 6);
    assert_int_equal(t3_rread(0, 0, GICR_TYPER + 2, 4), 0);
    assert_int_equal(t3_rread(0, 0, GICR_ISENABLER0, 8), 0);
    assert_int_equal(t3_rread(0, 0, GICR_IPRIORITYR, 2), 0);
    assert_int_equal(fake.crashes, 0);
}

/* SGI_base: the banked SGIs/PPIs of the frame's vCPU, whoever accesses it. */
static void test_sgi_base_ppi(void **state)
{
    (void)state;
    t3_guest(2, 4);
    t3_enable_all(2);
    /* Group 1 from reset (IGROUPR0 all ones), SGIs enabled, PPIs disabled. */
    assert_int_equal(t3_rread(1, 1, GICR_IGROUPR0, 4), 0xffffffff);
    assert_int_equal(t3_rread(1, 1, GICR_ISENABLER0, 4), 0xffff);
    /* vCPU 0 configures vCPU 1's virtual timer PPI. */
    t3_rwrite(0, 1, GICR_IPRIORITYR + 27, 1, 0xa0);
    assert_int_equal(t3_rread(0, 1, GICR_IPRIORITYR + 24, 4), 0xa0u << 24);
    assert_int_equal(t3_rread(0, 0, GICR_IPRIORITYR + 27, 1), 0); /* vCPU 0's copy is separate */
    t3_rwrite(0, 1, GICR_ISENABLER0, 4, 1u << 27);
    assert_int_equal(t3_rread(1, 1, GICR_ISENABLER0, 4), 0xffff | (1u << 27));
    assert_int_equal(t3_rread(1, 0, GICR_ISENABLER0, 4), 0xffff);
    /* A VPPI on vCPU 1 is delivered to vCPU 1 only. */
    seL4_Word irq = 27;
    microkit_msginfo reply;
    assert_true(fault_handle(1, fake_fault(seL4_Fault_VPPIEvent, 1, &irq), &reply));
    assert_int_equal(t3_injects(1, 27), 1);
    assert_int_equal(t3_injects(0, 27), 0);
    assert_int_equal(t3_rread(0, 1, GICR_ISACTIVER0, 4), 1u << 27);
    t3_guest_eoi_irq(1, 27);
    assert_int_equal(fake.vcpu[1].vppi_acks, 1);
    /* ISPENDR0 of a PPI from another vCPU; ICENABLER0 first holds it back. */
    t3_rwrite(0, 1, GICR_ICENABLER0, 4, 1u << 27);
    t3_rwrite(0, 1, GICR_ISPENDR0, 4, 1u << 27);
    assert_int_equal(t3_rread(1, 1, GICR_ISPENDR0, 4), 1u << 27);
    assert_int_equal(t3_injects(1, 27), 1);
    t3_rwrite(0, 1, GICR_ISENABLER0, 4, 1u << 27);
    assert_int_equal(t3_injects(1, 27), 2);
    /* ICFGR0 (SGIs) is read-only edge; ICFGR1 (PPIs) is writable. */
    assert_int_equal(t3_rread(0, 1, GICR_ICFGR0, 4), 0xaaaaaaaa);
    t3_rwrite(0, 1, GICR_ICFGR0, 4, 0);
    assert_int_equal(t3_rread(0, 1, GICR_ICFGR0, 4), 0xaaaaaaaa);
    assert_int_equal(t3_rread(0, 1, GICR_ICFGR1, 4), 0);
    t3_rwrite(0, 1, GICR_ICFGR1, 4, 2u << 22);
    assert_int_equal(t3_rread(0, 1, GICR_ICFGR1, 4), 2u << 22);
    /* IGRPMODR0 and NSACR: RAZ/WI. */
    t3_rwrite(0, 1, GICR_IGRPMODR0, 4, 0xffffffff);
    t3_rwrite(0, 1, GICR_NSACR, 4, 0xffffffff);
    assert_int_equal(t3_rread(0, 1, GICR_IGRPMODR0, 4), 0);
    assert_int_equal(t3_rread(0, 1, GICR_NSACR, 4), 0);
}

/* SGI pending state through ISPENDR0/ICPENDR0: one bit, no sources (IHI 0069 12.11.27). */
static void test_sgi_base_sgi_pending(void **state)
{
    (void)state;
    t3_guest(2, 4);
    t3_enable_all(2);
    t3_rwrite(0, 1, GICR_ICENABLER0, 4, 1u << 5);
    t3_rwrite(0, 1, GICR_ISPENDR0, 4, 1u << 5);
    t3_rwrite(1, 1, GICR_ISPENDR0, 4, 1u << 5);
    assert_int_equal(t3_rread(0, 1, GICR_ISPENDR0, 4), 1u << 5);
    assert_int_equal(t3_rread(0, 0, GICR_ISPENDR0, 4), 0);
    t3_rwrite(0, 1, GICR_ISENABLER0, 4, 1u << 5);
    assert_int_equal(t3_injects(1, 5), 1);
    t3_guest_eoi_irq(1, 5);
    assert_int_equal(t3_injects(1, 5), 1); /* the two writes coalesced into one SGI */
    /* ICPENDR0 withdraws one that has not reached an LR yet. */
    t3_rwrite(0, 1, GICR_ICENABLER0, 4, 1u << 6);
    t3_rwrite(0, 1, GICR_ISPENDR0, 4, 1u << 6);
    t3_rwrite(0, 1, GICR_ICPENDR0, 4, 1u << 6);
    assert_int_equal(t3_rread(0, 1, GICR_ISPENDR0, 4), 0);
    t3_rwrite(0, 1, GICR_ISENABLER0, 4, 1u << 6);
    assert_int_equal(t3_injects(1, 6), 0);
    /* ISACTIVER0/ICACTIVER0 of an SGI. */
    t3_rwrite(0, 1, GICR_ISACTIVER0, 4, 1u << 7);
    assert_int_equal(t3_rread(1, 1, GICR_ISACTIVER0, 4), 1u << 7);
    t3_rwrite(0, 1, GICR_ICACTIVER0, 4, 1u << 7);
    assert_int_equal(t3_rread(1, 1, GICR_ISACTIVER0, 4), 0);
}

/* LR encoding on GICv3 (ABI 3.1): priority >> 3 unshifted into the 8-bit field, group from IGROUPR (1). */
static void test_lr_priority_and_group(void **state)
{
    (void)state;
    t3_guest(1, 4);
    t3_enable_all(1);
    assert_true(virq_register(0, 40, NULL, NULL));
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 1u << 8);
    t3_dwrite(0, GICD_IPRIORITYR + 40, 1, 0xa0); /* Linux's default IRQ priority */
    assert_true(virq_inject(0, 40));
    const struct fake_inject *inj = t3_last_inject(0, 40);
    assert_int_equal(inj->priority, 0xa0 >> 3);
    assert_true(inj->priority < 0xf0); /* below Linux's ICC_PMR_EL1: deliverable */
    assert_int_equal(inj->group, 1);
    t3_guest_eoi_irq(0, 40);
    /* Highest and lowest priority keep their order. */
    t3_dwrite(0, GICD_IPRIORITYR + 40, 1, 0x00);
    assert_true(virq_inject(0, 40));
    assert_int_equal(t3_last_inject(0, 40)->priority, 0);
    t3_guest_eoi_irq(0, 40);
    t3_dwrite(0, GICD_IPRIORITYR + 40, 1, 0xff);
    assert_true(virq_inject(0, 40));
    assert_int_equal(t3_last_inject(0, 40)->priority, 31);
    t3_guest_eoi_irq(0, 40);
    /* A guest that moves an SPI to group 0 gets a group-0 LR (a vFIQ). */
    t3_dwrite(0, GICD_IGROUPR + 4, 4, 0);
    assert_true(virq_inject(0, 40));
    assert_int_equal(t3_last_inject(0, 40)->group, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_one_vcpu),       cmocka_unit_test(test_frames_four_vcpus),
        cmocka_unit_test(test_waker_handshake),       cmocka_unit_test(test_lpi_and_reserved_raz_wi),
        cmocka_unit_test(test_sgi_base_ppi),          cmocka_unit_test(test_sgi_base_sgi_pending),
        cmocka_unit_test(test_lr_priority_and_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
