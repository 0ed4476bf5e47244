/*
 * The selftest guests' side of the virtual GIC CPU interface: GICv2's GICV
 * page (mapped at the GICC address) or GICv3's ICC_* system registers (the
 * ICV_* virtual interface under HCR_EL2.IMO), whichever the machine has
 * (ID_AA64PFR0_EL1.GIC, Arm ARM D17.2.64). One guest binary serves both.
 * ICC_SRE_EL1 is left alone: SRE reads as one on QEMU, and under seL4 the
 * access would trap to the VMM (ICC_SRE_EL2.Enable = 0).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "selftest.h"

#define GICC_CTLR 0x000
#define GICC_PMR 0x004
#define GICC_IAR 0x00c
#define GICC_EOIR 0x010

static inline bool guest_gic_v3(void)
{
    uint64_t pfr0;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    return ((pfr0 >> 24) & 0xf) != 0;
}

static inline void guest_gic_cpu_enable(void)
{
    if (guest_gic_v3()) {
        __asm__ volatile("msr icc_pmr_el1, %0\n msr icc_igrpen1_el1, %1\n isb" ::"r"(0xf0ull), "r"(1ull));
    } else {
        *(volatile uint32_t *)(GUEST_GICC_IPA + GICC_PMR) = 0xf0;
        *(volatile uint32_t *)(GUEST_GICC_IPA + GICC_CTLR) = 1;
    }
}

static inline uint32_t guest_gic_ack(void)
{
    if (guest_gic_v3()) {
        uint64_t iar;
        __asm__ volatile("mrs %0, icc_iar1_el1" : "=r"(iar));
        return (uint32_t)iar;
    }
    return *(volatile uint32_t *)(GUEST_GICC_IPA + GICC_IAR);
}

static inline void guest_gic_eoi(uint32_t iar)
{
    if (guest_gic_v3()) {
        __asm__ volatile("msr icc_eoir1_el1, %0\n isb" ::"r"((uint64_t)iar));
    } else {
        *(volatile uint32_t *)(GUEST_GICC_IPA + GICC_EOIR) = iar;
    }
}
