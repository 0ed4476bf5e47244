/*
 * fault_handle() with the real vGIC behind it: distributor accesses arrive as
 * VMFaults and reach the GICD emulation through the MMIO registry; the
 * virtual timer (VPPIEvent) is injected and, once the guest EOIs it, the
 * VGICMaintenance fault acks the VPPI (ABI 3.6, 3.7).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/virq.h>
#include "fake_microkit.h"
#include "mmio_decode.h"
#include "mmio_internal.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE 0x100000ull
#define GICD_GPA 0x8000000ull
#define PC 0xffff800010000000ull

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static int setup(void **state)
{
    (void)state;
    fake_microkit_reset();
    struct guest_config cfg = {
        .num_vcpus = 1,
        .num_ram_regions = 1,
        .ram = {{.gpa = RAM_GPA, .size = RAM_SIZE, .vmm_vaddr = (uintptr_t)ram}},
        .gic_version = GIC_VERSION_2,
        .gicd_gpa = GICD_GPA,
    };
    assert_true(guest_init(&cfg));
    mmio_reset();
    assert_true(virq_controller_init(0));
    fake.vcpu[0].regs.pc = PC;
    fake.vcpu[0].regs.spsr = 0x3c5;
    return 0;
}

/* The guest executes STR w1, [GICD + off] with w1 = value. */
static void gicd_write32(uint64_t off, uint32_t value)
{
    fake.vcpu[0].regs.x1 = value;
    uint64_t pc = fake.vcpu[0].regs.pc;
    seL4_Word mrs[4] = {pc, GICD_GPA + off, 0,
                        (ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_ISV | (2u << 22) | (1u << 16) | ESR_DABT_WNR | 7};
    microkit_msginfo reply;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    assert_int_equal(fake.vcpu[0].regs.pc, pc + 4);
}

/* LDR w2, [GICD + off] */
static uint64_t gicd_read32(uint64_t off)
{
    fake.vcpu[0].regs.x2 = ~0ull;
    seL4_Word mrs[4] = {fake.vcpu[0].regs.pc, GICD_GPA + off, 0,
                        (ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_ISV | (2u << 22) | (2u << 16) | 7};
    microkit_msginfo reply;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VMFault, 4, mrs), &reply));
    return fake.vcpu[0].regs.x2;
}

static void test_gicd_reached_through_fault_path(void **state)
{
    (void)state;
    /* GICD_PIDR2 (0xfe8) carries architecture revision 2 in bits 7:4; the W load zero-extends. */
    uint64_t pidr2 = gicd_read32(0xfe8);
    assert_int_equal(pidr2 >> 32, 0);
    assert_int_equal((pidr2 >> 4) & 0xf, 2);
}

static void test_vtimer_inject_and_ack(void **state)
{
    (void)state;
    gicd_write32(0x000, 3); /* GICD_CTLR: both groups on */
    gicd_write32(0x100, 1u << 27); /* GICD_ISENABLER0: the virtual timer PPI */
    size_t injects = fake.num_injects;

    seL4_Word irq = 27;
    microkit_msginfo reply;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VPPIEvent, 1, &irq), &reply));
    assert_int_equal(fake.num_injects, injects + 1);
    assert_int_equal(fake.injects[injects].virq, 27);
    int lr = fake_lr_find(0, 27);
    assert_true(lr >= 0);

    fake_guest_ack(0, (unsigned)lr);
    fake_guest_eoi(0, (unsigned)lr);
    seL4_Word idx = (seL4_Word)lr;
    assert_int_equal(fake.vcpu[0].vppi_acks, 0);
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VGICMaintenance, 1, &idx), &reply));
    assert_int_equal(fake.vcpu[0].vppi_acks, 1);

    /* IDX -1: the kernel found no EOIed LR; nothing to do, the vCPU resumes. */
    idx = ~(seL4_Word)0;
    assert_true(fault_handle(0, fake_fault(seL4_Fault_VGICMaintenance, 1, &idx), &reply));
    assert_int_equal(fake.crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_gicd_reached_through_fault_path, setup),
        cmocka_unit_test_setup(test_vtimer_inject_and_ack, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
