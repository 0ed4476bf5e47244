/*
 * Per-physical-CPU state. TPIDR_EL2 points at this CPU's struct hyp_cpu;
 * the first fields are used by the assembly in vectors.S (offsets below).
 */
#pragma once

#define CPU_HYP_SP 0
#define CPU_FRAME 8
#define CPU_FP 16
#define CPU_FP_SAVED 24

#define HYP_MAX_CPUS 8

/* struct smp_boot_args (smp.c): what a secondary CPU needs before its MMU is on, read by boot.S. */
#define BOOT_ARGS_MAIR 0
#define BOOT_ARGS_TCR 8
#define BOOT_ARGS_TTBR0 16
#define BOOT_ARGS_SCTLR 24
#define BOOT_ARGS_SP_EL2 32
#define BOOT_ARGS_SP_EL0 40
#define BOOT_ARGS_VBAR 48
#define BOOT_ARGS_TPIDR 56
/*
 * Per CPU: hyp and the VMM run on SP_EL0 (EL2t) with HYP_STACK_SIZE bytes above an unmapped guard
 * page; SP_EL2 is a small exception stack, always valid, used by the EL2 vectors.
 */
#define HYP_STACK_SIZE 0x10000
#define HYP_STACK_GUARD 0x1000
#define HYP_EXC_STACK_SIZE 0x2000

/* Exit codes returned by hyp_vcpu_enter (vectors.S). */
#define EXIT_SYNC 0
#define EXIT_IRQ 1
#define EXIT_FIQ 2
#define EXIT_SERROR 3

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct vcpu_frame;
struct vcpu_fp;
struct pd;

struct hyp_cpu {
    uint64_t hyp_sp; /* CPU_HYP_SP: hyp's SP while the guest runs */
    struct vcpu_frame *frame; /* CPU_FRAME: register frame of the vCPU running here */
    struct vcpu_fp *fp; /* CPU_FP: FP/SIMD save area of the vCPU loaded here */
    uint64_t fp_saved; /* CPU_FP_SAVED: 1 = guest FP state is in *fp, hyp owns the FP registers */
    unsigned id; /* index into hyp_cpus; CPU i runs vCPU i (static partitioning, DESIGN 3) */
    uint64_t mpidr;
    struct vcpu *vcpu; /* the vCPU statically assigned to this CPU, or NULL */
    struct pd *pd; /* the PD whose code runs on this CPU */
    bool vtimer_hw_masked; /* vtimer PPI disabled at this CPU's GIC */
    /*
     * Cross-CPU fields (smp.c): `in_guest` is 1 from guest entry until the
     * exit has been recorded (only set under the kernel lock, cleared with a
     * release store); `online` once the CPU runs its loop; a request posted
     * by the kernel-lock holder (xcall_req != xcall_done) is served wherever
     * this CPU waits.
     */
    uint32_t in_guest;
    uint32_t online;
    uint32_t kick_mask; /* CPUs to kick once this CPU releases the kernel lock (smp_kick) */
    uint32_t lock_sleeper; /* kernel-lock ticket + 1 while this CPU waits for it in WFI, else 0 */
    uint32_t xcall_req, xcall_done;
    /* Interrupts taken on this CPU, published under the kernel lock (irq.c). */
    uint64_t irq_notify; /* PD 0 channels to notify */
    uint32_t irq_backends; /* backends whose device interrupted */
    /* GIC: GICv2 CPU interface bit (GICD_ITARGETSR, GICD_SGIR); GICv3 redistributor SGI_base frame. */
    uint8_t gic_target;
    uintptr_t gicr_sgi;
    /* Statistics, printed at power-off with hyp.log=info. */
    uint64_t exits, idles, faults, lock_waits, kicks, stalls, unloads;
    uint64_t idle_ticks, lock_ticks; /* CNTPCT ticks */
};

extern struct hyp_cpu hyp_cpus[HYP_MAX_CPUS];

struct hyp_stack {
    uint8_t guard[HYP_STACK_GUARD];
    uint8_t stack[HYP_STACK_SIZE];
    uint8_t exception[HYP_EXC_STACK_SIZE];
};
extern struct hyp_stack hyp_stacks[HYP_MAX_CPUS];

static inline struct hyp_cpu *cpu_this(void)
{
    struct hyp_cpu *c;
    __asm__ volatile("mrs %0, tpidr_el2" : "=r"(c));
    return c;
}

/* vectors.S */
uint64_t hyp_vcpu_enter(struct vcpu_frame *frame);
extern char hyp_vectors[];
/* boot.S: where PSCI CPU_ON starts a secondary CPU (x0 = its struct smp_boot_args, MMU off). */
extern char hyp_secondary_entry[];
#endif
