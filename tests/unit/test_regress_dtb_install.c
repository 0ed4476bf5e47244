/*
 * Regression (tests/fuzz/fuzz_dtb_chosen): dtb_chosen_install() handed a tree
 * whose header is plausible to fdt_open_into() but whose off_mem_rsvmap points
 * far outside it. libfdt 1.6.1 then memmoves a negative length (ASan:
 * negative-size-param; without ASan a wild copy). dtb_chosen_install() now
 * checks the source as dtb_chosen_check() does and refuses it, leaving the
 * destination untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "dtb_chosen.h"
#include "loader_fixture.h"

#define DEST_SIZE 1024
#define FILL 0x5c

/* The tree part of the input the fuzzer found (140 bytes): off_mem_rsvmap = 0x63686f73. */
static const uint8_t found[] = {
    0xd0, 0x0d, 0xfe, 0xed, 0x00, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x6c, 0x63, 0x68,
    0x6f, 0x73, 0x65, 0x6e, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x63, 0x68,
    0x6f, 0x00, 0x65, 0x73, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00,
    0x71, 0x75, 0x69, 0x65, 0x74, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x00, 0x09, 0x62, 0x6f, 0x6f, 0x74, 0x61, 0x72, 0x67, 0x73, 0x00, 0x00, 0x00, 0x00,
};

static uint8_t src[1024] __attribute__((aligned(8)));
static uint8_t dest[DEST_SIZE] __attribute__((aligned(8)));

static void assert_dest_untouched(void)
{
    for (size_t i = 0; i < DEST_SIZE; i++) {
        assert_int_equal(dest[i], FILL);
    }
}

static void test_fuzzer_input_refused(void **state)
{
    (void)state;
    assert_int_equal(sizeof(found), 140);
    memcpy(src, found, sizeof(found));
    memset(dest, FILL, sizeof(dest));
    int err = dtb_chosen_install(dest, sizeof(dest), src, 0x48000000, 0x10);
    assert_true(err < 0);
    assert_dest_untouched();
}

/* The same defect made from a valid tree: only off_mem_rsvmap is wrong. */
static void test_bad_rsvmap_offset_refused(void **state)
{
    (void)state;
    t_make_dtb(src, sizeof(src), true, false);
    assert_int_equal(dtb_chosen_install(dest, sizeof(dest), src, 0x48000000, 0x10), 0); /* the good tree installs */
    fdt_set_off_mem_rsvmap(src, 0x63686f73);
    memset(dest, FILL, sizeof(dest));
    assert_true(dtb_chosen_install(dest, sizeof(dest), src, 0x48000000, 0x10) < 0);
    assert_dest_untouched();
    assert_true(dtb_chosen_check(src, sizeof(src)) < 0);
}

/* A structure block that does not walk cleanly is refused too (dtb_chosen_check's full check). */
static void test_corrupt_structure_refused(void **state)
{
    (void)state;
    t_make_dtb(src, sizeof(src), true, false);
    uint32_t *token = (uint32_t *)(src + fdt_off_dt_struct(src));
    *token = cpu_to_fdt32(0x7777); /* no such token */
    memset(dest, FILL, sizeof(dest));
    assert_true(dtb_chosen_install(dest, sizeof(dest), src, 0x48000000, 0x10) < 0);
    assert_dest_untouched();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzzer_input_refused),
        cmocka_unit_test(test_bad_rsvmap_offset_refused),
        cmocka_unit_test(test_corrupt_structure_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
