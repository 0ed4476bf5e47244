/*
 * Constants shared by start.S and the C side of the test-guest runtime
 * (guest.h): CPU count, stack size, the layout of struct guest_cpu_entry.
 */
#pragma once

#define GUEST_MAX_CPUS 8
#define GUEST_STACK_SHIFT 14 /* 16 KiB per CPU: guest.ld reserves GUEST_MAX_CPUS of them */

/* struct guest_cpu_entry: 8 words, 64 bytes. */
#define GUEST_ENTRY_SHIFT 6
#define ENTRY_CONTEXT_ID 0
#define ENTRY_GPR_OR 8
#define ENTRY_SCTLR 16
#define ENTRY_CURRENT_EL 24
#define ENTRY_DAIF 32
#define ENTRY_SPSEL 40
#define ENTRY_CNTV_CTL 48
#define ENTRY_COUNT 56
