/* Constants shared by hyp's bring-up test VMM (vmm.c) and its guest (guest.S, guest.c). */
#pragma once

#define GUEST_RAM_IPA 0x40000000
#define GUEST_RAM_SIZE 0x1000000
#define GUEST_GICC_IPA 0x08010000
#define GUEST_UART_IPA 0x09000000
#define GUEST_MMIO_IPA 0x10000010 /* unmapped: every access is a VMFault */
#define GUEST_NOEXEC_IPA 0x10000000 /* unmapped: a branch here is a prefetch VMFault */
#define GUEST_RO_IPA 0x50000000 /* one read-only page: a store is a stage-2 permission fault */

#define HVC_PLAIN 0x1111 /* x0 of the plain HVC test */
#define HVC_FP 0xf0f0 /* VMM clobbers FP/SIMD registers while handling it */
#define HVC_DELETE 0xde1e /* raised inside the timer handler: LR 0 is Active */
#define HVC_RESTART 0x5eb0 /* VMM stops + restarts the vCPU inside fault(): the reply is a no-op */
#define HVC_REPLY_X0 0xfeed
#define RESTART_X0 0x5151
#define SMC_IMM_TEST 0x42
#define SMC_IMM_POWEROFF 0xff
#define SMC_X0_IN 0xc0de
#define SMC_X0_OUT 0x600d
#define MMIO_READ_VALUE 0xabcd1234
#define MMIO_WRITE_VALUE 0x5a5a5a5a
#define SP_EL0_VALUE 0x5e5e0
#define UART_IRQ 33
#define UART_CHANNEL 1
#define VTIMER_IRQ 27
#define TIMER_ROUNDS 3
#define LOOP_CH_A 2 /* a channel whose both ends are this PD: notify(2) -> notified(3) */
#define LOOP_CH_B 3

/* SELFTEST_VARIANT: 0 full test, 1 a VMM check fails, 2 the VMM crashes, 3 long idle WFI only,
 * 4 a bad system description (hyp must refuse it), 5 the VMM dereferences a bad pointer,
 * 6 null-HVC round-trip cost under -icount (prints instructions per round trip),
 * 7 the VMM overflows its stack (its PD must end with status 1, not hang). */
#define HVC_NULL 0x0
#define BENCH_ROUNDS 2000
#define IDLE_SECONDS 3

/* ---- SMP selftest (smp_vmm.c, smp_guest.S, smp_guest.c): SMP_CPUS vCPUs on as many CPUs ---- */
#define SMP_CPUS 4
#define SMP_STACK_SIZE 0x10000 /* per vCPU, from the top of guest RAM down */
#define GUEST_GICD_IPA 0x08000000 /* GICv2 distributor: unmapped, the VMM emulates GICD_SGIR */
#define GICD_SGIR 0xf00
#define SMP_SGI 1 /* the IPI the vCPUs send each other */
#define SMP_LR_TIMER 0
#define SMP_LR_SGI 2
#define SMP_SEQ_ROUNDS 200 /* HVCs per vCPU whose sequence numbers the VMM checks */
#define SMP_TIMER_ROUNDS 3
/* PSCI 1.1 (DEN0022), SMC64 where both exist; CPU_ON context id = (mode << 8) | vCPU. */
#define PSCI_CPU_OFF 0x84000002
#define PSCI_CPU_ON 0xc4000003
#define PSCI_AFFINITY_INFO 0xc4000004
#define SMP_MODE_MAIN 0 /* the full per-CPU test */
#define SMP_MODE_AGAIN 1 /* started a second time: check in and CPU_OFF */
#define SMP_MODE_SPIN 2 /* spin without exits until the VMM stops it from another CPU */
#define HVC_SEQ 0x5e9 /* x1 = sequence number of this vCPU's HVCs */
#define HVC_PEEK 0x9ee /* x1 = another vCPU: VMM reads its CONTEXTIDR_EL1 and TPIDRRO_EL0 while it runs */
#define HVC_POKE 0x90e /* x1 = another vCPU: VMM writes its TPIDR_EL1 while it runs */
#define HVC_STOP 0x570 /* x1 = a vCPU spinning in the guest: VMM stops it (seL4_TCB_Suspend) */
#define SMP_CIDR_MAGIC 0xc1d00000u /* | vCPU */
#define SMP_TPIDRRO_MAGIC 0x7e0000000ull /* | vCPU */
#define SMP_POKE_MAGIC 0x90e0000000ull /* | vCPU */

/* ---- several-PD selftest (multi_vmm.c, multi_guest.S): two VMM programs, one guest each ---- */
#define MULTI_RAM_IPA(pd) (0x40000000ull + (pd)*0x08000000ull) /* guest 0 at 1 GiB, guest 1 128 MiB above */
#define MULTI_RAM_SIZE 0x200000
#define MULTI_RAM_VADDR 0x2000000000ull /* both VMMs map their guest's RAM at the same VMM address */
#define MULTI_MARKER_OFFSET 0x100000 /* each VMM writes its marker here in its own guest RAM */
#define MULTI_MARKER(pd) (0x6d61726b00000000ull | (pd))
#define MULTI_PROBE_VALUE 0x9e0be /* a load from the other guest's RAM IPA faults; the VMM emulates this */
#define MULTI_HVC_PROBED 0x9b0 /* x1 = what the probe load returned */
#define MULTI_HVC_TICK 0x71c /* guest 0: one per loop round while its time runs */
#define MULTI_RUN_SECONDS 2 /* guest 0 runs this long: guest 1's PD ends meanwhile */
#define MULTI_MIN_TICKS 100
#define PSCI_SYSTEM_OFF 0x84000008
/* MULTI_VARIANT: how PD 1 ends: 0 its guest powers off (status 0), 1 its VMM writes through a bad
 * pointer, 2 its VMM signals a channel only PD 0 has (a cap fault): 1 and 2 end PD 1 with status 1. */
