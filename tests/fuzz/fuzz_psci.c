/*
 * SMCCC / PSCI over both conduits (SMC: VCPUFault EC 0x17 with x0..x7 in the
 * vCPU's frame; HVC: UnknownSyscall with x0..x7 in the message), arbitrary
 * function ids and arguments, several vCPUs: CPU_ON / CPU_OFF /
 * AFFINITY_INFO / SYSTEM_RESET / SYSTEM_OFF sequences (DEN0022, DEN0028;
 * attack class 19).
 *
 * The guest is booted for real first (a tiny Image and DTB through
 * linux_setup_images, then guest_start), so SYSTEM_RESET runs the whole
 * guest_restart path. Faults come from vCPUs that are running, as the kernel
 * delivers them, and now and then from an id that is not configured.
 *
 * Invariants, besides ASan/UBSan and the fake kernel's: every call is
 * answered. fault_handle() returns true with the result in x0 (HVC: a reply
 * of x0..x7 + restart pc, pc advanced by 4; SMC: x0 written back, pc advanced
 * by 4), or true after a reboot that restarted the boot vCPU at the entry
 * point, or false with the caller stopped (suspended and PSCI OFF). An
 * SMC32/HVC32 result is a sign-extended 32-bit value; an unknown function
 * answers NOT_SUPPORTED. The library's PSCI view of every vCPU matches the
 * kernel's (ON exactly when the fake vCPU is runnable); a successful CPU_ON
 * starts the target at the entry point with x0 = context id, EL1h, DAIF
 * masked.
 */
#include <stdio.h>
#include <string.h>
#include <libfdt.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include <libvmm/virq.h>
#include "fz_support.h"
#include "vcpu.h"

#define RAM_SIZE 0x10000
#define MAX_OPS 128
#define KERNEL_SIZE 0x1000
#define DTB_BUF 0x400
#define DTB_DEST (FZ_RAM_GPA + 0x8000)

#define SMCCC_64 (1u << 30)
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0x84000003u
#define PSCI_AFFINITY_INFO 0x84000004u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define NOT_SUPPORTED ((uint64_t)-1)

static uint8_t *ram;
static uint8_t kernel[KERNEL_SIZE] __attribute__((aligned(16)));
static uint8_t dtb[DTB_BUF] __attribute__((aligned(8)));
static uint64_t entry;
static unsigned resets;

static void power_cb(enum guest_power_event event, void *cookie)
{
    (void)cookie;
    resets += event == GUEST_POWER_RESET;
}

/* A minimal little-endian arm64 Image (booting.rst "Image header") and a DTB with /chosen. */
static void make_images(void)
{
    memset(kernel, 0, sizeof(kernel));
    kernel[0] = 0x10; /* b +0x40 */
    kernel[3] = 0x14;
    kernel[16] = KERNEL_SIZE & 0xff; /* image_size */
    kernel[17] = KERNEL_SIZE >> 8;
    kernel[24] = 0x0a; /* LE, 4 KiB pages, anywhere */
    memcpy(kernel + 0x38, "ARM\x64", 4);
    if (fdt_create_empty_tree(dtb, sizeof(dtb)) != 0 || fdt_add_subnode(dtb, 0, "chosen") < 0 || fdt_pack(dtb) != 0) {
        fz_fail("building the harness DTB failed");
    }
}

static bool vcpu_on(size_t v)
{
    return vcpu_power_state(v) == VCPU_POWER_ON;
}

static void check_power_consistent(size_t n)
{
    for (size_t v = 0; v < n; v++) {
        FZ_CHECK(vcpu_on(v) == fake.vcpu[v].runnable, "vCPU %zu: PSCI says %s, the kernel says %s", v,
                 vcpu_on(v) ? "ON" : "OFF", fake.vcpu[v].runnable ? "runnable" : "stopped");
    }
}

/* The function id: mostly PSCI / Arm-arch calls, 32- or 64-bit, sometimes with garbage above bit 31. */
static uint64_t pick_fid(struct fz *in)
{
    static const uint32_t fids[] = {
        0x84000000, 0x84000001, PSCI_CPU_OFF,    PSCI_CPU_ON,       PSCI_AFFINITY_INFO, 0x84000005,
        0x84000006, 0x84000007, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, 0x8400000a,         0x8400000c,
        0x8400000e, 0x84000012, 0x8400001f,      0x84000020,        0x80000000,         0x80000001,
        0x80000002, 0x80008000, 0x80007fff,      0x80003fff,
    };
    uint8_t sel = fz_u8(in);
    uint32_t fid;
    if (sel < 4 * (sizeof(fids) / sizeof(fids[0]))) {
        fid = fids[sel / 4] | ((sel & 1) ? SMCCC_64 : 0);
        if (sel & 2) {
            return ((uint64_t)fz_u32(in) << 32) | fid;
        }
        return fid;
    }
    return fz_u64(in);
}

/* Arguments that name vCPUs and RAM addresses often enough to matter. */
static uint64_t pick_arg(struct fz *in, unsigned i)
{
    uint8_t sel = fz_u8(in);
    switch (sel & 7) {
    case 0:
        return 0x80000000ull | (sel >> 3); /* MPIDR_EL1 as read, bit 31 set: refused as a target */
    case 1:
        return sel >> 3;
    case 2:
        return FZ_RAM_GPA + ((uint64_t)fz_u16(in) & ~(i == 2 ? 0ull : 3ull));
    case 3:
        return entry;
    default:
        return fz_u64(in);
    }
}

struct call {
    size_t vcpu;
    uint64_t x[8];
    bool smc;
};

static bool is_64bit(uint64_t fid)
{
    return (fid & SMCCC_64) != 0;
}

/* An answered call: x0 holds a result of the right width; NOT_SUPPORTED for what is not offered. */
static void check_result(const struct call *c, uint64_t x0)
{
    uint32_t fid = (uint32_t)c->x[0];
    if (!is_64bit(fid)) {
        FZ_CHECK(x0 == (uint64_t)(int64_t)(int32_t)x0, "SMC32 call 0x%x answered 0x%llx: not a 32-bit result", fid,
                 (unsigned long long)x0);
    }
    /* DEN0028 "Function Identifiers": yielding calls, bits 23:17 set, owners other than Arm-arch (0) and
     * standard secure services (4), and standard services beyond PSCI's range are not offered here. */
    unsigned owner = (fid >> 24) & 0x3f;
    bool offered =
        (fid & 0x80000000u) != 0 && (fid & 0x00fe0000u) == 0 && (owner == 0 || (owner == 4 && (fid & 0xffff) <= 0x1f));
    if (!offered) {
        FZ_CHECK(x0 == NOT_SUPPORTED, "function 0x%x is not offered but answered 0x%llx", fid, (unsigned long long)x0);
    }
}

static void check_cpu_on(const struct call *c, uint64_t x0, size_t n)
{
    uint32_t fid = (uint32_t)c->x[0] & ~SMCCC_64;
    if (fid != PSCI_CPU_ON || x0 != 0) {
        return;
    }
    uint64_t mask = is_64bit((uint32_t)c->x[0]) ? ~0ull : 0xffffffffull;
    size_t target = (c->x[1] & mask & 0xff);
    FZ_CHECK(target < n && vcpu_on(target), "CPU_ON succeeded but vCPU %zu is not on", target);
    FZ_CHECK(fz_get_ctx_word(target, 0) == (c->x[2] & mask) && fz_get_ctx_word(target, 3) == (c->x[3] & mask) &&
                 fake.vcpu[target].regs.spsr == 0x3c5,
             "CPU_ON target %zu: pc 0x%llx x0 0x%llx spsr 0x%llx", target,
             (unsigned long long)fz_get_ctx_word(target, 0), (unsigned long long)fz_get_ctx_word(target, 3),
             (unsigned long long)fake.vcpu[target].regs.spsr);
}

/* After a call from c->vcpu: answered, rebooted, or stopped. */
static void check_answered(const struct call *c, bool resumed, microkit_msginfo reply, uint64_t pc, size_t n,
                           unsigned stops_before, unsigned resets_before)
{
    size_t v = c->vcpu;
    bool rebooted = resets != resets_before;
    if (rebooted) {
        FZ_CHECK(fake.vcpu[0].runnable && fz_get_ctx_word(0, 0) == entry && fz_get_ctx_word(0, 3) == DTB_DEST,
                 "after SYSTEM_RESET vCPU 0 is not at the entry point with x0 = DTB");
    }
    if (!resumed) {
        FZ_CHECK(fake.vcpu[v].stops != stops_before && !vcpu_on(v), "vCPU %zu neither answered nor stopped", v);
        return;
    }
    if (c->smc) {
        if (rebooted && microkit_msginfo_get_count(reply) == 0) {
            return;
        }
        FZ_CHECK(fz_get_ctx_word(v, 0) == pc + 4, "SMC from vCPU %zu: pc 0x%llx, expected 0x%llx", v,
                 (unsigned long long)fz_get_ctx_word(v, 0), (unsigned long long)(pc + 4));
        check_result(c, fz_get_ctx_word(v, 3));
    } else {
        if (microkit_msginfo_get_count(reply) == 0) {
            FZ_CHECK(rebooted, "HVC from vCPU %zu: empty reply without a reboot", v);
            return;
        }
        FZ_CHECK(microkit_msginfo_get_count(reply) == seL4_UnknownSyscall_FaultIP + 1 &&
                     microkit_msginfo_get_label(reply) == 0 && seL4_GetMR(seL4_UnknownSyscall_FaultIP) == pc + 4,
                 "HVC from vCPU %zu: reply label %llu count %llu pc 0x%llx", v,
                 (unsigned long long)microkit_msginfo_get_label(reply),
                 (unsigned long long)microkit_msginfo_get_count(reply),
                 (unsigned long long)seL4_GetMR(seL4_UnknownSyscall_FaultIP));
        check_result(c, seL4_GetMR(seL4_UnknownSyscall_X0));
    }
    uint64_t x0 = c->smc ? fz_get_ctx_word(v, 3) : seL4_GetMR(seL4_UnknownSyscall_X0);
    check_cpu_on(c, x0, n);
}

/*
 * The calling vCPU: a running one (a stopped vCPU cannot trap; Suspend
 * discards a fault already queued, ABI 3.8), or now and then an id that is
 * not configured at all. *none is set when every vCPU is stopped.
 */
static size_t pick_caller(struct fz *in, size_t n, bool *none)
{
    uint8_t sel = fz_u8(in);
    *none = false;
    if (sel >= 0xf0) {
        return sel == 0xff ? SIZE_MAX : n + (sel - 0xf0);
    }
    for (size_t i = 0; i < n; i++) {
        size_t v = (sel + i) % n;
        if (fake.vcpu[v].runnable) {
            return v;
        }
    }
    *none = true;
    return 0;
}

static void op_call(struct fz *in, size_t n)
{
    struct call c;
    bool none;
    c.vcpu = pick_caller(in, n, &none);
    if (none) {
        return; /* the whole guest is stopped: nothing can trap */
    }
    c.smc = fz_bool(in);
    c.x[0] = pick_fid(in);
    for (unsigned i = 1; i < 8; i++) {
        c.x[i] = i < 4 ? pick_arg(in, i) : fz_u64(in);
    }
    uint64_t pc = FZ_RAM_GPA + ((uint64_t)fz_u16(in) << 2);
    bool valid = c.vcpu < n;
    unsigned stops = valid ? fake.vcpu[c.vcpu].stops : 0;
    unsigned resets_before = resets;
    microkit_msginfo reply;
    bool resumed;
    if (c.smc) {
        if (valid) {
            fz_set_ctx_word(c.vcpu, 0, pc);
            for (unsigned i = 0; i < 8; i++) {
                fz_set_ctx_word(c.vcpu, 3 + i, c.x[i]);
            }
        }
        uint64_t hsr = (0x17ull << 26) | (1u << 25);
        resumed = fz_fault(c.vcpu, seL4_Fault_VCPUFault, 1, &hsr, 1, &reply);
    } else {
        uint64_t mrs[seL4_UnknownSyscall_Length] = {0};
        memcpy(mrs, c.x, sizeof(c.x));
        mrs[seL4_UnknownSyscall_FaultIP] = pc;
        resumed = fz_fault(c.vcpu, seL4_Fault_UnknownSyscall, seL4_UnknownSyscall_Length, mrs,
                           seL4_UnknownSyscall_Length, &reply);
    }
    fz_check_kernel();
    if (valid) {
        check_answered(&c, resumed, reply, pc, n, stops, resets_before);
    } else {
        FZ_CHECK(!resumed, "a fault from unconfigured vCPU %zu was answered", c.vcpu);
    }
    check_power_consistent(n);
}

static void boot_guest(void)
{
    entry = linux_setup_images((uintptr_t)ram, (uintptr_t)kernel, sizeof(kernel), (uintptr_t)dtb, DTB_DEST,
                               fdt_totalsize(dtb), 0, 0, 0);
    if (entry != FZ_RAM_GPA || !guest_start(0, entry, DTB_DEST, 0)) {
        fz_fail("booting the harness guest failed (entry 0x%llx)", (unsigned long long)entry);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz in;
    fz_init(&in, data, size);
    size_t n = 1 + fz_u8(&in) % GUEST_MAX_VCPUS;
    if (ram == NULL) {
        ram = fz_guarded_alloc(RAM_SIZE);
        make_images();
        guest_set_power_handler(power_cb, NULL);
        vmm_log_level = LOG_LEVEL_DEBUG;
    }
    fz_guest_setup(n, 4, GIC_VERSION_2, ram, RAM_SIZE, true);
    memset(ram, 0, RAM_SIZE);
    boot_guest();
    check_power_consistent(n);
    for (unsigned i = 0; i < MAX_OPS && !fz_empty(&in); i++) {
        op_call(&in, n);
    }
    return 0;
}
