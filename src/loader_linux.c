/*
 * arm64 Linux Image placement (Linux Documentation/arch/arm64/booting.rst
 * section 4, "Call the kernel image"): the 64-byte header gives text_offset,
 * image_size and flags; the image goes text_offset bytes above a 2 MiB
 * aligned base and needs image_size bytes (including BSS) from there.
 *
 * Page size (flags bits 1-2): the guest's stage-1 granule is independent of
 * the 4 KiB stage-2 the hypervisor uses, so only the CPU's support matters.
 * Unspecified, 4 KiB and 64 KiB are accepted; 16 KiB is refused because the
 * cortex-a57 this project runs on (DESIGN section 3) has no 16 KiB granule
 * (ID_AA64MMFR0_EL1.TGran16 = 0) and such a kernel would hang before its
 * first console line.
 */
#include <string.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include "guest_internal.h"
#include "loader_common.h"

#define IMAGE_HEADER_SIZE 64
#define IMAGE_OFF_TEXT_OFFSET 8
#define IMAGE_OFF_IMAGE_SIZE 16
#define IMAGE_OFF_FLAGS 24
#define IMAGE_OFF_MAGIC 0x38
#define IMAGE_MAGIC 0x644d5241u /* "ARM\x64" read little-endian */

#define IMAGE_FLAG_BE (1u << 0)
#define IMAGE_FLAG_PHYS_ANYWHERE (1u << 3)
#define IMAGE_FLAG_PAGE_SHIFT 1
#define IMAGE_FLAG_PAGE_MASK 3u
#define IMAGE_PAGE_UNSPECIFIED 0
#define IMAGE_PAGE_4K 1
#define IMAGE_PAGE_16K 2
#define IMAGE_PAGE_64K 3

/* Pre-3.17 kernels (image_size == 0) have text_offset of unknown endianness: assume 0x80000. */
#define IMAGE_LEGACY_TEXT_OFFSET 0x80000

struct image_header {
    uint64_t text_offset;
    uint64_t image_size;
    uint64_t flags;
    uint32_t magic;
};

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i-- > 0;) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* The header is copied out first: the Image may sit at any alignment. */
static void header_read(uintptr_t kernel, struct image_header *h)
{
    uint8_t raw[IMAGE_HEADER_SIZE];
    memcpy(raw, (const void *)kernel, sizeof(raw));
    h->text_offset = get_le(raw + IMAGE_OFF_TEXT_OFFSET, 8);
    h->image_size = get_le(raw + IMAGE_OFF_IMAGE_SIZE, 8);
    h->flags = get_le(raw + IMAGE_OFF_FLAGS, 8);
    h->magic = (uint32_t)get_le(raw + IMAGE_OFF_MAGIC, 4);
}

static bool flags_valid(uint64_t flags)
{
    if (flags & IMAGE_FLAG_BE) {
        LOG_ERR("kernel is big-endian (Image flags 0x%llx): only little-endian guests are supported",
                (unsigned long long)flags);
        return false;
    }
    unsigned page = (unsigned)(flags >> IMAGE_FLAG_PAGE_SHIFT) & IMAGE_FLAG_PAGE_MASK;
    if (page == IMAGE_PAGE_16K) {
        LOG_ERR("kernel uses 16 KiB pages (Image flags 0x%llx): the cortex-a57 has no 16 KiB granule",
                (unsigned long long)flags);
        return false;
    }
    return true;
}

/* flags bit 3 clear: memory below the kernel's 2 MiB base is not in the linear map (booting.rst). */
static void warn_if_ram_below(uint64_t ram_gpa)
{
    const struct guest_config *cfg = guest_config_get();
    for (size_t i = 0; i < cfg->num_ram_regions; i++) {
        if (cfg->ram[i].gpa < ram_gpa) {
            LOG_WARN("kernel wants to sit at the bottom of RAM, but region %zu at 0x%llx lies below 0x%llx: "
                     "that memory will be unusable",
                     i, (unsigned long long)cfg->ram[i].gpa, (unsigned long long)ram_gpa);
            return;
        }
    }
}

bool loader_linux_place(const struct loader_images *img, uint64_t ram_gpa, struct loader_kernel_place *out)
{
    if (img->kernel_size < IMAGE_HEADER_SIZE) {
        LOG_ERR("kernel is 0x%zx bytes, shorter than the 64-byte arm64 Image header", img->kernel_size);
        return false;
    }
    struct image_header h;
    header_read(img->kernel, &h);
    if (h.magic != IMAGE_MAGIC) {
        LOG_ERR("kernel is not an arm64 Image: magic 0x%08x at 0x38, expected 0x%08x (raw binaries: "
                "raw_setup_images)",
                h.magic, IMAGE_MAGIC);
        return false;
    }
    uint64_t footprint = h.image_size;
    if (h.image_size == 0) {
        h.text_offset = IMAGE_LEGACY_TEXT_OFFSET;
    }
    if (!flags_valid(h.flags)) {
        return false;
    }
    if (ram_gpa % LOADER_KERNEL_ALIGN != 0) {
        LOG_ERR("RAM region base 0x%llx is not 2 MiB aligned (booting.rst: the Image base must be)",
                (unsigned long long)ram_gpa);
        return false;
    }
    if (h.text_offset > UINT64_MAX - ram_gpa) {
        LOG_ERR("text_offset 0x%llx overflows the address space", (unsigned long long)h.text_offset);
        return false;
    }
    out->load = ram_gpa + h.text_offset;
    out->footprint = footprint > img->kernel_size ? footprint : img->kernel_size;
    if (!(h.flags & IMAGE_FLAG_PHYS_ANYWHERE)) {
        warn_if_ram_below(ram_gpa);
    }
    LOG_DEBUG("Image: text_offset 0x%llx image_size 0x%llx flags 0x%llx", (unsigned long long)h.text_offset,
              (unsigned long long)h.image_size, (unsigned long long)h.flags);
    return true;
}

uintptr_t linux_setup_images(uintptr_t ram_start, uintptr_t kernel, size_t kernel_size, uintptr_t dtb_src,
                             uintptr_t dtb_dest, size_t dtb_size, uintptr_t initrd_src, uintptr_t initrd_dest,
                             size_t initrd_size)
{
    const struct loader_images img = {
        .kind = LOADER_KIND_LINUX,
        .ram_start = ram_start,
        .kernel = kernel,
        .kernel_size = kernel_size,
        .dtb_src = dtb_src,
        .dtb_dest = dtb_dest,
        .dtb_size = dtb_size,
        .initrd_src = initrd_src,
        .initrd_dest = initrd_dest,
        .initrd_size = initrd_size,
    };
    return loader_setup(&img);
}
