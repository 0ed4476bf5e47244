/*
 * The bit-per-INTID register words (IGROUPR, IS/ICENABLER, IS/ICPENDR,
 * IS/ICACTIVER) are kept as bitmaps so that a guest's read is one load
 * (vgic_internal.h, struct vgic_bits). Property test: after every step of a
 * long pseudo-random mix of guest register writes, SGIs, VMM injections,
 * line changes, guest EOIs and vGIC resets, on GICv2 and GICv3, every word
 * the guest reads equals the word built bit by bit from the per-INTID state.
 */
#include "test_vgic_v3_helpers.h"
#include "vgic/vgic_internal.h"

#define NUM_VCPUS 2
#define STEPS 3000
#define FIRST_SPI 32
#define NUM_SPIS 40 /* SPIs 32..71 registered: they span two register words */
#define TEST_PPI 20
#define BIT_REGS 7 /* IGROUPR, ISENABLER, ICENABLER, ISPENDR, ICPENDR, ISACTIVER, ICACTIVER */
#define BIT_BASE 0x080
#define BIT_BLOCK 0x80
#define WORDS 10 /* 9 implemented (288 INTIDs) and one RAZ beyond */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

/* What the word of bit register `reg` (0..6) for INTIDs first..first+31 must read as, from the per-INTID state. */
static uint32_t expected_word(size_t vcpu, unsigned reg, unsigned first)
{
    uint32_t w = 0;
    for (unsigned i = 0; i < 32; i++) {
        const struct vgic_irq *irq = first + i < VGIC_NUM_INTIDS ? vgic_irq_get(vcpu, first + i) : NULL;
        if (irq == NULL) {
            continue;
        }
        bool bit;
        switch ((reg + 1) / 2) {
        case 0:
            bit = irq->group1;
            break;
        case 1:
            bit = irq->enabled;
            break;
        case 2:
            bit = vgic_irq_pending(irq);
            break;
        default:
            bit = irq->active;
            break;
        }
        w |= (uint32_t)bit << i;
    }
    return w;
}

/* The guest's view of word `word` of bit register `reg`: GICv3 shows SGIs/PPIs in each redistributor only. */
static uint32_t guest_word(enum gic_version version, size_t vcpu, unsigned reg, unsigned word)
{
    uint32_t off = BIT_BASE + reg * BIT_BLOCK + 4 * word;
    if (version == GIC_VERSION_3 && word == 0) {
        return (uint32_t)t3_rread(vcpu, vcpu, T3_SGI_BASE + off, 4);
    }
    return (uint32_t)t3_dread(vcpu, off, 4);
}

static void check_all(enum gic_version version)
{
    for (size_t v = 0; v < NUM_VCPUS; v++) {
        for (unsigned reg = 0; reg < BIT_REGS; reg++) {
            for (unsigned word = 0; word < WORDS; word++) {
                uint32_t want = expected_word(v, reg, 32 * word);
                uint32_t got = guest_word(version, v, reg, word);
                if (got != want) {
                    fail_msg("vCPU %zu, bit register %u, word %u: reads 0x%08x, state says 0x%08x", v, reg, word, got,
                             want);
                }
            }
        }
    }
}

static void write_bits(enum gic_version version)
{
    size_t vcpu = rnd(NUM_VCPUS);
    unsigned reg = rnd(BIT_REGS);
    unsigned word = rnd(3); /* the SGI/PPI word and the two with registered SPIs */
    uint32_t value = (uint32_t)rnd(1u << 16) << 16 | rnd(1u << 16);
    value &= (uint32_t)rnd(1u << 16) << 16 | rnd(1u << 16); /* sparse: mostly a few bits */
    uint32_t off = BIT_BASE + reg * BIT_BLOCK + 4 * word;
    if (version == GIC_VERSION_3 && word == 0) {
        t3_rwrite(vcpu, rnd(NUM_VCPUS), T3_SGI_BASE + off, 4, value);
    } else {
        t3_dwrite(vcpu, off, 4, value);
    }
}

static void send_sgi(enum gic_version version)
{
    size_t vcpu = rnd(NUM_VCPUS);
    unsigned sgi = rnd(VGIC_NUM_SGIS);
    if (version == GIC_VERSION_3) {
        t3_sgi1r(vcpu, t3_sgir(sgi, 0, 0, 0, 0, (uint16_t)(1 + rnd(3))));
        return;
    }
    switch (rnd(3)) {
    case 0:
        t3_dwrite(vcpu, GICD_SGIR, 4, rnd(3) << 24 | rnd(4) << 16 | sgi);
        break;
    case 1:
        t3_dwrite(vcpu, 0xf10 + sgi, 1, rnd(4)); /* GICD_CPENDSGIR */
        break;
    default:
        t3_dwrite(vcpu, 0xf20 + sgi, 1, rnd(4)); /* GICD_SPENDSGIR */
        break;
    }
}

/* The guest EOIs a random busy list register of a random vCPU, if there is one. */
static void guest_eoi(void)
{
    size_t vcpu = rnd(NUM_VCPUS);
    unsigned start = rnd(fake.num_lrs);
    for (unsigned k = 0; k < fake.num_lrs; k++) {
        unsigned idx = (start + k) % fake.num_lrs;
        if (fake.vcpu[vcpu].lr[idx].state != FAKE_LR_INVALID) {
            t3_guest_eoi(vcpu, idx);
            return;
        }
    }
}

static void step(enum gic_version version)
{
    unsigned what = rnd(100);
    if (what < 35) {
        write_bits(version);
    } else if (what < 45) {
        send_sgi(version);
    } else if (what < 55) {
        assert_true(virq_inject(rnd(NUM_VCPUS), (int)(FIRST_SPI + rnd(NUM_SPIS))));
    } else if (what < 60) {
        assert_true(virq_inject(rnd(NUM_VCPUS), TEST_PPI));
    } else if (what < 68) {
        assert_true(vgic_set_level(0, FIRST_SPI + rnd(NUM_SPIS), rnd(2)));
    } else if (what < 72) {
        uint32_t off = 0xc00 + 4 * (2 + rnd(3)); /* ICFGR of SPIs 32..79 */
        t3_dwrite(rnd(NUM_VCPUS), off, 4, (uint32_t)rnd(1u << 16) << 16 | rnd(1u << 16));
    } else if (what < 75) {
        t3_dwrite(0, GICD_CTLR, 4, (version == GIC_VERSION_3 ? 0x10 : 0) | rnd(4));
    } else if (what < 76) {
        vgic_reset();
        if (version == GIC_VERSION_3) {
            t3_enable_all(NUM_VCPUS);
        }
    } else {
        guest_eoi();
    }
}

static void run(enum gic_version version, uint64_t seed)
{
    t3_guest_version(NUM_VCPUS, 4, version);
    rng_state = seed;
    for (unsigned i = 0; i < NUM_SPIS; i++) {
        assert_true(virq_register(i % NUM_VCPUS, FIRST_SPI + i, NULL, NULL));
    }
    for (size_t v = 0; v < NUM_VCPUS; v++) {
        assert_true(virq_register(v, TEST_PPI, NULL, NULL));
    }
    if (version == GIC_VERSION_3) {
        t3_enable_all(NUM_VCPUS);
    } else {
        t3_dwrite(0, GICD_CTLR, 4, 3);
    }
    check_all(version);
    for (unsigned i = 0; i < STEPS; i++) {
        step(version);
        check_all(version);
    }
    /* The mix must have reached every kind of state, or the test proves little. */
    uint32_t seen[4] = {0};
    for (unsigned reg = 0; reg < BIT_REGS; reg += 2) {
        for (size_t v = 0; v < NUM_VCPUS; v++) {
            seen[(reg + 1) / 2] |= expected_word(v, reg, 0) | expected_word(v, reg, 32) | expected_word(v, reg, 64);
        }
    }
    assert_true(seen[1] != 0 && seen[2] != 0 && seen[3] != 0);
}

static void test_v2_words_follow_state(void **state)
{
    (void)state;
    run(GIC_VERSION_2, 1);
    run(GIC_VERSION_2, 0x5eed);
}

static void test_v3_words_follow_state(void **state)
{
    (void)state;
    run(GIC_VERSION_3, 2);
    run(GIC_VERSION_3, 0xfeed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_words_follow_state),
        cmocka_unit_test(test_v3_words_follow_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
