/*
 * AArch64 helpers for hyp (EL2, nVHE): system-register access, barriers and
 * the architectural constants hyp programs. Field names follow the Arm ARM
 * (DDI 0487), chapter D13 (AArch64 system registers).
 */
#pragma once

/* Constants shared with the assembly (no C integer suffixes). */
#define CPTR_EL2_RES1 0x33ff /* Arm ARM D13.2.31 CPTR_EL2 (E2H == 0): RES1 bits 13:12, 9:0 (TZ RES1 without SVE) */
#define CPTR_TFP 0x400 /* CPTR_EL2.TFP, bit 10 */
#define SCTLR_EL2_RES1 0x30c50830 /* Arm ARM D13.2.118 SCTLR_EL2 (E2H == 0) */
#define ESR_EC_SHIFT 26
#define EC_FP 0x07

#ifndef __ASSEMBLER__
#include <stdint.h>

#define sysreg_read(reg)                                                                                               \
    ({                                                                                                                 \
        uint64_t __v;                                                                                                  \
        __asm__ volatile("mrs %0, " #reg : "=r"(__v));                                                                 \
        __v;                                                                                                           \
    })

#define sysreg_write(reg, val)                                                                                         \
    do {                                                                                                               \
        uint64_t __v = (uint64_t)(val);                                                                                \
        __asm__ volatile("msr " #reg ", %0" ::"r"(__v));                                                               \
    } while (0)

#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
#define dmb(opt) __asm__ volatile("dmb " #opt ::: "memory")
#define wfi() __asm__ volatile("wfi" ::: "memory")

static inline uint32_t mmio_read32(uintptr_t addr)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}

static inline void mmio_write8(uintptr_t addr, uint8_t v)
{
    __asm__ volatile("strb %w0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}

static inline uint64_t mmio_read64(uintptr_t addr)
{
    uint64_t v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write64(uintptr_t addr, uint64_t v)
{
    __asm__ volatile("str %0, [%1]" ::"rZ"(v), "r"(addr) : "memory");
}

#define sev() __asm__ volatile("sev" ::: "memory")
#define cpu_relax() __asm__ volatile("yield" ::: "memory")

/*
 * Atomic read-modify-write with load/store exclusives (Arm ARM B2.9): the
 * cortex-a57 has no LSE atomics, and GCC's outline-atomics helpers need a
 * libc hwcap probe that hyp does not have. Loads and stores use
 * __atomic_load_n/__atomic_store_n (LDAR/STLR).
 */
static inline uint32_t atomic_fetch_add32(uint32_t *p, uint32_t v)
{
    uint32_t old, tmp, fail;
    __asm__ volatile("1: ldaxr %w0, [%3]\n"
                     "   add %w1, %w0, %w4\n"
                     "   stlxr %w2, %w1, [%3]\n"
                     "   cbnz %w2, 1b\n"
                     : "=&r"(old), "=&r"(tmp), "=&r"(fail)
                     : "r"(p), "r"(v)
                     : "memory");
    return old;
}

/* Arm ARM D13.2.47 HCR_EL2. */
#define HCR_VM (1ull << 0)
#define HCR_FMO (1ull << 3)
#define HCR_IMO (1ull << 4)
#define HCR_AMO (1ull << 5)
#define HCR_TWI (1ull << 13)
#define HCR_TWE (1ull << 14)
#define HCR_TSC (1ull << 19)
#define HCR_RW (1ull << 31)
/* DESIGN 3: WFI/WFE run on the hardware (seL4's KernelArmDisableWFIWFETraps). */
#define HCR_GUEST (HCR_VM | HCR_FMO | HCR_IMO | HCR_AMO | HCR_TSC | HCR_RW)

/* Arm ARM D13.8.x CNTHCTL_EL2 (E2H == 0). */
#define CNTHCTL_EL1PCTEN (1ull << 0)
#define CNTHCTL_EL1PCEN (1ull << 1)

#define SCTLR_M (1ull << 0)
#define SCTLR_A (1ull << 1)
#define SCTLR_C (1ull << 2)
#define SCTLR_SA (1ull << 3)
#define SCTLR_I (1ull << 12)

/* Arm ARM D13.2.37 ESR_EL2: exception classes hyp distinguishes. */
#define ESR_EC(esr) (((esr) >> ESR_EC_SHIFT) & 0x3f)
#define EC_UNKNOWN 0x00
#define EC_WFX 0x01
#define EC_HVC64 0x16
#define EC_SMC64 0x17
#define EC_SYSREG 0x18
#define EC_IABT_LOW 0x20
#define EC_IABT_CUR 0x21
#define EC_DABT_LOW 0x24
#define EC_DABT_CUR 0x25
/* ISS of data/instruction aborts (Arm ARM D13.2.37, ISS encoding for EC 0x20/0x24). */
#define ISS_ABT_S1PTW (1u << 7)
#define ISS_ABT_FSC(esr) ((esr)&0x3f)
#define FSC_PERM_FAULT(fsc) (((fsc)&0x3c) == 0x0c)

/* Arm ARM C5.2.18 SPSR_EL2 mode field M[4:0]. */
#define PSR_MODE_MASK 0x1full
#define PSR_MODE_EL0T 0x0ull
#define PSR_MODE_EL1T 0x4ull
#define PSR_MODE_EL1H 0x5ull
#define PSR_F (1ull << 6)
#endif /* __ASSEMBLER__ */
