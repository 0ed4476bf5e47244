/*
 * Guest stage-2 translation: 40-bit IPA, 4 KiB granule, start level 1 with
 * two concatenated level-1 tables (Arm ARM D8.2.x, VTCR_EL2). One table and
 * VMID per VM: VM k (PD k's) has VMID k + 1.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define STAGE2_IPA_BITS 40
#define STAGE2_MAX_VMS 4 /* one per PD (HYP_MAX_PDS) */
#define STAGE2_VMID(vm) ((vm) + 1u)

void stage2_map(unsigned vm, uint64_t ipa, uint64_t pa, uint64_t size, unsigned perms, bool cached);
/* Program this CPU's VTCR_EL2/VTTBR_EL2 for VM `vm` and invalidate that VMID's stage-1+2 TLB entries (all CPUs). */
void stage2_activate(unsigned vm);
/* Program this CPU's VTCR_EL2/VTTBR_EL2 for VM `vm` (its PD's, already built). */
void stage2_cpu_init(unsigned vm);
