/*
 * Placing a guest's boot images into guest RAM.
 *
 * linux_setup_images() is the seed function (exact 0.1.0 signature) and only
 * accepts an arm64 Linux `Image` (Linux Documentation/arch/arm64/booting.rst).
 * raw_setup_images() places a raw binary as QEMU's `-kernel` does.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define LOADER_FAILED ((uintptr_t)-1)

/*
 * Copy an arm64 Linux Image, a device tree and an optional initrd into guest
 * RAM and return the guest-physical entry point, or (uintptr_t)-1 with a
 * logged reason and guest RAM untouched.
 *
 * ram_start   VMM-virtual address of a configured guest RAM region; the kernel
 *             is placed at that region's guest-physical base (which must be
 *             2 MiB aligned) + text_offset.
 * kernel      VMM pointer to the Image (header magic "ARM\x64" at 0x38),
 *             kernel_size bytes. image_size (footprint incl. BSS) and flags
 *             are honoured: the image must be little-endian; page size
 *             unspecified, 4 KiB or 64 KiB is accepted, 16 KiB is refused
 *             (cortex-a57 has no 16 KiB granule). image_size 0 means a
 *             pre-3.17 kernel: text_offset 0x80000 and the file size are used.
 * dtb_src     VMM pointer to a flattened device tree, dtb_size bytes, 8-byte
 *             aligned (libfdt requires it); its totalsize must be at most
 *             2 MiB - LOADER_DTB_SLACK so the patched copy fits booting.rst's
 *             2 MiB limit.
 * dtb_dest    guest-physical destination, 8-byte aligned; the copy gets
 *             /chosen linux,initrd-start/-end set (or removed when there is no
 *             initrd), so it needs up to LOADER_DTB_SLACK bytes more room.
 * initrd_*    optional (initrd_size 0 = none); guest-physical destination.
 *
 * Sources (kernel, DTB, initrd) must lie outside guest RAM: guest_restart()
 * reloads from them after the guest has run.
 *
 * Everything is checked before anything is copied: all destinations inside
 * guest RAM, no overlap between the kernel footprint, the DTB (with slack) and
 * the initrd, DTB magic and size. After copying, the data cache is cleaned to
 * the point of coherency and the instruction cache invalidated. The images are
 * recorded for guest_restart().
 */
uintptr_t linux_setup_images(uintptr_t ram_start, uintptr_t kernel, size_t kernel_size, uintptr_t dtb_src,
                             uintptr_t dtb_dest, size_t dtb_size, uintptr_t initrd_src, uintptr_t initrd_dest,
                             size_t initrd_size);

/* Room the DTB copy may grow by when /chosen is patched. */
#define LOADER_DTB_SLACK 256

/* Offset from the RAM base at which a raw binary is placed (QEMU -kernel). */
#define LOADER_RAW_OFFSET 0x80000

/*
 * Place a raw binary (no Image header) at the region's guest-physical base +
 * LOADER_RAW_OFFSET, as QEMU does for `-kernel` of a non-Image file, with the
 * same DTB/initrd handling and checks as linux_setup_images(). Returns the
 * entry point (the load address) or (uintptr_t)-1.
 */
uintptr_t raw_setup_images(uintptr_t ram_start, uintptr_t image, size_t image_size, uintptr_t dtb_src,
                           uintptr_t dtb_dest, size_t dtb_size, uintptr_t initrd_src, uintptr_t initrd_dest,
                           size_t initrd_size);
