/*
 * /chosen initrd properties (see dtb_chosen.h). Device tree format: Devicetree
 * Specification v0.4 chapter 5; the patch uses libfdt's read-write API.
 */
#include <libfdt.h>
#include "dtb_chosen.h"

static const char chosen_path[] = "/chosen";
static const char prop_start[] = "linux,initrd-start";
static const char prop_end[] = "linux,initrd-end";

int dtb_chosen_check(const void *fdt, size_t size)
{
    if (fdt == NULL || size < sizeof(struct fdt_header)) {
        return -FDT_ERR_TRUNCATED;
    }
    int err = fdt_check_header(fdt);
    if (err != 0) {
        return err;
    }
    if (fdt_totalsize(fdt) > size) {
        return -FDT_ERR_TRUNCATED;
    }
    err = fdt_check_full(fdt, size);
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

static int delprop_if_present(void *fdt, int node, const char *name)
{
    int err = fdt_delprop(fdt, node, name);
    return err == -FDT_ERR_NOTFOUND ? 0 : err;
}

/* The tree is open (totalsize == its buffer): patch, then pack. */
static int patch_open_tree(void *fdt, uint64_t start, uint64_t size)
{
    int node = chosen_node(fdt);
    if (node < 0) {
        return node;
    }
    int err;
    if (size > 0) {
        err = fdt_setprop_u64(fdt, node, prop_start, start);
        if (err == 0) {
            err = fdt_setprop_u64(fdt, node, prop_end, start + size);
        }
    } else {
        err = delprop_if_present(fdt, node, prop_start);
        if (err == 0) {
            err = delprop_if_present(fdt, node, prop_end);
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
    int err = fdt_open_into(src, dest, (int)bufsize);
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
