/*
 * virtio-mmio transport, modern interface (virtio 1.2 section 4.2.2):
 * register block, device status state machine (2.1, 3.1.1), queue
 * configuration (4.2.3.2), interrupts (4.2.3.4) and config space (4.2.2.2).
 *
 * Guest-facing rules (shared/reference/guest-attack-classes.md):
 *  - queue registers are writable only while the queue is not ready and the
 *    device is not DRIVER_OK; later writes are refused and logged and never
 *    change what the device uses (class 1);
 *  - QueueSel out of range: queue registers read 0, writes are ignored;
 *    QueueNum must be a power of two <= QueueNumMax; QueueNotify with an
 *    index out of range is ignored and logged (classes 9, 16);
 *  - the common registers take aligned 32-bit accesses only; anything else
 *    reads as zero and is ignored, as are config-space accesses that are
 *    wider than 4 bytes, misaligned or out of range (class 14).
 */
#include <string.h>
#include <libvmm/guest.h>
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include <libvmm/virq.h>
#include "guest_internal.h"
#include "vgic/vgic.h"
#include "virtio/queue.h"
#include "virtio/transport.h"
#include "virtio/virtio_spec.h"

#define VIRTIO_MMIO_MAX_DEVICES 16
#define FIRST_SPI 32

#define DEV_LOG(dev, level, fmt, ...)                                                                                  \
    LOG_GUEST(level, "%s@0x%llx: " fmt, (dev)->name, (unsigned long long)(dev)->gpa, ##__VA_ARGS__)

/* Devices guest_restart() resets, through one reset hook. */
static struct virtio_mmio_device *devices[VIRTIO_MMIO_MAX_DEVICES];
static size_t num_devices;
static bool reset_hook_registered;

static void reset_all(void *cookie)
{
    (void)cookie;
    for (size_t i = 0; i < num_devices; i++) {
        virtio_mmio_reset(devices[i]);
    }
}

/*
 * Bit i: the driver of devices[i] set a feature bit above 63 since the last
 * reset (DriverFeaturesSel >= 2). No device offers one, so FEATURES_OK must
 * fail (2.2.1) whatever is written to bits 0-63 afterwards; kept here, not
 * in the driver_features bits the driver can overwrite.
 */
static uint32_t high_features_set;

_Static_assert(VIRTIO_MMIO_MAX_DEVICES <= 32, "one bit per device in high_features_set");

static uint32_t device_bit(const struct virtio_mmio_device *dev)
{
    for (size_t i = 0; i < num_devices; i++) {
        if (devices[i] == dev) {
            return 1u << i;
        }
    }
    return 0;
}

static bool track_device(struct virtio_mmio_device *dev)
{
    for (size_t i = 0; i < num_devices; i++) {
        if (devices[i] == dev) {
            return true;
        }
    }
    if (num_devices == VIRTIO_MMIO_MAX_DEVICES) {
        LOG_ERR("more than %d virtio devices", VIRTIO_MMIO_MAX_DEVICES);
        return false;
    }
    if (!reset_hook_registered) {
        if (!guest_register_reset_hook(reset_all, NULL)) {
            return false;
        }
        reset_hook_registered = true;
    }
    devices[num_devices++] = dev;
    return true;
}

bool virtio_mmio_live(const struct virtio_mmio_device *dev)
{
    return dev->present && (dev->status & VIO_STATUS_DRIVER_OK) &&
           !(dev->status & (VIO_STATUS_FAILED | VIO_STATUS_DEVICE_NEEDS_RESET));
}

bool virtio_mmio_has(const struct virtio_mmio_device *dev, unsigned n)
{
    return n < 64 && (dev->driver_features & VIO_BIT(n)) != 0;
}

struct vqueue *virtio_mmio_queue(struct virtio_mmio_device *dev, uint16_t i)
{
    if (i >= dev->num_queues || !dev->queues[i].ready) {
        return NULL;
    }
    return &dev->queues[i];
}

void virtio_mmio_raise(struct virtio_mmio_device *dev, uint32_t bits)
{
    uint32_t newly = bits & ~dev->interrupt_status;
    dev->interrupt_status |= bits;
    if (newly != 0 && !virq_inject(dev->vcpu, dev->irq)) {
        DEV_LOG(dev, LOG_LEVEL_ERROR, "could not inject IRQ %d", dev->irq);
    }
}

void virtio_mmio_flush(struct virtio_mmio_device *dev, uint16_t i)
{
    struct vqueue *q = virtio_mmio_queue(dev, i);
    if (q != NULL && vqueue_publish(q)) {
        virtio_mmio_raise(dev, VIO_INT_USED_BUFFER);
    }
}

void virtio_mmio_needs_reset(struct virtio_mmio_device *dev, const char *why)
{
    dev->guest_errors++;
    if (dev->status & VIO_STATUS_DEVICE_NEEDS_RESET) {
        return;
    }
    DEV_LOG(dev, LOG_LEVEL_WARN, "%s: device needs reset", why);
    dev->status |= VIO_STATUS_DEVICE_NEEDS_RESET;
    dev->pending_queues = 0;
    if (dev->status & VIO_STATUS_DRIVER_OK) {
        virtio_mmio_raise(dev, VIO_INT_CONFIG_CHANGE);
    }
}

void virtio_mmio_config_changed(struct virtio_mmio_device *dev)
{
    dev->config_generation++;
    if (dev->status & VIO_STATUS_DRIVER_OK) {
        virtio_mmio_raise(dev, VIO_INT_CONFIG_CHANGE);
    }
}

void virtio_mmio_defer(struct virtio_mmio_device *dev, uint16_t i)
{
    dev->pending_queues |= (uint16_t)(1u << i);
}

void virtio_mmio_drain(struct virtio_mmio_device *dev, uint16_t i,
                       enum virtio_drain_step (*step)(struct virtio_mmio_device *dev, struct vqueue *q))
{
    struct vqueue *q = virtio_mmio_queue(dev, i);
    if (q == NULL || !virtio_mmio_live(dev)) {
        return;
    }
    uint32_t budget = q->num;
    for (;;) {
        vqueue_notify_off(q);
        while (budget > 0) {
            enum virtio_drain_step r = step(dev, q);
            if (r == VIRTIO_DRAIN_STOP) {
                goto out;
            }
            if (r == VIRTIO_DRAIN_EMPTY) {
                break;
            }
            budget -= r == VIRTIO_DRAIN_TOOK;
        }
        if (!virtio_mmio_live(dev)) {
            break;
        }
        if (budget == 0) {
            virtio_mmio_defer(dev, i);
            break;
        }
        if (!vqueue_notify_on(q)) {
            break;
        }
    }
out:
    virtio_mmio_flush(dev, i);
}

void virtio_mmio_run_deferred(struct virtio_mmio_device *dev)
{
    uint16_t pending = dev->pending_queues;
    dev->pending_queues = 0;
    for (uint16_t i = 0; pending != 0 && i < dev->num_queues; i++) {
        if ((pending & (1u << i)) && virtio_mmio_live(dev) && virtio_mmio_queue(dev, i) != NULL) {
            dev->ops->queue_notify(dev, i);
        }
    }
}

void virtio_mmio_reset(struct virtio_mmio_device *dev)
{
    dev->status = 0;
    dev->driver_features = 0;
    high_features_set &= ~device_bit(dev);
    dev->device_features_sel = dev->driver_features_sel = 0;
    dev->queue_sel = 0;
    dev->interrupt_status = 0;
    dev->shm_sel = 0;
    dev->pending_queues = 0;
    for (uint16_t i = 0; i < dev->num_queues; i++) {
        vqueue_reset(&dev->queues[i], dev->queues[i].max_num);
    }
    if (dev->ops->reset != NULL) {
        dev->ops->reset(dev);
    }
}

/* ---- Status (2.1, 3.1.1) ---- */

static bool features_acceptable(const struct virtio_mmio_device *dev)
{
    uint64_t f = dev->driver_features;
    return (f & ~dev->device_features) == 0 && (f & VIO_BIT(VIO_F_VERSION_1)) != 0 &&
           (high_features_set & device_bit(dev)) == 0;
}

static void activate(struct virtio_mmio_device *dev)
{
    for (uint16_t i = 0; i < dev->num_queues; i++) {
        if (dev->queues[i].ready) {
            vqueue_start(&dev->queues[i], dev->driver_features);
        }
    }
    dev->ops->activate(dev);
}

/* Why a Status write from `cur` to `want` is refused, or NULL (3.1.1: bits are only ever added, in order). */
static const char *status_write_error(uint32_t value, uint32_t known, uint32_t cur, uint32_t want)
{
    if (value & ~(known | VIO_STATUS_DEVICE_NEEDS_RESET)) {
        return "unknown bits";
    }
    if (cur & ~want) {
        return "clears bits (only 0 resets)";
    }
    if ((want & VIO_STATUS_DRIVER) && !(want & VIO_STATUS_ACKNOWLEDGE)) {
        return "DRIVER without ACKNOWLEDGE";
    }
    if ((want & VIO_STATUS_FEATURES_OK) && !(want & VIO_STATUS_DRIVER)) {
        return "FEATURES_OK without DRIVER";
    }
    if ((want & VIO_STATUS_DRIVER_OK) && !(want & VIO_STATUS_FEATURES_OK)) {
        return "DRIVER_OK without FEATURES_OK";
    }
    return NULL;
}

static void status_write(struct virtio_mmio_device *dev, uint32_t value)
{
    const uint32_t driver_bits =
        VIO_STATUS_ACKNOWLEDGE | VIO_STATUS_DRIVER | VIO_STATUS_FEATURES_OK | VIO_STATUS_DRIVER_OK | VIO_STATUS_FAILED;
    if (value == 0) {
        virtio_mmio_reset(dev);
        return;
    }
    uint32_t cur = dev->status & driver_bits;
    uint32_t want = value & driver_bits;
    const char *why = status_write_error(value, driver_bits, cur, want);
    if (why != NULL) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "Status 0x%x refused (now 0x%x): %s", value, dev->status, why);
        dev->guest_errors++;
        return;
    }
    uint32_t added = want & ~cur;
    if ((added & VIO_STATUS_FEATURES_OK) && !features_acceptable(dev)) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "features 0x%llx%s not a subset of 0x%llx with VERSION_1: FEATURES_OK refused",
                (unsigned long long)dev->driver_features,
                (high_features_set & device_bit(dev)) ? " (and bits above 63)" : "",
                (unsigned long long)dev->device_features);
        want &= ~(VIO_STATUS_FEATURES_OK | VIO_STATUS_DRIVER_OK);
        added &= ~(VIO_STATUS_FEATURES_OK | VIO_STATUS_DRIVER_OK);
    }
    dev->status = want | (dev->status & VIO_STATUS_DEVICE_NEEDS_RESET);
    if (added & VIO_STATUS_DRIVER_OK) {
        activate(dev);
    }
}

/* ---- Queue configuration (4.2.3.2) ---- */

static struct vqueue *selected_queue(struct virtio_mmio_device *dev)
{
    return dev->queue_sel < dev->num_queues ? &dev->queues[dev->queue_sel] : NULL;
}

/* The selected queue if its configuration may change now, else NULL (refusal logged). */
static struct vqueue *configurable_queue(struct virtio_mmio_device *dev, uint32_t offset)
{
    struct vqueue *q = selected_queue(dev);
    if (q == NULL) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "write to 0x%03x for QueueSel %u (%u queues) ignored", offset, dev->queue_sel,
                dev->num_queues);
        dev->guest_errors++;
        return NULL;
    }
    if (q->ready || (dev->status & VIO_STATUS_DRIVER_OK)) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "write to 0x%03x for queue %u refused: queue in use", offset, dev->queue_sel);
        dev->guest_errors++;
        return NULL;
    }
    return q;
}

static void set_half(uint64_t *v, bool high, uint32_t value)
{
    if (high) {
        *v = (*v & 0xffffffffull) | ((uint64_t)value << 32);
    } else {
        *v = (*v & ~0xffffffffull) | value;
    }
}

static void queue_ready_write(struct virtio_mmio_device *dev, uint32_t value)
{
    struct vqueue *q = selected_queue(dev);
    if (value > 1) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "QueueReady %u ignored", value);
        dev->guest_errors++;
        return;
    }
    if (q != NULL && q->ready == (value == 1)) {
        return;
    }
    if (q != NULL && value == 0 && !(dev->status & VIO_STATUS_DRIVER_OK)) {
        q->ready = false; /* the driver gives up a queue before DRIVER_OK: allowed */
        return;
    }
    q = configurable_queue(dev, VIO_MMIO_QUEUE_READY);
    if (q != NULL && !vqueue_enable(q, dev->name, dev->queue_sel)) {
        dev->guest_errors++;
    }
}

static void queue_config_write(struct virtio_mmio_device *dev, uint32_t offset, uint32_t value)
{
    struct vqueue *q = configurable_queue(dev, offset);
    if (q == NULL) {
        return;
    }
    switch (offset) {
    case VIO_MMIO_QUEUE_NUM:
        if (!vqueue_size_valid(q, value)) {
            DEV_LOG(dev, LOG_LEVEL_WARN, "QueueNum %u refused (power of two <= %u)", value, q->max_num);
            dev->guest_errors++;
            return;
        }
        q->num = value;
        break;
    case VIO_MMIO_QUEUE_DESC_LOW:
    case VIO_MMIO_QUEUE_DESC_HIGH:
        set_half(&q->desc_gpa, offset == VIO_MMIO_QUEUE_DESC_HIGH, value);
        break;
    case VIO_MMIO_QUEUE_DRIVER_LOW:
    case VIO_MMIO_QUEUE_DRIVER_HIGH:
        set_half(&q->driver_gpa, offset == VIO_MMIO_QUEUE_DRIVER_HIGH, value);
        break;
    default:
        set_half(&q->device_gpa, offset == VIO_MMIO_QUEUE_DEVICE_HIGH, value);
        break;
    }
}

static void queue_notify_write(struct virtio_mmio_device *dev, uint32_t value)
{
    if (value >= dev->num_queues) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "QueueNotify %u ignored (%u queues)", value, dev->num_queues);
        dev->guest_errors++;
        return;
    }
    if (virtio_mmio_live(dev) && dev->queues[value].ready) {
        dev->ops->queue_notify(dev, (uint16_t)value);
    }
}

/* ---- Register block ---- */

static void driver_features_write(struct virtio_mmio_device *dev, uint32_t value)
{
    if (!(dev->status & VIO_STATUS_DRIVER) || (dev->status & VIO_STATUS_FEATURES_OK)) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "DriverFeatures written in Status 0x%x: ignored", dev->status);
        dev->guest_errors++;
        return;
    }
    if (dev->driver_features_sel < 2) {
        set_half(&dev->driver_features, dev->driver_features_sel == 1, value);
    } else if (value != 0) {
        high_features_set |= device_bit(dev); /* features nobody offers: FEATURES_OK will fail */
    }
}

static uint32_t reg_read(struct virtio_mmio_device *dev, uint32_t offset)
{
    const struct vqueue *q = selected_queue(dev);
    switch (offset) {
    case VIO_MMIO_MAGIC_VALUE:
        return VIO_MMIO_MAGIC;
    case VIO_MMIO_VERSION:
        return VIO_MMIO_VERSION_MODERN;
    case VIO_MMIO_DEVICE_ID:
        return dev->present ? dev->device_id : 0;
    case VIO_MMIO_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR_ID;
    }
    if (!dev->present) {
        return 0;
    }
    switch (offset) {
    case VIO_MMIO_DEVICE_FEATURES:
        return dev->device_features_sel < 2 ? (uint32_t)(dev->device_features >> (32 * dev->device_features_sel)) : 0;
    case VIO_MMIO_QUEUE_NUM_MAX:
        return q != NULL ? q->max_num : 0;
    case VIO_MMIO_QUEUE_READY:
        return q != NULL ? q->ready : 0;
    case VIO_MMIO_INTERRUPT_STATUS:
        return dev->interrupt_status;
    case VIO_MMIO_STATUS:
        return dev->status;
    case VIO_MMIO_CONFIG_GENERATION:
        return dev->config_generation;
    case VIO_MMIO_SHM_LEN_LOW:
    case VIO_MMIO_SHM_LEN_HIGH:
    case VIO_MMIO_SHM_BASE_LOW:
    case VIO_MMIO_SHM_BASE_HIGH:
        return 0xffffffffu; /* no shared memory regions: length (and base) -1 */
    default:
        return 0; /* write-only and reserved registers */
    }
}

static void reg_write(struct virtio_mmio_device *dev, uint32_t offset, uint32_t value)
{
    if (!dev->present) {
        return;
    }
    switch (offset) {
    case VIO_MMIO_DEVICE_FEATURES_SEL:
        dev->device_features_sel = value;
        break;
    case VIO_MMIO_DRIVER_FEATURES:
        driver_features_write(dev, value);
        break;
    case VIO_MMIO_DRIVER_FEATURES_SEL:
        dev->driver_features_sel = value;
        break;
    case VIO_MMIO_QUEUE_SEL:
        dev->queue_sel = value;
        break;
    case VIO_MMIO_QUEUE_NUM:
    case VIO_MMIO_QUEUE_DESC_LOW:
    case VIO_MMIO_QUEUE_DESC_HIGH:
    case VIO_MMIO_QUEUE_DRIVER_LOW:
    case VIO_MMIO_QUEUE_DRIVER_HIGH:
    case VIO_MMIO_QUEUE_DEVICE_LOW:
    case VIO_MMIO_QUEUE_DEVICE_HIGH:
        queue_config_write(dev, offset, value);
        break;
    case VIO_MMIO_QUEUE_READY:
        queue_ready_write(dev, value);
        break;
    case VIO_MMIO_QUEUE_NOTIFY:
        queue_notify_write(dev, value);
        break;
    case VIO_MMIO_INTERRUPT_ACK:
        dev->interrupt_status &= ~value;
        break;
    case VIO_MMIO_STATUS:
        status_write(dev, value);
        break;
    case VIO_MMIO_SHM_SEL:
        dev->shm_sel = value;
        break;
    default:
        DEV_LOG(dev, LOG_LEVEL_DEBUG, "write to read-only or reserved register 0x%03x ignored", offset);
        break;
    }
}

/* 4.2.2.2: config space takes 8-, 16- and 32-bit accesses aligned to their size. */
static void config_access(struct virtio_mmio_device *dev, struct mmio_access *a)
{
    uint64_t off = a->offset - VIO_MMIO_CONFIG;
    unsigned w = a->width;
    if (!dev->present || w > 4 || (off & (w - 1)) != 0 || off + w > dev->config_size) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "%u-byte config access at 0x%llx ignored", w, (unsigned long long)a->offset);
        dev->guest_errors++;
        a->value = 0;
        return;
    }
    if (a->is_write) {
        if (dev->ops->config_write != NULL) {
            dev->ops->config_write(dev, (uint32_t)off, w, (uint32_t)a->value);
        }
        return;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < w; i++) {
        v |= (uint32_t)dev->config[off + i] << (8 * i);
    }
    a->value = v;
}

static bool mmio_handler(size_t vcpu, struct mmio_access *a, void *cookie)
{
    struct virtio_mmio_device *dev = cookie;
    (void)vcpu;
    if (a->offset >= VIO_MMIO_CONFIG) {
        config_access(dev, a);
    } else if (a->width != 4 || (a->offset & 3) != 0) {
        DEV_LOG(dev, LOG_LEVEL_WARN, "%u-byte %s at register 0x%03llx ignored (32-bit only)", a->width,
                a->is_write ? "write" : "read", (unsigned long long)a->offset);
        dev->guest_errors++;
        a->value = 0;
    } else if (a->is_write) {
        reg_write(dev, (uint32_t)a->offset, (uint32_t)a->value);
    } else {
        a->value = reg_read(dev, (uint32_t)a->offset);
    }
    virtio_mmio_run_deferred(dev);
    return true;
}

static bool irq_ready(size_t vcpu, int irq)
{
    if (irq < FIRST_SPI) {
        LOG_ERR("IRQ %d is not an SPI", irq);
        return false;
    }
    return vgic_irq_registered(vcpu, (unsigned)irq) || virq_register(vcpu, (size_t)irq, NULL, NULL);
}

bool virtio_mmio_register(struct virtio_mmio_device *dev, const struct virtio_mmio_params *p, uint64_t gpa, size_t vcpu,
                          int irq, microkit_channel ch, bool present)
{
    if (p->num_queues == 0 || p->num_queues > VIRTIO_MMIO_MAX_QUEUES || p->config_size > VIRTIO_MMIO_CONFIG_MAX) {
        LOG_ERR("%s: bad device description", p->name);
        return false;
    }
    if ((gpa & (VIRTIO_MMIO_REGION_SIZE - 1)) != 0) {
        LOG_ERR("%s: GPA 0x%llx is not 0x%x aligned", p->name, (unsigned long long)gpa, VIRTIO_MMIO_REGION_SIZE);
        return false;
    }
    if (ch > MICROKIT_MAX_CHANNEL_ID) {
        LOG_ERR("%s: channel %u out of range (0..%d)", p->name, ch, MICROKIT_MAX_CHANNEL_ID);
        return false;
    }
    if (!guest_vcpu_valid(vcpu)) {
        LOG_ERR("%s: vCPU %zu is not configured (%zu vCPUs)", p->name, vcpu, guest_num_vcpus());
        return false;
    }
    dev->ops = p->ops;
    dev->name = p->name;
    dev->gpa = gpa;
    dev->vcpu = vcpu;
    dev->irq = irq;
    dev->ch = ch;
    dev->present = present;
    dev->device_id = p->device_id;
    dev->device_features = p->features | VIO_BIT(VIO_F_VERSION_1);
    dev->num_queues = p->num_queues;
    dev->config_size = p->config_size;
    dev->config_generation = 0;
    dev->guest_errors = 0;
    for (uint16_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
        vqueue_reset(&dev->queues[i], p->queue_max);
    }
    virtio_mmio_reset(dev);
    if (!irq_ready(vcpu, irq) || !mmio_register(gpa, VIRTIO_MMIO_REGION_SIZE, mmio_handler, dev)) {
        return false;
    }
    /* Only a registered device joins the reset list: a refused one may be reused or go out of scope. */
    if (!track_device(dev)) {
        mmio_unregister(gpa);
        return false;
    }
    if (!present) {
        LOG_WARN("%s@0x%llx: no usable backend; the guest sees no device here", p->name, (unsigned long long)gpa);
    }
    return true;
}
