/*
 * The libsel4 operations of <sel4/sel4.h>, performed by hyp for the calling
 * PD with seL4's argument checks and error codes (ABI 3.1-3.4, 3.8). On an
 * error, as with libsel4's stubs, the kernel's error details land in the
 * IPC buffer: RangeError leaves the minimum in MR0 and the maximum in MR1.
 * Capabilities are the Microkit CSpace slots of ABI 1.1, resolved in the
 * calling PD's own CSpace: its vCPUs, IRQs and channels only.
 *
 * Each operation runs under the kernel lock, like a system call under
 * seL4's big kernel lock, and works on a vCPU of any CPU: a vCPU running on
 * another CPU is kicked out of its guest before its TCB registers are
 * touched and stays out until the operation ends; its VCPU registers are
 * moved into memory by its own CPU first (smp.h); Suspend returns only once
 * the vCPU has stopped running.
 */
#include <hyp/arch.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/pd.h>
#include <hyp/platform.h>
#include <hyp/smp.h>
#include <hyp/vcpu.h>

#define VPPI_VTIMER 27

static seL4_Error range_error(seL4_Word min, seL4_Word max)
{
    struct pd *pd = pd_current();
    pd->ipc.msg[0] = min;
    pd->ipc.msg[1] = max;
    return seL4_RangeError;
}

static struct vcpu *cap_to_vcpu(seL4_CPtr cap, seL4_CPtr base)
{
    struct pd *pd = pd_current();
    if (cap < base || cap - base >= pd->num_vcpus) {
        return NULL;
    }
    return pd->vcpus[cap - base];
}

/*
 * An operation on v that changes no thread state needs the kernel lock only
 * for a vCPU of another CPU: only this CPU touches its own vCPU's frame and
 * registers (that vCPU's exit path is not running: the VMM is), and the VMM
 * is single-threaded. The common case, a fault handled on the faulting
 * vCPU's own CPU, stays free of lock traffic; the other case is out of line.
 */
static inline bool vcpu_elsewhere(const struct vcpu *v)
{
    return v->cpu != cpu_this()->id;
}

/* seL4 restart(): a stopped thread (Inactive or blocked) loses its pending fault and becomes runnable. */
static void vcpu_restart(struct vcpu *v)
{
    LOG_DEBUG("vCPU %u: restart at pc 0x%lx (state %d)", v->id, v->frame.pc, (int)v->state);
    if (v->state != VCPU_RUNNABLE) {
        pd_cancel_fault(v);
        v->state = VCPU_RUNNABLE;
        v->epoch++;
        smp_kick(v->cpu);
    }
}

/* seL4 suspend(): cancel the pending fault (queued or awaiting reply), state Inactive, not running on return. */
static void vcpu_suspend(struct vcpu *v)
{
    int was = (int)v->state;
    pd_cancel_fault(v);
    v->state = VCPU_INACTIVE;
    v->epoch++;
    smp_stall(v);
    LOG_DEBUG("vCPU %u: suspend at pc 0x%lx (state %d)", v->id, v->frame.pc, was);
}

/* The rarer forms of Read/WriteRegisters (thread state changes: always the lock), out of line. */
static __attribute__((noinline)) seL4_Error read_suspending(struct vcpu *v, seL4_Word count, seL4_UserContext *regs)
{
    kernel_lock();
    vcpu_suspend(v);
    vcpu_read_context_words(v, (seL4_Word *)regs, (unsigned)count);
    kernel_unlock();
    return seL4_NoError;
}

static __attribute__((noinline)) seL4_Error write_resuming(struct vcpu *v, seL4_Word count, seL4_UserContext *regs)
{
    kernel_lock();
    vcpu_frame_sync(v);
    vcpu_write_context_words(v, (const seL4_Word *)regs, (unsigned)count);
    vcpu_restart(v);
    kernel_unlock();
    return seL4_NoError;
}

static __attribute__((noinline)) seL4_Error read_elsewhere(struct vcpu *v, seL4_Word count, seL4_UserContext *regs)
{
    kernel_lock();
    vcpu_frame_sync(v);
    vcpu_read_context_words(v, (seL4_Word *)regs, (unsigned)count);
    kernel_unlock();
    return seL4_NoError;
}

static __attribute__((noinline)) seL4_Error write_elsewhere(struct vcpu *v, seL4_Word count, seL4_UserContext *regs)
{
    kernel_lock();
    vcpu_frame_sync(v);
    vcpu_write_context_words(v, (const seL4_Word *)regs, (unsigned)count);
    kernel_unlock();
    return seL4_NoError;
}

seL4_Error seL4_TCB_ReadRegisters(seL4_TCB tcb, seL4_Bool suspend_source, seL4_Uint8 arch_flags, seL4_Word count,
                                  seL4_UserContext *regs)
{
    (void)arch_flags; /* ignored on ARM */
    struct vcpu *v = cap_to_vcpu(tcb, BASE_VM_TCB_CAP);
    if (!v) {
        return tcb == TCB_CAP ? seL4_IllegalOperation : seL4_InvalidCapability;
    }
    if (count < 1 || count > SEL4_USER_CONTEXT_SIZE) {
        return range_error(1, SEL4_USER_CONTEXT_SIZE);
    }
    if (suspend_source) {
        return read_suspending(v, count, regs);
    }
    if (vcpu_elsewhere(v)) {
        return read_elsewhere(v, count, regs);
    }
    vcpu_read_context_words(v, (seL4_Word *)regs, (unsigned)count);
    return seL4_NoError;
}

seL4_Error seL4_TCB_WriteRegisters(seL4_TCB tcb, seL4_Bool resume_target, seL4_Uint8 arch_flags, seL4_Word count,
                                   seL4_UserContext *regs)
{
    (void)arch_flags;
    struct vcpu *v = cap_to_vcpu(tcb, BASE_VM_TCB_CAP);
    if (!v) {
        return tcb == TCB_CAP ? seL4_IllegalOperation : seL4_InvalidCapability;
    }
    if (count > SEL4_USER_CONTEXT_SIZE) {
        count = SEL4_USER_CONTEXT_SIZE;
    }
    /* NextIP := pc: with one pc field per vCPU, writing pc does it. */
    if (resume_target) {
        return write_resuming(v, count, regs);
    }
    if (vcpu_elsewhere(v)) {
        return write_elsewhere(v, count, regs);
    }
    vcpu_write_context_words(v, (const seL4_Word *)regs, (unsigned)count);
    return seL4_NoError;
}

seL4_Error seL4_TCB_Suspend(seL4_TCB tcb)
{
    struct vcpu *v = cap_to_vcpu(tcb, BASE_VM_TCB_CAP);
    if (!v) {
        return seL4_InvalidCapability;
    }
    kernel_lock();
    vcpu_suspend(v);
    kernel_unlock();
    return seL4_NoError;
}

seL4_Error seL4_TCB_Resume(seL4_TCB tcb)
{
    struct vcpu *v = cap_to_vcpu(tcb, BASE_VM_TCB_CAP);
    if (!v) {
        return seL4_InvalidCapability;
    }
    kernel_lock();
    vcpu_restart(v);
    kernel_unlock();
    return seL4_NoError;
}

/* The true LR state when v is loaded here (stricter than seL4), else seL4's saved copy (ABI 3.1). */
static inline seL4_Error inject(struct vcpu *v, uint32_t virq, uint32_t priority, uint32_t group, unsigned index)
{
    if (gic_lr_active(vcpu_read_lr(v, index))) {
        return seL4_DeleteFirst;
    }
    vcpu_write_lr(v, index, gic_lr_make(virq, priority, group));
    return seL4_NoError;
}

static __attribute__((noinline)) seL4_Error inject_elsewhere(struct vcpu *v, uint32_t virq, uint32_t priority,
                                                             uint32_t group, unsigned index)
{
    kernel_lock();
    seL4_Error e = inject(v, virq, priority, group, index);
    kernel_unlock();
    return e;
}

seL4_Error seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU vcpu, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                   seL4_Uint8 index)
{
    struct vcpu *v = cap_to_vcpu(vcpu, BASE_VCPU_CAP);
    if (!v) {
        return seL4_InvalidCapability;
    }
    /* ABI 3.1: checks in seL4's order. */
    if (virq > 1023) {
        return range_error(0, 1023);
    }
    if (priority > 31) {
        return range_error(0, 31);
    }
    if (group > 1) {
        return range_error(0, 1);
    }
    unsigned nlr = gic_num_lrs();
    if (index >= nlr) {
        return range_error(0, nlr - 1);
    }
    if (vcpu_elsewhere(v)) {
        return inject_elsewhere(v, virq, priority, group, index);
    }
    return inject(v, virq, priority, group, index);
}

seL4_Error seL4_ARM_VCPU_AckVPPI(seL4_ARM_VCPU vcpu, seL4_Word irq)
{
    struct vcpu *v = cap_to_vcpu(vcpu, BASE_VCPU_CAP);
    if (!v) {
        return seL4_InvalidCapability;
    }
    if (irq > gic_max_intid() - 1) {
        return range_error(0, gic_max_intid() - 1);
    }
    if (irq != VPPI_VTIMER) {
        return seL4_InvalidArgument;
    }
    if (!vcpu_elsewhere(v)) {
        v->vtimer_masked = false; /* the PPI is unmasked at the vCPU's next entry (ABI 3.6) */
        return seL4_NoError;
    }
    kernel_lock();
    v->vtimer_masked = false;
    if (__atomic_load_n(&hyp_cpus[v->cpu].in_guest, __ATOMIC_ACQUIRE)) {
        smp_kick(v->cpu); /* a guest idling in WFI would otherwise wait for its timer forever */
    }
    kernel_unlock();
    return seL4_NoError;
}

seL4_ARM_VCPU_ReadRegs_t seL4_ARM_VCPU_ReadRegs(seL4_ARM_VCPU vcpu, seL4_Word field)
{
    seL4_ARM_VCPU_ReadRegs_t ret = {seL4_NoError, 0};
    struct vcpu *v = cap_to_vcpu(vcpu, BASE_VCPU_CAP);
    if (!v) {
        ret.error = seL4_InvalidCapability;
    } else if (field >= seL4_VCPUReg_Num) {
        ret.error = seL4_InvalidArgument;
    } else {
        bool elsewhere = vcpu_elsewhere(v);
        if (elsewhere) {
            kernel_lock();
        }
        ret.value = vcpu_read_sysreg(v, (unsigned)field);
        if (elsewhere) {
            kernel_unlock();
        }
    }
    return ret;
}

seL4_Error seL4_ARM_VCPU_WriteRegs(seL4_ARM_VCPU vcpu, seL4_Word field, seL4_Word value)
{
    struct vcpu *v = cap_to_vcpu(vcpu, BASE_VCPU_CAP);
    if (!v) {
        return seL4_InvalidCapability;
    }
    if (field >= seL4_VCPUReg_Num) {
        return seL4_InvalidArgument;
    }
    bool elsewhere = vcpu_elsewhere(v);
    if (elsewhere) {
        kernel_lock();
    }
    vcpu_write_sysreg(v, (unsigned)field, value);
    if (elsewhere) {
        kernel_unlock();
    }
    return seL4_NoError;
}

seL4_Error seL4_IRQHandler_Ack(seL4_IRQHandler irq_handler)
{
    struct pd *pd = pd_current();
    seL4_Word ch = irq_handler - BASE_IRQ_CAP;
    if (irq_handler < BASE_IRQ_CAP || ch >= MICROKIT_MAX_CHANNELS || !(pd->irq_mask & (1ull << ch))) {
        return seL4_InvalidCapability;
    }
    irq_ack_channel(pd, (unsigned)ch);
    return seL4_NoError;
}

void seL4_Signal(seL4_CPtr cap)
{
    struct pd *pd = pd_current();
    seL4_Word ch = cap - BASE_OUTPUT_NOTIFICATION_CAP;
    if (cap < BASE_OUTPUT_NOTIFICATION_CAP || ch >= MICROKIT_MAX_CHANNELS || !(pd->notify_mask & (1ull << ch))) {
        /* seL4 raises a CapFault on the PD, which Microkit's monitor reports as a crash: the PD ends. */
        pd_crash(pd, "seL4_Signal on empty capability slot %lu", cap);
    }
    kernel_lock();
    if (pd->backend_mask & (1ull << ch)) {
        backend_signal(pd->peer[ch].pd);
    } else {
        pd_signal(&hyp_pds[pd->peer[ch].pd], pd->peer[ch].id); /* this PD: channels join ends of one description */
    }
    kernel_unlock();
}

void pd_dbg_flush(struct pd *pd)
{
    if (pd->dbg_len) {
        uart_write_line(pd->dbg_line, pd->dbg_len);
        pd->dbg_len = 0;
    }
}

/* The PD is single-threaded (one CPU owns it), so its line buffer needs no lock. */
void seL4_DebugPutChar(char c)
{
    struct pd *pd = pd_current();
    pd->dbg_line[pd->dbg_len++] = c;
    if (c == '\n' || pd->dbg_len == PD_DBG_LINE) {
        pd_dbg_flush(pd);
    }
}

seL4_Error seL4_ARM_SMC_Call(seL4_CPtr cap, seL4_ARM_SMCContext *args, seL4_ARM_SMCContext *resp)
{
    struct pd *pd = pd_current();
    if (cap != ARM_SMC_CAP || !pd->desc->smc) {
        return seL4_InvalidCapability;
    }
    if (platform.psci_conduit == PSCI_NONE) {
        return seL4_IllegalOperation;
    }
    register seL4_Word x0 __asm__("x0") = args->x0;
    register seL4_Word x1 __asm__("x1") = args->x1;
    register seL4_Word x2 __asm__("x2") = args->x2;
    register seL4_Word x3 __asm__("x3") = args->x3;
    register seL4_Word x4 __asm__("x4") = args->x4;
    register seL4_Word x5 __asm__("x5") = args->x5;
    register seL4_Word x6 __asm__("x6") = args->x6;
    register seL4_Word x7 __asm__("x7") = args->x7;
    /* QEMU without EL3 implements the firmware (PSCI) behind the DTB's conduit; SMC itself would be UNDEFINED. */
    if (platform.psci_conduit == PSCI_HVC) {
        __asm__ volatile("hvc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)
                         :
                         : "memory");
    } else {
        __asm__ volatile("smc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7)
                         :
                         : "memory");
    }
    *resp = (seL4_ARM_SMCContext){x0, x1, x2, x3, x4, x5, x6, x7};
    return seL4_NoError;
}
