/*
 * Data-abort syndrome decode (library-internal, pure: no kernel calls).
 *
 * Arm ARM (DDI 0487) D17.2.40 ESR_EL2 / D13.2.37 ESR_ELx, "ISS encoding for an
 * exception from a Data Abort". seL4 delivers ESR_EL2 bits 31..0 in the
 * VMFault FSR message register (ABI 2.2), which holds EC, IL and the full ISS.
 * Kept free of kernel calls so it can be table-tested and fuzzed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Exception classes (ESR_ELx.EC, Arm ARM D17.2.40); unsigned, so that `ec << 26` cannot overflow an int. */
#define ESR_EC_UNKNOWN 0x00u
#define ESR_EC_WFX 0x01u
#define ESR_EC_HVC64 0x16u
#define ESR_EC_SMC64 0x17u
#define ESR_EC_SYSREG 0x18u
#define ESR_EC_IABT_LOWER 0x20u
#define ESR_EC_IABT_CUR 0x21u
#define ESR_EC_DABT_LOWER 0x24u
#define ESR_EC_DABT_CUR 0x25u

#define ESR_EC(esr) (((uint32_t)(esr) >> 26) & 0x3f)
#define ESR_IL (1u << 25)
#define ESR_ISS_MASK 0x1ffffffu

/* Data-abort ISS fields. */
#define ESR_DABT_ISV (1u << 24)
#define ESR_DABT_SAS_SHIFT 22
#define ESR_DABT_SSE (1u << 21)
#define ESR_DABT_SRT_SHIFT 16
#define ESR_DABT_SF (1u << 15)
#define ESR_DABT_AR (1u << 14)
#define ESR_DABT_FNV (1u << 10)
#define ESR_DABT_EA (1u << 9)
#define ESR_DABT_CM (1u << 8)
#define ESR_DABT_S1PTW (1u << 7)
#define ESR_DABT_WNR (1u << 6)
#define ESR_DABT_DFSC_MASK 0x3fu

/* Fault status code for a synchronous external abort (not on a table walk). */
#define ESR_FSC_SYNC_EXT_ABORT 0x10

/* WFx ISS bit 0 (TI): 0 = WFI, 1 = WFE. */
#define ESR_WFX_TI_WFE 1u

#define MMIO_REG_XZR 31

/* Everything a data-abort syndrome says about the access. */
struct mmio_syndrome {
    bool isv; /* instruction syndrome valid: the fields below up to `acq_rel` mean something */
    uint8_t width; /* access size in bytes (SAS): 1, 2, 4, 8 */
    bool sign_extend; /* SSE: sign-extend a load */
    uint8_t rt; /* SRT: 0..30, or 31 = XZR */
    bool reg64; /* SF: Xt (64-bit) rather than Wt */
    bool acq_rel; /* AR: acquire/release semantics */
    bool is_write; /* WnR */
    uint8_t insn_len; /* 4, or 2 when IL = 0 (T32 16-bit) */
    uint8_t dfsc; /* data fault status code */
    bool far_invalid; /* FnV: the address reported is not valid */
    bool cache_maint; /* CM: a cache maintenance instruction faulted */
    bool s1ptw; /* stage-2 fault on a stage-1 table walk */
    bool external; /* EA */
};

/*
 * The functions below are inline (DESIGN 3: every emulated MMIO access runs
 * them): the fault path keeps only the fields it uses, in registers.
 */

/* Decode the low 32 bits of ESR_EL2 of a data abort. */
static inline void mmio_decode_syndrome(uint32_t esr, struct mmio_syndrome *out)
{
    out->isv = (esr & ESR_DABT_ISV) != 0;
    out->width = (uint8_t)(1u << ((esr >> ESR_DABT_SAS_SHIFT) & 3));
    out->sign_extend = (esr & ESR_DABT_SSE) != 0;
    out->rt = (uint8_t)((esr >> ESR_DABT_SRT_SHIFT) & 0x1f);
    out->reg64 = (esr & ESR_DABT_SF) != 0;
    out->acq_rel = (esr & ESR_DABT_AR) != 0;
    out->is_write = (esr & ESR_DABT_WNR) != 0;
    /* IL: 0 = 16-bit instruction, 1 = 32-bit (D17.2.40). */
    out->insn_len = (esr & ESR_IL) ? 4 : 2;
    out->dfsc = (uint8_t)(esr & ESR_DABT_DFSC_MASK);
    out->far_invalid = (esr & ESR_DABT_FNV) != 0;
    out->cache_maint = (esr & ESR_DABT_CM) != 0;
    out->s1ptw = (esr & ESR_DABT_S1PTW) != 0;
    out->external = (esr & ESR_DABT_EA) != 0;
}

/*
 * True if the fault status code is one an emulated region produces: a
 * translation, access-flag or permission fault (levels 0..3, and the level -1
 * translation fault of FEAT_LPA2). Anything else (external aborts, alignment,
 * TLB conflicts, ...) is not an MMIO access.
 */
static inline bool mmio_dfsc_is_mmio(uint8_t dfsc)
{
    /* 0b0001LL translation, 0b0010LL access flag, 0b0011LL permission; 0b101011 translation level -1. */
    return (dfsc >= 0x04 && dfsc <= 0x0f) || dfsc == 0x2b;
}

/* All-ones in the low `width` bytes (width 1, 2, 4 or 8). */
static inline uint64_t mmio_width_mask(uint8_t width)
{
    return width >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8u * width)) - 1);
}

/*
 * The value a load leaves in Xt: `value` masked to the access width, then
 * sign-extended (SSE) to 32 bits (SF = 0) or 64 bits (SF = 1), or
 * zero-extended; a 32-bit result is zero-extended into the 64-bit register,
 * as every write to Wt does.
 */
static inline uint64_t mmio_load_result(const struct mmio_syndrome *s, uint64_t value)
{
    /* The access's bytes moved to the top, then back down: an arithmetic shift extends the sign. */
    unsigned shift = (64u - 8u * s->width) & 63u;
    uint64_t top = value << shift;
    uint64_t v = s->sign_extend ? (uint64_t)((int64_t)top >> shift) : top >> shift;
    return s->reg64 ? v : (v & 0xffffffffu);
}

/* The value a store writes: Xt masked to the access width. */
static inline uint64_t mmio_store_value(const struct mmio_syndrome *s, uint64_t reg)
{
    return reg & mmio_width_mask(s->width);
}
