/*
 * Entry of a test guest: EL1h, MMU and caches off, x0 = DTB address
 * (Linux booting.rst; the same contract for raw binaries). Sets up a stack
 * and the exception vectors, clears BSS and calls guest_main(x0).
 */
#include "guest_asm.h"

    .section .text.start, "ax"
    .global _start
_start:
    mov     x19, x0
    msr     daifset, #0xf
    ldr     x1, =__stack_top
    mov     sp, x1
    ldr     x1, =guest_vectors
    msr     vbar_el1, x1
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    msr     tpidr_el1, x1
    isb
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  mov     x0, x19
    bl      guest_main
3:  wfi
    b       3b

/*
 * Entry of a CPU started by PSCI CPU_ON (DEN0022 CPU_ON: x0 = context id,
 * EL1 with the MMU and caches off). Before it changes anything it records
 * in guest_cpu_entries[Aff0] what it was started with: x0, the OR of
 * x1..x30 (0 if every one was reset), SCTLR_EL1, CurrentEL, DAIF, SPSel and
 * CNTV_CTL_EL0; then it bumps the record's entry count. It takes its own
 * stack (__stack_top - Aff0 * GUEST_STACK_SIZE), the shared vectors, keeps
 * its CPU number in TPIDR_EL1 and calls guest_secondary_main(cpu, x0) if
 * set; a CPU whose Aff0 is out of range, or that returns, parks in WFI.
 */
    .text
    .global guest_secondary_entry
guest_secondary_entry:
    .irp r, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    orr     x1, x1, x\r
    .endr
    mrs     x2, mpidr_el1
    and     x2, x2, #0xff
    cmp     x2, #GUEST_MAX_CPUS
    b.hs    9f
    ldr     x3, =guest_cpu_entries
    add     x3, x3, x2, lsl #GUEST_ENTRY_SHIFT
    str     x0, [x3, #ENTRY_CONTEXT_ID]
    str     x1, [x3, #ENTRY_GPR_OR]
    mrs     x4, sctlr_el1
    str     x4, [x3, #ENTRY_SCTLR]
    mrs     x4, CurrentEL
    str     x4, [x3, #ENTRY_CURRENT_EL]
    mrs     x4, daif
    str     x4, [x3, #ENTRY_DAIF]
    mrs     x4, spsel
    str     x4, [x3, #ENTRY_SPSEL]
    mrs     x4, cntv_ctl_el0
    str     x4, [x3, #ENTRY_CNTV_CTL]
    ldr     x4, [x3, #ENTRY_COUNT]
    add     x4, x4, #1
    dmb     sy
    str     x4, [x3, #ENTRY_COUNT]
    msr     tpidr_el1, x2
    ldr     x4, =__stack_top
    sub     x4, x4, x2, lsl #GUEST_STACK_SHIFT
    mov     sp, x4
    ldr     x4, =guest_vectors
    msr     vbar_el1, x4
    isb
    ldr     x4, =guest_secondary_main
    ldr     x4, [x4]
    cbz     x4, 9f
    mov     x1, x0
    mov     x0, x2
    blr     x4
9:  wfi
    b       9b

/*
 * Exception vectors (Arm ARM D1.10.2: 16 entries of 0x80 bytes). Each saves
 * x0-x30, ELR_EL1 and SPSR_EL1 in a struct exc_frame on the stack and calls
 * exception_handle(frame, entry index); the handler may change the frame.
 */
#define FRAME_SIZE (34 * 8)

    .macro vector_entry index
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\index
    b       exception_entry
    .endm

    .text
    .balign 0x800
    .global guest_vectors
guest_vectors:
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    vector_entry \i
    .endr

exception_entry:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, elr_el1
    stp     x30, x2, [sp, #240]
    mrs     x2, spsr_el1
    str     x2, [sp, #256]
    mov     x1, x0
    mov     x0, sp
    bl      exception_handle
    ldr     x2, [sp, #256]
    msr     spsr_el1, x2
    ldp     x30, x2, [sp, #240]
    msr     elr_el1, x2
    ldp     x28, x29, [sp, #224]
    ldp     x26, x27, [sp, #208]
    ldp     x24, x25, [sp, #192]
    ldp     x22, x23, [sp, #176]
    ldp     x20, x21, [sp, #160]
    ldp     x18, x19, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #FRAME_SIZE
    eret

/*
 * uint64_t smccc_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
 * uint64_t smccc_hvc(...): SMCCC (DEN0028) calls returning x0. x0-x17 may
 * change across the call, which the AAPCS64 already lets a callee do.
 */
    .global smccc_smc
smccc_smc:
    smc     #0
    ret

    .global smccc_hvc
smccc_hvc:
    hvc     #0
    ret
