/*
 * Cache maintenance by virtual address, usable from EL2 and from EL0 on seL4
 * (SCTLR_EL1.UCI/UCT are set for Microkit PDs). Host builds do nothing.
 * Linux booting.rst: images must be cleaned to the PoC before entry.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Clean the data cache to the Point of Coherency for [start, start + len). */
void cache_clean_to_poc(uintptr_t start, size_t len);

/* Make [start, start + len) coherent for instruction fetch (DC CVAU + IC IVAU). */
void cache_sync_icache(uintptr_t start, size_t len);
