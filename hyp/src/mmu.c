/*
 * EL2 stage-1 translation tables (Arm ARM D8.3, VMSAv8-64 descriptors; EL2
 * regime with HCR_EL2.E2H == 0: one VA range, TTBR0_EL2). 4 KiB granule,
 * T0SZ = 25 (39-bit VA), lookup starts at level 1; 2 MiB blocks where the
 * range allows, 4 KiB pages otherwise. Tables come from a fixed pool.
 *
 * One table per PD: each CPU's TTBR0_EL2 is its PD's, fixed from its start,
 * so a PD cannot even address another PD's maps. hyp's own mappings (its
 * image, devices, backend regions) go into every table (MMU_ALL_TABLES).
 * The EL2 regime has no ASIDs; a CPU never switches tables, so none are needed.
 */
#include <stddef.h>
#include <string.h>
#include <hyp/arch.h>
#include <hyp/log.h>
#include <hyp/mmu.h>
#include <hyp/system.h>

#define MMU_POOL_TABLES 160
#define PTE_VALID (1ull << 0)
#define PTE_TABLE (1ull << 1) /* levels 0-2: table; level 3: page */
#define PTE_ATTRIDX(i) ((uint64_t)(i) << 2)
#define PTE_AP_RES1 (1ull << 6) /* AP[1]: RES1 in the EL2 regime (Arm ARM D8.4.1) */
#define PTE_AP_RO (1ull << 7) /* AP[2] */
#define PTE_SH_INNER (3ull << 8)
#define PTE_AF (1ull << 10)
#define PTE_XN (1ull << 54)
#define PTE_ADDR_MASK 0x0000fffffffff000ull

/* TCR_EL2 (Arm ARM D13.2.131, E2H == 0): RES1 bits 31 and 23. */
#define TCR_T0SZ (64 - MMU_VA_BITS)
#define TCR_IRGN0_WBWA (1ull << 8)
#define TCR_ORGN0_WBWA (1ull << 10)
#define TCR_SH0_INNER (3ull << 12)
#define TCR_PS_SHIFT 16
#define TCR_RES1 ((1ull << 31) | (1ull << 23))
/* MAIR_EL2: attr0 Normal WB RW-allocate (inner and outer), attr1 Device-nGnRnE. */
#define MAIR_VALUE 0x00ffull

typedef uint64_t pte_t;

static pte_t boot_l1[512] __attribute__((aligned(4096)));
static pte_t root_l1[MMU_MAX_TABLES][512] __attribute__((aligned(4096)));
static unsigned num_tables = 1;
static pte_t pool[MMU_POOL_TABLES][512] __attribute__((aligned(4096)));
static unsigned pool_used;

static uint64_t tcr_value(void)
{
    /* PS: the CPU's PARange, capped at 40 bits (0b010); QEMU virt RAM and devices sit far below. */
    uint64_t parange = sysreg_read(id_aa64mmfr0_el1) & 0xf;
    if (parange > 2) {
        parange = 2;
    }
    return TCR_RES1 | (parange << TCR_PS_SHIFT) | TCR_SH0_INNER | TCR_ORGN0_WBWA | TCR_IRGN0_WBWA | TCR_T0SZ;
}

static void tlb_flush_all(void)
{
    dsb(ishst);
    __asm__ volatile("tlbi alle2is" ::: "memory"); /* every CPU shares these tables */
    dsb(ish);
    isb();
}

void mmu_bootstrap(void)
{
    /* 1 GiB blocks: [0, 1 GiB) devices, [1 GiB, 2 GiB) the start of QEMU virt RAM (DTB + hyp image). */
    boot_l1[0] = 0x00000000ull | PTE_VALID | PTE_ATTRIDX(MMU_DEVICE) | PTE_AP_RES1 | PTE_AF | PTE_XN;
    boot_l1[1] = 0x40000000ull | PTE_VALID | PTE_ATTRIDX(MMU_NORMAL) | PTE_AP_RES1 | PTE_SH_INNER | PTE_AF;
    sysreg_write(mair_el2, MAIR_VALUE);
    sysreg_write(tcr_el2, tcr_value());
    sysreg_write(ttbr0_el2, (uint64_t)(uintptr_t)boot_l1);
    isb();
    tlb_flush_all();
    uint64_t sctlr = sysreg_read(sctlr_el2);
    sctlr |= SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_SA;
    sctlr &= ~SCTLR_A;
    sysreg_write(sctlr_el2, sctlr);
    isb();
}

static pte_t *table_alloc(void)
{
    if (pool_used >= MMU_POOL_TABLES) {
        hyp_panic("EL2 page-table pool exhausted (%u tables)", MMU_POOL_TABLES);
    }
    pte_t *t = pool[pool_used++];
    memset(t, 0, 4096);
    return t;
}

/* The table that entry `idx` of `table` points to, created if absent. */
static pte_t *next_table(pte_t *table, unsigned idx, uint64_t va)
{
    pte_t e = table[idx];
    if (!(e & PTE_VALID)) {
        pte_t *t = table_alloc();
        dsb(ishst);
        table[idx] = (uint64_t)(uintptr_t)t | PTE_VALID | PTE_TABLE;
        return t;
    }
    if (!(e & PTE_TABLE)) {
        hyp_panic("EL2 mapping at 0x%lx overlaps an existing block mapping", va);
    }
    return (pte_t *)(uintptr_t)(e & PTE_ADDR_MASK);
}

static pte_t leaf_attrs(unsigned perms, enum mmu_attr attr)
{
    pte_t e = PTE_VALID | PTE_AF | PTE_AP_RES1 | PTE_ATTRIDX(attr);
    if (attr == MMU_NORMAL) {
        e |= PTE_SH_INNER;
    }
    if (!(perms & HYP_PERM_W)) {
        e |= PTE_AP_RO;
    }
    if (!(perms & HYP_PERM_X) || attr == MMU_DEVICE) {
        e |= PTE_XN;
    }
    return e;
}

void mmu_set_tables(unsigned n)
{
    if (n == 0 || n > MMU_MAX_TABLES) {
        hyp_panic("%u EL2 tables asked for (at most %d)", n, MMU_MAX_TABLES);
    }
    num_tables = n;
}

static void map_one(pte_t *root, uint64_t va, uint64_t pa, uint64_t size, pte_t attrs)
{
    while (size) {
        pte_t *l2 = next_table(root, (va >> 30) & 511, va);
        unsigned i2 = (va >> 21) & 511;
        if (((va | pa) & 0x1fffff) == 0 && size >= 0x200000) {
            if (l2[i2] & PTE_VALID) {
                hyp_panic("EL2 mapping at 0x%lx overlaps an existing mapping", va);
            }
            l2[i2] = pa | attrs; /* level-2 block */
            va += 0x200000;
            pa += 0x200000;
            size -= 0x200000;
            continue;
        }
        pte_t *l3 = next_table(l2, i2, va);
        unsigned i3 = (va >> 12) & 511;
        if (l3[i3] & PTE_VALID) {
            hyp_panic("EL2 mapping at 0x%lx overlaps an existing mapping", va);
        }
        l3[i3] = pa | attrs | PTE_TABLE; /* level-3 page */
        va += 0x1000;
        pa += 0x1000;
        size -= 0x1000;
    }
}

void mmu_map(int table, uint64_t va, uint64_t pa, uint64_t size, unsigned perms, enum mmu_attr attr)
{
    if ((va | pa | size) & 0xfff || va + size > MMU_VA_LIMIT || va + size < va || table >= (int)num_tables) {
        hyp_panic("bad EL2 mapping va 0x%lx pa 0x%lx size 0x%lx table %d", va, pa, size, table);
    }
    pte_t attrs = leaf_attrs(perms, attr);
    for (unsigned t = 0; t < num_tables; t++) {
        if (table == MMU_ALL_TABLES || table == (int)t) {
            map_one(root_l1[t], va, pa, size, attrs);
        }
    }
    dsb(ishst);
}

static void unmap_one(pte_t *root, uint64_t va, uint64_t size)
{
    while (size) {
        pte_t e1 = root[(va >> 30) & 511];
        if (!(e1 & PTE_VALID) || !(e1 & PTE_TABLE)) {
            hyp_panic("EL2 unmap of 0x%lx: not mapped", va);
        }
        pte_t *l2 = (pte_t *)(uintptr_t)(e1 & PTE_ADDR_MASK);
        unsigned i2 = (va >> 21) & 511;
        if ((l2[i2] & (PTE_VALID | PTE_TABLE)) == PTE_VALID && (va & 0x1fffff) == 0 && size >= 0x200000) {
            l2[i2] = 0;
            va += 0x200000;
            size -= 0x200000;
            continue;
        }
        if (!(l2[i2] & PTE_TABLE)) {
            hyp_panic("EL2 unmap of 0x%lx: not mapped with pages", va);
        }
        pte_t *l3 = (pte_t *)(uintptr_t)(l2[i2] & PTE_ADDR_MASK);
        l3[(va >> 12) & 511] = 0;
        va += 0x1000;
        size -= 0x1000;
    }
}

void mmu_unmap(int table, uint64_t va, uint64_t size)
{
    for (unsigned t = 0; t < num_tables; t++) {
        if (table == MMU_ALL_TABLES || table == (int)t) {
            unmap_one(root_l1[t], va, size);
        }
    }
    tlb_flush_all();
}

void mmu_secondary_regs(unsigned table, uint64_t *mair, uint64_t *tcr, uint64_t *ttbr0, uint64_t *sctlr)
{
    *mair = MAIR_VALUE;
    *tcr = tcr_value();
    *ttbr0 = (uint64_t)(uintptr_t)root_l1[table];
    *sctlr = sysreg_read(sctlr_el2);
}

void mmu_activate(unsigned table)
{
    sysreg_write(ttbr0_el2, (uint64_t)(uintptr_t)root_l1[table]);
    isb();
    tlb_flush_all();
}
