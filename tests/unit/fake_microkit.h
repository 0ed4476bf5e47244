/*
 * A recording fake of the Microkit/seL4 kernel operations for host-native unit
 * tests. It behaves like seL4 for the calls libvmm makes (argument checks,
 * error codes, RangeError MRs, LR encoding; shared/reference/sel4-microkit-abi.md
 * section 3) and records every call so tests can assert on them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microkit.h>

#define FAKE_MAX_VCPUS 8
#define FAKE_MAX_LRS 16
#define FAKE_MAX_RECORDS 1024
#define FAKE_CONSOLE_SIZE 65536

enum fake_lr_state {
    FAKE_LR_INVALID = 0,
    FAKE_LR_PENDING = 1,
    FAKE_LR_ACTIVE = 2,
    FAKE_LR_PENDING_ACTIVE = 3,
};

struct fake_lr {
    enum fake_lr_state state;
    uint16_t virq;
    uint8_t priority;
    uint8_t group;
};

struct fake_vcpu {
    seL4_UserContext regs;
    seL4_Word sysregs[seL4_VCPUReg_Num];
    bool runnable; /* resumed and not stopped since */
    unsigned stops; /* seL4_TCB_Suspend calls */
    unsigned resumes; /* WriteRegisters(resume) / Resume calls */
    unsigned reg_reads; /* seL4_TCB_ReadRegisters calls */
    unsigned reg_writes; /* seL4_TCB_WriteRegisters calls */
    seL4_Word last_read_count;
    seL4_Word last_write_count;
    unsigned vppi_acks;
    struct fake_lr lr[FAKE_MAX_LRS];
};

struct fake_inject {
    size_t vcpu;
    uint16_t virq;
    uint8_t priority;
    uint8_t group;
    uint8_t index;
};

struct fake_microkit {
    struct fake_vcpu vcpu[FAKE_MAX_VCPUS];
    unsigned num_lrs; /* list registers per vCPU, default 4 (QEMU) */
    struct fake_inject injects[FAKE_MAX_RECORDS];
    size_t num_injects;
    unsigned irq_acks[MICROKIT_MAX_CHANNELS];
    unsigned signals[MICROKIT_MAX_CHANNELS];
    unsigned crashes;
    char console[FAKE_CONSOLE_SIZE];
    size_t console_len;
};

extern struct fake_microkit fake;

/* Reset every record and vCPU to the state Microkit leaves a fresh VM in. */
void fake_microkit_reset(void);

/* Simulate the guest acknowledging (IAR) the vIRQ in LR idx: pending -> active. */
void fake_guest_ack(size_t vcpu, unsigned idx);

/* Simulate the guest EOI of LR idx: the LR becomes invalid (EOI maintenance). */
void fake_guest_eoi(size_t vcpu, unsigned idx);

/* Find the LR holding virq on vcpu, or -1. */
int fake_lr_find(size_t vcpu, unsigned virq);

/* Number of valid LRs holding virq on vcpu (must never exceed 1). */
unsigned fake_lr_count(size_t vcpu, unsigned virq);

/* Set up the IPC buffer as a fault of `label` with `count` MRs would. */
microkit_msginfo fake_fault(seL4_Word label, size_t count, const seL4_Word *mrs);

/* True if the console output so far contains `needle`. */
bool fake_console_contains(const char *needle);

/* Forget console output. */
void fake_console_clear(void);
