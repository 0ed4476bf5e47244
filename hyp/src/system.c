/*
 * Bring the system description (hyp/system.h) to life, as the Microkit tool
 * and the capDL initialiser do for an SDF: validate it, allocate and zero
 * RAM for the regions that ask for it, map regions into the EL2 address
 * space (VMM maps) and into the guest's stage 2 (VM maps), patch setvars,
 * create the PD, its channels, IRQs and vCPUs, and bring up the device
 * backends (backend.c) before the PD's init() runs.
 */
#include <string.h>
#include <hyp/arch.h>
#include <hyp/backend.h>
#include <hyp/cpu.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/mmu.h>
#include <hyp/pd.h>
#include <hyp/platform.h>
#include <hyp/stage2.h>
#include <hyp/system.h>
#include <hyp/vcpu.h>
#include <hyp/setup.h>

#define MAX_REGIONS 64
#define SZ_2M 0x200000ull
#define SZ_4K 0x1000ull
/* EL2 window used once at boot to zero allocated regions; VMM maps may not use it. */
#define ZERO_WINDOW_VA 0x7000000000ull

extern char _start[], __text_end[], __rodata_end[], __data_start[], _end[];

static uint64_t region_pa[MAX_REGIONS];

struct range {
    uint64_t base, size;
    const char *what;
};

/* Zero Normal memory with DC ZVA (Arm ARM C5.3.x; DCZID_EL0 gives the block size). */
static void zero_normal_memory(uintptr_t va, uint64_t size)
{
    uint64_t dczid = sysreg_read(dczid_el0);
    uint64_t block = 4ull << (dczid & 0xf);
    if ((dczid & 0x10) || (va | size) & (block - 1)) {
        memset((void *)va, 0, size);
        return;
    }
    for (uintptr_t a = va; a < va + size; a += block) {
        __asm__ volatile("dc zva, %0" ::"r"(a) : "memory");
    }
    dsb(ish);
}

uint64_t system_region_pa(const struct hyp_memory_region *mr)
{
    return region_pa[mr - hyp_system.regions];
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static unsigned region_index(const struct hyp_memory_region *mr, const char *who)
{
    const struct hyp_memory_region *r = hyp_system.regions;
    if (!mr || mr < r || mr >= r + hyp_system.num_regions) {
        hyp_panic("system description: %s refers to a memory region not in hyp_system.regions", who);
    }
    return (unsigned)(mr - r);
}

static void check_perms(unsigned perms, const char *who)
{
    if (perms == 0 || (perms & ~HYP_PERM_RWX) || (perms & (HYP_PERM_R | HYP_PERM_W)) == HYP_PERM_W) {
        hyp_panic("system description: %s has invalid perms 0x%x", who, perms);
    }
}

/* Identity mappings hyp keeps for itself: VMM maps must stay clear of them. */
static unsigned reserved_ranges(struct range *r)
{
    unsigned n = 0;
    r[n++] = (struct range){platform.ram_base, align_up((uint64_t)(uintptr_t)_end, SZ_2M) - platform.ram_base,
                            "hyp image and DTB"};
    r[n++] = (struct range){platform.gicd_pa, platform.gicd_size, "GICD"};
    r[n++] = (struct range){platform.gicc_pa, platform.gicc_size, "GICC"};
    r[n++] = (struct range){platform.gich_pa, platform.gich_size, "GICH"};
    r[n++] = (struct range){platform.gicr_pa, platform.gicr_size, "GICR"};
    r[n++] = (struct range){platform.uart_pa & ~(SZ_4K - 1), SZ_4K, "UART"};
    r[n++] = (struct range){ZERO_WINDOW_VA, MMU_VA_LIMIT - ZERO_WINDOW_VA, "hyp's zeroing window"};
    if (hyp_system.num_backends) {
        uint64_t base, size;
        r[n++] = (struct range){BACKEND_WINDOW_VA, BACKEND_WINDOW_SIZE, "hyp's backend-region window"};
        backend_virtio_window(&base, &size);
        r[n++] = (struct range){base, size, "virtio-mmio registers"};
    }
    return n;
}

static void validate_regions(void)
{
    if (hyp_system.num_regions && !hyp_system.regions) {
        hyp_panic("system description: num_regions is %zu but regions is NULL", hyp_system.num_regions);
    }
    if (hyp_system.num_channels && !hyp_system.channels) {
        hyp_panic("system description: num_channels is %zu but channels is NULL", hyp_system.num_channels);
    }
    if (hyp_system.num_regions > MAX_REGIONS) {
        hyp_panic("system description: %zu memory regions (at most %d)", hyp_system.num_regions, MAX_REGIONS);
    }
    for (size_t i = 0; i < hyp_system.num_regions; i++) {
        const struct hyp_memory_region *r = &hyp_system.regions[i];
        const char *name = r->name ? r->name : "(unnamed)";
        if (!r->name || r->size == 0 || (r->size & (SZ_4K - 1))) {
            hyp_panic("system description: region '%s' needs a name and a non-zero size in 4 KiB pages", name);
        }
        switch (r->source) {
        case HYP_MR_ALLOCATE:
            break;
        case HYP_MR_FIXED_PA:
            if ((r->phys_addr & (SZ_4K - 1)) || r->phys_addr + r->size < r->phys_addr) {
                hyp_panic("system description: region '%s' has a bad phys_addr 0x%lx", name, r->phys_addr);
            }
            if (overlaps(r->phys_addr, r->size, platform.gicd_pa, platform.gicd_size) ||
                overlaps(r->phys_addr, r->size, platform.gicc_pa, platform.gicc_size) ||
                overlaps(r->phys_addr, r->size, platform.gich_pa, platform.gich_size) ||
                overlaps(r->phys_addr, r->size, platform.gicr_pa, platform.gicr_size)) {
                hyp_panic("system description: region '%s' at 0x%lx covers the GIC that hyp owns", name, r->phys_addr);
            }
            break;
        case HYP_MR_PLATFORM_GICV:
            /* GICv3 has no GICV: its VM maps are skipped (setup_vm), a VMM map is refused. */
            if (platform.gicv_pa && r->size > platform.gicv_size) {
                hyp_panic("system description: region '%s' (0x%lx bytes) is larger than GICV (0x%lx)", name, r->size,
                          platform.gicv_size);
            }
            break;
        case HYP_MR_PLATFORM_UART:
            if (r->size != SZ_4K) {
                hyp_panic("system description: UART region '%s' must be one 4 KiB page", name);
            }
            break;
        default:
            hyp_panic("system description: region '%s' has an unknown source %d", name, (int)r->source);
        }
        for (size_t j = 0; j < i; j++) {
            if (hyp_system.regions[j].name && strcmp(hyp_system.regions[j].name, r->name) == 0) {
                hyp_panic("system description: two regions are named '%s'", name);
            }
        }
    }
}

static void allocate_regions(void)
{
    uint64_t cursor = align_up((uint64_t)(uintptr_t)_end, SZ_2M);
    uint64_t ram_end = platform.ram_base + platform.ram_size;
    for (size_t i = 0; i < hyp_system.num_regions; i++) {
        const struct hyp_memory_region *r = &hyp_system.regions[i];
        switch (r->source) {
        case HYP_MR_ALLOCATE:
            region_pa[i] = align_up(cursor, SZ_2M);
            if (region_pa[i] + r->size > ram_end || region_pa[i] + r->size < region_pa[i]) {
                hyp_panic("system description: region '%s' (%lu MiB) does not fit in free RAM (0x%lx-0x%lx)", r->name,
                          r->size >> 20, region_pa[i], ram_end);
            }
            cursor = region_pa[i] + r->size;
            break;
        case HYP_MR_FIXED_PA:
            region_pa[i] = r->phys_addr;
            if (overlaps(r->phys_addr, r->size, platform.ram_base, platform.ram_size)) {
                hyp_panic("system description: fixed region '%s' at 0x%lx overlaps RAM hyp manages", r->name,
                          r->phys_addr);
            }
            break;
        case HYP_MR_PLATFORM_GICV:
            region_pa[i] = platform.gicv_pa;
            break;
        case HYP_MR_PLATFORM_UART:
            region_pa[i] = platform.uart_pa & ~(SZ_4K - 1);
            break;
        }
        if (r->source == HYP_MR_PLATFORM_GICV && !platform.gicv_pa) {
            LOG_INFO("region %-16s size 0x%08lx: no GICV on this GICv%u", r->name, r->size, platform.gic_version);
            continue;
        }
        LOG_INFO("region %-16s size 0x%08lx at PA 0x%lx", r->name, r->size, region_pa[i]);
    }
}

static void validate_vmm_maps(const struct hyp_pd *pd)
{
    if ((pd->num_maps && !pd->maps) || (pd->num_irqs && !pd->irqs)) {
        hyp_panic("system description: PD '%s' has a NULL maps or irqs array with a non-zero count", pd->name);
    }
    struct range reserved[12];
    unsigned nres = reserved_ranges(reserved);
    for (size_t i = 0; i < pd->num_maps; i++) {
        const struct hyp_vmm_map *m = &pd->maps[i];
        region_index(m->mr, "a VMM map");
        uint64_t size = m->mr->size;
        check_perms(m->perms, m->mr->name);
        if (m->mr->source == HYP_MR_PLATFORM_GICV && !platform.gicv_pa) {
            hyp_panic("system description: VMM map of '%s': this GICv%u has no GICV", m->mr->name,
                      platform.gic_version);
        }
        if ((m->vaddr & (SZ_4K - 1)) || m->vaddr + size > MMU_VA_LIMIT || m->vaddr + size < m->vaddr) {
            hyp_panic("system description: VMM map of '%s' at 0x%lx is unaligned or beyond the 2^%d VA limit",
                      m->mr->name, m->vaddr, MMU_VA_BITS);
        }
        for (unsigned k = 0; k < nres; k++) {
            if (overlaps(m->vaddr, size, reserved[k].base, reserved[k].size)) {
                hyp_panic("system description: VMM map of '%s' at 0x%lx overlaps %s (0x%lx-0x%lx)", m->mr->name,
                          m->vaddr, reserved[k].what, reserved[k].base, reserved[k].base + reserved[k].size);
            }
        }
        for (size_t j = 0; j < i; j++) {
            if (overlaps(m->vaddr, size, pd->maps[j].vaddr, pd->maps[j].mr->size)) {
                hyp_panic("system description: VMM maps of '%s' and '%s' overlap", m->mr->name, pd->maps[j].mr->name);
            }
        }
        if (m->setvar_vaddr && ((uintptr_t)m->setvar_vaddr < (uintptr_t)__data_start ||
                                (uintptr_t)(m->setvar_vaddr + 1) > (uintptr_t)_end)) {
            hyp_panic("system description: setvar_vaddr of '%s' does not point at a writable variable", m->mr->name);
        }
    }
}

static void validate_vm(const struct hyp_vm *vm)
{
    if (!vm->name || vm->num_vcpus == 0 || vm->num_vcpus > HYP_MAX_VCPUS || (vm->num_maps && !vm->maps)) {
        hyp_panic("system description: VM needs a name, 1..%d vCPUs and a maps array", HYP_MAX_VCPUS);
    }
    if (vm->num_vcpus > platform.num_cpus || vm->num_vcpus > HYP_MAX_CPUS) {
        hyp_panic("system description: VM '%s' has %u vCPUs but the machine has %u CPUs (one per vCPU; run QEMU "
                  "with -smp %u)",
                  vm->name, vm->num_vcpus, platform.num_cpus, vm->num_vcpus);
    }
    for (size_t i = 0; i < vm->num_maps; i++) {
        const struct hyp_vm_map *m = &vm->maps[i];
        region_index(m->mr, "a VM map");
        check_perms(m->perms, m->mr->name);
        uint64_t size = m->mr->size;
        if ((m->guest_addr & (SZ_4K - 1)) || m->guest_addr + size > (1ull << STAGE2_IPA_BITS) ||
            m->guest_addr + size < m->guest_addr) {
            hyp_panic("system description: VM map of '%s' at IPA 0x%lx is unaligned or beyond 2^%d", m->mr->name,
                      m->guest_addr, STAGE2_IPA_BITS);
        }
        for (size_t j = 0; j < i; j++) {
            if (overlaps(m->guest_addr, size, vm->maps[j].guest_addr, vm->maps[j].mr->size)) {
                hyp_panic("system description: VM maps of '%s' and '%s' overlap", m->mr->name, vm->maps[j].mr->name);
            }
        }
    }
}

static void setup_channels(struct pd *pd, const struct hyp_pd *desc)
{
    for (size_t i = 0; i < desc->num_irqs; i++) {
        const struct hyp_irq *irq = &desc->irqs[i];
        if (irq->id > MICROKIT_MAX_CHANNEL_ID || ((pd->irq_mask | pd->notify_mask) & (1ull << irq->id))) {
            hyp_panic("system description: IRQ %u uses bad or duplicate channel %u", irq->irq, irq->id);
        }
        if (irq->trigger != HYP_IRQ_LEVEL && irq->trigger != HYP_IRQ_EDGE) {
            hyp_panic("system description: IRQ %u has an unknown trigger", irq->irq);
        }
        pd->irq_mask |= 1ull << irq->id;
        pd->irq_of_channel[irq->id] = irq->irq;
        irq_bind_channel(irq->irq, pd, irq->id, irq->trigger == HYP_IRQ_EDGE);
    }
    for (size_t i = 0; i < hyp_system.num_channels; i++) {
        const struct hyp_channel *c = &hyp_system.channels[i];
        if (c->pd_a >= hyp_system.num_pds || c->pd_b >= hyp_system.num_pds || c->id_a > MICROKIT_MAX_CHANNEL_ID ||
            c->id_b > MICROKIT_MAX_CHANNEL_ID) {
            hyp_panic("system description: channel %zu has a bad end", i);
        }
        for (int end = 0; end < 2; end++) {
            unsigned me = end ? c->pd_b : c->pd_a, my_id = end ? c->id_b : c->id_a;
            unsigned peer = end ? c->pd_a : c->pd_b, peer_id = end ? c->id_a : c->id_b;
            if (me != pd->index) {
                continue;
            }
            if ((pd->irq_mask | pd->notify_mask) & (1ull << my_id)) {
                hyp_panic("system description: channel id %u used twice in PD '%s'", my_id, desc->name);
            }
            pd->notify_mask |= 1ull << my_id;
            pd->peer[my_id].pd = peer;
            pd->peer[my_id].id = peer_id;
        }
    }
    backend_claim_channels(pd);
}

static void map_regions(const struct hyp_pd *desc)
{
    mmu_map(platform.ram_base, platform.ram_base, (uint64_t)(uintptr_t)_start - platform.ram_base, HYP_PERM_R,
            MMU_NORMAL);
    mmu_map((uintptr_t)_start, (uintptr_t)_start, (uintptr_t)__text_end - (uintptr_t)_start, HYP_PERM_RX, MMU_NORMAL);
    mmu_map((uintptr_t)__text_end, (uintptr_t)__text_end, (uintptr_t)__rodata_end - (uintptr_t)__text_end, HYP_PERM_R,
            MMU_NORMAL);
    /* Data and bss, leaving each CPU stack's guard page unmapped. */
    uintptr_t rw = (uintptr_t)__rodata_end;
    for (unsigned i = 0; i < HYP_MAX_CPUS; i++) {
        uintptr_t guard = (uintptr_t)hyp_stacks[i].guard;
        if (guard > rw) {
            mmu_map(rw, rw, guard - rw, HYP_PERM_RW, MMU_NORMAL);
        }
        rw = guard + HYP_STACK_GUARD;
    }
    mmu_map(rw, rw, (uintptr_t)_end - rw, HYP_PERM_RW, MMU_NORMAL);
    mmu_map(platform.gicd_pa, platform.gicd_pa, platform.gicd_size, HYP_PERM_RW, MMU_DEVICE);
    if (platform.gic_version == 2) {
        mmu_map(platform.gicc_pa, platform.gicc_pa, platform.gicc_size, HYP_PERM_RW, MMU_DEVICE);
        mmu_map(platform.gich_pa, platform.gich_pa, platform.gich_size, HYP_PERM_RW, MMU_DEVICE);
    } else {
        /* The redistributors of the CPUs there are (256 KiB each at most: RD, SGI and two VLPI frames). */
        uint64_t size = (uint64_t)platform.num_cpus * 0x40000;
        mmu_map(platform.gicr_pa, platform.gicr_pa, size < platform.gicr_size ? size : platform.gicr_size, HYP_PERM_RW,
                MMU_DEVICE);
    }
    mmu_map(platform.uart_pa & ~(SZ_4K - 1), platform.uart_pa & ~(SZ_4K - 1), SZ_4K, HYP_PERM_RW, MMU_DEVICE);
    for (size_t i = 0; i < desc->num_maps; i++) {
        const struct hyp_vmm_map *m = &desc->maps[i];
        unsigned ri = region_index(m->mr, "a VMM map");
        mmu_map(m->vaddr, region_pa[ri], m->mr->size, m->perms, m->cached ? MMU_NORMAL : MMU_DEVICE);
        LOG_INFO("VMM map %-16s at 0x%lx", m->mr->name, m->vaddr);
    }
    backend_map();
    mmu_activate();
    /* ABI 1.4: RAM regions are zero-filled. */
    for (size_t i = 0; i < hyp_system.num_regions; i++) {
        if (hyp_system.regions[i].source != HYP_MR_ALLOCATE) {
            continue;
        }
        uint64_t size = hyp_system.regions[i].size;
        mmu_map(ZERO_WINDOW_VA, region_pa[i], size, HYP_PERM_RW, MMU_NORMAL);
        zero_normal_memory(ZERO_WINDOW_VA, size);
        mmu_unmap(ZERO_WINDOW_VA, size);
    }
    for (size_t i = 0; i < desc->num_maps; i++) {
        if (desc->maps[i].setvar_vaddr) {
            *desc->maps[i].setvar_vaddr = desc->maps[i].vaddr;
        }
    }
}

static void setup_vm(struct pd *pd, const struct hyp_vm *vm)
{
    for (size_t i = 0; i < vm->num_maps; i++) {
        const struct hyp_vm_map *m = &vm->maps[i];
        unsigned ri = region_index(m->mr, "a VM map");
        if (m->mr->source == HYP_MR_PLATFORM_GICV && !platform.gicv_pa) {
            /* GICv3: the guest uses the system-register CPU interface; there is no GICV to map. */
            LOG_INFO("VM map  %-16s skipped: GICv%u has no GICV", m->mr->name, platform.gic_version);
            continue;
        }
        stage2_map(m->guest_addr, region_pa[ri], m->mr->size, m->perms, m->cached);
        LOG_INFO("VM map  %-16s at IPA 0x%lx", m->mr->name, m->guest_addr);
    }
    stage2_activate();
    /* vCPU i on CPU i (DESIGN 3: static partitioning). */
    for (unsigned id = 0; id < vm->num_vcpus; id++) {
        struct vcpu *v = &hyp_vcpus[hyp_num_vcpus++];
        vcpu_init(v, id, pd);
        pd->vcpus[id] = v;
        hyp_cpus[id].vcpu = v;
        hyp_cpus[id].fp = &v->fp;
    }
    pd->num_vcpus = vm->num_vcpus;
}

void system_setup(void)
{
    if (!hyp_system.pds || hyp_system.num_pds != 1) {
        hyp_panic("system description: %zu protection domains (this hyp runs exactly one)", hyp_system.num_pds);
    }
    const struct hyp_pd *desc = &hyp_system.pds[0];
    if (!desc->name) {
        hyp_panic("system description: the PD needs a name");
    }
    validate_regions();
    validate_vmm_maps(desc);
    if (desc->vm) {
        validate_vm(desc->vm);
    }
    backend_validate();
    allocate_regions();
    struct pd *pd = &hyp_pds[hyp_num_pds++];
    pd->desc = desc;
    pd->index = 0;
    pd->owner = 0; /* the boot CPU, which runs init() (pd_run) */
    setup_channels(pd, desc);
    map_regions(desc);
    if (desc->vm) {
        setup_vm(pd, desc->vm);
    }
    backend_start();
    strncpy(microkit_name, desc->name, MICROKIT_PD_NAME_LENGTH - 1);
    microkit_irqs = pd->irq_mask;
    microkit_notifications = pd->notify_mask;
    microkit_pps = 0;
}
