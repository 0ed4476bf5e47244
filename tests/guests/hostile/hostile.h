/*
 * The hostile test guest (tests/guests/hostile.c): declarations shared by
 * its parts. It runs at EL1 with the MMU off, so every data access is to
 * Device memory: aligned accesses only, and volatile for anything the VMM
 * or a device shares with us.
 *
 * Reporting: every check that fails prints "HOSTILE: FAIL <what>" and is
 * counted; the run goes on so one boot shows every failure. The last line is
 * "HOSTILE: PASS <counts>" or "HOSTILE: FAIL <n> checks failed".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "guest.h"

/* The guest's memory map (mk/guest.mk, examples/linux/vmm.c). */
#define RAM_BASE 0x40000000ull
#define RAM_END 0x60000000ull
#define GICD_BASE 0x08000000ul
#define GICD_SIZE 0x1000ul
#define GICC_BASE 0x08010000ul /* GICV mapped here: not trapped */
#define GICC_SIZE 0x2000ul
#define UART_PAGE 0x09000000ul
#define VIRTIO_BASE(slot) (0x0a000000ul + (slot)*0x200ul)
#define VIRTIO_SLOTS 3u

/*
 * Scratch RAM (the image sits at 0x40080000, the DTB in the last 2 MiB):
 * rings of the virtio tests, data buffers, the zone the register fuzzer may
 * point rings at, code generated at run time.
 */
#define SCRATCH_RINGS 0x50000000ull /* 64 KiB per device and queue */
#define SCRATCH_BUFS 0x51000000ull /* 1 MiB per device */
#define SCRATCH_FUZZ 0x52000000ull /* 128 KiB, zeroed before and after use */
#define SCRATCH_CODE 0x53000000ull
#define SCRATCH_HUGE 0x58000000ull /* up to the DTB at 0x5fe00000 */

/* ---- runtime.c ---- */

/* xorshift64* (Vigna); the seed is printed so a run can be repeated. */
uint64_t rnd(void);
uint32_t rnd_below(uint32_t n);
bool rnd_chance(uint32_t one_in);
void rnd_seed(uint64_t seed);

/* Counter time (CNTVCT_EL0, CNTFRQ_EL0). */
uint64_t now_ticks(void);
uint64_t ms_to_ticks(uint64_t ms);

/* A failed check: printed at once, counted for the verdict. */
void fail(const char *what);
void fail_hex(const char *what, uint64_t got, uint64_t want);
unsigned fail_count(void);
/* check(): fail(what) unless ok; returns ok. */
bool check(bool ok, const char *what);
bool check_eq(uint64_t got, uint64_t want, const char *what);

void say(const char *s); /* "HOSTILE: " + s + "\n" */
void say_num(const char *s, uint64_t n); /* "HOSTILE: " + s + decimal + "\n" */
void put_str(const char *s);
void put_dec(uint64_t n);
void put_hex(uint64_t n);

/*
 * Expected synchronous exceptions. Between trap_arm() and trap_disarm() a
 * synchronous exception is recorded (ESR, FAR) and the faulting instruction
 * skipped (an instruction abort returns to x30: probes enter bad code with
 * BLR). Anything else, or one outside that window, is a failure that ends
 * the run (the state is unknown).
 */
struct trap_record {
    volatile uint32_t armed;
    volatile uint32_t hits;
    volatile uint64_t esr;
    volatile uint64_t far;
};
extern struct trap_record trap;
void trap_arm(void);
uint32_t trap_disarm(void);

/* ESR_EL1 fields (Arm ARM D17.2.40). */
#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define ESR_FSC(esr) ((esr)&0x3f)
#define EC_UNKNOWN 0x00
#define EC_IABT_CUR 0x21
#define EC_DABT_CUR 0x25
#define FSC_SYNC_EXTERNAL 0x10
#define FSC_ALIGNMENT 0x21

/* True if the recorded exception is the synchronous external abort the VMM injects. */
bool trap_is_external_abort(bool instruction);

/*
 * One load or store of `width` bytes (1, 2, 4, 8) with a single LDR/STR
 * (ISV = 1 if it traps), with trap_arm() around it. Counted in `counts`.
 */
enum probe {
    PROBE_DONE, /* no exception: the access completed (or was RAZ/WI) */
    PROBE_ABORT, /* the VMM injected a synchronous external abort */
    PROBE_LOCAL, /* our own EL1 faulted first (alignment, address size) */
    PROBE_OTHER, /* any other exception */
};
enum probe probe_read(uint64_t addr, unsigned width, uint64_t *value);
enum probe probe_write(uint64_t addr, unsigned width, uint64_t value);

/* Interrupts taken while unmasked: the IRQ vector acknowledges and EOIs each. */
struct irq_record {
    volatile uint32_t count;
    volatile uint32_t last_iar;
    volatile uint64_t seen_mask; /* bit n: INTID n (< 64) acknowledged */
};
extern struct irq_record irqs;

/* SMCCC call (DEN0028) with x1..x7 = a[0..6]; out[] = x0..x7 afterwards. */
void call_smccc(bool smc, uint64_t fid, const uint64_t a[7], uint64_t out[8]);
/* The same, returning x0. */
uint64_t call_smc(uint64_t fid, const uint64_t args[7]);
uint64_t call_hvc(uint64_t fid, const uint64_t args[7]);

/* PSCI SYSTEM_OFF (DEN0022 5.10); does not return. */
void power_off(void) __attribute__((noreturn));

/* "hostile.seed=<hex or decimal>" in /chosen/bootargs, if present. */
bool dtb_seed(uint64_t dtb, uint64_t *seed);

/* MMIO helpers (aligned accesses only: Device memory). */
static inline uint32_t rd32(uintptr_t a)
{
    return *(volatile uint32_t *)a;
}
static inline void wr32(uintptr_t a, uint32_t v)
{
    *(volatile uint32_t *)a = v;
}
static inline void barrier_full(void)
{
    __asm__ volatile("dsb sy" ::: "memory");
}

/* Totals for the final line. */
struct hostile_counts {
    uint32_t virtio_cases;
    uint32_t virtio_resets_seen; /* DEVICE_NEEDS_RESET reported */
    uint32_t virtio_error_status; /* a used entry carried an error */
    uint32_t virtio_fuzz;
    uint32_t gic_accesses;
    uint32_t smccc_calls;
    uint32_t aborts; /* external aborts the VMM injected */
    uint32_t local_faults; /* faults the guest's own EL1 took first (alignment, address size) */
    uint32_t undefs;
};
extern struct hostile_counts counts;

/* ---- the phases ---- */
void phase_virtio(void); /* virtio.c */
void phase_gic(void); /* gic.c */
void phase_smccc(void); /* smccc.c */
void phase_regions(void); /* regions.c */
void phase_sysregs_and_immediates(void); /* smccc.c */
