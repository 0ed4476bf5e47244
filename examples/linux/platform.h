/*
 * What the main job needs from the platform beyond Microkit: under hyp on
 * QEMU, ending the machine when the guest powers off or the VMM fails, and
 * hyp's pool report after a reboot. On a real Microkit system these have
 * nothing to do (platform_sel4.c).
 */
#pragma once

/* The guest has powered off: end the machine if the platform can. */
void platform_power_off(void);

/* The VMM cannot continue: report `why` and end the machine with an error. */
void platform_fail(const char *why);

/* Print the platform's own run-time pools after the VMM's (hyp: its device backends; seL4: nothing). */
void platform_report_pools(void);
