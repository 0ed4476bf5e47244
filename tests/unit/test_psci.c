/*
 * SMCCC 1.1 and PSCI 1.1 (DEN0028, DEN0022) through fault_handle(), over both
 * conduits: HVC (UnknownSyscall fault, answered in the reply MRs with no
 * register syscall) and SMC (VCPUFault with EC 0x17: pc .. x0 read; an id
 * nobody implements writes pc .. x0 back, any other reads pc .. x7 and
 * writes pc .. x3).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include "loader_fixture.h"
#include "mmio_decode.h"
#include "psci.h"
#include "vcpu.h"

#define NUM_VCPUS 3
#define CALL_PC 0xffff800010001000ull
#define NOT_SUPPORTED 0xffffffffffffffffull
#define INVALID_PARAMETERS 0xfffffffffffffffeull
#define ALREADY_ON 0xfffffffffffffffcull
#define INVALID_ADDRESS 0xfffffffffffffff7ull

enum conduit { HVC, SMC };

struct call {
    bool handled; /* fault_handle's answer */
    bool advanced; /* resumed after the call with results written back */
    uint64_t x[4];
};

static unsigned power_events[2];

static void power_handler(enum guest_power_event event, void *cookie)
{
    (void)cookie;
    power_events[event]++;
}

static int setup(void **state)
{
    (void)state;
    t_reset(NUM_VCPUS);
    for (size_t v = 0; v < NUM_VCPUS; v++) {
        vcpu_power_off(v);
    }
    fake_microkit_reset();
    memset(power_events, 0, sizeof(power_events));
    guest_set_power_handler(power_handler, NULL);
    /* vCPU 0 is running the guest. */
    assert_true(vcpu_boot(0, T_LOAD, T_DTB_DEST));
    fake.vcpu[0].reg_writes = 0;
    fake.vcpu[0].regs.pc = CALL_PC;
    return 0;
}

/* An HVC as hyp delivers it: UnknownSyscall with x0..x7, FaultIP, SP, LR, SPSR, syscall (ABI 2.2). */
static struct call hvc(size_t vcpu, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3)
{
    seL4_Word mrs[seL4_UnknownSyscall_Length] = {x0,   x1,      x2,     x3,          0x44,  0x55, 0x66,
                                                 0x77, CALL_PC, 0x1000, CALL_PC + 4, 0x3c5, 0x77};
    unsigned reads = fake.vcpu[vcpu].reg_reads;
    unsigned writes = fake.vcpu[vcpu].reg_writes;
    microkit_msginfo reply = {{~0ull}};
    struct call c = {0};
    c.handled = fault_handle(vcpu, fake_fault(seL4_Fault_UnknownSyscall, seL4_UnknownSyscall_Length, mrs), &reply);
    /* The HVC path makes no register syscall on the caller. */
    assert_int_equal(fake.vcpu[vcpu].reg_reads, reads);
    if (c.handled && microkit_msginfo_get_count(reply) > 0) {
        assert_int_equal(fake.vcpu[vcpu].reg_writes, writes);
        assert_int_equal(microkit_msginfo_get_label(reply), 0);
        assert_int_equal(microkit_msginfo_get_count(reply), 9);
        assert_int_equal(seL4_GetMR(seL4_UnknownSyscall_FaultIP), CALL_PC + 4);
        assert_int_equal(seL4_GetMR(4), 0x44); /* x4..x7 preserved */
        assert_int_equal(seL4_GetMR(7), 0x77);
        for (int i = 0; i < 4; i++) {
            c.x[i] = seL4_GetMR(i);
        }
        c.advanced = true;
    }
    return c;
}

/* An SMC: VCPUFault with HSR EC 0x17, arguments in the vCPU's frame. */
static struct call smc(size_t vcpu, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3)
{
    struct fake_vcpu *f = &fake.vcpu[vcpu];
    f->regs.pc = CALL_PC;
    f->regs.x0 = x0;
    f->regs.x1 = x1;
    f->regs.x2 = x2;
    f->regs.x3 = x3;
    f->regs.x4 = 0x44;
    unsigned reads = f->reg_reads;
    unsigned writes = f->reg_writes;
    seL4_Word hsr = (ESR_EC_SMC64 << 26) | ESR_IL;
    microkit_msginfo reply;
    struct call c = {0};
    c.handled = fault_handle(vcpu, fake_fault(seL4_Fault_VCPUFault, 1, &hsr), &reply);
    bool fast = f->reg_reads == reads + 1;
    if (fast) {
        assert_int_equal(f->last_read_count, 4); /* pc, sp, spsr, x0: the id alone */
    } else {
        assert_int_equal(f->reg_reads, reads + 2);
        assert_int_equal(f->last_read_count, 11); /* pc, sp, spsr, x0..x7 */
    }
    if (c.handled && f->reg_writes == writes + 1) {
        assert_int_equal(f->last_write_count, fast ? 4 : 7); /* pc, sp, spsr, x0 (..x3) */
        if (fast) {
            assert_int_equal(f->regs.x0, NOT_SUPPORTED); /* the only answer the fast path gives */
        }
        assert_int_equal(f->regs.pc, CALL_PC + 4);
        assert_int_equal(f->regs.x4, 0x44);
        c.x[0] = f->regs.x0;
        c.x[1] = f->regs.x1;
        c.x[2] = f->regs.x2;
        c.x[3] = f->regs.x3;
        c.advanced = true;
    }
    return c;
}

static struct call call(enum conduit how, size_t vcpu, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3)
{
    return how == HVC ? hvc(vcpu, x0, x1, x2, x3) : smc(vcpu, x0, x1, x2, x3);
}

/* The x0 of a call that must resume the caller. */
static uint64_t x0_of(enum conduit how, uint64_t fid, uint64_t x1, uint64_t x2, uint64_t x3)
{
    struct call c = call(how, 0, fid, x1, x2, x3);
    assert_true(c.handled);
    assert_true(c.advanced);
    return c.x[0];
}

static void each_conduit(void (*body)(enum conduit))
{
    body(HVC);
    setup(NULL);
    body(SMC);
}

/* ---- versions and features ---- */

static void versions(enum conduit how)
{
    assert_int_equal(x0_of(how, PSCI_FID_VERSION, 0, 0, 0), 0x10001);
    assert_int_equal(x0_of(how, SMCCC_VERSION_FID, 0, 0, 0), 0x10001);
    assert_int_equal(x0_of(how, PSCI_FID_MIGRATE_INFO_TYPE, 0, 0, 0), 2);
    assert_int_equal(fake.console_len, 0); /* nothing logged on the success path */
}

static void test_versions(void **state)
{
    (void)state;
    each_conduit(versions);
}

static void arch_features(enum conduit how)
{
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_ARCH_WORKAROUND_1_FID, 0, 0), NOT_SUPPORTED);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_ARCH_WORKAROUND_2_FID, 0, 0), NOT_SUPPORTED);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_ARCH_WORKAROUND_3_FID, 0, 0), NOT_SUPPORTED);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_VERSION_FID, 0, 0), 0);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_ARCH_FEATURES_FID, 0, 0), 0);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, SMCCC_ARCH_SOC_ID_FID, 0, 0), NOT_SUPPORTED);
    assert_int_equal(x0_of(how, SMCCC_ARCH_FEATURES_FID, 0x12345678, 0, 0), NOT_SUPPORTED);
}

static void test_smccc_arch_features(void **state)
{
    (void)state;
    each_conduit(arch_features);
}

static void psci_features(enum conduit how)
{
    static const uint32_t supported[] = {
        PSCI_FID_VERSION,
        PSCI_FID_CPU_SUSPEND,
        PSCI_FID_64(PSCI_FID_CPU_SUSPEND),
        PSCI_FID_CPU_OFF,
        PSCI_FID_CPU_ON,
        PSCI_FID_64(PSCI_FID_CPU_ON),
        PSCI_FID_AFFINITY_INFO,
        PSCI_FID_64(PSCI_FID_AFFINITY_INFO),
        PSCI_FID_MIGRATE_INFO_TYPE,
        PSCI_FID_SYSTEM_OFF,
        PSCI_FID_SYSTEM_RESET,
        PSCI_FID_FEATURES,
        SMCCC_VERSION_FID,
    };
    static const uint32_t unsupported[] = {
        PSCI_FID_MIGRATE,
        PSCI_FID_MIGRATE_INFO_UP_CPU,
        PSCI_FID_SYSTEM_SUSPEND,
        PSCI_FID_SYSTEM_RESET2,
        PSCI_FID_64(PSCI_FID_SYSTEM_RESET2),
        SMCCC_ARCH_WORKAROUND_1_FID,
        0xc2000001,
        PSCI_FID_64(PSCI_FID_VERSION),
        0,
    };
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        /* 0 for all, including CPU_SUSPEND: original power_state format, no OS-initiated mode. */
        assert_int_equal(x0_of(how, PSCI_FID_FEATURES, supported[i], 0, 0), 0);
    }
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        assert_int_equal(x0_of(how, PSCI_FID_FEATURES, unsupported[i], 0, 0), NOT_SUPPORTED);
    }
}

static void test_psci_features(void **state)
{
    (void)state;
    each_conduit(psci_features);
}

static void unknown_calls(enum conduit how)
{
    static const uint64_t ids[] = {
        0xc2000001, /* SiP service */
        0x86000000, /* vendor hypervisor service (KVM discovery) */
        0x84000050, /* TRNG: standard service, outside PSCI */
        PSCI_FID_SYSTEM_RESET2, /* optional PSCI calls we do not offer */
        PSCI_FID_SYSTEM_SUSPEND, /* */
        PSCI_FID_MIGRATE, /* */
        0x04000000, /* a yielding call */
        0x80020000, /* must-be-zero bits set */
        0xffffffff, /* */
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        /* x0 = -1; the caller resumes after the call (both helpers check pc + 4). */
        assert_int_equal(x0_of(how, ids[i], 1, 2, 3), NOT_SUPPORTED);
    }
    /* Only W0 is the function id: upper bits of x0 are ignored. */
    assert_int_equal(x0_of(how, 0xabcd000000000000ull | PSCI_FID_VERSION, 0, 0, 0), 0x10001);
    assert_int_equal(fake.vcpu[0].stops, 0);
}

static void test_unknown_ids_not_supported(void **state)
{
    (void)state;
    each_conduit(unknown_calls);
}

/* The fast path (smccc_unsupported): an SMC with an id nobody implements reads and writes pc .. x0 only. */
static void test_unsupported_smc_touches_x0_only(void **state)
{
    (void)state;
    struct fake_vcpu *f = &fake.vcpu[0];
    unsigned reads = f->reg_reads, writes = f->reg_writes;
    struct call c = smc(0, 0x8600ff00, 1, 2, 3);
    assert_true(c.handled && c.advanced);
    assert_int_equal(c.x[0], NOT_SUPPORTED);
    assert_int_equal(c.x[1], 1);
    assert_int_equal(f->reg_reads, reads + 1);
    assert_int_equal(f->last_read_count, VCPU_CTX_X0 + 1);
    assert_int_equal(f->reg_writes, writes + 1);
    assert_int_equal(f->last_write_count, VCPU_CTX_X0 + 1);
    /* A PSCI call reads its arguments too. */
    c = smc(0, PSCI_FID_VERSION, 0, 0, 0);
    assert_int_equal(c.x[0], 0x10001);
    assert_int_equal(f->reg_reads, reads + 3);
    assert_int_equal(f->last_read_count, VCPU_CTX_X0 + 8);
}

/* ---- CPU_ON, AFFINITY_INFO, CPU_OFF ---- */

static void cpu_on_errors(enum conduit how)
{
    /* No such vCPU: Aff0 = 3 with 3 vCPUs, Aff1 set, RES0 bits set. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 3, T_LOAD, 0), INVALID_PARAMETERS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 0x101, T_LOAD, 0), INVALID_PARAMETERS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1ull << 45, T_LOAD, 0), INVALID_PARAMETERS);
    /* DEN0022 5.1.4: bits 31:24 of target_cpu must be zero (MPIDR_EL1 bit 31 reads 1 but is no affinity). */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 0x80000001ull, T_LOAD, 0), INVALID_PARAMETERS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 0x01000001ull, T_LOAD, 0), INVALID_PARAMETERS);
    /* Already on: the caller itself. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 0, T_LOAD, 0), ALREADY_ON);
    /* Entry outside RAM, at its last bytes, and misaligned. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, 0x1000, 0), INVALID_ADDRESS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_RAM_END, 0), INVALID_ADDRESS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_LOAD + 2, 0), INVALID_ADDRESS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, ~0ull - 3, 0), INVALID_ADDRESS);
    assert_int_equal(vcpu_power_state(1), VCPU_POWER_OFF);
    assert_int_equal(fake.vcpu[1].reg_writes, 0);
    assert_int_equal(fake.vcpu[1].resumes, 0);
}

static void test_cpu_on_errors(void **state)
{
    (void)state;
    each_conduit(cpu_on_errors);
}

static void cpu_on_success(enum conduit how)
{
    struct fake_vcpu *t = &fake.vcpu[2];
    memset(&t->regs, 0x77, sizeof(t->regs));
    t->sysregs[seL4_VCPUReg_SCTLR] = 0x30d0180d; /* MMU and caches on from an earlier life */
    t->sysregs[seL4_VCPUReg_CNTV_CTL] = 1;
    t->sysregs[seL4_VCPUReg_TTBR1] = 0x1234000;
    uint64_t entry = T_RAM_GPA + 0x1000;
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 2, entry, 0xc0ffee), 0);
    assert_int_equal(vcpu_power_state(2), VCPU_POWER_ON);
    assert_true(t->runnable);
    assert_int_equal(t->regs.pc, entry);
    assert_int_equal(t->regs.x0, 0xc0ffee);
    assert_int_equal(t->regs.x1, 0);
    assert_int_equal(t->regs.x30, 0);
    assert_int_equal(t->regs.spsr, 0x3c5);
    assert_int_equal(t->last_write_count, 36);
    assert_int_equal(t->sysregs[seL4_VCPUReg_SCTLR] & 0x1005, 0);
    assert_int_equal(t->sysregs[seL4_VCPUReg_CNTV_CTL], 0);
    assert_int_equal(t->sysregs[seL4_VCPUReg_TTBR1], 0);
    assert_int_equal(t->sysregs[seL4_VCPUReg_VMPIDR_EL2], 0x80000002ull);
    /* Now it is on. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 2, entry, 0), ALREADY_ON);
    /* The 32-bit call takes W1..W3: upper halves of x1..x3 are ignored. */
    assert_int_equal(
        x0_of(how, PSCI_FID_CPU_ON, 0xffffffff00000001ull, 0xabcd000000000000ull | entry, 0x5555555500000042ull), 0);
    assert_int_equal(fake.vcpu[1].regs.pc, entry);
    assert_int_equal(fake.vcpu[1].regs.x0, 0x42);
    /* 32-bit call results are sign-extended W values. */
    assert_int_equal(x0_of(how, PSCI_FID_CPU_ON, 1, entry, 0), ALREADY_ON);
}

static void test_cpu_on_success_resets_target(void **state)
{
    (void)state;
    each_conduit(cpu_on_success);
}

static void affinity_info(enum conduit how)
{
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_AFFINITY_INFO), 0, 0, 0), 0); /* ON */
    /* Bit 31 of MPIDR_EL1 is not part of a target affinity (DEN0022 5.1.5). */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_AFFINITY_INFO), 0x80000000ull, 0, 0), INVALID_PARAMETERS);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_AFFINITY_INFO), 1, 0, 0), 1); /* OFF */
    assert_int_equal(x0_of(how, PSCI_FID_AFFINITY_INFO, 2, 0, 0), 1);
    assert_int_equal(x0_of(how, PSCI_FID_AFFINITY_INFO, 7, 0, 0), INVALID_PARAMETERS);
    assert_int_equal(x0_of(how, PSCI_FID_AFFINITY_INFO, 0, 1, 0), INVALID_PARAMETERS); /* level 1 */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_LOAD, 0), 0);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_AFFINITY_INFO), 1, 0, 0), 0);
}

static void test_affinity_info(void **state)
{
    (void)state;
    each_conduit(affinity_info);
}

static void cpu_off(enum conduit how)
{
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_LOAD, 7), 0);
    struct fake_vcpu *f = &fake.vcpu[1];
    f->reg_writes = 0;
    seL4_UserContext before = f->regs;
    struct call c = call(how, 1, PSCI_FID_CPU_OFF, 0, 0, 0);
    assert_false(c.handled); /* the vCPU must not resume */
    assert_int_equal(f->stops, 1);
    assert_false(f->runnable);
    assert_int_equal(f->reg_writes, 0);
    if (how == HVC) {
        assert_memory_equal(&f->regs, &before, sizeof(before));
    }
    assert_int_equal(vcpu_power_state(1), VCPU_POWER_OFF);
    assert_int_equal(x0_of(how, PSCI_FID_AFFINITY_INFO, 1, 0, 0), 1);
    assert_int_equal(fake.vcpu[0].stops, 0);
    /* It can be brought back. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_LOAD, 8), 0);
    assert_true(f->runnable);
    assert_int_equal(f->regs.x0, 8);
}

static void test_cpu_off(void **state)
{
    (void)state;
    each_conduit(cpu_off);
}

static void cpu_suspend(enum conduit how)
{
    /* Standby (bit 16 = 0) and powerdown (bit 16 = 1) both return SUCCESS at once. */
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_SUSPEND), 0, T_LOAD, 0), 0);
    assert_int_equal(x0_of(how, PSCI_FID_CPU_SUSPEND, 1u << 16, T_LOAD, 0), 0);
    assert_int_equal(fake.vcpu[0].stops, 0);
    assert_int_equal(vcpu_power_state(0), VCPU_POWER_ON);
}

static void test_cpu_suspend_returns(void **state)
{
    (void)state;
    each_conduit(cpu_suspend);
}

/* ---- SYSTEM_OFF, SYSTEM_RESET ---- */

static void system_off(enum conduit how)
{
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 1, T_LOAD, 0), 0);
    struct call c = call(how, 1, PSCI_FID_SYSTEM_OFF, 0, 0, 0);
    assert_false(c.handled);
    for (size_t v = 0; v < NUM_VCPUS; v++) {
        assert_false(fake.vcpu[v].runnable);
        assert_int_equal(vcpu_power_state(v), VCPU_POWER_OFF);
    }
    assert_int_equal(power_events[GUEST_POWER_OFF], 1);
    assert_int_equal(power_events[GUEST_POWER_RESET], 0);
    assert_int_equal(fake.crashes, 0);
}

static void test_system_off(void **state)
{
    (void)state;
    each_conduit(system_off);
}

static void system_reset_without_images(enum conduit how)
{
    struct call c = call(how, 0, PSCI_FID_SYSTEM_RESET, 0, 0, 0);
    assert_false(c.handled);
    assert_false(fake.vcpu[0].runnable);
    assert_int_equal(power_events[GUEST_POWER_RESET], 0);
    assert_true(fake_console_contains("restart failed"));
}

static void test_system_reset_without_images_stops(void **state)
{
    (void)state;
    each_conduit(system_reset_without_images);
}

static void system_reset(enum conduit how)
{
    uintptr_t entry = t_raw();
    assert_true(entry != LOADER_FAILED);
    assert_int_equal(x0_of(how, PSCI_FID_64(PSCI_FID_CPU_ON), 2, T_LOAD, 0), 0);
    fake.vcpu[2].reg_writes = 0;
    struct call c = call(how, 2, PSCI_FID_SYSTEM_RESET, 0, 0, 0);
    assert_true(c.handled);
    /* Rebooted on vCPU 0 at the image's entry; the caller's registers are not written afterwards. */
    assert_true(fake.vcpu[0].runnable);
    assert_int_equal(fake.vcpu[0].regs.pc, entry);
    assert_int_equal(fake.vcpu[0].regs.x0, T_DTB_DEST);
    assert_false(fake.vcpu[1].runnable);
    assert_false(fake.vcpu[2].runnable);
    assert_int_equal(vcpu_power_state(2), VCPU_POWER_OFF);
    assert_int_equal(fake.vcpu[2].reg_writes, 0);
    assert_int_equal(power_events[GUEST_POWER_RESET], 1);
}

static void test_system_reset_reboots(void **state)
{
    (void)state;
    each_conduit(system_reset);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_versions, setup),
        cmocka_unit_test_setup(test_smccc_arch_features, setup),
        cmocka_unit_test_setup(test_psci_features, setup),
        cmocka_unit_test_setup(test_unknown_ids_not_supported, setup),
        cmocka_unit_test_setup(test_unsupported_smc_touches_x0_only, setup),
        cmocka_unit_test_setup(test_cpu_on_errors, setup),
        cmocka_unit_test_setup(test_cpu_on_success_resets_target, setup),
        cmocka_unit_test_setup(test_affinity_info, setup),
        cmocka_unit_test_setup(test_cpu_off, setup),
        cmocka_unit_test_setup(test_cpu_suspend_returns, setup),
        cmocka_unit_test_setup(test_system_off, setup),
        cmocka_unit_test_setup(test_system_reset_without_images_stops, setup),
        cmocka_unit_test_setup(test_system_reset_reboots, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
