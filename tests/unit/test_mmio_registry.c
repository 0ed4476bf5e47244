/*
 * MMIO region registry (src/mmio.c): overlap refused, adjacency fine, full
 * table, size 0, wrapping ranges, unregister, lookup at both ends, the
 * last-hit shortcut across table changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <libvmm/mmio.h>
#include "fake_microkit.h"
#include "mmio_internal.h"

static unsigned calls;
static void *last_cookie;
static struct mmio_access last_access;

static bool handler(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)vcpu;
    calls++;
    last_cookie = cookie;
    last_access = *access;
    access->value = 0x1234;
    return true;
}

static bool failing_handler(size_t vcpu, struct mmio_access *access, void *cookie)
{
    (void)vcpu;
    (void)access;
    (void)cookie;
    calls++;
    return false;
}

static int setup(void **state)
{
    (void)state;
    fake_microkit_reset();
    mmio_reset();
    calls = 0;
    last_cookie = NULL;
    return 0;
}

static enum mmio_dispatch_result read_at(uint64_t gpa, uint8_t width)
{
    struct mmio_access a = {.gpa = gpa, .width = width, .is_write = false};
    enum mmio_dispatch_result r = mmio_dispatch(0, &a);
    if (r == MMIO_HANDLED) {
        assert_int_equal(a.value, 0x1234);
    }
    return r;
}

static void test_lookup_at_both_ends(void **state)
{
    (void)state;
    int cookie;
    assert_true(mmio_register(0x9000000, 0x1000, handler, &cookie));
    assert_int_equal(read_at(0x9000000, 4), MMIO_HANDLED);
    assert_int_equal(last_access.offset, 0);
    assert_ptr_equal(last_cookie, &cookie);
    assert_int_equal(read_at(0x9000fff, 1), MMIO_HANDLED);
    assert_int_equal(last_access.offset, 0xfff);
    assert_int_equal(read_at(0x9000ff8, 8), MMIO_HANDLED);
    assert_int_equal(calls, 3);
    assert_int_equal(read_at(0x8ffffff, 1), MMIO_UNCLAIMED);
    assert_int_equal(read_at(0x9001000, 1), MMIO_UNCLAIMED);
    /* Runs one byte past the end: the region refuses it, the handler is not called. */
    assert_int_equal(read_at(0x9000ffd, 4), MMIO_REFUSED);
    assert_int_equal(calls, 3);
    assert_false(mmio_claimed(0x9001000));
    assert_true(mmio_claimed(0x9000800));
}

static void test_overlap_refused_adjacency_fine(void **state)
{
    (void)state;
    assert_true(mmio_register(0x10000, 0x1000, handler, NULL));
    assert_false(mmio_register(0x10000, 0x1000, handler, NULL)); /* identical */
    assert_false(mmio_register(0xf000, 0x1001, handler, NULL)); /* tail overlaps */
    assert_false(mmio_register(0x10fff, 0x10, handler, NULL)); /* head overlaps */
    assert_false(mmio_register(0x10800, 0x10, handler, NULL)); /* inside */
    assert_false(mmio_register(0x0, 0x100000, handler, NULL)); /* contains */
    assert_true(mmio_register(0xf000, 0x1000, handler, NULL)); /* ends where it starts */
    assert_true(mmio_register(0x11000, 0x1000, handler, NULL)); /* starts where it ends */
    assert_int_equal(mmio_region_count(), 3);
    assert_true(fake_console_contains("overlaps"));
}

static void test_size_zero_and_wrap_refused(void **state)
{
    (void)state;
    assert_false(mmio_register(0x1000, 0, handler, NULL));
    assert_false(mmio_register(0xfffffffffffff000ull, 0x2000, handler, NULL));
    assert_false(mmio_register(0x1000, 0x1000, NULL, NULL));
    assert_int_equal(mmio_region_count(), 0);
    /* A region ending exactly at the top of the address space does not wrap. */
    assert_true(mmio_register(0xfffffffffffff000ull, 0x1000, handler, NULL));
    assert_int_equal(read_at(0xfffffffffffffff8ull, 8), MMIO_HANDLED);
    assert_int_equal(read_at(0xfffffffffffffffcull, 8), MMIO_REFUSED);
}

static void test_full_table(void **state)
{
    (void)state;
    /* Registered in descending order to exercise insertion at the front. */
    for (unsigned i = 0; i < MMIO_MAX_REGIONS; i++) {
        assert_true(mmio_register(0x100000 - (uint64_t)(i + 1) * 0x100, 0x100, handler, NULL));
    }
    assert_int_equal(mmio_region_count(), MMIO_MAX_REGIONS);
    assert_false(mmio_register(0x200000, 0x100, handler, NULL));
    assert_true(fake_console_contains("table full"));
    for (unsigned i = 0; i < MMIO_MAX_REGIONS; i++) {
        uint64_t base = 0x100000 - (uint64_t)(i + 1) * 0x100;
        assert_int_equal(read_at(base, 1), MMIO_HANDLED);
        assert_int_equal(last_access.offset, 0);
        assert_int_equal(read_at(base + 0xff, 1), MMIO_HANDLED);
        assert_int_equal(last_access.offset, 0xff);
    }
    /* After one is removed there is room again. */
    assert_true(mmio_unregister(0x100000 - 0x100));
    assert_true(mmio_register(0x200000, 0x100, handler, NULL));
}

static void test_unregister(void **state)
{
    (void)state;
    assert_true(mmio_register(0x1000, 0x1000, handler, NULL));
    assert_true(mmio_register(0x3000, 0x1000, handler, NULL));
    assert_false(mmio_unregister(0x1800)); /* not a base */
    assert_false(mmio_unregister(0x5000));
    assert_true(mmio_unregister(0x1000));
    assert_int_equal(read_at(0x1000, 4), MMIO_UNCLAIMED);
    assert_int_equal(read_at(0x3000, 4), MMIO_HANDLED);
    assert_false(mmio_unregister(0x1000)); /* already gone */
    assert_true(mmio_register(0x1000, 0x2000, handler, NULL)); /* the space is free again */
}

/* The last region found is tried first; the table changing under it must never yield a stale or wrong region. */
static void test_last_hit_follows_table_changes(void **state)
{
    (void)state;
    int a, b, c;
    assert_true(mmio_register(0x1000, 0x1000, handler, &a));
    assert_true(mmio_register(0x3000, 0x1000, handler, &b));
    assert_int_equal(read_at(0x3004, 4), MMIO_HANDLED); /* b, at index 1, is the last hit */
    assert_ptr_equal(last_cookie, &b);
    assert_int_equal(read_at(0x2000, 4), MMIO_UNCLAIMED); /* the gap between them */
    assert_true(mmio_unregister(0x1000)); /* b moves to index 0 */
    assert_int_equal(read_at(0x1004, 4), MMIO_UNCLAIMED);
    assert_int_equal(read_at(0x3008, 4), MMIO_HANDLED);
    assert_ptr_equal(last_cookie, &b);
    assert_true(mmio_register(0x0000, 0x1000, handler, &c)); /* inserted before b: b moves to index 1 */
    assert_int_equal(read_at(0x0ffc, 4), MMIO_HANDLED);
    assert_ptr_equal(last_cookie, &c);
    assert_int_equal(read_at(0x3ffc, 4), MMIO_HANDLED);
    assert_ptr_equal(last_cookie, &b);
    assert_int_equal(last_access.offset, 0xffc);
    mmio_reset();
    assert_int_equal(read_at(0x3ffc, 4), MMIO_UNCLAIMED);
    assert_false(mmio_claimed(0x0000));
}

static void test_handler_failure_and_write(void **state)
{
    (void)state;
    assert_true(mmio_register(0x2000, 0x100, failing_handler, NULL));
    assert_true(mmio_register(0x3000, 0x100, handler, NULL));
    assert_int_equal(read_at(0x2010, 4), MMIO_REFUSED);
    assert_int_equal(calls, 1);
    struct mmio_access a = {.gpa = 0x3004, .width = 2, .is_write = true, .value = 0xbeef};
    assert_int_equal(mmio_dispatch(3, &a), MMIO_HANDLED);
    assert_true(last_access.is_write);
    assert_int_equal(last_access.value, 0xbeef);
    assert_int_equal(last_access.width, 2);
    assert_int_equal(last_access.offset, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lookup_at_both_ends, setup),
        cmocka_unit_test_setup(test_overlap_refused_adjacency_fine, setup),
        cmocka_unit_test_setup(test_size_zero_and_wrap_refused, setup),
        cmocka_unit_test_setup(test_full_table, setup),
        cmocka_unit_test_setup(test_unregister, setup),
        cmocka_unit_test_setup(test_last_hit_follows_table_changes, setup),
        cmocka_unit_test_setup(test_handler_failure_and_write, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
