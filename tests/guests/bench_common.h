/*
 * Helpers shared by the benchmark guests (tests/guests/bench_*.c), on top of
 * the common test-guest runtime (common/guest.h).
 *
 * Under `qemu -icount shift=0,sleep=off` the virtual counter advances one
 * nanosecond of guest time per instruction executed by the machine (guest,
 * hyp and VMM alike), so ticks * 1e9 / CNTFRQ_EL0 is an instruction count.
 */
#pragma once

#include <stdint.h>
#include "guest.h"

#define BENCH_PSCI_SYSTEM_OFF 0x84000008u

/* CNTVCT_EL0 after an ISB, which keeps the read from moving before earlier instructions (Arm ARM, Generic Timer). */
static inline uint64_t bench_counter(void)
{
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

static inline uint64_t bench_counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

/* PSCI SYSTEM_OFF (DEN0022 5.10) over HVC: libvmm's PSCI under hyp, QEMU's own PSCI directly. */
static inline void bench_power_off(void)
{
    (void)smccc_hvc(BENCH_PSCI_SYSTEM_OFF, 0, 0, 0);
    uart_puts("BENCH: FAIL: SYSTEM_OFF returned\n");
    guest_halt();
}
