/*
 * The main job's system description for hyp: the equivalent of the Microkit
 * SDF that libvmm's QEMU examples use (ABI reference 1.4): guest RAM mapped
 * into the VMM (setvar guest_ram_vaddr) and into the VM at GUEST_RAM_BASE,
 * the PL011 passed through, the GICv2 virtual CPU interface at the guest's
 * GICC address, the distributor left unmapped so it traps to the VMM, and
 * the PL011 interrupt (INTID 33) on channel 1, and one shared-queue region
 * and channel per virtio device, served by hyp's drivers for QEMU's own
 * virtio devices (<libvmm/shq.h>): the disk with serial libvmm-disk0 on
 * channel 2, the first network device on 3, the first console on 4.
 */
#include <hyp/system.h>

extern uintptr_t guest_ram_vaddr;
extern uintptr_t blk_shq_vaddr, net_shq_vaddr, console_shq_vaddr;

/* VMM-virtual address of guest RAM: deliberately neither its GPA nor its PA. */
#define GUEST_RAM_VMM_VADDR 0x2000000000ull
#define GUEST_GICC_GPA 0x08010000
#define GUEST_UART_GPA 0x09000000
#define UART_IRQ 33
#define UART_CHANNEL 1
#define BLK_CHANNEL 2
#define NET_CHANNEL 3
#define CONSOLE_CHANNEL 4
#define SHQ_VMM_VADDR(n) (0x3000000000ull + (n) * (uint64_t)SHQ_REGION_MIN_SIZE)

static const struct hyp_memory_region regions[] = {
    {.name = "guest_ram", .size = GUEST_RAM_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "uart", .size = 0x1000, .source = HYP_MR_PLATFORM_UART},
    {.name = "gic_vcpu", .size = 0x2000, .source = HYP_MR_PLATFORM_GICV},
    {.name = "blk_shq", .size = SHQ_REGION_MIN_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "net_shq", .size = SHQ_REGION_MIN_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "console_shq", .size = SHQ_REGION_MIN_SIZE, .source = HYP_MR_ALLOCATE},
};

static const struct hyp_vmm_map vmm_maps[] = {
    {.mr = &regions[0],
     .vaddr = GUEST_RAM_VMM_VADDR,
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &guest_ram_vaddr},
    {.mr = &regions[3],
     .vaddr = SHQ_VMM_VADDR(0),
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &blk_shq_vaddr},
    {.mr = &regions[4],
     .vaddr = SHQ_VMM_VADDR(1),
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &net_shq_vaddr},
    {.mr = &regions[5],
     .vaddr = SHQ_VMM_VADDR(2),
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &console_shq_vaddr},
};

static const struct hyp_vm_map vm_maps[] = {
    {.mr = &regions[0], .guest_addr = GUEST_RAM_BASE, .perms = HYP_PERM_RWX, .cached = true},
    {.mr = &regions[1], .guest_addr = GUEST_UART_GPA, .perms = HYP_PERM_RW, .cached = false},
    {.mr = &regions[2], .guest_addr = GUEST_GICC_GPA, .perms = HYP_PERM_RW, .cached = false},
};

static const struct hyp_vm vm = {.name = "linux", .num_vcpus = 1, .maps = vm_maps, .num_maps = 3};

static const struct hyp_irq irqs[] = {{.irq = UART_IRQ, .id = UART_CHANNEL, .trigger = HYP_IRQ_LEVEL}};

static const struct hyp_pd pds[] = {{
    .name = "vmm",
    .init = init,
    .notified = notified,
    .fault = fault,
    .maps = vmm_maps,
    .num_maps = HYP_ARRAY_SIZE(vmm_maps),
    .irqs = irqs,
    .num_irqs = 1,
    .vm = &vm,
}};

static const struct hyp_backend backends[] = {
    {.kind = SHQ_KIND_BLK, .match = "libvmm-disk0", .mr = &regions[3], .pd = 0, .id = BLK_CHANNEL},
    {.kind = SHQ_KIND_NET, .match = NULL, .mr = &regions[4], .pd = 0, .id = NET_CHANNEL},
    {.kind = SHQ_KIND_CONSOLE, .match = NULL, .mr = &regions[5], .pd = 0, .id = CONSOLE_CHANNEL},
};

const struct hyp_system hyp_system = {
    .regions = regions,
    .num_regions = HYP_ARRAY_SIZE(regions),
    .pds = pds,
    .num_pds = 1,
    .backends = backends,
    .num_backends = HYP_ARRAY_SIZE(backends),
};
