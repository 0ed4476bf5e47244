/*
 * Shared part of the image loaders (library-internal): the checks, the copy
 * and the record kept for guest_restart(). loader_linux.c and loader_raw.c
 * only decide where the kernel goes; everything else happens here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* booting.rst: the DTB must not exceed 2 MiB; the kernel base is 2 MiB aligned. */
#define LOADER_DTB_MAX_SIZE (2u << 20)
#define LOADER_KERNEL_ALIGN (2u << 20)

enum loader_kind {
    LOADER_KIND_LINUX, /* arm64 Image: placement from its header */
    LOADER_KIND_RAW, /* raw binary at RAM base + LOADER_RAW_OFFSET */
};

/* The arguments of linux_setup_images()/raw_setup_images(), as given. */
struct loader_images {
    enum loader_kind kind;
    uintptr_t ram_start; /* VMM vaddr of a configured region's base */
    uintptr_t kernel; /* VMM pointer */
    size_t kernel_size;
    uintptr_t dtb_src; /* VMM pointer */
    uint64_t dtb_dest; /* GPA */
    size_t dtb_size;
    uintptr_t initrd_src; /* VMM pointer */
    uint64_t initrd_dest; /* GPA */
    size_t initrd_size;
};

/* Where the kernel goes: [load, load + footprint) in guest-physical space. */
struct loader_kernel_place {
    uint64_t load;
    uint64_t footprint;
};

/*
 * Kind-specific placement (loader_linux.c, loader_raw.c). `ram_gpa` and
 * `ram_size` describe the region ram_start names; the kernel source range is
 * already known to be readable. False (logged) if the image is unacceptable.
 */
bool loader_linux_place(const struct loader_images *img, uint64_t ram_gpa, struct loader_kernel_place *out);
bool loader_raw_place(const struct loader_images *img, uint64_t ram_gpa, struct loader_kernel_place *out);

/*
 * Check everything, then copy the kernel, the patched DTB and the initrd,
 * maintain the caches and record the images for loader_reload(). Returns the
 * entry point (the kernel's load GPA) or LOADER_FAILED with guest RAM untouched.
 */
uintptr_t loader_setup(const struct loader_images *img);

/* True if a successful setup was recorded since the last loader_forget(). */
bool loader_recorded(void);
