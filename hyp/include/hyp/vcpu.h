/*
 * A guest vCPU: the seL4 TCB + VCPU object pair of ABI 3.3-3.5 in one struct.
 * One vCPU per physical CPU (DESIGN 3); EL1 system registers stay live in the
 * hardware while hyp and the VMM run (nVHE, E2H = 0), so a vCPU is "loaded"
 * on its CPU and its registers are read and written there; `saved` holds the
 * values while it is not loaded (a seam for more vCPUs than CPUs).
 */
#pragma once

#define VCPU_FRAME_X 0
#define VCPU_FRAME_PC 248
#define VCPU_FRAME_SPSR 256
#define VCPU_FRAME_ESR 264
#define VCPU_FRAME_SP_EL0 272

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <sel4/sel4.h>

#define HYP_MAX_VCPUS 8
#define VCPU_FAULT_MRS 13

#define VCPU_FRAME_WORDS 35

/* Saved on every exit by vectors.S. */
struct vcpu_frame {
    union {
        struct {
            uint64_t x[31];
            uint64_t pc; /* ELR_EL2; the TCB's FaultIP/NextIP */
            uint64_t spsr;
            uint64_t esr; /* FAR_EL2 and HPFAR_EL2 are read by trap.c, for aborts only */
            uint64_t sp_el0; /* the guest's SP_EL0 (hyp itself runs on SP_EL0) */
        };
        uint64_t word[VCPU_FRAME_WORDS]; /* the same, by position (Read/WriteRegisters) */
    };
};

struct vcpu_fp {
    uint64_t q[64]; /* V0-V31, 128 bits each */
    uint64_t fpsr, fpcr;
};

/* Thread states of ABI 5B.4 (BlockedOnSend = fault queued, BlockedOnReply = fault delivered). */
enum vcpu_state {
    VCPU_INACTIVE = 0,
    VCPU_RUNNABLE,
    VCPU_BLOCKED_ON_SEND,
    VCPU_BLOCKED_ON_REPLY,
};

struct pd;

struct vcpu {
    struct vcpu_frame frame;
    struct vcpu_fp fp;
    unsigned id;
    enum vcpu_state state;
    int loaded_cpu; /* -1: not loaded, registers in `saved` */
    struct pd *pd; /* the PD that receives this vCPU's faults */
    bool vtimer_masked; /* ABI 3.6: set on VPPIEvent, cleared by AckVPPI */
    /* The fault message while BlockedOnSend/BlockedOnReply. */
    seL4_Word fault_label;
    seL4_Word fault_len;
    seL4_Word fault_mr[VCPU_FAULT_MRS];
    struct vcpu *fault_next;
    struct {
        uint64_t reg[seL4_VCPUReg_Num];
        uint64_t tpidr_el0, tpidrro_el0;
        uint32_t gich_hcr, gich_vmcr, gich_apr;
        uint32_t lr[64];
    } saved;
};

extern struct vcpu hyp_vcpus[HYP_MAX_VCPUS];
extern unsigned hyp_num_vcpus;

/* Initial VCPU state of ABI 3.3 + TCB state of ABI 3.4 (all zero, Inactive). */
void vcpu_init(struct vcpu *v, unsigned id, struct pd *pd);
/* Make `v` the vCPU loaded on the calling CPU (writes its saved state into the hardware). */
void vcpu_load(struct vcpu *v);
/*
 * Run `v` and handle its exits while it is runnable and its PD has nothing to
 * receive (!pd_has_work) but, perhaps, faults, which it delivers.
 */
void vcpu_run(struct vcpu *v);

uint64_t vcpu_read_sysreg(struct vcpu *v, unsigned id);
void vcpu_write_sysreg(struct vcpu *v, unsigned id, uint64_t value);
static inline uint64_t vcpu_read_sp_el0(const struct vcpu *v)
{
    return v->frame.sp_el0;
}

static inline void vcpu_write_sp_el0(struct vcpu *v, uint64_t value)
{
    v->frame.sp_el0 = value;
}

/* True if `v`'s registers are live in this CPU's hardware (vcpu_load). */
static inline bool vcpu_is_loaded_here(const struct vcpu *v)
{
    return v->loaded_cpu >= 0 && (unsigned)v->loaded_cpu == cpu_this()->id;
}

/* List register idx of `v`: the hardware GICH_LR while loaded here, else the saved copy. */
static inline uint32_t vcpu_read_lr(const struct vcpu *v, unsigned idx)
{
    return vcpu_is_loaded_here(v) ? gich_read_lr(idx) : v->saved.lr[idx];
}

static inline void vcpu_write_lr(struct vcpu *v, unsigned idx, uint32_t value)
{
    if (vcpu_is_loaded_here(v)) {
        gich_write_lr(idx, value);
    } else {
        v->saved.lr[idx] = value;
    }
}

/* seL4_UserContext access by field index 0..35 (ABI 3.4 order); writes sanitise spsr. */
uint64_t vcpu_read_context(struct vcpu *v, unsigned idx);
void vcpu_write_context(struct vcpu *v, unsigned idx, uint64_t value);

/* ABI 3.4: a vCPU thread keeps EL0t/EL1t/EL1h; anything else becomes EL0t with F masked (debug kernel). */
static inline uint64_t vcpu_sanitise_spsr(uint64_t spsr)
{
    uint64_t mode = spsr & PSR_MODE_MASK;
    if (__builtin_expect(mode == PSR_MODE_EL1H, 1) || mode == PSR_MODE_EL0T || mode == PSR_MODE_EL1T) {
        return spsr; /* EL1h, where a guest kernel traps, tested first */
    }
    return (spsr & 0xf0000000ull) | PSR_MODE_EL0T | PSR_F;
}

/* Words 0..count-1 of seL4_UserContext (count <= 36), as Read/WriteRegisters copy them; writes sanitise spsr. */
void vcpu_read_context_words(struct vcpu *v, seL4_Word *out, unsigned count);
void vcpu_write_context_words(struct vcpu *v, const seL4_Word *in, unsigned count);
#endif /* __ASSEMBLER__ */
