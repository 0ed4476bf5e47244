/* hyp-internal: boot-time bring-up (main.c, system.c). */
#pragma once

#include <stdint.h>
#include <hyp/system.h>

/*
 * Validate every linked program's description, allocate and map its regions, create its PD, IRQ
 * bindings and vCPUs; returns the number of physical CPUs the PDs need (their CPUs are assigned).
 */
unsigned system_setup(void);
/* Physical address of a region of hyp_system (after system_setup has allocated it). */
uint64_t system_region_pa(const struct hyp_memory_region *mr);
/* Static EL2 configuration for running guests, on each CPU (ABI 4.1). */
void el2_cpu_setup(void);
/* C entry from boot.S on the boot CPU, MMU off. */
void hyp_main(void) __attribute__((noreturn));
