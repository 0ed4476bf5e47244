/*
 * Fault dispatch: every seL4 fault a guest vCPU raises (ABI 2.1-2.5, MCS
 * labels) is decoded and handled here; DESIGN sections 3 and 5.
 *
 * Exit-path cost: MR0 of a VMFault is the faulting pc, so a store from XZR or
 * a load into XZR needs no register read; otherwise one ReadRegisters covers
 * pc .. Rt and one WriteRegisters writes back pc (store) or pc .. Rt (load).
 * The HVC path uses no register syscall at all: the UnknownSyscall reply
 * writes x0..x7 and the restart pc from its message registers (ABI 2.5).
 * Nothing is logged on a successful path.
 */
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "mmio_decode.h"
#include "mmio_internal.h"
#include "smccc.h"
#include "vcpu.h"
#include "vgic/vgic.h"

/* Reply MRs of an UnknownSyscall: x0..x7 then FaultIP, the restart pc (ABI 2.5). */
#define HVC_REPLY_MRS (seL4_UnknownSyscall_FaultIP + 1)

/* Trapped MSR/MRS ISS (EC 0x18, Arm ARM D17.2.40): Rt and Direction (1 = MRS, a read). */
#define ESR_SYSREG_RT_SHIFT 5
#define ESR_SYSREG_DIR_READ 1u

/* pc (word 0) .. x7, pc .. x3 and pc .. x0 in seL4_UserContext. */
#define SMC_READ_COUNT (VCPU_CTX_X0 + 8)
#define SMC_WRITE_COUNT (VCPU_CTX_X0 + 4)
#define SMC_FID_COUNT (VCPU_CTX_X0 + 1)

/* The guest has to stop: log why with a decoded dump, and stop all its vCPUs. */
static bool stop_guest(size_t vcpu, const char *reason)
{
    vcpu_dump(vcpu, reason);
    guest_stop(vcpu);
    return false;
}

/* A call !smccc_fid_served(): logged at debug level only, and the level is checked here, off the call. */
static void note_unsupported(size_t vcpu, uint64_t x0)
{
    if (vmm_log_level >= LOG_LEVEL_DEBUG) {
        smccc_log_unsupported(vcpu, (uint32_t)x0);
    }
}

/* Deliver a synchronous external abort to the guest and resume it at the vector. */
static bool inject_abort(size_t vcpu, uint64_t pc, bool instruction_abort)
{
    seL4_UserContext ctx;
    if (!vcpu_read_regs(vcpu, &ctx, VCPU_CTX_SPSR + 1)) {
        return false;
    }
    ctx.pc = pc;
    if (!vcpu_inject_external_abort(vcpu, &ctx, instruction_abort) || !vcpu_write_regs(vcpu, &ctx, VCPU_CTX_SPSR + 1)) {
        return false;
    }
    return true;
}

/* An access no emulated region claims: the guest gets an external abort, as from a bus nothing answers. */
static bool no_device(size_t vcpu, uint64_t pc, uint64_t gpa, bool is_write)
{
    LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: %s at IPA 0x%llx (pc 0x%llx): no device there", vcpu,
              is_write ? "write" : "read", (unsigned long long)gpa, (unsigned long long)pc);
    return inject_abort(vcpu, pc, false);
}

/* The access failed in its region (handler refused, or it ran off the end), or no region claims it. */
static bool mmio_failed(size_t vcpu, uint64_t pc, uint64_t gpa, bool is_write, enum mmio_dispatch_result r)
{
    return r == MMIO_UNCLAIMED ? no_device(vcpu, pc, gpa, is_write) : inject_abort(vcpu, pc, false);
}

static inline __attribute__((always_inline)) bool mmio_store(size_t vcpu, uint64_t pc, uint64_t gpa,
                                                             const struct mmio_syndrome *s)
{
    seL4_UserContext ctx;
    uint64_t reg = 0;
    if (s->rt != MMIO_REG_XZR) {
        size_t word = vcpu_ctx_gpr_word[s->rt]; /* Rt's word: ReadRegisters reads words 0 .. word */
        if (!vcpu_read_regs(vcpu, &ctx, word + 1)) {
            return false;
        }
        reg = ((const seL4_Word *)&ctx)[word];
    }
    struct mmio_access access = {
        .gpa = gpa,
        .width = s->width,
        .is_write = true,
        .value = mmio_store_value(s, reg),
    };
    enum mmio_dispatch_result r = mmio_dispatch(vcpu, &access);
    if (r != MMIO_HANDLED) {
        return mmio_failed(vcpu, pc, gpa, true, r);
    }
    ctx.pc = pc + s->insn_len;
    return vcpu_write_regs(vcpu, &ctx, 1);
}

static inline __attribute__((always_inline)) bool mmio_load(size_t vcpu, uint64_t pc, uint64_t gpa,
                                                            const struct mmio_syndrome *s)
{
    struct mmio_access access = {.gpa = gpa, .width = s->width, .is_write = false, .value = 0};
    enum mmio_dispatch_result r = mmio_dispatch(vcpu, &access);
    if (r != MMIO_HANDLED) {
        return mmio_failed(vcpu, pc, gpa, false, r);
    }
    seL4_UserContext ctx;
    if (s->rt == MMIO_REG_XZR) {
        ctx.pc = pc + s->insn_len;
        return vcpu_write_regs(vcpu, &ctx, 1); /* a load into XZR only moves pc */
    }
    /* WriteRegisters writes words 0..word, so the words before Rt's must be read first. */
    size_t word = vcpu_ctx_gpr_word[s->rt];
    if (!vcpu_read_regs(vcpu, &ctx, word + 1)) {
        return false;
    }
    ctx.pc = pc + s->insn_len;
    ((seL4_Word *)&ctx)[word] = mmio_load_result(s, access.value);
    return vcpu_write_regs(vcpu, &ctx, word + 1);
}

/* Skip the faulting instruction without any other effect (count 1: pc only). */
static bool skip_instruction(size_t vcpu, uint64_t pc, unsigned len)
{
    seL4_UserContext ctx;
    ctx.pc = pc + len;
    return vcpu_write_regs(vcpu, &ctx, 1);
}

/* A described access (ISV), FAR valid, no cache maintenance, not on a stage-1 table walk: the common case. */
#define DABT_PLAIN_MASK (ESR_DABT_ISV | ESR_DABT_FNV | ESR_DABT_CM | ESR_DABT_S1PTW)
#define DABT_PLAIN ESR_DABT_ISV

/* Every data abort but the plain ones fault_vm() handles itself: each check in the order it applies. */
static __attribute__((noinline)) bool data_abort(size_t vcpu, uint64_t pc, uint64_t addr, uint32_t esr)
{
    struct mmio_syndrome s;
    mmio_decode_syndrome(esr, &s);
    if (!mmio_dfsc_is_mmio(s.dfsc) || s.far_invalid || s.s1ptw) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: data abort at pc 0x%llx, IPA 0x%llx, ESR 0x%08x (DFSC 0x%02x%s%s)", vcpu,
                  (unsigned long long)pc, (unsigned long long)addr, esr, s.dfsc, s.far_invalid ? ", FnV" : "",
                  s.s1ptw ? ", stage-1 walk" : "");
        return inject_abort(vcpu, pc, false);
    }
    if (!mmio_claimed(addr)) {
        return no_device(vcpu, pc, addr, s.is_write);
    }
    if (s.cache_maint) {
        /* DC on an emulated device: nothing to maintain (no cached copy exists). */
        return skip_instruction(vcpu, pc, s.insn_len);
    }
    if (!s.isv) {
        /* LDP/STP, writeback, exclusives, SIMD...: the syndrome cannot describe them (DESIGN 5). */
        LOG_GUEST(LOG_LEVEL_ERROR,
                  "vCPU %zu: access at IPA 0x%llx (pc 0x%llx) the syndrome cannot describe (ISV=0, e.g. "
                  "LDP/STP or writeback): external abort injected",
                  vcpu, (unsigned long long)addr, (unsigned long long)pc);
        return inject_abort(vcpu, pc, false);
    }
    return s.is_write ? mmio_store(vcpu, pc, addr, &s) : mmio_load(vcpu, pc, addr, &s);
}

static __attribute__((noinline, cold)) bool instruction_fetch(size_t vcpu, uint64_t pc, uint64_t addr)
{
    LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: instruction fetch from IPA 0x%llx (pc 0x%llx), not RAM", vcpu,
              (unsigned long long)addr, (unsigned long long)pc);
    return inject_abort(vcpu, pc, true);
}

/*
 * VMFault. Fast path (DESIGN 3): a plain data abort (ISV set, FAR valid, no
 * cache maintenance, not on a stage-1 table walk, a translation, access-flag
 * or permission fault) is an access the syndrome describes completely: one
 * registry lookup (in mmio_dispatch, which also reports an unclaimed address)
 * and the device's handler; data_abort() sorts out everything else.
 */
static __attribute__((noinline)) bool fault_vm(size_t vcpu)
{
    uint64_t pc = microkit_mr_get(seL4_VMFault_IP);
    uint64_t addr = microkit_mr_get(seL4_VMFault_Addr);
    uint32_t esr = (uint32_t)microkit_mr_get(seL4_VMFault_FSR);
    if (microkit_mr_get(seL4_VMFault_PrefetchFault) != 0) {
        return instruction_fetch(vcpu, pc, addr);
    }
    if ((esr & DABT_PLAIN_MASK) != DABT_PLAIN || !mmio_dfsc_is_mmio(esr & ESR_DABT_DFSC_MASK)) {
        return data_abort(vcpu, pc, addr, esr);
    }
    struct mmio_syndrome s;
    mmio_decode_syndrome(esr, &s);
    return s.is_write ? mmio_store(vcpu, pc, addr, &s) : mmio_load(vcpu, pc, addr, &s);
}

/*
 * SMC (VCPUFault, EC 0x17): the trapped SMC is re-executed unless pc moves
 * past it. Fast path: pc .. x0 tell whether the id is one nobody implements
 * (!smccc_fid_served); its answer is x0 alone, so pc .. x0 go back.
 */
static bool fault_smc(size_t vcpu)
{
    seL4_UserContext ctx;
    if (!vcpu_read_regs(vcpu, &ctx, SMC_FID_COUNT)) {
        return false;
    }
    if (!smccc_fid_served((uint32_t)ctx.x0)) {
        note_unsupported(vcpu, ctx.x0);
        ctx.x0 = SMCCC_NOT_SUPPORTED_X0;
        ctx.pc += 4; /* SMC is always a 32-bit instruction */
        return vcpu_write_regs(vcpu, &ctx, SMC_FID_COUNT);
    }
    if (!vcpu_read_regs(vcpu, &ctx, SMC_READ_COUNT)) {
        return false;
    }
    uint64_t regs[8] = {ctx.x0, ctx.x1, ctx.x2, ctx.x3, ctx.x4, ctx.x5, ctx.x6, ctx.x7};
    switch (smccc_handle(vcpu, regs)) {
    case SMCCC_RESUME:
        ctx.x0 = regs[0];
        ctx.x1 = regs[1];
        ctx.x2 = regs[2];
        ctx.x3 = regs[3];
        ctx.pc += 4; /* SMC is always a 32-bit instruction */
        return vcpu_write_regs(vcpu, &ctx, SMC_WRITE_COUNT);
    case SMCCC_RESTARTED:
        return true; /* the reboot rewrote every register; the reply is a no-op */
    case SMCCC_STOPPED:
    default:
        return false; /* already suspended: it must not resume */
    }
}

/*
 * WFI/WFE trapped (EC 0x01). hyp runs guests with TWI = TWE = 0, so this only
 * happens on a kernel that traps them (seL4's default). A WFE must never
 * block; a WFI is completed at once as well. Blocking a trapped WFI until the
 * guest's virtual-timer deadline or a vIRQ (DESIGN 3) is future work.
 */
static bool fault_wfx(size_t vcpu, uint32_t esr)
{
    seL4_UserContext ctx;
    if (!vcpu_read_regs(vcpu, &ctx, 1)) {
        return false;
    }
    return skip_instruction(vcpu, ctx.pc, (esr & ESR_IL) ? 4 : 2);
}

/*
 * Trapped MSR/MRS (EC 0x18; ISS: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn
 * [13:10], Rt [9:5], CRm [4:1], Direction [0] = 1 for a read; Arm ARM
 * D17.2.40). One ReadRegisters covers pc, PSTATE and Xt; a read writes back
 * pc .. Xt, a write only pc. MSR/MRS are always 32-bit instructions. A
 * register nobody emulates is made UNDEFINED for the guest, as it would be
 * on hardware that lacks it; the VMM and the guest carry on.
 */
static bool fault_sysreg(size_t vcpu, uint32_t esr)
{
    uint32_t iss = esr & ESR_ISS_MASK;
    unsigned rt = (iss >> ESR_SYSREG_RT_SHIFT) & 0x1f;
    bool is_read = (iss & ESR_SYSREG_DIR_READ) != 0;
    size_t count = vcpu_ctx_count_for(rt);
    seL4_UserContext ctx;
    if (!vcpu_read_regs(vcpu, &ctx, count > VCPU_CTX_SPSR ? count : VCPU_CTX_SPSR + 1)) {
        return false;
    }
    uint64_t value = is_read ? 0 : vcpu_ctx_get_gpr(&ctx, rt);
    if (!vgic_sysreg_access(vcpu, iss & VGIC_SYSREG_KEY_MASK, is_read, &value)) {
        LOG_GUEST(LOG_LEVEL_WARN, "vCPU %zu: %s S%u_%u_C%u_C%u_%u at pc 0x%llx is not emulated: UNDEFINED", vcpu,
                  is_read ? "MRS" : "MSR", (iss >> 20) & 3, (iss >> 14) & 7, (iss >> 10) & 0xf, (iss >> 1) & 0xf,
                  (iss >> 17) & 7, (unsigned long long)ctx.pc);
        return vcpu_inject_undef(vcpu, &ctx) && vcpu_write_regs(vcpu, &ctx, VCPU_CTX_SPSR + 1);
    }
    ctx.pc += 4;
    if (!is_read) {
        return vcpu_write_regs(vcpu, &ctx, 1);
    }
    vcpu_ctx_set_gpr(&ctx, rt, value);
    return vcpu_write_regs(vcpu, &ctx, count);
}

static __attribute__((noinline)) bool fault_vcpu(size_t vcpu)
{
    uint32_t esr = (uint32_t)microkit_mr_get(seL4_VCPUFault_HSR);
    switch (ESR_EC(esr)) {
    case ESR_EC_SMC64:
        return fault_smc(vcpu);
    case ESR_EC_WFX:
        return fault_wfx(vcpu, esr);
    case ESR_EC_SYSREG:
        return fault_sysreg(vcpu, esr);
    default:
        LOG_ERR("vCPU %zu: unhandled trap", vcpu);
        vcpu_log_esr("ESR_EL2", esr);
        return stop_guest(vcpu, "stopped the guest on an unhandled trap");
    }
}

/* HVC (UnknownSyscall) to a service we provide: MR0-7 become x0-x7 and MR8 the restart pc (ABI 2.5). */
static __attribute__((noinline)) bool hvc_call(size_t vcpu, microkit_msginfo *reply)
{
    *reply = microkit_msginfo_new(0, 0);
    uint64_t regs[8];
    for (seL4_Uint8 i = 0; i < 8; i++) {
        regs[i] = microkit_mr_get(seL4_UnknownSyscall_X0 + i);
    }
    uint64_t fault_ip = microkit_mr_get(seL4_UnknownSyscall_FaultIP);
    switch (smccc_handle(vcpu, regs)) {
    case SMCCC_RESUME:
        for (seL4_Uint8 i = 0; i < 8; i++) {
            microkit_mr_set(seL4_UnknownSyscall_X0 + i, regs[i]);
        }
        microkit_mr_set(seL4_UnknownSyscall_FaultIP, fault_ip + 4);
        *reply = microkit_msginfo_new(0, HVC_REPLY_MRS);
        return true;
    case SMCCC_RESTARTED:
        *reply = microkit_msginfo_new(0, 0); /* touch no register of the rebooted vCPU */
        return true;
    case SMCCC_STOPPED:
    default:
        return false;
    }
}

/* An HVC with an id !smccc_fid_served(): x0 = NOT_SUPPORTED, resume after the HVC; MR1-7 keep x1-x7. */
static bool hvc_unsupported(microkit_msginfo *reply)
{
    microkit_mr_set(seL4_UnknownSyscall_X0, SMCCC_NOT_SUPPORTED_X0);
    microkit_mr_set(seL4_UnknownSyscall_FaultIP, microkit_mr_get(seL4_UnknownSyscall_FaultIP) + 4);
    *reply = microkit_msginfo_new(0, HVC_REPLY_MRS);
    return true;
}

static __attribute__((noinline, cold)) bool hvc_unsupported_logged(size_t vcpu, uint64_t x0, microkit_msginfo *reply)
{
    smccc_log_unsupported(vcpu, (uint32_t)x0);
    return hvc_unsupported(reply);
}

/*
 * HVC (UnknownSyscall): answered entirely through the reply message (ABI
 * 2.5), with no register syscall. Fast path: an id nobody implements
 * (!smccc_fid_served) changes MR0 alone, and the restart pc; only tail calls
 * leave it, so it needs no stack frame.
 */
static __attribute__((noinline)) bool fault_hvc(size_t vcpu, microkit_msginfo *reply)
{
    uint64_t x0 = microkit_mr_get(seL4_UnknownSyscall_X0);
    if (smccc_fid_served((uint32_t)x0)) {
        return hvc_call(vcpu, reply);
    }
    if (vmm_log_level >= LOG_LEVEL_DEBUG) {
        return hvc_unsupported_logged(vcpu, x0, reply);
    }
    return hvc_unsupported(reply);
}

static __attribute__((noinline)) bool fault_user_exception(size_t vcpu)
{
    LOG_ERR("vCPU %zu: undefined trap at pc 0x%llx", vcpu,
            (unsigned long long)microkit_mr_get(seL4_UserException_FaultIP));
    vcpu_log_esr("ESR_EL2", microkit_mr_get(seL4_UserException_Number));
    return stop_guest(vcpu, "stopped the guest on a user exception");
}

/* The cold ends of fault_handle(), out of line so that the dispatch itself needs no stack frame. */
static __attribute__((noinline, cold)) bool fault_not_configured(size_t vcpu, seL4_Word label,
                                                                 const microkit_msginfo *reply)
{
    if (reply == NULL) {
        LOG_ERR("fault (label %llu) from vCPU %zu: no reply message given (NULL)", (unsigned long long)label, vcpu);
    } else {
        LOG_ERR("fault (label %llu) from vCPU %zu, which is not configured", (unsigned long long)label, vcpu);
    }
    return false;
}

static __attribute__((noinline, cold)) bool fault_malformed(size_t vcpu, seL4_Word label, seL4_Word count)
{
    LOG_ERR("vCPU %zu: fault label %llu with only %llu message registers", vcpu, (unsigned long long)label,
            (unsigned long long)count);
    return stop_guest(vcpu, "stopped the guest on a malformed fault message");
}

static __attribute__((noinline, cold)) bool fault_unknown(size_t vcpu, seL4_Word label)
{
    LOG_ERR("vCPU %zu: unknown fault label %llu", vcpu, (unsigned long long)label);
    return stop_guest(vcpu, "stopped the guest on an unknown fault");
}

/* Each label's handler is a tail call after the check of the message registers it carries (ABI 2.2). */
bool fault_handle(size_t vcpu_id, microkit_msginfo msginfo, microkit_msginfo *reply)
{
    seL4_Word label = microkit_msginfo_get_label(msginfo);
    seL4_Word count = microkit_msginfo_get_count(msginfo);
    if (!guest_vcpu_valid(vcpu_id) || reply == NULL) {
        return fault_not_configured(vcpu_id, label, reply);
    }
    /* The commonest exits first: MMIO (VMFault), hypercalls (UnknownSyscall), virtual IRQ EOIs (VGICMaintenance). */
    if (label == seL4_Fault_VMFault && count >= seL4_VMFault_Length) {
        *reply = microkit_msginfo_new(0, 0);
        return fault_vm(vcpu_id);
    }
    if (label == seL4_Fault_UnknownSyscall && count >= seL4_UnknownSyscall_Length) {
        return fault_hvc(vcpu_id, reply);
    }
    if (label == seL4_Fault_VGICMaintenance && count >= seL4_VGICMaintenance_Length) {
        *reply = microkit_msginfo_new(0, 0);
        return vgic_handle_maintenance(vcpu_id, microkit_mr_get(seL4_VGICMaintenance_IDX));
    }
    switch (label) {
    case seL4_Fault_VMFault:
    case seL4_Fault_UnknownSyscall:
        break; /* too short */
    case seL4_Fault_UserException:
        if (count < seL4_UserException_Length) {
            break;
        }
        *reply = microkit_msginfo_new(0, 0);
        return fault_user_exception(vcpu_id);
    default:
        if (count < 1) {
            break;
        }
        *reply = microkit_msginfo_new(0, 0);
        switch (label) {
        case seL4_Fault_VCPUFault:
            return fault_vcpu(vcpu_id);
        case seL4_Fault_VPPIEvent:
            return vgic_handle_vppi(vcpu_id, microkit_mr_get(seL4_VPPIEvent_IRQ));
        default:
            return fault_unknown(vcpu_id, label);
        }
    }
    return fault_malformed(vcpu_id, label, count);
}
