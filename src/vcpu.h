/*
 * vCPU registers and power state (library-internal).
 *
 * Register frames are seL4_UserContext (ABI section 3.4): note its order is
 * pc, sp, spsr, x0..x8, x16, x17, x18, x29, x30, x9..x15, x19..x28.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>

/* PSTATE for a fresh EL1 entry: EL1h, D, A, I, F masked (booting.rst). */
#define VCPU_SPSR_EL1H_DAIF 0x3c5

/* Word positions in seL4_UserContext of the fields before x0. */
#define VCPU_CTX_PC 0
#define VCPU_CTX_SP 1
#define VCPU_CTX_SPSR 2
#define VCPU_CTX_X0 3
#define VCPU_CTX_WORDS SEL4_USER_CONTEXT_SIZE

/* vcpu_ctx_index() of XZR (31) and of anything that is not a register. */
#define VCPU_CTX_NONE ((size_t)-1)

/* Position of general-purpose register n (0..30) in seL4_UserContext. */
size_t vcpu_ctx_index(unsigned reg);

/* seL4_UserContext position of x0..x30 (what vcpu_ctx_index() returns), for the inline accessors below. */
extern const uint8_t vcpu_ctx_gpr_word[31];

/*
 * The `count` to pass to ReadRegisters/WriteRegisters so that the frame
 * covers xN (and everything before it, pc included): vcpu_ctx_index(n) + 1,
 * or 1 (just pc) for XZR.
 */
static inline size_t vcpu_ctx_count_for(unsigned reg)
{
    return reg < 31 ? (size_t)vcpu_ctx_gpr_word[reg] + 1 : 1;
}

/* Read xN from a frame; reg 31 is XZR and reads 0. */
static inline uint64_t vcpu_ctx_get_gpr(const seL4_UserContext *ctx, unsigned reg)
{
    return reg < 31 ? ((const seL4_Word *)ctx)[vcpu_ctx_gpr_word[reg]] : 0;
}

/* Write xN in a frame; reg 31 (XZR) is ignored. */
static inline void vcpu_ctx_set_gpr(seL4_UserContext *ctx, unsigned reg, uint64_t value)
{
    if (reg < 31) {
        ((seL4_Word *)ctx)[vcpu_ctx_gpr_word[reg]] = value;
    }
}

/* Log a failed register syscall; returns false. Out of line: the callers below are inline. */
bool vcpu_regs_failed(size_t vcpu, const char *op, size_t count, seL4_Error err);

/* Read the first `count` words of the vCPU's frame. False (logged) on kernel error. */
static inline bool vcpu_read_regs(size_t vcpu, seL4_UserContext *ctx, size_t count)
{
    seL4_Error err = seL4_TCB_ReadRegisters(BASE_VM_TCB_CAP + vcpu, seL4_False, 0, count, ctx);
    return err == seL4_NoError || vcpu_regs_failed(vcpu, "ReadRegisters", count, err);
}

/* Write the first `count` words (no resume). False (logged) on kernel error. */
static inline bool vcpu_write_regs(size_t vcpu, seL4_UserContext *ctx, size_t count)
{
    seL4_Error err = seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + vcpu, seL4_False, 0, count, ctx);
    return err == seL4_NoError || vcpu_regs_failed(vcpu, "WriteRegisters", count, err);
}

/* PSCI power state of each vCPU. */
enum vcpu_power_state {
    VCPU_POWER_OFF = 0,
    VCPU_POWER_ON,
};

enum vcpu_power_state vcpu_power_state(size_t vcpu);

/*
 * Put the vCPU's EL1 system registers at their reset values (SCTLR RES1
 * pattern 0x30d00800 with MMU and caches off; VMPIDR = the vCPU's affinity),
 * then start it at `pc` with x0 = `x0`, x1..x30 = 0, PSTATE EL1h DAIF masked.
 * Marks it ON. Used for the boot vCPU and for PSCI CPU_ON.
 */
bool vcpu_boot(size_t vcpu, uint64_t pc, uint64_t x0);

/* Stop the vCPU (microkit_vcpu_stop) and mark it OFF. */
void vcpu_power_off(size_t vcpu);

/* The MPIDR value the guest sees for vCPU `vcpu` (Aff0 = vcpu, bit 31 RES1). */
uint64_t vcpu_mpidr(size_t vcpu);

/* Find the vCPU whose MPIDR affinity fields match `mpidr`; false if none. */
bool vcpu_from_mpidr(uint64_t mpidr, size_t *vcpu);

/* Log a decoded register dump of the vCPU, headed by `reason`. */
void vcpu_dump(size_t vcpu, const char *reason);

/* Name of an exception class (ESR_ELx.EC, Arm ARM D17.2.40), "unknown EC" if unnamed. */
const char *vcpu_esr_ec_name(unsigned ec);

/* Log one decoded line for an ESR value: EC name, IL, ISS. */
void vcpu_log_esr(const char *what, uint64_t esr);

/*
 * Deliver a synchronous external abort to the guest at EL1, as hardware does
 * for an access nothing answers (Arm ARM D1.10 exception entry): saves
 * PC/PSTATE into ELR_EL1/SPSR_EL1, sets ESR_EL1 (EC data or instruction abort,
 * FnV=1 so FAR is not valid) and continues at the right VBAR_EL1 vector with
 * DAIF masked. `ctx` holds at least pc and spsr (count >= 3) and is updated;
 * the caller writes it back.
 */
bool vcpu_inject_external_abort(size_t vcpu, seL4_UserContext *ctx, bool instruction_abort);

/*
 * Make the instruction at ctx->pc UNDEFINED for the guest: an exception with
 * ESR_EL1.EC 0x00 ("unknown reason", IL = 1, ISS 0) taken to EL1 as hardware
 * takes it (ELR_EL1 = that pc, SPSR_EL1 = its PSTATE, vector VBAR_EL1 +
 * 0x200 from EL1h, +0x000 from EL1t, +0x400/+0x600 from EL0), with D, A, I,
 * F masked. `ctx` holds at least pc and spsr (count >= 3) and is updated;
 * the caller writes it back.
 */
bool vcpu_inject_undef(size_t vcpu, seL4_UserContext *ctx);
