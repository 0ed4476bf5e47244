/*
 * The main job: a VMM that boots one guest, either an arm64 Linux Image or a
 * raw binary (as QEMU's -kernel does), using only the public libvmm API.
 *
 * The guest's memory map (RAM, DTB and initrd addresses) comes from the build
 * (mk/guest.mk) so that it matches the guest device tree; the images are
 * linked into this program (images.S), as Microkit VMMs do.
 *
 * Which devices the guest gets is the build's choice too (mk/examples.mk):
 * by default the PL011 (passed through) and virtio blk, net and console in
 * slots 0, 1, 2 (system.c). A second guest on the same machine (make run
 * GUESTS=2) cannot have the PL011: it is built with GUEST_UART=0 and only a
 * virtio console in slot 0 (system_console.c), its console being hvc0.
 */
#include <stdint.h>
#include <string.h>
#include <microkit.h>
#include <libvmm/libvmm.h>
#include "platform.h"

#define BOOT_VCPU 0
#ifndef GUEST_NUM_VCPUS
#define GUEST_NUM_VCPUS 1 /* the build passes SMP (mk/examples.mk): vCPUs 0..n-1, as in the guest DT */
#endif
#define GICD_GPA 0x08000000
#define GICR_GPA 0x080a0000 /* GICv3 redistributors, 128 KiB per vCPU (QEMU virt layout) */
#define UART_IRQ 33
#define UART_CHANNEL 1
#ifndef GUEST_UART
#define GUEST_UART 1 /* the PL011 passed through (one guest of a machine at most) */
#endif

/*
 * virtio-mmio devices the guest DT lists (examples/linux/guest/gen-dts.sh
 * --virtio N): slot i at 0x0a000000 + i * 0x200, INTID 48 + i. Each is backed
 * by a shared-queue region and channel from the system description; a device
 * whose backend is absent reads DeviceID 0 and the guest skips it. A slot
 * of -1 leaves that device out.
 */
#define VIRTIO_GPA(slot) (0x0a000000ull + (slot)*0x200ull)
#define VIRTIO_IRQ(slot) (48 + (slot))
#ifndef GUEST_BLK_SLOT
#define GUEST_BLK_SLOT 0
#endif
#ifndef GUEST_NET_SLOT
#define GUEST_NET_SLOT 1
#endif
#ifndef GUEST_CONSOLE_SLOT
#define GUEST_CONSOLE_SLOT 2
#endif
#define BLK_CHANNEL 2
#define NET_CHANNEL 3
#define CONSOLE_CHANNEL 4

/* Filled in from the system description (Microkit setvar_vaddr). */
uintptr_t guest_ram_vaddr;
uintptr_t blk_shq_vaddr;
uintptr_t net_shq_vaddr;
uintptr_t console_shq_vaddr;

static struct virtio_blk_device blk;
static struct virtio_net_device net;
static struct virtio_console_device console;

extern const char _guest_kernel_image[], _guest_kernel_image_end[];
extern const char _guest_dtb_image[], _guest_dtb_image_end[];
extern const char _guest_initrd_image[], _guest_initrd_image_end[];

static bool is_linux_image(const char *image, size_t size)
{
    /* booting.rst: the magic "ARM\x64" sits at offset 0x38 of the header. */
    return size >= 64 && memcmp(image + 0x38, "ARM\x64", 4) == 0;
}

static void on_power_event(enum guest_power_event event, void *cookie)
{
    (void)cookie;
    if (event == GUEST_POWER_OFF) {
        LOG_INFO("guest powered off");
        platform_power_off();
    } else {
        LOG_INFO("guest rebooted");
    }
}

/*
 * Reset hook, run by every guest_restart() after the devices' own (they
 * registered theirs first, in virtio_*_init): the occupancy of the devices'
 * fixed pools, then the platform's. A soak test compares these lines across
 * reboots (tests/system/test_reboot_soak.py). Backend requests the reset
 * orphaned still count here; they drain when their late answers arrive.
 */
static void report_pools(void *cookie)
{
    static unsigned long resets;
    struct virtio_pool_usage usage;
    char blk_text[64], net_text[48], console_text[48];
    (void)cookie;
    virtio_blk_pool_usage(&blk, &usage);
    virtio_pool_usage_format(&usage, blk_text, sizeof(blk_text));
    virtio_net_pool_usage(&net, &usage);
    virtio_pool_usage_format(&usage, net_text, sizeof(net_text));
    virtio_console_pool_usage(&console, &usage);
    virtio_pool_usage_format(&usage, console_text, sizeof(console_text));
    LOG_INFO("pools after reset %lu: %s %s %s", ++resets, blk_text, net_text, console_text);
    platform_report_pools();
}

static uintptr_t load_images(void)
{
    size_t kernel_size = (size_t)(_guest_kernel_image_end - _guest_kernel_image);
    size_t dtb_size = (size_t)(_guest_dtb_image_end - _guest_dtb_image);
    size_t initrd_size = (size_t)(_guest_initrd_image_end - _guest_initrd_image);
    bool is_linux = is_linux_image(_guest_kernel_image, kernel_size);

    LOG_INFO("loading %s kernel (%zu bytes), DTB (%zu bytes), initrd (%zu bytes)", is_linux ? "Linux" : "raw",
             kernel_size, dtb_size, initrd_size);
    if (is_linux) {
        return linux_setup_images(guest_ram_vaddr, (uintptr_t)_guest_kernel_image, kernel_size,
                                  (uintptr_t)_guest_dtb_image, GUEST_DTB_ADDR, dtb_size, (uintptr_t)_guest_initrd_image,
                                  GUEST_INITRD_ADDR, initrd_size);
    }
    return raw_setup_images(guest_ram_vaddr, (uintptr_t)_guest_kernel_image, kernel_size, (uintptr_t)_guest_dtb_image,
                            GUEST_DTB_ADDR, dtb_size, (uintptr_t)_guest_initrd_image, GUEST_INITRD_ADDR, initrd_size);
}

void init(void)
{
    const struct guest_config config = {
        .num_vcpus = GUEST_NUM_VCPUS,
        .num_ram_regions = 1,
        .ram = {{.gpa = GUEST_RAM_BASE, .size = GUEST_RAM_SIZE, .vmm_vaddr = guest_ram_vaddr}},
        .gic_version = GUEST_GIC_VERSION,
        .gicd_gpa = GICD_GPA,
        .gicr_gpa = GICR_GPA,
    };

    if (!guest_init(&config)) {
        platform_fail("guest configuration refused");
        return;
    }
    uintptr_t entry = load_images();
    if (entry == LOADER_FAILED) {
        platform_fail("guest images could not be loaded");
        return;
    }
    if (!virq_controller_init(BOOT_VCPU) ||
        (GUEST_UART && !virq_register_passthrough(BOOT_VCPU, UART_IRQ, UART_CHANNEL))) {
        platform_fail("virtual interrupt controller setup failed");
        return;
    }
    if ((GUEST_BLK_SLOT >= 0 &&
         !virtio_blk_init(&blk, VIRTIO_GPA(GUEST_BLK_SLOT), BOOT_VCPU, VIRTIO_IRQ(GUEST_BLK_SLOT),
                          (void *)blk_shq_vaddr, SHQ_REGION_MIN_SIZE, BLK_CHANNEL)) ||
        (GUEST_NET_SLOT >= 0 &&
         !virtio_net_init(&net, VIRTIO_GPA(GUEST_NET_SLOT), BOOT_VCPU, VIRTIO_IRQ(GUEST_NET_SLOT),
                          (void *)net_shq_vaddr, SHQ_REGION_MIN_SIZE, NET_CHANNEL)) ||
        (GUEST_CONSOLE_SLOT >= 0 &&
         !virtio_console_init(&console, VIRTIO_GPA(GUEST_CONSOLE_SLOT), BOOT_VCPU, VIRTIO_IRQ(GUEST_CONSOLE_SLOT),
                              (void *)console_shq_vaddr, SHQ_REGION_MIN_SIZE, CONSOLE_CHANNEL))) {
        platform_fail("virtio device setup failed");
        return;
    }
    if (!guest_register_reset_hook(report_pools, NULL)) {
        LOG_WARN("no room for the pool report hook: reboots are not reported");
    }
    guest_set_power_handler(on_power_event, NULL);
    if (!guest_start(BOOT_VCPU, entry, GUEST_DTB_ADDR, GUEST_INITRD_ADDR)) {
        platform_fail("guest did not start");
    }
}

void notified(microkit_channel ch)
{
    switch (ch) {
    case BLK_CHANNEL:
        virtio_blk_handle_notification(&blk);
        break;
    case NET_CHANNEL:
        virtio_net_handle_notification(&net);
        break;
    case CONSOLE_CHANNEL:
        virtio_console_handle_notification(&console);
        break;
    default:
        if (!virq_handle_passthrough(ch)) {
            LOG_WARN("notification on unexpected channel %u", ch);
        }
        break;
    }
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    return fault_handle(child, msginfo, reply_msginfo);
}
