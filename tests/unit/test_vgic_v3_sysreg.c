/*
 * Trapped GICv3 system registers through fault_handle() (VCPUFault, ESR EC
 * 0x18): ICC_SGI1R_EL1 with every target form (attack class 11, Xen
 * XSA-225: names of vCPUs that do not exist), ICC_SGI0R/ASGI1R groups,
 * ICC_SRE_EL1 (trapped on seL4, never on QEMU), other ICC registers RAZ/WI,
 * UNDEFINED for anything else, and GICv2 and GICv3 in one binary.
 */
#include "test_vgic_v3_helpers.h"

#define ESR_UNDEF_EL1 0x02000000u /* EC 0x00, IL 1 */

/* No SGI raised anywhere since the last check. */
static void assert_no_injects(void)
{
    assert_int_equal(fake.num_injects, 0);
}

/* The SGI reached exactly the vCPUs in `mask` (once each) and no other. */
static void assert_sgi_targets(size_t n, unsigned sgi, uint8_t mask)
{
    for (size_t v = 0; v < n; v++) {
        assert_int_equal(t3_injects(v, sgi), (mask >> v) & 1);
    }
}

static void test_sgi1r_target_list(void **state)
{
    (void)state;
    t3_guest(4, 4);
    t3_enable_all(4);
    /* vCPUs 1 and 3 in cluster 0.0.0, from vCPU 0. */
    t3_sgi1r(0, t3_sgir(3, 0, 0, 0, 0, (1u << 1) | (1u << 3)));
    assert_sgi_targets(4, 3, 0xa);
    /* The list may include the sender. */
    t3_sgi1r(2, t3_sgir(4, 0, 0, 0, 0, (1u << 2) | 1u));
    assert_sgi_targets(4, 4, 0x5);
    /* Names of vCPUs that do not exist (Aff0 4..15) are ignored. */
    t3_sgi1r(1, t3_sgir(5, 0, 0, 0, 0, 0xfff0 | (1u << 0)));
    assert_sgi_targets(4, 5, 0x1);
    t3_sgi1r(1, t3_sgir(6, 0, 0, 0, 0, 0));
    assert_sgi_targets(4, 6, 0);
}

/* Affinity paths that name no vCPU: Aff1/Aff2/Aff3 != 0, RS != 0. Nothing is raised, nothing breaks. */
static void test_sgi1r_affinity_naming_nobody(void **state)
{
    (void)state;
    t3_guest(4, 4);
    t3_enable_all(4);
    t3_sgi1r(0, t3_sgir(1, 0, 0, 1, 0, 0xffff)); /* Aff1 = 1 */
    t3_sgi1r(0, t3_sgir(1, 0, 1, 0, 0, 0xffff)); /* Aff2 = 1 */
    t3_sgi1r(0, t3_sgir(1, 1, 0, 0, 0, 0xffff)); /* Aff3 = 1 */
    t3_sgi1r(0, t3_sgir(1, 0, 0, 0, 1, 0xffff)); /* RS = 1: Aff0 16..31 */
    t3_sgi1r(0, t3_sgir(1, 0, 0, 0, 15, 0xffff)); /* RS = 15 */
    t3_sgi1r(0, t3_sgir(1, 0xff, 0xff, 0xff, 0xf, 0xffff));
    assert_no_injects();
    /* RES0 bits set around a valid request do not widen it. */
    t3_sgi1r(0, t3_sgir(1, 0, 0, 0, 0, 1u << 2) | (0xffull << 56) | (0x7ull << 41) | (0xfull << 28));
    assert_sgi_targets(4, 1, 0x4);
    assert_int_equal(fake.crashes, 0);
}

static void test_sgi1r_irm_all_but_self(void **state)
{
    (void)state;
    t3_guest(4, 4);
    t3_enable_all(4);
    /* IRM = 1: every vCPU but the sender; affinity fields and target list are ignored. */
    t3_sgi1r(2, (1ull << 40) | t3_sgir(7, 0, 0, 3, 0, 1u << 2));
    assert_sgi_targets(4, 7, 0xb);
    /* A single-vCPU guest: nobody else to tell. */
    t3_guest(1, 4);
    t3_enable_all(1);
    t3_sgi1r(0, 1ull << 40 | (8ull << 24));
    assert_no_injects();
}

static void test_sgi1r_register_forms(void **state)
{
    (void)state;
    t3_guest(2, 4);
    t3_enable_all(2);
    /* Xt = x30 (the last context word) and XZR (SGI 0 to nobody: empty list). */
    fake.vcpu[0].regs.x30 = t3_sgir(9, 0, 0, 0, 0, 2);
    uint64_t pc = fake.vcpu[0].regs.pc;
    unsigned reads = fake.vcpu[0].reg_reads, writes = fake.vcpu[0].reg_writes;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 5, 30, false)));
    assert_int_equal(fake.vcpu[0].regs.pc, pc + 4);
    assert_sgi_targets(2, 9, 0x2);
    /* Register traffic: one read up to Xt, one write of pc alone. */
    assert_int_equal(fake.vcpu[0].reg_reads, reads + 1);
    assert_int_equal(fake.vcpu[0].reg_writes, writes + 1);
    assert_int_equal(fake.vcpu[0].last_read_count, vcpu_ctx_count_for(30));
    assert_int_equal(fake.vcpu[0].last_write_count, 1);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 5, 31, false)));
    assert_int_equal(fake.vcpu[0].regs.pc, pc + 8);
    assert_int_equal(t3_injects(0, 0) + t3_injects(1, 0), 0);
    /* A disabled SGI stays pending and arrives on enable. */
    t3_rwrite(1, 1, GICR_ICENABLER0, 4, 1u << 10);
    t3_sgi1r(0, t3_sgir(10, 0, 0, 0, 0, 2));
    assert_int_equal(t3_injects(1, 10), 0);
    assert_int_equal(t3_rread(1, 1, GICR_ISPENDR0, 4), 1u << 10);
    t3_rwrite(1, 1, GICR_ISENABLER0, 4, 1u << 10);
    assert_int_equal(t3_injects(1, 10), 1);
}

/* ICC_SGI0R_EL1 and ICC_ASGI1R_EL1 raise only group-0 SGIs; ICC_SGI1R_EL1 either group (GICD_CTLR.DS = 1). */
static void test_sgi0r_asgi1r_groups(void **state)
{
    (void)state;
    t3_guest(2, 4);
    t3_enable_all(2);
    fake.vcpu[0].regs.x2 = t3_sgir(11, 0, 0, 0, 0, 2);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 7, 2, false))); /* SGI0R: SGI 11 is group 1 */
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 6, 2, false))); /* ASGI1R */
    assert_int_equal(t3_injects(1, 11), 0);
    assert_int_equal(fake.vcpu[0].regs.pc, T3_PC + 8);
    t3_rwrite(0, 1, GICR_IGROUPR0, 4, ~(1u << 11)); /* SGI 11 of vCPU 1 to group 0 */
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 7, 2, false)));
    assert_int_equal(t3_injects(1, 11), 1);
    assert_int_equal(t3_last_inject(1, 11)->group, 0);
    t3_guest_eoi_irq(1, 11);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 6, 2, false)));
    assert_int_equal(t3_injects(1, 11), 2);
    t3_guest_eoi_irq(1, 11);
    t3_sgi1r(0, t3_sgir(11, 0, 0, 0, 0, 2)); /* SGI1R reaches a group-0 SGI too */
    assert_int_equal(t3_injects(1, 11), 3);
}

static void test_sre_el1_trapped(void **state)
{
    (void)state;
    t3_guest(1, 4);
    /* MRS x3, ICC_SRE_EL1: SRE | DFB | DIB. */
    fake.vcpu[0].regs.x3 = 0x1234;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 12, 5, 3, true)));
    assert_int_equal(fake.vcpu[0].regs.x3, 0x7);
    assert_int_equal(fake.vcpu[0].regs.pc, T3_PC + 4);
    assert_int_equal(fake.vcpu[0].last_write_count, vcpu_ctx_count_for(3)); /* pc .. x3 written back */
    /* MSR ICC_SRE_EL1, x3 = 0: ignored, still reads 7. */
    fake.vcpu[0].regs.x3 = 0;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 12, 5, 3, false)));
    assert_int_equal(fake.vcpu[0].regs.pc, T3_PC + 8);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 12, 5, 4, true)));
    assert_int_equal(fake.vcpu[0].regs.x4, 0x7);
    /* MRS xzr, ICC_SRE_EL1: nothing written, pc still moves. */
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 12, 5, 31, true)));
    assert_int_equal(fake.vcpu[0].regs.pc, T3_PC + 16);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ESR], 0); /* no exception injected */
}

static void test_other_icc_registers_raz_wi(void **state)
{
    (void)state;
    t3_guest(1, 4);
    fake.vcpu[0].regs.x7 = 0xffff;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 4, 6, 0, 7, true))); /* ICC_PMR_EL1 */
    assert_int_equal(fake.vcpu[0].regs.x7, 0);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 12, 7, 7, false))); /* ICC_IGRPEN1_EL1 */
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 1, 7, false))); /* ICC_DIR_EL1 */
    assert_int_equal(fake.vcpu[0].regs.pc, T3_PC + 12);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ESR], 0);
    assert_no_injects();
}

/* The guest's exception state after an UNDEFINED at `pc` from EL1h. */
static void assert_undef_injected(size_t vcpu, uint64_t pc)
{
    assert_int_equal(fake.vcpu[vcpu].sysregs[seL4_VCPUReg_ESR], ESR_UNDEF_EL1);
    assert_int_equal(fake.vcpu[vcpu].sysregs[seL4_VCPUReg_ELR_EL1], pc);
    assert_int_equal(fake.vcpu[vcpu].sysregs[seL4_VCPUReg_SPSR_EL1], 0x3c5);
    assert_int_equal(fake.vcpu[vcpu].regs.pc, T3_VBAR + 0x200);
    assert_int_equal(fake.vcpu[vcpu].regs.spsr, 0x3c5);
}

static void test_unknown_sysreg_undefined(void **state)
{
    (void)state;
    t3_guest(2, 4);
    fake.vcpu[1].regs.x9 = 0x5555;
    /* MRS x9, S3_0_C15_C2_0 (IMPLEMENTATION DEFINED): not ours. */
    assert_true(t3_vcpu_fault(1, t3_sysreg_esr(3, 0, 15, 2, 0, 9, true)));
    assert_undef_injected(1, T3_PC);
    assert_int_equal(fake.vcpu[1].regs.x9, 0x5555); /* Xt untouched */
    assert_int_equal(fake.vcpu[1].stops, 0); /* the guest is not stopped */
    /* A read of the write-only ICC_SGI1R_EL1 is UNDEFINED too. */
    fake.vcpu[0].regs.x1 = 0x77;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 5, 1, true)));
    assert_undef_injected(0, T3_PC);
    assert_int_equal(fake.vcpu[0].regs.x1, 0x77);
    /* From EL0 (AArch64): vector + 0x400, SPSR_EL1 = the EL0 PSTATE. */
    fake.vcpu[0].regs.pc = 0x400000;
    fake.vcpu[0].regs.spsr = 0;
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 3, 9, 12, 0, 0, false)));
    assert_int_equal(fake.vcpu[0].regs.pc, T3_VBAR + 0x400);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ELR_EL1], 0x400000);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_SPSR_EL1], 0);
    assert_int_equal(fake.crashes, 0);
}

/* One library binary, both versions chosen at run time; GIC sysregs are UNDEFINED on GICv2. */
static void test_v2_and_v3_in_one_binary(void **state)
{
    (void)state;
    t3_guest_version(2, 4, GIC_VERSION_2);
    assert_int_equal((t3_dread(0, 0xfe8, 4) >> 4) & 0xf, 2);
    assert_int_equal(t3_dread(0, GICD_IIDR, 4), 0x4c00043b);
    struct mmio_access a = {.gpa = T3_GICR, .width = 4, .is_write = false};
    assert_int_equal(mmio_dispatch(0, &a), MMIO_UNCLAIMED);
    fake.vcpu[0].regs.x5 = t3_sgir(1, 0, 0, 0, 0, 2);
    assert_true(t3_vcpu_fault(0, t3_sysreg_esr(3, 0, 12, 11, 5, 5, false)));
    assert_undef_injected(0, T3_PC);
    assert_no_injects();

    t3_guest_version(2, 4, GIC_VERSION_3);
    assert_int_equal((t3_dread(0, GICD_PIDR2, 4) >> 4) & 0xf, 3);
    assert_int_equal(t3_dread(0, 0xfe8, 4), 0); /* the GICv2 ID block is gone */
    t3_enable_all(2);
    t3_sgi1r(0, t3_sgir(1, 0, 0, 0, 0, 2));
    assert_sgi_targets(2, 1, 0x2);

    t3_guest_version(1, 4, GIC_VERSION_2);
    assert_int_equal((t3_dread(0, 0xfe8, 4) >> 4) & 0xf, 2);
}

/* Invalid GICv3 layouts are refused with a reason. */
static void test_v3_config_checks(void **state)
{
    (void)state;
    static const struct {
        uint64_t gicd, gicr;
    } bad[] = {
        {0x08001000, 0x080a0000}, /* distributor not 64 KiB aligned */
        {0x08000000, 0x080a8000}, /* redistributors not 64 KiB aligned */
        {0x08000000, 0x07fe0000}, /* overlap: redistributors cover the distributor */
        {0x08000000, 0xfffffffffffe0000ull}, /* wraps */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fake_microkit_reset();
        mmio_reset();
        struct guest_config cfg;
        t3_config(&cfg, 2, GIC_VERSION_3);
        cfg.gicd_gpa = bad[i].gicd;
        cfg.gicr_gpa = bad[i].gicr;
        assert_true(guest_init(&cfg));
        assert_false(virq_controller_init(0));
        assert_int_equal(mmio_region_count(), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgi1r_target_list),          cmocka_unit_test(test_sgi1r_affinity_naming_nobody),
        cmocka_unit_test(test_sgi1r_irm_all_but_self),     cmocka_unit_test(test_sgi1r_register_forms),
        cmocka_unit_test(test_sgi0r_asgi1r_groups),        cmocka_unit_test(test_sre_el1_trapped),
        cmocka_unit_test(test_other_icc_registers_raz_wi), cmocka_unit_test(test_unknown_sysreg_undefined),
        cmocka_unit_test(test_v2_and_v3_in_one_binary),    cmocka_unit_test(test_v3_config_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
