/*
 * Guest of the several-PD selftest (multi_vmm.c), position independent: one
 * image serves both guests. Entry: EL1h, DAIF masked, MMU off; x19 = its PD,
 * x20 = the other guest's RAM IPA (set by its VMM).
 *  1. Load from the other guest's RAM IPA: a stage-2 fault into our own VMM,
 *     which emulates MULTI_PROBE_VALUE; report it with HVC MULTI_HVC_PROBED.
 *  2. Guest 0: HVC MULTI_HVC_TICK in a loop for MULTI_RUN_SECONDS of virtual
 *     counter time; guest 1 goes straight on.
 *  3. PSCI SYSTEM_OFF through SMC.
 */
#include "selftest.h"

    .section .text.entry, "ax"
    .global _start
_start:
    ldr     w2, [x20]                /* the other guest's RAM: not in our stage 2 */
    mov     x1, x2
    ldr     x0, =MULTI_HVC_PROBED
    hvc     #0
    cbnz    x19, 2f
    mrs     x21, cntfrq_el0
    mov     x22, #MULTI_RUN_SECONDS
    mul     x21, x21, x22
    mrs     x22, cntvct_el0
    add     x21, x21, x22            /* deadline */
1:  ldr     x0, =MULTI_HVC_TICK
    hvc     #0
    mrs     x22, cntvct_el0
    cmp     x22, x21
    b.lo    1b
2:  ldr     x0, =PSCI_SYSTEM_OFF
    smc     #0
3:  wfi
    b       3b
