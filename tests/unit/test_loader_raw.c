/*
 * raw_setup_images(): a raw binary placed as QEMU's -kernel does (RAM base +
 * LOADER_RAW_OFFSET), with the same DTB/initrd checks as the Linux loader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "loader_fixture.h"

static int setup(void **state)
{
    (void)state;
    t_reset(2);
    return 0;
}

static void test_raw_placement(void **state)
{
    (void)state;
    memset(t_kernel, 0x3c, 0x1000); /* no header at all */
    t_args.kernel_size = 0x1000;
    uintptr_t entry = t_raw();
    assert_int_equal(entry, T_RAM_GPA + LOADER_RAW_OFFSET);
    assert_memory_equal(t_gpa(T_RAM_GPA + LOADER_RAW_OFFSET), t_kernel, 0x1000);
    assert_true(t_all_pattern(t_ram, LOADER_RAW_OFFSET));
    uint64_t start = 0;
    assert_true(t_chosen_u64(t_gpa(T_DTB_DEST), "linux,initrd-start", &start));
    assert_int_equal(start, T_INITRD_DEST);
    assert_true(fake_console_contains("raw kernel at 0x40080000"));
    /* The Linux loader refuses the same file. */
    t_reset(2);
    memset(t_kernel, 0x3c, 0x1000);
    t_args.kernel_size = 0x1000;
    assert_int_equal(t_linux(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_true(fake_console_contains("not an arm64 Image"));
}

static void test_raw_unaligned_region_ok(void **state)
{
    (void)state;
    /* No 2 MiB rule for raw binaries. */
    t_args.ram = (uintptr_t)t_ram2;
    t_args.kernel_size = 0x100;
    t_args.dtb_dest = T_RAM2_GPA;
    t_args.initrd_dest = T_RAM2_GPA + 0x10000;
    assert_int_equal(t_raw(), T_RAM2_GPA + LOADER_RAW_OFFSET);
    assert_memory_equal(t_ram2 + LOADER_RAW_OFFSET, t_kernel, 0x100);
}

static void test_raw_past_ram_end(void **state)
{
    (void)state;
    t_args.ram = (uintptr_t)t_ram2;
    t_args.dtb_dest = T_RAM2_GPA;
    t_args.initrd_size = 0;
    t_args.kernel_size = T_RAM2_SIZE - LOADER_RAW_OFFSET + 1;
    static uint8_t big[T_RAM2_SIZE];
    t_args.kernel = (uintptr_t)big;
    assert_int_equal(t_raw(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_true(fake_console_contains("kernel footprint destination [0x50180000, +0x80001)"));
    t_args.kernel_size--;
    assert_int_equal(t_raw(), T_RAM2_GPA + LOADER_RAW_OFFSET);
}

static void test_raw_overlap_and_dtb_checks(void **state)
{
    (void)state;
    t_args.dtb_dest = T_RAM_GPA + LOADER_RAW_OFFSET + 0x100;
    assert_int_equal(t_raw(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_true(fake_console_contains("overlaps DTB (+slack)"));
    t_args.dtb_dest = T_DTB_DEST;
    t_dtb[1] = 0;
    assert_int_equal(t_raw(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_true(fake_console_contains("DTB magic"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
    const struct CMUnitTest tests[] = {
        T(test_raw_placement),
        T(test_raw_unaligned_region_ok),
        T(test_raw_past_ram_end),
        T(test_raw_overlap_and_dtb_checks),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
