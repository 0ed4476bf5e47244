/*
 * EL2 exception vectors (Arm ARM D1.10.2, VBAR_EL2 layout) and the guest
 * entry/exit path.
 *
 * Stacks: hyp and the VMM run in EL2t on SP_EL0 (with an unmapped guard page
 * below); SP_EL2 is a per-CPU exception stack that is always valid, so an
 * exception taken from hyp (lazy FP trap, or a fault such as a stack
 * overflow) always has a stack to run on. While the guest runs, the top of
 * SP_EL2 holds its exit frame's address and hyp's SP, for the exit path. The
 * guest's SP_EL0 lives in the exit frame.
 *
 * hyp_vcpu_enter(frame) saves hyp's x19-x22, frame pointer and link register
 * (its C caller declares x1-x18 and x23-x28 clobbered: cpu.h), restores the
 * guest's FP/SIMD registers if hyp or the VMM used them, the guest's SP_EL0,
 * ELR_EL2, SPSR_EL2 and GPRs, and ERETs. An exception from the guest saves
 * GPRs, ELR/SPSR/ESR and SP_EL0 into the frame (FAR/HPFAR are read by trap.c
 * for aborts only), sets CPTR_EL2.TFP (lazy FP: the first FP/SIMD instruction
 * hyp or the VMM executes traps, and the guest's V0-V31/FPSR/FPCR are saved
 * then), switches back to hyp's stack and returns the exit code to
 * hyp_vcpu_enter's caller.
 */
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/vcpu.h>

#define PANIC_FRAME_SIZE (38 * 8)

/*
 * Panics run on their own stack, so that a fault on a bad stack still ends
 * in a register dump. TPIDRRO_EL0 and TPIDR_EL0 (guest state, lost on this
 * terminal path) serve as scratch.
 */
.macro panic_entry idx
    .balign 0x80
    msr     tpidrro_el0, x0
    msr     tpidr_el0, x1
    mov     x1, sp
    adrp    x0, hyp_panic_stack_top
    add     x0, x0, :lo12:hyp_panic_stack_top
    sub     sp, x0, #PANIC_FRAME_SIZE
    str     x1, [sp, #280]
    mrs     x0, tpidrro_el0
    mrs     x1, tpidr_el0
    stp     x0, x1, [sp, #0]
    mov     x0, #\idx
    b       hyp_panic_vector
.endm

.macro exit_entry code
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\code
    b       hyp_vcpu_exit
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global hyp_vectors
hyp_vectors:
    .balign 0x80            /* current EL, SP_EL0 (hyp runs in EL2t): sync = lazy FP trap or a fault */
    b       el2t_sync
    panic_entry 1           /* IRQ (PSTATE.I is always masked at EL2) */
    panic_entry 2           /* FIQ */
    panic_entry 3           /* SError */
el2t_sync_panic:
    panic_entry 0           /* reached from el2t_sync; slot 4 = current EL, SP_EL2: sync */
    panic_entry 5
    panic_entry 6
    panic_entry 7
    exit_entry EXIT_SYNC    /* lower EL, AArch64: the guest */
    exit_entry EXIT_IRQ
    exit_entry EXIT_FIQ
    exit_entry EXIT_SERROR
    panic_entry 12          /* lower EL, AArch32 (HCR_EL2.RW = 1: cannot happen) */
    panic_entry 13
    panic_entry 14
    panic_entry 15

    .text
/* x0 = vector index; [sp]: x0, x1 and (at 280) the SP of the interrupted context. */
hyp_panic_vector:
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
    mrs     x2, elr_el2
    stp     x30, x2, [sp, #240]
    mrs     x2, spsr_el2
    mrs     x3, esr_el2
    stp     x2, x3, [sp, #256]
    mrs     x2, far_el2
    str     x2, [sp, #272]
    mrs     x2, sp_el0
    str     x2, [sp, #288]
    mov     x1, sp
    bl      hyp_panic_exception
1:  b       1b

/*
 * Synchronous exception from hyp/VMM code (EL2t, so SP is the valid exception stack).
 * Lazy FP/SIMD (DESIGN 3, FP/SIMD): CPTR_EL2.TFP trap, EC 0x07. Anything else panics.
 */
el2t_sync:
    stp     x0, x1, [sp, #-32]!
    stp     x2, x3, [sp, #16]
    mrs     x0, esr_el2
    lsr     x1, x0, #ESR_EC_SHIFT
    cmp     x1, #EC_FP
    b.ne    2f
    mov     x1, #CPTR_EL2_RES1
    msr     cptr_el2, x1
    isb
    mrs     x0, tpidr_el2
    ldr     x1, [x0, #CPU_FP_SAVED]
    cbnz    x1, 1f
    ldr     x2, [x0, #CPU_FP]
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    mrs     x1, fpsr
    mrs     x3, fpcr
    add     x2, x2, #512
    stp     x1, x3, [x2]
    mov     x1, #1
    str     x1, [x0, #CPU_FP_SAVED]
1:  ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp], #32
    eret
2:  ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp], #32
    b       el2t_sync_panic

/*
 * x0 = hyp_vcpu_enter(x0 = struct vcpu_frame *frame): called in EL2t on hyp's
 * stack, from vcpu_enter() (cpu.h), which treats x1-x18 and x23-x28 as clobbered.
 */
    .global hyp_vcpu_enter
hyp_vcpu_enter:
    stp     x29, x30, [sp, #-48]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    mov     x2, sp
    msr     spsel, #1               /* SP_EL2, the empty exception stack, until the guest traps */
    stp     x0, x2, [sp, #-16]!     /* the frame and hyp's SP, for hyp_vcpu_exit */
    mrs     x1, tpidr_el2
    mov     x2, #CPTR_EL2_RES1
    msr     cptr_el2, x2            /* the guest's FP/SIMD must not trap; the ERET synchronises it */
    ldr     x2, [x1, #CPU_FP_SAVED]
    cbz     x2, 1f
    isb                             /* before hyp itself touches the FP/SIMD registers */
    ldr     x3, [x1, #CPU_FP]
    ldp     q0, q1, [x3, #0]
    ldp     q2, q3, [x3, #32]
    ldp     q4, q5, [x3, #64]
    ldp     q6, q7, [x3, #96]
    ldp     q8, q9, [x3, #128]
    ldp     q10, q11, [x3, #160]
    ldp     q12, q13, [x3, #192]
    ldp     q14, q15, [x3, #224]
    ldp     q16, q17, [x3, #256]
    ldp     q18, q19, [x3, #288]
    ldp     q20, q21, [x3, #320]
    ldp     q22, q23, [x3, #352]
    ldp     q24, q25, [x3, #384]
    ldp     q26, q27, [x3, #416]
    ldp     q28, q29, [x3, #448]
    ldp     q30, q31, [x3, #480]
    add     x3, x3, #512
    ldp     x4, x5, [x3]
    msr     fpsr, x4
    msr     fpcr, x5
    str     xzr, [x1, #CPU_FP_SAVED]
1:  ldr     x2, [x0, #VCPU_FRAME_SP_EL0]
    msr     sp_el0, x2
    ldp     x2, x3, [x0, #VCPU_FRAME_PC]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

/* From exit_entry, on the exception stack: [sp] = guest x0, x1, [sp + 16] = frame, hyp's SP; x1 = exit code. */
hyp_vcpu_exit:
    ldr     x0, [sp, #16]
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #VCPU_FRAME_PC]
    mrs     x2, esr_el2
    mrs     x3, sp_el0
    stp     x2, x3, [x0, #VCPU_FRAME_ESR]
    ldp     x2, x3, [sp], #16       /* the exception stack is empty again */
    msr     sp_el0, x3
    mov     x2, #(CPTR_EL2_RES1 | CPTR_TFP)
    msr     cptr_el2, x2
    isb
    msr     spsel, #0               /* back on hyp's stack (EL2t) */
    mov     x0, x1
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x29, x30, [sp], #48
    ret

    .bss
    .balign 16
hyp_panic_stack:
    .skip   8192
hyp_panic_stack_top:
