/*
 * /chosen initrd properties (see dtb_chosen.h). Device tree format: Devicetree
 * Specification v0.4 chapter 5; the patch uses libfdt's read-write API.
 */
#include <stdbool.h>
#include <string.h>
#include <libfdt.h>
#include "dtb_chosen.h"

static const char chosen_path[] = "/chosen";
static const char prop_start[] = "linux,initrd-start";
static const char prop_end[] = "linux,initrd-end";

/* libfdt >= 1.6 requires 8-byte aligned trees; reading a misaligned header is undefined behaviour in C. */
static bool aligned(const void *p)
{
    return ((uintptr_t)p & 7) == 0;
}

/*
 * fdt_open_into() (libfdt's first step of every edit) copies a tree whose
 * blocks lie in the standard order (Devicetree Specification v0.4 section
 * 5.1: header, memory reservation map, structure, strings, no overlap) as it
 * is. Any other layout it rebuilds into room for all blocks laid end to end,
 * plus a whole copy when patching in place, which a crafted tree with
 * overlapping blocks can make larger than its totalsize: the room the loader
 * reserves would not do, and the refusal would come only after the kernel had
 * been copied. Such trees are refused here. Found by tests/fuzz/fuzz_dtb_chosen.
 */
static int check_layout(const void *fdt)
{
    int rsv = fdt_num_mem_rsv(fdt);
    if (rsv < 0) {
        return rsv;
    }
    uint64_t header_end = (sizeof(struct fdt_header) + 7) & ~(uint64_t)7;
    uint64_t rsv_end = fdt_off_mem_rsvmap(fdt) + ((uint64_t)rsv + 1) * sizeof(struct fdt_reserve_entry);
    uint64_t struct_end = (uint64_t)fdt_off_dt_struct(fdt) + fdt_size_dt_struct(fdt);
    uint64_t strings_end = (uint64_t)fdt_off_dt_strings(fdt) + fdt_size_dt_strings(fdt);
    if (fdt_off_mem_rsvmap(fdt) < header_end || fdt_off_dt_struct(fdt) < rsv_end ||
        fdt_off_dt_strings(fdt) < struct_end || strings_end > fdt_totalsize(fdt)) {
        return -FDT_ERR_BADLAYOUT;
    }
    return 0;
}

/* A big-endian cell of the structure block, which may sit at any alignment. */
static uint32_t struct_cell(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk the structure block once before libfdt does: libfdt 1.6.1's
 * fdt_next_tag() adds a property's length to an int, so a length near 2^32
 * moves its walk backwards and fdt_check_full() never returns (found by
 * tests/fuzz/fuzz_dtb_chosen). Here every step advances by at least one
 * cell and every length must fit in what is left of the block.
 */
static int check_struct_walk(const void *fdt)
{
    const uint8_t *blk = (const uint8_t *)fdt + fdt_off_dt_struct(fdt);
    uint32_t size = fdt_size_dt_struct(fdt);
    uint32_t off = 0;
    while (size - off >= FDT_TAGSIZE) {
        uint32_t tag = struct_cell(blk + off);
        off += FDT_TAGSIZE;
        if (tag == FDT_END) {
            return 0;
        }
        if (tag == FDT_BEGIN_NODE) {
            const uint8_t *name = blk + off;
            const uint8_t *nul = memchr(name, '\0', size - off);
            if (nul == NULL) {
                return -FDT_ERR_TRUNCATED;
            }
            off += (uint32_t)(nul - name) + 1;
        } else if (tag == FDT_PROP) {
            if (size - off < 2 * FDT_TAGSIZE) {
                return -FDT_ERR_TRUNCATED;
            }
            uint32_t len = struct_cell(blk + off);
            off += 2 * FDT_TAGSIZE; /* len, nameoff */
            if (len > size - off) {
                return -FDT_ERR_BADSTRUCTURE;
            }
            off += len;
        } else if (tag != FDT_END_NODE && tag != FDT_NOP) {
            return -FDT_ERR_BADSTRUCTURE;
        }
        off = (off + FDT_TAGSIZE - 1) & ~(uint32_t)(FDT_TAGSIZE - 1);
        if (off > size) {
            return -FDT_ERR_TRUNCATED;
        }
    }
    return -FDT_ERR_TRUNCATED;
}

/* Header, size, version: everything that can be judged before the blocks are walked. */
static int check_header(const void *fdt, size_t size)
{
    if (fdt == NULL || size < sizeof(struct fdt_header)) {
        return -FDT_ERR_TRUNCATED;
    }
    if (!aligned(fdt)) {
        return -FDT_ERR_ALIGNMENT;
    }
    int err = fdt_check_header(fdt);
    if (err != 0) {
        return err;
    }
    if (fdt_totalsize(fdt) > size) {
        return -FDT_ERR_TRUNCATED;
    }
    /*
     * Version 17 only (the current format, Devicetree Specification v0.4
     * section 5.2). Below 16 fdt_open_into() cannot convert a tree and libfdt
     * 1.6.1's fdt_check_full() crashes on some; in a version 16 tree libfdt
     * reads names beyond size_dt_strings, which the version 17 copy then
     * cuts off (found by tests/fuzz/fuzz_dtb_chosen).
     */
    if (fdt_version(fdt) < 17) {
        return -FDT_ERR_BADVERSION;
    }
    return 0;
}

int dtb_chosen_check(const void *fdt, size_t size)
{
    int err = check_header(fdt, size);
    if (err == 0) {
        err = check_struct_walk(fdt);
    }
    if (err == 0) {
        err = fdt_check_full(fdt, size);
    }
    if (err == 0) {
        err = check_layout(fdt);
    }
    if (err != 0) {
        return err;
    }
    /* fdt_check_full accepts a NOP before the root node; the patch needs offset 0 to be the root. */
    int chosen = fdt_path_offset(fdt, chosen_path);
    if (chosen < 0 && chosen != -FDT_ERR_NOTFOUND) {
        return chosen;
    }
    return 0;
}

static int chosen_node(void *fdt)
{
    int node = fdt_path_offset(fdt, chosen_path);
    if (node == -FDT_ERR_NOTFOUND) {
        node = fdt_add_subnode(fdt, 0, chosen_path + 1);
    }
    return node;
}

/*
 * Remove every copy of the property: fdt_check_full() does not reject
 * duplicate property names, and a copy left behind would keep a stale initrd
 * range in the guest's tree (found by tests/fuzz/fuzz_dtb_chosen).
 */
static int delprop_all(void *fdt, int node, const char *name)
{
    int err;
    do {
        err = fdt_delprop(fdt, node, name);
    } while (err == 0);
    return err == -FDT_ERR_NOTFOUND ? 0 : err;
}

/* The tree is open (totalsize == its buffer): patch, then pack. */
static int patch_open_tree(void *fdt, uint64_t start, uint64_t size)
{
    int node = chosen_node(fdt);
    if (node < 0) {
        return node;
    }
    int err = delprop_all(fdt, node, prop_start);
    if (err == 0) {
        err = delprop_all(fdt, node, prop_end);
    }
    if (err == 0 && size > 0) {
        err = fdt_setprop_u64(fdt, node, prop_start, start);
        if (err == 0) {
            err = fdt_setprop_u64(fdt, node, prop_end, start + size);
        }
    }
    if (err != 0) {
        return err;
    }
    return fdt_pack(fdt);
}

static int range_valid(uint64_t start, uint64_t size)
{
    return size <= UINT64_MAX - start;
}

int dtb_chosen_install(void *dest, size_t bufsize, const void *src, uint64_t initrd_start, uint64_t initrd_size)
{
    if (dest == NULL || src == NULL || bufsize > INT32_MAX || !range_valid(initrd_start, initrd_size)) {
        return -FDT_ERR_BADVALUE;
    }
    if (!aligned(src) || !aligned(dest)) {
        return -FDT_ERR_ALIGNMENT;
    }
    /*
     * Checked again rather than trusted: fdt_open_into() only probes the
     * header, and libfdt 1.6.1 memmoves a negative length for a bogus
     * off_mem_rsvmap (found by tests/fuzz/fuzz_dtb_chosen).
     */
    int err = fdt_check_header(src);
    if (err == 0) {
        err = dtb_chosen_check(src, fdt_totalsize(src));
    }
    if (err != 0) {
        return err;
    }
    err = fdt_open_into(src, dest, (int)bufsize);
    if (err != 0) {
        return err;
    }
    return patch_open_tree(dest, initrd_start, initrd_size);
}

int dtb_chosen_set_initrd(void *fdt, size_t bufsize, uint64_t initrd_start, uint64_t initrd_size)
{
    if (bufsize > INT32_MAX || !range_valid(initrd_start, initrd_size)) {
        return -FDT_ERR_BADVALUE;
    }
    int err = dtb_chosen_check(fdt, bufsize);
    if (err != 0) {
        return err;
    }
    err = fdt_open_into(fdt, fdt, (int)bufsize);
    if (err != 0) {
        return err;
    }
    return patch_open_tree(fdt, initrd_start, initrd_size);
}
