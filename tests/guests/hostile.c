/*
 * hostile: a bare-metal guest that attacks every surface the VMM exposes
 * (shared/reference/guest-attack-classes.md; issue 3 item 7, issue 5 item 3)
 * and checks each answer against the specifications:
 *   1. the virtio-mmio devices: register file, malformed rings, bad
 *      requests, then a valid operation on each;
 *   2. the GICv2 distributor: random accesses, SGIR, reserved offsets, then
 *      an SGI to ourselves;
 *   3. SMCCC/PSCI over SMC and HVC: random ids and arguments, CPU_ON errors;
 *   4. IPAs outside RAM and devices, ISV=0 accesses, instruction fetches:
 *      each must come back as a synchronous external abort;
 *   5. trapping system registers (none on GICv2) and SMC/HVC immediates.
 * Every line starts with "HOSTILE: "; the last is "HOSTILE: PASS <counts>"
 * or "HOSTILE: FAIL ...", then PSCI SYSTEM_OFF. The seed is printed; boot
 * with "hostile.seed=<value>" in the kernel command line to repeat a run.
 *
 * The parts live in tests/guests/hostile/ and are compiled here as one
 * unit (mk/testguests.mk builds one .c file per guest).
 */
#include "hostile/hostile.h"
#include "hostile/runtime.c"
#include "hostile/virtio_drv.c"
#include "hostile/virtio_regs.c"
#include "hostile/virtio_rings.c"
#include "hostile/virtio_dev.c"
#include "hostile/virtio_valid.c"
#include "hostile/gic.c"
#include "hostile/smccc.c"
#include "hostile/regions.c"

#define SEED_MIX 0x484f5354494c4521ull /* "HOSTILE!" */

extern const char hostile_vectors[];

static void install_vectors(void)
{
    __asm__ volatile("msr vbar_el1, %0\n\tisb" ::"r"(hostile_vectors) : "memory");
}

static void print_counts(const char *verdict)
{
    put_str("HOSTILE: ");
    put_str(verdict);
    put_str(" virtio_cases=");
    put_dec(counts.virtio_cases);
    put_str(" needs_reset=");
    put_dec(counts.virtio_resets_seen);
    put_str(" error_status=");
    put_dec(counts.virtio_error_status);
    put_str(" virtio_fuzz=");
    put_dec(counts.virtio_fuzz);
    put_str(" gic_accesses=");
    put_dec(counts.gic_accesses);
    put_str(" smccc_calls=");
    put_dec(counts.smccc_calls);
    put_str(" aborts=");
    put_dec(counts.aborts);
    put_str(" local_faults=");
    put_dec(counts.local_faults);
    put_str("\n");
}

void guest_main(uint64_t dtb)
{
    install_vectors();
    uint64_t seed;
    bool given = dtb_seed(dtb, &seed);
    if (!given) {
        seed = SEED_MIX ^ now_ticks();
    }
    rnd_seed(seed);
    put_str("HOSTILE: start at EL");
    put_dec(guest_current_el());
    put_str(", seed ");
    put_hex(seed);
    put_str(given ? " (from hostile.seed=)\n" : " (repeat with hostile.seed=<seed> on the command line)\n");

    uint64_t t0 = now_ticks();
    phase_virtio();
    say("phase 1 virtio done");
    phase_gic();
    phase_smccc();
    phase_regions();
    phase_sysregs_and_immediates();
    say_num("run time in ms: ", (now_ticks() - t0) / ms_to_ticks(1));

    if (fail_count() == 0) {
        print_counts("PASS");
    } else {
        put_str("HOSTILE: FAIL ");
        put_dec(fail_count());
        put_str(" checks failed\n");
        print_counts("FAIL totals");
    }
    power_off();
}
