/*
 * hyp selftest guest: entry, EL1 vectors and the register-exact probes
 * (HVC, SMC, MMIO, FP/SIMD) whose results guest.c checks.
 * Entry: EL1h, DAIF masked, MMU off; x1 = test mode (set by the VMM).
 */
#include "selftest.h"

    .section .text.entry, "ax"
    .global _start
_start:
    ldr     x2, =(GUEST_RAM_IPA + GUEST_RAM_SIZE)
    mov     sp, x2
    ldr     x2, =guest_vectors
    msr     vbar_el1, x2
    mov     x2, #(3 << 20)          /* CPACR_EL1.FPEN: no FP traps at EL1/EL0 */
    msr     cpacr_el1, x2
    isb
    ldr     x2, =__bss_start
    ldr     x3, =__bss_end
1:  cmp     x2, x3
    b.hs    2f
    stp     xzr, xzr, [x2], #16
    b       1b
2:  mov     x0, x1
    bl      guest_main
    /* guest_main returned its result in x0: power off through the VMM. */
    smc     #SMC_IMM_POWEROFF
3:  wfi
    b       3b

    .text
/* void guest_hvc_probe(uint64_t out[8]): x0..x7 after an HVC whose address is in x6. */
    .global guest_hvc_probe
guest_hvc_probe:
    mov     x9, x0
    ldr     x10, =SP_EL0_VALUE
    msr     sp_el0, x10
    mov     x0, #HVC_PLAIN
    mov     x1, #0x2222
    mov     x2, #0x3333
    mov     x3, #0x4444
    mov     x4, #0x5555
    mov     x5, #0x6666
    mov     x7, #0x7777
    adr     x6, 1f
1:  hvc     #0x5
    stp     x0, x1, [x9, #0]
    stp     x2, x3, [x9, #16]
    stp     x4, x5, [x9, #32]
    stp     x6, x7, [x9, #48]
    ret

/* uint64_t guest_smc_probe(void): x0 after "smc #SMC_IMM_TEST" with x0 = SMC_X0_IN. */
    .global guest_smc_probe
guest_smc_probe:
    mov     x0, #SMC_X0_IN
    smc     #SMC_IMM_TEST
    ret

/* uint32_t guest_mmio_probe(void): load then store at GUEST_MMIO_IPA; returns the loaded word. */
    .global guest_mmio_probe
guest_mmio_probe:
    ldr     x0, =GUEST_MMIO_IPA
    ldr     w1, [x0]
    ldr     w2, =MMIO_WRITE_VALUE
    str     w2, [x0, #4]
    mov     w0, w1
    ret

/* void guest_ro_store_probe(void): store to a read-only page (stage-2 permission fault). */
    .global guest_ro_store_probe
guest_ro_store_probe:
    ldr     x0, =(GUEST_RO_IPA + 8)
    mov     w1, #0x77
    str     w1, [x0]
    ret

/* void guest_iabt_probe(void): branch-and-link to an unmapped IPA; the VMM returns to x30. */
    .global guest_iabt_probe
guest_iabt_probe:
    stp     x29, x30, [sp, #-16]!
    ldr     x0, =GUEST_NOEXEC_IPA
    blr     x0
    ldp     x29, x30, [sp], #16
    ret

/* void guest_fp_probe(const uint64_t in[64], uint64_t out[64], uint64_t ctl[4]): V0-V31, FPCR, FPSR across an HVC. */
    .global guest_fp_probe
guest_fp_probe:
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldp     x3, x4, [x2]
    msr     fpcr, x3
    msr     fpsr, x4
    mov     x9, x1
    mov     x10, x2
    mov     x0, #HVC_FP
    hvc     #0x6
    stp     q0, q1, [x9, #0]
    stp     q2, q3, [x9, #32]
    stp     q4, q5, [x9, #64]
    stp     q6, q7, [x9, #96]
    stp     q8, q9, [x9, #128]
    stp     q10, q11, [x9, #160]
    stp     q12, q13, [x9, #192]
    stp     q14, q15, [x9, #224]
    stp     q16, q17, [x9, #256]
    stp     q18, q19, [x9, #288]
    stp     q20, q21, [x9, #320]
    stp     q22, q23, [x9, #352]
    stp     q24, q25, [x9, #384]
    stp     q26, q27, [x9, #416]
    stp     q28, q29, [x9, #448]
    stp     q30, q31, [x9, #480]
    mrs     x3, fpcr
    mrs     x4, fpsr
    stp     x3, x4, [x10, #16]
    ret

/* uint64_t guest_hvc(uint64_t x0): plain HVC, the VMM skips it. */
    .global guest_hvc
guest_hvc:
    hvc     #0x7
    ret

/* EL1 vectors (Arm ARM D1.10.2). Only IRQs from EL1h are expected. */
.macro vec_bad n
    .balign 0x80
    mov     x0, #\n
    b       guest_bad_vector
.endm

    .balign 0x800
guest_vectors:
    vec_bad 0
    vec_bad 1
    vec_bad 2
    vec_bad 3
    vec_bad 4
    .balign 0x80
    b       irq_entry
    vec_bad 6
    vec_bad 7
    vec_bad 8
    vec_bad 9
    vec_bad 10
    vec_bad 11
    vec_bad 12
    vec_bad 13
    vec_bad 14
    vec_bad 15

irq_entry:
    sub     sp, sp, #176
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      guest_irq
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #176
    eret
