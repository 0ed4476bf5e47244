/*
 * Lifetimes of PDs (hyp/pd.h). Several VMM programs share the machine, so a
 * VMM's power-off or crash ends only its own PD: its vCPUs stop, its device
 * interrupts are masked and its backend devices reset (they stop touching
 * its memory), and its CPUs are parked for good (PSCI CPU_OFF, DEN0022
 * 5.1.3). The other PDs keep running; QEMU exits when the last PD has ended,
 * with status 0 only if every PD ended with 0.
 *
 * What is contained: a VMM's hyp_machine_poweroff(status), a libmicrokit
 * crash (microkit_internal_crash: a failed kernel operation), a signal on an
 * empty capability slot, and an exception taken at EL2t while the PD runs
 * one of its entry points on this CPU without hyp's kernel lock (a bad
 * pointer, a stack overflow into the guard page: the VMM's own code or a
 * hyp service it called with bad arguments). hyp's state is consistent then:
 * the PD owns nothing but itself. Anything else (an exception in hyp's event
 * loop, exit path or vectors, or while the kernel lock is held) is a hyp
 * bug and still panics the whole machine.
 */
#include <stdarg.h>
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

#define SPSR_MODE_EL2T 0x8u

static unsigned pds_running; /* kernel lock */
static int machine_status; /* the first non-zero status a PD ended with; kernel lock */

void lifecycle_init(unsigned n)
{
    pds_running = n;
}

/* Kernel lock held: stop every vCPU of the PD (an exit in flight is discarded by its epoch). */
static void stop_vcpus(struct pd *pd)
{
    for (unsigned i = 0; i < pd->num_vcpus; i++) {
        struct vcpu *v = pd->vcpus[i];
        pd_cancel_fault(v);
        v->state = VCPU_INACTIVE;
        v->epoch++;
    }
    for (unsigned cpu = pd->first_cpu; cpu < pd->first_cpu + pd->num_cpus; cpu++) {
        smp_kick(cpu); /* out of its guest or its WFI: its loop parks it (pd.c) */
    }
}

void pd_end(struct pd *pd, int status)
{
    struct hyp_cpu *c = cpu_this();
    pd_dbg_flush(pd);
    kernel_lock();
    if (pd->ended) {
        kernel_unlock();
        pd_cpu_park(c);
    }
    pd->ended = true;
    pd->exit_status = status;
    stop_vcpus(pd);
    irq_disable_pd(pd);
    unsigned left = --pds_running;
    if (status != 0 && machine_status == 0) {
        machine_status = status;
    }
    int final_status = machine_status;
    kernel_unlock();
    /* This CPU owns the PD (its entry point called us), so it alone serves the PD's backends. */
    backend_stop(pd);
    LOG_INFO("PD '%s' ended with status %d; %u PD(s) still running", pd->desc->name, status, left);
    if (left == 0) {
        machine_exit(final_status);
    }
    pd_cpu_park(c);
}

void pd_crash(struct pd *pd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pd_dbg_flush(pd);
    /* Always shown, like a panic: the PD is gone. */
    hyp_printf("\nhyp| PD '%s' crashed: ", pd->desc->name);
    hyp_vprintf(fmt, ap);
    hyp_printf("\n");
    va_end(ap);
    pd_end(pd, 1);
}

void pd_cpu_park(struct hyp_cpu *c)
{
    __atomic_store_n(&c->online, 0, __ATOMIC_RELEASE); /* no more kicks (smp_send_kicks) */
    sysreg_write(cntv_ctl_el0, 0);
    if (c->vif_en) {
        gic_vif_enable(false);
        c->vif_en = false;
    }
    gic_irq_disable(GIC_SGI_KICK);
    gic_irq_disable(platform.vtimer_irq);
    gic_irq_disable(platform.maint_irq);
    gic_cpu_disable();
    LOG_INFO("CPU %u parked", c->id);
    smp_cpu_off();
    for (;;) {
        dsb(sy);
        wfi();
    }
}

struct pd *pd_exception_owner(uint64_t vector, const uint64_t *regs)
{
    struct hyp_cpu *c = cpu_this();
    struct pd *pd = c->pd;
    uint64_t spsr = regs[32];
    /* Vector 0 is a synchronous exception at EL2 (vectors.S); SPSR.M tells EL2t (hyp/VMM code) from EL2h. */
    if (vector != 0 || (spsr & 0xf) != SPSR_MODE_EL2T || !pd || pd->ended) {
        return NULL;
    }
    if (!pd->in_entry || pd->owner != (int)c->id || c->holds_lock) {
        return NULL;
    }
    return pd;
}
