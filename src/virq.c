/*
 * The seed virq_* API (include/libvmm/virq.h) on top of the vGIC.
 * Every entry point validates its arguments and refuses, with a log line,
 * anything out of range, duplicated, unregistered or too early.
 */
#include <string.h>
#include <libvmm/log.h>
#include <libvmm/virq.h>
#include "guest_internal.h"
#include "vgic/vgic.h"

/* Channel -> INTID routes; `mapped` is the explicit "no route" tag (0.1.0 sent unmapped channels to IRQ 0). */
struct passthrough_route {
    bool mapped;
    uint8_t vcpu;
    uint16_t intid;
};

static struct passthrough_route routes[MICROKIT_MAX_CHANNELS];
static bool virq_initialised;

/* The guest EOIed its virtual timer interrupt: let the kernel unmask the PPI again (ABI 3.6). */
static void vtimer_ack(size_t vcpu_id, int irq, void *cookie)
{
    (void)cookie;
    microkit_vcpu_arm_ack_vppi((microkit_child)vcpu_id, (seL4_Word)irq);
}

/* The guest EOIed a pass-through interrupt: re-enable the physical line (ABI 3.7). */
static void passthrough_ack(size_t vcpu_id, int irq, void *cookie)
{
    (void)vcpu_id;
    (void)irq;
    microkit_irq_ack((microkit_channel)(uintptr_t)cookie);
}

static bool initialised(const char *caller)
{
    if (!virq_initialised) {
        LOG_ERR("%s called before virq_controller_init()", caller);
    }
    return virq_initialised;
}

bool virq_controller_init(size_t cpu_id)
{
    const struct guest_config *config = guest_config_get();
    virq_initialised = false;
    if (config == NULL) {
        LOG_ERR("guest_init() must be called first");
        return false;
    }
    if (!guest_vcpu_valid(cpu_id)) {
        LOG_ERR("boot vCPU %zu is not configured (%zu vCPUs)", cpu_id, guest_num_vcpus());
        return false;
    }
    memset(routes, 0, sizeof(routes));
    if (!vgic_init(config)) {
        return false;
    }
    /* The virtual timer and all SGIs on every vCPU: a guest may use any SGI for IPIs. */
    for (size_t v = 0; v < config->num_vcpus; v++) {
        if (!vgic_register_irq(v, VGIC_VTIMER_PPI, vtimer_ack, NULL)) {
            return false;
        }
        for (unsigned sgi = 0; sgi < VGIC_NUM_SGIS; sgi++) {
            if (!vgic_register_irq(v, sgi, NULL, NULL)) {
                return false;
            }
        }
    }
    virq_initialised = true;
    return true;
}

bool virq_register(size_t vcpu_id, size_t virq_num, virq_ack_fn_t ack_fn, void *ack_data)
{
    if (!initialised(__func__)) {
        return false;
    }
    if (!guest_vcpu_valid(vcpu_id)) {
        LOG_ERR("vCPU %zu is not configured (%zu vCPUs)", vcpu_id, guest_num_vcpus());
        return false;
    }
    if (virq_num > VGIC_MAX_INTID) {
        LOG_ERR("IRQ %zu out of range (0..%d)", virq_num, VGIC_MAX_INTID);
        return false;
    }
    return vgic_register_irq(vcpu_id, (unsigned)virq_num, ack_fn, ack_data);
}

bool virq_inject(size_t vcpu_id, int irq)
{
    if (!initialised(__func__)) {
        return false;
    }
    if (irq < 0 || irq > VGIC_MAX_INTID) {
        LOG_GUEST(LOG_LEVEL_ERROR, "IRQ %d out of range (0..%d)", irq, VGIC_MAX_INTID);
        return false;
    }
    return vgic_inject(vcpu_id, (unsigned)irq);
}

bool virq_register_passthrough(size_t vcpu_id, size_t irq, microkit_channel irq_ch)
{
    if (!initialised(__func__)) {
        return false;
    }
    if (irq_ch > MICROKIT_MAX_CHANNEL_ID) {
        LOG_ERR("channel %u out of range (0..%d)", irq_ch, MICROKIT_MAX_CHANNEL_ID);
        return false;
    }
    if (!guest_vcpu_valid(vcpu_id)) {
        LOG_ERR("vCPU %zu is not configured (%zu vCPUs)", vcpu_id, guest_num_vcpus());
        return false;
    }
    if (irq < VGIC_NUM_SGIS || irq > VGIC_MAX_INTID) {
        LOG_ERR("IRQ %zu cannot be passed through: a PPI or SPI %d..%d is needed", irq, VGIC_NUM_SGIS, VGIC_MAX_INTID);
        return false;
    }
    if (routes[irq_ch].mapped) {
        LOG_ERR("channel %u is already routed to IRQ %u", irq_ch, routes[irq_ch].intid);
        return false;
    }
    if (!vgic_register_irq(vcpu_id, (unsigned)irq, passthrough_ack, (void *)(uintptr_t)irq_ch)) {
        return false;
    }
    routes[irq_ch] = (struct passthrough_route){true, (uint8_t)vcpu_id, (uint16_t)irq};
    return true;
}

bool virq_handle_passthrough(microkit_channel irq_ch)
{
    if (!initialised(__func__)) {
        return false;
    }
    if (irq_ch > MICROKIT_MAX_CHANNEL_ID || !routes[irq_ch].mapped) {
        LOG_ERR("channel %u has no pass-through IRQ registered", irq_ch);
        return false;
    }
    return vgic_inject(routes[irq_ch].vcpu, routes[irq_ch].intid);
}
