/*
 * GICv2 distributor registers as the guest sees them (IHI 0048B section 4.3,
 * DESIGN section 5), including hostile accesses (guest-attack-classes 11, 18).
 */
#include "test_vgic_helpers.h"

static void test_id_registers(void **state)
{
    (void)state;
    t_guest(3, 4);
    /* 288 interrupt lines (ITLinesNumber 8), 3 CPU interfaces, no Security Extensions. */
    assert_int_equal(t_read(0, GICD_TYPER, 4), 8 | (2 << 5));
    assert_int_equal(t_read(0, GICD_IIDR, 4), 0x4c00043b);
    uint32_t pidr2 = t_read(0, GICD_PIDR2, 4);
    assert_int_equal((pidr2 >> 4) & 0xf, 2); /* ArchRev: GICv2 */
    assert_int_equal(pidr2, 0x2b);
    assert_int_equal(t_read(0, 0xfd0, 4), 0x04); /* PIDR4: JEP106 continuation of 0x43b */
    assert_int_equal(t_read(0, 0xfe0, 4), 0x4c);
    assert_int_equal(t_read(0, 0xfe4, 4), 0xb0);
    static const uint32_t cidr[4] = {0x0d, 0xf0, 0x05, 0xb1};
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(t_read(0, 0xff0 + 4 * i, 4), cidr[i]);
    }
    /* Read-only: writes ignored. */
    t_write(0, GICD_TYPER, 4, 0);
    t_write(0, GICD_IIDR, 4, 0);
    t_write(0, GICD_PIDR2, 4, 0);
    assert_int_equal(t_read(0, GICD_TYPER, 4), 8 | (2 << 5));
    assert_int_equal(t_read(0, GICD_PIDR2, 4), 0x2b);
    t_guest(1, 4);
    assert_int_equal(t_read(0, GICD_TYPER, 4), 8);
}

static void test_reserved_offsets_raz_wi(void **state)
{
    (void)state;
    t_guest(2, 4);
    static const uint32_t reserved[] = {0x00c, 0x010, 0x040, 0x07c, 0x0a4, 0x0fc, 0x17c, 0x7fc,
                                        0xbfc, 0xd00, 0xdfc, 0xe00, 0xefc, 0xf04, 0xf30, 0xfcc};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        t_write(1, reserved[i], 4, 0xffffffff);
        assert_int_equal(t_read(1, reserved[i], 4), 0);
    }
    /* Unimplemented INTIDs (>= 288) in implemented arrays are RAZ/WI too. */
    t_write(0, GICD_ISENABLER + 9 * 4, 4, 0xffffffff);
    assert_int_equal(t_read(0, GICD_ISENABLER + 9 * 4, 4), 0);
    t_write(0, GICD_IPRIORITYR + 300, 1, 0xff);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 300, 1), 0);
    assert_int_equal(t_read(0, GICD_SGIR, 4), 0); /* write-only */
    assert_int_equal(fake.crashes, 0);
}

static void test_wrong_widths_raz_wi(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_write(0, GICD_CTLR, 1, 1);
    assert_int_equal(t_read(0, GICD_CTLR, 4), 0);
    t_write(0, GICD_CTLR, 2, 1);
    t_write(0, GICD_CTLR, 8, 1);
    assert_int_equal(t_read(0, GICD_CTLR, 4), 0);
    t_write(0, GICD_CTLR, 4, 1);
    assert_int_equal(t_read(0, GICD_CTLR, 1), 0);
    assert_int_equal(t_read(0, GICD_CTLR, 2), 0);
    assert_int_equal(t_read(0, GICD_TYPER, 8), 0);
    assert_int_equal(t_read(0, GICD_CTLR, 4), 1);
    /* Byte access to a word-only bit array, halfword to a byte array, misaligned word. */
    t_write(0, GICD_ISENABLER + 5, 1, 0xff);
    assert_int_equal(t_read(0, GICD_ISENABLER + 4, 4), 0);
    t_write(0, GICD_IPRIORITYR + 40, 2, 0xffff);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 40, 4), 0);
    t_write(0, GICD_IPRIORITYR + 42, 4, 0xffffffff);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 40, 4), 0);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 41, 4), 0);
    assert_true(fake_console_contains("not a supported access"));
}

static void test_priority_byte_and_word_access(void **state)
{
    (void)state;
    t_guest(2, 4);
    t_write(0, GICD_IPRIORITYR + 40, 1, 0xa5);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 40, 1), 0xa0); /* 5 bits implemented */
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 40, 4), 0xa0);
    t_write(0, GICD_IPRIORITYR + 44, 4, 0x11223344);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 44, 4), 0x10203040);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 46, 1), 0x20);
    t_write(0, GICD_IPRIORITYR + 47, 1, 0xff);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 44, 4), 0xf8203040);
    /* SGI/PPI priorities are banked per vCPU; SPIs are shared. */
    t_write(1, GICD_IPRIORITYR + 3, 1, 0x60);
    t_write(1, GICD_IPRIORITYR + 27, 1, 0x70);
    assert_int_equal(t_read(1, GICD_IPRIORITYR + 3, 1), 0x60);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 3, 1), 0);
    assert_int_equal(t_read(0, GICD_IPRIORITYR + 27, 1), 0);
    assert_int_equal(t_read(1, GICD_IPRIORITYR + 40, 1), 0xa0);
}

static void test_targets_byte_and_word_access(void **state)
{
    (void)state;
    t_guest(2, 4);
    /* SGIs/PPIs: read-only, each byte is the reader's own bit. */
    assert_int_equal(t_read(0, GICD_ITARGETSR, 4), 0x01010101);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 28, 4), 0x02020202);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 5, 1), 0x02);
    t_write(1, GICD_ITARGETSR + 5, 1, 0x01);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 5, 1), 0x02);
    /* SPIs: bits naming CPU interfaces that do not exist are RAZ/WI. */
    t_write(0, GICD_ITARGETSR + 40, 1, 0xff);
    assert_int_equal(t_read(0, GICD_ITARGETSR + 40, 1), 0x03);
    t_write(0, GICD_ITARGETSR + 44, 4, 0x01020300);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 44, 4), 0x01020300);
    assert_int_equal(t_read(1, GICD_ITARGETSR + 45, 1), 0x03);
    /* A registered SPI starts out targeting its vCPU. */
    assert_true(virq_register(1, 50, NULL, NULL));
    assert_int_equal(t_read(0, GICD_ITARGETSR + 50, 1), 0x02);
}

static void test_target_change_delivers(void **state)
{
    (void)state;
    t_guest(2, 4);
    t_dist_enable();
    assert_true(virq_register(0, 42, NULL, NULL));
    t_enable(0, 42);
    t_write(0, GICD_ITARGETSR + 42, 1, 0);
    assert_true(virq_inject(0, 42));
    assert_int_equal(fake.num_injects, 0); /* no target: stays pending */
    assert_true(t_get_bit(0, GICD_ISPENDR, 42));
    t_write(0, GICD_ITARGETSR + 42, 1, 0x2);
    assert_int_equal(t_injects(1, 42), 1);
    assert_int_equal(t_injects(0, 42), 0);
}

static void test_icfgr(void **state)
{
    (void)state;
    t_guest(1, 4);
    assert_int_equal(t_read(0, GICD_ICFGR, 4), 0xaaaaaaaa); /* SGIs: edge, read-only */
    t_write(0, GICD_ICFGR, 4, 0);
    assert_int_equal(t_read(0, GICD_ICFGR, 4), 0xaaaaaaaa);
    assert_int_equal(t_read(0, GICD_ICFGR + 4, 4), 0); /* PPIs: level at reset, programmable */
    t_write(0, GICD_ICFGR + 4, 4, 0xffffffff);
    assert_int_equal(t_read(0, GICD_ICFGR + 4, 4), 0xaaaaaaaa); /* Int_config[0] is reserved */
    t_write(0, GICD_ICFGR + 8, 4, 0x2);
    assert_int_equal(t_read(0, GICD_ICFGR + 8, 4), 0x2);
}

static void test_enable_pending_active_group_bits(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_write(0, GICD_ISENABLER + 4, 4, 0x5);
    assert_int_equal(t_read(0, GICD_ISENABLER + 4, 4), 0x5);
    assert_int_equal(t_read(0, GICD_ICENABLER + 4, 4), 0x5);
    t_write(0, GICD_ICENABLER + 4, 4, 0x1);
    assert_int_equal(t_read(0, GICD_ISENABLER + 4, 4), 0x4);
    t_write(0, GICD_ICENABLER, 4, 0xffff0000); /* as Linux does: PPIs off, SGIs kept */
    assert_int_equal(t_read(0, GICD_ISENABLER, 4), 0xffff);
    t_write(0, GICD_ISACTIVER + 4, 4, 0x30);
    assert_int_equal(t_read(0, GICD_ICACTIVER + 4, 4), 0x30);
    t_write(0, GICD_ICACTIVER + 4, 4, 0x10);
    assert_int_equal(t_read(0, GICD_ISACTIVER + 4, 4), 0x20);
    t_write(0, GICD_IGROUPR + 4, 4, 0x3);
    assert_int_equal(t_read(0, GICD_IGROUPR + 4, 4), 0x3);
    /* SGI pending bits in ISPENDR0/ICPENDR0 are WI (use SPENDSGIR). */
    t_write(0, GICD_ISPENDR, 4, 0x2);
    assert_int_equal(t_read(0, GICD_ISPENDR, 4), 0);
}

static void test_active_blocks_delivery_until_deactivated(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_dist_enable();
    t_write(0, GICD_ITARGETSR + 40, 1, 0x1);
    t_set_bit(0, GICD_ISACTIVER, 40);
    t_set_bit(0, GICD_ISPENDR, 40);
    t_enable(0, 40);
    assert_int_equal(fake.num_injects, 0);
    t_set_bit(0, GICD_ICACTIVER, 40);
    assert_int_equal(t_injects(0, 40), 1);
}

static void test_group_enables(void **state)
{
    (void)state;
    t_guest(1, 4);
    t_write(0, GICD_ITARGETSR + 40, 1, 0x1);
    t_set_bit(0, GICD_IGROUPR, 40);
    t_set_bit(0, GICD_ISPENDR, 40);
    t_enable(0, 40);
    t_write(0, GICD_CTLR, 4, 1); /* EnableGrp0 only */
    assert_int_equal(fake.num_injects, 0);
    t_write(0, GICD_CTLR, 4, 3);
    assert_int_equal(t_read(0, GICD_CTLR, 4), 3);
    assert_int_equal(t_injects(0, 40), 1);
    assert_int_equal(fake.injects[0].group, 1);
    t_write(0, GICD_CTLR, 4, 0xfffffffc); /* reserved bits RAZ/WI */
    assert_int_equal(t_read(0, GICD_CTLR, 4), 0);
}

static unsigned sgi_injects(size_t vcpu, unsigned sgi)
{
    return t_injects(vcpu, sgi);
}

static void test_sgir_target_filters(void **state)
{
    (void)state;
    t_guest(4, 4);
    t_dist_enable();
    /* Filter 0: list 0b0110 from vCPU 0. */
    t_write(0, GICD_SGIR, 4, (0u << 24) | (0x06u << 16) | 3);
    assert_int_equal(sgi_injects(0, 3), 0);
    assert_int_equal(sgi_injects(1, 3), 1);
    assert_int_equal(sgi_injects(2, 3), 1);
    assert_int_equal(sgi_injects(3, 3), 0);
    /* Targets naming vCPUs 4..7, which do not exist: ignored, nothing breaks (XSA-225). */
    t_write(0, GICD_SGIR, 4, (0xf0u << 16) | 4);
    assert_int_equal(fake.num_injects, 2);
    t_write(1, GICD_SGIR, 4, (0xffu << 16) | 5);
    for (size_t v = 0; v < 4; v++) {
        assert_int_equal(sgi_injects(v, 5), 1);
    }
    /* Filter 1: everyone but the sender. */
    t_write(2, GICD_SGIR, 4, (1u << 24) | (0x00u << 16) | 6);
    assert_int_equal(sgi_injects(0, 6) + sgi_injects(1, 6) + sgi_injects(3, 6), 3);
    assert_int_equal(sgi_injects(2, 6), 0);
    /* Filter 2: the sender only (the target list is ignored). NSATT is ignored (no Security Extensions). */
    t_write(3, GICD_SGIR, 4, (2u << 24) | (0x01u << 16) | (1u << 15) | 7);
    assert_int_equal(sgi_injects(3, 7), 1);
    assert_int_equal(sgi_injects(0, 7) + sgi_injects(1, 7) + sgi_injects(2, 7), 0);
    /* Filter 3 is reserved. */
    size_t before = fake.num_injects;
    t_write(0, GICD_SGIR, 4, (3u << 24) | (0x0fu << 16) | 8);
    assert_int_equal(fake.num_injects, before);
    t_assert_lrs_unique(4);
    assert_int_equal(fake.crashes, 0);
}

static void test_sgi_sources_and_pending_registers(void **state)
{
    (void)state;
    t_guest(3, 4);
    /* Distributor off: SGIs stay pending, per source. */
    t_write(2, GICD_SGIR, 4, (0x02u << 16) | 5);
    t_write(0, GICD_SGIR, 4, (0x02u << 16) | 5);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 5, 1), 0x05);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 4, 4), 0x0500);
    assert_int_equal(t_read(0, GICD_SPENDSGIR + 5, 1), 0);
    assert_true(t_get_bit(1, GICD_ISPENDR, 5));
    /* SPENDSGIR sets sources (bits of absent vCPUs dropped); CPENDSGIR clears them. */
    t_write(1, GICD_SPENDSGIR + 5, 1, 0xf2);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 5, 1), 0x07);
    t_write(1, GICD_CPENDSGIR + 5, 1, 0x01);
    assert_int_equal(t_read(1, GICD_CPENDSGIR + 5, 1), 0x06);
    t_write(1, GICD_CPENDSGIR + 4, 4, 0x00000000);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 5, 1), 0x06);
    /* Two sources: two deliveries, one at a time, never in two LRs. */
    t_dist_enable();
    assert_int_equal(sgi_injects(1, 5), 1);
    assert_int_equal(fake_lr_count(1, 5), 1);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 5, 1), 0x04);
    t_guest_eoi_irq(1, 5);
    assert_int_equal(sgi_injects(1, 5), 2);
    assert_int_equal(t_read(1, GICD_SPENDSGIR + 5, 1), 0);
    t_guest_eoi_irq(1, 5);
    assert_int_equal(sgi_injects(1, 5), 2);
    assert_false(t_get_bit(1, GICD_ISPENDR, 5));
    /* Cleared before delivery: never delivered. */
    t_write(0, GICD_CTLR, 4, 0);
    t_write(0, GICD_SGIR, 4, (0x02u << 16) | 9);
    t_write(1, GICD_CPENDSGIR + 8, 4, 0x0000ff00);
    t_dist_enable();
    assert_int_equal(sgi_injects(1, 9), 0);
}

static void test_access_through_fault_path(void **state)
{
    (void)state;
    t_guest(2, 4);
    /* LDR W1, [Xn] at GICD_TYPER on vCPU 1: EC 0x24, IL, ISV, SAS=2, SRT=1, DFSC translation L3. */
    fake.vcpu[1].regs.pc = T_RAM_GPA + 0x100;
    fake.vcpu[1].regs.x1 = 0xffffffffffffffffull;
    seL4_Word mrs[4] = {T_RAM_GPA + 0x100, T_GICD + GICD_TYPER, 0,
                        (0x24u << 26) | (1u << 25) | (1u << 24) | (2u << 22) | (1u << 16) | 0x07};
    microkit_msginfo reply;
    assert_true(fault_handle(1, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_int_equal(fake.vcpu[1].regs.x1, 8 | (1 << 5));
    assert_int_equal(fake.vcpu[1].regs.pc, T_RAM_GPA + 0x104);
}

/* GICv3 is supported (test_vgic_v3_*.c); a GICv3 layout the architecture does not allow is still refused. */
static void test_gicv3_refused(void **state)
{
    (void)state;
    fake_microkit_reset();
    mmio_reset();
    struct guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.num_vcpus = 1;
    cfg.num_ram_regions = 1;
    cfg.ram[0].gpa = T_RAM_GPA;
    cfg.ram[0].size = sizeof(t_ram);
    cfg.ram[0].vmm_vaddr = (uintptr_t)t_ram;
    cfg.gic_version = GIC_VERSION_3;
    cfg.gicd_gpa = T_GICD;
    cfg.gicr_gpa = 0x080a1000; /* redistributor frames are 64 KiB aligned (IHI 0069 12.10) */
    assert_true(guest_init(&cfg));
    assert_false(virq_controller_init(0));
    assert_true(fake_console_contains("64 KiB aligned"));
    assert_false(virq_register(0, 40, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_registers),
        cmocka_unit_test(test_reserved_offsets_raz_wi),
        cmocka_unit_test(test_wrong_widths_raz_wi),
        cmocka_unit_test(test_priority_byte_and_word_access),
        cmocka_unit_test(test_targets_byte_and_word_access),
        cmocka_unit_test(test_target_change_delivers),
        cmocka_unit_test(test_icfgr),
        cmocka_unit_test(test_enable_pending_active_group_bits),
        cmocka_unit_test(test_active_blocks_delivery_until_deactivated),
        cmocka_unit_test(test_group_enables),
        cmocka_unit_test(test_sgir_target_filters),
        cmocka_unit_test(test_sgi_sources_and_pending_registers),
        cmocka_unit_test(test_access_through_fault_path),
        cmocka_unit_test(test_gicv3_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
