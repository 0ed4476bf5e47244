/*
 * vCPU helpers (src/vcpu.c): seL4_UserContext index mapping, boot/reset,
 * power state, MPIDR mapping, external-abort injection, decoded dumps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/guest.h>
#include "fake_microkit.h"
#include "vcpu.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE 0x100000ull

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static int setup(void **state)
{
    (void)state;
    fake_microkit_reset();
    struct guest_config cfg = {
        .num_vcpus = 4,
        .num_ram_regions = 1,
        .ram = {{.gpa = RAM_GPA, .size = RAM_SIZE, .vmm_vaddr = (uintptr_t)ram}},
        .gic_version = GIC_VERSION_2,
        .gicd_gpa = 0x8000000,
    };
    assert_true(guest_init(&cfg));
    for (size_t i = 0; i < 4; i++) {
        vcpu_power_off(i);
    }
    fake_microkit_reset();
    return 0;
}

static void test_ctx_index_matches_sel4_order(void **state)
{
    (void)state;
    /* ABI 3.4: pc, sp, spsr, x0..x8, x16, x17, x18, x29, x30, x9..x15, x19..x28. */
    static const struct {
        unsigned reg;
        size_t index;
    } table[] = {
        {0, 3},   {1, 4},   {7, 10},  {8, 11},  {9, 17},  {15, 23}, {16, 12},
        {17, 13}, {18, 14}, {19, 24}, {28, 33}, {29, 15}, {30, 16},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(vcpu_ctx_index(table[i].reg), table[i].index);
        assert_int_equal(vcpu_ctx_count_for(table[i].reg), table[i].index + 1);
    }
    assert_int_equal(vcpu_ctx_index(31), VCPU_CTX_NONE);
    assert_int_equal(vcpu_ctx_count_for(31), 1);
    /* Every x0..x30 has its own slot. */
    bool used[SEL4_USER_CONTEXT_SIZE] = {false};
    for (unsigned r = 0; r < 31; r++) {
        size_t idx = vcpu_ctx_index(r);
        assert_true(idx >= 3 && idx < 34);
        assert_false(used[idx]);
        used[idx] = true;
    }
}

static void test_ctx_get_set_by_name(void **state)
{
    (void)state;
    seL4_UserContext ctx;
    memset(&ctx, 0, sizeof(ctx));
    for (unsigned r = 0; r < 31; r++) {
        vcpu_ctx_set_gpr(&ctx, r, 0x1000 + r);
    }
    vcpu_ctx_set_gpr(&ctx, 31, 0xdead); /* XZR: ignored */
    assert_int_equal(ctx.x0, 0x1000);
    assert_int_equal(ctx.x8, 0x1008);
    assert_int_equal(ctx.x9, 0x1009);
    assert_int_equal(ctx.x16, 0x1010);
    assert_int_equal(ctx.x18, 0x1012);
    assert_int_equal(ctx.x19, 0x1013);
    assert_int_equal(ctx.x28, 0x101c);
    assert_int_equal(ctx.x29, 0x101d);
    assert_int_equal(ctx.x30, 0x101e);
    assert_int_equal(ctx.pc, 0);
    assert_int_equal(ctx.sp, 0);
    assert_int_equal(ctx.spsr, 0);
    assert_int_equal(ctx.tpidr_el0, 0);
    assert_int_equal(vcpu_ctx_get_gpr(&ctx, 31), 0);
    assert_int_equal(vcpu_ctx_get_gpr(&ctx, 17), 0x1011);
}

static void test_mpidr_mapping(void **state)
{
    (void)state;
    size_t v = 99;
    assert_int_equal(vcpu_mpidr(0), 0x80000000ull);
    assert_int_equal(vcpu_mpidr(3), 0x80000003ull);
    assert_true(vcpu_from_mpidr(3, &v));
    assert_int_equal(v, 3);
    assert_true(vcpu_from_mpidr(2, &v));
    assert_int_equal(v, 2);
    /* PSCI target affinity (DEN0022 5.1.4): bits 24 (MT), 30 (U) and 31 must be zero. */
    assert_false(vcpu_from_mpidr(0x80000003ull, &v));
    assert_false(vcpu_from_mpidr(0x40000001ull, &v));
    assert_false(vcpu_from_mpidr(0x01000001ull, &v));
    assert_false(vcpu_from_mpidr(4, &v)); /* only 4 vCPUs */
    assert_false(vcpu_from_mpidr(0x100, &v)); /* Aff1 = 1 */
    assert_false(vcpu_from_mpidr(0x100000000ull, &v)); /* Aff3 = 1 */
    assert_false(vcpu_from_mpidr(0x10000000000ull, &v)); /* RES0 bit 40 */
    assert_false(vcpu_from_mpidr(~0ull, &v));
}

static void test_boot_resets_everything_in_one_write(void **state)
{
    (void)state;
    struct fake_vcpu *f = &fake.vcpu[2];
    for (unsigned i = 0; i < seL4_VCPUReg_Num; i++) {
        f->sysregs[i] = 0xbad0000 + i;
    }
    memset(&f->regs, 0x5a, sizeof(f->regs));
    assert_int_equal(vcpu_power_state(2), VCPU_POWER_OFF);
    assert_true(vcpu_boot(2, RAM_GPA + 0x80000, 0xc0ffee));
    assert_int_equal(vcpu_power_state(2), VCPU_POWER_ON);
    assert_int_equal(f->reg_writes, 1);
    assert_int_equal(f->last_write_count, 36);
    assert_int_equal(f->resumes, 1);
    assert_true(f->runnable);
    /* A VPPIEvent cancelled by the Suspend before this boot left the timer PPI masked: re-armed (ABI 3.6). */
    assert_int_equal(f->vppi_acks, 1);
    assert_int_equal(fake.vcpu[1].vppi_acks, 0);
    assert_int_equal(f->regs.pc, RAM_GPA + 0x80000);
    assert_int_equal(f->regs.spsr, 0x3c5);
    assert_int_equal(f->regs.x0, 0xc0ffee);
    assert_int_equal(f->regs.x1, 0);
    assert_int_equal(f->regs.x30, 0);
    assert_int_equal(f->regs.x28, 0);
    assert_int_equal(f->regs.sp, 0);
    assert_int_equal(f->regs.tpidrro_el0, 0);
    uint64_t sctlr = f->sysregs[seL4_VCPUReg_SCTLR];
    assert_int_equal(sctlr & 0x30d00800u, 0x30d00800u); /* RES1 */
    assert_int_equal(sctlr & ((1u << 0) | (1u << 2) | (1u << 12)), 0); /* M, C, I off */
    assert_int_equal(f->sysregs[seL4_VCPUReg_VMPIDR_EL2], 0x80000002ull);
    for (unsigned i = 0; i < seL4_VCPUReg_Num; i++) {
        if (i != seL4_VCPUReg_SCTLR && i != seL4_VCPUReg_VMPIDR_EL2) {
            assert_int_equal(f->sysregs[i], 0);
        }
    }
    /* Other vCPUs untouched. */
    assert_int_equal(fake.vcpu[1].reg_writes, 0);
    assert_int_equal(vcpu_power_state(1), VCPU_POWER_OFF);
}

static void test_boot_and_power_off_invalid_ids(void **state)
{
    (void)state;
    assert_false(vcpu_boot(4, RAM_GPA, 0));
    assert_false(vcpu_boot(1000, RAM_GPA, 0));
    vcpu_power_off(1000);
    assert_int_equal(vcpu_power_state(1000), VCPU_POWER_OFF);
    assert_int_equal(fake.crashes, 0);
}

static void test_power_off_suspends(void **state)
{
    (void)state;
    assert_true(vcpu_boot(1, RAM_GPA, 0));
    vcpu_power_off(1);
    assert_int_equal(vcpu_power_state(1), VCPU_POWER_OFF);
    assert_int_equal(fake.vcpu[1].stops, 1);
    assert_false(fake.vcpu[1].runnable);
}

static void inject(uint64_t spsr, bool instruction, uint64_t expect_pc, uint32_t expect_esr)
{
    fake.vcpu[0].sysregs[seL4_VCPUReg_VBAR] = 0xffff800010000000ull;
    seL4_UserContext ctx = {.pc = 0xffff800012345678ull, .sp = 0, .spsr = spsr};
    assert_true(vcpu_inject_external_abort(0, &ctx, instruction));
    assert_int_equal(ctx.pc, expect_pc);
    assert_int_equal(ctx.spsr, 0x3c5);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ELR_EL1], 0xffff800012345678ull);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_SPSR_EL1], spsr);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ESR], expect_esr);
}

static void test_inject_external_abort_vectors(void **state)
{
    (void)state;
    const uint64_t vbar = 0xffff800010000000ull;
    /* EL1h: current EL with SPx, EC 0x25, IL, FnV, DFSC 0x10. */
    inject(0x3c5, false, vbar + 0x200, 0x96000410);
    /* EL1t: current EL with SP0. */
    inject(0x3c4, false, vbar + 0x000, 0x96000410);
    /* EL0 AArch64: lower EL, EC 0x24. */
    inject(0x0, false, vbar + 0x400, 0x92000410);
    /* EL0 AArch32: lower EL using AArch32. */
    inject(0x10, false, vbar + 0x600, 0x92000410);
    /* Instruction aborts: EC 0x21 / 0x20, FAR = the faulting pc. */
    inject(0x5, true, vbar + 0x200, 0x86000010);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_FAR], 0xffff800012345678ull);
    inject(0x0, true, vbar + 0x400, 0x82000010);
    seL4_UserContext ctx = {0};
    assert_false(vcpu_inject_external_abort(7, &ctx, false));
    assert_int_equal(fake.crashes, 0);
}

static void test_dump_is_decoded(void **state)
{
    (void)state;
    struct fake_vcpu *f = &fake.vcpu[1];
    f->regs.pc = 0x40080000;
    f->regs.spsr = 0x3c5;
    f->regs.x17 = 0x1717171717171717ull;
    f->regs.x30 = 0x3030303030303030ull;
    f->sysregs[seL4_VCPUReg_ESR] = 0x96000050;
    f->sysregs[seL4_VCPUReg_VBAR] = 0xffff800011110000ull;
    vcpu_dump(1, "testing the dump");
    assert_true(fake_console_contains("vCPU 1: testing the dump"));
    assert_true(fake_console_contains("pc 0x0000000040080000"));
    assert_true(fake_console_contains("EL1h, DAIF DAIF"));
    assert_true(fake_console_contains("x17 0x1717171717171717"));
    assert_true(fake_console_contains("x30 0x3030303030303030"));
    assert_true(fake_console_contains("VBAR_EL1 0xffff800011110000"));
    assert_true(fake_console_contains("ESR_EL1 0x96000050: EC 0x25 (data abort without EL change)"));
    assert_true(fake_console_contains("SCTLR_EL1"));
    assert_true(fake_console_contains("ELR_EL1"));
    assert_true(fake_console_contains("FAR_EL1"));
    assert_true(fake_console_contains("SPSR_EL1"));
}

static void test_esr_names(void **state)
{
    (void)state;
    assert_string_equal(vcpu_esr_ec_name(0x17), "SMC");
    assert_string_equal(vcpu_esr_ec_name(0x01), "WFI/WFE");
    assert_string_equal(vcpu_esr_ec_name(0x18), "MSR/MRS/system instruction");
    assert_string_equal(vcpu_esr_ec_name(0x3f), "unknown EC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ctx_index_matches_sel4_order, setup),
        cmocka_unit_test_setup(test_ctx_get_set_by_name, setup),
        cmocka_unit_test_setup(test_mpidr_mapping, setup),
        cmocka_unit_test_setup(test_boot_resets_everything_in_one_write, setup),
        cmocka_unit_test_setup(test_boot_and_power_off_invalid_ids, setup),
        cmocka_unit_test_setup(test_power_off_suspends, setup),
        cmocka_unit_test_setup(test_inject_external_abort_vectors, setup),
        cmocka_unit_test_setup(test_dump_is_decoded, setup),
        cmocka_unit_test_setup(test_esr_names, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
