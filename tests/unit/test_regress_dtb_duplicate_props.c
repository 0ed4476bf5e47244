/*
 * Regression (tests/fuzz/fuzz_dtb_chosen): a /chosen node holding the initrd
 * properties twice (fdt_check_full() accepts duplicate property names). The
 * patch changed or removed only the first copy, so the guest's tree kept a
 * stale initrd range. Now every copy is removed before the new range is set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "dtb_chosen.h"
#include "loader_fixture.h"

#define BUF 1024

static uint8_t tree[BUF] __attribute__((aligned(8)));

/* Sequential-write API: it writes exactly what it is told, duplicates included. */
static void make_tree_with_duplicates(void)
{
    assert_int_equal(fdt_create(tree, BUF), 0);
    assert_int_equal(fdt_finish_reservemap(tree), 0);
    assert_int_equal(fdt_begin_node(tree, ""), 0);
    assert_int_equal(fdt_begin_node(tree, "chosen"), 0);
    assert_int_equal(fdt_property_string(tree, "bootargs", "quiet"), 0);
    assert_int_equal(fdt_property_u32(tree, "linux,initrd-start", 0x1000), 0);
    assert_int_equal(fdt_property_u32(tree, "linux,initrd-end", 0x2000), 0);
    assert_int_equal(fdt_property_u32(tree, "linux,initrd-start", 0x3000), 0);
    assert_int_equal(fdt_property_u32(tree, "linux,initrd-end", 0x4000), 0);
    assert_int_equal(fdt_end_node(tree), 0);
    assert_int_equal(fdt_end_node(tree), 0);
    assert_int_equal(fdt_finish(tree), 0);
    assert_int_equal(fdt_check_full(tree, BUF), 0); /* libfdt accepts it */
}

static unsigned count_props(const void *fdt, const char *name)
{
    int chosen = fdt_path_offset(fdt, "/chosen");
    unsigned n = 0;
    int prop;
    fdt_for_each_property_offset(prop, fdt, chosen)
    {
        const char *pname = NULL;
        fdt_getprop_by_offset(fdt, prop, &pname, NULL);
        n += pname != NULL && strcmp(pname, name) == 0;
    }
    return n;
}

static void test_removal_removes_every_copy(void **state)
{
    (void)state;
    make_tree_with_duplicates();
    assert_int_equal(dtb_chosen_check(tree, BUF), 0);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0, 0), 0);
    assert_int_equal(count_props(tree, "linux,initrd-start"), 0);
    assert_int_equal(count_props(tree, "linux,initrd-end"), 0);
    assert_string_equal(fdt_getprop(tree, fdt_path_offset(tree, "/chosen"), "bootargs", NULL), "quiet");
}

static void test_setting_leaves_one_copy(void **state)
{
    (void)state;
    make_tree_with_duplicates();
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0x48000000, 0x800), 0);
    assert_int_equal(count_props(tree, "linux,initrd-start"), 1);
    assert_int_equal(count_props(tree, "linux,initrd-end"), 1);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(tree, "linux,initrd-start", &start));
    assert_true(t_chosen_u64(tree, "linux,initrd-end", &end));
    assert_int_equal(start, 0x48000000);
    assert_int_equal(end, 0x48000800);
}

/* Through the loader: the guest's copy carries exactly one, correct range. */
static void test_loader_copy_has_one_range(void **state)
{
    (void)state;
    t_reset(1);
    make_tree_with_duplicates();
    memcpy(t_dtb, tree, fdt_totalsize(tree));
    t_args.dtb_size = fdt_totalsize(tree);
    assert_int_equal(t_linux(), T_LOAD);
    const void *copy = t_gpa(T_DTB_DEST);
    assert_int_equal(count_props(copy, "linux,initrd-start"), 1);
    assert_int_equal(count_props(copy, "linux,initrd-end"), 1);
    uint64_t end = 0;
    assert_true(t_chosen_u64(copy, "linux,initrd-end", &end));
    assert_int_equal(end, T_INITRD_DEST + T_INITRD_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_removal_removes_every_copy),
        cmocka_unit_test(test_setting_leaves_one_copy),
        cmocka_unit_test(test_loader_copy_has_one_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
