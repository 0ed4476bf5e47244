/*
 * Support for the bare-metal test guests: PL011 output, SMCCC calls, an
 * exception handler that reports what happened, and SMP: CPUs started by
 * PSCI CPU_ON (smp.c), per-CPU IRQ/FIQ handlers, GIC helpers (gic.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "guest_asm.h"

/* Saved by start.S on every exception. */
struct exc_frame {
    uint64_t x[31];
    uint64_t elr;
    uint64_t spsr;
    uint64_t pad;
};

/* What x0 holds after an SMC or HVC that was UNDEFINED (no handler above EL1). */
#define GUEST_CALL_UNDEFINED 0xdead0000dead0000ull

void guest_main(uint64_t dtb);
void exception_handle(struct exc_frame *frame, uint64_t vector);

uint64_t smccc_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3);
uint64_t smccc_hvc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3);

void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_hex(uint64_t value, unsigned digits);
void uart_put_dec(uint64_t value);

/* The current exception level (CurrentEL.EL). */
unsigned guest_current_el(void);

/* Park the CPU for good. */
void guest_halt(void) __attribute__((noreturn));

/*
 * The common runtime's own zero-initialised state goes to .data, loaded with
 * the image, not to .bss: start.S's BSS loop is part of what bench_boot
 * measures as the floor of a boot, and must not grow with state that a
 * guest without SMP never uses.
 */
#define GUEST_DATA __attribute__((section(".data.guest_runtime")))

/* --- SMP (smp.c) ----------------------------------------------------------------------------------------------- */

/*
 * What a CPU found when it entered at guest_secondary_entry (start.S), before
 * it changed anything. `count` grows by one per entry and is written last.
 */
struct guest_cpu_entry {
    uint64_t context_id; /* x0 */
    uint64_t gpr_or; /* x1 | x2 | ... | x30: 0 if all were reset */
    uint64_t sctlr; /* SCTLR_EL1 */
    uint64_t current_el; /* CurrentEL (EL in bits 3:2) */
    uint64_t daif; /* DAIF (D, A, I, F in bits 9:6) */
    uint64_t spsel; /* SPSel: 1 = EL1h */
    uint64_t cntv_ctl; /* CNTV_CTL_EL0 */
    uint64_t count;
};

extern volatile struct guest_cpu_entry guest_cpu_entries[GUEST_MAX_CPUS];

/* The entry point to give PSCI CPU_ON (start.S). */
void guest_secondary_entry(void);

/* What a started CPU runs once it has a stack (NULL: it parks). Set before CPU_ON. */
typedef void (*guest_secondary_fn)(unsigned cpu, uint64_t context_id);
extern guest_secondary_fn volatile guest_secondary_main;

/* This CPU's number: MPIDR_EL1.Aff0, kept in TPIDR_EL1 by start.S. */
static inline unsigned guest_cpu(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, tpidr_el1" : "=r"(v));
    return (unsigned)v;
}

/*
 * This CPU's handler of IRQs (fiq false) and FIQs (fiq true) taken at EL1;
 * NULL (the default): such an exception is reported as unexpected.
 */
typedef void (*guest_irq_fn)(unsigned cpu, bool fiq);
void guest_set_irq_handler(guest_irq_fn fn);

/* PSCI (DEN0022) function ids and return codes the guests use. */
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON_32 0x84000003u
#define PSCI_CPU_ON 0xc4000003u
#define PSCI_AFFINITY_INFO 0xc4000004u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_RET_SUCCESS 0
#define PSCI_RET_NOT_SUPPORTED (-1)
#define PSCI_RET_INVALID_PARAMETERS (-2)
#define PSCI_RET_DENIED (-3)
#define PSCI_RET_ALREADY_ON (-4)
#define PSCI_RET_ON_PENDING (-5)
#define PSCI_RET_INTERNAL_FAILURE (-6)
#define PSCI_RET_INVALID_ADDRESS (-9)
#define PSCI_AFFINITY_ON 0
#define PSCI_AFFINITY_OFF 1
#define PSCI_AFFINITY_ON_PENDING 2

/*
 * A PSCI call over the conduit that works here: SMC, as the guest DT says
 * (under hyp), or HVC where SMC is UNDEFINED (QEMU without EL3). The first
 * call finds out. x0 as a signed PSCI result.
 */
int64_t guest_psci(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3);

/* Whether guest_psci() uses HVC (after its first call). */
bool guest_psci_uses_hvc(void);

/* CPUs 0..n-1 that PSCI knows (AFFINITY_INFO answers ON or OFF for MPIDR Aff0 = n), at most GUEST_MAX_CPUS. */
unsigned guest_count_cpus(void);

/* CNTVCT_EL0 and ticks per millisecond of it (CNTFRQ_EL0 / 1000). */
uint64_t guest_ticks(void);
uint64_t guest_ticks_per_ms(void);

/* Power the machine off (PSCI SYSTEM_OFF); halts if that returns. */
void guest_power_off(void) __attribute__((noreturn));
