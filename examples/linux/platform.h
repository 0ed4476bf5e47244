/*
 * What the main job needs from the platform beyond Microkit: under hyp on
 * QEMU, ending the machine when the guest powers off or the VMM fails. On a
 * real Microkit system these have nothing to do (platform_sel4.c).
 */
#pragma once

/* The guest has powered off: end the machine if the platform can. */
void platform_power_off(void);

/* The VMM cannot continue: report `why` and end the machine with an error. */
void platform_fail(const char *why);
