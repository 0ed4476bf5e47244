/*
 * smc_probe: what a guest sees from the SMCCC conduits.
 *
 * 1. Unknown function ids over SMC answer NOT_SUPPORTED and the guest goes on
 *    (SMCCC DEN0028 section 5.2: -1 in W0 for an SMC32 id, in X0 for SMC64).
 * 2. PSCI_VERSION over HVC and over SMC (PSCI DEN0022 5.1.1).
 * 3. PSCI SYSTEM_OFF over SMC (DEN0022 5.10): the machine ends; any return
 *    from it is a failure and is reported.
 * Every line starts with "SMC-PROBE: "; the system tests match them.
 */
#include "guest.h"

#define FID_UNKNOWN_SMC64 0xc2001234u /* fast, SMC64, SiP service, unused number */
#define FID_UNKNOWN_SMC32 0x8600ffffu /* fast, SMC32, vendor hypervisor service */
#define PSCI_VERSION 0x84000000u
#define PSCI_SYSTEM_OFF 0x84000008u
#define SMCCC_NOT_SUPPORTED 0xffffffffu /* -1 as a 32-bit value */
#define FDT_MAGIC 0xd00dfeedu
#define RAM_BASE 0x40000000ull
#define RAM_END 0x60000000ull

static void put_value(const char *what, uint64_t value)
{
    uart_puts(what);
    uart_put_hex(value, 16);
    if (value == GUEST_CALL_UNDEFINED)
        uart_puts(" (undefined instruction)");
    uart_puts("\n");
}

static void report_dtb(uint64_t dtb)
{
    uart_puts("SMC-PROBE: start at EL");
    uart_put_dec(guest_current_el());
    uart_puts(", x0 (DTB) = ");
    uart_put_hex(dtb, 16);
    if (dtb >= RAM_BASE && dtb + 4 <= RAM_END && (dtb & 3) == 0) {
        uint32_t magic = __builtin_bswap32(*(volatile uint32_t *)dtb);
        uart_puts(magic == FDT_MAGIC ? ", FDT magic ok\n" : ", no FDT magic there\n");
    } else {
        uart_puts(", not in RAM\n");
    }
}

/* Step 1: true when both unknown ids answered NOT_SUPPORTED. */
static bool probe_unknown_ids(void)
{
    uint64_t r64 = smccc_smc(FID_UNKNOWN_SMC64, 0, 0, 0);
    put_value("SMC-PROBE: smc 0xc2001234 (SMC64) -> x0 = ", r64);
    uint64_t r32 = smccc_smc(FID_UNKNOWN_SMC32, 0, 0, 0);
    put_value("SMC-PROBE: smc 0x8600ffff (SMC32) -> x0 = ", r32);

    bool ok64 = r64 == ~0ull;
    bool ok32 = (uint32_t)r32 == SMCCC_NOT_SUPPORTED;
    if (ok64 && ok32) {
        uart_puts("SMC-PROBE: unknown SMC -> NOT_SUPPORTED ok\n");
    } else {
        uart_puts("SMC-PROBE: unknown SMC -> NOT_SUPPORTED FAIL");
        uart_puts(ok64 ? "" : " smc64 gave ");
        if (!ok64)
            uart_put_hex(r64, 16);
        uart_puts(ok32 ? "" : " smc32 gave ");
        if (!ok32)
            uart_put_hex(r32, 16);
        uart_puts("\n");
    }
    return ok64 && ok32;
}

static void print_psci_version(const char *conduit, uint64_t v)
{
    uart_puts("SMC-PROBE: PSCI_VERSION via ");
    uart_puts(conduit);
    uart_puts(" = ");
    uart_put_hex(v, v >> 32 ? 16 : 8);
    if (v == GUEST_CALL_UNDEFINED) {
        uart_puts(" (undefined instruction)\n");
    } else if ((v >> 31) == 0) {
        uart_puts(" (");
        uart_put_dec(v >> 16);
        uart_puts(".");
        uart_put_dec(v & 0xffff);
        uart_puts(")\n");
    } else {
        uart_puts(" (error)\n");
    }
}

void guest_main(uint64_t dtb)
{
    report_dtb(dtb);
    probe_unknown_ids();
    print_psci_version("hvc", smccc_hvc(PSCI_VERSION, 0, 0, 0));
    print_psci_version("smc", smccc_smc(PSCI_VERSION, 0, 0, 0));

    uart_puts("SMC-PROBE: PSCI SYSTEM_OFF via smc\n");
    put_value("SMC-PROBE: FAIL SYSTEM_OFF via smc returned x0 = ", smccc_smc(PSCI_SYSTEM_OFF, 0, 0, 0));
    put_value("SMC-PROBE: FAIL SYSTEM_OFF via hvc returned x0 = ", smccc_hvc(PSCI_SYSTEM_OFF, 0, 0, 0));
    uart_puts("SMC-PROBE: halted\n");
    guest_halt();
}
