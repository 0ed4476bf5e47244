/*
 * Regression (tests/fuzz/fuzz_dtb_chosen, timeouts): a property whose length
 * is near 2^32 (0xfffffff4 = -12). libfdt 1.6.1's fdt_next_tag() adds it to
 * an int, its walk steps back onto the same tag, and fdt_check_full() never
 * returns: dtb_chosen_check(), and so linux_setup_images(), hung. The tree is
 * now walked once by the library itself, with bounds, before libfdt sees it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "dtb_chosen.h"
#include "loader_fixture.h"

/* Without the fix the test hangs: let SIGALRM end the program (non-zero exit) instead. */
#define HANG_SECONDS 10

/* Set the length cell of the first property of the first node below the root. */
static void set_first_prop_len(uint8_t *fdt, uint32_t len)
{
    int node = fdt_first_subnode(fdt, 0);
    assert_true(node >= 0);
    int prop = fdt_first_property_offset(fdt, node);
    assert_true(prop >= 0);
    fdt32_t cell = cpu_to_fdt32(len);
    memcpy(fdt + fdt_off_dt_struct(fdt) + (uint32_t)prop + 4, &cell, 4);
}

static void test_huge_property_length_refused(void **state)
{
    (void)state;
    static uint8_t tree[1024] __attribute__((aligned(8)));
    t_make_dtb(tree, sizeof(tree), true, false);
    set_first_prop_len(tree, 0xfffffff4u);
    alarm(HANG_SECONDS);
    assert_int_equal(dtb_chosen_check(tree, sizeof(tree)), -FDT_ERR_BADSTRUCTURE);
    alarm(0);
}

/* Every length that runs past the structure block is refused, not only the one that loops libfdt. */
static void test_lengths_past_the_block_refused(void **state)
{
    (void)state;
    static uint8_t tree[1024] __attribute__((aligned(8)));
    static const uint32_t lens[] = {0x7fffffffu, 0x80000000u, 0xfffffffcu, 0xffffffffu, 0x1000u};
    alarm(HANG_SECONDS);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        t_make_dtb(tree, sizeof(tree), true, false);
        set_first_prop_len(tree, lens[i]);
        assert_true(dtb_chosen_check(tree, sizeof(tree)) < 0);
    }
    alarm(0);
    /* The unmodified tree is still fine. */
    t_make_dtb(tree, sizeof(tree), true, false);
    assert_int_equal(dtb_chosen_check(tree, sizeof(tree)), 0);
}

/* Through the loader: refused, guest RAM untouched, and it returns. */
static void test_loader_returns(void **state)
{
    (void)state;
    t_reset(1);
    set_first_prop_len(t_dtb, 0xfffffff4u);
    alarm(HANG_SECONDS);
    assert_int_equal(t_linux(), LOADER_FAILED);
    alarm(0);
    assert_true(t_ram_intact());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_property_length_refused),
        cmocka_unit_test(test_lengths_past_the_block_refused),
        cmocka_unit_test(test_loader_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
