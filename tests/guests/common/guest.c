/*
 * PL011 output (PL011 TRM, DDI 0183: UARTDR at 0x000, UARTFR.TXFF bit 5 at
 * 0x018), the exception report and small helpers shared by the test guests.
 */
#include "guest.h"
#include "smp_internal.h"

#define UART_BASE 0x09000000ul
#define UARTDR 0x000
#define UARTFR 0x018
#define UARTFR_TXFF (1u << 5)

/* ESR_ELx (Arm ARM D17.2.37): EC is bits 31:26. */
#define ESR_EC(esr) (((esr) >> 26) & 0x3f)
#define EC_UNKNOWN 0x00
#define INSN_SMC0 0xd4000003u
#define INSN_HVC0 0xd4000002u

static inline uint32_t mmio_read32(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}
static inline void mmio_write32(uintptr_t addr, uint32_t value)
{
    *(volatile uint32_t *)addr = value;
}

void uart_putc(char c)
{
    while (mmio_read32(UART_BASE + UARTFR) & UARTFR_TXFF) {
    }
    mmio_write32(UART_BASE + UARTDR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            uart_putc('\r');
        uart_putc(*s);
    }
}

void uart_put_hex(uint64_t value, unsigned digits)
{
    uart_puts("0x");
    for (unsigned i = digits; i > 0; i--)
        uart_putc("0123456789abcdef"[(value >> ((i - 1) * 4)) & 0xf]);
}

void uart_put_dec(uint64_t value)
{
    char buf[21];
    unsigned n = 0;
    do {
        buf[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        uart_putc(buf[--n]);
}

unsigned guest_current_el(void)
{
    uint64_t el;
    __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
    return (unsigned)((el >> 2) & 3);
}

void guest_halt(void)
{
    for (;;)
        __asm__ volatile("wfi");
}

static uint64_t read_esr(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(v));
    return v;
}

static uint64_t read_far(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, far_el1" : "=r"(v));
    return v;
}

/*
 * An IRQ or FIQ taken from EL1 (vector entries 1, 2 with SP_EL0 and 5, 6 with
 * SP_EL1: Arm ARM D1.10.2) goes to this CPU's handler, if it has one (smp.c).
 *
 * An SMC or HVC with nothing above EL1 to take it is UNDEFINED (Arm ARM
 * D1.19: EC 0x00). Report it, make the call return GUEST_CALL_UNDEFINED and
 * go on, so a probe can say which conduits exist. Anything else halts.
 */
void exception_handle(struct exc_frame *frame, uint64_t vector)
{
    if (vector < 8 && ((vector & 3) == 1 || (vector & 3) == 2) && guest_irq_dispatch((vector & 3) == 2)) {
        return;
    }
    uint64_t esr = read_esr();
    uint32_t insn = ESR_EC(esr) == EC_UNKNOWN ? *(volatile uint32_t *)frame->elr : 0;

    if (insn == INSN_SMC0 || insn == INSN_HVC0) {
        uart_puts(insn == INSN_SMC0 ? "guest: smc" : "guest: hvc");
        uart_puts(" is UNDEFINED here (ESR ");
        uart_put_hex(esr, 8);
        uart_puts(")\n");
        frame->x[0] = GUEST_CALL_UNDEFINED;
        frame->elr += 4;
        return;
    }
    uart_puts("guest: unexpected exception on CPU ");
    uart_put_dec(guest_cpu());
    uart_puts(", vector ");
    uart_put_dec(vector);
    uart_puts(" ESR ");
    uart_put_hex(esr, 8);
    uart_puts(" ELR ");
    uart_put_hex(frame->elr, 16);
    uart_puts(" FAR ");
    uart_put_hex(read_far(), 16);
    uart_puts("; halting\n");
    guest_halt();
}
