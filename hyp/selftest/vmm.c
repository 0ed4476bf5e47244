/*
 * hyp bring-up test VMM: a Microkit-style PD (init/notified/fault) that runs
 * the selftest guest and checks, fault by fault, that hyp delivers exactly
 * the seL4 semantics of shared/reference/sel4-microkit-abi.md. It does not
 * use libvmm. SELFTEST_VARIANT (selftest.h) selects induced failures.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <microkit.h>
#include <hyp/machine.h>
#include <hyp/system.h>
#include "selftest.h"

#ifndef SELFTEST_VARIANT
#define SELFTEST_VARIANT 0
#endif

#define GUEST_RAM_VADDR 0x2000000000ull
#define GUEST_VCPU 0
#define SCTLR_INIT 0x34d58820ull

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".global guest_image\n"
        "guest_image:\n"
        ".incbin \"" GUEST_BIN "\"\n"
        ".global guest_image_end\n"
        "guest_image_end:\n"
        ".previous\n");
extern const char guest_image[], guest_image_end[];

void vmm_clobber_fp(void);

uintptr_t guest_ram_vaddr;

static unsigned failures;
static unsigned faults[10], total_faults;
static unsigned vppi_events, maint_lr0, maint_lr1, uart_notifies, loop_notifies;
static bool hvc_ok, fp_hvc_seen, delete_first_ok, smc_ok, mmio_load_ok, mmio_store_ok;
static bool perm_fault_ok, iabt_ok, restart_ok;
static uint8_t scratch[256];

/*
 * The LR group the guest takes its interrupts in: group 0 on the GICv2 GICV
 * page, group 1 (ICC_IAR1_EL1) on GICv3 (ABI 3.1). A Microkit VMM knows its
 * board; this test VMM runs on either and asks the CPU (ID_AA64PFR0_EL1.GIC).
 */
static uint8_t irq_group(void)
{
    uint64_t pfr0;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    return ((pfr0 >> 24) & 0xf) != 0;
}

static void puthex(uint64_t v)
{
    microkit_dbg_puts("0x");
    for (int i = 60; i >= 0; i -= 4) {
        microkit_dbg_putc("0123456789abcdef"[(v >> i) & 0xf]);
    }
}

static void expect(bool ok, const char *what)
{
    if (!ok) {
        microkit_dbg_puts("vmm: FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts("\n");
        failures++;
    }
}

static void expect_eq(uint64_t got, uint64_t want, const char *what)
{
    if (got != want) {
        microkit_dbg_puts("vmm: FAIL ");
        microkit_dbg_puts(what);
        microkit_dbg_puts(": got ");
        puthex(got);
        microkit_dbg_puts(" want ");
        puthex(want);
        microkit_dbg_puts("\n");
        failures++;
    }
}

static void read_ctx(seL4_UserContext *ctx)
{
    seL4_Error e = seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, ctx);
    expect_eq(e, seL4_NoError, "ReadRegisters");
}

static void write_ctx(seL4_UserContext *ctx)
{
    seL4_Error e = seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + GUEST_VCPU, seL4_False, 0, SEL4_USER_CONTEXT_SIZE, ctx);
    expect_eq(e, seL4_NoError, "WriteRegisters");
}

static void expect_range(seL4_Error e, seL4_Word min, seL4_Word max, const char *what)
{
    expect_eq(e, seL4_RangeError, what);
    expect_eq(seL4_GetMR(0), min, what);
    expect_eq(seL4_GetMR(1), max, what);
}

/* ABI 3.4: every seL4_UserContext word has its own place; a partial copy touches only the first `count` words. */
static void context_word_checks(void)
{
    seL4_UserContext ctx, part, back;
    seL4_Word *w = (seL4_Word *)&ctx, *p = (seL4_Word *)&part, *b = (seL4_Word *)&back;
    for (unsigned i = 0; i < SEL4_USER_CONTEXT_SIZE; i++) {
        w[i] = 0x1000 + i;
        p[i] = 0x2000 + i;
    }
    ctx.spsr = 0x3c5;
    part.spsr = 0x3c4;
    write_ctx(&ctx);
    read_ctx(&back);
    expect(memcmp(&ctx, &back, sizeof(ctx)) == 0, "all 36 words round trip");
    expect_eq(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP, seL4_False, 0, 12, &part), seL4_NoError, "WriteRegisters 12");
    read_ctx(&back);
    seL4_Word wrong = 0;
    for (unsigned i = 0; i < SEL4_USER_CONTEXT_SIZE; i++) {
        wrong += b[i] != (i < 12 ? p[i] : w[i]);
    }
    expect_eq(wrong, 0, "WriteRegisters 12 changes words 0..11 only");
    memset(&back, 0xa5, sizeof(back));
    expect_eq(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP, seL4_False, 0, 5, &back), seL4_NoError, "ReadRegisters 5");
    expect(b[4] == p[4] && b[5] == 0xa5a5a5a5a5a5a5a5ull, "ReadRegisters 5 fills words 0..4 only");
}

/* ABI 3.1-3.4 argument checks, initial state and sanitisation, before the guest first runs. */
static void abi_checks(void)
{
    seL4_UserContext ctx;
    read_ctx(&ctx);
    const seL4_Word *w = (const seL4_Word *)&ctx;
    seL4_Word any = 0;
    for (unsigned i = 0; i < SEL4_USER_CONTEXT_SIZE; i++) {
        any |= w[i];
    }
    expect_eq(any, 0, "initial TCB registers are all zero");
    expect_eq(microkit_vcpu_arm_read_reg(GUEST_VCPU, seL4_VCPUReg_SCTLR), SCTLR_INIT, "initial SCTLR");
    expect_eq(microkit_vcpu_arm_read_reg(GUEST_VCPU, seL4_VCPUReg_VMPIDR_EL2), 0x80000000ull, "initial VMPIDR");
    expect_eq(microkit_vcpu_arm_read_reg(GUEST_VCPU, seL4_VCPUReg_CNTVOFF), 0, "initial CNTVOFF");

    seL4_Error e = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + GUEST_VCPU, 0, 0, 0, 255);
    expect_eq(e, seL4_RangeError, "InjectIRQ index 255");
    expect_eq(seL4_GetMR(0), 0, "InjectIRQ index 255 min");
    expect_eq(seL4_GetMR(1), 3, "InjectIRQ index 255 max = nLR-1 (4 LRs on QEMU)");
    expect_range(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP, 1024, 0, 0, 0), 0, 1023, "InjectIRQ virq 1024");
    expect_range(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP, 27, 32, 0, 0), 0, 31, "InjectIRQ priority 32");
    expect_range(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP, 27, 0, 2, 0), 0, 1, "InjectIRQ group 2");
    expect_eq(seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + 1, 27, 0, 0, 0), seL4_InvalidCapability, "InjectIRQ vCPU 1");
    expect_eq(seL4_ARM_VCPU_AckVPPI(BASE_VCPU_CAP, 26), seL4_InvalidArgument, "AckVPPI 26");
    expect_eq(seL4_ARM_VCPU_AckVPPI(BASE_VCPU_CAP, 100000), seL4_RangeError, "AckVPPI 100000");
    expect_eq(seL4_ARM_VCPU_ReadRegs(BASE_VCPU_CAP, 24).error, seL4_InvalidArgument, "ReadRegs 24");
    expect_eq(seL4_ARM_VCPU_WriteRegs(BASE_VCPU_CAP, 24, 0), seL4_InvalidArgument, "WriteRegs 24");
    expect_range(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP, seL4_False, 0, 0, &ctx), 1, 36, "ReadRegisters count 0");
    expect_range(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP, seL4_False, 0, 37, &ctx), 1, 36, "ReadRegisters count 37");
    expect_eq(seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + 1, seL4_False, 0, 1, &ctx), seL4_InvalidCapability,
              "ReadRegisters vCPU 1");
    expect_eq(seL4_TCB_ReadRegisters(TCB_CAP, seL4_False, 0, 1, &ctx), seL4_IllegalOperation, "ReadRegisters self");
    expect_eq(seL4_IRQHandler_Ack(BASE_IRQ_CAP + 5), seL4_InvalidCapability, "IRQHandler_Ack unbound channel");

    memset(&ctx, 0, sizeof(ctx));
    ctx.spsr = 0x3c9; /* EL2h: not allowed for a vCPU thread */
    expect_eq(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP, seL4_False, 0, 3, &ctx), seL4_NoError, "WriteRegisters 3");
    read_ctx(&ctx);
    expect_eq(ctx.spsr, 0x40, "SPSR EL2h sanitised to EL0t|F");
    ctx.spsr = 0x600003c4;
    write_ctx(&ctx);
    read_ctx(&ctx);
    expect_eq(ctx.spsr, 0x600003c4, "SPSR EL1t kept");
    context_word_checks();

    microkit_vcpu_arm_write_reg(GUEST_VCPU, seL4_VCPUReg_TPIDR_EL1, 0x1234);
    expect_eq(microkit_vcpu_arm_read_reg(GUEST_VCPU, seL4_VCPUReg_TPIDR_EL1), 0x1234, "VCPU TPIDR_EL1 round trip");
    microkit_vcpu_arm_write_reg(GUEST_VCPU, seL4_VCPUReg_TPIDR_EL1, 0);
    microkit_vcpu_stop(GUEST_VCPU);
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

#if SELFTEST_VARIANT == 7
static uint64_t recurse(uint64_t n)
{
    volatile uint64_t pad[64];
    pad[n % 64] = n;
    if (n == 0) { /* never: only there to keep -Winfinite-recursion quiet */
        return 0;
    }
    return recurse(n + 1) + pad[(n + 1) % 64];
}
#endif

void init(void)
{
    microkit_dbg_puts("vmm: init in PD '");
    microkit_dbg_puts(microkit_name);
    microkit_dbg_puts("'\n");
    expect_eq(guest_ram_vaddr, GUEST_RAM_VADDR, "setvar guest_ram_vaddr");
    expect_eq(microkit_irqs, 1ull << UART_CHANNEL, "microkit_irqs");
    expect_eq(microkit_notifications, (1ull << LOOP_CH_A) | (1ull << LOOP_CH_B), "microkit_notifications");
    /* Delivered after init() returns and before the guest's first fault (VMM priority). */
    microkit_deferred_notify(LOOP_CH_A);
    const volatile uint64_t *ram = (const volatile uint64_t *)guest_ram_vaddr;
    expect(ram[0] == 0 && ram[GUEST_RAM_SIZE / 8 - 1] == 0, "guest RAM is zero-filled");
    abi_checks();

    size_t size = (size_t)(guest_image_end - guest_image);
    memcpy((void *)guest_ram_vaddr, guest_image, size);
    cache_clean(guest_ram_vaddr, size);
    seL4_UserContext ctx = {0};
    ctx.spsr = 0x3c5; /* EL1h, DAIF masked */
    ctx.x1 = SELFTEST_VARIANT == 3 || SELFTEST_VARIANT == 6 ? SELFTEST_VARIANT : 0;
#if SELFTEST_VARIANT == 7
    microkit_dbg_puts("vmm: variant 7: unbounded recursion must hit the stack guard page\n");
    recurse(1);
#endif
#if SELFTEST_VARIANT == 5
    microkit_dbg_puts("vmm: variant 5: writing through a bad pointer must end the PD (and so QEMU) with status 1\n");
    *(volatile uint64_t *)0x1238 = 0;
#endif
    write_ctx(&ctx);
    microkit_vcpu_restart(GUEST_VCPU, GUEST_RAM_IPA);
}

static void finish(uint64_t guest_failures)
{
    microkit_dbg_puts("vmm: faults: UnknownSyscall ");
    microkit_dbg_put32(faults[seL4_Fault_UnknownSyscall]);
    microkit_dbg_puts(", VMFault ");
    microkit_dbg_put32(faults[seL4_Fault_VMFault]);
    microkit_dbg_puts(", VCPUFault ");
    microkit_dbg_put32(faults[seL4_Fault_VCPUFault]);
    microkit_dbg_puts(", VPPIEvent ");
    microkit_dbg_put32(faults[seL4_Fault_VPPIEvent]);
    microkit_dbg_puts(", VGICMaintenance ");
    microkit_dbg_put32(faults[seL4_Fault_VGICMaintenance]);
    microkit_dbg_puts(", total ");
    microkit_dbg_put32(total_faults);
    microkit_dbg_puts("\n");
    if (SELFTEST_VARIANT == 6) {
        expect_eq(faults[seL4_Fault_UnknownSyscall], BENCH_ROUNDS, "bench: one UnknownSyscall per HVC");
    } else if (SELFTEST_VARIANT == 3) {
        expect_eq(vppi_events, 1, "idle: one VPPIEvent");
        expect_eq(total_faults, 3, "idle: VPPIEvent + VGICMaintenance + power-off SMC only (no WFI faults)");
    } else {
        expect(hvc_ok && fp_hvc_seen && delete_first_ok && smc_ok && mmio_load_ok && mmio_store_ok && perm_fault_ok &&
                   iabt_ok && restart_ok,
               "every probe reached the VMM");
        expect_eq(vppi_events, TIMER_ROUNDS, "VPPIEvents");
        expect_eq(maint_lr0, TIMER_ROUNDS, "VGICMaintenance on LR 0");
        expect_eq(maint_lr1, 1, "VGICMaintenance on LR 1");
        expect_eq(uart_notifies, 1, "UART notifications");
        expect_eq(faults[seL4_Fault_VCPUFault], 2, "VCPUFaults: the two SMCs, no WFI");
        expect_eq(faults[seL4_Fault_UnknownSyscall], 4, "UnknownSyscalls");
        expect_eq(faults[seL4_Fault_VMFault], 4, "VMFaults");
    }
    expect_eq(guest_failures, 0, "guest-side checks");
    if (failures == 0) {
        microkit_dbg_puts("hyp-selftest: PASS\n");
        hyp_machine_poweroff(0);
    }
    microkit_dbg_puts("hyp-selftest: FAIL\n");
    hyp_machine_poweroff(1);
}

/* Reply that resumes after the HVC: MR8 (FaultIP) := FaultIP + 4; x0-x7 keep the fault's values. */
static seL4_Bool reply_skip_hvc(microkit_msginfo *reply)
{
    microkit_mr_set(seL4_UnknownSyscall_FaultIP, microkit_mr_get(seL4_UnknownSyscall_FaultIP) + 4);
    *reply = microkit_msginfo_new(0, seL4_UnknownSyscall_FaultIP + 1);
    return seL4_True;
}

static seL4_Bool handle_hvc(microkit_msginfo msginfo, microkit_msginfo *reply)
{
    expect_eq(microkit_msginfo_get_count(msginfo), seL4_UnknownSyscall_Length, "UnknownSyscall length");
    seL4_Word x0 = microkit_mr_get(seL4_UnknownSyscall_X0);
    seL4_Word ip = microkit_mr_get(seL4_UnknownSyscall_FaultIP);
    if (SELFTEST_VARIANT == 6 && x0 == HVC_NULL) {
        return reply_skip_hvc(reply);
    }
    if (x0 == HVC_PLAIN) {
        expect_eq(microkit_mr_get(1), SELFTEST_VARIANT == 1 ? 0x2223 : 0x2222, "HVC MR1 = x1");
        expect_eq(microkit_mr_get(5), 0x6666, "HVC MR5 = x5");
        expect_eq(microkit_mr_get(6), ip, "HVC FaultIP = address of the HVC");
        expect_eq(microkit_mr_get(seL4_UnknownSyscall_LR), ip + 4, "HVC MR10 = ELR (HVC + 4)");
        expect_eq(microkit_mr_get(seL4_UnknownSyscall_Syscall), 0x7777, "HVC MR12 = x7");
        expect_eq(microkit_mr_get(seL4_UnknownSyscall_X7), 0x7777, "HVC MR7 = x7");
        expect_eq(microkit_mr_get(seL4_UnknownSyscall_SP), SP_EL0_VALUE, "HVC MR9 = SP_EL0");
        expect_eq(microkit_mr_get(seL4_UnknownSyscall_SPSR) & 0x3df, 0x3c5, "HVC MR11 = SPSR (EL1h, DAIF)");
        hvc_ok = true;
        microkit_mr_set(seL4_UnknownSyscall_X0, HVC_REPLY_X0);
        return reply_skip_hvc(reply);
    }
    if (x0 == HVC_FP) {
        /* Use FP/SIMD in the VMM: the guest's registers must survive (lazy FP save in hyp). */
        vmm_clobber_fp();
        memset(scratch, 0x5a, sizeof(scratch));
        memcpy(scratch + 1, scratch + 64, 100);
        fp_hvc_seen = true;
        return reply_skip_hvc(reply);
    }
    if (x0 == HVC_DELETE) {
        seL4_Error e = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + GUEST_VCPU, VTIMER_IRQ, 0, irq_group(), 0);
        expect_eq(e, seL4_DeleteFirst, "InjectIRQ into an Active LR");
        delete_first_ok = e == seL4_DeleteFirst;
        return reply_skip_hvc(reply);
    }
    if (x0 == HVC_RESTART) {
        /* ABI 3.8: Suspend unlinks the reply; restart makes the vCPU runnable at the written pc. */
        seL4_UserContext ctx;
        microkit_vcpu_stop(GUEST_VCPU);
        read_ctx(&ctx);
        expect_eq(ctx.pc, ip, "TCB pc of a vCPU stopped in an UnknownSyscall = the HVC");
        ctx.pc = ip + 4;
        ctx.x0 = RESTART_X0;
        expect_eq(seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP, seL4_True, 0, SEL4_USER_CONTEXT_SIZE, &ctx), seL4_NoError,
                  "WriteRegisters with resume");
        restart_ok = true;
        /* Label 1 would stop the vCPU if the reply still applied. */
        *reply = microkit_msginfo_new(1, 0);
        return seL4_True;
    }
    expect(false, "unexpected HVC");
    return reply_skip_hvc(reply);
}

static seL4_Bool handle_vcpu_fault(microkit_msginfo *reply)
{
    seL4_Word esr = microkit_mr_get(seL4_VCPUFault_HSR);
    seL4_UserContext ctx;
    if ((esr >> 26) != 0x17) {
        expect_eq(esr, 0x17u << 26, "VCPUFault is an SMC (no WFI/WFE faults)");
        return seL4_True;
    }
    read_ctx(&ctx);
    if ((esr & 0xffff) == SMC_IMM_POWEROFF) {
        finish(ctx.x0);
    }
    expect_eq(esr & 0xffff, SMC_IMM_TEST, "SMC immediate in the HSR ISS");
    expect_eq(ctx.x0, SMC_X0_IN, "SMC x0 via ReadRegisters");
    if (SELFTEST_VARIANT == 2) {
        microkit_dbg_puts("vmm: variant 2: injecting into LR 200 must crash the VMM\n");
        microkit_vcpu_arm_inject_irq(GUEST_VCPU, VTIMER_IRQ, 0, 0, 200);
    }
    ctx.pc += 4;
    ctx.x0 = SMC_X0_OUT;
    write_ctx(&ctx);
    smc_ok = true;
    *reply = microkit_msginfo_new(0, 0);
    return seL4_True;
}

static seL4_Bool handle_vm_fault(microkit_msginfo msginfo, microkit_msginfo *reply)
{
    seL4_Word addr = microkit_mr_get(seL4_VMFault_Addr);
    seL4_Word fsr = microkit_mr_get(seL4_VMFault_FSR);
    seL4_UserContext ctx;
    read_ctx(&ctx);
    expect_eq(microkit_msginfo_get_count(msginfo), seL4_VMFault_Length, "VMFault length");
    expect_eq(microkit_mr_get(seL4_VMFault_IP), ctx.pc, "VMFault IP = TCB pc");
    if (microkit_mr_get(seL4_VMFault_PrefetchFault)) {
        expect_eq(addr, GUEST_NOEXEC_IPA, "prefetch VMFault address");
        expect_eq(ctx.pc, GUEST_NOEXEC_IPA, "prefetch VMFault pc");
        expect_eq(fsr >> 26, 0x20, "prefetch VMFault FSR EC = instruction abort from a lower EL");
        ctx.pc = ctx.x30;
        write_ctx(&ctx);
        iabt_ok = true;
        return seL4_True;
    }
    expect_eq(fsr >> 26, 0x24, "VMFault FSR EC = data abort from a lower EL");
    bool isv = fsr & (1u << 24), wnr = fsr & (1u << 6);
    unsigned sas = (fsr >> 22) & 3, srt = (fsr >> 16) & 0x1f;
    if (addr == GUEST_MMIO_IPA) {
        expect(isv && !wnr && sas == 2 && srt == 1, "MMIO load syndrome: ISV, word, x1, read");
        ctx.x1 = MMIO_READ_VALUE;
        mmio_load_ok = true;
    } else if (addr == GUEST_MMIO_IPA + 4) {
        expect(isv && wnr && sas == 2 && srt == 2, "MMIO store syndrome: ISV, word, x2, write");
        expect_eq(ctx.x2, MMIO_WRITE_VALUE, "MMIO store value");
        mmio_store_ok = true;
    } else if (addr == GUEST_RO_IPA + 8) {
        expect(wnr && (fsr & 0x3c) == 0x0c, "store to a read-only page: permission fault, write");
        perm_fault_ok = true;
    } else {
        expect_eq(addr, GUEST_MMIO_IPA, "VMFault address");
    }
    ctx.pc += 4;
    write_ctx(&ctx);
    *reply = microkit_msginfo_new(0, 0);
    return seL4_True;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    seL4_Word label = microkit_msginfo_get_label(msginfo);
    total_faults++;
    expect_eq(loop_notifies, 1, "deferred notify delivered before the first fault");
    if (label < 10) {
        faults[label]++;
    }
    expect_eq(child, GUEST_VCPU, "fault child");
    *reply_msginfo = microkit_msginfo_new(0, 0);
    switch (label) {
    case seL4_Fault_UnknownSyscall:
        return handle_hvc(msginfo, reply_msginfo);
    case seL4_Fault_VCPUFault:
        return handle_vcpu_fault(reply_msginfo);
    case seL4_Fault_VMFault:
        return handle_vm_fault(msginfo, reply_msginfo);
    case seL4_Fault_VPPIEvent:
        expect_eq(microkit_mr_get(seL4_VPPIEvent_IRQ), VTIMER_IRQ, "VPPIEvent IRQ");
        vppi_events++;
        microkit_vcpu_arm_inject_irq(GUEST_VCPU, VTIMER_IRQ, 0, irq_group(), 0);
        return seL4_True;
    case seL4_Fault_VGICMaintenance: {
        seL4_Word idx = microkit_mr_get(seL4_VGICMaintenance_IDX);
        if (idx == 0) {
            maint_lr0++;
            microkit_vcpu_arm_ack_vppi(GUEST_VCPU, VTIMER_IRQ);
        } else if (idx == 1) {
            maint_lr1++;
            microkit_deferred_irq_ack(UART_CHANNEL);
        } else {
            expect_eq(idx, 0, "VGICMaintenance index");
        }
        return seL4_True;
    }
    default:
        expect_eq(label, seL4_Fault_VMFault, "unexpected fault label");
        finish(1);
        return seL4_False;
    }
}

void notified(microkit_channel ch)
{
    if (ch == LOOP_CH_B) {
        loop_notifies++;
        return;
    }
    expect_eq(ch, UART_CHANNEL, "notified channel");
    uart_notifies++;
    microkit_vcpu_arm_inject_irq(GUEST_VCPU, UART_IRQ, 0, irq_group(), 1);
}

/* The system description (the SDF of this PD). */
static const struct hyp_memory_region regions[] = {
    {.name = "guest_ram", .size = GUEST_RAM_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "uart", .size = 0x1000, .source = HYP_MR_PLATFORM_UART},
    {.name = "gic_vcpu", .size = 0x2000, .source = HYP_MR_PLATFORM_GICV},
    {.name = "ro_page", .size = 0x1000, .source = HYP_MR_ALLOCATE},
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
    {.mr = &regions[3], .guest_addr = GUEST_RO_IPA, .perms = HYP_PERM_R, .cached = true},
#if SELFTEST_VARIANT == 4
    /* Nonsense on purpose: overlaps guest RAM. */
    {.mr = &regions[3], .guest_addr = GUEST_RAM_IPA + 0x1000, .perms = HYP_PERM_R, .cached = true},
#endif
};

static const struct hyp_vm vm = {
    .name = "selftest-guest", .num_vcpus = 1, .maps = vm_maps, .num_maps = sizeof(vm_maps) / sizeof(vm_maps[0])};

static const struct hyp_irq irqs[] = {{.irq = UART_IRQ, .id = UART_CHANNEL, .trigger = HYP_IRQ_LEVEL}};

static const struct hyp_pd pds[] = {{.name = "selftest-vmm",
                                     .init = init,
                                     .notified = notified,
                                     .fault = fault,
                                     .maps = vmm_maps,
                                     .num_maps = 1,
                                     .irqs = irqs,
                                     .num_irqs = 1,
                                     .vm = &vm}};

static const struct hyp_channel channels[] = {{.pd_a = 0, .id_a = LOOP_CH_A, .pd_b = 0, .id_b = LOOP_CH_B}};

const struct hyp_system hyp_system = {.regions = regions,
                                      .num_regions = HYP_ARRAY_SIZE(regions),
                                      .pds = pds,
                                      .num_pds = 1,
                                      .channels = channels,
                                      .num_channels = HYP_ARRAY_SIZE(channels)};
