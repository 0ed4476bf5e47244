/*
 * hyp entry point. QEMU starts the ELF entry at EL2 (virtualization=on, no
 * EL3) with the MMU off; x0 is not set for ELF images, so the hardware DTB
 * is taken from the start of RAM (platform.c). Secondary CPUs are held off
 * by QEMU's PSCI emulation until CPU_ON; a stray one parks here.
 */
#include <hyp/arch.h>
#include <hyp/cpu.h>

    .section .text.boot, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    mrs     x0, CurrentEL
    cmp     x0, #(2 << 2)
    b.ne    not_el2

    /* Arm ARM D13.2.118: MMU and caches off, alignment checks off, known RES1 pattern. */
    ldr     x0, =SCTLR_EL2_RES1
    msr     sctlr_el2, x0
    isb

    /* Zero .bss (16-byte aligned by hyp.ld; device-type stores with the MMU off). */
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:
    /* SP_EL2: the exception stack; SP_EL0: hyp's stack, used from here on (EL2t). */
    ldr     x0, =(hyp_stacks + HYP_STACK_GUARD + HYP_STACK_SIZE + HYP_EXC_STACK_SIZE)
    mov     sp, x0
    ldr     x0, =(hyp_stacks + HYP_STACK_GUARD + HYP_STACK_SIZE)
    msr     sp_el0, x0
    msr     spsel, #0
    ldr     x0, =hyp_vectors
    msr     vbar_el2, x0
    ldr     x0, =hyp_cpus
    msr     tpidr_el2, x0
    isb
    bl      hyp_main
3:  wfi
    b       3b

not_el2:
    /* No console yet: report through semihosting SYS_EXIT with status 2. */
    ldr     x1, =boot_exit_block
    mov     w0, #0x18
    hlt     #0xf000
4:  wfi
    b       4b

    .section .rodata
    .balign 8
boot_exit_block:
    .quad   0x20026, 2

/*
 * Secondary CPUs, started by smp_boot_secondaries() through PSCI CPU_ON
 * (DEN0022 5.6: entered at the caller's EL, EL2, with the MMU and caches off
 * and x0 = context_id). x0 points at this CPU's struct smp_boot_args, cleaned
 * to the point of coherency by the boot CPU: the MMU comes on with the
 * shared EL2 tables, then stacks, vectors and TPIDR_EL2 as on the boot CPU.
 */
    .text
    .global hyp_secondary_entry
hyp_secondary_entry:
    msr     daifset, #0xf
    ldr     x1, =SCTLR_EL2_RES1
    msr     sctlr_el2, x1
    isb
    ldp     x1, x2, [x0, #BOOT_ARGS_MAIR]
    msr     mair_el2, x1
    msr     tcr_el2, x2
    ldr     x1, [x0, #BOOT_ARGS_TTBR0]
    msr     ttbr0_el2, x1
    isb
    tlbi    alle2
    dsb     nsh
    isb
    ldr     x1, [x0, #BOOT_ARGS_SCTLR]
    msr     sctlr_el2, x1
    isb
    ldp     x1, x2, [x0, #BOOT_ARGS_SP_EL2]
    mov     sp, x1
    msr     sp_el0, x2
    msr     spsel, #0
    ldp     x1, x2, [x0, #BOOT_ARGS_VBAR]
    msr     vbar_el2, x1
    msr     tpidr_el2, x2
    isb
    bl      hyp_secondary_main
5:  wfi
    b       5b
