/*
 * The image loaders as a host-side input: linux_setup_images() and
 * raw_setup_images() with an arbitrary kernel (the 64-byte arm64 Image header
 * fields especially: text_offset, image_size, flags, magic), arbitrary DTB
 * bytes (a valid tree with mutations, or raw bytes), arbitrary sizes, source
 * pointers (including ones inside guest RAM) and guest-physical destinations.
 *
 * Guest RAM is three regions, each between guard pages: 1 MiB at
 * 0x40000000 and 64 KiB at 0x40200000 (both 2 MiB aligned), 16 KiB at
 * 0x50001000 (not). Before every call each region holds a fill pattern.
 *
 * Invariants, besides ASan/UBSan (sources are exact-size heap blocks) and the
 * guard pages:
 *  - a refused call returns (uintptr_t)-1 and leaves guest RAM byte for byte
 *    as it was;
 *  - an accepted call returns the load address (region base + text_offset,
 *    or + 0x80000 for a raw image), the kernel, DTB and initrd copies are
 *    exact, the DTB copy is a valid tree whose /chosen initrd range is the
 *    one asked for (or absent without an initrd), the kernel footprint
 *    (image_size) overlaps neither, and every other byte of guest RAM is
 *    untouched;
 *  - guest_restart() afterwards succeeds and reproduces the same images in
 *    otherwise zeroed RAM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>
#include <libvmm/guest.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include "fz_support.h"

#define NUM_REGIONS 3
#define PATTERN 0xa5
#define MAX_KERNEL 0x2000
#define MAX_DTB 0x1000
#define MAX_INITRD 0x1000
#define IMAGE_HEADER 64

struct region {
    uint64_t gpa;
    size_t size;
    uint8_t *mem;
};

static struct region regions[NUM_REGIONS] = {
    {.gpa = 0x40000000, .size = 0x100000},
    {.gpa = 0x40200000, .size = 0x10000},
    {.gpa = 0x50001000, .size = 0x4000},
};

static uint8_t *pattern; /* the largest region's size of PATTERN */
static uint8_t *zeros; /* as many zero bytes */
static uint8_t *scratch; /* a region's copy with the image ranges blanked */
static uint8_t *dtb_area; /* guarded: a DTB source ends at most 7 bytes before the guard page */

#define DTB_AREA_SIZE (MAX_DTB + 0x1000)

struct load {
    bool raw;
    uintptr_t ram_start;
    uint8_t *kernel;
    size_t kernel_size;
    uintptr_t dtb_src;
    size_t dtb_size;
    uint64_t dtb_dest;
    uint8_t *initrd;
    size_t initrd_size;
    uint64_t initrd_dest;
};

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i-- > 0;) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Header values that land near the edges the loader must check. */
static uint64_t pick_u64(struct fz *in, const uint64_t *common, size_t ncommon)
{
    uint8_t sel = fz_u8(in);
    if (sel < 2 * ncommon) {
        return common[sel / 2] + ((sel & 1) ? fz_u8(in) * 0x1000ull : 0);
    }
    return fz_u64(in);
}

static void build_kernel(struct fz *in, struct load *l)
{
    static const uint64_t text_offsets[] = {0, 0x1000, 0x80000, 0xf0000, 0x100000, ~0ull - 0x3fffffff};
    static const uint64_t image_sizes[] = {0, 0x40, 0x2000, 0x10000, 0x80000, 0x100000, ~0ull};
    static const uint64_t flags[] = {0, 1, 2, 4, 6, 8, 0xa, 0xe};
    size_t size = fz_u16(in) % (MAX_KERNEL + 1);
    l->kernel_size = size;
    l->kernel = malloc(size ? size : 1);
    fz_bytes(in, l->kernel, size);
    if (size >= IMAGE_HEADER && !l->raw) {
        uint8_t mode = fz_u8(in);
        put_le(l->kernel + 8, pick_u64(in, text_offsets, 6), 8);
        put_le(l->kernel + 16, pick_u64(in, image_sizes, 7), 8);
        put_le(l->kernel + 24, pick_u64(in, flags, 8), 8);
        if (mode & 1) {
            memcpy(l->kernel + 0x38, "ARM\x64", 4);
        }
    }
}

/* A valid tree (optionally with /chosen, bootargs and an old initrd range), then a few byte mutations. */
static size_t build_valid_dtb(struct fz *in, uint8_t *buf, size_t cap)
{
    uint8_t mode = fz_u8(in);
    if (fdt_create_empty_tree(buf, (int)cap) != 0) {
        fz_fail("fdt_create_empty_tree");
    }
    int node = fdt_add_subnode(buf, 0, "memory@40000000");
    if (node >= 0) {
        fdt_setprop_u64(buf, node, "reg", 0x40000000);
    }
    if (mode & 1) {
        node = fdt_add_subnode(buf, 0, "chosen");
        if (node >= 0 && (mode & 2)) {
            fdt_setprop_string(buf, node, "bootargs", "console=ttyAMA0");
        }
        if (node >= 0 && (mode & 4)) {
            fdt_setprop_u32(buf, node, "linux,initrd-start", 0x1000);
            fdt_setprop_u32(buf, node, "linux,initrd-end", 0x2000);
        }
    }
    fdt_pack(buf);
    size_t size = fdt_totalsize(buf);
    unsigned mutations = (mode >> 4) & 7;
    for (unsigned i = 0; i < mutations; i++) {
        uint16_t at = fz_u16(in);
        buf[at % size] = fz_u8(in);
    }
    if (mode & 8) {
        size += fz_u8(in); /* the VMM may pass a size larger than the tree */
    }
    return size < cap ? size : cap;
}

static void build_dtb(struct fz *in, struct load *l)
{
    uint8_t mode = fz_u8(in);
    uint8_t *tmp = calloc(1, MAX_DTB);
    size_t size;
    if (mode & 1) {
        size = fz_u16(in) % (MAX_DTB + 1);
        fz_bytes(in, tmp, size);
    } else {
        size = build_valid_dtb(in, tmp, MAX_DTB);
    }
    if (mode & 2) {
        size_t cut = fz_u16(in) % (size + 1);
        size = cut;
    }
    /* libfdt is not instrumented: the tree ends next to a guard page instead of an ASan redzone. */
    unsigned misalign = (mode & 4) ? (fz_u8(in) & 7) : 0;
    uintptr_t end = (uintptr_t)dtb_area + DTB_AREA_SIZE;
    uint8_t *src = (uint8_t *)(((end - size - misalign) & ~(uintptr_t)7) + misalign);
    memcpy(src, tmp, size);
    l->dtb_src = (uintptr_t)src;
    l->dtb_size = size;
    free(tmp);
}

static uint64_t pick_dest(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    uint32_t off = fz_u32(in);
    if (sel < 0xc0) {
        const struct region *r = &regions[sel % NUM_REGIONS];
        return r->gpa + (off % (r->size + 0x1000)); /* sometimes past the end */
    }
    if (sel < 0xe0) {
        return regions[0].gpa - (off & 0xffff);
    }
    return fz_u64(in);
}

static uintptr_t pick_ram_start(struct fz *in)
{
    uint8_t sel = fz_u8(in);
    if (sel < 0xe0) {
        return (uintptr_t)regions[sel % NUM_REGIONS].mem;
    }
    if (sel < 0xf0) {
        return (uintptr_t)regions[0].mem + (sel & 0xf) * 8;
    }
    return (uintptr_t)fz_u64(in);
}

static void build_load(struct fz *in, struct load *l)
{
    uint8_t mode = fz_u8(in);
    l->raw = (mode & 1) != 0;
    l->ram_start = pick_ram_start(in);
    build_kernel(in, l);
    build_dtb(in, l);
    l->dtb_dest = pick_dest(in);
    l->initrd_size = (mode & 2) ? fz_u16(in) % (MAX_INITRD + 1) : 0;
    l->initrd = malloc(l->initrd_size ? l->initrd_size : 1);
    fz_bytes(in, l->initrd, l->initrd_size);
    l->initrd_dest = pick_dest(in);
}

static uintptr_t call_loader(const struct load *l, uint8_t sources)
{
    uintptr_t kernel = (uintptr_t)l->kernel;
    uintptr_t initrd = (uintptr_t)l->initrd;
    /* Now and then a source inside guest RAM or NULL: both must be refused. */
    if (sources == 1) {
        kernel = (uintptr_t)regions[0].mem + 0x100;
    } else if (sources == 2) {
        initrd = (uintptr_t)regions[1].mem;
    } else if (sources == 3) {
        kernel = 0;
    }
    if (l->raw) {
        return raw_setup_images(l->ram_start, kernel, l->kernel_size, l->dtb_src, l->dtb_dest, l->dtb_size, initrd,
                                l->initrd_dest, l->initrd_size);
    }
    return linux_setup_images(l->ram_start, kernel, l->kernel_size, l->dtb_src, l->dtb_dest, l->dtb_size, initrd,
                              l->initrd_dest, l->initrd_size);
}

/* ---- invariants ---- */

static uint8_t *host(uint64_t gpa, size_t len, size_t *region)
{
    for (size_t i = 0; i < NUM_REGIONS; i++) {
        const struct region *r = &regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
            *region = i;
            return r->mem + (gpa - r->gpa);
        }
    }
    return NULL;
}

static bool overlaps(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
    return a_len != 0 && b_len != 0 && (a <= b ? b - a < a_len : a - b < b_len);
}

/* Every byte of every region outside the given GPA ranges still holds `fill`. */
static void check_untouched_except(uint8_t fill, const uint64_t (*ranges)[2], size_t nranges)
{
    const uint8_t *expect = fill == 0 ? zeros : pattern;
    for (size_t i = 0; i < NUM_REGIONS; i++) {
        const struct region *r = &regions[i];
        memcpy(scratch, r->mem, r->size);
        for (size_t k = 0; k < nranges; k++) {
            uint64_t lo = ranges[k][0] > r->gpa ? ranges[k][0] : r->gpa;
            uint64_t hi_range = ranges[k][0] + ranges[k][1];
            uint64_t hi = hi_range < r->gpa + r->size ? hi_range : r->gpa + r->size;
            if (ranges[k][1] != 0 && lo < hi) {
                memset(scratch + (lo - r->gpa), fill, hi - lo);
            }
        }
        FZ_CHECK(memcmp(scratch, expect, r->size) == 0, "guest RAM region %zu changed outside every image", i);
    }
}

static void check_refused_untouched(void)
{
    for (size_t i = 0; i < NUM_REGIONS; i++) {
        FZ_CHECK(memcmp(regions[i].mem, pattern, regions[i].size) == 0, "a refused load changed guest RAM region %zu",
                 i);
    }
}

static void check_dtb_copy(const struct load *l, const uint8_t *dtb)
{
    FZ_CHECK(fdt_check_full(dtb, l->dtb_size + LOADER_DTB_SLACK) == 0 &&
                 fdt_totalsize(dtb) <= l->dtb_size + LOADER_DTB_SLACK,
             "the DTB copy is not a valid tree within its room");
    int chosen = fdt_path_offset(dtb, "/chosen");
    int len_s = -1, len_e = -1;
    const void *ps = chosen >= 0 ? fdt_getprop(dtb, chosen, "linux,initrd-start", &len_s) : NULL;
    const void *pe = chosen >= 0 ? fdt_getprop(dtb, chosen, "linux,initrd-end", &len_e) : NULL;
    if (l->initrd_size == 0) {
        FZ_CHECK(ps == NULL && pe == NULL, "initrd properties left in /chosen without an initrd");
        return;
    }
    FZ_CHECK(ps != NULL && pe != NULL && len_s == 8 && len_e == 8, "/chosen initrd properties missing");
    fdt64_t s, e;
    memcpy(&s, ps, 8);
    memcpy(&e, pe, 8);
    FZ_CHECK(fdt64_to_cpu(s) == l->initrd_dest && fdt64_to_cpu(e) == l->initrd_dest + l->initrd_size,
             "/chosen initrd range [0x%llx, 0x%llx) is not [0x%llx, +0x%zx)", (unsigned long long)fdt64_to_cpu(s),
             (unsigned long long)fdt64_to_cpu(e), (unsigned long long)l->initrd_dest, l->initrd_size);
}

/* The images as placed: kernel, DTB room, initrd (GPA, length). */
static size_t image_ranges(const struct load *l, uint64_t entry, uint64_t (*ranges)[2])
{
    ranges[0][0] = entry;
    ranges[0][1] = l->kernel_size;
    ranges[1][0] = l->dtb_dest;
    ranges[1][1] = l->dtb_size + LOADER_DTB_SLACK;
    ranges[2][0] = l->initrd_dest;
    ranges[2][1] = l->initrd_size;
    return 3;
}

static void check_images(const struct load *l, uint64_t entry, uint8_t fill, const uint8_t *dtb_expect)
{
    size_t rk, rd, ri;
    uint8_t *k = host(entry, l->kernel_size, &rk);
    uint8_t *d = host(l->dtb_dest, l->dtb_size + LOADER_DTB_SLACK, &rd);
    FZ_CHECK(k != NULL && d != NULL, "accepted images lie outside guest RAM");
    FZ_CHECK(memcmp(k, l->kernel, l->kernel_size) == 0, "kernel copy differs");
    check_dtb_copy(l, d);
    if (dtb_expect != NULL) {
        FZ_CHECK(memcmp(d, dtb_expect, fdt_totalsize(dtb_expect)) == 0, "the reloaded DTB differs from the first");
    }
    if (l->initrd_size > 0) {
        uint8_t *i = host(l->initrd_dest, l->initrd_size, &ri);
        FZ_CHECK(i != NULL && memcmp(i, l->initrd, l->initrd_size) == 0, "initrd copy differs");
    }
    uint64_t ranges[3][2];
    check_untouched_except(fill, ranges, image_ranges(l, entry, ranges));
}

static void check_accepted(const struct load *l, uint64_t entry)
{
    /* The base is the ram_start region's; the image itself may lie in another region above it (booting.rst). */
    size_t r = 0;
    while (r < NUM_REGIONS && (uintptr_t)regions[r].mem != l->ram_start) {
        r++;
    }
    FZ_CHECK(r < NUM_REGIONS && entry >= regions[r].gpa, "accepted ram_start 0x%lx / entry 0x%llx",
             (unsigned long)l->ram_start, (unsigned long long)entry);
    uint64_t text_offset = entry - regions[r].gpa;
    if (l->raw) {
        FZ_CHECK(text_offset == LOADER_RAW_OFFSET, "raw image placed at +0x%llx", (unsigned long long)text_offset);
    } else {
        uint64_t image_size = get_le(l->kernel + 16, 8);
        uint64_t want = image_size == 0 ? 0x80000 : get_le(l->kernel + 8, 8);
        FZ_CHECK(regions[r].gpa % (2u << 20) == 0 && text_offset == want, "Image placed at +0x%llx, header says 0x%llx",
                 (unsigned long long)text_offset, (unsigned long long)want);
        FZ_CHECK(memcmp(l->kernel + 0x38, "ARM\x64", 4) == 0 && !(get_le(l->kernel + 24, 8) & 1),
                 "accepted an Image with a bad magic or big-endian flag");
        uint64_t foot = image_size > l->kernel_size ? image_size : l->kernel_size;
        size_t fr;
        FZ_CHECK(host(entry, foot, &fr) != NULL, "kernel footprint [0x%llx, +0x%llx) is not inside one RAM region",
                 (unsigned long long)entry, (unsigned long long)foot);
        FZ_CHECK(!overlaps(entry, foot, l->dtb_dest, l->dtb_size + LOADER_DTB_SLACK) &&
                     !overlaps(entry, foot, l->initrd_dest, l->initrd_size),
                 "kernel footprint overlaps the DTB or initrd");
    }
    FZ_CHECK(!overlaps(l->dtb_dest, l->dtb_size + LOADER_DTB_SLACK, l->initrd_dest, l->initrd_size),
             "DTB and initrd overlap");
    check_images(l, entry, PATTERN, NULL);
}

/* Reboot: zeroed RAM, the same images again. */
static void check_restart(const struct load *l, uint64_t entry)
{
    size_t rd;
    const uint8_t *d = host(l->dtb_dest, 1, &rd);
    size_t total = fdt_totalsize(d);
    uint8_t *first = malloc(total);
    memcpy(first, d, total);
    size_t r;
    host(entry, 1, &r);
    FZ_CHECK(guest_restart(0, (uintptr_t)regions[r].mem, regions[r].size), "guest_restart after a good load failed");
    FZ_CHECK(fz_get_ctx_word(0, 0) == entry && fz_get_ctx_word(0, 3) == l->dtb_dest,
             "restart did not enter the kernel with x0 = DTB");
    check_images(l, entry, 0, first);
    free(first);
}

static void fill_ram(void)
{
    for (size_t i = 0; i < NUM_REGIONS; i++) {
        memset(regions[i].mem, PATTERN, regions[i].size);
    }
}

static void setup_guest(void)
{
    fz_guest_setup(1, 4, GIC_VERSION_2, regions[0].mem, regions[0].size, false);
    struct guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.num_vcpus = 1;
    cfg.num_ram_regions = NUM_REGIONS;
    for (size_t i = 0; i < NUM_REGIONS; i++) {
        cfg.ram[i].gpa = regions[i].gpa;
        cfg.ram[i].size = regions[i].size;
        cfg.ram[i].vmm_vaddr = (uintptr_t)regions[i].mem;
    }
    cfg.gic_version = GIC_VERSION_2;
    cfg.gicd_gpa = FZ_GICD_GPA;
    if (!guest_init(&cfg)) {
        fz_fail("guest_init with three regions failed");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pattern == NULL) {
        for (size_t i = 0; i < NUM_REGIONS; i++) {
            regions[i].mem = fz_guarded_alloc(regions[i].size);
        }
        pattern = malloc(regions[0].size);
        memset(pattern, PATTERN, regions[0].size);
        zeros = calloc(1, regions[0].size);
        scratch = malloc(regions[0].size);
        dtb_area = fz_guarded_alloc(DTB_AREA_SIZE);
        fill_ram();
        vmm_log_level = LOG_LEVEL_DEBUG;
    }
    struct fz in;
    fz_init(&in, data, size);
    setup_guest();
    struct load l;
    build_load(&in, &l);
    uint8_t sources = fz_u8(&in) % 16;
    uintptr_t entry = call_loader(&l, sources);
    fz_check_kernel();
    if (entry == LOADER_FAILED) {
        check_refused_untouched();
    } else {
        bool bad_source = sources == 1 || sources == 3 || (sources == 2 && l.initrd_size > 0);
        FZ_CHECK(!bad_source, "a load from a bad source (%u) was accepted", sources);
        check_accepted(&l, entry);
        check_restart(&l, entry);
        fill_ram();
    }
    free(l.kernel);
    free(l.initrd);
    return 0;
}
