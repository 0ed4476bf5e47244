/*
 * EL2 stage-1 translation (4 KiB granule, 39-bit VA, single range; Arm ARM
 * D8 "The AArch64 Virtual Memory System Architecture"). One address space is
 * shared by hyp and the VMM it runs.
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

/* Turn the MMU on with a 1 GiB-block identity map of the low 2 GiB (device below RAM). */
void mmu_bootstrap(void);
/* Map [va, va+size) to [pa, ...) in the final tables (not yet live). perms: HYP_PERM_* bits. */
void mmu_map(uint64_t va, uint64_t pa, uint64_t size, unsigned perms, enum mmu_attr attr);
/* Remove a mapping created with mmu_map (leaves tables allocated) and invalidate the TLB. */
void mmu_unmap(uint64_t va, uint64_t size);
/* Switch from the bootstrap tables to the final ones. */
void mmu_activate(void);
/* MAIR/TCR/TTBR0/SCTLR_EL2 that put a secondary CPU on the final tables (boot.S). */
void mmu_secondary_regs(uint64_t *mair, uint64_t *tcr, uint64_t *ttbr0, uint64_t *sctlr);
