/*
 * bench_boot: how much the machine executed before the guest's first
 * instruction. The first thing guest_main does is read the virtual counter;
 * under `qemu -icount shift=0,sleep=off` that is the number of instructions
 * run since reset (QEMU's boot stub, then hyp's boot and the VMM's init()
 * with its image copies when run under hyp), plus the few instructions of
 * common/start.S (stack, vectors, a BSS of a few bytes). Booted directly on
 * QEMU the same reading is the floor: QEMU's stub and start.S alone.
 *
 * bench/ also links this guest zero-padded to the size of the Linux Image,
 * with the Debian initrd, so that the loader copies what it copies for Linux.
 *
 * Output, parsed by bench/bench.py:
 *   BENCH-BOOT: ticks <counter at guest_main> cntfrq <Hz>
 */
#include "bench_common.h"

void guest_main(uint64_t dtb)
{
    uint64_t ticks = bench_counter();
    (void)dtb;
    uart_puts("BENCH-BOOT: ticks ");
    uart_put_dec(ticks);
    uart_puts(" cntfrq ");
    uart_put_dec(bench_counter_freq());
    uart_puts("\n");
    bench_power_off();
}
