/*
 * Physical interrupt dispatch, polled from the event loop with PSTATE.I
 * masked (HCR_EL2.IMO = 1 routes IRQs taken in the guest to EL2).
 *  - EL1 virtual timer PPI: ABI 3.6 (mask at the distributor, set the vCPU's
 *    masked flag, VPPIEvent; unmasked on the next entry after AckVPPI).
 *  - GIC maintenance PPI: ABI 3.7 (MISR.EOI -> lowest EISR index, clear that
 *    LR's EOI bit, VGICMaintenance with the index or -1).
 *  - Device IRQs bound to a channel: mask + EOI, notification bit; unmasked
 *    by seL4_IRQHandler_Ack (ABI 1.3 microkit_irq_ack).
 *  - IRQs of virtio devices hyp drives (backend.c): mask + EOI, backend pending;
 *    unmasked by the backend's service pass once the device is acknowledged.
 */
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/pd.h>
#include <hyp/platform.h>
#include <hyp/vcpu.h>

enum irq_owner_kind {
    IRQ_UNOWNED = 0,
    IRQ_VTIMER,
    IRQ_MAINTENANCE,
    IRQ_CHANNEL,
    IRQ_BACKEND, /* a device hyp drives itself (backend.c); `pd` holds the backend index */
    IRQ_REPORTED, /* unexpected, logged once and left masked */
};

struct irq_owner {
    uint8_t kind;
    uint8_t pd;
    uint8_t ch;
};

static struct irq_owner owners[GIC_MAX_INTID];

void irq_init(void)
{
    owners[platform.vtimer_irq].kind = IRQ_VTIMER;
    owners[platform.maint_irq].kind = IRQ_MAINTENANCE;
    gic_irq_enable(platform.vtimer_irq);
    gic_irq_enable(platform.maint_irq);
}

void irq_bind_channel(uint32_t intid, struct pd *pd, unsigned ch, bool edge)
{
    if (intid < 32 || intid >= gic_max_intid() || owners[intid].kind != IRQ_UNOWNED) {
        hyp_panic("system description: IRQ %u cannot be bound to channel %u", intid, ch);
    }
    owners[intid] = (struct irq_owner){.kind = IRQ_CHANNEL, .pd = (uint8_t)pd->index, .ch = (uint8_t)ch};
    gic_irq_configure(intid, edge);
}

void irq_bind_backend(uint32_t intid, unsigned index)
{
    if (intid < 32 || intid >= gic_max_intid() || owners[intid].kind != IRQ_UNOWNED) {
        hyp_panic("IRQ %u of a virtio device hyp drives for backend %u is bound elsewhere (a PD's irqs?)", intid,
                  index);
    }
    owners[intid] = (struct irq_owner){.kind = IRQ_BACKEND, .pd = (uint8_t)index};
    gic_irq_configure(intid, false); /* virtio-mmio's line stays high until InterruptACK (4.2.2) */
    gic_irq_enable(intid);
}

static void handle_vtimer(struct hyp_cpu *c, uint32_t intid)
{
    struct vcpu *v = c->vcpu;
    gic_irq_disable(intid);
    c->vtimer_hw_masked = true;
    /*
     * seL4 turns the PPI into a fault only while a vCPU is active on this core
     * and masks it whenever the vCPU is switched out. A vCPU that is not
     * runnable gets the PPI unmasked at its next entry, when it re-fires.
     */
    if (v && v->state == VCPU_RUNNABLE) {
        v->vtimer_masked = true;
        v->fault_mr[seL4_VPPIEvent_IRQ] = intid;
        pd_queue_fault(v, seL4_Fault_VPPIEvent, seL4_VPPIEvent_Length);
    }
}

static void handle_maintenance(struct hyp_cpu *c)
{
    struct vcpu *v = c->vcpu;
    if (v && v->state == VCPU_RUNNABLE) {
        seL4_Word idx = (seL4_Word)-1;
        if (gich_read_misr() & GICH_MISR_EOI) {
            uint64_t eisr = gich_read_eisr();
            if (eisr) {
                unsigned i = (unsigned)__builtin_ctzll(eisr);
                gich_write_lr(i, gich_read_lr(i) & ~GICH_LR_EOI);
                idx = i;
            }
        }
        v->fault_mr[seL4_VGICMaintenance_IDX] = idx;
        pd_queue_fault(v, seL4_Fault_VGICMaintenance, seL4_VGICMaintenance_Length);
    }
    /* Deassert until the guest runs again (vcpu_run sets En); more completed LRs then raise the next fault. */
    gich_write_hcr(0);
    c->gich_en = false;
}

/* Every IRQ but the GIC maintenance one, which the guest's EOIs raise most often: out of line. */
static __attribute__((noinline)) void handle_other(struct hyp_cpu *c, uint32_t intid)
{
    struct irq_owner *o = &owners[intid];
    switch (o->kind) {
    case IRQ_VTIMER:
        handle_vtimer(c, intid);
        break;
    case IRQ_CHANNEL:
        gic_irq_disable(intid);
        pd_signal(&hyp_pds[o->pd], o->ch);
        break;
    case IRQ_BACKEND:
        /* Masked until the backend's pass has acknowledged the device. */
        gic_irq_disable(intid);
        backend_irq(o->pd);
        break;
    default:
        gic_irq_disable(intid);
        if (o->kind != IRQ_REPORTED) {
            o->kind = IRQ_REPORTED;
            LOG_WARN("unexpected IRQ %u masked", intid);
        }
        break;
    }
}

void irq_poll(void)
{
    struct hyp_cpu *c = cpu_this();
    for (;;) {
        uint32_t iar = gic_ack();
        uint32_t intid = iar & 0x3ff;
        if (intid >= GIC_MAX_INTID) {
            return;
        }
        if (owners[intid].kind == IRQ_MAINTENANCE) {
            handle_maintenance(c);
        } else {
            handle_other(c, intid);
        }
        gic_eoi(iar);
    }
}

void irq_vcpu_entry(void)
{
    struct hyp_cpu *c = cpu_this();
    if (c->vtimer_hw_masked && !c->vcpu->vtimer_masked) {
        c->vtimer_hw_masked = false;
        gic_irq_enable(platform.vtimer_irq);
    }
}

/* seL4_IRQHandler_Ack: re-enable a device IRQ (GICv2: unmask). */
void irq_ack_channel(struct pd *pd, unsigned ch)
{
    gic_irq_enable(pd->irq_of_channel[ch]);
}
