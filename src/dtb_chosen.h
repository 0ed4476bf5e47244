/*
 * Patching /chosen in a flattened device tree (library-internal).
 *
 * Linux finds its initrd through /chosen linux,initrd-start and
 * linux,initrd-end (Documentation/devicetree/bindings/chosen.txt; the end is
 * exclusive). Every function here works on plain buffers, never on guest
 * addresses, so it can be unit tested and fuzzed; all return 0 or a negative
 * libfdt error code (-FDT_ERR_*), and none trusts its input.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The most the tree can grow by when dtb_chosen_* adds /chosen and both
 * initrd properties (node, two 8-byte properties and their names). The
 * loader reserves LOADER_DTB_SLACK >= this.
 */
#define DTB_CHOSEN_MAX_GROWTH 128

/*
 * Check, without writing anything, that the tree at `fdt` (`size` readable
 * bytes) can be patched: valid header with totalsize <= size, version >= 17,
 * a structure block that walks cleanly (fdt_check_full), blocks in the
 * standard order without overlap (so the patch needs no more room than
 * DTB_CHOSEN_MAX_GROWTH beyond size), and a root node from which /chosen can
 * be looked up. `fdt` must be 8-byte aligned (libfdt >= 1.6):
 * -FDT_ERR_ALIGNMENT otherwise.
 */
int dtb_chosen_check(const void *fdt, size_t size);

/*
 * Copy the tree at `src` (fdt_totalsize(src) readable bytes; it is checked
 * again as dtb_chosen_check() does) into `dest`, a buffer of `bufsize` bytes
 * that must not overlap it, then set the initrd range as
 * dtb_chosen_set_initrd() does. Both must be 8-byte aligned.
 */
int dtb_chosen_install(void *dest, size_t bufsize, const void *src, uint64_t initrd_start, uint64_t initrd_size);

/*
 * In place: the tree at `fdt` lives in a buffer of `bufsize` bytes (it may be
 * larger than the tree's totalsize). With initrd_size > 0, set /chosen
 * linux,initrd-start = start and linux,initrd-end = start + size as 64-bit
 * big-endian cells, creating /chosen if missing; with initrd_size 0 remove
 * both properties. The tree is packed afterwards (totalsize shrinks to fit).
 */
int dtb_chosen_set_initrd(void *fdt, size_t bufsize, uint64_t initrd_start, uint64_t initrd_size);
