/*
 * GICv3 distributor: identification, GICD_CTLR/TYPER, the SPI register
 * block, RAZ/WI ranges, and SPI routing through GICD_IROUTER (attack class
 * 18: affinities that name no vCPU, reserved offsets, odd widths).
 */
#include "test_vgic_v3_helpers.h"

static void test_id_and_type_registers(void **state)
{
    (void)state;
    t3_guest(4, 4);
    uint32_t pidr2 = (uint32_t)t3_dread(0, GICD_PIDR2, 4);
    assert_int_equal((pidr2 >> 4) & 0xf, 3); /* ArchRev: GICv3 */
    assert_int_equal(t3_dread(0, GICD_IIDR, 4), T3_IIDR);
    assert_int_not_equal(T3_IIDR, 0x4c00043b); /* distinguishable from the GICv2 emulation */
    uint32_t typer = (uint32_t)t3_dread(1, GICD_TYPER, 4);
    assert_int_equal(typer & 0x1f, 8); /* ITLinesNumber: 288 INTIDs */
    assert_int_equal((typer >> 19) & 0x1f, 9); /* IDbits: 10-bit INTIDs */
    assert_int_equal(typer & (1u << 17), 0); /* no LPIs */
    assert_int_equal(typer & (1u << 16), 0); /* no MBIS */
    assert_int_equal(typer & (1u << 25), 0); /* No1N = 0: 1 of N supported */
    assert_int_equal(t3_dread(0, GICD_TYPER2, 4), 0);
    assert_int_equal(t3_dread(0, GICD_STATUSR, 4), 0);
    /* CIDR1 and PIDR0 carry the component class and part number. */
    assert_int_equal(t3_dread(0, 0xfff4, 4), 0xf0);
    assert_int_equal(t3_dread(0, 0xffe0, 4), 0x4c);
}

static void test_ctlr_are_ds_and_group_enables(void **state)
{
    (void)state;
    t3_guest(1, 4);
    /* ARE (bit 4) and DS (bit 6) read as one from reset; RWP (bit 31) reads 0. */
    assert_int_equal(t3_dread(0, GICD_CTLR, 4), 0x50);
    /* Linux writes ARE_NS | EnableGrp1A | EnableGrp1 = 0x13. */
    t3_dwrite(0, GICD_CTLR, 4, 0x13);
    assert_int_equal(t3_dread(0, GICD_CTLR, 4), 0x53);
    /* ARE cannot be turned off; E1NWF and RWP are not writable. */
    t3_dwrite(0, GICD_CTLR, 4, 0x80000080);
    assert_int_equal(t3_dread(0, GICD_CTLR, 4), 0x50);
}

static void test_spi_enable_pending_priority_and_delivery(void **state)
{
    (void)state;
    t3_guest(1, 4);
    assert_true(virq_register(0, 40, NULL, NULL));
    /* SPIs reset to group 1 on GICv3 (a group-0 vIRQ would be a vFIQ). */
    assert_int_equal(t3_dread(0, GICD_IGROUPR + 4, 4) & (1u << 8), 1u << 8);
    t3_dwrite(0, GICD_CTLR, 4, 0x13);
    t3_dwrite(0, GICD_IPRIORITYR + 40, 1, 0xa7);
    assert_int_equal(t3_dread(0, GICD_IPRIORITYR + 40, 1), 0xa0); /* 5 bits implemented */
    assert_int_equal(t3_dread(0, GICD_IPRIORITYR + 40, 4), 0xa0);
    /* Pending while disabled: visible in ISPENDR, not delivered. */
    t3_dwrite(0, GICD_ISPENDR + 4, 4, 1u << 8);
    assert_int_equal(t3_dread(0, GICD_ISPENDR + 4, 4), 1u << 8);
    assert_int_equal(t3_injects(0, 40), 0);
    /* Enable: delivered once; reads active (in an LR) and no longer pending. */
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 1u << 8);
    assert_int_equal(t3_dread(0, GICD_ISENABLER + 4, 4), 1u << 8);
    assert_int_equal(t3_injects(0, 40), 1);
    assert_int_equal(t3_dread(0, GICD_ISACTIVER + 4, 4), 1u << 8);
    assert_int_equal(t3_dread(0, GICD_ISPENDR + 4, 4), 0);
    t3_guest_eoi_irq(0, 40);
    assert_int_equal(t3_dread(0, GICD_ISACTIVER + 4, 4), 0);
    /* ICENABLER, then a pending latch removed by ICPENDR is never delivered. */
    t3_dwrite(0, GICD_ICENABLER + 4, 4, 1u << 8);
    assert_true(virq_inject(0, 40));
    t3_dwrite(0, GICD_ICPENDR + 4, 4, 1u << 8);
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 1u << 8);
    assert_int_equal(t3_injects(0, 40), 1);
    /* ICFGR: SPI 40 becomes edge-triggered. */
    t3_dwrite(0, GICD_ICFGR + 8, 4, 2u << 16);
    assert_int_equal(t3_dread(0, GICD_ICFGR + 8, 4), 2u << 16);
}

/* With ARE = 1, the SGI/PPI half of every distributor register is RAZ/WI (IHI 0069 12.9). */
static void test_sgi_ppi_range_and_legacy_registers_raz_wi(void **state)
{
    (void)state;
    t3_guest(2, 4);
    t3_enable_all(2);
    t3_dwrite(0, GICD_ICENABLER, 4, 0xffffffff); /* would disable every SGI */
    t3_dwrite(0, GICD_ISENABLER, 4, 1u << 27);
    t3_dwrite(0, GICD_ISPENDR, 4, 1u << 27);
    t3_dwrite(0, GICD_IPRIORITYR + 27, 1, 0x40);
    t3_dwrite(0, GICD_ICFGR + 4, 4, 0xffffffff);
    assert_int_equal(t3_dread(0, GICD_ISENABLER, 4), 0);
    assert_int_equal(t3_dread(0, GICD_IGROUPR, 4), 0);
    assert_int_equal(t3_dread(0, GICD_IPRIORITYR + 27, 1), 0);
    assert_int_equal(t3_dread(0, GICD_ICFGR, 4), 0);
    /* The redistributor still shows the SGIs enabled and PPI 27 untouched. */
    assert_int_equal(t3_rread(0, 0, GICR_ISENABLER0, 4), 0xffff);
    assert_int_equal(t3_rread(0, 0, GICR_IPRIORITYR + 27, 1), 0);
    assert_int_equal(t3_injects(0, 27), 0);
    /* ITARGETSR, SGIR, SPENDSGIR, IGRPMODR: RAZ/WI. */
    t3_dwrite(0, GICD_SGIR, 4, (2u << 24) | 3);
    t3_dwrite(0, 0x0f20, 4, 0xffffffff);
    assert_int_equal(t3_injects(0, 3), 0);
    assert_int_equal(t3_dread(0, GICD_ITARGETSR + 40, 4), 0);
    t3_dwrite(0, GICD_IGRPMODR + 4, 4, 0xffffffff);
    assert_int_equal(t3_dread(0, GICD_IGRPMODR + 4, 4), 0);
}

static void test_reserved_offsets_and_widths(void **state)
{
    (void)state;
    t3_guest(1, 4);
    static const uint32_t reserved[] = {0x0014, 0x0040, 0x0048, 0x0e00, 0x0f80, 0x1000,
                                        0x5ffc, 0x6000, 0x60f8, 0x8000, 0xc000, 0xffcc};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        t3_dwrite(0, reserved[i], 4, 0xffffffff);
        assert_int_equal(t3_dread(0, reserved[i], 4), 0);
    }
    /* IROUTER of an SPI beyond the emulated ones: RAZ/WI. */
    t3_dwrite(0, GICD_IROUTER + 8 * 1019, 8, 1);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 1019, 8), 0);
    /* Odd widths: RAZ/WI, nothing changes, the VMM keeps going. */
    t3_dwrite(0, GICD_CTLR, 2, 3);
    t3_dwrite(0, GICD_CTLR, 8, 3);
    t3_dwrite(0, GICD_ISENABLER + 4, 1, 0xff);
    t3_dwrite(0, GICD_IROUTER + 8 * 40 + 2, 4, 1);
    t3_dwrite(0, GICD_IROUTER + 8 * 40 + 4, 8, 1);
    assert_int_equal(t3_dread(0, GICD_CTLR, 4), 0x50);
    assert_int_equal(t3_dread(0, GICD_ISENABLER + 4, 4), 0);
    assert_int_equal(t3_dread(0, GICD_CTLR, 8), 0);
    assert_int_equal(t3_dread(0, GICD_IPRIORITYR + 40, 2), 0);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40, 2), 0);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40, 8), 0); /* still routed to vCPU 0 */
    assert_int_equal(fake.crashes, 0);
}

/* IROUTER: 64-bit and 32-bit halves, delivery to the named vCPU, rerouting. */
static void test_irouter_routes_spis(void **state)
{
    (void)state;
    t3_guest(4, 4);
    t3_enable_all(4);
    assert_true(virq_register(1, 40, NULL, NULL));
    /* Registration routes the SPI to the registering vCPU: Aff0 = 1. */
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40, 8), vcpu_mpidr(1) & 0xff00ffffffull);
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 1u << 8);
    assert_true(virq_inject(1, 40));
    assert_int_equal(t3_injects(1, 40), 1);
    t3_guest_eoi_irq(1, 40);
    /* 64-bit write: route to vCPU 3. */
    t3_dwrite(0, GICD_IROUTER + 8 * 40, 8, vcpu_mpidr(3) & 0xff00ffffffull);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40, 8), 3);
    assert_true(virq_inject(1, 40));
    assert_int_equal(t3_injects(3, 40), 1);
    assert_int_equal(t3_injects(1, 40), 1);
    t3_guest_eoi_irq(3, 40);
    /* 32-bit halves (low then high): route to vCPU 2. */
    t3_dwrite(0, GICD_IROUTER + 8 * 40, 4, 2);
    t3_dwrite(0, GICD_IROUTER + 8 * 40 + 4, 4, 0);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40, 4), 2);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 40 + 4, 4), 0);
    assert_true(virq_inject(1, 40));
    assert_int_equal(t3_injects(2, 40), 1);
    /* RES0 bits are not stored. */
    t3_dwrite(0, GICD_IROUTER + 8 * 41, 8, 0xffffff0000000000ull | 0x7f000000ull | 1);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 41, 8), 1);
}

/* Attack class 18: an IROUTER naming no vCPU is accepted; the SPI waits until it is rerouted. */
static void test_irouter_naming_no_vcpu(void **state)
{
    (void)state;
    t3_guest(4, 4);
    t3_enable_all(4);
    assert_true(virq_register(0, 50, NULL, NULL));
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 1u << 18);
    static const uint64_t nobody[] = {
        4, /* Aff0 4: only 4 vCPUs */
        0xff, /* Aff0 255 */
        1u << 8, /* Aff1 1 */
        1u << 16, /* Aff2 1 */
        1ull << 32, /* Aff3 1 */
        0xff00ffffffull, /* all ones */
    };
    for (size_t i = 0; i < sizeof(nobody) / sizeof(nobody[0]); i++) {
        t3_dwrite(0, GICD_IROUTER + 8 * 50, 8, nobody[i]);
        assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 50, 8), nobody[i]); /* read back as written */
        assert_true(virq_inject(0, 50));
        assert_int_equal(fake.num_injects, 0);
    }
    assert_int_equal(t3_dread(0, GICD_ISPENDR + 4, 4), 1u << 18); /* pending, nowhere to go */
    t3_dwrite(0, GICD_IROUTER + 8 * 50, 8, 2);
    assert_int_equal(t3_injects(2, 50), 1);
    assert_int_equal(fake.num_injects, 1);
    assert_int_equal(fake.crashes, 0);
}

/* Interrupt_Routing_Mode 1: one of the awake vCPUs takes it, once. */
static void test_irouter_one_of_n(void **state)
{
    (void)state;
    t3_guest(4, 1);
    t3_dwrite(0, GICD_CTLR, 4, 0x13);
    assert_true(virq_register(0, 60, NULL, NULL));
    assert_true(virq_register(0, 61, NULL, NULL));
    t3_dwrite(0, GICD_ISENABLER + 4, 4, 3u << 28);
    t3_dwrite(0, GICD_IROUTER + 8 * 60, 8, 1ull << 31);
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 60, 8), 1ull << 31);
    /* Every redistributor asleep: nobody participates yet. */
    assert_true(virq_inject(0, 60));
    assert_int_equal(fake.num_injects, 0);
    /* vCPU 2 wakes: it takes the SPI. */
    t3_rwrite(2, 2, GICR_WAKER, 4, 0);
    assert_int_equal(t3_injects(2, 60), 1);
    assert_int_equal(fake.num_injects, 1);
    t3_guest_eoi_irq(2, 60);
    /* vCPU 1 wakes too, and its only LR is busy with SPI 61: vCPU 2 takes SPI 60 again. */
    t3_rwrite(1, 1, GICR_WAKER, 4, 0);
    t3_dwrite(0, GICD_IROUTER + 8 * 61, 8, vcpu_mpidr(1) & 0xff00ffffffull);
    assert_true(virq_inject(0, 61));
    assert_int_equal(t3_injects(1, 61), 1);
    assert_true(virq_inject(0, 60));
    assert_int_equal(t3_injects(2, 60), 2);
    assert_int_equal(t3_injects(1, 60), 0);
    /* Both free: the lowest awake vCPU takes it, and only one of them. */
    t3_guest_eoi_irq(1, 61);
    t3_guest_eoi_irq(2, 60);
    assert_true(virq_inject(0, 60));
    assert_int_equal(t3_injects(1, 60), 1);
    assert_int_equal(t3_injects(2, 60), 2);
    assert_int_equal(fake_lr_count(1, 60) + fake_lr_count(2, 60), 1);
    /* vCPU 1 goes back to sleep: the routing follows. */
    t3_guest_eoi_irq(1, 60);
    t3_rwrite(1, 1, GICR_WAKER, 4, 2);
    assert_true(virq_inject(0, 60));
    assert_int_equal(t3_injects(2, 60), 3);
    assert_int_equal(t3_injects(1, 60), 1);
}

static void test_reset_restores_routing(void **state)
{
    (void)state;
    t3_guest(2, 4);
    assert_true(virq_register(1, 45, NULL, NULL));
    t3_dwrite(0, GICD_IROUTER + 8 * 45, 8, 0);
    t3_dwrite(0, GICD_IROUTER + 8 * 46, 8, 1);
    t3_enable_all(2);
    vgic_reset();
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 45, 8), 1); /* back to the registering vCPU */
    assert_int_equal(t3_dread(0, GICD_IROUTER + 8 * 46, 8), 0);
    assert_int_equal(t3_dread(0, GICD_CTLR, 4), 0x50);
    assert_int_equal(t3_rread(0, 1, GICR_WAKER, 4), 6); /* asleep again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_and_type_registers),
        cmocka_unit_test(test_ctlr_are_ds_and_group_enables),
        cmocka_unit_test(test_spi_enable_pending_priority_and_delivery),
        cmocka_unit_test(test_sgi_ppi_range_and_legacy_registers_raz_wi),
        cmocka_unit_test(test_reserved_offsets_and_widths),
        cmocka_unit_test(test_irouter_routes_spis),
        cmocka_unit_test(test_irouter_naming_no_vcpu),
        cmocka_unit_test(test_irouter_one_of_n),
        cmocka_unit_test(test_reset_restores_routing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
