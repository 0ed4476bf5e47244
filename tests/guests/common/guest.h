/*
 * Support for the bare-metal test guests: PL011 output, SMCCC calls and an
 * exception handler that reports what happened.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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
