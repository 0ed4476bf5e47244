/*
 * vCPU state: the TCB registers of ABI 3.4, the VCPU object registers of
 * ABI 3.3 and the run path. EL1 system registers and TPIDR(RO)_EL0 are live
 * in the hardware of the vCPU's CPU while it is loaded there (nVHE: hyp and
 * the VMM never use them); `saved` holds them otherwise, and a CPU that
 * needs them for a vCPU loaded elsewhere has that CPU unload it first
 * (smp_unload). GPRs, PC, SPSR and SP_EL0 are in the exit frame (hyp runs on
 * SP_EL0), which another CPU touches only while the vCPU is out of its guest
 * (vcpu_frame_sync).
 */
#include <stddef.h>
#include <string.h>
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/pd.h>
#include <hyp/smp.h>
#include <hyp/trap.h>
#include <hyp/vcpu.h>

_Static_assert(offsetof(struct vcpu_frame, x) == VCPU_FRAME_X, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, pc) == VCPU_FRAME_PC, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, spsr) == VCPU_FRAME_SPSR, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, esr) == VCPU_FRAME_ESR, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, far) == VCPU_FRAME_FAR, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, hpfar) == VCPU_FRAME_HPFAR, "frame layout");
_Static_assert(offsetof(struct vcpu_frame, sp_el0) == VCPU_FRAME_SP_EL0, "frame layout");
_Static_assert(offsetof(struct vcpu_fp, fpsr) == 512, "fp layout");
_Static_assert(offsetof(seL4_UserContext, x19) == 24 * 8, "seL4_UserContext layout");
_Static_assert(SEL4_USER_CONTEXT_SIZE == 36, "seL4_UserContext size");

/* ABI 3.3: SCTLR_EL1 of a new VCPU object (RES1 | CP15BEN | UCT | nTWI | nTWE | UCI; MMU and caches off). */
#define VCPU_SCTLR_INIT 0x34d58820ull

struct vcpu hyp_vcpus[HYP_MAX_VCPUS];
unsigned hyp_num_vcpus;

/* seL4_UserContext field -> storage: >= 0 a GPR number, negative one of these. */
enum { UC_PC = -1, UC_SP = -2, UC_SPSR = -3, UC_TPIDR = -4, UC_TPIDRRO = -5 };
static const int8_t user_context_map[SEL4_USER_CONTEXT_SIZE] = {
    UC_PC, UC_SP, UC_SPSR, 0,  1,  2,  3,  4,  5,  6,  7,  8,  16, 17, 18, 29, 30,       9,
    10,    11,    12,      13, 14, 15, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, UC_TPIDR, UC_TPIDRRO};

void vcpu_init(struct vcpu *v, unsigned id, struct pd *pd)
{
    memset(v, 0, sizeof(*v));
    v->id = id;
    v->cpu = id;
    v->pd = pd;
    v->state = VCPU_INACTIVE;
    v->loaded_cpu = -1;
    v->saved.reg[seL4_VCPUReg_SCTLR] = VCPU_SCTLR_INIT;
    v->saved.reg[seL4_VCPUReg_VMPIDR_EL2] = (1ull << 31) | id; /* RES1 bit 31, Aff0 = vCPU id */
}

static uint64_t hw_read(unsigned id)
{
    switch (id) {
    case seL4_VCPUReg_SCTLR:
        return sysreg_read(sctlr_el1);
    case seL4_VCPUReg_CPACR:
        return sysreg_read(cpacr_el1);
    case seL4_VCPUReg_TTBR0:
        return sysreg_read(ttbr0_el1);
    case seL4_VCPUReg_TTBR1:
        return sysreg_read(ttbr1_el1);
    case seL4_VCPUReg_TCR:
        return sysreg_read(tcr_el1);
    case seL4_VCPUReg_MAIR:
        return sysreg_read(mair_el1);
    case seL4_VCPUReg_AMAIR:
        return sysreg_read(amair_el1);
    case seL4_VCPUReg_CIDR:
        return (uint32_t)sysreg_read(contextidr_el1);
    case seL4_VCPUReg_ACTLR:
        return sysreg_read(actlr_el1);
    case seL4_VCPUReg_AFSR0:
        return (uint32_t)sysreg_read(afsr0_el1);
    case seL4_VCPUReg_AFSR1:
        return (uint32_t)sysreg_read(afsr1_el1);
    case seL4_VCPUReg_ESR:
        return (uint32_t)sysreg_read(esr_el1);
    case seL4_VCPUReg_FAR:
        return sysreg_read(far_el1);
    case seL4_VCPUReg_PAR:
        return sysreg_read(par_el1);
    case seL4_VCPUReg_VBAR:
        return sysreg_read(vbar_el1);
    case seL4_VCPUReg_TPIDR_EL1:
        return sysreg_read(tpidr_el1);
    case seL4_VCPUReg_VMPIDR_EL2:
        return sysreg_read(vmpidr_el2);
    case seL4_VCPUReg_SP_EL1:
        return sysreg_read(sp_el1);
    case seL4_VCPUReg_ELR_EL1:
        return sysreg_read(elr_el1);
    case seL4_VCPUReg_SPSR_EL1:
        return sysreg_read(spsr_el1);
    case seL4_VCPUReg_CNTV_CTL:
        return sysreg_read(cntv_ctl_el0);
    case seL4_VCPUReg_CNTV_CVAL:
        return sysreg_read(cntv_cval_el0);
    case seL4_VCPUReg_CNTVOFF:
        return sysreg_read(cntvoff_el2);
    case seL4_VCPUReg_CNTKCTL_EL1:
        return sysreg_read(cntkctl_el1);
    default:
        return 0;
    }
}

static void hw_write(unsigned id, uint64_t v)
{
    switch (id) {
    case seL4_VCPUReg_SCTLR:
        sysreg_write(sctlr_el1, v);
        break;
    case seL4_VCPUReg_CPACR:
        sysreg_write(cpacr_el1, v);
        break;
    case seL4_VCPUReg_TTBR0:
        sysreg_write(ttbr0_el1, v);
        break;
    case seL4_VCPUReg_TTBR1:
        sysreg_write(ttbr1_el1, v);
        break;
    case seL4_VCPUReg_TCR:
        sysreg_write(tcr_el1, v);
        break;
    case seL4_VCPUReg_MAIR:
        sysreg_write(mair_el1, v);
        break;
    case seL4_VCPUReg_AMAIR:
        sysreg_write(amair_el1, v);
        break;
    case seL4_VCPUReg_CIDR:
        sysreg_write(contextidr_el1, (uint32_t)v);
        break;
    case seL4_VCPUReg_ACTLR:
        sysreg_write(actlr_el1, v);
        break;
    case seL4_VCPUReg_AFSR0:
        sysreg_write(afsr0_el1, (uint32_t)v);
        break;
    case seL4_VCPUReg_AFSR1:
        sysreg_write(afsr1_el1, (uint32_t)v);
        break;
    case seL4_VCPUReg_ESR:
        sysreg_write(esr_el1, (uint32_t)v);
        break;
    case seL4_VCPUReg_FAR:
        sysreg_write(far_el1, v);
        break;
    case seL4_VCPUReg_PAR:
        sysreg_write(par_el1, v);
        break;
    case seL4_VCPUReg_VBAR:
        sysreg_write(vbar_el1, v);
        break;
    case seL4_VCPUReg_TPIDR_EL1:
        sysreg_write(tpidr_el1, v);
        break;
    case seL4_VCPUReg_VMPIDR_EL2:
        sysreg_write(vmpidr_el2, v);
        break;
    case seL4_VCPUReg_SP_EL1:
        sysreg_write(sp_el1, v);
        break;
    case seL4_VCPUReg_ELR_EL1:
        sysreg_write(elr_el1, v);
        break;
    case seL4_VCPUReg_SPSR_EL1:
        sysreg_write(spsr_el1, v);
        break;
    case seL4_VCPUReg_CNTV_CTL:
        sysreg_write(cntv_ctl_el0, v);
        break;
    case seL4_VCPUReg_CNTV_CVAL:
        sysreg_write(cntv_cval_el0, v);
        break;
    case seL4_VCPUReg_CNTVOFF:
        sysreg_write(cntvoff_el2, v);
        break;
    case seL4_VCPUReg_CNTKCTL_EL1:
        sysreg_write(cntkctl_el1, v);
        break;
    default:
        break;
    }
}

static bool vcpu_is_loaded_here(struct vcpu *v)
{
    return v->loaded_cpu >= 0 && (unsigned)v->loaded_cpu == cpu_this()->id;
}

/* Where v's EL1 state is: this CPU's registers (true) or v->saved (false), unloading it from its CPU first. */
static bool el1_here(struct vcpu *v)
{
    if (v->loaded_cpu < 0) {
        return false;
    }
    if ((unsigned)v->loaded_cpu == cpu_this()->id) {
        return true;
    }
    smp_unload(v);
    return false;
}

void vcpu_load(struct vcpu *v)
{
    struct hyp_cpu *c = cpu_this();
    for (unsigned id = 0; id < seL4_VCPUReg_Num; id++) {
        hw_write(id, v->saved.reg[id]);
    }
    sysreg_write(tpidr_el0, v->saved.tpidr_el0);
    sysreg_write(tpidrro_el0, v->saved.tpidrro_el0);
    /* ABI 3.5 restore: GIC virtual interface state (its HCR is written on each entry). */
    gic_vif_write_vmcr(v->saved.vmcr);
    gic_vif_write_apr(v->saved.apr);
    for (unsigned i = 0; i < gic_num_lrs(); i++) {
        gic_vif_write_lr(i, v->saved.lr[i]);
    }
    isb();
    v->lr_dirty = 0;
    v->loaded_cpu = (int)c->id;
}

void vcpu_unload(struct vcpu *v)
{
    for (unsigned id = 0; id < seL4_VCPUReg_Num; id++) {
        v->saved.reg[id] = hw_read(id);
    }
    v->saved.tpidr_el0 = sysreg_read(tpidr_el0);
    v->saved.tpidrro_el0 = sysreg_read(tpidrro_el0);
    v->saved.vmcr = gic_vif_read_vmcr();
    gic_vif_read_apr(v->saved.apr);
    for (unsigned i = 0; i < gic_num_lrs(); i++) {
        if (!(v->lr_dirty & (1ull << i))) {
            v->saved.lr[i] = gic_vif_read_lr(i);
        }
    }
    /* ABI 3.5: the timer of a vCPU that is not loaded does not fire; its CNTV_CTL is in `saved`. */
    sysreg_write(cntv_ctl_el0, 0);
    isb();
    v->lr_dirty = 0;
    v->loaded_cpu = -1;
}

uint64_t vcpu_read_sysreg(struct vcpu *v, unsigned id)
{
    return el1_here(v) ? hw_read(id) : v->saved.reg[id];
}

void vcpu_write_sysreg(struct vcpu *v, unsigned id, uint64_t value)
{
    if (el1_here(v)) {
        hw_write(id, value);
    } else {
        v->saved.reg[id] = value;
    }
}

uint64_t vcpu_read_sp_el0(struct vcpu *v)
{
    return v->frame.sp_el0;
}

void vcpu_write_sp_el0(struct vcpu *v, uint64_t value)
{
    v->frame.sp_el0 = value;
}

uint64_t vcpu_read_lr(struct vcpu *v, unsigned idx)
{
    return vcpu_is_loaded_here(v) ? gic_vif_read_lr(idx) : v->saved.lr[idx];
}

void vcpu_write_lr(struct vcpu *v, unsigned idx, uint64_t value)
{
    v->saved.lr[idx] = value; /* seL4's copy: what another CPU checks for DeleteFirst */
    if (vcpu_is_loaded_here(v)) {
        gic_vif_write_lr(idx, value);
        return;
    }
    if (v->loaded_cpu >= 0) {
        /* Loaded on its own CPU: written there before its next entry; a running guest is kicked out for it. */
        v->lr_dirty |= 1ull << idx;
        if (__atomic_load_n(&hyp_cpus[v->loaded_cpu].in_guest, __ATOMIC_ACQUIRE)) {
            smp_kick((unsigned)v->loaded_cpu);
        }
    }
}

void vcpu_frame_sync(struct vcpu *v)
{
    smp_stall(v);
}

/* ABI 3.4: a vCPU thread keeps EL0t/EL1t/EL1h; anything else becomes EL0t with F masked (debug kernel). */
uint64_t vcpu_sanitise_spsr(uint64_t spsr)
{
    uint64_t mode = spsr & PSR_MODE_MASK;
    if (mode == PSR_MODE_EL0T || mode == PSR_MODE_EL1T || mode == PSR_MODE_EL1H) {
        return spsr;
    }
    return (spsr & 0xf0000000ull) | PSR_MODE_EL0T | PSR_F;
}

uint64_t vcpu_read_context(struct vcpu *v, unsigned idx)
{
    int m = user_context_map[idx];
    if (m >= 0) {
        return v->frame.x[m];
    }
    switch (m) {
    case UC_PC:
        return v->frame.pc;
    case UC_SP:
        return vcpu_read_sp_el0(v);
    case UC_SPSR:
        return v->frame.spsr;
    case UC_TPIDR:
        return el1_here(v) ? sysreg_read(tpidr_el0) : v->saved.tpidr_el0;
    default:
        return el1_here(v) ? sysreg_read(tpidrro_el0) : v->saved.tpidrro_el0;
    }
}

void vcpu_write_context(struct vcpu *v, unsigned idx, uint64_t value)
{
    int m = user_context_map[idx];
    if (m >= 0) {
        v->frame.x[m] = value;
        return;
    }
    switch (m) {
    case UC_PC:
        v->frame.pc = value;
        break;
    case UC_SP:
        vcpu_write_sp_el0(v, value);
        break;
    case UC_SPSR:
        v->frame.spsr = vcpu_sanitise_spsr(value);
        break;
    case UC_TPIDR:
        if (el1_here(v)) {
            sysreg_write(tpidr_el0, value);
        } else {
            v->saved.tpidr_el0 = value;
        }
        break;
    default:
        if (el1_here(v)) {
            sysreg_write(tpidrro_el0, value);
        } else {
            v->saved.tpidrro_el0 = value;
        }
        break;
    }
}

/*
 * LRs written for v from other CPUs (kernel lock held): taken here, written to
 * the hardware after the lock is released. A write that comes in meanwhile
 * sets lr_dirty again and kicks the guest out (in_guest is already 1).
 */
static uint64_t take_dirty_lrs(struct vcpu *v, uint64_t lrs[GIC_MAX_LRS])
{
    uint64_t mask = v->lr_dirty;
    for (uint64_t m = mask; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        lrs[i] = v->saved.lr[i];
    }
    v->lr_dirty = 0;
    return mask;
}

void vcpu_run(struct hyp_cpu *c, struct vcpu *v)
{
    uint64_t lrs[GIC_MAX_LRS], dirty = 0;
    if (v->loaded_cpu != (int)c->id) {
        vcpu_load(v);
    } else if (v->lr_dirty) {
        dirty = take_dirty_lrs(v, lrs);
    }
    bool vtimer_unmask = c->vtimer_hw_masked && !v->vtimer_masked;
    uint32_t epoch = v->epoch;
    c->in_guest = 1;
    kernel_unlock();

    /* This CPU's own GIC state: no lock needed (and QEMU serialises GIC accesses on its global mutex). */
    for (; dirty; dirty &= dirty - 1) {
        unsigned i = (unsigned)__builtin_ctzll(dirty);
        gic_vif_write_lr(i, lrs[i]);
    }
    if (vtimer_unmask) {
        irq_vtimer_unmask(c);
    }
    gic_vif_enable(true); /* ABI 3.7: the maintenance IRQ can only assert while the guest runs */
    c->exits++;
    uint64_t code = hyp_vcpu_enter(&v->frame);
    switch (code) {
    case EXIT_SYNC:
        trap_handle_sync(v);
        break;
    case EXIT_IRQ:
    case EXIT_FIQ:
        irq_poll(c, true);
        break;
    default:
        /* ABI 2.3: seL4 halts on an SError from the guest. */
        hyp_panic("SError taken from vCPU %u (ESR_EL2 0x%lx, pc 0x%lx)", v->id, v->frame.esr, v->frame.pc);
    }
    gic_vif_enable(false);
    /* The frame is complete: other CPUs may look at it (vcpu_frame_sync) from here on. */
    __atomic_store_n(&c->in_guest, 0, __ATOMIC_RELEASE);

    kernel_lock();
    irq_publish(c);
    seL4_Word label = v->exit_label;
    if (label) {
        v->exit_label = 0;
        /* A Suspend or restart while the exit was in flight cancels its fault, as seL4 cancelIPC does. */
        if (v->state == VCPU_RUNNABLE && v->epoch == epoch) {
            if (label == seL4_Fault_VPPIEvent) {
                v->vtimer_masked = true;
            }
            pd_queue_fault(v, label, v->exit_len);
        }
    }
}
