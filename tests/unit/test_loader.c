/*
 * linux_setup_images(): arm64 Image header handling, destination checks and
 * the all-or-nothing rule (booting.rst; DESIGN section 4). Every refusal must
 * return (uintptr_t)-1, leave guest RAM byte-for-byte intact and log why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "loader_fixture.h"
#include "loader_common.h"
#include "loader_internal.h"

static int setup(void **state)
{
    (void)state;
    t_reset(2);
    return 0;
}

static void expect_refused(const char *log)
{
    assert_int_equal(t_linux(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_false(loader_recorded());
    if (!fake_console_contains(log)) {
        fail_msg("log lacks \"%s\"; console:\n%s", log, fake.console);
    }
}

static void expect_loaded(uint64_t entry)
{
    uintptr_t got = t_linux();
    if (got != entry) {
        fail_msg("entry 0x%lx, expected 0x%llx; console:\n%s", (unsigned long)got, (unsigned long long)entry,
                 fake.console);
    }
    assert_true(loader_recorded());
}

/* ---- success ---- */

static void test_loads_kernel_dtb_initrd(void **state)
{
    (void)state;
    expect_loaded(T_LOAD);
    assert_memory_equal(t_gpa(T_LOAD), t_kernel, T_KERNEL_SIZE);
    /* Nothing before the kernel and nothing after the copied bytes is written (BSS is the kernel's). */
    assert_true(t_all_pattern(t_ram, T_TEXT_OFFSET));
    assert_true(t_all_pattern(t_gpa(T_LOAD + T_KERNEL_SIZE), T_DTB_DEST - T_LOAD - T_KERNEL_SIZE));
    assert_memory_equal(t_gpa(T_INITRD_DEST), t_initrd, T_INITRD_SIZE);
    assert_true(t_all_pattern(t_gpa(T_INITRD_DEST + T_INITRD_SIZE), T_RAM_END - T_INITRD_DEST - T_INITRD_SIZE));
    assert_true(t_all_pattern(t_ram2, T_RAM2_SIZE));

    const void *fdt = t_gpa(T_DTB_DEST);
    assert_int_equal(fdt_check_full(fdt, T_DTB_BUF + LOADER_DTB_SLACK), 0);
    assert_true(fdt_totalsize(fdt) <= T_DTB_BUF + LOADER_DTB_SLACK);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(fdt, "linux,initrd-start", &start));
    assert_true(t_chosen_u64(fdt, "linux,initrd-end", &end));
    assert_int_equal(start, T_INITRD_DEST);
    assert_int_equal(end, T_INITRD_DEST + T_INITRD_SIZE);
    int chosen = fdt_path_offset(fdt, "/chosen");
    assert_string_equal(fdt_getprop(fdt, chosen, "bootargs", NULL), T_BOOTARGS);
    assert_true(fdt_path_offset(fdt, "/memory@40000000") >= 0);
    /* Nothing beyond DTB + slack. */
    assert_true(t_all_pattern(t_gpa(T_DTB_DEST + T_DTB_BUF + LOADER_DTB_SLACK),
                              T_INITRD_DEST - T_DTB_DEST - T_DTB_BUF - LOADER_DTB_SLACK));
    assert_true(fake_console_contains("Linux kernel at 0x40080000"));
}

static void test_creates_chosen_when_missing(void **state)
{
    (void)state;
    t_make_dtb(t_dtb, sizeof(t_dtb), false, false);
    assert_true(fdt_path_offset(t_dtb, "/chosen") < 0);
    expect_loaded(T_LOAD);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(t_gpa(T_DTB_DEST), "linux,initrd-start", &start));
    assert_true(t_chosen_u64(t_gpa(T_DTB_DEST), "linux,initrd-end", &end));
    assert_int_equal(start, T_INITRD_DEST);
    assert_int_equal(end, T_INITRD_DEST + T_INITRD_SIZE);
}

static void test_no_initrd_removes_properties(void **state)
{
    (void)state;
    t_make_dtb(t_dtb, sizeof(t_dtb), true, true);
    t_args.initrd_size = 0;
    t_args.initrd_src = 0; /* not looked at without an initrd */
    expect_loaded(T_LOAD);
    const void *fdt = t_gpa(T_DTB_DEST);
    int chosen = fdt_path_offset(fdt, "/chosen");
    assert_true(chosen >= 0);
    assert_null(fdt_getprop(fdt, chosen, "linux,initrd-start", NULL));
    assert_null(fdt_getprop(fdt, chosen, "linux,initrd-end", NULL));
    assert_string_equal(fdt_getprop(fdt, chosen, "bootargs", NULL), T_BOOTARGS);
    assert_true(t_all_pattern(t_gpa(T_INITRD_DEST), T_INITRD_SIZE));
}

static void test_existing_u32_initrd_properties_replaced(void **state)
{
    (void)state;
    t_make_dtb(t_dtb, sizeof(t_dtb), true, true);
    expect_loaded(T_LOAD);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(t_gpa(T_DTB_DEST), "linux,initrd-start", &start));
    assert_true(t_chosen_u64(t_gpa(T_DTB_DEST), "linux,initrd-end", &end));
    assert_int_equal(start, T_INITRD_DEST);
    assert_int_equal(end, T_INITRD_DEST + T_INITRD_SIZE);
}

static void test_unaligned_kernel_source(void **state)
{
    (void)state;
    memmove(t_kernel + 1, t_kernel, T_KERNEL_SIZE);
    t_args.kernel = (uintptr_t)(t_kernel + 1);
    expect_loaded(T_LOAD);
    assert_memory_equal(t_gpa(T_LOAD), t_kernel + 1, T_KERNEL_SIZE);
}

static void test_text_offset_zero(void **state)
{
    (void)state;
    t_make_image(0, T_IMAGE_SIZE, T_FLAGS_4K);
    expect_loaded(T_RAM_GPA);
    assert_memory_equal(t_ram, t_kernel, T_KERNEL_SIZE);
}

/* ---- header ---- */

static void test_bad_magic(void **state)
{
    (void)state;
    t_kernel[T_IMAGE_MAGIC_OFF + 3] = 0x65;
    expect_refused("not an arm64 Image: magic 0x654d5241");
}

static void test_kernel_shorter_than_header(void **state)
{
    (void)state;
    t_args.kernel_size = 63;
    expect_refused("0x3f bytes, shorter than the 64-byte");
}

static void test_kernel_size_zero(void **state)
{
    (void)state;
    t_args.kernel_size = 0;
    expect_refused("kernel size is 0");
}

static void test_kernel_null(void **state)
{
    (void)state;
    t_args.kernel = 0;
    expect_refused("kernel source is NULL");
}

static void test_kernel_header_only(void **state)
{
    (void)state;
    t_args.kernel_size = 64;
    expect_loaded(T_LOAD);
    assert_memory_equal(t_gpa(T_LOAD), t_kernel, 64);
}

static void test_legacy_image_size_zero(void **state)
{
    (void)state;
    /* Pre-3.17: text_offset of unknown endianness is ignored, 0x80000 assumed, footprint = file size. */
    t_make_image(0x1234000, 0, 0);
    expect_loaded(T_RAM_GPA + 0x80000);
    assert_memory_equal(t_gpa(T_RAM_GPA + 0x80000), t_kernel, T_KERNEL_SIZE);
}

static void test_legacy_footprint_is_file_size(void **state)
{
    (void)state;
    t_make_image(0, 0, 0);
    /* A DTB right after the file fits; one 8-byte step earlier overlaps it. */
    t_args.dtb_dest = T_RAM_GPA + 0x80000 + T_KERNEL_SIZE;
    expect_loaded(T_RAM_GPA + 0x80000);
    t_reset(2);
    t_make_image(0, 0, 0);
    t_args.dtb_dest = T_RAM_GPA + 0x80000 + T_KERNEL_SIZE - 8;
    expect_refused("kernel footprint [0x40080000, +0x3000) overlaps DTB (+slack)");
}

static void test_big_endian_refused(void **state)
{
    (void)state;
    t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, 0x3); /* BE, 4K */
    expect_refused("big-endian");
}

static void test_page_sizes(void **state)
{
    (void)state;
    static const struct {
        uint64_t flags;
        bool ok;
    } cases[] = {{0 << 1, true}, {1 << 1, true}, {2 << 1, false}, {3 << 1, true}, {(3 << 1) | 8, true}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t_reset(2);
        t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, cases[i].flags);
        if (cases[i].ok) {
            expect_loaded(T_LOAD);
        } else {
            expect_refused("16 KiB pages");
        }
    }
}

static void test_footprint_exactly_fits_ram(void **state)
{
    (void)state;
    uint64_t text = T_RAM_SIZE - T_IMAGE_SIZE;
    t_make_image(text, T_IMAGE_SIZE, T_FLAGS_4K);
    t_args.dtb_dest = T_RAM_GPA;
    t_args.initrd_dest = T_RAM_GPA + 0x100000;
    expect_loaded(T_RAM_GPA + text);
}

static void test_footprint_one_byte_past_ram(void **state)
{
    (void)state;
    uint64_t text = T_RAM_SIZE - T_IMAGE_SIZE;
    t_make_image(text, T_IMAGE_SIZE + 1, T_FLAGS_4K);
    t_args.dtb_dest = T_RAM_GPA;
    t_args.initrd_dest = T_RAM_GPA + 0x100000;
    expect_refused("kernel footprint destination [0x403e0000, +0x20001) is not inside one guest RAM region");
}

static void test_text_offset_overflow(void **state)
{
    (void)state;
    t_make_image(UINT64_MAX - T_RAM_GPA + 1, T_IMAGE_SIZE, T_FLAGS_4K);
    expect_refused("overflows the address space");
    t_reset(2);
    t_make_image(UINT64_MAX - T_RAM_GPA - 0x1000 + 1, T_IMAGE_SIZE, T_FLAGS_4K); /* load 0xff..f000, wraps at end */
    expect_refused("is not inside one guest RAM region");
}

static void test_image_size_smaller_than_file(void **state)
{
    (void)state;
    t_make_image(T_TEXT_OFFSET, 0x1000, T_FLAGS_4K);
    /* The footprint is the file (0x3000), not image_size (0x1000). */
    t_args.dtb_dest = T_LOAD + 0x1000;
    expect_refused("kernel footprint [0x40080000, +0x3000) overlaps DTB (+slack) [0x40081000");
    t_reset(2);
    t_make_image(T_TEXT_OFFSET, 0x1000, T_FLAGS_4K);
    t_args.dtb_dest = T_LOAD + T_KERNEL_SIZE;
    expect_loaded(T_LOAD);
}

static void test_image_size_counts_bss(void **state)
{
    (void)state;
    /* image_size 0x20000 covers BSS beyond the 0x3000-byte file: a DTB there collides. */
    t_args.dtb_dest = T_LOAD + T_IMAGE_SIZE - 8;
    expect_refused("kernel footprint [0x40080000, +0x20000) overlaps DTB (+slack) [0x4009fff8");
    t_reset(2);
    t_args.dtb_dest = T_LOAD + T_IMAGE_SIZE;
    expect_loaded(T_LOAD);
}

/* ---- RAM region ---- */

static void test_ram_base_not_2mib_aligned(void **state)
{
    (void)state;
    t_args.ram = (uintptr_t)t_ram2; /* GPA 0x50100000 */
    t_args.dtb_dest = T_RAM2_GPA;
    t_args.initrd_size = 0;
    expect_refused("RAM region base 0x50100000 is not 2 MiB aligned");
}

static void test_ram_start_not_a_region(void **state)
{
    (void)state;
    t_args.ram = (uintptr_t)t_ram + 0x1000;
    expect_refused("is not the VMM address of a configured RAM region");
    t_args.ram = (uintptr_t)t_kernel;
    expect_refused("is not the VMM address of a configured RAM region");
}

static void test_source_inside_guest_ram(void **state)
{
    (void)state;
    t_args.initrd_src = (uintptr_t)t_ram + 0x3ff000;
    expect_refused("initrd source");
    t_args.initrd_src = (uintptr_t)t_initrd;
    t_args.kernel = (uintptr_t)t_ram2 + T_RAM2_SIZE - 16; /* overlaps region 1's last bytes */
    t_args.kernel_size = 64;
    expect_refused("kernel source");
}

static void test_source_wraps(void **state)
{
    (void)state;
    t_args.initrd_src = UINTPTR_MAX - 0xfff;
    expect_refused("initrd source [0xfffffffffffff000, +0x2000) wraps");
}

/* ---- DTB ---- */

static void test_dtb_bad_magic(void **state)
{
    (void)state;
    t_dtb[0] ^= 0xff;
    expect_refused("DTB magic 0x2f0dfeed, expected 0xd00dfeed");
}

static void test_dtb_oversized(void **state)
{
    (void)state;
    static uint8_t big[(2u << 20) + 64] __attribute__((aligned(8)));
    t_make_dtb(big, T_DTB_BUF, true, false);
    t_args.dtb_src = (uintptr_t)big;
    t_args.dtb_dest = T_RAM_GPA + 0x100000;
    t_args.initrd_size = 0;
    t_args.dtb_size = (2u << 20) + 8;
    expect_refused("DTB size 0x200008 outside");
    /* Within 2 MiB, but no room left for the patch under the limit. */
    fdt_set_totalsize(big, (2u << 20) - LOADER_DTB_SLACK + 1);
    t_args.dtb_size = 2u << 20;
    expect_refused("leaves no room for the /chosen patch");
}

static void test_dtb_totalsize_exceeds_size(void **state)
{
    (void)state;
    t_args.dtb_size = fdt_totalsize(t_dtb) - 1;
    expect_refused("exceeds the");
}

static void test_dtb_too_small(void **state)
{
    (void)state;
    t_args.dtb_size = 8;
    expect_refused("DTB size 0x8 outside");
    t_args.dtb_size = 0;
    expect_refused("DTB size 0x0 outside");
}

static void test_dtb_malformed_structure(void **state)
{
    (void)state;
    /* Corrupt the first structure tag (FDT_BEGIN_NODE -> garbage). */
    uint8_t *tag = t_dtb + fdt_off_dt_struct(t_dtb);
    tag[3] = 0x77;
    expect_refused("DTB is malformed");
}

static void test_dtb_source_misaligned(void **state)
{
    (void)state;
    static uint8_t buf[T_DTB_BUF + 8] __attribute__((aligned(8)));
    memcpy(buf + 4, t_dtb, T_DTB_BUF);
    t_args.dtb_src = (uintptr_t)(buf + 4);
    expect_refused("is not 8-byte aligned (libfdt");
}

static void test_dtb_dest_misaligned(void **state)
{
    (void)state;
    t_args.dtb_dest = T_DTB_DEST + 4;
    expect_refused("DTB destination 0x40200004 is not 8-byte aligned");
}

static void test_dtb_dest_outside_ram(void **state)
{
    (void)state;
    t_args.dtb_dest = 0x80000000;
    expect_refused("DTB (+slack) destination [0x80000000, +0x1100) is not inside one guest RAM region");
    /* The slack must fit too: a DTB ending exactly at RAM end is not enough. */
    t_args.dtb_dest = T_RAM_END - T_DTB_BUF;
    expect_refused("DTB (+slack) destination");
    t_args.dtb_dest = T_RAM_END - T_DTB_BUF - LOADER_DTB_SLACK;
    t_args.initrd_dest = T_RAM_GPA + 0x100000;
    expect_loaded(T_LOAD);
}

static void test_dtb_slack_touches_kernel(void **state)
{
    (void)state;
    /* DTB below the kernel: its slack runs into the first byte of the kernel. */
    t_args.dtb_dest = T_LOAD - T_DTB_BUF - LOADER_DTB_SLACK + 8;
    expect_refused("overlaps DTB (+slack)");
    t_args.dtb_dest = T_LOAD - T_DTB_BUF - LOADER_DTB_SLACK;
    expect_loaded(T_LOAD);
}

static void test_dtb_dest_overflow(void **state)
{
    (void)state;
    t_args.dtb_dest = UINT64_MAX - 7;
    expect_refused("DTB (+slack) destination [0xfffffffffffffff8");
}

/* ---- initrd ---- */

static void test_initrd_overlaps_kernel(void **state)
{
    (void)state;
    t_args.initrd_dest = T_LOAD + T_IMAGE_SIZE - 1;
    expect_refused("kernel footprint [0x40080000, +0x20000) overlaps initrd [0x4009ffff, +0x2000)");
    t_args.initrd_dest = T_LOAD - T_INITRD_SIZE + 1;
    expect_refused("overlaps initrd");
}

static void test_initrd_overlaps_dtb(void **state)
{
    (void)state;
    t_args.initrd_dest = T_DTB_DEST + T_DTB_BUF + LOADER_DTB_SLACK - 1;
    expect_refused("DTB (+slack) [0x40200000, +0x1100) overlaps initrd");
    t_args.initrd_dest = T_DTB_DEST + T_DTB_BUF + LOADER_DTB_SLACK;
    expect_loaded(T_LOAD);
}

static void test_initrd_ends_at_ram_end(void **state)
{
    (void)state;
    t_args.initrd_dest = T_RAM_END - T_INITRD_SIZE;
    expect_loaded(T_LOAD);
    assert_memory_equal(t_gpa(T_RAM_END - T_INITRD_SIZE), t_initrd, T_INITRD_SIZE);
}

static void test_initrd_one_byte_past_ram_end(void **state)
{
    (void)state;
    t_args.initrd_dest = T_RAM_END - T_INITRD_SIZE + 1;
    expect_refused("initrd destination [0x403fe001, +0x2000) is not inside one guest RAM region");
}

static void test_initrd_in_other_region(void **state)
{
    (void)state;
    t_args.initrd_dest = T_RAM2_GPA;
    expect_loaded(T_LOAD);
    assert_memory_equal(t_ram2, t_initrd, T_INITRD_SIZE);
}

static void test_initrd_spanning_regions(void **state)
{
    (void)state;
    /* Region 2 starts at 0x50100000; a range across the gap to it is not in one region. */
    t_args.initrd_dest = T_RAM2_GPA - 0x1000;
    expect_refused("initrd destination");
}

static void test_initrd_dest_overflow(void **state)
{
    (void)state;
    t_args.initrd_dest = UINT64_MAX - 0xfff;
    expect_refused("initrd destination [0xfffffffffffff000, +0x2000)");
}

static void test_initrd_null_source(void **state)
{
    (void)state;
    t_args.initrd_src = 0;
    expect_refused("initrd source is NULL");
}

static void test_no_guest_region_written_on_late_failure(void **state)
{
    (void)state;
    /* Every check passes except the last overlap: still nothing copied. */
    t_args.initrd_dest = T_DTB_DEST + 8;
    expect_refused("overlaps initrd");
}

/* ---- record ---- */

static void test_failure_keeps_previous_record(void **state)
{
    (void)state;
    expect_loaded(T_LOAD);
    t_args.dtb_dest = 3;
    assert_int_equal(t_linux(), LOADER_FAILED);
    assert_true(loader_recorded());
    uint64_t entry = 0, dtb = 0;
    assert_true(loader_reload(&entry, &dtb));
    assert_int_equal(entry, T_LOAD);
    assert_int_equal(dtb, T_DTB_DEST);
    loader_forget();
    assert_false(loader_reload(&entry, &dtb));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
    const struct CMUnitTest tests[] = {
        T(test_loads_kernel_dtb_initrd),
        T(test_creates_chosen_when_missing),
        T(test_no_initrd_removes_properties),
        T(test_existing_u32_initrd_properties_replaced),
        T(test_unaligned_kernel_source),
        T(test_text_offset_zero),
        T(test_bad_magic),
        T(test_kernel_shorter_than_header),
        T(test_kernel_size_zero),
        T(test_kernel_null),
        T(test_kernel_header_only),
        T(test_legacy_image_size_zero),
        T(test_legacy_footprint_is_file_size),
        T(test_big_endian_refused),
        T(test_page_sizes),
        T(test_footprint_exactly_fits_ram),
        T(test_footprint_one_byte_past_ram),
        T(test_text_offset_overflow),
        T(test_image_size_smaller_than_file),
        T(test_image_size_counts_bss),
        T(test_ram_base_not_2mib_aligned),
        T(test_ram_start_not_a_region),
        T(test_source_inside_guest_ram),
        T(test_source_wraps),
        T(test_dtb_bad_magic),
        T(test_dtb_oversized),
        T(test_dtb_totalsize_exceeds_size),
        T(test_dtb_too_small),
        T(test_dtb_malformed_structure),
        T(test_dtb_source_misaligned),
        T(test_dtb_dest_misaligned),
        T(test_dtb_dest_outside_ram),
        T(test_dtb_slack_touches_kernel),
        T(test_dtb_dest_overflow),
        T(test_initrd_overlaps_kernel),
        T(test_initrd_overlaps_dtb),
        T(test_initrd_ends_at_ram_end),
        T(test_initrd_one_byte_past_ram_end),
        T(test_initrd_in_other_region),
        T(test_initrd_spanning_regions),
        T(test_initrd_dest_overflow),
        T(test_initrd_null_source),
        T(test_no_guest_region_written_on_late_failure),
        T(test_failure_keeps_previous_record),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
