/*
 * Per-physical-CPU state. TPIDR_EL2 points at this CPU's struct hyp_cpu;
 * the first fields are used by the assembly in vectors.S (offsets below).
 */
#pragma once

#define CPU_FP 0
#define CPU_FP_SAVED 8

#define HYP_MAX_CPUS 8
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
    unsigned id;
    struct vcpu *vcpu; /* the vCPU statically assigned to (and loaded on) this CPU */
    struct pd *pd; /* the PD whose code runs on this CPU */
    bool vtimer_hw_masked; /* vtimer PPI disabled at the distributor */
    bool gich_en; /* GICH_HCR.En as last written (vcpu.c sets it before an entry, irq.c clears it) */
    uint64_t idles; /* statistics */
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
#endif
