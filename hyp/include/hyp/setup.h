/* hyp-internal: boot-time bring-up (main.c, system.c). */
#pragma once

/* Validate hyp_system, allocate and map its regions, create the PD, IRQ bindings and vCPUs. */
void system_setup(void);
/* C entry from boot.S on the boot CPU, MMU off. */
void hyp_main(void) __attribute__((noreturn));
