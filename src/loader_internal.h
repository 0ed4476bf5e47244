/*
 * Image records kept for guest_restart() (library-internal).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Copy the images recorded by the last successful linux_setup_images() /
 * raw_setup_images() into (already zeroed) guest RAM again, with the same
 * checks, and return the entry point through *entry and the DTB address
 * through *dtb. False if nothing was recorded or a copy fails.
 */
bool loader_reload(uint64_t *entry, uint64_t *dtb);

/* Forget recorded images (guest_init). */
void loader_forget(void);
