/*
 * Physical interrupt dispatch, polled with PSTATE.I masked (HCR_EL2.IMO = 1
 * routes IRQs taken in the guest to EL2).
 *  - hyp's kick SGI: nothing to do here; the CPU's loop looks again (smp.c).
 *  - EL1 virtual timer PPI: ABI 3.6 (mask at this CPU's GIC, VPPIEvent on the
 *    vCPU; its masked flag is set when the fault is queued; unmasked on the
 *    next entry after AckVPPI).
 *  - GIC maintenance PPI: ABI 3.7 (MISR.EOI -> lowest EISR index, clear that
 *    LR's EOI bit, VGICMaintenance with the index or -1).
 *  - Device IRQs bound to a channel: the notification bit; the interrupt stays
 *    off until seL4_IRQHandler_Ack (ABI 1.3, 4.4): GICv2 masks it and EOIs
 *    (drop + deactivate), GICv3 only drops its priority (EOImode 1) and
 *    leaves it active until the ack deactivates it.
 *  - IRQs of virtio devices hyp drives (backend.c): mask + EOI, backend pending;
 *    unmasked by the backend's service pass once the device is acknowledged.
 * A PD's SPIs are routed to its first CPU (irq_route_pd) and published to that
 * CPU's PD; SGIs and PPIs are each CPU's own.
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
    IRQ_KICK,
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
    owners[GIC_SGI_KICK].kind = IRQ_KICK;
    owners[platform.vtimer_irq].kind = IRQ_VTIMER;
    owners[platform.maint_irq].kind = IRQ_MAINTENANCE;
    irq_cpu_init();
}

void irq_cpu_init(void)
{
    gic_irq_enable(GIC_SGI_KICK);
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

void irq_bind_backend(uint32_t intid, unsigned index, struct pd *pd)
{
    if (intid < 32 || intid >= gic_max_intid() || owners[intid].kind != IRQ_UNOWNED) {
        hyp_panic("IRQ %u of a virtio device hyp drives for backend %u is bound elsewhere (a PD's irqs?)", intid,
                  index);
    }
    owners[intid] = (struct irq_owner){.kind = IRQ_BACKEND, .pd = (uint8_t)pd->index, .ch = (uint8_t)index};
    gic_irq_configure(intid, false); /* virtio-mmio's line stays high until InterruptACK (4.2.2) */
    gic_irq_route(intid, pd->first_cpu); /* GICv3 now; GICv2 once that CPU is up (irq_route_pd) */
    gic_irq_enable(intid);
}

/* Every SPI bound to `pd`, to CPU `cpu`. */
static void route_pd(const struct pd *pd, unsigned cpu)
{
    for (uint32_t intid = 32; intid < gic_max_intid(); intid++) {
        const struct irq_owner *o = &owners[intid];
        if ((o->kind == IRQ_CHANNEL || o->kind == IRQ_BACKEND) && o->pd == pd->index) {
            gic_irq_route(intid, cpu);
        }
    }
}

void irq_route_pd(const struct pd *pd)
{
    route_pd(pd, cpu_this()->id);
}

void irq_disable_pd(const struct pd *pd)
{
    for (uint32_t intid = 32; intid < gic_max_intid(); intid++) {
        struct irq_owner *o = &owners[intid];
        if ((o->kind == IRQ_CHANNEL || o->kind == IRQ_BACKEND) && o->pd == pd->index) {
            gic_irq_disable(intid);
            o->kind = IRQ_REPORTED; /* should it still fire somewhere: masked again, without a word */
        }
    }
}

/*
 * seL4 turns the PPI into a fault only while a vCPU is active on this core
 * and masks it whenever the vCPU is switched out; here it stays masked until
 * the vCPU's next entry, where it fires again (documented divergence).
 */
static void handle_vtimer(struct hyp_cpu *c, uint32_t intid, bool guest_exit)
{
    struct vcpu *v = c->vcpu;
    gic_irq_disable(intid);
    c->vtimer_hw_masked = true;
    if (guest_exit && !v->exit_label) {
        v->exit_mr[seL4_VPPIEvent_IRQ] = intid;
        v->exit_label = seL4_Fault_VPPIEvent;
        v->exit_len = seL4_VPPIEvent_Length;
    }
}

static void handle_maintenance(struct hyp_cpu *c, bool guest_exit)
{
    struct vcpu *v = c->vcpu;
    if (guest_exit && !v->exit_label) {
        seL4_Word idx = (seL4_Word)-1;
        if (gic_vif_eoi_pending()) {
            uint64_t eisr = gic_vif_eisr();
            if (eisr) {
                unsigned i = (unsigned)__builtin_ctzll(eisr);
                uint64_t lr = gic_lr_clear_eoi(gic_vif_read_lr(i));
                gic_vif_write_lr(i, lr);
                /* seL4 copies the completed LR into its saved copy (ABI 3.7): a remote InjectIRQ sees it free. */
                __atomic_store_n(&v->saved.lr[i], lr, __ATOMIC_RELAXED);
                idx = i;
            }
        }
        v->exit_mr[seL4_VGICMaintenance_IDX] = idx;
        v->exit_label = seL4_Fault_VGICMaintenance;
        v->exit_len = seL4_VGICMaintenance_Length;
    }
    /* Deassert until the guest runs again (vcpu_run sets En); more completed LRs then raise the next fault. */
    gic_vif_enable(false);
    c->vif_en = false;
}

void irq_poll(struct hyp_cpu *c, bool guest_exit)
{
    for (;;) {
        uint32_t iar = gic_ack();
        /* GICv2 GICC_IAR: INTID 9:0 (the source CPU of an SGI in 12:10); GICv3 ICC_IAR1_EL1: INTID 23:0. */
        uint32_t intid = iar & (gic_v3 ? 0xffffffu : 0x3ffu);
        if (intid >= GIC_MAX_INTID) {
            return; /* 1020..1023: special/spurious */
        }
        struct irq_owner *o = &owners[intid];
        switch (o->kind) {
        case IRQ_KICK:
            break;
        case IRQ_VTIMER:
            handle_vtimer(c, intid, guest_exit);
            break;
        case IRQ_MAINTENANCE:
            handle_maintenance(c, guest_exit);
            break;
        case IRQ_CHANNEL:
            if (o->pd != c->pd->index) {
                /* Routed here before its PD's CPU took it over (irq_route_pd): that CPU gets it once acked. */
                gic_irq_disable(intid);
                break;
            }
            c->irq_notify |= 1ull << o->ch;
            if (gic_v3) {
                gic_eoi(iar); /* priority drop; active until seL4_IRQHandler_Ack */
                continue;
            }
            gic_irq_disable(intid);
            break;
        case IRQ_BACKEND:
            /* Masked until the backend's pass has acknowledged the device. */
            gic_irq_disable(intid);
            c->irq_backends |= 1u << o->ch;
            break;
        default:
            gic_irq_disable(intid);
            if (o->kind != IRQ_REPORTED) {
                o->kind = IRQ_REPORTED;
                LOG_WARN("unexpected IRQ %u masked", intid);
            }
            break;
        }
        gic_eoi_deactivate(iar);
    }
}

void irq_publish_pending(struct hyp_cpu *c)
{
    if (c->irq_notify) {
        c->pd->notify_pending |= c->irq_notify;
        c->irq_notify = 0;
    }
    while (c->irq_backends) {
        unsigned i = (unsigned)__builtin_ctz(c->irq_backends);
        c->irq_backends &= c->irq_backends - 1;
        backend_irq(i);
    }
}

void irq_vtimer_unmask(struct hyp_cpu *c)
{
    c->vtimer_hw_masked = false;
    gic_irq_enable(platform.vtimer_irq);
}

/* seL4_IRQHandler_Ack: re-enable a device IRQ (GICv2: unmask; GICv3: deactivate, and unmask the first time). */
void irq_ack_channel(struct pd *pd, unsigned ch)
{
    uint32_t intid = pd->irq_of_channel[ch];
    gic_irq_enable(intid);
    if (gic_v3) {
        gic_deactivate(intid);
    }
}
