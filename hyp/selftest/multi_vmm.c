/*
 * Several-PD selftest: this file is built twice, as two VMM programs (PDs)
 * linked into one hyp image (MULTI_PD = 0 and 1, mk/hyp.mk), each with its
 * own tiny guest (multi_guest.S). Both define init/notified/fault and
 * hyp_system; each program has its own copy of everything here. Checks:
 *  - each PD runs on its own physical CPU (MPIDR_EL1 at EL2) with its own
 *    libmicrokit variables (name, channel masks);
 *  - both VMMs map their guest's RAM at the same VMM address and see
 *    different memory (per-PD EL2 tables): each one's marker survives;
 *  - each guest's load from the other guest's RAM IPA faults into its own
 *    VMM (per-VM stage 2);
 *  - caps resolve in the caller's CSpace only: PD 1 cannot name a second
 *    vCPU, PD 0's IRQ or PD 0's channels (seL4 errors, or a cap fault);
 *  - PD 1 ends (its guest powers off, or its VMM crashes: MULTI_VARIANT)
 *    while PD 0's guest keeps running for MULTI_RUN_SECONDS and finishes.
 * The harness (multi_run.py) checks the order of the lines and QEMU's exit
 * status: 0 only if both PDs ended with 0.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <microkit.h>
#include <hyp/machine.h>
#include <hyp/system.h>
#include "selftest.h"

#ifndef MULTI_PD
#define MULTI_PD 0
#endif
#ifndef MULTI_VARIANT
#define MULTI_VARIANT 0
#endif
#define OTHER_PD (1 - MULTI_PD)
#define GUEST_VCPU 0
#define UART_CHANNEL_PD0 1
#define LOOP_A 2 /* PD 0 only: a channel whose both ends are PD 0 */
#define LOOP_B 3

__asm__(".section .rodata\n"
        ".balign 16\n"
        "multi_guest_image:\n"
        ".incbin \"" GUEST_BIN "\"\n"
        "multi_guest_image_end:\n"
        ".previous\n");
extern const char multi_guest_image[], multi_guest_image_end[];

uintptr_t guest_ram_vaddr;

static unsigned failures, ticks, loop_notifies;
static bool probe_faulted, probe_reported;

static void say(const char *s)
{
    microkit_dbg_puts("multi: PD ");
    microkit_dbg_put32(MULTI_PD);
    microkit_dbg_puts(": ");
    microkit_dbg_puts(s);
    microkit_dbg_puts("\n");
}

static void expect(bool ok, const char *what)
{
    if (!ok) {
        microkit_dbg_puts("multi: PD ");
        microkit_dbg_put32(MULTI_PD);
        microkit_dbg_puts(": FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts("\n");
        failures++;
    }
}

static volatile uint64_t *marker(void)
{
    return (volatile uint64_t *)(guest_ram_vaddr + MULTI_MARKER_OFFSET);
}

static unsigned physical_cpu(void)
{
    uint64_t mpidr;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    return (unsigned)(mpidr & 0xff);
}

/* seL4 semantics of a CSpace per PD: the other PD's objects cannot be named. */
static void cap_checks(void)
{
    seL4_UserContext ctx;
    expect(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + 1, seL4_False, 0, 1, &ctx) == seL4_InvalidCapability,
           "ReadRegisters of a vCPU 1 this PD does not have");
    expect(seL4_TCB_Resume(BASE_VM_TCB_CAP + 1) == seL4_InvalidCapability, "Resume of vCPU 1");
    expect(seL4_ARM_VCPU_ReadRegs(BASE_VCPU_CAP + 1, seL4_VCPUReg_SCTLR).error == seL4_InvalidCapability,
           "VCPU ReadRegs of vCPU 1");
    expect(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + 1, 27, 0, 0, 0) == seL4_InvalidCapability, "InjectIRQ into vCPU 1");
    expect(microkit_vcpu_arm_read_reg(GUEST_VCPU, seL4_VCPUReg_VMPIDR_EL2) == 0x80000000ull,
           "this VM's vCPU ids start at 0");
    seL4_Error ack = seL4_IRQHandler_Ack(BASE_IRQ_CAP + UART_CHANNEL_PD0);
    expect(MULTI_PD == 0 ? ack == seL4_NoError : ack == seL4_InvalidCapability, "IRQHandler_Ack of PD 0's IRQ");
}

static void load_guest(void)
{
    size_t size = (size_t)(multi_guest_image_end - multi_guest_image);
    memcpy((void *)guest_ram_vaddr, multi_guest_image, size);
    uint64_t ctr;
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    uintptr_t line = 4u << ((ctr >> 16) & 0xf);
    for (uintptr_t a = guest_ram_vaddr & ~(line - 1); a < guest_ram_vaddr + size; a += line) {
        __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
    }
    __asm__ volatile("dsb sy\n ic iallu\n dsb sy\n isb" ::: "memory");
    seL4_UserContext ctx = {0};
    ctx.spsr = 0x3c5; /* EL1h, DAIF masked */
    ctx.x19 = MULTI_PD;
    ctx.x20 = MULTI_RAM_IPA(OTHER_PD);
    ctx.pc = MULTI_RAM_IPA(MULTI_PD);
    expect(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_True, 0, SEL4_USER_CONTEXT_SIZE, &ctx) ==
               seL4_NoError,
           "WriteRegisters + resume");
}

/* ID_AA64PFR0_EL1.GIC: the system-register CPU interface exists on a GICv3 machine only. */
static bool gic_v3(void)
{
    uint64_t pfr0;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    return ((pfr0 >> 24) & 0xf) != 0;
}

void init(void)
{
    say(gic_v3() ? "init (GICv3)" : "init (GICv2)");
    expect(physical_cpu() == MULTI_PD, "PD k runs on physical CPU k");
    expect(strcmp(microkit_name, MULTI_PD == 0 ? "multi-vmm0" : "multi-vmm1") == 0, "microkit_name is this PD's");
    expect(microkit_irqs == (MULTI_PD == 0 ? 1ull << UART_CHANNEL_PD0 : 0), "microkit_irqs is this PD's");
    expect(microkit_notifications == (MULTI_PD == 0 ? (1ull << LOOP_A) | (1ull << LOOP_B) : 0),
           "microkit_notifications is this PD's");
    expect(guest_ram_vaddr == MULTI_RAM_VADDR, "setvar guest_ram_vaddr");
    expect(*marker() == 0, "guest RAM is zero-filled");
    *marker() = MULTI_MARKER(MULTI_PD);
    cap_checks();
    if (MULTI_PD == 0) {
        microkit_notify(LOOP_A);
    }
    load_guest();
}

static void finish(void)
{
    expect(probe_faulted && probe_reported, "the load from the other guest's RAM faulted into this VMM");
    expect(*marker() == MULTI_MARKER(MULTI_PD), "this VMM's marker survived in its own guest RAM");
    if (MULTI_PD == 0) {
        expect(ticks >= MULTI_MIN_TICKS, "guest 0 kept running");
        expect(loop_notifies == 1, "PD 0's own channel");
        microkit_dbg_puts(failures ? "hyp-selftest-multi: PD 0 FAIL\n" : "hyp-selftest-multi: PD 0 PASS, ");
        microkit_dbg_put32(ticks);
        microkit_dbg_puts(" ticks\n");
        hyp_machine_poweroff(failures ? 1 : 0);
    }
    say(failures ? "checks FAILED" : "checks passed");
#if MULTI_VARIANT == 1
    say("crashes: a write through a bad pointer");
    *(volatile uint64_t *)0x1238 = 1;
#elif MULTI_VARIANT == 2
    say("crashes: a signal on PD 0's channel, an empty slot here");
    seL4_Signal(BASE_OUTPUT_NOTIFICATION_CAP + LOOP_A);
#endif
    say("powers off");
    hyp_machine_poweroff(failures ? 1 : 0);
}

static seL4_Bool skip(microkit_msginfo *reply, seL4_Word fault_ip_mr, unsigned count)
{
    microkit_mr_set(fault_ip_mr, microkit_mr_get(fault_ip_mr) + 4);
    *reply = microkit_msginfo_new(0, (seL4_Uint16)count);
    return seL4_True;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    seL4_Word label = microkit_msginfo_get_label(msginfo);
    seL4_UserContext ctx;
    expect(child == GUEST_VCPU, "fault child");
    *reply_msginfo = microkit_msginfo_new(0, 0);
    if (label == seL4_Fault_VMFault) {
        expect(microkit_mr_get(seL4_VMFault_Addr) == MULTI_RAM_IPA(OTHER_PD), "VMFault at the other guest's RAM");
        probe_faulted = true;
        seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, &ctx);
        ctx.x2 = MULTI_PROBE_VALUE;
        ctx.pc += 4;
        seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, &ctx);
        return seL4_True;
    }
    if (label == seL4_Fault_UnknownSyscall) {
        seL4_Word x0 = microkit_mr_get(seL4_UnknownSyscall_X0);
        if (x0 == MULTI_HVC_TICK) {
            ticks++;
        } else if (x0 == MULTI_HVC_PROBED) {
            expect(microkit_mr_get(seL4_UnknownSyscall_X1) == MULTI_PROBE_VALUE, "probe value");
            probe_reported = true;
        } else {
            expect(false, "unexpected HVC");
        }
        return skip(reply_msginfo, seL4_UnknownSyscall_FaultIP, seL4_UnknownSyscall_FaultIP + 1);
    }
    if (label == seL4_Fault_VCPUFault) {
        seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, &ctx);
        expect(ctx.x0 == PSCI_SYSTEM_OFF, "the guest's SMC is SYSTEM_OFF");
        finish();
    }
    expect(false, "unexpected fault");
    finish();
    return seL4_False;
}

void notified(microkit_channel ch)
{
    expect(MULTI_PD == 0 && ch == LOOP_B, "notified on PD 0's loop channel only");
    loop_notifies++;
}

/* The system description of this PD. */
static const struct hyp_memory_region regions[] = {
    {.name = "guest_ram", .size = MULTI_RAM_SIZE, .source = HYP_MR_ALLOCATE},
};

static const struct hyp_vmm_map vmm_maps[] = {
    {.mr = &regions[0],
     .vaddr = MULTI_RAM_VADDR,
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &guest_ram_vaddr},
};

static const struct hyp_vm_map vm_maps[] = {
    {.mr = &regions[0], .guest_addr = MULTI_RAM_IPA(MULTI_PD), .perms = HYP_PERM_RWX, .cached = true},
};

static const struct hyp_vm vm = {.name = "multi-guest", .num_vcpus = 1, .maps = vm_maps, .num_maps = 1};

/* PD 0 only: the PL011's IRQ and a channel to itself. */
static const struct hyp_irq irqs[] = {{.irq = UART_IRQ, .id = UART_CHANNEL_PD0, .trigger = HYP_IRQ_LEVEL}};
static const struct hyp_channel channels[] = {{.pd_a = 0, .id_a = LOOP_A, .pd_b = 0, .id_b = LOOP_B}};
#define NUM_IRQS (MULTI_PD == 0 ? 1 : 0)
#define NUM_CHANNELS (MULTI_PD == 0 ? 1 : 0)

static const struct hyp_pd pds[] = {{.name = MULTI_PD == 0 ? "multi-vmm0" : "multi-vmm1",
                                     .init = init,
                                     .notified = notified,
                                     .fault = fault,
                                     .maps = vmm_maps,
                                     .num_maps = 1,
                                     .irqs = irqs,
                                     .num_irqs = NUM_IRQS,
                                     .vm = &vm}};

const struct hyp_system hyp_system = {
    .regions = regions, .num_regions = 1, .pds = pds, .num_pds = 1, .channels = channels, .num_channels = NUM_CHANNELS};
