/*
 * The subset of libsel4 (AArch64, MCS kernel, hypervisor support) that a libvmm
 * VMM uses, with the exact types, values and bit layouts of seL4.
 * See shared/reference/sel4-microkit-abi.md sections 1-3 and 5A.
 *
 * On the real seL4 these are static inline system calls; under hyp the
 * operations are plain function calls into the EL2 kernel, and in host unit
 * tests they are provided by the recording fake (tests/unit/fake_microkit.c).
 * Sources that include this header build unchanged against the real SDK.
 */
#pragma once

#include <stdint.h>

#define CONFIG_ARCH_ARM 1
#define CONFIG_ARCH_AARCH64 1
#define CONFIG_ARM_HYPERVISOR_SUPPORT 1
#define CONFIG_PLAT_QEMU_ARM_VIRT 1
#define CONFIG_PRINTING 1
#ifndef CONFIG_MAX_NUM_NODES
#define CONFIG_MAX_NUM_NODES 8
#endif

typedef uint8_t seL4_Uint8;
typedef uint16_t seL4_Uint16;
typedef uint32_t seL4_Uint32;
typedef uint64_t seL4_Uint64;
typedef uint64_t seL4_Word;
typedef seL4_Word seL4_CPtr;
typedef int8_t seL4_Bool;
typedef seL4_CPtr seL4_TCB;
typedef seL4_CPtr seL4_ARM_VCPU;
typedef seL4_CPtr seL4_IRQHandler;

#define seL4_True ((seL4_Bool)1)
#define seL4_False ((seL4_Bool)0)
#define seL4_MsgMaxLength 120

typedef enum {
    seL4_NoError = 0,
    seL4_InvalidArgument = 1,
    seL4_InvalidCapability = 2,
    seL4_IllegalOperation = 3,
    seL4_RangeError = 4,
    seL4_AlignmentError = 5,
    seL4_FailedLookup = 6,
    seL4_TruncatedMessage = 7,
    seL4_DeleteFirst = 8,
    seL4_RevokeFirst = 9,
    seL4_NotEnoughMemory = 10,
} seL4_Error;

/* Message info: label 63..12, capsUnwrapped 11..9, extraCaps 8..7, length 6..0. */
typedef struct seL4_MessageInfo {
    seL4_Word words[1];
} seL4_MessageInfo_t;

static inline seL4_MessageInfo_t seL4_MessageInfo_new(seL4_Word label, seL4_Word caps_unwrapped, seL4_Word extra_caps,
                                                      seL4_Word length)
{
    seL4_MessageInfo_t m;
    m.words[0] = ((label & 0xfffffffffffffull) << 12) | ((caps_unwrapped & 0x7) << 9) | ((extra_caps & 0x3) << 7) |
                 (length & 0x7f);
    return m;
}

static inline seL4_Word seL4_MessageInfo_get_label(seL4_MessageInfo_t m)
{
    return m.words[0] >> 12;
}

static inline seL4_Word seL4_MessageInfo_get_length(seL4_MessageInfo_t m)
{
    return m.words[0] & 0x7f;
}

/* IPC buffer: message registers live here after every receive. */
typedef struct seL4_IPCBuffer_ {
    seL4_MessageInfo_t tag;
    seL4_Word msg[seL4_MsgMaxLength];
    seL4_Word user_data;
} seL4_IPCBuffer;

extern seL4_IPCBuffer *__sel4_ipc_buffer;

static inline seL4_Word seL4_GetMR(int i)
{
    return __sel4_ipc_buffer->msg[i];
}

static inline void seL4_SetMR(int i, seL4_Word v)
{
    __sel4_ipc_buffer->msg[i] = v;
}

/* Fault labels, MCS numbering (ABI section 2.1). */
typedef enum {
    seL4_Fault_NullFault = 0,
    seL4_Fault_CapFault = 1,
    seL4_Fault_UnknownSyscall = 2,
    seL4_Fault_UserException = 3,
    seL4_Fault_Timeout = 5,
    seL4_Fault_VMFault = 6,
    seL4_Fault_VGICMaintenance = 7,
    seL4_Fault_VCPUFault = 8,
    seL4_Fault_VPPIEvent = 9,
} seL4_FaultType;

/* Fault message-register indices (ABI section 2.2). */
enum {
    seL4_VMFault_IP = 0,
    seL4_VMFault_Addr = 1,
    seL4_VMFault_PrefetchFault = 2,
    seL4_VMFault_FSR = 3,
    seL4_VMFault_Length = 4,
};
enum {
    seL4_UnknownSyscall_X0 = 0,
    seL4_UnknownSyscall_X1,
    seL4_UnknownSyscall_X2,
    seL4_UnknownSyscall_X3,
    seL4_UnknownSyscall_X4,
    seL4_UnknownSyscall_X5,
    seL4_UnknownSyscall_X6,
    seL4_UnknownSyscall_X7,
    seL4_UnknownSyscall_FaultIP,
    seL4_UnknownSyscall_SP,
    seL4_UnknownSyscall_LR,
    seL4_UnknownSyscall_SPSR,
    seL4_UnknownSyscall_Syscall,
    seL4_UnknownSyscall_Length,
};
enum {
    seL4_UserException_FaultIP = 0,
    seL4_UserException_SP,
    seL4_UserException_SPSR,
    seL4_UserException_Number,
    seL4_UserException_Code,
    seL4_UserException_Length,
};
enum {
    seL4_VGICMaintenance_IDX = 0,
    seL4_VGICMaintenance_Length,
};
enum {
    seL4_VCPUFault_HSR = 0,
    seL4_VCPUFault_Length,
};
enum {
    seL4_VPPIEvent_IRQ = 0,
    seL4_VPPIEvent_Length,
};

/* TCB register frame, exact seL4 AArch64 field order (ABI section 3.4). */
typedef struct seL4_UserContext_ {
    seL4_Word pc, sp, spsr;
    seL4_Word x0, x1, x2, x3, x4, x5, x6, x7, x8;
    seL4_Word x16, x17, x18, x29, x30;
    seL4_Word x9, x10, x11, x12, x13, x14, x15;
    seL4_Word x19, x20, x21, x22, x23, x24, x25, x26, x27, x28;
    seL4_Word tpidr_el0, tpidrro_el0;
} seL4_UserContext;

#define SEL4_USER_CONTEXT_SIZE (sizeof(seL4_UserContext) / sizeof(seL4_Word))

typedef struct seL4_ARM_SMCContext_ {
    seL4_Word x0, x1, x2, x3, x4, x5, x6, x7;
} seL4_ARM_SMCContext;

/* VCPU register ids (ABI section 3.3). */
typedef enum {
    seL4_VCPUReg_SCTLR = 0,
    seL4_VCPUReg_CPACR,
    seL4_VCPUReg_TTBR0,
    seL4_VCPUReg_TTBR1,
    seL4_VCPUReg_TCR,
    seL4_VCPUReg_MAIR,
    seL4_VCPUReg_AMAIR,
    seL4_VCPUReg_CIDR,
    seL4_VCPUReg_ACTLR,
    seL4_VCPUReg_AFSR0,
    seL4_VCPUReg_AFSR1,
    seL4_VCPUReg_ESR,
    seL4_VCPUReg_FAR,
    seL4_VCPUReg_PAR,
    seL4_VCPUReg_VBAR,
    seL4_VCPUReg_TPIDR_EL1,
    seL4_VCPUReg_VMPIDR_EL2,
    seL4_VCPUReg_SP_EL1,
    seL4_VCPUReg_ELR_EL1,
    seL4_VCPUReg_SPSR_EL1,
    seL4_VCPUReg_CNTV_CTL,
    seL4_VCPUReg_CNTV_CVAL,
    seL4_VCPUReg_CNTVOFF,
    seL4_VCPUReg_CNTKCTL_EL1,
    seL4_VCPUReg_Num,
} seL4_VCPUReg;

#define seL4_VCPURegSaveRange_start seL4_VCPUReg_TTBR0
#define seL4_VCPURegSaveRange_end seL4_VCPUReg_SPSR_EL1

typedef struct seL4_ARM_VCPU_ReadRegs {
    int error;
    seL4_Word value;
} seL4_ARM_VCPU_ReadRegs_t;

/*
 * Kernel operations. Each behaves as the seL4 invocation of the same name,
 * including argument checks and error codes (ABI sections 3.1-3.4, 3.8).
 * A RangeError leaves the allowed minimum in MR0 and maximum in MR1, as
 * seL4 does; libvmm uses that to learn the number of list registers.
 */
seL4_Error seL4_TCB_ReadRegisters(seL4_TCB tcb, seL4_Bool suspend_source, seL4_Uint8 arch_flags, seL4_Word count,
                                  seL4_UserContext *regs);
seL4_Error seL4_TCB_WriteRegisters(seL4_TCB tcb, seL4_Bool resume_target, seL4_Uint8 arch_flags, seL4_Word count,
                                   seL4_UserContext *regs);
seL4_Error seL4_TCB_Suspend(seL4_TCB tcb);
seL4_Error seL4_TCB_Resume(seL4_TCB tcb);
seL4_Error seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU vcpu, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                   seL4_Uint8 index);
seL4_Error seL4_ARM_VCPU_AckVPPI(seL4_ARM_VCPU vcpu, seL4_Word irq);
seL4_ARM_VCPU_ReadRegs_t seL4_ARM_VCPU_ReadRegs(seL4_ARM_VCPU vcpu, seL4_Word field);
seL4_Error seL4_ARM_VCPU_WriteRegs(seL4_ARM_VCPU vcpu, seL4_Word field, seL4_Word value);
seL4_Error seL4_IRQHandler_Ack(seL4_IRQHandler irq_handler);
void seL4_Signal(seL4_CPtr cap);
void seL4_DebugPutChar(char c);
seL4_Error seL4_ARM_SMC_Call(seL4_CPtr cap, seL4_ARM_SMCContext *args, seL4_ARM_SMCContext *resp);
