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

/*
 * Print the occupancy of hyp's run-time pools, one line per device backend,
 * at any log level (soak tests compare them across guest reboots):
 *   hyp-pools: backend 0 blk slots 0/32
 *   hyp-pools: backend 1 net rx 64/64 tx 0/64
 *   hyp-pools: backend 2 console tx 0/4
 * blk slots and net/console tx count requests at the device; net rx counts
 * receive buffers posted to it (all of them at rest). The prefix is not
 * hyp's log prefix "hyp| ", so tests do not take the lines for warnings.
 * Call from the PD (its entry points or fault handler): the backends are
 * serviced by the CPU that runs the PD, so the counts are consistent.
 */
void hyp_report_pools(void);
