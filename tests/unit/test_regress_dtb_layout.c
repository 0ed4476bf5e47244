/*
 * Regression (tests/fuzz/fuzz_dtb_chosen): a device tree whose structure and
 * strings blocks overlap passed dtb_chosen_check(), but libfdt's
 * fdt_open_into() rebuilds such a layout into room for every block laid end
 * to end, more than the tree's totalsize plus the loader's slack. The loader
 * then refused the images only after it had copied the kernel into guest RAM
 * (breaking "guest RAM untouched on failure"). dtb_chosen_check() now refuses
 * trees whose blocks are out of order or overlap, and versions below 17.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "dtb_chosen.h"
#include "loader_fixture.h"

#define VALUE_LEN 400

/*
 * A valid tree with one 400-byte property, then rewritten so that the strings
 * block is the structure block itself (the property's name is read from the
 * start of its own value): fdt_check_full() still accepts it.
 */
static size_t make_overlapping_tree(uint8_t *buf, size_t cap)
{
    uint8_t value[VALUE_LEN];
    memset(value, 0, sizeof(value));
    memcpy(value, "x", 2);
    assert_int_equal(fdt_create_empty_tree(buf, (int)cap), 0);
    assert_int_equal(fdt_setprop(buf, 0, "x", value, sizeof(value)), 0);
    assert_int_equal(fdt_pack(buf), 0);
    int prop = fdt_first_property_offset(buf, 0);
    assert_true(prop >= 0);
    /* FDT_PROP token, len, nameoff, then the value: the name moves to the value's first bytes. */
    uint32_t value_off = (uint32_t)prop + 12;
    fdt32_t nameoff = cpu_to_fdt32(value_off);
    memcpy(buf + fdt_off_dt_struct(buf) + (uint32_t)prop + 8, &nameoff, 4);
    fdt_set_off_dt_strings(buf, fdt_off_dt_struct(buf));
    fdt_set_size_dt_strings(buf, fdt_size_dt_struct(buf));
    fdt_set_totalsize(buf, fdt_off_dt_struct(buf) + fdt_size_dt_struct(buf));
    assert_int_equal(fdt_check_full(buf, fdt_totalsize(buf)), 0); /* libfdt itself accepts it */
    return fdt_totalsize(buf);
}

static void test_overlapping_blocks_refused_by_check(void **state)
{
    (void)state;
    static uint8_t tree[2048] __attribute__((aligned(8)));
    size_t size = make_overlapping_tree(tree, sizeof(tree));
    assert_int_equal(dtb_chosen_check(tree, size), -FDT_ERR_BADLAYOUT);
}

/* The loader must refuse such a tree before it copies anything. */
static void test_loader_leaves_ram_untouched(void **state)
{
    (void)state;
    t_reset(1);
    size_t size = make_overlapping_tree(t_dtb, sizeof(t_dtb));
    t_args.dtb_size = size;
    assert_int_equal(t_linux(), LOADER_FAILED);
    assert_true(t_ram_intact());
    assert_true(fake_console_contains("malformed"));
}

/*
 * Version 17 only: in a version 16 tree libfdt reads property names beyond
 * size_dt_strings, and the version 17 copy fdt_open_into() makes cuts them
 * off (the fuzzer's inputs: a patched tree that fails fdt_check_full). Below
 * 16, libfdt cannot convert the tree at all, and fdt_check_full() crashes on
 * some.
 */
static void test_old_versions_refused(void **state)
{
    (void)state;
    static uint8_t tree[1024] __attribute__((aligned(8)));
    t_make_dtb(tree, sizeof(tree), true, true);
    size_t size = fdt_totalsize(tree);
    assert_int_equal(dtb_chosen_check(tree, size), 0);
    /* Strings block declared 3 bytes long: libfdt still finds every name in a version 16 tree. */
    fdt_set_size_dt_strings(tree, 3);
    fdt_set_version(tree, 16);
    assert_int_equal(fdt_check_full(tree, size), 0);
    assert_int_equal(dtb_chosen_check(tree, size), -FDT_ERR_BADVERSION);
    fdt_set_version(tree, 15);
    fdt_set_last_comp_version(tree, 2);
    assert_int_equal(dtb_chosen_check(tree, size), -FDT_ERR_BADVERSION);
}

/* The loader refuses a version 16 tree before copying anything. */
static void test_loader_refuses_version16(void **state)
{
    (void)state;
    t_reset(1);
    fdt_set_version(t_dtb, 16);
    assert_int_equal(t_linux(), LOADER_FAILED);
    assert_true(t_ram_intact());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlapping_blocks_refused_by_check),
        cmocka_unit_test(test_loader_leaves_ram_untouched),
        cmocka_unit_test(test_old_versions_refused),
        cmocka_unit_test(test_loader_refuses_version16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
