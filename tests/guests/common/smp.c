/*
 * SMP support for the test guests: the records CPUs started by PSCI CPU_ON
 * leave (start.S), per-CPU interrupt handlers, PSCI calls over the conduit
 * that exists, CPU discovery, the virtual counter.
 *
 * The MMU is off, so every data access is Device-nGnRnE (Arm ARM, "The
 * effects of disabling a stage of address translation"), where exclusives
 * are not guaranteed to work: state shared between CPUs has one writer per
 * variable and is polled.
 */
#include "guest.h"
#include "smp_internal.h"

GUEST_DATA volatile struct guest_cpu_entry guest_cpu_entries[GUEST_MAX_CPUS];
GUEST_DATA guest_secondary_fn volatile guest_secondary_main;

_Static_assert(sizeof(struct guest_cpu_entry) == 1u << GUEST_ENTRY_SHIFT, "start.S indexes the records by shift");
_Static_assert(__builtin_offsetof(struct guest_cpu_entry, gpr_or) == ENTRY_GPR_OR &&
                   __builtin_offsetof(struct guest_cpu_entry, sctlr) == ENTRY_SCTLR &&
                   __builtin_offsetof(struct guest_cpu_entry, current_el) == ENTRY_CURRENT_EL &&
                   __builtin_offsetof(struct guest_cpu_entry, daif) == ENTRY_DAIF &&
                   __builtin_offsetof(struct guest_cpu_entry, spsel) == ENTRY_SPSEL &&
                   __builtin_offsetof(struct guest_cpu_entry, cntv_ctl) == ENTRY_CNTV_CTL &&
                   __builtin_offsetof(struct guest_cpu_entry, count) == ENTRY_COUNT,
               "start.S writes the fields at these offsets");

GUEST_DATA static guest_irq_fn volatile irq_handlers[GUEST_MAX_CPUS];

void guest_set_irq_handler(guest_irq_fn fn)
{
    unsigned cpu = guest_cpu();
    if (cpu < GUEST_MAX_CPUS) {
        irq_handlers[cpu] = fn;
    }
}

bool guest_irq_dispatch(bool fiq)
{
    unsigned cpu = guest_cpu();
    guest_irq_fn fn = cpu < GUEST_MAX_CPUS ? irq_handlers[cpu] : (guest_irq_fn)0;
    if (fn == (guest_irq_fn)0) {
        return false;
    }
    fn(cpu, fiq);
    return true;
}

enum conduit { CONDUIT_UNKNOWN, CONDUIT_SMC, CONDUIT_HVC };
GUEST_DATA static volatile enum conduit psci_conduit;

int64_t guest_psci(uint32_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
    if (psci_conduit == CONDUIT_UNKNOWN) {
        bool smc = smccc_smc(PSCI_VERSION, 0, 0, 0) != GUEST_CALL_UNDEFINED;
        psci_conduit = smc ? CONDUIT_SMC : CONDUIT_HVC;
    }
    uint64_t r = psci_conduit == CONDUIT_SMC ? smccc_smc(fid, a1, a2, a3) : smccc_hvc(fid, a1, a2, a3);
    return (int64_t)r;
}

bool guest_psci_uses_hvc(void)
{
    return psci_conduit == CONDUIT_HVC;
}

unsigned guest_count_cpus(void)
{
    unsigned n = 0;
    while (n < GUEST_MAX_CPUS) {
        int64_t r = guest_psci(PSCI_AFFINITY_INFO, n, 0, 0);
        if (r != PSCI_AFFINITY_ON && r != PSCI_AFFINITY_OFF && r != PSCI_AFFINITY_ON_PENDING) {
            break;
        }
        n++;
    }
    return n;
}

uint64_t guest_ticks(void)
{
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}

uint64_t guest_ticks_per_ms(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v / 1000 ? v / 1000 : 1;
}

void guest_power_off(void)
{
    (void)guest_psci(PSCI_SYSTEM_OFF, 0, 0, 0);
    uart_puts("guest: SYSTEM_OFF returned\n");
    guest_halt();
}
