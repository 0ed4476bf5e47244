/*
 * Data-abort syndrome decode and load/store value shaping: Arm ARM D17.2.40
 * (ESR_EL2, ISS encoding for an exception from a Data Abort). Pure functions.
 */
#include "mmio_decode.h"

void mmio_decode_syndrome(uint32_t esr, struct mmio_syndrome *out)
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

bool mmio_dfsc_is_mmio(uint8_t dfsc)
{
    /* 0b0001LL translation, 0b0010LL access flag, 0b0011LL permission; 0b101011 translation level -1. */
    return (dfsc >= 0x04 && dfsc <= 0x0f) || dfsc == 0x2b;
}

uint64_t mmio_width_mask(uint8_t width)
{
    return width >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8u * width)) - 1);
}

static uint64_t sign_extend(uint64_t value, uint8_t width)
{
    if (width >= 8) {
        return value;
    }
    uint64_t sign = (uint64_t)1 << (8u * width - 1);
    return (value ^ sign) - sign;
}

uint64_t mmio_load_result(const struct mmio_syndrome *s, uint64_t value)
{
    uint64_t v = value & mmio_width_mask(s->width);
    if (s->sign_extend) {
        v = sign_extend(v, s->width);
    }
    return s->reg64 ? v : (v & 0xffffffffu);
}

uint64_t mmio_store_value(const struct mmio_syndrome *s, uint64_t reg)
{
    return reg & mmio_width_mask(s->width);
}
