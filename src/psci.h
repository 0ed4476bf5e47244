/*
 * PSCI 1.1 (Arm DEN0022) for the guest (library-internal). Reached through
 * smccc_handle() for Standard Secure Service calls 0x00..0x1f (DEN0028,
 * "Function Identifier ranges").
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "smccc.h"

/* Arm Architecture Service calls (DEN0028, "Arm Architecture Calls"). */
#define SMCCC_VERSION_FID 0x80000000u
#define SMCCC_ARCH_FEATURES_FID 0x80000001u
#define SMCCC_ARCH_SOC_ID_FID 0x80000002u
#define SMCCC_ARCH_WORKAROUND_3_FID 0x80003fffu
#define SMCCC_ARCH_WORKAROUND_2_FID 0x80007fffu
#define SMCCC_ARCH_WORKAROUND_1_FID 0x80008000u
#define SMCCC_VERSION_1_1 0x10001

#define SMCCC_RET_SUCCESS 0
#define SMCCC_RET_NOT_SUPPORTED (-1)

/* PSCI function ids (DEN0022 chapter 5); 64-bit variants have bit 30 set. */
#define PSCI_FID_VERSION 0x84000000u
#define PSCI_FID_CPU_SUSPEND 0x84000001u
#define PSCI_FID_CPU_OFF 0x84000002u
#define PSCI_FID_CPU_ON 0x84000003u
#define PSCI_FID_AFFINITY_INFO 0x84000004u
#define PSCI_FID_MIGRATE 0x84000005u
#define PSCI_FID_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_FID_MIGRATE_INFO_UP_CPU 0x84000007u
#define PSCI_FID_SYSTEM_OFF 0x84000008u
#define PSCI_FID_SYSTEM_RESET 0x84000009u
#define PSCI_FID_FEATURES 0x8400000au
#define PSCI_FID_SYSTEM_SUSPEND 0x8400000eu
#define PSCI_FID_SYSTEM_RESET2 0x84000012u
#define PSCI_FID_64(fid) ((fid) | SMCCC_64BIT)

#define PSCI_VERSION_1_1 0x10001

/* PSCI return codes (DEN0022, "Return error codes"). */
#define PSCI_SUCCESS 0
#define PSCI_NOT_SUPPORTED (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_DENIED (-3)
#define PSCI_ALREADY_ON (-4)
#define PSCI_ON_PENDING (-5)
#define PSCI_INTERNAL_FAILURE (-6)
#define PSCI_NOT_PRESENT (-7)
#define PSCI_DISABLED (-8)
#define PSCI_INVALID_ADDRESS (-9)

/* AFFINITY_INFO results. */
#define PSCI_AFFINITY_ON 0
#define PSCI_AFFINITY_OFF 1

/* MIGRATE_INFO_TYPE: no Trusted OS, or one that needs no migration (DEN0022 MIGRATE_INFO_TYPE). */
#define PSCI_MIGRATE_INFO_TYPE_NONE 2

/*
 * Handle PSCI call `fid` from `vcpu` with arguments args[1..3] (already
 * narrowed to 32 bits for SMC32 calls). The x0 result goes to *ret.
 */
enum smccc_outcome psci_handle(size_t vcpu, uint32_t fid, const uint64_t args[8], int64_t *ret);
