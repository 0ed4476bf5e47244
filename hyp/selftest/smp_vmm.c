/*
 * hyp SMP selftest VMM: a Microkit-style PD with one VM of SMP_CPUS vCPUs,
 * each on its own physical CPU. It emulates just enough for smp_guest.c
 * (PSCI CPU_ON/CPU_OFF/AFFINITY_INFO, the SGI register of either GIC
 * version, the virtual timer) and checks what hyp promises under
 * concurrency: fault() never nests, each vCPU's faults arrive once and in
 * order, and the kernel operations work on vCPUs that run on other CPUs
 * (registers read and written while they run, LRs injected from elsewhere,
 * restart, stop). No libvmm.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <microkit.h>
#include <hyp/machine.h>
#include <hyp/system.h>
#include "selftest.h"

#define GUEST_RAM_VADDR 0x2000000000ull
#define SCTLR_INIT 0x34d58820ull
#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define EC_SYSREG 0x18
#define EC_SMC64 0x17
/* ISS of a trapped MSR (Arm ARM D17.2.37, EC 0x18): Op0 21:20, Op2 19:17, Op1 16:14, CRn 13:10, Rt 9:5, CRm 4:1. */
#define ISS_SYSREG_MASK 0x3ffc1e
#define ISS_ICC_SGI1R ((3u << 20) | (5u << 17) | (0u << 14) | (12u << 10) | (11u << 1))
#define PSCI_SUCCESS 0
#define PSCI_INVALID_PARAMETERS ((uint64_t)-2)
#define PSCI_ALREADY_ON ((uint64_t)-4)

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global guest_image\n"
        "guest_image:\n"
        ".incbin \"" GUEST_BIN "\"\n"
        ".global guest_image_end\n"
        "guest_image_end:\n"
        ".previous\n");
extern const char guest_image[], guest_image_end[];

uintptr_t guest_ram_vaddr;

static unsigned failures;
static bool in_fault, powered[SMP_CPUS], lr_sgi_busy[SMP_CPUS], sgi_queued[SMP_CPUS];
static uint64_t seq[SMP_CPUS];
static unsigned vppi[SMP_CPUS], sgis[SMP_CPUS], peeks, pokes, stops, cpu_ons, total_faults;

static void expect(bool ok, const char *what, uint64_t got)
{
    if (!ok) {
        microkit_dbg_puts("vmm: FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts(" (");
        microkit_dbg_put32((uint32_t)got);
        microkit_dbg_puts(")\n");
        failures++;
    }
}

/* Group 0 on the GICv2 GICV page, group 1 (ICC_IAR1_EL1) on GICv3; see vmm.c. */
static uint8_t irq_group(void)
{
    uint64_t pfr0;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    return ((pfr0 >> 24) & 0xf) != 0;
}

static void read_ctx(microkit_child id, seL4_UserContext *ctx)
{
    expect(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + id, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, ctx) == seL4_NoError,
           "ReadRegisters", id);
}

static void write_ctx(microkit_child id, seL4_UserContext *ctx)
{
    expect(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + id, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, ctx) == seL4_NoError,
           "WriteRegisters", id);
}

/* Like libvmm's vcpu_boot(): reset the VCPU registers, then every TCB register, and resume. */
static void boot_vcpu(microkit_child id, uint64_t pc, uint64_t x0)
{
    for (seL4_Word reg = 0; reg < seL4_VCPUReg_Num; reg++) {
        seL4_Word value = reg == seL4_VCPUReg_SCTLR ? SCTLR_INIT : 0;
        if (reg == seL4_VCPUReg_VMPIDR_EL2) {
            value = 0x80000000ull | id;
        }
        microkit_vcpu_arm_write_reg(id, reg, value);
    }
    seL4_UserContext ctx = {0};
    ctx.pc = pc;
    ctx.spsr = 0x3c5; /* EL1h, DAIF masked */
    ctx.x0 = x0;
    expect(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + id, seL4_True, 0, SEL4_USER_CONTEXT_SIZE, &ctx) == seL4_NoError,
           "WriteRegisters(resume)", id);
    powered[id] = true;
}

static void inject_sgi(microkit_child target)
{
    if (lr_sgi_busy[target]) {
        sgi_queued[target] = true;
        return;
    }
    lr_sgi_busy[target] = true;
    sgis[target]++;
    microkit_vcpu_arm_inject_irq(target, SMP_SGI, 0, irq_group(), SMP_LR_SGI);
}

static uint64_t psci(const seL4_UserContext *ctx)
{
    uint64_t target = ctx->x1;
    switch (ctx->x0) {
    case PSCI_CPU_ON:
        if (target >= SMP_CPUS) {
            return PSCI_INVALID_PARAMETERS;
        }
        if (powered[target]) {
            return PSCI_ALREADY_ON;
        }
        cpu_ons++;
        boot_vcpu((microkit_child)target, ctx->x2, ctx->x3);
        return PSCI_SUCCESS;
    case PSCI_AFFINITY_INFO:
        return target < SMP_CPUS ? !powered[target] : PSCI_INVALID_PARAMETERS;
    default:
        expect(false, "PSCI function", ctx->x0);
        return PSCI_INVALID_PARAMETERS;
    }
}

static void finish(microkit_child id, uint64_t guest_failures)
{
    microkit_dbg_puts("vmm: faults ");
    microkit_dbg_put32(total_faults);
    microkit_dbg_puts(", CPU_ONs ");
    microkit_dbg_put32(cpu_ons);
    microkit_dbg_puts(", peeks ");
    microkit_dbg_put32(peeks);
    microkit_dbg_puts(", pokes ");
    microkit_dbg_put32(pokes);
    microkit_dbg_puts("\n");
    expect(id == 0, "power-off from vCPU", id);
    for (unsigned i = 0; i < SMP_CPUS; i++) {
        expect(seq[i] == SMP_SEQ_ROUNDS, "HVC sequence numbers seen", seq[i]);
        expect(vppi[i] == SMP_TIMER_ROUNDS, "VPPIEvents", vppi[i]);
        expect(sgis[i] == 1 && !lr_sgi_busy[i], "IPIs injected and completed", sgis[i]);
    }
    expect(peeks == SMP_CPUS && pokes == SMP_CPUS && stops == 1, "peeks, pokes, stops", peeks + pokes + stops);
    expect(cpu_ons == SMP_CPUS - 1 + 3, "CPU_ONs", cpu_ons);
    expect(guest_failures == 0, "guest-side checks", guest_failures);
    microkit_dbg_puts(failures ? "hyp-selftest-smp: FAIL\n" : "hyp-selftest-smp: PASS\n");
    hyp_machine_poweroff(failures ? 1 : 0);
}

static seL4_Bool handle_smc(microkit_child id, uint32_t esr)
{
    seL4_UserContext ctx;
    read_ctx(id, &ctx);
    if ((esr & 0xffff) == SMC_IMM_POWEROFF) {
        finish(id, ctx.x0);
    }
    if (ctx.x0 == PSCI_CPU_OFF) {
        /* ABI 3.8: stop the caller inside fault(); the reply is then a silent no-op. */
        powered[id] = false;
        microkit_vcpu_stop(id);
        return seL4_True;
    }
    ctx.x0 = psci(&ctx);
    ctx.pc += 4;
    write_ctx(id, &ctx);
    return seL4_True;
}

/* x<rt> in a seL4_UserContext (ABI 3.4 order: pc, sp, spsr, x0-x8, x16-x18, x29, x30, x9-x15, x19-x28). */
static uint64_t ctx_gpr(const seL4_UserContext *ctx, unsigned rt)
{
    unsigned i;
    if (rt <= 8) {
        i = 3 + rt;
    } else if (rt <= 15) {
        i = 17 + (rt - 9);
    } else if (rt <= 18) {
        i = 12 + (rt - 16);
    } else if (rt <= 28) {
        i = 24 + (rt - 19);
    } else if (rt <= 30) {
        i = rt == 29 ? 15 : 16;
    } else {
        return 0; /* XZR */
    }
    return ((const seL4_Word *)ctx)[i];
}

/* GICv3: a trapped ICC_SGI1R_EL1 write (Aff1..3 = 0 in this guest); the IRQ goes to each listed vCPU. */
static seL4_Bool handle_sysreg(microkit_child id, uint32_t esr)
{
    seL4_UserContext ctx;
    read_ctx(id, &ctx);
    expect((esr & ISS_SYSREG_MASK) == ISS_ICC_SGI1R && !(esr & 1), "trapped register is ICC_SGI1R_EL1 (write)", esr);
    uint64_t v = ctx_gpr(&ctx, (esr >> 5) & 0x1f);
    expect(((v >> 24) & 0xf) == SMP_SGI, "SGI number", v);
    for (unsigned t = 0; t < SMP_CPUS; t++) {
        if (v & (1u << t)) {
            inject_sgi(t);
        }
    }
    ctx.pc += 4;
    write_ctx(id, &ctx);
    return seL4_True;
}

/* GICv2: a store to the emulated GICD_SGIR (CPUTargetList 23:16). */
static seL4_Bool handle_vm_fault(microkit_child id)
{
    seL4_UserContext ctx;
    read_ctx(id, &ctx);
    uint32_t fsr = (uint32_t)microkit_mr_get(seL4_VMFault_FSR);
    expect(microkit_mr_get(seL4_VMFault_Addr) == GUEST_GICD_IPA + GICD_SGIR && (fsr & (1u << 24)) && (fsr & (1u << 6)),
           "VMFault is a GICD_SGIR store", microkit_mr_get(seL4_VMFault_Addr));
    uint64_t v = ctx_gpr(&ctx, (fsr >> 16) & 0x1f);
    for (unsigned t = 0; t < SMP_CPUS; t++) {
        if (v & (1u << (16 + t))) {
            inject_sgi(t);
        }
    }
    ctx.pc += 4;
    write_ctx(id, &ctx);
    return seL4_True;
}

/* Registers of `other`, which runs on another CPU right now (or is about to). */
static uint64_t peek(microkit_child other)
{
    seL4_UserContext ctx;
    read_ctx(other, &ctx);
    uint64_t cidr = microkit_vcpu_arm_read_reg(other, seL4_VCPUReg_CIDR);
    peeks++;
    bool ok = cidr == (SMP_CIDR_MAGIC | other) && ctx.tpidrro_el0 == (SMP_TPIDRRO_MAGIC | other);
    expect(ok, "CONTEXTIDR_EL1/TPIDRRO_EL0 of a running vCPU", cidr);
    return ok ? 0 : 1;
}

static seL4_Bool handle_hvc(microkit_child id, microkit_msginfo *reply)
{
    seL4_Word x0 = microkit_mr_get(seL4_UnknownSyscall_X0), x1 = microkit_mr_get(seL4_UnknownSyscall_X1);
    seL4_Word result = 0;
    if (x0 == HVC_SEQ) {
        /* Each vCPU's faults reach the VMM once each and in order: 1, 2, 3, ... */
        expect(x1 == seq[id] + 1, "HVC sequence number", x1);
        seq[id] = x1;
    } else if (x0 == HVC_PEEK && x1 < SMP_CPUS) {
        result = peek((microkit_child)x1);
    } else if (x0 == HVC_POKE && x1 < SMP_CPUS) {
        microkit_vcpu_arm_write_reg((microkit_child)x1, seL4_VCPUReg_TPIDR_EL1, SMP_POKE_MAGIC | x1);
        pokes++;
    } else if (x0 == HVC_STOP && x1 < SMP_CPUS) {
        microkit_vcpu_stop((microkit_child)x1);
        powered[x1] = false;
        stops++;
    } else {
        expect(false, "HVC", x0);
    }
    microkit_mr_set(seL4_UnknownSyscall_X0, result);
    microkit_mr_set(seL4_UnknownSyscall_FaultIP, microkit_mr_get(seL4_UnknownSyscall_FaultIP) + 4);
    *reply = microkit_msginfo_new(0, seL4_UnknownSyscall_FaultIP + 1);
    return seL4_True;
}

static seL4_Bool handle_maintenance(microkit_child id)
{
    seL4_Word idx = microkit_mr_get(seL4_VGICMaintenance_IDX);
    if (idx == SMP_LR_TIMER) {
        microkit_vcpu_arm_ack_vppi(id, VTIMER_IRQ);
    } else if (idx == SMP_LR_SGI) {
        lr_sgi_busy[id] = false;
        if (sgi_queued[id]) {
            sgi_queued[id] = false;
            inject_sgi(id);
        }
    } else {
        expect(false, "VGICMaintenance index", idx);
    }
    return seL4_True;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply)
{
    expect(!in_fault, "fault() nested", child);
    expect(child < SMP_CPUS, "fault child", child);
    in_fault = true;
    total_faults++;
    *reply = microkit_msginfo_new(0, 0);
    seL4_Bool ret = seL4_True;
    uint32_t esr;
    switch (microkit_msginfo_get_label(msginfo)) {
    case seL4_Fault_VCPUFault:
        esr = (uint32_t)microkit_mr_get(seL4_VCPUFault_HSR);
        if (ESR_EC(esr) == EC_SMC64) {
            ret = handle_smc(child, esr);
        } else if (ESR_EC(esr) == EC_SYSREG) {
            ret = handle_sysreg(child, esr);
        } else {
            expect(false, "VCPUFault EC", ESR_EC(esr));
        }
        break;
    case seL4_Fault_VMFault:
        ret = handle_vm_fault(child);
        break;
    case seL4_Fault_UnknownSyscall:
        ret = handle_hvc(child, reply);
        break;
    case seL4_Fault_VPPIEvent:
        vppi[child]++;
        microkit_vcpu_arm_inject_irq(child, VTIMER_IRQ, 0, irq_group(), SMP_LR_TIMER);
        break;
    case seL4_Fault_VGICMaintenance:
        ret = handle_maintenance(child);
        break;
    default:
        expect(false, "fault label", microkit_msginfo_get_label(msginfo));
        finish(child, 1);
    }
    in_fault = false;
    return ret;
}

void notified(microkit_channel ch)
{
    expect(false, "notification", ch);
}

/* Clean the guest image to the PoC: the guest runs with its MMU (and so its caches) off. */
static void cache_clean(uintptr_t start, size_t size)
{
    uint64_t ctr;
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    uintptr_t line = 4u << ((ctr >> 16) & 0xf);
    for (uintptr_t a = start & ~(line - 1); a < start + size; a += line) {
        __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
    }
    __asm__ volatile("dsb sy\n ic iallu\n dsb sy\n isb" ::: "memory");
}

void init(void)
{
    microkit_dbg_puts("vmm: SMP selftest, ");
    microkit_dbg_put32(SMP_CPUS);
    microkit_dbg_puts(" vCPUs\n");
    /* Every vCPU answers the kernel operations before it ever ran (its state is in memory). */
    for (unsigned i = 0; i < SMP_CPUS; i++) {
        seL4_Error e = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + i, 0, 0, 0, 255);
        expect(e == seL4_RangeError && seL4_GetMR(1) == 3, "LR count probe (4 LRs on QEMU)", i);
        microkit_vcpu_arm_write_reg(i, seL4_VCPUReg_TPIDR_EL1, 0x1000 + i);
        expect(microkit_vcpu_arm_read_reg(i, seL4_VCPUReg_TPIDR_EL1) == 0x1000 + i, "VCPU register round trip", i);
    }
    expect(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + SMP_CPUS, 0, 0, 0, 0) == seL4_InvalidCapability,
           "InjectIRQ beyond the last vCPU", SMP_CPUS);
    size_t size = (size_t)(guest_image_end - guest_image);
    memcpy((void *)guest_ram_vaddr, guest_image, size);
    cache_clean(guest_ram_vaddr, size);
    boot_vcpu(0, GUEST_RAM_IPA, 0);
}

static const struct hyp_memory_region regions[] = {
    {.name = "guest_ram", .size = GUEST_RAM_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "uart", .size = 0x1000, .source = HYP_MR_PLATFORM_UART},
    {.name = "gic_vcpu", .size = 0x2000, .source = HYP_MR_PLATFORM_GICV},
};

static const struct hyp_vmm_map vmm_maps[] = {
    {.mr = &regions[0],
     .vaddr = GUEST_RAM_VADDR,
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &guest_ram_vaddr},
};

static const struct hyp_vm_map vm_maps[] = {
    {.mr = &regions[0], .guest_addr = GUEST_RAM_IPA, .perms = HYP_PERM_RWX, .cached = true},
    {.mr = &regions[1], .guest_addr = GUEST_UART_IPA, .perms = HYP_PERM_RW, .cached = false},
    {.mr = &regions[2], .guest_addr = GUEST_GICC_IPA, .perms = HYP_PERM_RW, .cached = false},
};

static const struct hyp_vm vm = {
    .name = "smp-guest", .num_vcpus = SMP_CPUS, .maps = vm_maps, .num_maps = HYP_ARRAY_SIZE(vm_maps)};

static const struct hyp_pd pds[] = {{.name = "smp-vmm",
                                     .init = init,
                                     .notified = notified,
                                     .fault = fault,
                                     .maps = vmm_maps,
                                     .num_maps = HYP_ARRAY_SIZE(vmm_maps),
                                     .vm = &vm}};

const struct hyp_system hyp_system = {
    .regions = regions, .num_regions = HYP_ARRAY_SIZE(regions), .pds = pds, .num_pds = 1};
