/*
 * The system description of a guest that is not the machine's first: the
 * second VMM program of `make run GUESTS=2` (mk/examples.mk). The PL011
 * belongs to the first guest, so this one has no UART and its console is a
 * virtio console (the guest's hvc0) in virtio-mmio slot 0, served by hyp's
 * console backend on channel 4: the next of QEMU's virtconsoles on the
 * command line that an earlier program's backend did not take. Otherwise as
 * system.c: guest RAM mapped into the VMM (setvar guest_ram_vaddr) and into
 * the VM at GUEST_RAM_BASE, the GICv2 virtual CPU interface at the guest's
 * GICC address (skipped by hyp on GICv3), the distributor left to the VMM.
 * Its PD has its own physical CPUs, EL2 table, stage 2 and VMID (hyp/README.md).
 */
#include <hyp/system.h>

extern uintptr_t guest_ram_vaddr;
extern uintptr_t console_shq_vaddr;

/* The same VMM addresses as the first guest's VMM: each PD has its own EL2 table. */
#define GUEST_RAM_VMM_VADDR 0x2000000000ull
#define GUEST_GICC_GPA 0x08010000
#define CONSOLE_CHANNEL 4
#define SHQ_VMM_VADDR 0x3000000000ull

#ifndef GUEST_PD_NAME
#define GUEST_PD_NAME "vmm1"
#endif
#ifndef GUEST_NUM_VCPUS
#define GUEST_NUM_VCPUS 1
#endif

static const struct hyp_memory_region regions[] = {
    {.name = "guest_ram", .size = GUEST_RAM_SIZE, .source = HYP_MR_ALLOCATE},
    {.name = "gic_vcpu", .size = 0x2000, .source = HYP_MR_PLATFORM_GICV},
    {.name = "console_shq", .size = SHQ_REGION_MIN_SIZE, .source = HYP_MR_ALLOCATE},
};

static const struct hyp_vmm_map vmm_maps[] = {
    {.mr = &regions[0],
     .vaddr = GUEST_RAM_VMM_VADDR,
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &guest_ram_vaddr},
    {.mr = &regions[2],
     .vaddr = SHQ_VMM_VADDR,
     .perms = HYP_PERM_RW,
     .cached = true,
     .setvar_vaddr = &console_shq_vaddr},
};

static const struct hyp_vm_map vm_maps[] = {
    {.mr = &regions[0], .guest_addr = GUEST_RAM_BASE, .perms = HYP_PERM_RWX, .cached = true},
    {.mr = &regions[1], .guest_addr = GUEST_GICC_GPA, .perms = HYP_PERM_RW, .cached = false},
};

static const struct hyp_vm vm = {
    .name = "linux", .num_vcpus = GUEST_NUM_VCPUS, .maps = vm_maps, .num_maps = HYP_ARRAY_SIZE(vm_maps)};

static const struct hyp_pd pds[] = {{
    .name = GUEST_PD_NAME,
    .init = init,
    .notified = notified,
    .fault = fault,
    .maps = vmm_maps,
    .num_maps = HYP_ARRAY_SIZE(vmm_maps),
    .vm = &vm,
}};

static const struct hyp_backend backends[] = {
    {.kind = SHQ_KIND_CONSOLE, .match = NULL, .mr = &regions[2], .pd = 0, .id = CONSOLE_CHANNEL},
};

const struct hyp_system hyp_system = {
    .regions = regions,
    .num_regions = HYP_ARRAY_SIZE(regions),
    .pds = pds,
    .num_pds = 1,
    .backends = backends,
    .num_backends = HYP_ARRAY_SIZE(backends),
};
