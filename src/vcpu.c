/*
 * vCPU register frames, power state, reset, dumps and exception injection.
 * Frames are seL4_UserContext (ABI 3.4); EL1 system registers are the 24
 * VCPU registers of ABI 3.3.
 */
#include <stddef.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "mmio_decode.h"
#include "vcpu.h"
#include "vgic/vgic.h"

/*
 * SCTLR_EL1 at reset: seL4's default for a new VCPU (ABI 3.3), the RES1
 * pattern 0x30d00800 plus UCI, nTWE, nTWI, UCT, CP15BEN, with M (MMU), C and I
 * (caches) clear as Linux booting.rst requires.
 */
#define SCTLR_M (1u << 0)
#define SCTLR_C (1u << 2)
#define SCTLR_I (1u << 12)
#define VCPU_SCTLR_RESET (0x34d58820u & ~(SCTLR_M | SCTLR_C | SCTLR_I))

#define MPIDR_RES1 (1ull << 31)
#define MPIDR_AFF_MASK 0xff00ffffffull /* Aff3 39:32, Aff2 23:16, Aff1 15:8, Aff0 7:0 */

/* Exception vector offsets from VBAR_EL1 (Arm ARM D1.10.2, table D1-7). */
#define VECTOR_CUR_SP0 0x000
#define VECTOR_CUR_SPX 0x200
#define VECTOR_LOWER_A64 0x400
#define VECTOR_LOWER_A32 0x600

#define SPSR_MODE_MASK 0x1f
#define SPSR_MODE_EL0T 0x00
#define SPSR_MODE_EL1T 0x04
#define SPSR_MODE_EL1H 0x05
#define SPSR_NRW (1u << 4) /* AArch32 state */

#define CTX_WORD(field) (offsetof(seL4_UserContext, field) / sizeof(seL4_Word))

const uint8_t vcpu_ctx_gpr_word[31] = {
    CTX_WORD(x0),  CTX_WORD(x1),  CTX_WORD(x2),  CTX_WORD(x3),  CTX_WORD(x4),  CTX_WORD(x5),  CTX_WORD(x6),
    CTX_WORD(x7),  CTX_WORD(x8),  CTX_WORD(x9),  CTX_WORD(x10), CTX_WORD(x11), CTX_WORD(x12), CTX_WORD(x13),
    CTX_WORD(x14), CTX_WORD(x15), CTX_WORD(x16), CTX_WORD(x17), CTX_WORD(x18), CTX_WORD(x19), CTX_WORD(x20),
    CTX_WORD(x21), CTX_WORD(x22), CTX_WORD(x23), CTX_WORD(x24), CTX_WORD(x25), CTX_WORD(x26), CTX_WORD(x27),
    CTX_WORD(x28), CTX_WORD(x29), CTX_WORD(x30),
};

static enum vcpu_power_state power[GUEST_MAX_VCPUS];

size_t vcpu_ctx_index(unsigned reg)
{
    return reg < 31 ? vcpu_ctx_gpr_word[reg] : VCPU_CTX_NONE;
}

bool vcpu_regs_failed(size_t vcpu, const char *op, size_t count, seL4_Error err)
{
    LOG_ERR("vCPU %zu: %s(count %zu) failed: seL4 error %d", vcpu, op, count, (int)err);
    return false;
}

enum vcpu_power_state vcpu_power_state(size_t vcpu)
{
    return vcpu < GUEST_MAX_VCPUS ? power[vcpu] : VCPU_POWER_OFF;
}

uint64_t vcpu_mpidr(size_t vcpu)
{
    return MPIDR_RES1 | (uint64_t)(vcpu & 0xff);
}

/*
 * An affinity value as PSCI CPU_ON / AFFINITY_INFO take it (DEN0022 5.1.4,
 * 5.1.5): Aff3..Aff0 only, every other bit (MT, U, bit 31 included) must be
 * zero, as KVM also requires; anything else names no PE.
 */
bool vcpu_from_mpidr(uint64_t mpidr, size_t *vcpu)
{
    uint64_t aff = mpidr;
    if ((aff & ~MPIDR_AFF_MASK) != 0) {
        return false;
    }
    size_t n = guest_num_vcpus();
    for (size_t i = 0; i < n; i++) {
        if ((vcpu_mpidr(i) & MPIDR_AFF_MASK) == aff) {
            *vcpu = i;
            return true;
        }
    }
    return false;
}

/* Architectural reset values for the 24 VCPU registers (ABI 3.3). */
static void reset_sysregs(size_t vcpu)
{
    for (seL4_Word reg = 0; reg < seL4_VCPUReg_Num; reg++) {
        seL4_Word value = 0;
        if (reg == seL4_VCPUReg_SCTLR) {
            value = VCPU_SCTLR_RESET;
        } else if (reg == seL4_VCPUReg_VMPIDR_EL2) {
            value = vcpu_mpidr(vcpu);
        }
        microkit_vcpu_arm_write_reg((microkit_child)vcpu, reg, value);
    }
}

/*
 * Every boot of a vCPU re-arms its virtual timer PPI. The kernel masks the PPI
 * when it raises a VPPIEvent and unmasks it only on AckVPPI (ABI 3.6); a
 * VPPIEvent that was still queued when the vCPU was suspended (guest_restart
 * or guest_stop racing the timer) is cancelled and never reaches the VMM, so
 * without this the vCPU would boot with a timer that never interrupts.
 */
static void rearm_vtimer(size_t vcpu)
{
    microkit_vcpu_arm_ack_vppi((microkit_child)vcpu, VGIC_VTIMER_PPI);
}

bool vcpu_boot(size_t vcpu, uint64_t pc, uint64_t x0)
{
    if (!guest_vcpu_valid(vcpu)) {
        LOG_ERR("no vCPU %zu", vcpu);
        return false;
    }
    reset_sysregs(vcpu);
    rearm_vtimer(vcpu);
    seL4_UserContext ctx = {0};
    ctx.pc = pc;
    ctx.spsr = VCPU_SPSR_EL1H_DAIF;
    ctx.x0 = x0;
    /* One call writes every general register (x1..x30, SP_EL0, TPIDRs = 0) and resumes. */
    seL4_Error err = seL4_TCB_WriteRegisters(BASE_VM_TCB_CAP + vcpu, seL4_True, 0, VCPU_CTX_WORDS, &ctx);
    if (err != seL4_NoError) {
        LOG_ERR("vCPU %zu: WriteRegisters(resume) failed: seL4 error %d", vcpu, (int)err);
        return false;
    }
    power[vcpu] = VCPU_POWER_ON;
    return true;
}

void vcpu_power_off(size_t vcpu)
{
    if (vcpu >= GUEST_MAX_VCPUS) {
        LOG_ERR("no vCPU %zu", vcpu);
        return;
    }
    seL4_Error err = seL4_TCB_Suspend(BASE_VM_TCB_CAP + vcpu);
    if (err != seL4_NoError) {
        LOG_ERR("vCPU %zu: Suspend failed: seL4 error %d", vcpu, (int)err);
    }
    power[vcpu] = VCPU_POWER_OFF;
}

/* ---- exception injection (Arm ARM D1.10.2 exception entry) ---- */

static uint32_t abort_esr(bool from_el0, bool instruction_abort)
{
    uint32_t ec;
    if (instruction_abort) {
        ec = from_el0 ? ESR_EC_IABT_LOWER : ESR_EC_IABT_CUR;
    } else {
        ec = from_el0 ? ESR_EC_DABT_LOWER : ESR_EC_DABT_CUR;
    }
    uint32_t iss = ESR_FSC_SYNC_EXT_ABORT;
    if (!instruction_abort) {
        iss |= ESR_DABT_FNV; /* FAR_EL1 does not hold the faulting VA: we only know the IPA */
    }
    return (ec << 26) | ESR_IL | iss;
}

/* The VBAR_EL1 offset of a synchronous exception taken from the state in spsr (D1.10.2, table D1-7). */
static uint64_t sync_vector(uint64_t spsr, bool *from_el0)
{
    if (spsr & SPSR_NRW) {
        /* AArch32 is only possible at EL0 (HCR_EL2.RW = 1 makes EL1 AArch64). */
        *from_el0 = true;
        return VECTOR_LOWER_A32;
    }
    switch (spsr & SPSR_MODE_MASK) {
    case SPSR_MODE_EL0T:
        *from_el0 = true;
        return VECTOR_LOWER_A64;
    case SPSR_MODE_EL1T:
        *from_el0 = false;
        return VECTOR_CUR_SP0;
    default:
        *from_el0 = false;
        return VECTOR_CUR_SPX;
    }
}

/* Exception entry to EL1: ELR/SPSR/ESR_EL1 set, continue at the vector with SP_EL1 and D, A, I, F masked. */
static void enter_el1(microkit_child id, seL4_UserContext *ctx, uint64_t offset, uint32_t esr)
{
    seL4_Word vbar = microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_VBAR);
    microkit_vcpu_arm_write_reg(id, seL4_VCPUReg_ELR_EL1, ctx->pc);
    microkit_vcpu_arm_write_reg(id, seL4_VCPUReg_SPSR_EL1, ctx->spsr);
    microkit_vcpu_arm_write_reg(id, seL4_VCPUReg_ESR, esr);
    ctx->pc = vbar + offset;
    ctx->spsr = VCPU_SPSR_EL1H_DAIF;
}

bool vcpu_inject_external_abort(size_t vcpu, seL4_UserContext *ctx, bool instruction_abort)
{
    if (!guest_vcpu_valid(vcpu)) {
        LOG_ERR("no vCPU %zu", vcpu);
        return false;
    }
    bool from_el0;
    uint64_t offset = sync_vector(ctx->spsr, &from_el0);
    microkit_child id = (microkit_child)vcpu;
    if (instruction_abort) {
        microkit_vcpu_arm_write_reg(id, seL4_VCPUReg_FAR, ctx->pc);
    }
    enter_el1(id, ctx, offset, abort_esr(from_el0, instruction_abort));
    return true;
}

bool vcpu_inject_undef(size_t vcpu, seL4_UserContext *ctx)
{
    if (!guest_vcpu_valid(vcpu)) {
        LOG_ERR("no vCPU %zu", vcpu);
        return false;
    }
    bool from_el0;
    uint64_t offset = sync_vector(ctx->spsr, &from_el0);
    /* EC 0x00 "unknown reason", IL = 1 (a 32-bit instruction), ISS 0: D17.2.40. */
    enter_el1((microkit_child)vcpu, ctx, offset, (ESR_EC_UNKNOWN << 26) | ESR_IL);
    return true;
}

/* ---- decoded dumps ---- */

/* Every dump line carries the same prefix, whichever helper prints it. */
#define DUMP_LINE(...) vmm_log(LOG_LEVEL_ERROR, "vcpu_dump", __VA_ARGS__)

const char *vcpu_esr_ec_name(unsigned ec)
{
    switch (ec) {
    case 0x00:
        return "unknown reason";
    case 0x01:
        return "WFI/WFE";
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x06:
    case 0x0c:
        return "AArch32 coprocessor access";
    case 0x07:
        return "SVE/SIMD/FP access";
    case 0x09:
        return "pointer authentication trap";
    case 0x0d:
        return "branch target exception";
    case 0x0e:
        return "illegal execution state";
    case 0x11:
    case 0x15:
        return "SVC";
    case 0x12:
    case 0x16:
        return "HVC";
    case 0x13:
    case 0x17:
        return "SMC";
    case 0x18:
        return "MSR/MRS/system instruction";
    case 0x19:
        return "SVE access";
    case 0x1c:
        return "pointer authentication failure";
    case 0x20:
        return "instruction abort from a lower EL";
    case 0x21:
        return "instruction abort without EL change";
    case 0x22:
        return "PC alignment fault";
    case 0x24:
        return "data abort from a lower EL";
    case 0x25:
        return "data abort without EL change";
    case 0x26:
        return "SP alignment fault";
    case 0x28:
    case 0x2c:
        return "floating-point exception";
    case 0x2f:
        return "SError";
    case 0x30:
    case 0x31:
        return "breakpoint";
    case 0x32:
    case 0x33:
        return "software step";
    case 0x34:
    case 0x35:
        return "watchpoint";
    case 0x38:
    case 0x3c:
        return "BRK/BKPT instruction";
    default:
        return "unknown EC";
    }
}

void vcpu_log_esr(const char *what, uint64_t esr)
{
    unsigned ec = ESR_EC(esr);
    DUMP_LINE("  %s 0x%08llx: EC 0x%02x (%s), IL %u, ISS 0x%07llx", what, (unsigned long long)esr, ec,
              vcpu_esr_ec_name(ec), (unsigned)((esr & ESR_IL) != 0), (unsigned long long)(esr & ESR_ISS_MASK));
}

static const char *spsr_mode_name(uint64_t spsr)
{
    if (spsr & SPSR_NRW) {
        return "AArch32";
    }
    switch (spsr & SPSR_MODE_MASK) {
    case SPSR_MODE_EL0T:
        return "EL0t";
    case SPSR_MODE_EL1T:
        return "EL1t";
    case SPSR_MODE_EL1H:
        return "EL1h";
    default:
        return "invalid mode";
    }
}

static void log_pstate(const char *what, uint64_t spsr)
{
    DUMP_LINE("  %s 0x%08llx: %s, DAIF %c%c%c%c, NZCV %c%c%c%c", what, (unsigned long long)spsr, spsr_mode_name(spsr),
              (spsr & (1u << 9)) ? 'D' : '-', (spsr & (1u << 8)) ? 'A' : '-', (spsr & (1u << 7)) ? 'I' : '-',
              (spsr & (1u << 6)) ? 'F' : '-', (spsr & (1u << 31)) ? 'N' : '-', (spsr & (1u << 30)) ? 'Z' : '-',
              (spsr & (1u << 29)) ? 'C' : '-', (spsr & (1u << 28)) ? 'V' : '-');
}

static void dump_gprs(const seL4_UserContext *ctx)
{
    for (unsigned r = 0; r < 31; r += 4) {
        char line[128];
        int n = 0;
        for (unsigned i = r; i < r + 4 && i < 31; i++) {
            n += vmm_snprintf(line + n, sizeof(line) - (size_t)n, "%sx%-2u 0x%016llx", i == r ? "" : "  ", i,
                              (unsigned long long)vcpu_ctx_get_gpr(ctx, i));
        }
        DUMP_LINE("  %s", line);
    }
}

static void dump_sysregs(size_t vcpu)
{
    microkit_child id = (microkit_child)vcpu;
    seL4_Word esr = microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_ESR);
    DUMP_LINE("  SCTLR_EL1 0x%016llx  VBAR_EL1 0x%016llx  SP_EL1 0x%016llx",
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_SCTLR),
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_VBAR),
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_SP_EL1));
    DUMP_LINE("  ELR_EL1 0x%016llx  FAR_EL1 0x%016llx  TCR_EL1 0x%016llx",
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_ELR_EL1),
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_FAR),
              (unsigned long long)microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_TCR));
    log_pstate("SPSR_EL1", microkit_vcpu_arm_read_reg(id, seL4_VCPUReg_SPSR_EL1));
    vcpu_log_esr("ESR_EL1", esr);
}

void vcpu_dump(size_t vcpu, const char *reason)
{
    DUMP_LINE("vCPU %zu: %s", vcpu, reason);
    if (!guest_vcpu_valid(vcpu)) {
        return;
    }
    seL4_UserContext ctx;
    if (!vcpu_read_regs(vcpu, &ctx, VCPU_CTX_WORDS)) {
        return;
    }
    DUMP_LINE("  pc 0x%016llx  sp_el0 0x%016llx  power %s", (unsigned long long)ctx.pc, (unsigned long long)ctx.sp,
              power[vcpu] == VCPU_POWER_ON ? "on" : "off");
    log_pstate("pstate", ctx.spsr);
    dump_gprs(&ctx);
    dump_sysregs(vcpu);
}
