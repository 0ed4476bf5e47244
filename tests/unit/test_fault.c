/*
 * fault_handle() end to end against the fake kernel: MMIO loads and stores
 * (extension into Xt, widths, XZR, PC advance, minimal register traffic),
 * external aborts for everything that is not an emulated access, WFx, and
 * stopping the guest with a decoded dump on traps nobody handles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/mmio.h>
#include "fake_microkit.h"
#include "mmio_decode.h"
#include "mmio_internal.h"
#include "vcpu.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE 0x100000ull
#define DEV_GPA 0x9000000ull
#define DEV_SIZE 0x1000ull
#define PC 0xffff800010203040ull
#define VBAR 0xffff800011000000ull

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static struct {
    unsigned calls;
    struct mmio_access last;
    uint64_t read_value;
    bool fail;
} dev;

static bool dev_handler(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)vcpu;
    assert_ptr_equal(cookie, &dev);
    dev.calls++;
    dev.last = *access;
    if (!access->is_write) {
        access->value = dev.read_value;
    }
    return !dev.fail;
}

static int setup(void **state)
{
    (void)state;
    fake_microkit_reset();
    struct guest_config cfg = {
        .num_vcpus = 2,
        .num_ram_regions = 1,
        .ram = {{.gpa = RAM_GPA, .size = RAM_SIZE, .vmm_vaddr = (uintptr_t)ram}},
        .gic_version = GIC_VERSION_2,
        .gicd_gpa = 0x8000000,
    };
    assert_true(guest_init(&cfg));
    mmio_reset();
    memset(&dev, 0, sizeof(dev));
    assert_true(mmio_register(DEV_GPA, DEV_SIZE, dev_handler, &dev));
    for (size_t v = 0; v < 2; v++) {
        seL4_Word *w = (seL4_Word *)&fake.vcpu[v].regs;
        for (size_t i = 0; i < SEL4_USER_CONTEXT_SIZE; i++) {
            w[i] = 0xdeadbeef00000000ull + i;
        }
        fake.vcpu[v].regs.pc = PC;
        fake.vcpu[v].regs.spsr = 0x3c5;
        fake.vcpu[v].sysregs[seL4_VCPUReg_VBAR] = VBAR;
    }
    return 0;
}

static uint32_t dabt(unsigned sas, bool sse, unsigned srt, bool sf, bool wnr, bool il)
{
    return (ESR_EC_DABT_LOWER << 26) | (il ? ESR_IL : 0) | ESR_DABT_ISV | (sas << 22) | (sse ? ESR_DABT_SSE : 0) |
           (srt << 16) | (sf ? ESR_DABT_SF : 0) | (wnr ? ESR_DABT_WNR : 0) | 0x07;
}

static bool vm_fault(size_t vcpu, uint64_t addr, uint32_t esr, bool prefetch)
{
    seL4_Word mrs[4] = {fake.vcpu[vcpu].regs.pc, addr, prefetch, esr};
    microkit_msginfo reply;
    return fault_handle(vcpu, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply);
}

static void assert_traffic(size_t vcpu, unsigned reads, seL4_Word read_count, unsigned writes, seL4_Word write_count)
{
    assert_int_equal(fake.vcpu[vcpu].reg_reads, reads);
    if (reads > 0) {
        assert_int_equal(fake.vcpu[vcpu].last_read_count, read_count);
    }
    assert_int_equal(fake.vcpu[vcpu].reg_writes, writes);
    if (writes > 0) {
        assert_int_equal(fake.vcpu[vcpu].last_write_count, write_count);
    }
}

/* ---- loads ---- */

static void test_load_byte_sign_extended_to_x(void **state)
{
    (void)state;
    dev.read_value = 0x1234567880; /* only the low byte is the access */
    seL4_Word x4 = fake.vcpu[0].regs.x4;
    assert_true(vm_fault(0, DEV_GPA + 0x10, dabt(0, true, 5, true, false, true), false));
    assert_int_equal(dev.calls, 1);
    assert_false(dev.last.is_write);
    assert_int_equal(dev.last.width, 1);
    assert_int_equal(dev.last.offset, 0x10);
    assert_int_equal(dev.last.gpa, DEV_GPA + 0x10);
    assert_int_equal(fake.vcpu[0].regs.x5, 0xffffffffffffff80ull);
    assert_int_equal(fake.vcpu[0].regs.x4, x4);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 4);
    /* x5 is word 8: one read and one write of words 0..8. */
    assert_traffic(0, 1, 9, 1, 9);
    assert_int_equal(fake.console_len, 0);
}

static void test_load_halfword_zero_extended(void **state)
{
    (void)state;
    dev.read_value = 0xffffffff8000ull;
    assert_true(vm_fault(0, DEV_GPA, dabt(1, false, 20, true, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x20, 0x8000);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 4);
    assert_traffic(0, 1, vcpu_ctx_index(20) + 1, 1, vcpu_ctx_index(20) + 1);
}

static void test_load_w_register_zeroes_upper_half(void **state)
{
    (void)state;
    /* LDRSB w9: sign-extended to 32 bits, the upper 32 bits of x9 become zero. */
    dev.read_value = 0x80;
    assert_true(vm_fault(0, DEV_GPA, dabt(0, true, 9, false, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x9, 0x00000000ffffff80ull);
    /* LDR w3: 32-bit load, zero-extended. */
    dev.read_value = 0xaaaaaaaa92345678ull;
    assert_true(vm_fault(0, DEV_GPA + 4, dabt(2, false, 3, false, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x3, 0x92345678ull);
    /* LDRSW x16: sign-extended to 64. */
    assert_true(vm_fault(0, DEV_GPA + 4, dabt(2, true, 16, true, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x16, 0xffffffff92345678ull);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 12);
}

static void test_load_64_into_x30_and_x28(void **state)
{
    (void)state;
    dev.read_value = 0x8877665544332211ull;
    assert_true(vm_fault(0, DEV_GPA + 8, dabt(3, false, 30, true, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x30, 0x8877665544332211ull);
    assert_traffic(0, 1, 17, 1, 17);
    assert_true(vm_fault(0, DEV_GPA + 8, dabt(3, false, 28, true, false, true), false));
    assert_int_equal(fake.vcpu[0].regs.x28, 0x8877665544332211ull);
    assert_traffic(0, 2, 34, 2, 34);
}

static void test_load_into_xzr_discarded(void **state)
{
    (void)state;
    seL4_UserContext before = fake.vcpu[0].regs;
    dev.read_value = 0x55;
    assert_true(vm_fault(0, DEV_GPA, dabt(2, false, 31, false, false, true), false));
    assert_int_equal(dev.calls, 1); /* the read still happens: it may have side effects */
    before.pc = PC + 4;
    assert_memory_equal(&fake.vcpu[0].regs, &before, sizeof(before));
    /* pc comes from the fault message: no read at all, one write of pc. */
    assert_traffic(0, 0, 0, 1, 1);
}

static void test_t32_load_advances_by_two(void **state)
{
    (void)state;
    dev.read_value = 7;
    assert_true(vm_fault(0, DEV_GPA, dabt(2, false, 0, false, false, false), false));
    assert_int_equal(fake.vcpu[0].regs.x0, 7);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 2);
}

/* ---- stores ---- */

static void test_store_each_width(void **state)
{
    (void)state;
    static const uint64_t expect[4] = {0x88, 0x7788, 0x55667788, 0x1122334455667788ull};
    for (unsigned sas = 0; sas < 4; sas++) {
        fake.vcpu[1].regs.x18 = 0x1122334455667788ull;
        fake.vcpu[1].regs.pc = PC;
        fake.vcpu[1].reg_reads = fake.vcpu[1].reg_writes = 0;
        seL4_UserContext before = fake.vcpu[1].regs;
        assert_true(vm_fault(1, DEV_GPA + 0x20, dabt(sas, false, 18, sas == 3, true, true), false));
        assert_true(dev.last.is_write);
        assert_int_equal(dev.last.width, 1u << sas);
        assert_int_equal(dev.last.value, expect[sas]);
        assert_int_equal(dev.last.offset, 0x20);
        /* Read pc..x18 (15 words), write back only pc. */
        assert_traffic(1, 1, 15, 1, 1);
        before.pc = PC + 4;
        assert_memory_equal(&fake.vcpu[1].regs, &before, sizeof(before));
    }
    assert_int_equal(dev.calls, 4);
    assert_int_equal(fake.console_len, 0); /* nothing logged on the success path */
}

static void test_store_from_registers_in_every_part(void **state)
{
    (void)state;
    static const unsigned regs[] = {0, 8, 9, 16, 19, 28, 29, 30};
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        seL4_UserContext ctx = fake.vcpu[0].regs;
        vcpu_ctx_set_gpr(&ctx, regs[i], 0xabc00 + regs[i]);
        fake.vcpu[0].regs = ctx;
        assert_true(vm_fault(0, DEV_GPA, dabt(3, false, regs[i], true, true, true), false));
        assert_int_equal(dev.last.value, 0xabc00 + regs[i]);
        assert_int_equal(fake.vcpu[0].last_read_count, vcpu_ctx_index(regs[i]) + 1);
        assert_int_equal(fake.vcpu[0].last_write_count, 1);
    }
}

static void test_store_from_xzr(void **state)
{
    (void)state;
    assert_true(vm_fault(0, DEV_GPA, dabt(2, false, 31, false, true, true), false));
    assert_true(dev.last.is_write);
    assert_int_equal(dev.last.value, 0);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 4);
    assert_traffic(0, 0, 0, 1, 1);
}

/* ---- aborts ---- */

static void assert_abort_injected(size_t vcpu, uint64_t fault_pc, uint32_t esr)
{
    const struct fake_vcpu *f = &fake.vcpu[vcpu];
    assert_int_equal(f->sysregs[seL4_VCPUReg_ESR], esr);
    assert_int_equal(f->sysregs[seL4_VCPUReg_ELR_EL1], fault_pc);
    assert_int_equal(f->sysregs[seL4_VCPUReg_SPSR_EL1], 0x3c5);
    assert_int_equal(f->regs.pc, VBAR + 0x200);
    assert_int_equal(f->regs.spsr, 0x3c5);
    assert_int_equal(f->stops, 0);
}

static void test_unmapped_gpa_gets_external_abort(void **state)
{
    (void)state;
    seL4_Word x2 = fake.vcpu[0].regs.x2;
    assert_true(vm_fault(0, 0x20000000, dabt(2, false, 2, false, false, true), false));
    assert_abort_injected(0, PC, 0x96000410);
    assert_int_equal(fake.vcpu[0].regs.x2, x2); /* the load did not happen */
    assert_int_equal(dev.calls, 0);
    assert_true(fake_console_contains("no device there"));
}

static void test_handler_failure_gets_external_abort(void **state)
{
    (void)state;
    dev.fail = true;
    assert_true(vm_fault(0, DEV_GPA, dabt(2, false, 31, false, true, true), false));
    assert_int_equal(dev.calls, 1);
    assert_abort_injected(0, PC, 0x96000410);
    /* An access running off the end of the region is refused the same way. */
    setup(NULL);
    assert_true(vm_fault(0, DEV_GPA + DEV_SIZE - 2, dabt(2, false, 1, false, false, true), false));
    assert_int_equal(dev.calls, 0);
    assert_abort_injected(0, PC, 0x96000410);
}

static void test_isv_clear_is_an_abort_not_a_crash(void **state)
{
    (void)state;
    uint32_t stp = (ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_WNR | 0x07;
    assert_true(vm_fault(0, DEV_GPA, stp, false));
    assert_int_equal(dev.calls, 0);
    assert_abort_injected(0, PC, 0x96000410);
    assert_true(fake_console_contains("ISV=0"));
    assert_int_equal(fake.crashes, 0);
}

static void test_non_mmio_fault_status_is_an_abort(void **state)
{
    (void)state;
    /* A synchronous external abort (DFSC 0x10) on a device address is not an MMIO access. */
    uint32_t esr = (dabt(2, false, 1, false, false, true) & ~0x3fu) | 0x10;
    assert_true(vm_fault(0, DEV_GPA, esr, false));
    assert_int_equal(dev.calls, 0);
    assert_abort_injected(0, PC, 0x96000410);
}

static void test_abort_from_el0_uses_lower_el_vector(void **state)
{
    (void)state;
    fake.vcpu[1].regs.spsr = 0x0;
    assert_true(vm_fault(1, 0x20000000, dabt(2, false, 2, false, false, true), false));
    assert_int_equal(fake.vcpu[1].sysregs[seL4_VCPUReg_ESR], 0x92000410);
    assert_int_equal(fake.vcpu[1].regs.pc, VBAR + 0x400);
    assert_int_equal(fake.vcpu[1].regs.spsr, 0x3c5);
    assert_int_equal(fake.vcpu[1].sysregs[seL4_VCPUReg_SPSR_EL1], 0);
}

static void test_prefetch_abort_gets_instruction_abort(void **state)
{
    (void)state;
    assert_true(vm_fault(0, DEV_GPA, 0x82000007, true));
    assert_int_equal(dev.calls, 0);
    assert_abort_injected(0, PC, 0x86000010);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_FAR], PC);
}

static void test_cache_maintenance_on_device_is_skipped(void **state)
{
    (void)state;
    uint32_t dc = (ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_CM | ESR_DABT_WNR | 0x07;
    assert_true(vm_fault(0, DEV_GPA, dc, false));
    assert_int_equal(dev.calls, 0);
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 4);
    assert_int_equal(fake.vcpu[0].sysregs[seL4_VCPUReg_ESR], 0);
}

/* ---- VCPUFault, UserException, bad messages ---- */

static bool vcpu_fault(size_t vcpu, uint32_t hsr)
{
    seL4_Word mr = hsr;
    microkit_msginfo reply;
    return fault_handle(vcpu, fake_fault(seL4_Fault_VCPUFault, 1, &mr), &reply);
}

static void test_wfe_and_wfi_advance_and_resume(void **state)
{
    (void)state;
    assert_true(vcpu_fault(0, (ESR_EC_WFX << 26) | ESR_IL | 1)); /* WFE */
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 4);
    assert_true(vcpu_fault(0, (ESR_EC_WFX << 26) | ESR_IL)); /* WFI */
    assert_int_equal(fake.vcpu[0].regs.pc, PC + 8);
    assert_traffic(0, 2, 1, 2, 1);
    assert_int_equal(fake.vcpu[0].stops, 0);
}

static void assert_guest_stopped_with_dump(void)
{
    assert_true(fake_console_contains("vcpu_dump: vCPU 1:"));
    assert_true(fake_console_contains("x30 0x"));
    assert_true(fake_console_contains("ESR_EL1"));
    assert_true(fake.vcpu[0].stops >= 1);
    assert_true(fake.vcpu[1].stops >= 1);
    assert_int_equal(fake.crashes, 0);
}

static void test_unknown_ec_stops_guest_with_dump(void **state)
{
    (void)state;
    /* An illegal execution state (EC 0x0e) is nothing the VMM can emulate. (Trapped MSR/MRS, EC 0x18, are
     * emulated or made UNDEFINED without stopping the guest: test_vgic_v3_sysreg.c.) */
    assert_false(vcpu_fault(1, (0x0eu << 26) | ESR_IL));
    assert_true(fake_console_contains("EC 0x0e (illegal execution state)"));
    assert_guest_stopped_with_dump();
}

static void test_user_exception_stops_guest_with_dump(void **state)
{
    (void)state;
    seL4_Word mrs[5] = {PC, 0, 0x3c5, 0x02000000, 0};
    microkit_msginfo reply;
    assert_false(fault_handle(1, fake_fault(seL4_Fault_UserException, 5, mrs), &reply));
    assert_true(fake_console_contains("EC 0x00 (unknown reason)"));
    assert_guest_stopped_with_dump();
}

static void test_invalid_vcpu_or_label(void **state)
{
    (void)state;
    seL4_Word mrs[4] = {PC, DEV_GPA, 0, dabt(2, false, 0, false, false, true)};
    microkit_msginfo reply;
    assert_false(fault_handle(2, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_false(fault_handle(61, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_false(fault_handle((size_t)-1, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_int_equal(dev.calls, 0);
    assert_true(fake_console_contains("not configured"));
    /* An unknown label (CapFault) stops the guest; a truncated message too. */
    assert_false(fault_handle(1, fake_fault(seL4_Fault_CapFault, 4, mrs), &reply));
    assert_true(fake_console_contains("unknown fault label 1"));
    assert_false(fault_handle(0, fake_fault(seL4_Fault_VMFault, 2, mrs), &reply));
    assert_true(fake_console_contains("fault label 6 with only 2 message registers"));
    assert_false(fault_handle(0, fake_fault(seL4_Fault_UnknownSyscall, 4, mrs), &reply));
    assert_true(fake_console_contains("fault label 2 with only 4 message registers"));
    assert_int_equal(dev.calls, 0);
    assert_int_equal(fake.crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_load_byte_sign_extended_to_x, setup),
        cmocka_unit_test_setup(test_load_halfword_zero_extended, setup),
        cmocka_unit_test_setup(test_load_w_register_zeroes_upper_half, setup),
        cmocka_unit_test_setup(test_load_64_into_x30_and_x28, setup),
        cmocka_unit_test_setup(test_load_into_xzr_discarded, setup),
        cmocka_unit_test_setup(test_t32_load_advances_by_two, setup),
        cmocka_unit_test_setup(test_store_each_width, setup),
        cmocka_unit_test_setup(test_store_from_registers_in_every_part, setup),
        cmocka_unit_test_setup(test_store_from_xzr, setup),
        cmocka_unit_test_setup(test_unmapped_gpa_gets_external_abort, setup),
        cmocka_unit_test_setup(test_handler_failure_gets_external_abort, setup),
        cmocka_unit_test_setup(test_isv_clear_is_an_abort_not_a_crash, setup),
        cmocka_unit_test_setup(test_non_mmio_fault_status_is_an_abort, setup),
        cmocka_unit_test_setup(test_abort_from_el0_uses_lower_el_vector, setup),
        cmocka_unit_test_setup(test_prefetch_abort_gets_instruction_abort, setup),
        cmocka_unit_test_setup(test_cache_maintenance_on_device_is_skipped, setup),
        cmocka_unit_test_setup(test_wfe_and_wfi_advance_and_resume, setup),
        cmocka_unit_test_setup(test_unknown_ec_stops_guest_with_dump, setup),
        cmocka_unit_test_setup(test_user_exception_stops_guest_with_dump, setup),
        cmocka_unit_test_setup(test_invalid_vcpu_or_label, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
