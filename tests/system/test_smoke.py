"""Smoke mode (libvmm.smoke=1): with no terminal and no input the guest runs
its smoke check, prints LIBVMM-SMOKE: PASS and powers off; QEMU exits 0.

Under hyp and directly on QEMU, with the default guest (1 vCPU, GICv2) and
the device tree's other shapes: 4 vCPUs (hyp: one physical CPU each) and
GICv3 (hyp: the physical GICv3, the library's vGICv3)."""

import pytest

import guestlib
from conftest import machine_command


@pytest.mark.parametrize("target,smp,gic", [
    ("direct", 1, 2),
    ("hyp", 1, 2),
    ("direct", 2, 2),
    ("direct", 2, 3),
    ("hyp", 4, 2),
    ("hyp", 1, 3),
    ("hyp", 4, 3),
])
def test_smoke_passes(guest, test_log, target, smp, gic):
    cmdline = guest["GUEST_DEFAULT_CMDLINE"] + " libvmm.smoke=1"
    cmd = machine_command(target, f"smoke-{target}-smp{smp}-gicv{gic}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          cmdline, smp=smp, gic=gic)
    status, output = guestlib.run_to_exit(cmd, test_log)
    assert "LIBVMM-SMOKE: PASS" in output, output[-3000:]
    assert f"smoke: cpus online: {smp} " in output
    assert status == 0
