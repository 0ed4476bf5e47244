/*
 * Device backends (hyp/backend.h): the system description's checks, the
 * shared-region windows, probing QEMU's virtio-mmio slots, binding devices
 * to backends (disks by serial, NICs by MAC, else QEMU command-line order),
 * the shq_header, and the service pass the event loop runs before it
 * delivers anything to the PD.
 */
#include <string.h>
#include <hyp/arch.h>
#include <hyp/backend.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/mmu.h>
#include <hyp/pd.h>
#include <hyp/smp.h>
#include <hyp/platform.h>
#include <hyp/pools.h>
#include <hyp/setup.h>

#define SZ_2M 0x200000ull
#define SZ_4K 0x1000ull
#define SLOT_NONE 0xff

/* Every PD's backends, PD by PD in program order: the index is hyp's, the bit in pd->backend_pending. */
static struct backend backends[HYP_MAX_BACKENDS];
static unsigned num_backends;

struct slot_info {
    uint32_t device_id; /* 0: empty, refused or passed through */
    uint8_t owner; /* backend index or SLOT_NONE */
    char serial[BACKEND_SERIAL_BYTES]; /* blk */
    uint8_t mac[6]; /* net */
    bool has_mac;
};

static struct slot_info slots[PLATFORM_MAX_VIRTIO];
static unsigned legacy_seen;

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case SHQ_KIND_BLK:
        return "blk";
    case SHQ_KIND_NET:
        return "net";
    case SHQ_KIND_CONSOLE:
        return "console";
    default:
        return "?";
    }
}

static const struct backend_ops *kind_ops(uint32_t kind)
{
    switch (kind) {
    case SHQ_KIND_BLK:
        return &backend_blk_ops;
    case SHQ_KIND_NET:
        return &backend_net_ops;
    case SHQ_KIND_CONSOLE:
        return &backend_console_ops;
    default:
        return NULL;
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "52:54:00:12:34:56" -> 6 bytes. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (unsigned i = 0; i < 6; i++) {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0 || s[2] != (i == 5 ? '\0' : ':')) {
            return false;
        }
        mac[i] = (uint8_t)(hi * 16 + lo);
        s += 3;
    }
    return true;
}

static bool same_match(const struct hyp_backend *a, const struct hyp_backend *b)
{
    if (a->kind != b->kind || !a->match || !b->match) {
        return false;
    }
    if (a->kind == SHQ_KIND_NET) {
        uint8_t ma[6], mb[6];
        return parse_mac(a->match, ma) && parse_mac(b->match, mb) && memcmp(ma, mb, 6) == 0;
    }
    return strcmp(a->match, b->match) == 0;
}

static void validate_match(size_t i, const struct hyp_backend *d)
{
    uint8_t mac[6];
    if (!d->match) {
        return;
    }
    if (d->kind == SHQ_KIND_BLK &&
        (d->match[0] == '\0' || strnlen(d->match, BACKEND_SERIAL_BYTES + 1) > BACKEND_SERIAL_BYTES)) {
        hyp_panic("system description: backend %zu: a disk serial has 1..%d characters", i, BACKEND_SERIAL_BYTES);
    }
    if (d->kind == SHQ_KIND_NET && !parse_mac(d->match, mac)) {
        hyp_panic("system description: backend %zu: '%s' is not a MAC address like 52:54:00:12:34:56", i, d->match);
    }
    if (d->kind == SHQ_KIND_CONSOLE) {
        hyp_panic("system description: backend %zu: a console backend takes no match (NULL)", i);
    }
}

static bool mapped_rw_cached(const struct hyp_pd *pd, const struct hyp_memory_region *mr)
{
    for (size_t k = 0; k < pd->num_maps; k++) {
        const struct hyp_vmm_map *m = &pd->maps[k];
        if (m->mr == mr && (m->perms & HYP_PERM_RW) == HYP_PERM_RW && m->cached) {
            return true;
        }
    }
    return false;
}

static void validate_one(const struct hyp_system *sys, size_t i, const struct hyp_backend *d, unsigned count[4])
{
    const struct hyp_memory_region *r = sys->regions;
    if (!kind_ops(d->kind)) {
        hyp_panic("system description: backend %zu has an unknown kind %d", i, (int)d->kind);
    }
    count[d->kind]++;
    if (!d->mr || d->mr < r || d->mr >= r + sys->num_regions) {
        hyp_panic("system description: backend %zu refers to a memory region not in hyp_system.regions", i);
    }
    if (d->mr->source != HYP_MR_ALLOCATE || d->mr->size < SHQ_REGION_MIN_SIZE || d->mr->size > (1ull << 32)) {
        hyp_panic("system description: backend %zu: region '%s' must be HYP_MR_ALLOCATE, 0x%x bytes to 4 GiB", i,
                  d->mr->name, SHQ_REGION_MIN_SIZE);
    }
    if (d->pd >= sys->num_pds || d->id > MICROKIT_MAX_CHANNEL_ID) {
        hyp_panic("system description: backend %zu has a bad PD %u or channel %u", i, d->pd, d->id);
    }
    if (!mapped_rw_cached(&sys->pds[d->pd], d->mr)) {
        hyp_panic("system description: backend %zu: region '%s' is not mapped read-write and cached into PD '%s'", i,
                  d->mr->name, sys->pds[d->pd].name);
    }
    validate_match(i, d);
    /* Against every backend so far, this program's and earlier programs' (a device serves one PD). */
    for (unsigned j = 0; j < num_backends; j++) {
        const struct hyp_backend *o = backends[j].desc;
        if (o->mr == d->mr) {
            hyp_panic("system description: backends %u and %zu share region '%s'", j, i, d->mr->name);
        }
        if (same_match(o, d)) {
            hyp_panic("system description: backend %zu of PD '%s' asks for %s '%s', as backend %u of PD '%s' does", i,
                      sys->pds[0].name, kind_name(d->kind), d->match, j, backends[j].pd->desc->name);
        }
    }
}

void backend_validate(struct pd *pd)
{
    const struct hyp_system *sys = pd->program->system;
    static unsigned count[4];
    if (sys->num_backends && !sys->backends) {
        hyp_panic("system description: num_backends is %zu but backends is NULL", sys->num_backends);
    }
    if (sys->num_backends > HYP_MAX_BACKENDS - num_backends) {
        hyp_panic("system description: %zu more backends (at most %d in all)", sys->num_backends, HYP_MAX_BACKENDS);
    }
    for (size_t i = 0; i < sys->num_backends; i++) {
        validate_one(sys, i, &sys->backends[i], count);
        struct backend *b = &backends[num_backends];
        b->desc = &sys->backends[i];
        b->ops = kind_ops(b->desc->kind);
        b->index = num_backends++;
        b->pd = pd;
    }
    if (count[SHQ_KIND_BLK] > BACKEND_MAX_BLK || count[SHQ_KIND_NET] > BACKEND_MAX_NET ||
        count[SHQ_KIND_CONSOLE] > BACKEND_MAX_CONSOLE) {
        hyp_panic("system description: too many backends of one kind (at most %d blk, %d net, %d console)",
                  BACKEND_MAX_BLK, BACKEND_MAX_NET, BACKEND_MAX_CONSOLE);
    }
}

bool backend_any(void)
{
    return num_backends != 0;
}

void backend_claim_channels(struct pd *pd)
{
    for (unsigned i = 0; i < num_backends; i++) {
        const struct hyp_backend *d = backends[i].desc;
        if (backends[i].pd != pd) {
            continue;
        }
        if ((pd->irq_mask | pd->notify_mask) & (1ull << d->id)) {
            hyp_panic("system description: backend %u's channel %u is already used in PD '%s'", i, d->id,
                      pd->desc->name);
        }
        pd->notify_mask |= 1ull << d->id;
        pd->backend_mask |= 1ull << d->id;
        pd->peer[d->id].pd = i;
        pd->peer[d->id].id = d->id;
    }
}

void backend_virtio_window(uint64_t *base, uint64_t *size)
{
    *base = *size = 0;
    if (num_backends == 0 || platform.num_virtio == 0) {
        return;
    }
    uint64_t lo = platform.virtio[0].pa & ~(SZ_4K - 1);
    const __typeof__(platform.virtio[0]) *last = &platform.virtio[platform.num_virtio - 1];
    uint64_t hi = (last->pa + last->size + SZ_4K - 1) & ~(SZ_4K - 1);
    *base = lo;
    *size = hi - lo;
}

/* hyp's own mapping of every backend region and of the virtio-mmio registers, in every PD's EL2 table. */
void backend_map(void)
{
    uint64_t va = BACKEND_WINDOW_VA;
    for (unsigned i = 0; i < num_backends; i++) {
        struct backend *b = &backends[i];
        const struct hyp_backend *d = b->desc;
        uint64_t span = (d->mr->size + SZ_2M - 1) & ~(SZ_2M - 1);
        if (va + span > BACKEND_WINDOW_VA + BACKEND_WINDOW_SIZE) {
            hyp_panic("backend regions do not fit hyp's 0x%llx-byte window", BACKEND_WINDOW_SIZE);
        }
        b->region = (uint8_t *)(uintptr_t)va;
        b->region_pa = system_region_pa(d->mr);
        b->region_size = d->mr->size;
        b->hdr = (struct shq_header *)(uintptr_t)va;
        mmu_map(MMU_ALL_TABLES, va, b->region_pa, d->mr->size, HYP_PERM_RW, MMU_NORMAL);
        va += span;
    }
    uint64_t base, size;
    backend_virtio_window(&base, &size);
    if (size) {
        mmu_map(MMU_ALL_TABLES, base, base, size, HYP_PERM_RW, MMU_DEVICE);
    }
}

/* A slot inside a HYP_MR_FIXED_PA region of any PD belongs to whoever maps that region (pass-through). */
static const char *passed_through(unsigned s)
{
    for (unsigned k = 0; k < hyp_num_pds; k++) {
        const struct hyp_system *sys = hyp_pds[k].program->system;
        for (size_t i = 0; i < sys->num_regions; i++) {
            const struct hyp_memory_region *r = &sys->regions[i];
            if (r->source == HYP_MR_FIXED_PA && r->phys_addr < platform.virtio[s].pa + platform.virtio[s].size &&
                platform.virtio[s].pa < r->phys_addr + r->size) {
                return r->name;
            }
        }
    }
    return NULL;
}

static void probe_slot(unsigned s)
{
    struct slot_info *si = &slots[s];
    struct virtio_dev dev = {.base = platform.virtio[s].pa, .intid = platform.virtio[s].intid, .slot = s};
    uint32_t version;
    si->owner = SLOT_NONE;
    const char *pt = passed_through(s);
    if (pt) {
        LOG_INFO("virtio-mmio slot %u (0x%lx): inside region '%s', not probed", s, dev.base, pt);
        return;
    }
    uint32_t id = virtio_probe(dev.base, &version);
    if (id == 0) {
        return;
    }
    if (version != 2) {
        legacy_seen++;
        LOG_WARN("virtio-mmio slot %u (0x%lx): device %u has MMIO Version %u, refused: hyp drives only modern "
                 "(Version 2) devices; run QEMU with -global virtio-mmio.force-legacy=false",
                 s, dev.base, id, version);
        return;
    }
    dev.device_id = id;
    if (id == VIRTIO_ID_BLOCK) {
        if (!backend_blk_read_serial(&dev, si->serial)) {
            return;
        }
        char name[BACKEND_SERIAL_BYTES + 1] = {0};
        memcpy(name, si->serial, BACKEND_SERIAL_BYTES);
        LOG_INFO("virtio-mmio slot %u (0x%lx, INTID %u): virtio-blk, serial '%s'", s, dev.base, dev.intid, name);
    } else if (id == VIRTIO_ID_NET) {
        si->has_mac = backend_net_read_mac(&dev, si->mac);
        LOG_INFO("virtio-mmio slot %u (0x%lx, INTID %u): virtio-net, MAC %02x:%02x:%02x:%02x:%02x:%02x", s, dev.base,
                 dev.intid, si->mac[0], si->mac[1], si->mac[2], si->mac[3], si->mac[4], si->mac[5]);
    } else {
        LOG_INFO("virtio-mmio slot %u (0x%lx, INTID %u): virtio device %u", s, dev.base, dev.intid, id);
    }
    si->device_id = id;
}

static bool slot_matches(const struct slot_info *si, const struct hyp_backend *d)
{
    if (si->owner != SLOT_NONE || si->device_id != kind_ops(d->kind)->device_id) {
        return false;
    }
    if (!d->match) {
        return true;
    }
    if (d->kind == SHQ_KIND_BLK) {
        return strncmp(si->serial, d->match, BACKEND_SERIAL_BYTES) == 0;
    }
    uint8_t mac[6];
    return d->kind == SHQ_KIND_NET && si->has_mac && parse_mac(d->match, mac) && memcmp(mac, si->mac, 6) == 0;
}

/* Explicit matches first, then the rest in QEMU command-line order (highest slot first). */
static void assign_slots(unsigned slot_of[])
{
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < num_backends; i++) {
            const struct hyp_backend *d = backends[i].desc;
            if ((pass == 0) != (d->match != NULL)) {
                continue;
            }
            slot_of[i] = SLOT_NONE;
            for (unsigned s = platform.num_virtio; s-- > 0;) {
                if (slot_matches(&slots[s], d)) {
                    slots[s].owner = (uint8_t)i;
                    slot_of[i] = s;
                    break;
                }
            }
        }
    }
}

static void fill_header_start(struct backend *b)
{
    memset(b->hdr, 0, sizeof(*b->hdr));
    b->hdr->magic = SHQ_MAGIC;
    b->hdr->kind = b->desc->kind;
}

static bool bind(struct backend *b, unsigned s)
{
    b->dev = (struct virtio_dev){.base = platform.virtio[s].pa, .intid = platform.virtio[s].intid, .slot = s};
    b->dev.device_id = slots[s].device_id;
    if (b->desc->kind == SHQ_KIND_BLK) {
        memcpy(b->hdr->config.blk.serial, slots[s].serial, BACKEND_SERIAL_BYTES);
    }
    uint64_t offered;
    if (!virtio_negotiate(&b->dev, b->ops->features, &offered)) {
        return false;
    }
    if (!b->ops->start(b)) {
        virtio_fail(&b->dev);
        return false;
    }
    virtio_driver_ok(&b->dev);
    irq_bind_backend(b->dev.intid, b->index, b->pd);
    b->bound = true;
    b->pd->backend_pending |= 1u << b->index; /* a first pass after init() (e.g. post rx buffers) */
    return true;
}

void backend_start(void)
{
    if (num_backends == 0) {
        return;
    }
    for (unsigned s = 0; s < platform.num_virtio; s++) {
        probe_slot(s);
    }
    unsigned slot_of[HYP_MAX_BACKENDS], missing = 0;
    assign_slots(slot_of);
    for (unsigned i = 0; i < num_backends; i++) {
        struct backend *b = &backends[i];
        const char *what = b->desc->match ? b->desc->match : "(first free)";
        fill_header_start(b);
        if (slot_of[i] == SLOT_NONE) {
            LOG_INFO("backend %u (%s %s) of PD '%s': no such device from QEMU, left not ready", i,
                     kind_name(b->desc->kind), what, b->pd->desc->name);
            missing++;
            continue;
        }
        if (!bind(b, slot_of[i])) {
            LOG_WARN("backend %u (%s %s): the device in slot %u failed to initialise", i, kind_name(b->desc->kind),
                     what, slot_of[i]);
            continue;
        }
        __atomic_store_n(&b->hdr->ready, 1, __ATOMIC_RELEASE);
        LOG_INFO("backend %u (%s %s): slot %u, INTID %u, region '%s' at PA 0x%lx, PD '%s' channel %u", i,
                 kind_name(b->desc->kind), what, slot_of[i], b->dev.intid, b->desc->mr->name, b->region_pa,
                 b->pd->desc->name, b->desc->id);
    }
    if (missing && legacy_seen) {
        LOG_WARN("%u backend(s) have no device and %u legacy virtio-mmio device(s) were refused: "
                 "missing -global virtio-mmio.force-legacy=false?",
                 missing, legacy_seen);
    }
}

void backend_signal(unsigned index)
{
    backends[index].pd->backend_pending |= 1u << index;
}

void backend_irq(unsigned index)
{
    struct backend *b = &backends[index];
    b->irq_pending = true;
    b->pd->backend_pending |= 1u << index;
    if (cpu_this()->pd != b->pd) {
        smp_kick(b->pd->first_cpu); /* taken here before irq_route_pd moved it to the PD's CPU */
    }
}

void backend_stop(struct pd *pd)
{
    for (unsigned i = 0; i < num_backends; i++) {
        struct backend *b = &backends[i];
        if (b->pd == pd && b->bound) {
            b->bound = false;
            gic_irq_disable(b->dev.intid);
            virtio_reset(&b->dev); /* virtio 1.2 4.2.3.1: the device stops using the PD's buffers */
        }
    }
}

static void service_one(struct backend *b, bool irq)
{
    if (!b->bound) {
        return;
    }
    if (irq && (virtio_irq_ack(&b->dev) & 2)) {
        /* Configuration change (4.2.2 InterruptStatus bit 1), or the device broke (2.1.2). */
        if (virtio_needs_reset(&b->dev)) {
            LOG_WARN("backend %u: the device in slot %u needs a reset; backend stopped", b->index, b->dev.slot);
            b->bound = false;
            return;
        }
        if (b->ops->config_changed) {
            b->ops->config_changed(b);
        }
    }
    b->ops->service(b);
    if (irq) {
        gic_irq_enable(b->dev.intid);
    }
    if (b->notify) {
        b->notify = false;
        kernel_lock();
        pd_signal(b->pd, b->desc->id);
        kernel_unlock();
    }
}

void backend_service(struct pd *pd)
{
    /* The pending bits are set under the kernel lock (irq_publish, seL4_Signal); the pass runs without it. */
    kernel_lock();
    uint32_t mask = pd->backend_pending, irqs = 0;
    pd->backend_pending = 0;
    for (uint32_t m = mask; m; m &= m - 1) {
        struct backend *b = &backends[__builtin_ctz(m)];
        if (b->irq_pending) {
            irqs |= 1u << b->index;
            b->irq_pending = false;
        }
    }
    kernel_unlock();
    while (mask) {
        unsigned i = (unsigned)__builtin_ctz(mask);
        mask &= mask - 1;
        service_one(&backends[i], (irqs >> i) & 1);
    }
}

/* Rate limit: the 1st, 2nd, 4th, 8th, ... error of a backend is logged. */
void backend_error(struct backend *b, const char *what, uint64_t value)
{
    b->errors++;
    if ((b->errors & (b->errors - 1)) == 0) {
        LOG_WARN("backend %u (%s): %s (0x%lx); %lu error(s) so far", b->index, kind_name(b->desc->kind), what, value,
                 b->errors);
    }
}

void backend_dropped(struct backend *b, uint64_t count)
{
    b->drops += count;
    b->drop_events++;
    if ((b->drop_events & (b->drop_events - 1)) == 0) {
        LOG_WARN("backend %u (%s): no room in the PD's ring, %lu unit(s) dropped so far", b->index,
                 kind_name(b->desc->kind), b->drops);
    }
}

bool backend_data_ok(const struct backend *b, uint64_t offset, uint64_t len)
{
    return offset >= SHQ_DATA_OFFSET && len <= b->region_size && offset <= b->region_size - len;
}

void shq_port_init(struct shq_port *p, struct backend *b, unsigned ring, uint32_t entry_size, uint32_t cap)
{
    p->ring = shq_ring(b->region, ring);
    p->entries = shq_ring_entries(p->ring);
    p->cap = cap;
    p->entry_size = entry_size;
    p->idx = p->published = 0;
    p->ring->head = p->ring->tail = 0;
    p->ring->capacity = cap;
}

uint32_t shq_port_avail(struct backend *b, struct shq_port *p)
{
    uint32_t n = __atomic_load_n(&p->ring->tail, __ATOMIC_ACQUIRE) - p->idx;
    if (n > p->cap) {
        backend_error(b, "ring tail out of range", n);
        return 0;
    }
    return n;
}

void shq_port_peek(const struct shq_port *p, void *entry)
{
    memcpy(entry, p->entries + (p->idx & (p->cap - 1)) * p->entry_size, p->entry_size);
}

uint32_t shq_port_room(struct backend *b, struct shq_port *p)
{
    uint32_t used = p->idx - __atomic_load_n(&p->ring->head, __ATOMIC_ACQUIRE);
    if (used > p->cap) {
        backend_error(b, "ring head out of range", used);
        return 0;
    }
    return p->cap - used;
}

void shq_port_push(struct shq_port *p, const void *entry)
{
    memcpy(p->entries + (p->idx & (p->cap - 1)) * p->entry_size, entry, p->entry_size);
    p->idx++;
}

bool shq_port_publish(struct shq_port *p, bool producer)
{
    if (p->idx == p->published) {
        return false;
    }
    __atomic_store_n(producer ? &p->ring->tail : &p->ring->head, p->idx, __ATOMIC_RELEASE);
    p->published = p->idx;
    return true;
}

/* hyp/machine.h: one line per backend of the calling PD, printed whatever hyp's log level. */
void hyp_report_pools(void)
{
    const struct pd *caller = pd_current();
    for (unsigned i = 0; i < num_backends; i++) {
        const struct backend *b = &backends[i];
        if (b->pd != caller) {
            continue;
        }
        if (!b->priv) {
            hyp_printf("hyp-pools: backend %u %s no device\n", b->index, kind_name(b->desc->kind));
        } else if (b->desc->kind == SHQ_KIND_BLK) {
            backend_blk_report_pools(b);
        } else if (b->desc->kind == SHQ_KIND_NET) {
            backend_net_report_pools(b);
        } else {
            backend_console_report_pools(b);
        }
    }
}
