/*
 * Phase 3, SMCCC and PSCI over both conduits (DEN0028 SMCCC 1.1, DEN0022
 * PSCI 1.1; attack class 19): random function ids and arguments, each
 * answer checked against what the specifications allow, then CPU_ON with
 * targets that do not exist or are already on and entry points outside RAM.
 * Phase 5: trapping system registers where any trap, and SMC/HVC with
 * random immediates.
 */
#include "hostile.h"

#define NOT_SUPPORTED (-1)
#define INVALID_PARAMETERS (-2)
#define DENIED (-3)
#define ALREADY_ON (-4)
#define INVALID_ADDRESS (-9)

#define F64 0x40000000u
#define PSCI_VERSION 0x84000000u
#define CPU_SUSPEND 0x84000001u
#define CPU_ON 0x84000003u
#define AFFINITY_INFO 0x84000004u
#define MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_FEATURES 0x8400000au
#define SMCCC_VERSION 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u

#define RANDOM_CALLS 20000u
#define IMMEDIATE_CALLS 2000u

#define MPIDR_AFF_MASK 0xff00ffffffull
#define MPIDR_NON_AFF ((1ull << 31) | (1ull << 30) | (1ull << 24))

static uint64_t self_mpidr;

/* Calls that change power state are never made at random (the brief's filter); CPU_ON is tested on its own. */
static bool filtered(uint32_t w)
{
    switch (w & ~F64) {
    case 0x84000002u: /* CPU_OFF */
    case CPU_ON:
    case 0x84000008u: /* SYSTEM_OFF */
    case 0x84000009u: /* SYSTEM_RESET */
    case 0x8400000bu: /* CPU_FREEZE */
    case 0x8400000cu: /* CPU_DEFAULT_SUSPEND */
    case 0x8400000eu: /* SYSTEM_SUSPEND */
    case 0x84000012u: /* SYSTEM_RESET2 */
    case 0x84000013u: /* MEM_PROTECT */
        return true;
    default:
        return false;
    }
}

/* What PSCI_FEATURES may answer for a queried id (DEN0022 5.1.14): >= 0 for what CPU_ON etc. imply is there. */
static bool psci_implemented(uint32_t q)
{
    switch (q) {
    case PSCI_VERSION:
    case CPU_SUSPEND:
    case CPU_SUSPEND | F64:
    case 0x84000002u:
    case CPU_ON:
    case CPU_ON | F64:
    case AFFINITY_INFO:
    case AFFINITY_INFO | F64:
    case MIGRATE_INFO_TYPE:
    case 0x84000008u:
    case 0x84000009u:
    case PSCI_FEATURES:
    case SMCCC_VERSION:
        return true;
    default:
        return false;
    }
}

/* AFFINITY_INFO / CPU_ON targets: the answer for our own MPIDR, INVALID_PARAMETERS for any other on one vCPU. */
static bool is_self(uint64_t target, bool *ambiguous)
{
    uint64_t aff = target & ~MPIDR_NON_AFF;
    *ambiguous = (target & MPIDR_NON_AFF) != 0 && aff == self_mpidr;
    return target == self_mpidr;
}

/* The answer a random call must give: true if `got` (x0, or W0 for SMC32 ids) is allowed. */
static bool answer_ok(uint32_t w, const uint64_t a[7], uint64_t x0)
{
    bool is64 = (w & F64) != 0;
    int64_t got = is64 ? (int64_t)x0 : (int64_t)(int32_t)x0;
    uint64_t a1 = is64 ? a[0] : (uint32_t)a[0], a2 = is64 ? a[1] : (uint32_t)a[1];
    bool amb;
    switch (w) {
    case PSCI_VERSION:
    case SMCCC_VERSION:
        return got == 0x10001 || (got >> 16) == 1; /* 1.x */
    case SMCCC_ARCH_FEATURES:
        return ((uint32_t)a1 == SMCCC_VERSION || (uint32_t)a1 == SMCCC_ARCH_FEATURES) ? got == 0 : got == NOT_SUPPORTED;
    case CPU_SUSPEND:
    case CPU_SUSPEND | F64:
        return got == 0 || got == INVALID_PARAMETERS || got == INVALID_ADDRESS || got == DENIED;
    case AFFINITY_INFO:
    case AFFINITY_INFO | F64:
        if (a2 != 0 || (!is_self(a1, &amb) && !amb)) {
            return got == INVALID_PARAMETERS;
        }
        return got == 0 || (amb && got == INVALID_PARAMETERS);
    case MIGRATE_INFO_TYPE:
        return got == 2; /* no Trusted OS to migrate */
    case PSCI_FEATURES:
        return psci_implemented((uint32_t)a1) ? got >= 0 : got == NOT_SUPPORTED;
    default:
        /* Yielding calls, MBZ bits, other owners, optional PSCI functions: Unknown Function (DEN0028 5.2). */
        return got == NOT_SUPPORTED;
    }
}

static uint32_t random_fid(void)
{
    switch (rnd_below(6)) {
    case 0:
        return (uint32_t)rnd();
    case 1:
        return 0x84000000u | (rnd_chance(2) ? F64 : 0) | rnd_below(0x20);
    case 2:
        return 0x84000000u | (rnd_chance(2) ? F64 : 0) | rnd_below(0x10000) | (rnd_chance(4) ? 1u << 16 : 0);
    case 3: {
        static const uint32_t arch[] = {SMCCC_VERSION, SMCCC_ARCH_FEATURES, 0x80000002u, 0x80003fffu,
                                        0x80007fffu,   0x80008000u,         0xc0000000u, 0x80000003u};
        return arch[rnd_below(8)];
    }
    case 4:
        return 0x80000000u | (rnd_chance(2) ? F64 : 0) | rnd_below(64) << 24 | rnd_below(0x10000);
    default:
        return (uint32_t)rnd() & 0x7fffffffu; /* yielding */
    }
}

static uint64_t random_arg(void)
{
    switch (rnd_below(6)) {
    case 0:
        return 0;
    case 1:
        return self_mpidr | (rnd_chance(2) ? 1ull << 31 : 0);
    case 2:
        return rnd_below(8);
    case 3:
        return RAM_BASE + (rnd() & 0x1ffffffcull);
    case 4:
        return (uint64_t)rnd() << 32 | (rnd_chance(2) ? self_mpidr : rnd_below(4));
    default:
        return rnd();
    }
}

static void report_call(const char *what, bool smc, uint32_t w, const uint64_t a[7], uint64_t x0)
{
    put_str("HOSTILE: FAIL ");
    put_str(what);
    put_str(smc ? ": smc " : ": hvc ");
    put_hex(w);
    put_str(" (");
    put_hex(a[0]);
    put_str(", ");
    put_hex(a[1]);
    put_str(", ");
    put_hex(a[2]);
    put_str(") -> x0 = ");
    put_hex(x0);
    put_str("\n");
    fail("SMCCC answer");
}

static void random_calls(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t w = random_fid();
        if (filtered(w)) {
            continue;
        }
        uint64_t a[7], out[8];
        for (unsigned k = 0; k < 7; k++) {
            a[k] = random_arg();
        }
        /* W0 is the function id (DEN0028 2.5): the upper half of X0 must not matter. */
        uint64_t x0 = rnd_chance(4) ? (rnd() << 32 | w) : w;
        bool smc = rnd_chance(2);
        call_smccc(smc, x0, a, out);
        counts.smccc_calls++;
        if (!answer_ok(w, a, out[0])) {
            report_call("answer not allowed by SMCCC/PSCI", smc, w, a, out[0]);
        }
        /* SMCCC 1.1 (DEN0028 2.6): X4-X17 are preserved. */
        if (out[4] != a[3] || out[5] != a[4] || out[6] != a[5] || out[7] != a[6]) {
            report_call("x4-x7 not preserved", smc, w, a, out[0]);
        }
    }
}

static void expect_cpu_on(uint32_t fid, uint64_t target, uint64_t entry, int64_t want, int64_t or_want,
                          const char *what)
{
    for (unsigned conduit = 0; conduit < 2; conduit++) {
        uint64_t a[7] = {target, entry, 0x1234};
        uint64_t x0 = conduit ? call_smc(fid, a) : call_hvc(fid, a);
        int64_t got = (fid & F64) ? (int64_t)x0 : (int64_t)(int32_t)x0;
        counts.smccc_calls++;
        if (got != want && got != or_want) {
            report_call(what, conduit, fid, a, x0);
        }
    }
}

/* DEN0022 5.1.4 CPU_ON: INVALID_PARAMETERS, ALREADY_ON, INVALID_ADDRESS. */
static void cpu_on_checks(void)
{
    const uint64_t good_entry = 0x40080000ull;
    uint64_t a[7] = {1, 0};
    int64_t second = (int32_t)call_smc(AFFINITY_INFO, a);
    for (unsigned wide = 0; wide < 2; wide++) {
        uint32_t fid = CPU_ON | (wide ? F64 : 0);
        expect_cpu_on(fid, MPIDR_AFF_MASK, good_entry, INVALID_PARAMETERS, INVALID_PARAMETERS,
                      "CPU_ON for a CPU that does not exist");
        expect_cpu_on(fid, 0x100, good_entry, INVALID_PARAMETERS, INVALID_PARAMETERS,
                      "CPU_ON for Aff1 = 1 (no such CPU)");
        if (second == INVALID_PARAMETERS) {
            expect_cpu_on(fid, 1, good_entry, INVALID_PARAMETERS, INVALID_PARAMETERS, "CPU_ON for MPIDR 1 (absent)");
        }
        expect_cpu_on(fid, self_mpidr, good_entry, ALREADY_ON, ALREADY_ON, "CPU_ON for ourselves");
        expect_cpu_on(fid, self_mpidr, 0, ALREADY_ON, INVALID_ADDRESS, "CPU_ON for ourselves at entry 0");
        expect_cpu_on(fid, self_mpidr, RAM_END, ALREADY_ON, INVALID_ADDRESS, "CPU_ON for ourselves at RAM's end");
        if (second == 1) { /* a second vCPU exists and is off */
            expect_cpu_on(fid, 1, 0x1000, INVALID_ADDRESS, INVALID_ADDRESS, "CPU_ON entry outside RAM");
            expect_cpu_on(fid, 1, RAM_END - 2, INVALID_ADDRESS, INVALID_ADDRESS, "CPU_ON entry misaligned");
            expect_cpu_on(fid, 1, ~3ull, INVALID_ADDRESS, INVALID_ADDRESS, "CPU_ON entry at the top of memory");
        }
    }
    /* SMC32: the upper halves of the arguments are ignored, so this is CPU_ON(self) and CPU_ON(1). */
    expect_cpu_on(CPU_ON, 1ull << 32 | self_mpidr, good_entry, ALREADY_ON, ALREADY_ON,
                  "CPU_ON (SMC32) did not ignore the upper half of the target");
    if (second == 1) {
        say("note: a second vCPU exists and stays off: CPU_ON entry points outside RAM were refused");
    } else {
        say("note: one vCPU: CPU_ON with a bad entry point can only be tried on ourselves (ALREADY_ON first)");
    }
}

void phase_smccc(void)
{
    uint64_t m;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(m));
    self_mpidr = m & MPIDR_AFF_MASK;
    random_calls(RANDOM_CALLS);
    cpu_on_checks();
    say_num("phase 3 SMCCC/PSCI done, calls: ", counts.smccc_calls);
}

/* ---- phase 5 ---- */

/* SMC #imm / HVC #imm (Arm ARM C6.2.241, C6.2.108): generated, since the immediate is in the instruction. */
static uint64_t call_with_imm(bool smc, uint16_t imm, uint64_t fid)
{
    volatile uint32_t *code = (volatile uint32_t *)SCRATCH_CODE;
    code[0] = (smc ? 0xd4000003u : 0xd4000002u) | (uint32_t)imm << 5;
    code[1] = 0xd65f03c0u; /* ret */
    __asm__ volatile("dc cvau, %0\n\tdsb ish\n\tic ivau, %0\n\tdsb ish\n\tisb" ::"r"(SCRATCH_CODE) : "memory");
    uint64_t (*fn)(uint64_t) = (uint64_t(*)(uint64_t))SCRATCH_CODE;
    return fn(fid);
}

static void immediates(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        bool smc = rnd_chance(2);
        uint16_t imm = (uint16_t)(rnd_chance(8) ? 0xffff : 1 + rnd_below(0xfffe));
        uint32_t fid = rnd_chance(2) ? PSCI_VERSION : 0xc2000000u | rnd_below(0x10000);
        uint64_t x0 = call_with_imm(smc, imm, fid);
        counts.smccc_calls++;
        bool ok = (uint32_t)x0 == 0xffffffffu || (fid == PSCI_VERSION && (x0 >> 16) == 1);
        if (!ok) {
            uint64_t a[7] = {imm};
            report_call("SMC/HVC with a non-zero immediate", smc, fid, a, x0);
        }
    }
}

/*
 * GICv3 CPU interface SGI registers trap to the VMM (IHI 0069; vgic_v3_sysreg.c).
 * Only when the CPU has the GIC system registers (ID_AA64PFR0_EL1.GIC).
 */
static void gicv3_sysregs(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = rnd();
        switch (rnd_below(4)) {
        case 0:
            __asm__ volatile("msr s3_0_c12_c11_5, %0" ::"r"(v)); /* ICC_SGI1R_EL1 */
            break;
        case 1:
            __asm__ volatile("msr s3_0_c12_c11_6, %0" ::"r"(v)); /* ICC_ASGI1R_EL1 */
            break;
        case 2:
            __asm__ volatile("msr s3_0_c12_c11_7, %0" ::"r"(v)); /* ICC_SGI0R_EL1 */
            break;
        default:
            __asm__ volatile("mrs %0, s3_0_c12_c12_5" : "=r"(v)); /* ICC_SRE_EL1 */
            break;
        }
    }
}

void phase_sysregs_and_immediates(void)
{
    uint64_t pfr0;
    __asm__ volatile("mrs %0, id_aa64pfr0_el1" : "=r"(pfr0));
    if (((pfr0 >> 24) & 0xf) != 0) {
        gicv3_sysregs(2000);
        say("phase 5 GICv3 SGI system registers hammered");
    } else {
        say("phase 5 note: GICv2 and no system-register trap groups enabled by hyp: no sysreg reaches the VMM, "
            "skipped");
    }
    immediates(IMMEDIATE_CALLS);
    say("phase 5 SMC/HVC immediates done");
}
