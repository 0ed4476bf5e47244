/*
 * The part of libmicrokit that lives in each protection domain's own image
 * (ABI 1.3): the variables the Microkit tool patches (the PD's name, its IRQ
 * and notification channel masks) and libsel4's IPC-buffer pointer, plus
 * the record through which hyp finds this program (hyp/program.h). Linked
 * into every VMM program's partial link (mk/hyp.mk), so each PD has its own
 * copy and the inline functions of <microkit.h> and <sel4/sel4.h> reach the
 * calling PD's state through plain globals, as on seL4.
 */
#include <hyp/program.h>

char microkit_name[MICROKIT_PD_NAME_LENGTH];
seL4_Word microkit_irqs;
seL4_Word microkit_notifications;
seL4_Word microkit_pps;
seL4_IPCBuffer *__sel4_ipc_buffer;

static const struct hyp_program program __attribute__((used, section(".hyp_programs"), aligned(8))) = {
    .system = &hyp_system,
    .name = microkit_name,
    .irqs = &microkit_irqs,
    .notifications = &microkit_notifications,
    .pps = &microkit_pps,
    .ipc_buffer = &__sel4_ipc_buffer,
};
