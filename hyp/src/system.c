/*
 * Bring the system to life, as the Microkit tool and the capDL initialiser do
 * for an SDF: hyp's system is the set of VMM programs linked into it
 * (hyp/program.h), each with its own description (hyp/system.h) of exactly
 * one PD. Validate every description, give each PD its physical CPUs,
 * allocate and zero RAM for the regions that ask for it, map regions into
 * the PD's own EL2 table (VMM maps) and its VM's own stage 2 (VM maps), patch
 * setvars and the program's libmicrokit variables, create the PD, its
 * channels, IRQs and vCPUs, and bring up the device backends (backend.c)
 * before any PD's init() runs.
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
#include <hyp/program.h>
#include <hyp/stage2.h>
#include <hyp/system.h>
#include <hyp/vcpu.h>
#include <hyp/setup.h>

#define MAX_REGIONS 128 /* over all programs */
#define SZ_2M 0x200000ull
#define SZ_4K 0x1000ull
/* EL2 window used once at boot to zero allocated regions; VMM maps may not use it. */
#define ZERO_WINDOW_VA 0x7000000000ull

_Static_assert(MMU_MAX_TABLES == HYP_MAX_PDS && STAGE2_MAX_VMS == HYP_MAX_PDS, "one EL2 table and VM per PD");

extern char _start[], __text_end[], __rodata_end[], __data_start[], _end[];

static uint64_t region_pa[MAX_REGIONS];
static unsigned region_base[HYP_MAX_PDS]; /* PD k's regions start at region_pa[region_base[k]] */
static unsigned num_region_slots;

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

static const struct hyp_system *sys_of(const struct pd *pd)
{
    return pd->program->system;
}

uint64_t system_region_pa(const struct hyp_memory_region *mr)
{
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        const struct hyp_system *sys = sys_of(&hyp_pds[k]);
        if (mr >= sys->regions && mr < sys->regions + sys->num_regions) {
            return region_pa[region_base[k] + (unsigned)(mr - sys->regions)];
        }
    }
    hyp_panic("no memory region at %p", (const void *)mr);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static unsigned region_index(const struct hyp_system *sys, const struct hyp_memory_region *mr, const char *who)
{
    const struct hyp_memory_region *r = sys->regions;
    if (!mr || mr < r || mr >= r + sys->num_regions) {
        hyp_panic("system description: %s refers to a memory region not in its hyp_system.regions", who);
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
    if (backend_any()) {
        uint64_t base, size;
        r[n++] = (struct range){BACKEND_WINDOW_VA, BACKEND_WINDOW_SIZE, "hyp's backend-region window"};
        backend_virtio_window(&base, &size);
        r[n++] = (struct range){base, size, "virtio-mmio registers"};
    }
    return n;
}

static void validate_fixed_region(const struct hyp_memory_region *r, const char *name)
{
    if ((r->phys_addr & (SZ_4K - 1)) || r->phys_addr + r->size < r->phys_addr) {
        hyp_panic("system description: region '%s' has a bad phys_addr 0x%lx", name, r->phys_addr);
    }
    if (overlaps(r->phys_addr, r->size, platform.gicd_pa, platform.gicd_size) ||
        overlaps(r->phys_addr, r->size, platform.gicc_pa, platform.gicc_size) ||
        overlaps(r->phys_addr, r->size, platform.gich_pa, platform.gich_size) ||
        overlaps(r->phys_addr, r->size, platform.gicr_pa, platform.gicr_size)) {
        hyp_panic("system description: region '%s' at 0x%lx covers the GIC that hyp owns", name, r->phys_addr);
    }
    /* A device belongs to one PD: no fixed region of an earlier program may cover it. */
    for (unsigned k = 0; k + 1 < hyp_num_pds; k++) {
        const struct hyp_system *o = sys_of(&hyp_pds[k]);
        for (size_t j = 0; j < o->num_regions; j++) {
            const struct hyp_memory_region *q = &o->regions[j];
            if (q->source == HYP_MR_FIXED_PA && overlaps(q->phys_addr, q->size, r->phys_addr, r->size)) {
                hyp_panic("system description: region '%s' of PD '%s' and '%s' of PD '%s' share physical memory", name,
                          hyp_pds[hyp_num_pds - 1].desc->name, q->name, hyp_pds[k].desc->name);
            }
        }
    }
}

static void validate_regions(const struct hyp_system *sys)
{
    if (sys->num_regions && !sys->regions) {
        hyp_panic("system description: num_regions is %zu but regions is NULL", sys->num_regions);
    }
    if (sys->num_channels && !sys->channels) {
        hyp_panic("system description: num_channels is %zu but channels is NULL", sys->num_channels);
    }
    if (sys->num_regions > MAX_REGIONS - num_region_slots) {
        hyp_panic("system description: %zu more memory regions (at most %d in all)", sys->num_regions, MAX_REGIONS);
    }
    for (size_t i = 0; i < sys->num_regions; i++) {
        const struct hyp_memory_region *r = &sys->regions[i];
        const char *name = r->name ? r->name : "(unnamed)";
        if (!r->name || r->size == 0 || (r->size & (SZ_4K - 1))) {
            hyp_panic("system description: region '%s' needs a name and a non-zero size in 4 KiB pages", name);
        }
        switch (r->source) {
        case HYP_MR_ALLOCATE:
            break;
        case HYP_MR_FIXED_PA:
            validate_fixed_region(r, name);
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
            if (sys->regions[j].name && strcmp(sys->regions[j].name, r->name) == 0) {
                hyp_panic("system description: two regions are named '%s'", name);
            }
        }
    }
}

/* Allocated regions of every PD, one after the other in free RAM above the image. */
static void allocate_regions(const struct pd *pd, uint64_t *cursor)
{
    const struct hyp_system *sys = sys_of(pd);
    uint64_t ram_end = platform.ram_base + platform.ram_size;
    uint64_t *pa = &region_pa[region_base[pd->index]];
    for (size_t i = 0; i < sys->num_regions; i++) {
        const struct hyp_memory_region *r = &sys->regions[i];
        switch (r->source) {
        case HYP_MR_ALLOCATE:
            pa[i] = align_up(*cursor, SZ_2M);
            if (pa[i] + r->size > ram_end || pa[i] + r->size < pa[i]) {
                hyp_panic("system description: region '%s' of PD '%s' (%lu MiB) does not fit in free RAM "
                          "(0x%lx-0x%lx); give QEMU more memory (-m)",
                          r->name, pd->desc->name, r->size >> 20, pa[i], ram_end);
            }
            *cursor = pa[i] + r->size;
            break;
        case HYP_MR_FIXED_PA:
            pa[i] = r->phys_addr;
            if (overlaps(r->phys_addr, r->size, platform.ram_base, platform.ram_size)) {
                hyp_panic("system description: fixed region '%s' at 0x%lx overlaps RAM hyp manages", r->name,
                          r->phys_addr);
            }
            break;
        case HYP_MR_PLATFORM_GICV:
            pa[i] = platform.gicv_pa;
            break;
        case HYP_MR_PLATFORM_UART:
            pa[i] = platform.uart_pa & ~(SZ_4K - 1);
            break;
        }
        if (r->source == HYP_MR_PLATFORM_GICV && !platform.gicv_pa) {
            LOG_INFO("PD %u region %-16s size 0x%08lx: no GICV on this GICv%u", pd->index, r->name, r->size,
                     platform.gic_version);
            continue;
        }
        LOG_INFO("PD %u region %-16s size 0x%08lx at PA 0x%lx", pd->index, r->name, r->size, pa[i]);
    }
}

static void validate_vmm_maps(const struct hyp_system *sys, const struct hyp_pd *pd)
{
    if ((pd->num_maps && !pd->maps) || (pd->num_irqs && !pd->irqs)) {
        hyp_panic("system description: PD '%s' has a NULL maps or irqs array with a non-zero count", pd->name);
    }
    struct range reserved[12];
    unsigned nres = reserved_ranges(reserved);
    for (size_t i = 0; i < pd->num_maps; i++) {
        const struct hyp_vmm_map *m = &pd->maps[i];
        region_index(sys, m->mr, "a VMM map");
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

/* The PL011 has one owner: at most one VM in the whole system maps it. */
static void claim_uart(const struct pd *pd, const struct hyp_vm_map *m)
{
    static const struct pd *owner;
    if (m->mr->source != HYP_MR_PLATFORM_UART) {
        return;
    }
    if (owner && owner != pd) {
        hyp_panic("system description: VM of PD '%s' maps the PL011, which PD '%s' already gives its VM",
                  pd->desc->name, owner->desc->name);
    }
    owner = pd;
}

static void validate_vm(const struct pd *pd, const struct hyp_vm *vm)
{
    const struct hyp_system *sys = sys_of(pd);
    if (!vm->name || vm->num_vcpus == 0 || vm->num_vcpus > HYP_MAX_VCPUS || (vm->num_maps && !vm->maps)) {
        hyp_panic("system description: VM needs a name, 1..%d vCPUs and a maps array", HYP_MAX_VCPUS);
    }
    for (size_t i = 0; i < vm->num_maps; i++) {
        const struct hyp_vm_map *m = &vm->maps[i];
        region_index(sys, m->mr, "a VM map");
        check_perms(m->perms, m->mr->name);
        claim_uart(pd, m);
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

/* Channels and IRQs of this PD. Channel ends name PDs of the same description, and each describes one PD. */
static void setup_channels(struct pd *pd)
{
    const struct hyp_system *sys = sys_of(pd);
    const struct hyp_pd *desc = pd->desc;
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
    for (size_t i = 0; i < sys->num_channels; i++) {
        const struct hyp_channel *c = &sys->channels[i];
        if (c->pd_a >= sys->num_pds || c->pd_b >= sys->num_pds || c->id_a > MICROKIT_MAX_CHANNEL_ID ||
            c->id_b > MICROKIT_MAX_CHANNEL_ID) {
            hyp_panic("system description: channel %zu has a bad end", i);
        }
        for (int end = 0; end < 2; end++) {
            unsigned my_id = end ? c->id_b : c->id_a, peer_id = end ? c->id_a : c->id_b;
            if ((pd->irq_mask | pd->notify_mask) & (1ull << my_id)) {
                hyp_panic("system description: channel id %u used twice in PD '%s'", my_id, desc->name);
            }
            pd->notify_mask |= 1ull << my_id;
            pd->peer[my_id].pd = pd->index;
            pd->peer[my_id].id = peer_id;
        }
    }
    backend_claim_channels(pd);
}

/* hyp's own identity mappings, in every PD's table. */
static void map_hyp(void)
{
    const int all = MMU_ALL_TABLES;
    mmu_map(all, platform.ram_base, platform.ram_base, (uint64_t)(uintptr_t)_start - platform.ram_base, HYP_PERM_R,
            MMU_NORMAL);
    mmu_map(all, (uintptr_t)_start, (uintptr_t)_start, (uintptr_t)__text_end - (uintptr_t)_start, HYP_PERM_RX,
            MMU_NORMAL);
    mmu_map(all, (uintptr_t)__text_end, (uintptr_t)__text_end, (uintptr_t)__rodata_end - (uintptr_t)__text_end,
            HYP_PERM_R, MMU_NORMAL);
    /* Data and bss, leaving each CPU stack's guard page unmapped. */
    uintptr_t rw = (uintptr_t)__rodata_end;
    for (unsigned i = 0; i < HYP_MAX_CPUS; i++) {
        uintptr_t guard = (uintptr_t)hyp_stacks[i].guard;
        if (guard > rw) {
            mmu_map(all, rw, rw, guard - rw, HYP_PERM_RW, MMU_NORMAL);
        }
        rw = guard + HYP_STACK_GUARD;
    }
    mmu_map(all, rw, rw, (uintptr_t)_end - rw, HYP_PERM_RW, MMU_NORMAL);
    mmu_map(all, platform.gicd_pa, platform.gicd_pa, platform.gicd_size, HYP_PERM_RW, MMU_DEVICE);
    if (platform.gic_version == 2) {
        mmu_map(all, platform.gicc_pa, platform.gicc_pa, platform.gicc_size, HYP_PERM_RW, MMU_DEVICE);
        mmu_map(all, platform.gich_pa, platform.gich_pa, platform.gich_size, HYP_PERM_RW, MMU_DEVICE);
    } else {
        /* The redistributors of the CPUs there are (256 KiB each at most: RD, SGI and two VLPI frames). */
        uint64_t size = (uint64_t)platform.num_cpus * 0x40000;
        mmu_map(all, platform.gicr_pa, platform.gicr_pa, size < platform.gicr_size ? size : platform.gicr_size,
                HYP_PERM_RW, MMU_DEVICE);
    }
    mmu_map(all, platform.uart_pa & ~(SZ_4K - 1), platform.uart_pa & ~(SZ_4K - 1), SZ_4K, HYP_PERM_RW, MMU_DEVICE);
    backend_map();
}

/* The PD's VMM maps, in its own table only. */
static void map_vmm(const struct pd *pd)
{
    const struct hyp_system *sys = sys_of(pd);
    for (size_t i = 0; i < pd->desc->num_maps; i++) {
        const struct hyp_vmm_map *m = &pd->desc->maps[i];
        unsigned ri = region_index(sys, m->mr, "a VMM map");
        mmu_map((int)pd->index, m->vaddr, region_pa[region_base[pd->index] + ri], m->mr->size, m->perms,
                m->cached ? MMU_NORMAL : MMU_DEVICE);
        LOG_INFO("PD %u VMM map %-16s at 0x%lx", pd->index, m->mr->name, m->vaddr);
    }
}

/* ABI 1.4: RAM regions are zero-filled (through a window in the boot CPU's table). */
static void zero_regions(const struct pd *pd)
{
    const struct hyp_system *sys = sys_of(pd);
    for (size_t i = 0; i < sys->num_regions; i++) {
        if (sys->regions[i].source != HYP_MR_ALLOCATE) {
            continue;
        }
        uint64_t size = sys->regions[i].size;
        mmu_map(0, ZERO_WINDOW_VA, region_pa[region_base[pd->index] + i], size, HYP_PERM_RW, MMU_NORMAL);
        zero_normal_memory(ZERO_WINDOW_VA, size);
        mmu_unmap(0, ZERO_WINDOW_VA, size);
    }
}

/* What the Microkit tool patches into the PD's image (ABI 1.3, 1.4): setvars, name, channel masks, IPC buffer. */
static void patch_program(struct pd *pd)
{
    const struct hyp_program *p = pd->program;
    for (size_t i = 0; i < pd->desc->num_maps; i++) {
        if (pd->desc->maps[i].setvar_vaddr) {
            *pd->desc->maps[i].setvar_vaddr = pd->desc->maps[i].vaddr;
        }
    }
    strncpy(p->name, pd->desc->name, MICROKIT_PD_NAME_LENGTH - 1);
    *p->irqs = pd->irq_mask;
    *p->notifications = pd->notify_mask;
    *p->pps = 0;
    *p->ipc_buffer = &pd->ipc;
}

static void setup_vm(struct pd *pd, const struct hyp_vm *vm)
{
    const struct hyp_system *sys = sys_of(pd);
    for (size_t i = 0; i < vm->num_maps; i++) {
        const struct hyp_vm_map *m = &vm->maps[i];
        unsigned ri = region_index(sys, m->mr, "a VM map");
        if (m->mr->source == HYP_MR_PLATFORM_GICV && !platform.gicv_pa) {
            /* GICv3: the guest uses the system-register CPU interface; there is no GICV to map. */
            LOG_INFO("PD %u VM map  %-16s skipped: GICv%u has no GICV", pd->index, m->mr->name, platform.gic_version);
            continue;
        }
        stage2_map(pd->index, m->guest_addr, region_pa[region_base[pd->index] + ri], m->mr->size, m->perms, m->cached);
        LOG_INFO("PD %u VM map  %-16s at IPA 0x%lx", pd->index, m->mr->name, m->guest_addr);
    }
    stage2_activate(pd->index);
    /* vCPU i on the PD's CPU first_cpu + i (DESIGN 3: static partitioning). */
    for (unsigned id = 0; id < vm->num_vcpus; id++) {
        struct vcpu *v = &hyp_vcpus[hyp_num_vcpus++];
        unsigned cpu = pd->first_cpu + id;
        vcpu_init(v, id, cpu, pd);
        pd->vcpus[id] = v;
        hyp_cpus[cpu].vcpu = v;
        hyp_cpus[cpu].fp = &v->fp;
    }
    pd->num_vcpus = vm->num_vcpus;
}

/* PD k = the k-th program in link order; its CPUs follow those of PD k-1. */
static unsigned create_pds(void)
{
    size_t n = (size_t)(__hyp_programs_end - __hyp_programs_start);
    if (n == 0 || n > HYP_MAX_PDS) {
        hyp_panic("system description: %zu VMM programs linked in (1..%d)", n, HYP_MAX_PDS);
    }
    unsigned cpus = 0;
    for (unsigned k = 0; k < n; k++) {
        const struct hyp_program *p = &__hyp_programs_start[k];
        const struct hyp_system *sys = p->system;
        if (!sys || !sys->pds || sys->num_pds != 1 || !sys->pds[0].name) {
            hyp_panic("system description: program %u describes %zu PDs (each program is exactly one named PD)", k,
                      sys ? sys->num_pds : 0);
        }
        struct pd *pd = &hyp_pds[hyp_num_pds++];
        pd->desc = &sys->pds[0];
        pd->program = p;
        pd->index = k;
        pd->first_cpu = cpus;
        pd->num_cpus = pd->desc->vm && pd->desc->vm->num_vcpus ? pd->desc->vm->num_vcpus : 1;
        pd->owner = (int)cpus; /* its first CPU, which runs init() (pd_run) */
        cpus += pd->num_cpus;
        region_base[k] = num_region_slots;
        validate_regions(sys);
        num_region_slots += (unsigned)sys->num_regions;
        backend_validate(pd);
    }
    if (cpus > platform.num_cpus || cpus > HYP_MAX_CPUS) {
        hyp_panic("system description: the %u PD(s) need %u CPUs (one per vCPU, at least one per PD) but the "
                  "machine has %u (hyp supports %d): run QEMU with -smp %u",
                  hyp_num_pds, cpus, platform.num_cpus, HYP_MAX_CPUS, cpus);
    }
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        struct pd *pd = &hyp_pds[k];
        for (unsigned c = pd->first_cpu; c < pd->first_cpu + pd->num_cpus; c++) {
            hyp_cpus[c].pd = pd;
            hyp_cpus[c].mpidr = platform.cpu_mpidr[c];
        }
        LOG_INFO("PD %u '%s': CPU(s) %u..%u, VMID %u", k, pd->desc->name, pd->first_cpu,
                 pd->first_cpu + pd->num_cpus - 1, STAGE2_VMID(k));
    }
    return cpus;
}

unsigned system_setup(void)
{
    unsigned cpus = create_pds();
    mmu_set_tables(hyp_num_pds);
    uint64_t cursor = align_up((uint64_t)(uintptr_t)_end, SZ_2M);
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        struct pd *pd = &hyp_pds[k];
        validate_vmm_maps(sys_of(pd), pd->desc);
        if (pd->desc->vm) {
            validate_vm(pd, pd->desc->vm);
        }
        allocate_regions(pd, &cursor);
        setup_channels(pd);
    }
    map_hyp();
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        map_vmm(&hyp_pds[k]);
    }
    mmu_activate(0);
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        struct pd *pd = &hyp_pds[k];
        zero_regions(pd);
        patch_program(pd);
        if (pd->desc->vm) {
            setup_vm(pd, pd->desc->vm);
        }
    }
    stage2_cpu_init(0); /* the boot CPU is PD 0's */
    backend_start();
    return cpus;
}
