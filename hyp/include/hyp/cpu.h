/*
 * Per-physical-CPU state. TPIDR_EL2 points at this CPU's struct hyp_cpu;
 * the first fields are used by the assembly in vectors.S (offsets below).
 */
#pragma once

#define CPU_FP 0
#define CPU_FP_SAVED 8

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
    struct vcpu_fp *fp; /* CPU_FP: FP/SIMD save area of the vCPU loaded here */
    uint64_t fp_saved; /* CPU_FP_SAVED: 1 = guest FP state is in *fp, hyp owns the FP registers */
    struct vcpu_frame *frame; /* register frame of the vCPU loaded here (vectors.S keeps its own copy: SP_EL2) */
    unsigned id; /* index into hyp_cpus; runs vCPU id - pd->first_cpu of its PD (static partitioning, DESIGN 3) */
    uint64_t mpidr;
    struct vcpu *vcpu; /* the vCPU statically assigned to this CPU, or NULL */
    struct pd *pd; /* the PD whose code (and vCPUs) run on this CPU, and no other */
    bool vtimer_hw_masked; /* vtimer PPI disabled at this CPU's GIC */
    bool vif_en; /* GICH_HCR.En / ICH_HCR_EL2.En as last written (vcpu.c sets it before an entry, irq.c clears it) */
    /*
     * Cross-CPU fields (smp.c): `in_guest` is 1 from guest entry until the
     * exit has been recorded (only set under the kernel lock, cleared with a
     * release store); `online` once the CPU runs its loop; a request posted
     * by the kernel-lock holder (xcall_req != xcall_done) is served wherever
     * this CPU waits.
     */
    uint32_t in_guest;
    uint32_t online; /* 0 again once parked (lifecycle.c) */
    uint32_t started; /* set once by the CPU itself: the boot CPU waits for it (smp.c) */
    uint32_t kick_mask; /* CPUs to kick once this CPU releases the kernel lock (smp_kick) */
    uint32_t lock_sleeper; /* kernel-lock ticket + 1 while this CPU waits for it in WFI, else 0 */
    uint32_t xcall_req, xcall_done;
    bool holds_lock; /* this CPU holds the kernel lock (with several CPUs): a PD crash then is hyp's (lifecycle.c) */
    /* Interrupts taken on this CPU, published under the kernel lock (irq.c). */
    uint64_t irq_notify; /* channels of this CPU's PD to notify */
    uint32_t irq_backends; /* backends whose device interrupted */
    uint64_t lr_stage[64]; /* LRs other CPUs wrote for this CPU's vCPU, on their way to the hardware */
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

/* TPIDR_EL2 is set once per CPU in boot.S, before any C code runs: the read need not be volatile. */
static inline struct hyp_cpu *cpu_this(void)
{
    struct hyp_cpu *c;
    __asm__("mrs %0, tpidr_el2" : "=r"(c));
    return c;
}

/*
 * Run the guest whose exit frame is `frame` (this CPU's loaded vCPU) until
 * its next exception; returns the EXIT_* code. vectors.S's hyp_vcpu_enter
 * preserves only x19-x22, x29, x30 and SP: x23-x28 are declared clobbered
 * here, so a caller that loops over guest entries (vcpu_run) keeps its few
 * live values in x19-x22 and saves the rest once, not on every entry
 * (DESIGN 3: a short exit path).
 */
static inline uint64_t vcpu_enter(struct vcpu_frame *frame)
{
    register uint64_t x0 __asm__("x0") = (uint64_t)(uintptr_t)frame;
    __asm__ volatile("bl hyp_vcpu_enter"
                     : "+r"(x0)
                     :
                     : "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                       "x16", "x17", "x18", "x23", "x24", "x25", "x26", "x27", "x28", "x30", "cc", "memory");
    return x0;
}

/* vectors.S */
extern char hyp_vectors[];
/* boot.S: where PSCI CPU_ON starts a secondary CPU (x0 = its struct smp_boot_args, MMU off). */
extern char hyp_secondary_entry[];
#endif
