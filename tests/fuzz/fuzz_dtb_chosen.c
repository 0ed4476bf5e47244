/*
 * The DTB /chosen patcher (src/dtb_chosen.h) on arbitrary bytes and sizes.
 *
 * Input: a mode byte, the initrd start and size, a buffer-size adjustment,
 * then the tree bytes (everything left). The tree is placed so that it ends
 * right before a guard page (libfdt is not instrumented, so the guard page is
 * what catches it reading past `size`), 8-byte aligned or deliberately not.
 *
 * Invariants, besides ASan/UBSan and the guard pages:
 *  - dtb_chosen_check() never writes the tree, and refuses a misaligned one
 *    (as install does a misaligned source or buffer);
 *  - a tree that passes dtb_chosen_check() can always be installed into a
 *    buffer DTB_CHOSEN_MAX_GROWTH bytes larger (the loader relies on this:
 *    it checks everything before copying anything into guest RAM);
 *  - whatever dtb_chosen_install() / dtb_chosen_set_initrd() accept leaves a
 *    tree that passes fdt_check_full() within its buffer, whose /chosen
 *    linux,initrd-start/-end are exactly [start, start + size) as 64-bit
 *    cells, or absent for size 0, and the source tree is unchanged;
 *  - nothing is written past the buffer (guard page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>
#include "dtb_chosen.h"
#include "fz_support.h"

#define MAX_TREE 0x4000
#define AREA_SIZE (MAX_TREE + DTB_CHOSEN_MAX_GROWTH + 0x1000)

static uint8_t *src_area;
static uint8_t *dest_area;
static uint8_t *saved;

/* A pointer to `size` bytes ending within 7 bytes of the guard page after `area`, misaligned by `misalign`. */
static uint8_t *place_at_end(uint8_t *area, size_t size, unsigned misalign)
{
    uintptr_t end = (uintptr_t)area + AREA_SIZE;
    return (uint8_t *)(((end - size - misalign) & ~(uintptr_t)7) + misalign);
}

static uint64_t pick_initrd_size(struct fz *in, uint8_t mode)
{
    switch ((mode >> 2) & 3) {
    case 0:
        return 0;
    case 1:
        return fz_u16(in);
    case 2:
        return ~0ull - fz_u8(in);
    default:
        return fz_u64(in);
    }
}

static void check_patched(const void *fdt, size_t bufsize, uint64_t start, uint64_t size)
{
    FZ_CHECK(fdt_check_full(fdt, bufsize) == 0, "patched tree fails fdt_check_full");
    FZ_CHECK(fdt_totalsize(fdt) <= bufsize, "patched tree (0x%x bytes) exceeds its 0x%zx-byte buffer",
             fdt_totalsize(fdt), bufsize);
    int chosen = fdt_path_offset(fdt, "/chosen");
    int ls = -1, le = -1;
    const void *ps = chosen >= 0 ? fdt_getprop(fdt, chosen, "linux,initrd-start", &ls) : NULL;
    const void *pe = chosen >= 0 ? fdt_getprop(fdt, chosen, "linux,initrd-end", &le) : NULL;
    if (size == 0) {
        FZ_CHECK(ps == NULL && pe == NULL, "initrd properties present after patching with no initrd");
        return;
    }
    FZ_CHECK(ps != NULL && pe != NULL && ls == 8 && le == 8, "initrd properties missing or not 64-bit (%d, %d)", ls,
             le);
    fdt64_t s, e;
    memcpy(&s, ps, 8);
    memcpy(&e, pe, 8);
    FZ_CHECK(fdt64_to_cpu(s) == start && fdt64_to_cpu(e) == start + size, "initrd range [0x%llx, 0x%llx) is wrong",
             (unsigned long long)fdt64_to_cpu(s), (unsigned long long)fdt64_to_cpu(e));
}

/*
 * libfdt is not instrumented, so it gives the fuzzer no coverage feedback.
 * One branch per (stage, error code) here makes each distinct verdict a new
 * edge, so inputs that reach a different libfdt error are kept.
 */
static void note_verdict(unsigned stage, int err)
{
    static volatile unsigned seen[3][FDT_ERR_MAX + 2];
    unsigned code = err >= 0 ? 0 : (unsigned)-err;
    /* clang-format off */
#define VERDICT(n) case n: seen[stage][n]++; break;
    switch (code) {
    VERDICT(0) VERDICT(1) VERDICT(2) VERDICT(3) VERDICT(4) VERDICT(5) VERDICT(6) VERDICT(7) VERDICT(8) VERDICT(9)
    VERDICT(10) VERDICT(11) VERDICT(12) VERDICT(13) VERDICT(14) VERDICT(15) VERDICT(16) VERDICT(17) VERDICT(18)
    VERDICT(19)
    default: seen[stage][FDT_ERR_MAX + 1]++; break;
    }
#undef VERDICT
    /* clang-format on */
}

/* The header's totalsize read byte by byte: the tree may be deliberately misaligned. */
static uint32_t claimed_size(const uint8_t *fdt)
{
    return (uint32_t)fdt[4] << 24 | (uint32_t)fdt[5] << 16 | (uint32_t)fdt[6] << 8 | fdt[7];
}

static bool range_ok(uint64_t start, uint64_t size)
{
    return size <= ~0ull - start;
}

static void try_install(const uint8_t *src, size_t size, size_t extra, unsigned dest_misalign, uint64_t start,
                        uint64_t isize, bool checked)
{
    size_t bufsize = size + DTB_CHOSEN_MAX_GROWTH + extra;
    uint8_t *dest = place_at_end(dest_area, bufsize, dest_misalign);
    memset(dest, 0xee, bufsize);
    int err = dtb_chosen_install(dest, bufsize, src, start, isize);
    note_verdict(1, err);
    FZ_CHECK(memcmp(src, saved, size) == 0, "dtb_chosen_install changed its source");
    if (dest_misalign != 0 || ((uintptr_t)src & 7) != 0) {
        FZ_CHECK(err != 0, "install with a misaligned tree or buffer was accepted");
        return;
    }
    if (checked && range_ok(start, isize)) {
        FZ_CHECK(err == 0, "a tree that passed dtb_chosen_check does not install into 0x%zx bytes: %s", bufsize,
                 fdt_strerror(err));
    }
    if (err == 0) {
        check_patched(dest, bufsize, start, isize);
    }
}

static void try_in_place(const uint8_t *src, size_t size, size_t bufsize, uint64_t start, uint64_t isize, bool checked)
{
    uint8_t *buf = place_at_end(dest_area, bufsize, 0);
    memset(buf, 0, bufsize);
    memcpy(buf, src, size < bufsize ? size : bufsize);
    int err = dtb_chosen_set_initrd(buf, bufsize, start, isize);
    note_verdict(2, err);
    if (checked && range_ok(start, isize) && bufsize >= size + DTB_CHOSEN_MAX_GROWTH) {
        FZ_CHECK(err == 0, "a checked tree cannot be patched in place in 0x%zx bytes: %s", bufsize, fdt_strerror(err));
    }
    if (err == 0) {
        check_patched(buf, bufsize, start, isize);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (src_area == NULL) {
        src_area = fz_guarded_alloc(AREA_SIZE);
        dest_area = fz_guarded_alloc(AREA_SIZE);
        saved = malloc(MAX_TREE);
    }
    struct fz in;
    fz_init(&in, data, size);
    uint8_t mode = fz_u8(&in);
    uint64_t start = (mode & 0x40) ? fz_u64(&in) : 0x48000000ull + fz_u16(&in);
    uint64_t isize = pick_initrd_size(&in, mode);
    size_t extra = fz_u16(&in) % 0x200;
    size_t tree = in.n < MAX_TREE ? in.n : MAX_TREE;
    unsigned misalign = (mode & 1) ? 1 + (mode >> 4) % 7 : 0;
    uint8_t *src = place_at_end(src_area, tree, misalign);
    fz_bytes(&in, src, tree);
    memcpy(saved, src, tree);

    int err = dtb_chosen_check(src, tree);
    note_verdict(0, err);
    FZ_CHECK(memcmp(src, saved, tree) == 0, "dtb_chosen_check changed the tree");
    FZ_CHECK(misalign == 0 || err != 0, "a misaligned tree was accepted");
    bool checked = err == 0;
    /* Unchecked trees too (install checks again), as long as the buffer holds the totalsize it claims. */
    bool claim_fits = tree >= sizeof(struct fdt_header) && claimed_size(src) <= tree;
    if (err == 0 || ((mode & 2) && claim_fits)) {
        try_install(src, tree, extra, (mode & 0x80) ? 4 : 0, start, isize, checked);
    }
    if (err == 0 || (mode & 0x20)) {
        size_t bufsize = (mode & 0x20) ? tree + extra : tree + DTB_CHOSEN_MAX_GROWTH + extra;
        try_in_place(saved, tree, bufsize, start, isize, checked);
    }
    return 0;
}
