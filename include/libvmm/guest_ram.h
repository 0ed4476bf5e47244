/*
 * The one checked translation from guest-physical addresses to VMM pointers
 * (DESIGN section 2). Nothing else in the library turns a GPA into a pointer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Return a VMM pointer to [gpa, gpa + len) if the whole range lies inside one
 * configured guest RAM region, else NULL. len == 0 is refused (NULL). Safe for
 * every gpa/len pair: no overflow, a range ending exactly at the end of a
 * region is accepted, one byte further is not.
 */
void *guest_ram_ptr(uint64_t gpa, size_t len);

/* True if [gpa, gpa + len) lies inside one guest RAM region (len > 0). */
bool guest_ram_contains(uint64_t gpa, size_t len);

/*
 * Map a VMM-virtual range back to its guest-physical address. Returns false if
 * [vaddr, vaddr + len) is not inside one configured region.
 */
bool guest_ram_gpa_of(uintptr_t vaddr, size_t len, uint64_t *gpa);
