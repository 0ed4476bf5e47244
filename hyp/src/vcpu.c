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
_Static_assert(offsetof(struct vcpu_frame, sp_el0) == VCPU_FRAME_SP_EL0, "frame layout");
_Static_assert(sizeof(struct vcpu_frame) == VCPU_FRAME_WORDS * sizeof(uint64_t), "frame layout");
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

/*
 * The 34 fields that live in the exit frame (all but the TPIDRs): seL4_UserContext
 * word and frame word, last word first, so that a switch on the count falls
 * through from word count - 1 down to word 0 with one load and one store per
 * word (DESIGN 3: Read/WriteRegisters are on the MMIO and SMC exit paths).
 */
enum { FW_PC = 31, FW_SPSR = 32, FW_SP = 34, UC_FRAME_FIELDS = 34, UC_INDEX_SPSR = 2 };
_Static_assert(offsetof(struct vcpu_frame, pc) == FW_PC * 8 && offsetof(struct vcpu_frame, spsr) == FW_SPSR * 8 &&
                   offsetof(struct vcpu_frame, sp_el0) == FW_SP * 8,
               "frame word numbers");
/* clang-format off */
#define UC_FRAME_WORDS_DOWN(X)                                                          \
    X(33, 28) X(32, 27) X(31, 26) X(30, 25) X(29, 24)      /* x28 .. x24 */             \
    X(28, 23) X(27, 22) X(26, 21) X(25, 20) X(24, 19)      /* x23 .. x19 */             \
    X(23, 15) X(22, 14) X(21, 13) X(20, 12) X(19, 11)      /* x15 .. x11 */             \
    X(18, 10) X(17, 9)  X(16, 30) X(15, 29)                /* x10, x9, x30, x29 */      \
    X(14, 18) X(13, 17) X(12, 16)                          /* x18 .. x16 */             \
    X(11, 8)  X(10, 7)  X(9, 6)   X(8, 5)   X(7, 4)        /* x8 .. x4 */               \
    X(6, 3)   X(5, 2)   X(4, 1)   X(3, 0)                  /* x3 .. x0 */               \
    X(2, FW_SPSR) X(1, FW_SP) X(0, FW_PC)
/* clang-format on */

void vcpu_init(struct vcpu *v, unsigned id, unsigned cpu, struct pd *pd)
{
    memset(v, 0, sizeof(*v));
    v->id = id;
    v->cpu = cpu;
    v->pd = pd;
    v->exit_mr = pd->num_cpus == 1 ? pd->ipc.msg : v->fault_mr;
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

void vcpu_write_lr_elsewhere(struct vcpu *v, unsigned idx, uint64_t value)
{
    v->saved.lr[idx] = value;
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

/* The TPIDRs (words 34 and 35) are system registers, not frame words: out of line, off the common path. */
static __attribute__((noinline)) void read_tpidrs(struct vcpu *v, seL4_Word *out, unsigned count)
{
    for (unsigned i = UC_FRAME_FIELDS; i < count; i++) {
        out[i] = vcpu_read_context(v, i);
    }
}

static __attribute__((noinline)) void write_tpidrs(struct vcpu *v, const seL4_Word *in, unsigned count)
{
    for (unsigned i = UC_FRAME_FIELDS; i < count; i++) {
        vcpu_write_context(v, i, in[i]);
    }
}

void vcpu_read_context_words(struct vcpu *v, seL4_Word *out, unsigned count)
{
    const uint64_t *frame = v->frame.word;
    switch (count < UC_FRAME_FIELDS ? count : UC_FRAME_FIELDS) {
#define READ_WORD(uc, fw)                                                                                              \
    case (uc) + 1:                                                                                                     \
        out[uc] = frame[fw];                                                                                           \
        __attribute__((fallthrough));
        UC_FRAME_WORDS_DOWN(READ_WORD)
#undef READ_WORD
    default:
        break;
    }
    if (count > UC_FRAME_FIELDS) {
        read_tpidrs(v, out, count);
    }
}

void vcpu_write_context_words(struct vcpu *v, const seL4_Word *in, unsigned count)
{
    uint64_t *frame = v->frame.word;
    switch (count < UC_FRAME_FIELDS ? count : UC_FRAME_FIELDS) {
#define WRITE_WORD(uc, fw)                                                                                             \
    case (uc) + 1:                                                                                                     \
        frame[fw] = in[uc];                                                                                            \
        __attribute__((fallthrough));
        UC_FRAME_WORDS_DOWN(WRITE_WORD)
#undef WRITE_WORD
    default:
        break;
    }
    if (count > UC_INDEX_SPSR) {
        v->frame.spsr = vcpu_sanitise_spsr(v->frame.spsr);
    }
    if (count > UC_FRAME_FIELDS) {
        write_tpidrs(v, in, count);
    }
}

/*
 * LRs written for v from other CPUs (kernel lock held): staged here, written
 * to the hardware after the lock is released (flush_lrs). A write that comes
 * in meanwhile sets lr_dirty again and kicks the guest out (in_guest is 1).
 */
static uint64_t take_dirty_lrs(struct hyp_cpu *c, struct vcpu *v)
{
    uint64_t mask = v->lr_dirty;
    for (uint64_t m = mask; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        c->lr_stage[i] = v->saved.lr[i];
    }
    v->lr_dirty = 0;
    return mask;
}

static __attribute__((noinline)) void flush_lrs(struct hyp_cpu *c, uint64_t mask)
{
    for (; mask; mask &= mask - 1) {
        unsigned i = (unsigned)__builtin_ctzll(mask);
        gic_vif_write_lr(i, c->lr_stage[i]);
    }
}

void vcpu_run(struct hyp_cpu *c, struct vcpu *v)
{
    struct pd *pd = v->pd;
    while (v->state == VCPU_RUNNABLE && !pd_has_work_for(pd, c)) {
        uint64_t dirty = 0;
        if (v->loaded_cpu != (int)c->id) {
            vcpu_load(v);
        } else if (v->lr_dirty) {
            dirty = take_dirty_lrs(c, v);
        }
        bool vtimer_unmask = c->vtimer_hw_masked && !v->vtimer_masked;
        uint32_t epoch = v->epoch;
        c->in_guest = 1;
        kernel_unlock();

        /* This CPU's own GIC state: no lock needed (and QEMU serialises GIC accesses on its global mutex). */
        if (dirty) {
            flush_lrs(c, dirty);
        }
        if (vtimer_unmask) {
            irq_vtimer_unmask(c);
        }
        /*
         * ABI 3.7: the virtual interface enabled while the guest runs. It stays
         * enabled while hyp and the VMM run (nothing but the guest's EOIs raises
         * the EOI maintenance condition), except after a maintenance IRQ, which
         * irq.c deasserts by disabling it: written only when it changes.
         */
        if (!c->vif_en) {
            gic_vif_enable(true);
            c->vif_en = true;
        }
        c->exits++;
        uint64_t code = vcpu_enter(&v->frame);
        if (code == EXIT_SYNC) {
            trap_handle_sync(v);
        } else if (code == EXIT_IRQ || code == EXIT_FIQ) {
            irq_poll(c, true);
        } else {
            /* ABI 2.3: seL4 halts on an SError from the guest. */
            hyp_panic("SError taken from vCPU %u (ESR_EL2 0x%lx, pc 0x%lx)", v->id, v->frame.esr, v->frame.pc);
        }
        /* The exit is recorded: other CPUs may look at the frame (vcpu_frame_sync) from here on. */
        __atomic_store_n(&c->in_guest, 0, __ATOMIC_RELEASE);

        kernel_lock();
        irq_publish(c);
        seL4_Word label = v->exit_label;
        if (!label) {
            continue;
        }
        v->exit_label = 0;
        /* A Suspend or restart while the exit was in flight cancels its fault, as seL4 cancelIPC does. */
        if (v->state != VCPU_RUNNABLE || v->epoch != epoch) {
            continue;
        }
        if (label == seL4_Fault_VPPIEvent) {
            v->vtimer_masked = true;
        }
        if (pd->owner < 0 && !pd_has_work(pd)) {
            pd_deliver_fault(v, label, v->exit_len);
        } else {
            pd_queue_fault(v, label, v->exit_len);
        }
    }
}
