/*
 * SMP selftest guest entry, shared by every vCPU: x0 = (mode << 8) | vCPU
 * (the VMM starts vCPU 0 with 0; the others come from PSCI CPU_ON with that
 * context id). Each vCPU gets its own stack below the top of guest RAM.
 */
#include "selftest.h"

    .section .text.entry, "ax"
    .global _start
_start:
    and     x9, x0, #0xff
    ldr     x2, =(GUEST_RAM_IPA + GUEST_RAM_SIZE)
    mov     x3, #SMP_STACK_SIZE
    msub    x2, x3, x9, x2
    mov     sp, x2
    ldr     x2, =smp_guest_vectors
    msr     vbar_el1, x2
    mov     x2, #(3 << 20)          /* CPACR_EL1.FPEN */
    msr     cpacr_el1, x2
    isb
    cbnz    x0, 2f                  /* only vCPU 0's first start clears .bss */
    ldr     x2, =__bss_start
    ldr     x3, =__bss_end
1:  cmp     x2, x3
    b.hs    2f
    stp     xzr, xzr, [x2], #16
    b       1b
2:  bl      smp_guest_main
3:  wfi
    b       3b

    .text
/* uint64_t smp_smc(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3): a PSCI call, the VMM's answer. */
    .global smp_smc
smp_smc:
    smc     #0
    ret

/* uint64_t smp_hvc(uint64_t x0, uint64_t x1): the VMM skips the HVC. */
    .global smp_hvc
smp_hvc:
    hvc     #0
    ret

.macro vec_bad n
    .balign 0x80
    mov     x0, #\n
    b       smp_guest_bad_vector
.endm

    .balign 0x800
smp_guest_vectors:
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
    bl      smp_guest_irq
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
