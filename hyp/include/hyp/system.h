/*
 * The system description: hyp's analogue of a Microkit System Description
 * File (ABI reference 1.4). A VMM program provides it as constant C data
 * named `hyp_system`; hyp validates it at boot (and panics with a clear
 * message on nonsense), allocates and zero-fills RAM for the regions that ask
 * for it, maps the regions into the VMM's EL2 address space and into the
 * guest's stage-2, and patches the setvar variables, as the Microkit tool
 * and the capDL initialiser do.
 *
 * Example (the shape of libvmm's simple.system on QEMU virt):
 *
 *   uintptr_t guest_ram_vaddr;
 *   static const struct hyp_memory_region regions[] = {
 *       {.name = "guest_ram", .size = 0x10000000, .source = HYP_MR_ALLOCATE},
 *       {.name = "uart", .size = 0x1000, .source = HYP_MR_PLATFORM_UART},
 *       {.name = "gic_vcpu", .size = 0x2000, .source = HYP_MR_PLATFORM_GICV},
 *   };
 *   static const struct hyp_vmm_map vmm_maps[] = {
 *       {.mr = &regions[0], .vaddr = 0x2000000000, .perms = HYP_PERM_RW, .cached = true,
 *        .setvar_vaddr = &guest_ram_vaddr},
 *   };
 *   static const struct hyp_vm_map vm_maps[] = {
 *       {.mr = &regions[0], .guest_addr = 0x40000000, .perms = HYP_PERM_RWX, .cached = true},
 *       {.mr = &regions[1], .guest_addr = 0x09000000, .perms = HYP_PERM_RW, .cached = false},
 *       {.mr = &regions[2], .guest_addr = 0x08010000, .perms = HYP_PERM_RW, .cached = false},
 *   };
 *   static const struct hyp_vm vm = {.name = "linux", .num_vcpus = 1, .maps = vm_maps, .num_maps = 3};
 *   static const struct hyp_irq irqs[] = {{.irq = 33, .id = 1, .trigger = HYP_IRQ_LEVEL}};
 *   static const struct hyp_pd pds[] = {{.name = "VMM", .init = init, .notified = notified, .fault = fault,
 *       .maps = vmm_maps, .num_maps = 1, .irqs = irqs, .num_irqs = 1, .vm = &vm}};
 *   const struct hyp_system hyp_system = {.regions = regions, .num_regions = 3, .pds = pds, .num_pds = 1};
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>

/* Where a memory region's frames come from (SDF <memory_region phys_addr=...>). */
enum hyp_mr_source {
    HYP_MR_ALLOCATE = 0, /* zero-filled RAM allocated by hyp, 2 MiB aligned */
    HYP_MR_FIXED_PA, /* the physical address in `phys_addr` (a device, usually) */
    HYP_MR_PLATFORM_GICV, /* the GICv2 virtual CPU interface (GICV) found in the DTB */
    HYP_MR_PLATFORM_UART, /* the PL011 console found in the DTB */
};

struct hyp_memory_region {
    const char *name;
    uint64_t size; /* multiple of 4 KiB */
    enum hyp_mr_source source;
    uint64_t phys_addr; /* HYP_MR_FIXED_PA only; 4 KiB aligned */
};

/* Mapping permissions (SDF perms="rwx"); "w" without "r" is rejected as by the Microkit tool. */
#define HYP_PERM_R 0x1u
#define HYP_PERM_W 0x2u
#define HYP_PERM_X 0x4u
#define HYP_PERM_RW (HYP_PERM_R | HYP_PERM_W)
#define HYP_PERM_RX (HYP_PERM_R | HYP_PERM_X)
#define HYP_PERM_RWX (HYP_PERM_R | HYP_PERM_W | HYP_PERM_X)

/* A region mapped into the VMM (SDF <map> inside <protection_domain>). */
struct hyp_vmm_map {
    const struct hyp_memory_region *mr;
    uintptr_t vaddr; /* VMM virtual address, 4 KiB aligned, below 2^39 */
    unsigned perms;
    bool cached; /* false: Device-nGnRnE */
    uintptr_t *setvar_vaddr; /* optional: receives `vaddr` before init() (SDF setvar_vaddr) */
};

/* A region mapped into the guest (SDF <map> inside <virtual_machine>; vaddr is the IPA). */
struct hyp_vm_map {
    const struct hyp_memory_region *mr;
    uint64_t guest_addr; /* IPA, 4 KiB aligned, below 2^40 */
    unsigned perms;
    bool cached;
};

/* SDF <virtual_machine>: vCPU ids are 0 .. num_vcpus-1; each vCPU gets its own physical CPU. */
struct hyp_vm {
    const char *name;
    unsigned num_vcpus;
    const struct hyp_vm_map *maps;
    size_t num_maps;
};

enum hyp_irq_trigger {
    HYP_IRQ_LEVEL = 0,
    HYP_IRQ_EDGE = 1,
};

/* SDF <irq irq="N" id="ch" trigger=...>: hardware INTID `irq` delivered as notification bit `id`. */
struct hyp_irq {
    uint32_t irq; /* SPI INTID, 32 .. 1019 */
    microkit_channel id;
    enum hyp_irq_trigger trigger;
};

/* SDF <protection_domain>. Entry points are plain function pointers (NULL = Microkit's weak default). */
struct hyp_pd {
    const char *name; /* copied into microkit_name (at most 63 characters kept) */
    void (*init)(void);
    void (*notified)(microkit_channel ch);
    seL4_Bool (*fault)(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo);
    const struct hyp_vmm_map *maps;
    size_t num_maps;
    const struct hyp_irq *irqs;
    size_t num_irqs;
    const struct hyp_vm *vm; /* NULL: no virtual machine */
    bool smc; /* SDF smc="true": seL4_ARM_SMC_Call allowed (forwarded to the platform's PSCI conduit) */
};

/* SDF <channel>: end a (pd_a, id_a) <-> end b (pd_b, id_b); both ends may notify. */
struct hyp_channel {
    unsigned pd_a;
    microkit_channel id_a;
    unsigned pd_b;
    microkit_channel id_b;
};

struct hyp_system {
    const struct hyp_memory_region *regions;
    size_t num_regions;
    const struct hyp_pd *pds; /* this version runs exactly one PD */
    size_t num_pds;
    const struct hyp_channel *channels;
    size_t num_channels;
};

#define HYP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Provided by the VMM program. */
extern const struct hyp_system hyp_system;
