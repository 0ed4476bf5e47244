/*
 * Guest stage-2 translation (Arm ARM D8.2 and D13.2.151 VTCR_EL2).
 * 40-bit IPA (T0SZ = 24), 4 KiB granule, SL0 = 1: the walk starts at level 1
 * with two concatenated level-1 tables (8 KiB root), as seL4 does for 40-bit
 * PA cores (ABI 4.2). Leaves: AF = 1; S2AP RO/RW; MemAttr 0xF (Normal
 * inner+outer write-back) when cached, 0x0 (Device-nGnRnE) when not; XN
 * unless the mapping is executable. One table and one VMID per VM (PD k's
 * VM: VMID k + 1); each CPU's VTTBR_EL2 is its PD's, fixed from its start.
 */
#include <string.h>
#include <hyp/arch.h>
#include <hyp/log.h>
#include <hyp/stage2.h>
#include <hyp/system.h>

#define S2_POOL_TABLES 64
#define S2_VALID (1ull << 0)
#define S2_TABLE (1ull << 1)
#define S2_MEMATTR_NORMAL_WB (0xfull << 2)
#define S2_MEMATTR_DEVICE_NGNRNE (0x0ull << 2)
#define S2_S2AP_R (1ull << 6)
#define S2_S2AP_W (1ull << 7)
#define S2_SH_INNER (3ull << 8)
#define S2_AF (1ull << 10)
#define S2_XN (1ull << 54)
#define S2_ADDR_MASK 0x0000fffffffff000ull

/* VTCR_EL2: T0SZ 24, SL0 1, IRGN0/ORGN0 WB-WA, SH0 inner, TG0 4 KiB, PS 40-bit, RES1 bit 31 = 0x80023558. */
#define VTCR_VALUE ((1ull << 31) | (2ull << 16) | (3ull << 12) | (1ull << 10) | (1ull << 8) | (1ull << 6) | 24ull)

typedef uint64_t pte_t;

static pte_t s2_root[STAGE2_MAX_VMS][1024] __attribute__((aligned(8192)));
static pte_t s2_pool[S2_POOL_TABLES][512] __attribute__((aligned(4096)));
static unsigned s2_pool_used;

static pte_t *s2_next_table(pte_t *table, unsigned idx, uint64_t ipa)
{
    pte_t e = table[idx];
    if (!(e & S2_VALID)) {
        if (s2_pool_used >= S2_POOL_TABLES) {
            hyp_panic("stage-2 page-table pool exhausted (%u tables)", S2_POOL_TABLES);
        }
        pte_t *t = s2_pool[s2_pool_used++];
        memset(t, 0, 4096);
        dsb(ishst);
        table[idx] = (uint64_t)(uintptr_t)t | S2_VALID | S2_TABLE;
        return t;
    }
    if (!(e & S2_TABLE)) {
        hyp_panic("guest mapping at IPA 0x%lx overlaps an existing block", ipa);
    }
    return (pte_t *)(uintptr_t)(e & S2_ADDR_MASK);
}

void stage2_map(unsigned vm, uint64_t ipa, uint64_t pa, uint64_t size, unsigned perms, bool cached)
{
    if ((ipa | pa | size) & 0xfff || ipa + size > (1ull << STAGE2_IPA_BITS) || ipa + size < ipa ||
        vm >= STAGE2_MAX_VMS) {
        hyp_panic("bad guest mapping IPA 0x%lx pa 0x%lx size 0x%lx", ipa, pa, size);
    }
    pte_t attrs = S2_VALID | S2_AF;
    attrs |= cached ? (S2_MEMATTR_NORMAL_WB | S2_SH_INNER) : S2_MEMATTR_DEVICE_NGNRNE;
    if (perms & HYP_PERM_R) {
        attrs |= S2_S2AP_R;
    }
    if (perms & HYP_PERM_W) {
        attrs |= S2_S2AP_W;
    }
    if (!(perms & HYP_PERM_X)) {
        attrs |= S2_XN;
    }
    while (size) {
        pte_t *l2 = s2_next_table(s2_root[vm], (ipa >> 30) & 1023, ipa);
        unsigned i2 = (ipa >> 21) & 511;
        if (((ipa | pa) & 0x1fffff) == 0 && size >= 0x200000) {
            if (l2[i2] & S2_VALID) {
                hyp_panic("guest mapping at IPA 0x%lx overlaps an existing mapping", ipa);
            }
            l2[i2] = pa | attrs;
            ipa += 0x200000;
            pa += 0x200000;
            size -= 0x200000;
            continue;
        }
        pte_t *l3 = s2_next_table(l2, i2, ipa);
        unsigned i3 = (ipa >> 12) & 511;
        if (l3[i3] & S2_VALID) {
            hyp_panic("guest mapping at IPA 0x%lx overlaps an existing mapping", ipa);
        }
        l3[i3] = pa | attrs | S2_TABLE;
        ipa += 0x1000;
        pa += 0x1000;
        size -= 0x1000;
    }
    dsb(ishst);
}

void stage2_cpu_init(unsigned vm)
{
    sysreg_write(vtcr_el2, VTCR_VALUE);
    sysreg_write(vttbr_el2, ((uint64_t)STAGE2_VMID(vm) << 48) | (uint64_t)(uintptr_t)s2_root[vm]);
    isb();
}

/* TLBI VMALLS12E1IS acts on the VMID in this CPU's VTTBR_EL2 (Arm ARM C5.5): switch to it first. */
void stage2_activate(unsigned vm)
{
    stage2_cpu_init(vm);
    dsb(ishst);
    __asm__ volatile("tlbi vmalls12e1is" ::: "memory");
    dsb(ish);
    isb();
}
