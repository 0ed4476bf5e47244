/*
 * Machine control offered to VMM programs running on hyp (hyp-public).
 */
#pragma once

/*
 * Power the machine off and end QEMU with `status` as its exit status
 * (semihosting SYS_EXIT, extended form; QEMU must run with -semihosting).
 * 0 means a clean power-off (guest shutdown); anything else a failure.
 * Never returns.
 */
void hyp_machine_poweroff(int status) __attribute__((noreturn));
