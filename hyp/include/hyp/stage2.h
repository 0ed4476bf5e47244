/*
 * Guest stage-2 translation: 40-bit IPA, 4 KiB granule, start level 1 with
 * two concatenated level-1 tables (Arm ARM D8.2.x, VTCR_EL2), one fixed VMID.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define STAGE2_IPA_BITS 40
#define STAGE2_VMID 1

void stage2_map(uint64_t ipa, uint64_t pa, uint64_t size, unsigned perms, bool cached);
/* Program VTCR_EL2/VTTBR_EL2 and invalidate stage-1+2 TLB entries of the VMID (all CPUs). */
void stage2_activate(void);
/* A secondary CPU: program its VTCR_EL2/VTTBR_EL2 for the (already built) tables. */
void stage2_cpu_init(void);
