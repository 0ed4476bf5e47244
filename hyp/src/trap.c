/*
 * Guest synchronous exits -> seL4 faults (ABI 2.2, 2.3) and the fault
 * reply (ABI 2.5, seL4 handleFaultReply). FaultIP is always the address of
 * the trapping instruction; nothing is advanced automatically.
 *
 * Divergence from seL4 (documented): every HVC is an UnknownSyscall, whatever
 * x7 holds; seL4 would run a real system call for x7 in -1..-11 (or a debug
 * call for -12..-17) on the vCPU's empty CSpace.
 */
#include <hyp/arch.h>
#include <hyp/log.h>
#include <hyp/trap.h>
#include <hyp/vcpu.h>

/*
 * The IPA of a stage-2 abort (ABI 2.2): HPFAR_EL2.FIPA (IPA[47:12] in bits 43:4)
 * with FAR's page offset. FAR_EL2 and HPFAR_EL2 still hold the guest's abort:
 * trap_handle_sync runs right after the exit, before the kernel lock, and
 * nothing in between takes an exception (hyp is built without FP/SIMD, so not
 * even the lazy FP trap).
 */
static uint64_t abort_ipa(uint32_t esr)
{
    uint64_t far = sysreg_read(far_el2);
    if (FSC_PERM_FAULT(ISS_ABT_FSC(esr)) && !(esr & ISS_ABT_S1PTW)) {
        /*
         * Arm ARM D13.2.60: HPFAR_EL2 need not be valid for a stage-2 permission
         * fault; translate FAR through the guest's stage 1 as seL4 does (AT S1E1R),
         * preserving the guest's PAR_EL1.
         */
        uint64_t par_saved = sysreg_read(par_el1);
        __asm__ volatile("at s1e1r, %0" ::"r"(far));
        isb();
        uint64_t par = sysreg_read(par_el1);
        sysreg_write(par_el1, par_saved);
        if (!(par & 1)) {
            return (par & 0x0000fffffffff000ull) | (far & 0xfff);
        }
    }
    return ((sysreg_read(hpfar_el2) & 0x00000ffffffffff0ull) << 8) | (far & 0xfff);
}

/* The exit's fault goes where v->exit_mr says (vcpu.h); vcpu_run delivers it at once or queues it. */
static seL4_Word *fault_mrs(struct vcpu *v)
{
    return v->exit_mr;
}

static void raise_fault(struct vcpu *v, seL4_Word label, seL4_Word len)
{
    v->exit_label = label;
    v->exit_len = len;
}

static void fault_vm(struct vcpu *v, uint32_t esr, bool prefetch)
{
    seL4_Word *mr = fault_mrs(v);
    mr[seL4_VMFault_IP] = v->frame.pc;
    mr[seL4_VMFault_Addr] = abort_ipa(esr);
    mr[seL4_VMFault_PrefetchFault] = prefetch;
    mr[seL4_VMFault_FSR] = esr;
    raise_fault(v, seL4_Fault_VMFault, seL4_VMFault_Length);
}

static void fault_unknown_syscall(struct vcpu *v)
{
    struct vcpu_frame *f = &v->frame;
    seL4_Word *mr = fault_mrs(v);
    uint64_t next_pc = f->pc; /* ELR_EL2 = the instruction after the HVC */
    f->pc = next_pc - 4; /* FaultIP = the HVC itself */
    __builtin_memcpy(mr, f->x, 8 * sizeof(seL4_Word)); /* MR0-7 = x0-x7, inlined as load/store pairs */
    mr[seL4_UnknownSyscall_FaultIP] = f->pc;
    mr[seL4_UnknownSyscall_SP] = f->sp_el0;
    mr[seL4_UnknownSyscall_LR] = next_pc;
    mr[seL4_UnknownSyscall_SPSR] = f->spsr;
    mr[seL4_UnknownSyscall_Syscall] = f->x[7];
    raise_fault(v, seL4_Fault_UnknownSyscall, seL4_UnknownSyscall_Length);
}

static void fault_user_exception(struct vcpu *v, uint32_t esr)
{
    seL4_Word *mr = fault_mrs(v);
    mr[seL4_UserException_FaultIP] = v->frame.pc;
    mr[seL4_UserException_SP] = vcpu_read_sp_el0(v);
    mr[seL4_UserException_SPSR] = v->frame.spsr;
    mr[seL4_UserException_Number] = esr;
    mr[seL4_UserException_Code] = 0;
    raise_fault(v, seL4_Fault_UserException, seL4_UserException_Length);
}

void trap_handle_sync(struct vcpu *v)
{
    uint32_t esr = (uint32_t)v->frame.esr;
    /* Data aborts (MMIO) and hypercalls are the commonest exits: tested first. */
    if (ESR_EC(esr) == EC_DABT_LOW) {
        fault_vm(v, esr, false);
        return;
    }
    if (ESR_EC(esr) == EC_HVC64) {
        fault_unknown_syscall(v);
        return;
    }
    switch (ESR_EC(esr)) {
    case EC_IABT_LOW:
        fault_vm(v, esr, true);
        break;
    case EC_UNKNOWN:
        fault_user_exception(v, esr);
        break;
    default: {
        /* SMC (trapped by HCR_EL2.TSC; ELR = the SMC), trapped sysregs, WFx, anything else. */
        seL4_Word *mr = fault_mrs(v);
        mr[seL4_VCPUFault_HSR] = esr;
        raise_fault(v, seL4_Fault_VCPUFault, seL4_VCPUFault_Length);
        break;
    }
    }
}

/*
 * seL4 handleFaultReply: for UnknownSyscall and UserException the first
 * `length` reply MRs are written to the registers in MR order (sanitised)
 * and label 0 means restart; every other fault restarts whatever the reply.
 * UnknownSyscall MR10 is NextIP, which the restart overwrites with FaultIP,
 * so it has no effect, exactly as on seL4.
 */
bool trap_apply_reply_regs(struct vcpu *v, seL4_Word label, seL4_MessageInfo_t reply, const seL4_Word *mrs)
{
    seL4_Word len = seL4_MessageInfo_get_length(reply);
    struct vcpu_frame *f = &v->frame;
    switch (label) {
    case seL4_Fault_UnknownSyscall:
        if (len >= 8) {
            __builtin_memcpy(f->x, mrs, 8 * sizeof(seL4_Word)); /* x0-x7, inlined */
        } else {
            for (seL4_Word i = 0; i < len; i++) {
                f->x[i] = mrs[i];
            }
        }
        if (len > seL4_UnknownSyscall_FaultIP) {
            f->pc = mrs[seL4_UnknownSyscall_FaultIP];
        }
        if (len > seL4_UnknownSyscall_SP) {
            vcpu_write_sp_el0(v, mrs[seL4_UnknownSyscall_SP]);
        }
        if (len > seL4_UnknownSyscall_SPSR) {
            f->spsr = vcpu_sanitise_spsr(mrs[seL4_UnknownSyscall_SPSR]);
        }
        return seL4_MessageInfo_get_label(reply) == 0;
    case seL4_Fault_UserException:
        if (len > seL4_UserException_FaultIP) {
            f->pc = mrs[seL4_UserException_FaultIP];
        }
        if (len > seL4_UserException_SP) {
            vcpu_write_sp_el0(v, mrs[seL4_UserException_SP]);
        }
        if (len > seL4_UserException_SPSR) {
            f->spsr = vcpu_sanitise_spsr(mrs[seL4_UserException_SPSR]);
        }
        return seL4_MessageInfo_get_label(reply) == 0;
    default:
        return true;
    }
}
