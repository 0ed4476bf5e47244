/*
 * hyp's boot sequence on the boot CPU (EL2, MMU off, PSTATE.DAIF masked).
 *
 * Physical memory map (QEMU virt, RAM at 0x40000000):
 *   0x40000000 .. 0x40200000  QEMU's hardware DTB (read-only to hyp)
 *   0x40200000 .. _end        hyp + VMM image (text RX, rodata R, data/bss RW)
 *   2 MiB above _end .. RAM end  free RAM: regions with HYP_MR_ALLOCATE, 2 MiB aligned, zeroed
 * EL2 virtual address space (shared by hyp and the VMM, 39-bit VA):
 *   identity: DTB window, hyp image, GICD, GICC and GICH (v2) or the redistributors (v3), PL011
 *   the VMM maps of the system description at their vaddrs (guest RAM is NOT identity mapped)
 *   0x7000000000 .. 0x8000000000 boot-time zeroing window
 */
#include <stddef.h>
#include <string.h>
#include <hyp/arch.h>
#include <hyp/cpu.h>
#include <hyp/gic.h>
#include <hyp/irq.h>
#include <hyp/log.h>
#include <hyp/mmu.h>
#include <hyp/pd.h>
#include <hyp/platform.h>
#include <hyp/setup.h>
#include <hyp/smp.h>
#include <hyp/vcpu.h>

_Static_assert(offsetof(struct hyp_cpu, fp) == CPU_FP, "cpu layout");
_Static_assert(offsetof(struct hyp_cpu, fp_saved) == CPU_FP_SAVED, "cpu layout");

struct hyp_cpu hyp_cpus[HYP_MAX_CPUS];
struct hyp_stack hyp_stacks[HYP_MAX_CPUS] __attribute__((aligned(4096)));
_Static_assert(sizeof(struct hyp_stack) % 4096 == 0, "stacks must keep their guard pages page aligned");

extern char _start[], _end[];
extern uintptr_t __stack_chk_guard;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

/* Static EL2 configuration for running guests (ABI 4.1, DESIGN 3), on each CPU. */
void el2_cpu_setup(void)
{
    sysreg_write(hcr_el2, HCR_GUEST);
    sysreg_write(cnthctl_el2, CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN);
    sysreg_write(cntvoff_el2, 0);
    sysreg_write(vpidr_el2, sysreg_read(midr_el1));
    sysreg_write(hstr_el2, 0);
    /* MDCR_EL2.HPMN = PMCR_EL0.N: all event counters stay with EL1; nothing else trapped. */
    sysreg_write(mdcr_el2, (sysreg_read(pmcr_el0) >> 11) & 0x1f);
    isb();
}

void hyp_main(void)
{
    struct hyp_cpu *c = &hyp_cpus[0];
    /* Lazy FP: until the first guest entry the (all-zero) save area is the guest's FP state. */
    c->id = 0;
    c->mpidr = sysreg_read(mpidr_el1) & 0xff00ffffffull;
    c->fp = &hyp_vcpus[0].fp;
    c->fp_saved = 1;
    sysreg_write(cptr_el2, CPTR_EL2_RES1);
    isb();

    __stack_chk_guard ^= sysreg_read(cntpct_el0) * 0x9e3779b97f4a7c15ull;
    mmu_bootstrap();
    /* QEMU puts its DTB at the RAM base when the ELF is loaded above it; hyp links 2 MiB above that. */
    platform_init((uintptr_t)_start - 0x200000);
    uart_init(platform.uart_pa);
    hyp_log_parse_bootargs(platform.bootargs);
    LOG_INFO("hyp on QEMU virt: RAM 0x%lx+0x%lx, GICv%u D 0x%lx C 0x%lx H 0x%lx V 0x%lx R 0x%lx, maint %u vtimer %u",
             platform.ram_base, platform.ram_size, platform.gic_version, platform.gicd_pa, platform.gicc_pa,
             platform.gich_pa, platform.gicv_pa, platform.gicr_pa, platform.maint_irq, platform.vtimer_irq);
    LOG_INFO("PL011 0x%lx irq %u, %u CPU(s), bootargs \"%s\"", platform.uart_pa, platform.uart_irq, platform.num_cpus,
             platform.bootargs);

    gic_init();
    irq_init();
    el2_cpu_setup();
    unsigned cpus = system_setup();
    LOG_INFO("%u list registers; image 0x%lx-0x%lx", gic_num_lrs(), (uint64_t)(uintptr_t)_start,
             (uint64_t)(uintptr_t)_end);
    lifecycle_init(hyp_num_pds);
    /* libmicrokit: C constructors run before init(): every program's, here, before any PD starts. */
    for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ctor++) {
        (*ctor)();
    }
    /*
     * One CPU per vCPU, at least one per PD (DESIGN 3); they idle until their VMM makes their vCPU
     * runnable. The first CPU of each PD but PD 0 runs its PD's init() (smp.c).
     */
    c->online = 1;
    smp_boot_secondaries(cpus);
    pd_run(&hyp_pds[0]);
}
