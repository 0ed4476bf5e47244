/*
 * EL2 stage-1 translation (4 KiB granule, 39-bit VA, single range; Arm ARM
 * D8 "The AArch64 Virtual Memory System Architecture"). One table per PD,
 * used by that PD's CPUs: hyp's own mappings are in every table, a PD's VMM
 * maps only in its own.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum mmu_attr {
    MMU_NORMAL = 0, /* MAIR index 0: Normal, inner/outer write-back */
    MMU_DEVICE = 1, /* MAIR index 1: Device-nGnRnE */
};

#define MMU_VA_BITS 39
#define MMU_VA_LIMIT (1ull << MMU_VA_BITS)
#define MMU_MAX_TABLES 4 /* one per PD (HYP_MAX_PDS) */
#define MMU_ALL_TABLES (-1)

/* Turn the MMU on with a 1 GiB-block identity map of the low 2 GiB (device below RAM). */
void mmu_bootstrap(void);
/* Boot, before any mmu_map: the number of final tables (one per PD). */
void mmu_set_tables(unsigned n);
/* Map [va, va+size) to [pa, ...) in final table `table` (PD index) or MMU_ALL_TABLES. perms: HYP_PERM_* bits. */
void mmu_map(int table, uint64_t va, uint64_t pa, uint64_t size, unsigned perms, enum mmu_attr attr);
/* Remove a mapping made with mmu_map(table, ...) (leaves tables allocated) and invalidate the TLB. */
void mmu_unmap(int table, uint64_t va, uint64_t size);
/* Switch this CPU from the bootstrap tables to final table `table`. */
void mmu_activate(unsigned table);
/* MAIR/TCR/TTBR0/SCTLR_EL2 that put a secondary CPU on final table `table` (boot.S). */
void mmu_secondary_regs(unsigned table, uint64_t *mair, uint64_t *tcr, uint64_t *ttbr0, uint64_t *sctlr);
