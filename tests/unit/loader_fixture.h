/*
 * Shared fixtures for the loader and lifecycle tests: a guest with one
 * 2 MiB-aligned RAM region (plus a second, only 1 MiB-aligned one), a
 * synthetic arm64 Image, a DTB built with libfdt, and an initrd. All sources
 * live in static buffers outside guest RAM. Each test program includes this
 * once (the unit Makefile links one .c per program), hence static data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libfdt.h>
#include <libvmm/guest.h>
#include <libvmm/loader.h>
#include "fake_microkit.h"

#define T_RAM_GPA 0x40000000ull
#define T_RAM_SIZE (4u << 20)
#define T_RAM_END (T_RAM_GPA + T_RAM_SIZE)
#define T_RAM2_GPA 0x50100000ull /* 1 MiB aligned only */
#define T_RAM2_SIZE (1u << 20)
#define T_PATTERN 0xa5

#define T_IMAGE_MAGIC_OFF 0x38
#define T_KERNEL_BUF (64u << 10)
#define T_KERNEL_SIZE 0x3000u
#define T_TEXT_OFFSET 0x80000ull
#define T_IMAGE_SIZE 0x20000ull
#define T_FLAGS_4K 0x2ull /* LE, 4 KiB pages */
#define T_LOAD (T_RAM_GPA + T_TEXT_OFFSET)

#define T_DTB_BUF 4096u
#define T_DTB_DEST (T_RAM_GPA + 0x200000)
#define T_INITRD_DEST (T_RAM_GPA + 0x300000)
#define T_INITRD_SIZE 0x2000u
#define T_BOOTARGS "console=ttyAMA0 earlycon"

struct t_args {
    uintptr_t ram;
    uintptr_t kernel;
    size_t kernel_size;
    uintptr_t dtb_src;
    uint64_t dtb_dest;
    size_t dtb_size;
    uintptr_t initrd_src;
    uint64_t initrd_dest;
    size_t initrd_size;
};

static uint8_t *t_ram;
static uint8_t *t_ram2;
static uint8_t t_kernel[T_KERNEL_BUF] __attribute__((aligned(16)));
static uint8_t t_dtb[T_DTB_BUF] __attribute__((aligned(8)));
static uint8_t t_initrd[T_INITRD_SIZE];
static struct t_args t_args;

static inline void t_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Write an Image header (and a recognisable body) into t_kernel. */
static inline void t_make_image(uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
    for (size_t i = 0; i < T_KERNEL_BUF; i++) {
        t_kernel[i] = (uint8_t)(i * 7 + 3);
    }
    t_put_le(t_kernel + 0, 0x14000010, 4); /* b +0x40 */
    t_put_le(t_kernel + 4, 0, 4);
    t_put_le(t_kernel + 8, text_offset, 8);
    t_put_le(t_kernel + 16, image_size, 8);
    t_put_le(t_kernel + 24, flags, 8);
    memset(t_kernel + 32, 0, 24);
    memcpy(t_kernel + T_IMAGE_MAGIC_OFF, "ARM\x64", 4);
    t_put_le(t_kernel + 0x3c, 0, 4);
}

/* A small valid tree in `buf`; packed, so its totalsize is below `size`. */
static inline void t_make_dtb(void *buf, size_t size, bool with_chosen, bool with_initrd)
{
    memset(buf, 0, size);
    if (fdt_create_empty_tree(buf, (int)size) != 0) {
        abort();
    }
    int mem = fdt_add_subnode(buf, 0, "memory@40000000");
    if (mem < 0 || fdt_setprop_string(buf, mem, "device_type", "memory") != 0) {
        abort();
    }
    if (with_chosen) {
        int chosen = fdt_add_subnode(buf, 0, "chosen");
        if (chosen < 0 || fdt_setprop_string(buf, chosen, "bootargs", T_BOOTARGS) != 0) {
            abort();
        }
        if (with_initrd && (fdt_setprop_u32(buf, chosen, "linux,initrd-start", 0x1000) != 0 ||
                            fdt_setprop_u32(buf, chosen, "linux,initrd-end", 0x2000) != 0)) {
            abort();
        }
    }
    if (fdt_pack(buf) != 0) {
        abort();
    }
}

/* Read a /chosen property holding a 32- or 64-bit big-endian number. */
static inline bool t_chosen_u64(const void *fdt, const char *name, uint64_t *value)
{
    int node = fdt_path_offset(fdt, "/chosen");
    int len = 0;
    const void *p = node >= 0 ? fdt_getprop(fdt, node, name, &len) : NULL;
    if (p == NULL || len != 8) {
        return false;
    }
    fdt64_t v;
    memcpy(&v, p, 8);
    *value = fdt64_to_cpu(v);
    return true;
}

static inline void t_alloc_ram(void)
{
    if (t_ram == NULL) {
        t_ram = aligned_alloc(2u << 20, T_RAM_SIZE);
        t_ram2 = aligned_alloc(1u << 20, T_RAM2_SIZE);
        if (t_ram == NULL || t_ram2 == NULL) {
            abort();
        }
    }
}

static inline void t_reset(size_t vcpus)
{
    t_alloc_ram();
    fake_microkit_reset();
    struct guest_config cfg = {
        .num_vcpus = vcpus,
        .num_ram_regions = 2,
        .ram =
            {
                {.gpa = T_RAM_GPA, .size = T_RAM_SIZE, .vmm_vaddr = (uintptr_t)t_ram},
                {.gpa = T_RAM2_GPA, .size = T_RAM2_SIZE, .vmm_vaddr = (uintptr_t)t_ram2},
            },
        .gic_version = GIC_VERSION_2,
        .gicd_gpa = 0x08000000,
    };
    if (!guest_init(&cfg)) {
        abort();
    }
    memset(t_ram, T_PATTERN, T_RAM_SIZE);
    memset(t_ram2, T_PATTERN, T_RAM2_SIZE);
    t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, T_FLAGS_4K);
    t_make_dtb(t_dtb, sizeof(t_dtb), true, false);
    for (size_t i = 0; i < T_INITRD_SIZE; i++) {
        t_initrd[i] = (uint8_t)(0x5a ^ (i * 13));
    }
    t_args = (struct t_args){
        .ram = (uintptr_t)t_ram,
        .kernel = (uintptr_t)t_kernel,
        .kernel_size = T_KERNEL_SIZE,
        .dtb_src = (uintptr_t)t_dtb,
        .dtb_dest = T_DTB_DEST,
        .dtb_size = T_DTB_BUF,
        .initrd_src = (uintptr_t)t_initrd,
        .initrd_dest = T_INITRD_DEST,
        .initrd_size = T_INITRD_SIZE,
    };
    fake_console_clear();
}

static inline uintptr_t t_linux(void)
{
    const struct t_args *a = &t_args;
    return linux_setup_images(a->ram, a->kernel, a->kernel_size, a->dtb_src, a->dtb_dest, a->dtb_size, a->initrd_src,
                              a->initrd_dest, a->initrd_size);
}

static inline uintptr_t t_raw(void)
{
    const struct t_args *a = &t_args;
    return raw_setup_images(a->ram, a->kernel, a->kernel_size, a->dtb_src, a->dtb_dest, a->dtb_size, a->initrd_src,
                            a->initrd_dest, a->initrd_size);
}

static inline bool t_all_pattern(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != T_PATTERN) {
            return false;
        }
    }
    return true;
}

static inline bool t_ram_intact(void)
{
    return t_all_pattern(t_ram, T_RAM_SIZE) && t_all_pattern(t_ram2, T_RAM2_SIZE);
}

/* Host pointer for a GPA inside the first region. */
static inline uint8_t *t_gpa(uint64_t gpa)
{
    return t_ram + (gpa - T_RAM_GPA);
}
