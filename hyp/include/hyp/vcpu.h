/*
 * A guest vCPU: the seL4 TCB + VCPU object pair of ABI 3.3-3.5 in one struct.
 * vCPU i of PD k runs on physical CPU first_cpu(k) + i only (static partitioning, DESIGN 3); "CPU i"
 * below is that CPU. Its EL1
 * system registers, TPIDR(RO)_EL0 and GIC virtual-interface state are
 * "loaded" (live in CPU i's hardware) while `loaded_cpu` is i, and in `saved`
 * while it is -1. Another CPU never touches CPU i's registers: it has CPU i
 * unload the vCPU first (smp.c), as seL4 has the owning core do the work
 * (ABI 3.1 "SMP: an IPI writes it on the owning core"). LR writes for a vCPU
 * loaded elsewhere go to `saved.lr` and are marked in `lr_dirty`; CPU i
 * copies them into its list registers before its next guest entry.
 * Everything but the frame of a running vCPU is under the kernel lock.
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
    unsigned cpu; /* the physical CPU it runs on */
    enum vcpu_state state;
    int loaded_cpu; /* -1: not loaded, registers in `saved` */
    uint32_t epoch; /* bumped by suspend/restart: an exit still in flight is then discarded */
    struct pd *pd; /* the PD that receives this vCPU's faults */
    bool vtimer_masked; /* ABI 3.6: set on VPPIEvent, cleared by AckVPPI */
    /* The fault raised by the exit being handled on this vCPU's CPU (0 = none). */
    seL4_Word exit_label, exit_len;
    /* The fault message while BlockedOnSend/BlockedOnReply (exit_* moves here when queued). */
    seL4_Word fault_label;
    seL4_Word fault_len;
    seL4_Word fault_mr[VCPU_FAULT_MRS];
    /*
     * Where an exit writes its fault's MRs (trap.c, irq.c): the PD's IPC buffer when the PD has one
     * CPU (no entry point can run while its guest does, and the short path then delivers with no
     * copy), else fault_mr (another CPU may be running the PD). pd.c moves them to fault_mr if queued.
     */
    seL4_Word *exit_mr;
    struct vcpu *fault_next;
    uint64_t lr_dirty;
    struct {
        uint64_t reg[seL4_VCPUReg_Num];
        uint64_t tpidr_el0, tpidrro_el0;
        uint32_t vmcr, apr[2];
        uint64_t lr[64];
    } saved;
};

extern struct vcpu hyp_vcpus[HYP_MAX_VCPUS];
extern unsigned hyp_num_vcpus;

/* Initial VCPU state of ABI 3.3 + TCB state of ABI 3.4 (all zero, Inactive, not loaded). */
void vcpu_init(struct vcpu *v, unsigned id, unsigned cpu, struct pd *pd);
/* On v's CPU, kernel lock held: write v->saved into this CPU's registers / save them back. */
void vcpu_load(struct vcpu *v);
void vcpu_unload(struct vcpu *v);
/*
 * On v's CPU, kernel lock held (dropped while the guest runs): run v and
 * handle its exits while it is runnable and its PD has nothing this CPU must
 * receive first (pd_has_work_for). A fault an exit raises is delivered at
 * once when the PD is free and has nothing else to receive (DESIGN 3: the
 * short path), queued otherwise; an exit of a vCPU suspended or restarted
 * meanwhile is discarded.
 */
void vcpu_run(struct hyp_cpu *c, struct vcpu *v);

/* Kernel lock held, any CPU. The VCPU object's registers (ABI 3.3): hardware, or the saved copy. */
uint64_t vcpu_read_sysreg(struct vcpu *v, unsigned id);
void vcpu_write_sysreg(struct vcpu *v, unsigned id, uint64_t value);
/* ABI 3.1: the true LR if v is loaded here, else seL4's saved copy (written through to v's CPU). */
static inline bool vcpu_is_loaded_here(const struct vcpu *v)
{
    return v->loaded_cpu >= 0 && (unsigned)v->loaded_cpu == cpu_this()->id;
}

static inline uint64_t vcpu_read_lr(const struct vcpu *v, unsigned idx)
{
    return vcpu_is_loaded_here(v) ? gic_vif_read_lr(idx) : v->saved.lr[idx];
}

/* An LR write for a vCPU that is not loaded here (vcpu.c). */
void vcpu_write_lr_elsewhere(struct vcpu *v, unsigned idx, uint64_t value);

/* Kernel lock held unless v is this CPU's: the saved copy is seL4's, what another CPU checks for DeleteFirst. */
static inline void vcpu_write_lr(struct vcpu *v, unsigned idx, uint64_t value)
{
    if (vcpu_is_loaded_here(v)) {
        v->saved.lr[idx] = value;
        gic_vif_write_lr(idx, value);
    } else {
        vcpu_write_lr_elsewhere(v, idx, value);
    }
}

/* Kernel lock held: after this, v's frame is not being run (a running remote vCPU is kicked out). */
void vcpu_frame_sync(struct vcpu *v);

static inline uint64_t vcpu_read_sp_el0(const struct vcpu *v)
{
    return v->frame.sp_el0;
}

static inline void vcpu_write_sp_el0(struct vcpu *v, uint64_t value)
{
    v->frame.sp_el0 = value;
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
