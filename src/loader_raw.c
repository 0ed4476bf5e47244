/*
 * Raw binaries (no Image header), placed as QEMU's `-kernel` places a file it
 * does not recognise on arm64: at the RAM base + 0x80000, entered there with
 * x0 = DTB (QEMU hw/arm/boot.c behaviour, DESIGN section 4).
 */
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include "loader_common.h"

bool loader_raw_place(const struct loader_images *img, uint64_t ram_gpa, struct loader_kernel_place *out)
{
    if (ram_gpa > UINT64_MAX - LOADER_RAW_OFFSET) {
        LOG_ERR("RAM base 0x%llx + 0x%x overflows the address space", (unsigned long long)ram_gpa, LOADER_RAW_OFFSET);
        return false;
    }
    out->load = ram_gpa + LOADER_RAW_OFFSET;
    out->footprint = img->kernel_size;
    return true;
}

uintptr_t raw_setup_images(uintptr_t ram_start, uintptr_t image, size_t image_size, uintptr_t dtb_src,
                           uintptr_t dtb_dest, size_t dtb_size, uintptr_t initrd_src, uintptr_t initrd_dest,
                           size_t initrd_size)
{
    const struct loader_images img = {
        .kind = LOADER_KIND_RAW,
        .ram_start = ram_start,
        .kernel = image,
        .kernel_size = image_size,
        .dtb_src = dtb_src,
        .dtb_dest = dtb_dest,
        .dtb_size = dtb_size,
        .initrd_src = initrd_src,
        .initrd_dest = initrd_dest,
        .initrd_size = initrd_size,
    };
    return loader_setup(&img);
}
