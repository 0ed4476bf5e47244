/*
 * Checks, copy and record shared by the image loaders (loader_common.h).
 *
 * Linux Documentation/arch/arm64/booting.rst section 2 (DTB: 8-byte aligned,
 * at most 2 MiB), section 3 (the kernel must be cleaned to the PoC before
 * entry). Every destination is a guest-physical range checked through
 * guest_ram_ptr(); every check runs before the first byte is copied, so a
 * refused request leaves guest RAM as it was.
 */
#include <string.h>
#include <libfdt.h>
#include <libvmm/guest_ram.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include "dtb_chosen.h"
#include "guest_internal.h"
#include "loader_common.h"
#include "loader_internal.h"
#include "util/cache.h"

_Static_assert(LOADER_DTB_SLACK >= DTB_CHOSEN_MAX_GROWTH, "DTB slack must cover the /chosen patch");

static struct loader_images record;
static bool recorded;

/* Half-open ranges [a, a + a_len) and [b, b + b_len); no sum can wrap. */
static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
    if (a_len == 0 || b_len == 0) {
        return false;
    }
    return a <= b ? b - a < a_len : a - b < b_len;
}

static const struct guest_ram_region *region_at(uintptr_t ram_start)
{
    const struct guest_config *cfg = guest_config_get();
    if (cfg == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        if (cfg->ram[i].vmm_vaddr == ram_start) {
            return &cfg->ram[i];
        }
    }
    return NULL;
}

/*
 * A source must be readable VMM memory outside guest RAM: guest_restart()
 * zeroes guest RAM and reloads from the sources, and the guest could have
 * rewritten anything inside it.
 */
static bool source_valid(const char *what, uintptr_t src, size_t len)
{
    if (src == 0) {
        LOG_ERR("%s source is NULL", what);
        return false;
    }
    if (len > UINTPTR_MAX - src) {
        LOG_ERR("%s source [0x%lx, +0x%zx) wraps the address space", what, (unsigned long)src, len);
        return false;
    }
    const struct guest_config *cfg = guest_config_get();
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        const struct guest_ram_region *r = &cfg->ram[i];
        if (ranges_overlap(src, len, r->vmm_vaddr, r->size)) {
            LOG_ERR("%s source [0x%lx, +0x%zx) lies in guest RAM region %zu [0x%lx, +0x%llx): it must stay "
                    "intact for guest_restart",
                    what, (unsigned long)src, len, i, (unsigned long)r->vmm_vaddr, (unsigned long long)r->size);
            return false;
        }
    }
    return true;
}

static bool dest_valid(const char *what, uint64_t gpa, uint64_t len)
{
    if (len > SIZE_MAX || guest_ram_ptr(gpa, (size_t)len) == NULL) {
        LOG_ERR("%s destination [0x%llx, +0x%llx) is not inside one guest RAM region", what, (unsigned long long)gpa,
                (unsigned long long)len);
        return false;
    }
    return true;
}

static bool dtb_valid(const struct loader_images *img)
{
    if (img->dtb_size < sizeof(struct fdt_header) || img->dtb_size > LOADER_DTB_MAX_SIZE) {
        LOG_ERR("DTB size 0x%zx outside [0x%zx, 0x%x] (booting.rst: at most 2 MiB)", img->dtb_size,
                sizeof(struct fdt_header), LOADER_DTB_MAX_SIZE);
        return false;
    }
    if (!source_valid("DTB", img->dtb_src, img->dtb_size)) {
        return false;
    }
    if (img->dtb_src & 7) {
        LOG_ERR("DTB source 0x%lx is not 8-byte aligned (libfdt requires it)", (unsigned long)img->dtb_src);
        return false;
    }
    const void *fdt = (const void *)img->dtb_src;
    uint32_t magic = fdt_magic(fdt);
    if (magic != FDT_MAGIC) {
        LOG_ERR("DTB magic 0x%08x, expected 0x%08x", magic, FDT_MAGIC);
        return false;
    }
    uint32_t total = fdt_totalsize(fdt);
    if (total > img->dtb_size) {
        LOG_ERR("DTB totalsize 0x%x exceeds the 0x%zx bytes given", total, img->dtb_size);
        return false;
    }
    if (total > LOADER_DTB_MAX_SIZE - LOADER_DTB_SLACK) {
        LOG_ERR("DTB totalsize 0x%x leaves no room for the /chosen patch below 2 MiB", total);
        return false;
    }
    int err = dtb_chosen_check(fdt, img->dtb_size);
    if (err != 0) {
        LOG_ERR("DTB is malformed: %s", fdt_strerror(err));
        return false;
    }
    if (img->dtb_dest & 7) {
        LOG_ERR("DTB destination 0x%llx is not 8-byte aligned (booting.rst)", (unsigned long long)img->dtb_dest);
        return false;
    }
    return dest_valid("DTB (+slack)", img->dtb_dest, (uint64_t)img->dtb_size + LOADER_DTB_SLACK);
}

static bool initrd_valid(const struct loader_images *img)
{
    if (img->initrd_size == 0) {
        return true;
    }
    return source_valid("initrd", img->initrd_src, img->initrd_size) &&
           dest_valid("initrd", img->initrd_dest, img->initrd_size);
}

static bool no_overlap(const char *a, uint64_t a_gpa, uint64_t a_len, const char *b, uint64_t b_gpa, uint64_t b_len)
{
    if (ranges_overlap(a_gpa, a_len, b_gpa, b_len)) {
        LOG_ERR("%s [0x%llx, +0x%llx) overlaps %s [0x%llx, +0x%llx)", a, (unsigned long long)a_gpa,
                (unsigned long long)a_len, b, (unsigned long long)b_gpa, (unsigned long long)b_len);
        return false;
    }
    return true;
}

static bool layout_valid(const struct loader_images *img, const struct loader_kernel_place *k)
{
    uint64_t dtb_len = (uint64_t)img->dtb_size + LOADER_DTB_SLACK;
    return no_overlap("kernel footprint", k->load, k->footprint, "DTB (+slack)", img->dtb_dest, dtb_len) &&
           no_overlap("kernel footprint", k->load, k->footprint, "initrd", img->initrd_dest, img->initrd_size) &&
           no_overlap("DTB (+slack)", img->dtb_dest, dtb_len, "initrd", img->initrd_dest, img->initrd_size);
}

static bool images_valid(const struct loader_images *img, struct loader_kernel_place *k)
{
    if (guest_config_get() == NULL) {
        LOG_ERR("guest_init() has not been called");
        return false;
    }
    const struct guest_ram_region *r = region_at(img->ram_start);
    if (r == NULL) {
        LOG_ERR("ram_start 0x%lx is not the VMM address of a configured RAM region", (unsigned long)img->ram_start);
        return false;
    }
    if (img->kernel_size == 0) {
        LOG_ERR("kernel size is 0");
        return false;
    }
    if (!source_valid("kernel", img->kernel, img->kernel_size)) {
        return false;
    }
    bool placed =
        img->kind == LOADER_KIND_LINUX ? loader_linux_place(img, r->gpa, k) : loader_raw_place(img, r->gpa, k);
    return placed && dest_valid("kernel footprint", k->load, k->footprint) && dtb_valid(img) && initrd_valid(img) &&
           layout_valid(img, k);
}

static bool copy_images(const struct loader_images *img, const struct loader_kernel_place *k)
{
    void *kernel = guest_ram_ptr(k->load, img->kernel_size);
    size_t dtb_len = img->dtb_size + LOADER_DTB_SLACK;
    void *dtb = guest_ram_ptr(img->dtb_dest, dtb_len);
    memcpy(kernel, (const void *)img->kernel, img->kernel_size);
    int err = dtb_chosen_install(dtb, dtb_len, (const void *)img->dtb_src, img->initrd_dest, img->initrd_size);
    if (err != 0) {
        /* Unreachable after dtb_chosen_check and the slack; reported rather than trusted. */
        LOG_ERR("patching the DTB copy failed: %s", fdt_strerror(err));
        return false;
    }
    cache_clean_to_poc((uintptr_t)kernel, img->kernel_size);
    cache_sync_icache((uintptr_t)kernel, img->kernel_size);
    cache_clean_to_poc((uintptr_t)dtb, dtb_len);
    if (img->initrd_size > 0) {
        void *initrd = guest_ram_ptr(img->initrd_dest, img->initrd_size);
        memcpy(initrd, (const void *)img->initrd_src, img->initrd_size);
        cache_clean_to_poc((uintptr_t)initrd, img->initrd_size);
    }
    return true;
}

static bool place_images(const struct loader_images *img, uint64_t *entry)
{
    struct loader_kernel_place k;
    if (!images_valid(img, &k) || !copy_images(img, &k)) {
        return false;
    }
    *entry = k.load;
    return true;
}

uintptr_t loader_setup(const struct loader_images *img)
{
    uint64_t entry;
    if (!place_images(img, &entry)) {
        return LOADER_FAILED;
    }
    record = *img;
    recorded = true;
    LOG_INFO("%s kernel at 0x%llx (0x%zx bytes), DTB at 0x%llx, initrd at 0x%llx (0x%zx bytes)",
             img->kind == LOADER_KIND_LINUX ? "Linux" : "raw", (unsigned long long)entry, img->kernel_size,
             (unsigned long long)img->dtb_dest, (unsigned long long)img->initrd_dest, img->initrd_size);
    return (uintptr_t)entry;
}

bool loader_reload(uint64_t *entry, uint64_t *dtb)
{
    if (!recorded) {
        LOG_ERR("no images were set up: nothing to reload");
        return false;
    }
    if (!place_images(&record, entry)) {
        return false;
    }
    *dtb = record.dtb_dest;
    return true;
}

bool loader_recorded(void)
{
    return recorded;
}

void loader_forget(void)
{
    recorded = false;
    memset(&record, 0, sizeof(record));
}
