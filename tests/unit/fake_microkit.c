/*
 * Recording fake Microkit/seL4 kernel for host unit tests (see fake_microkit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake_microkit.h"

struct fake_microkit fake;

static seL4_IPCBuffer fake_ipc_buffer;
seL4_IPCBuffer *__sel4_ipc_buffer = &fake_ipc_buffer;

char microkit_name[MICROKIT_PD_NAME_LENGTH] = "vmm";
seL4_Word microkit_irqs = ~(seL4_Word)0;
seL4_Word microkit_notifications = ~(seL4_Word)0;
seL4_Word microkit_pps = 0;

void fake_microkit_reset(void)
{
    memset(&fake, 0, sizeof(fake));
    memset(&fake_ipc_buffer, 0, sizeof(fake_ipc_buffer));
    fake.num_lrs = 4;
    for (size_t i = 0; i < FAKE_MAX_VCPUS; i++) {
        fake.vcpu[i].sysregs[seL4_VCPUReg_SCTLR] = 0x34d58820;
    }
}

static bool vm_tcb(seL4_CPtr cap, size_t *vcpu)
{
    if (cap < BASE_VM_TCB_CAP || cap >= BASE_VM_TCB_CAP + FAKE_MAX_VCPUS) {
        return false;
    }
    *vcpu = cap - BASE_VM_TCB_CAP;
    return true;
}

static bool vcpu_cap(seL4_CPtr cap, size_t *vcpu)
{
    if (cap < BASE_VCPU_CAP || cap >= BASE_VCPU_CAP + FAKE_MAX_VCPUS) {
        return false;
    }
    *vcpu = cap - BASE_VCPU_CAP;
    return true;
}

/* seL4's sanitiser for a thread with a bound VCPU (ABI 3.4). */
static seL4_Word sanitise_spsr(seL4_Word v)
{
    seL4_Word mode = v & 0x1f;
    if (mode == 0 || mode == 4 || mode == 5) {
        return v;
    }
    return (v & 0xf0000000) | 0x140;
}

seL4_Error seL4_TCB_ReadRegisters(seL4_TCB tcb, seL4_Bool suspend_source, seL4_Uint8 arch_flags, seL4_Word count,
                                  seL4_UserContext *regs)
{
    (void)arch_flags;
    size_t id;
    if (!vm_tcb(tcb, &id)) {
        return seL4_InvalidCapability;
    }
    if (count < 1 || count > SEL4_USER_CONTEXT_SIZE) {
        return seL4_RangeError;
    }
    struct fake_vcpu *v = &fake.vcpu[id];
    if (suspend_source) {
        v->runnable = false;
    }
    v->reg_reads++;
    v->last_read_count = count;
    memcpy(regs, &v->regs, count * sizeof(seL4_Word));
    return seL4_NoError;
}

seL4_Error seL4_TCB_WriteRegisters(seL4_TCB tcb, seL4_Bool resume_target, seL4_Uint8 arch_flags, seL4_Word count,
                                   seL4_UserContext *regs)
{
    (void)arch_flags;
    size_t id;
    if (!vm_tcb(tcb, &id)) {
        return seL4_InvalidCapability;
    }
    if (count > SEL4_USER_CONTEXT_SIZE) {
        count = SEL4_USER_CONTEXT_SIZE;
    }
    struct fake_vcpu *v = &fake.vcpu[id];
    v->reg_writes++;
    v->last_write_count = count;
    memcpy(&v->regs, regs, count * sizeof(seL4_Word));
    v->regs.spsr = sanitise_spsr(v->regs.spsr);
    if (resume_target) {
        v->runnable = true;
        v->resumes++;
    }
    return seL4_NoError;
}

seL4_Error seL4_TCB_Suspend(seL4_TCB tcb)
{
    size_t id;
    if (!vm_tcb(tcb, &id)) {
        return seL4_InvalidCapability;
    }
    fake.vcpu[id].runnable = false;
    fake.vcpu[id].stops++;
    return seL4_NoError;
}

seL4_Error seL4_TCB_Resume(seL4_TCB tcb)
{
    size_t id;
    if (!vm_tcb(tcb, &id)) {
        return seL4_InvalidCapability;
    }
    fake.vcpu[id].runnable = true;
    fake.vcpu[id].resumes++;
    return seL4_NoError;
}

seL4_Error seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU cap, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                   seL4_Uint8 index)
{
    size_t id;
    if (!vcpu_cap(cap, &id)) {
        return seL4_InvalidCapability;
    }
    /* Checks in seL4's order (ABI 3.1). */
    if (virq > 1023) {
        seL4_SetMR(0, 0);
        seL4_SetMR(1, 1023);
        return seL4_RangeError;
    }
    if (priority > 31) {
        seL4_SetMR(0, 0);
        seL4_SetMR(1, 31);
        return seL4_RangeError;
    }
    if (group > 1) {
        seL4_SetMR(0, 0);
        seL4_SetMR(1, 1);
        return seL4_RangeError;
    }
    if (index >= fake.num_lrs) {
        seL4_SetMR(0, 0);
        seL4_SetMR(1, fake.num_lrs - 1);
        return seL4_RangeError;
    }
    struct fake_lr *lr = &fake.vcpu[id].lr[index];
    if (lr->state == FAKE_LR_ACTIVE) {
        return seL4_DeleteFirst;
    }
    lr->state = FAKE_LR_PENDING;
    lr->virq = virq;
    lr->priority = priority;
    lr->group = group;
    if (fake.num_injects < FAKE_MAX_RECORDS) {
        fake.injects[fake.num_injects++] = (struct fake_inject){id, virq, priority, group, index};
    }
    return seL4_NoError;
}

seL4_Error seL4_ARM_VCPU_AckVPPI(seL4_ARM_VCPU cap, seL4_Word irq)
{
    size_t id;
    if (!vcpu_cap(cap, &id)) {
        return seL4_InvalidCapability;
    }
    if (irq > 159) {
        return seL4_RangeError;
    }
    if (irq != 27) {
        return seL4_InvalidArgument;
    }
    fake.vcpu[id].vppi_acks++;
    return seL4_NoError;
}

seL4_ARM_VCPU_ReadRegs_t seL4_ARM_VCPU_ReadRegs(seL4_ARM_VCPU cap, seL4_Word field)
{
    seL4_ARM_VCPU_ReadRegs_t r = {seL4_NoError, 0};
    size_t id;
    if (!vcpu_cap(cap, &id)) {
        r.error = seL4_InvalidCapability;
        return r;
    }
    if (field >= seL4_VCPUReg_Num) {
        r.error = seL4_InvalidArgument;
        return r;
    }
    r.value = fake.vcpu[id].sysregs[field];
    return r;
}

seL4_Error seL4_ARM_VCPU_WriteRegs(seL4_ARM_VCPU cap, seL4_Word field, seL4_Word value)
{
    size_t id;
    if (!vcpu_cap(cap, &id)) {
        return seL4_InvalidCapability;
    }
    if (field >= seL4_VCPUReg_Num) {
        return seL4_InvalidArgument;
    }
    fake.vcpu[id].sysregs[field] = value;
    return seL4_NoError;
}

seL4_Error seL4_IRQHandler_Ack(seL4_IRQHandler cap)
{
    if (cap < BASE_IRQ_CAP || cap >= BASE_IRQ_CAP + MICROKIT_MAX_CHANNELS) {
        return seL4_InvalidCapability;
    }
    fake.irq_acks[cap - BASE_IRQ_CAP]++;
    return seL4_NoError;
}

void seL4_Signal(seL4_CPtr cap)
{
    if (cap >= BASE_OUTPUT_NOTIFICATION_CAP && cap < BASE_OUTPUT_NOTIFICATION_CAP + MICROKIT_MAX_CHANNELS) {
        fake.signals[cap - BASE_OUTPUT_NOTIFICATION_CAP]++;
    }
}

seL4_Error seL4_ARM_SMC_Call(seL4_CPtr cap, seL4_ARM_SMCContext *args, seL4_ARM_SMCContext *resp)
{
    (void)cap;
    (void)args;
    memset(resp, 0, sizeof(*resp));
    return seL4_IllegalOperation;
}

void seL4_DebugPutChar(char c)
{
    if (fake.console_len + 1 < FAKE_CONSOLE_SIZE) {
        fake.console[fake.console_len++] = c;
        fake.console[fake.console_len] = '\0';
    }
    if (getenv("FAKE_MICROKIT_VERBOSE") != NULL) {
        fputc(c, stderr);
    }
}

void microkit_dbg_putc(int c)
{
    seL4_DebugPutChar((char)c);
}

void microkit_dbg_puts(const char *s)
{
    while (*s != '\0') {
        seL4_DebugPutChar(*s++);
    }
}

void microkit_dbg_put8(seL4_Uint8 x)
{
    char buf[4];
    snprintf(buf, sizeof(buf), "%u", x);
    microkit_dbg_puts(buf);
}

void microkit_dbg_put32(seL4_Uint32 x)
{
    char buf[12];
    snprintf(buf, sizeof(buf), "%u", x);
    microkit_dbg_puts(buf);
}

void microkit_internal_crash(seL4_Error err)
{
    fake.crashes++;
    fprintf(stderr, "fake microkit: PD crash (seL4 error %d)\n", err);
}

void microkit_deferred_notify(microkit_channel ch)
{
    seL4_Signal(BASE_OUTPUT_NOTIFICATION_CAP + ch);
}

void microkit_deferred_irq_ack(microkit_channel ch)
{
    seL4_IRQHandler_Ack(BASE_IRQ_CAP + ch);
}

void fake_guest_ack(size_t vcpu, unsigned idx)
{
    struct fake_lr *lr = &fake.vcpu[vcpu].lr[idx];
    if (lr->state == FAKE_LR_PENDING) {
        lr->state = FAKE_LR_ACTIVE;
    }
}

void fake_guest_eoi(size_t vcpu, unsigned idx)
{
    fake.vcpu[vcpu].lr[idx].state = FAKE_LR_INVALID;
}

int fake_lr_find(size_t vcpu, unsigned virq)
{
    for (unsigned i = 0; i < fake.num_lrs; i++) {
        const struct fake_lr *lr = &fake.vcpu[vcpu].lr[i];
        if (lr->state != FAKE_LR_INVALID && lr->virq == virq) {
            return (int)i;
        }
    }
    return -1;
}

unsigned fake_lr_count(size_t vcpu, unsigned virq)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fake.num_lrs; i++) {
        const struct fake_lr *lr = &fake.vcpu[vcpu].lr[i];
        n += (lr->state != FAKE_LR_INVALID && lr->virq == virq);
    }
    return n;
}

microkit_msginfo fake_fault(seL4_Word label, size_t count, const seL4_Word *mrs)
{
    for (size_t i = 0; i < count; i++) {
        seL4_SetMR((int)i, mrs[i]);
    }
    return microkit_msginfo_new(label, (seL4_Uint16)count);
}

bool fake_console_contains(const char *needle)
{
    return strstr(fake.console, needle) != NULL;
}

void fake_console_clear(void)
{
    fake.console_len = 0;
    fake.console[0] = '\0';
}
