/*
 * /chosen initrd patching on plain buffers (dtb_chosen.h): the properties
 * Linux reads, and no crash or out-of-buffer access on any malformed input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "dtb_chosen.h"
#include "loader_fixture.h"

#define BUF 2048

static uint8_t tree[BUF] __attribute__((aligned(8)));
static uint8_t work[BUF + 64] __attribute__((aligned(8)));

static void test_sets_initrd_creating_chosen(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, false, false);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0x48000000, 0x123456), 0);
    assert_int_equal(fdt_check_full(tree, BUF), 0);
    assert_true(fdt_totalsize(tree) < BUF); /* packed */
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(tree, "linux,initrd-start", &start));
    assert_true(t_chosen_u64(tree, "linux,initrd-end", &end));
    assert_int_equal(start, 0x48000000);
    assert_int_equal(end, 0x48123456);
    /* Big-endian cells, as Linux's of_read_number expects. */
    int len = 0;
    const uint8_t *raw = fdt_getprop(tree, fdt_path_offset(tree, "/chosen"), "linux,initrd-end", &len);
    static const uint8_t be[8] = {0, 0, 0, 0, 0x48, 0x12, 0x34, 0x56};
    assert_int_equal(len, 8);
    assert_memory_equal(raw, be, 8);
}

static void test_replaces_and_removes(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, true, true);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0x1000000000ull, 0x10), 0);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(tree, "linux,initrd-start", &start));
    assert_true(t_chosen_u64(tree, "linux,initrd-end", &end));
    assert_int_equal(start, 0x1000000000ull);
    assert_int_equal(end, 0x1000000010ull);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0, 0), 0);
    int chosen = fdt_path_offset(tree, "/chosen");
    assert_null(fdt_getprop(tree, chosen, "linux,initrd-start", NULL));
    assert_null(fdt_getprop(tree, chosen, "linux,initrd-end", NULL));
    assert_string_equal(fdt_getprop(tree, chosen, "bootargs", NULL), T_BOOTARGS);
    /* Removing what is not there is fine. */
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0, 0), 0);
}

static void test_growth_within_bound(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, false, false);
    uint32_t before = fdt_totalsize(tree);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, 0x40000000, 0x1000), 0);
    assert_true(fdt_totalsize(tree) - before <= DTB_CHOSEN_MAX_GROWTH);
    /* Exactly the tree plus the bound is enough room. */
    t_make_dtb(tree, BUF, false, false);
    assert_int_equal(dtb_chosen_set_initrd(tree, before + DTB_CHOSEN_MAX_GROWTH, 0x40000000, 0x1000), 0);
}

static void test_no_room(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, false, false);
    uint32_t size = fdt_totalsize(tree);
    memset(tree + size, 0xee, BUF - size);
    assert_int_equal(dtb_chosen_set_initrd(tree, size, 0x40000000, 0x1000), -FDT_ERR_NOSPACE);
    /* Nothing past the buffer was written. */
    for (size_t i = size; i < BUF; i++) {
        assert_int_equal(tree[i], 0xee);
    }
}

static void test_overflowing_range(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, true, false);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, UINT64_MAX - 0xf, 0x10), -FDT_ERR_BADVALUE);
    assert_int_equal(dtb_chosen_set_initrd(tree, BUF, UINT64_MAX - 0xf, 0xf), 0);
}

static void test_check_rejects_garbage(void **state)
{
    (void)state;
    assert_int_equal(dtb_chosen_check(NULL, BUF), -FDT_ERR_TRUNCATED);
    memset(work, 0, sizeof(work));
    assert_true(dtb_chosen_check(work, BUF) < 0);
    t_make_dtb(tree, BUF, true, false);
    assert_int_equal(dtb_chosen_check(tree, BUF), 0);
    assert_true(dtb_chosen_check(tree, fdt_totalsize(tree) - 1) < 0);
    assert_true(dtb_chosen_check(tree, 39) < 0);
    memcpy(work + 4, tree, fdt_totalsize(tree));
    assert_int_equal(dtb_chosen_check(work + 4, BUF), -FDT_ERR_ALIGNMENT);
}

static void test_nop_before_root_refused(void **state)
{
    (void)state;
    /* A tree whose first structure tag is FDT_NOP passes fdt_check_full but offset 0 is not the root. */
    t_make_dtb(tree, BUF, true, false);
    uint32_t off = fdt_off_dt_struct(tree);
    uint32_t len = fdt_size_dt_struct(tree);
    uint32_t total = fdt_totalsize(tree);
    memmove(tree + off + 4, tree + off, total - off);
    fdt32_t nop = cpu_to_fdt32(FDT_NOP);
    memcpy(tree + off, &nop, 4);
    fdt_set_size_dt_struct(tree, len + 4);
    fdt_set_off_dt_strings(tree, fdt_off_dt_strings(tree) + 4);
    fdt_set_totalsize(tree, total + 4);
    assert_true(dtb_chosen_check(tree, BUF) < 0);
    assert_true(dtb_chosen_set_initrd(tree, BUF, 0x40000000, 0x1000) < 0);
}

/* Every truncation and every single-byte corruption: an error or a valid tree, never a crash or overrun. */
static void test_mutations_never_escape(void **state)
{
    (void)state;
    t_make_dtb(tree, BUF, true, true);
    uint32_t total = fdt_totalsize(tree);
    size_t room = total + DTB_CHOSEN_MAX_GROWTH;
    for (uint32_t cut = 0; cut < total; cut++) {
        memset(work, 0xcc, sizeof(work));
        memcpy(work, tree, cut);
        (void)dtb_chosen_set_initrd(work, cut, 0x40000000, 0x1000);
        for (size_t i = cut; i < sizeof(work); i++) {
            assert_int_equal(work[i], 0xcc);
        }
    }
    static const uint8_t values[] = {0x00, 0x01, 0x02, 0x03, 0x09, 0x7f, 0x80, 0xff};
    for (uint32_t pos = 0; pos < total; pos++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            memset(work, 0xcc, sizeof(work));
            memcpy(work, tree, total);
            work[pos] = values[v];
            int err = dtb_chosen_set_initrd(work, room, 0x40000000, 0x1000);
            for (size_t i = room; i < sizeof(work); i++) {
                assert_int_equal(work[i], 0xcc);
            }
            if (err == 0) {
                assert_int_equal(fdt_check_full(work, room), 0);
                uint64_t start = 0;
                assert_true(t_chosen_u64(work, "linux,initrd-start", &start));
                assert_int_equal(start, 0x40000000);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_initrd_creating_chosen), cmocka_unit_test(test_replaces_and_removes),
        cmocka_unit_test(test_growth_within_bound),         cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_overflowing_range),           cmocka_unit_test(test_check_rejects_garbage),
        cmocka_unit_test(test_nop_before_root_refused),     cmocka_unit_test(test_mutations_never_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
