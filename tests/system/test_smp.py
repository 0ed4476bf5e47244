"""The Debian guest with 4 vCPUs under hyp (one physical CPU each), on GICv2
and GICv3: all CPUs come up, every CPU's timer interrupts keep coming while
all CPUs are busy, CPUs go offline and come back through sysfs (PSCI CPU_OFF
and CPU_ON of a vCPU whose state is on another CPU), the guest reboots with
all CPUs (every vCPU stopped from the rebooting one) and every CPU's timer
works again after the reboot (a timer interrupt in flight when the vCPUs were
stopped must not leave its PPI masked), and it powers off.

One boot per GIC version; the steps run in order on it."""

import re

import pytest

import guestlib
from conftest import machine_command

CPUS = 4


def timer_counts(con):
    """Per-CPU arch_timer interrupt counts from /proc/interrupts."""
    line = [l for l in con.check("grep arch_timer /proc/interrupts").splitlines() if "arch_timer" in l][0]
    return [int(f) for f in line.split()[1:1 + CPUS]]


def online(con):
    """/sys/devices/system/cpu/online (kernel messages may interleave with the console output)."""
    out = con.check("cat /sys/devices/system/cpu/online")
    lines = [l.strip() for l in out.splitlines() if re.fullmatch(r"[0-9][0-9,-]*", l.strip())]
    assert len(lines) == 1, out
    return lines[0]


def cpulist(cpus):
    """Linux's cpulist format (Documentation/admin-guide/cputopology.rst): "0,2-3"."""
    ranges, cpus = [], sorted(cpus)
    for cpu in cpus:
        if ranges and ranges[-1][1] == cpu - 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def assert_every_timer_ticks_under_load(con):
    """Busy loops on every CPU; each CPU's own virtual timer must still interrupt it."""
    con.check(f"for i in $(seq {CPUS}); do (while :; do :; done) & done")
    before = timer_counts(con)
    con.check("sleep 2")
    after = timer_counts(con)
    con.check("kill $(jobs -p)")
    grown = [a - b for a, b in zip(after, before)]
    assert all(g > 0 for g in grown), f"arch_timer per CPU: before {before}, after {after}"


@pytest.mark.parametrize("gic", [2, 3])
def test_smp_guest(guest, test_log, gic):
    cmd = machine_command("hyp", f"smp{CPUS}-gicv{gic}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          guest["GUEST_DEFAULT_CMDLINE"], smp=CPUS, gic=gic)
    log = guestlib.TeeLog(test_log)
    con = guestlib.Console(cmd, log)
    try:
        con.wait_prompt()
        assert online(con) == f"0-{CPUS - 1}"

        assert_every_timer_ticks_under_load(con)

        for cpu in range(1, CPUS):
            con.check(f"echo 0 > /sys/devices/system/cpu/cpu{cpu}/online")
            assert online(con) == cpulist(set(range(CPUS)) - {cpu})
            con.check(f"echo 1 > /sys/devices/system/cpu/cpu{cpu}/online")
            assert online(con) == f"0-{CPUS - 1}"
        before = timer_counts(con)
        con.check("sleep 1")
        after = timer_counts(con)
        assert all(a > b for a, b in zip(after, before)), f"after replug: before {before}, after {after}"

        con.send_line("reboot")
        con.expect("Run /init as init process")
        con.wait_prompt()
        assert online(con) == f"0-{CPUS - 1}"
        assert_every_timer_ticks_under_load(con)

        con.send_line("poweroff")
        assert con.wait_exit() == 0
    finally:
        con.close()
        log.close()
