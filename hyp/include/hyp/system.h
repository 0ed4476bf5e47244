/*
 * The system description: hyp's analogue of a Microkit System Description
 * File (ABI reference 1.4), one per VMM program (one PD each; hyp runs every
 * program linked into its image, see hyp/README.md "Several PDs"). A VMM
 * program provides it as constant C data named `hyp_system`; hyp validates
 * it at boot (and panics with a clear message on nonsense), allocates and
 * zero-fills RAM for the regions that ask for it, maps the regions into the
 * PD's EL2 address space and into its guest's stage-2, and patches the setvar
 * variables, as the Microkit tool and the capDL initialiser do.
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
 *
 * A disk served by hyp's virtio-blk backend (struct hyp_backend below) adds a region, its VMM map and:
 *
 *   {.name = "disk0_shq", .size = SHQ_REGION_MIN_SIZE, .source = HYP_MR_ALLOCATE},        // regions[3]
 *   {.mr = &regions[3], .vaddr = 0x3000000000, .perms = HYP_PERM_RW, .cached = true,
 *    .setvar_vaddr = &disk0_shq_vaddr},                                                  // in vmm_maps
 *   static const struct hyp_backend backends[] = {
 *       {.kind = SHQ_KIND_BLK, .match = "rootdisk", .mr = &regions[3], .pd = 0, .id = 2}};
 *   ... .backends = backends, .num_backends = 1 in hyp_system
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>
#include <libvmm/shq.h>

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

/*
 * A device backend (no SDF equivalent: on seL4 this is an sDDF driver or virtualiser PD). hyp drives
 * one of QEMU's virtio-mmio devices itself and serves it to PD `pd` through the shared queues of
 * <libvmm/shq.h> in region `mr` and that PD's channel `id`:
 *  - `mr`: HYP_MR_ALLOCATE, at least SHQ_REGION_MIN_SIZE and at most 4 GiB, mapped read-write and
 *    cached into PD `pd` by one of its VMM maps (whose setvar_vaddr tells the VMM where it is); hyp
 *    maps it for itself too and hands the data area's physical addresses to the device (zero copy).
 *  - `id`: a channel of PD `pd` used by nothing else. microkit_notify(id) reaches the backend; the
 *    backend's notifications arrive as notified(id). The backend is served from hyp's event loop like
 *    a higher-priority PD: after the PD's entry point returns, before the guest resumes.
 *  - Before init(), hyp fills the region's struct shq_header (config from the real device, ring
 *    capacities) and sets `ready`; `ready` stays 0 when QEMU has no matching device (logged at info).
 *  - `match` picks the device:
 *      SHQ_KIND_BLK      the disk's serial, at most 20 characters (-device virtio-blk-device,serial=NAME,
 *                        read with virtio-blk GET_ID, so disks bind correctly whatever their slot)
 *      SHQ_KIND_NET      the MAC address, "52:54:00:12:34:56" (-device virtio-net-device,mac=...)
 *      SHQ_KIND_CONSOLE  NULL (a -device virtio-serial-device with a virtconsole at port 0)
 *    NULL: the next device of that kind that no explicit match claimed, in QEMU command-line order
 *    (QEMU 7.2 puts the first -device in the highest virtio-mmio slot).
 * QEMU must run with -global virtio-mmio.force-legacy=false: legacy devices are refused.
 */
struct hyp_backend {
    enum shq_kind kind;
    const char *match;
    const struct hyp_memory_region *mr;
    unsigned pd;
    microkit_channel id;
};

struct hyp_system {
    const struct hyp_memory_region *regions;
    size_t num_regions;
    const struct hyp_pd *pds; /* exactly one: the program's own PD (several PDs = several programs) */
    size_t num_pds;
    const struct hyp_channel *channels;
    size_t num_channels;
    const struct hyp_backend *backends;
    size_t num_backends;
};

#define HYP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Provided by each VMM program, local to it (mk/hyp.mk hyp_program): hyp finds it through the
 * program's record in .hyp_programs (hyp/program.h), so several programs can each define one.
 */
extern const struct hyp_system hyp_system;
