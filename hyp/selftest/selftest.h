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
 * 7 the VMM overflows its stack (hyp must panic, not hang). */
#define HVC_NULL 0x0
#define BENCH_ROUNDS 2000
#define IDLE_SECONDS 3
