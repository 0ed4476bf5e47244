/*
 * A VMM program linked into hyp: one Microkit protection domain's image
 * (ABI 1.1-1.4). Each program is partially linked on its own with its own
 * copy of libmicrokit's per-PD variables (hyp/program/program.c) and of
 * every library it uses, and all of its symbols are then made local
 * (mk/hyp.mk, hyp_program), so two programs may both define init, notified,
 * fault and hyp_system. hyp finds the programs through the records they put
 * in the section .hyp_programs (bounded by hyp.ld), in link order: the
 * first program linked is PD 0.
 */
#pragma once

#include <hyp/system.h>
#include <microkit.h>

struct hyp_program {
    const struct hyp_system *system; /* this program's description: exactly one PD */
    /* The program's own libmicrokit variables, patched by hyp before init() (as the Microkit tool does). */
    char *name;
    seL4_Word *irqs;
    seL4_Word *notifications;
    seL4_Word *pps;
    seL4_IPCBuffer **ipc_buffer;
};

/* hyp.ld */
extern const struct hyp_program __hyp_programs_start[], __hyp_programs_end[];
