/* Log formatting and rate limiting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/log.h>
#include "fake_microkit.h"

static int setup(void **state)
{
    (void)state;
    fake_microkit_reset();
    vmm_log_level = LOG_LEVEL_INFO;
    return 0;
}

static void test_snprintf_formats(void **state)
{
    (void)state;
    char buf[128];
    vmm_snprintf(buf, sizeof(buf), "%d %u %x %lx %llx %zu %s %c %%", -42, 7u, 0xbeefu, 0x1234UL, 0xfedcba9876543210ULL,
                 (size_t)99, "str", 'z');
    assert_string_equal(buf, "-42 7 beef 1234 fedcba9876543210 99 str z %");
    vmm_snprintf(buf, sizeof(buf), "[%08x] [%-4d] [%4s] [%016lx]", 0xabu, 5, "ab", 0x10UL);
    assert_string_equal(buf, "[000000ab] [5   ] [  ab] [0000000000000010]");
    vmm_snprintf(buf, sizeof(buf), "%d %lld", -2147483647 - 1, -9223372036854775807LL - 1);
    assert_string_equal(buf, "-2147483648 -9223372036854775808");
}

static void test_snprintf_truncates_and_counts(void **state)
{
    (void)state;
    char buf[8];
    int n = vmm_snprintf(buf, sizeof(buf), "0123456789");
    assert_int_equal(n, 10);
    assert_string_equal(buf, "0123456");
}

static void test_log_prefix_and_level(void **state)
{
    (void)state;
    LOG_INFO("hello %d", 1);
    assert_true(fake_console_contains("vmm|INFO: hello 1\n"));
    LOG_DEBUG("hidden");
    assert_false(fake_console_contains("hidden"));
    LOG_ERR("bad %s", "thing");
    assert_true(fake_console_contains("vmm|ERROR: test_log_prefix_and_level: bad thing\n"));
}

static void test_guest_log_rate_limited(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        LOG_GUEST(LOG_LEVEL_WARN, "guest did %d", i);
    }
    size_t lines = 0;
    for (size_t i = 0; i < fake.console_len; i++) {
        lines += fake.console[i] == '\n';
    }
    /* 8 in the burst, then one per 1024 of the remaining 2992. */
    assert_int_equal(lines, LOG_RATE_BURST + (3000 - LOG_RATE_BURST) / LOG_RATE_EVERY);
    assert_true(fake_console_contains("similar suppressed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_snprintf_formats, setup),
        cmocka_unit_test_setup(test_snprintf_truncates_and_counts, setup),
        cmocka_unit_test_setup(test_log_prefix_and_level, setup),
        cmocka_unit_test_setup(test_guest_log_rate_limited, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
