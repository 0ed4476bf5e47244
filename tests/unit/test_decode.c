/*
 * Table-driven tests of the pure data-abort syndrome decode (src/mmio_decode.c):
 * every SAS x SSE x SF x WnR combination, SRT across the seL4_UserContext
 * order including XZR, IL, ISV, and the load/store value shaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "mmio_decode.h"

#define DFSC_TRANSLATION_L3 0x07

/* Registers in each part of the seL4_UserContext order, plus XZR. */
static const uint8_t srt_values[] = {0, 8, 9, 16, 18, 19, 28, 29, 30, 31};

static uint32_t make_esr(bool isv, unsigned sas, bool sse, unsigned srt, bool sf, bool wnr, bool il)
{
    return (ESR_EC_DABT_LOWER << 26) | (il ? ESR_IL : 0) | (isv ? ESR_DABT_ISV : 0) | (sas << 22) |
           (sse ? ESR_DABT_SSE : 0) | (srt << 16) | (sf ? ESR_DABT_SF : 0) | (wnr ? ESR_DABT_WNR : 0) |
           DFSC_TRANSLATION_L3;
}

static void test_every_field_combination(void **state)
{
    (void)state;
    static const uint8_t widths[4] = {1, 2, 4, 8};
    unsigned checked = 0;
    for (unsigned sas = 0; sas < 4; sas++) {
        for (unsigned sse = 0; sse < 2; sse++) {
            for (unsigned sf = 0; sf < 2; sf++) {
                for (unsigned wnr = 0; wnr < 2; wnr++) {
                    for (size_t r = 0; r < sizeof(srt_values); r++) {
                        for (unsigned il = 0; il < 2; il++) {
                            uint32_t esr = make_esr(true, sas, sse, srt_values[r], sf, wnr, il);
                            struct mmio_syndrome s;
                            mmio_decode_syndrome(esr, &s);
                            assert_true(s.isv);
                            assert_int_equal(s.width, widths[sas]);
                            assert_int_equal(s.sign_extend, sse);
                            assert_int_equal(s.reg64, sf);
                            assert_int_equal(s.is_write, wnr);
                            assert_int_equal(s.rt, srt_values[r]);
                            assert_int_equal(s.insn_len, il ? 4 : 2);
                            assert_int_equal(s.dfsc, DFSC_TRANSLATION_L3);
                            assert_false(s.acq_rel);
                            assert_false(s.far_invalid);
                            assert_false(s.cache_maint);
                            assert_false(s.s1ptw);
                            checked++;
                        }
                    }
                }
            }
        }
    }
    assert_int_equal(checked, 4 * 2 * 2 * 2 * sizeof(srt_values) * 2);
}

static void test_isv_clear_and_flag_bits(void **state)
{
    (void)state;
    struct mmio_syndrome s;
    /* An STP (ISV=0): only the fault status, WnR and IL mean something. */
    mmio_decode_syndrome(make_esr(false, 0, false, 0, false, true, true), &s);
    assert_false(s.isv);
    assert_true(s.is_write);
    assert_int_equal(s.insn_len, 4);

    mmio_decode_syndrome((ESR_EC_DABT_LOWER << 26) | ESR_IL | ESR_DABT_ISV | ESR_DABT_AR | ESR_DABT_FNV | ESR_DABT_CM |
                             ESR_DABT_S1PTW | ESR_DABT_EA | 0x10,
                         &s);
    assert_true(s.acq_rel);
    assert_true(s.far_invalid);
    assert_true(s.cache_maint);
    assert_true(s.s1ptw);
    assert_true(s.external);
    assert_int_equal(s.dfsc, 0x10);
}

static void test_dfsc_classes(void **state)
{
    (void)state;
    static const struct {
        uint8_t dfsc;
        bool mmio;
    } table[] = {
        {0x00, false}, {0x03, false}, {0x04, true},  {0x05, true},  {0x06, true},  {0x07, true},
        {0x08, true},  {0x09, true},  {0x0a, true},  {0x0b, true},  {0x0c, true},  {0x0d, true},
        {0x0e, true},  {0x0f, true},  {0x10, false}, {0x11, false}, {0x13, false}, {0x14, false},
        {0x17, false}, {0x18, false}, {0x21, false}, {0x2b, true},  {0x30, false}, {0x3f, false},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_int_equal(mmio_dfsc_is_mmio(table[i].dfsc), table[i].mmio);
    }
}

/* Every lane's top bit set, and none set, so sign and zero extension differ visibly. */
#define NEG 0xf1e2d3c4b5a69788ull
#define POS 0x0123456776543210ull

static void test_load_extension_table(void **state)
{
    (void)state;
    static const struct {
        unsigned sas;
        bool sse;
        bool sf;
        uint64_t in;
        uint64_t out;
    } table[] = {
        {0, false, false, NEG, 0x88},
        {0, false, true, NEG, 0x88},
        {0, true, false, NEG, 0xffffff88},
        {0, true, true, NEG, 0xffffffffffffff88ull},
        {1, false, false, NEG, 0x9788},
        {1, false, true, NEG, 0x9788},
        {1, true, false, NEG, 0xffff9788},
        {1, true, true, NEG, 0xffffffffffff9788ull},
        {2, false, false, NEG, 0xb5a69788},
        {2, false, true, NEG, 0xb5a69788},
        {2, true, false, NEG, 0xb5a69788}, /* LDR Wt: the upper half of Xt is zeroed */
        {2, true, true, NEG, 0xffffffffb5a69788ull},
        {3, false, true, NEG, NEG},
        {3, true, true, NEG, NEG},
        {3, false, false, NEG, 0xb5a69788}, /* no such instruction; a W write never leaves upper bits */
        {0, false, false, POS, 0x10},
        {0, true, false, POS, 0x10},
        {0, true, true, POS, 0x10},
        {1, true, false, POS, 0x3210},
        {1, true, true, POS, 0x3210},
        {2, true, false, POS, 0x76543210},
        {2, true, true, POS, 0x76543210},
        {3, false, true, POS, POS},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct mmio_syndrome s;
        mmio_decode_syndrome(make_esr(true, table[i].sas, table[i].sse, 1, table[i].sf, false, true), &s);
        assert_int_equal(mmio_load_result(&s, table[i].in), table[i].out);
    }
}

static void test_store_value_masks(void **state)
{
    (void)state;
    static const uint64_t expect[4] = {0x88, 0x9788, 0xb5a69788, NEG};
    for (unsigned sas = 0; sas < 4; sas++) {
        for (unsigned sf = 0; sf < 2; sf++) {
            struct mmio_syndrome s;
            mmio_decode_syndrome(make_esr(true, sas, false, 3, sf, true, true), &s);
            assert_int_equal(mmio_store_value(&s, NEG), expect[sas]);
        }
    }
    assert_int_equal(mmio_width_mask(1), 0xff);
    assert_int_equal(mmio_width_mask(2), 0xffff);
    assert_int_equal(mmio_width_mask(4), 0xffffffffu);
    assert_int_equal(mmio_width_mask(8), ~0ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_combination),
        cmocka_unit_test(test_isv_clear_and_flag_bits),
        cmocka_unit_test(test_dfsc_classes),
        cmocka_unit_test(test_load_extension_table),
        cmocka_unit_test(test_store_value_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
