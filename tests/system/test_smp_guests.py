"""The bare-metal SMP guests under hyp with 4 vCPUs, on GICv2 and GICv3
(one boot each; they take seconds):

- tests/guests/sgi_filters.c: from every CPU in turn, SGIs with every target
  form (GICD_SGIR filters 0-3; ICC_SGI1R TargetList, Aff1-3, RS, IRM, and
  ICC_SGI0R/ASGI1R by group), then SGIs 0..15, then a burst into one CPU's
  full list registers; each check has exactly the right CPUs take exactly one
  interrupt with the right INTID;
- tests/guests/psci_cpu_on.c: PSCI CPU_ON's error cases, the state a started
  CPU finds, AFFINITY_INFO, CPU_OFF and CPU_ON again from a full reset.

Each guest prints one PASS/FAIL line per check and a summary, then powers
off with PSCI SYSTEM_OFF, so QEMU must end with status 0. The VMM may only
complain about what the guests do on purpose."""

import re

import pytest

import guestlib
from conftest import machine_command

CPUS = 4
# Bare-metal guests run for seconds; the bound covers a loaded 2-core machine.
RUN_TIMEOUT = 300
CMDLINE = "console=ttyAMA0"

# Checks per run, counted as the guests make them (CPUS = 4).
# sgi_filters: boot; 12 GICD_SGIR forms (GICv2) or 19 ICC_SGI*R forms (GICv3) per sender; SGIs 0..15 per
# sender; the burst (2); GICv2 only: SPENDSGIR/CPENDSGIR sources (3); the totals.
SGI_V2 = 1 + CPUS * 12 + CPUS * 16 + 2 + 3 + 1
SGI_V3 = 1 + CPUS * 19 + CPUS * 16 + 2 + 1
PSCI = 66

# What the VMM logs because the guests ask for it (src/vgic/vgic_v2_dist.c, src/psci.c), and the
# main job's virtio slots that have no backend in these runs.
ALLOWED = [
    r"^vmm\|WARN: vCPU \d: GICD_SGIR 0x3[0-9a-f]{6} uses the reserved target filter: ignored$",
    r"^vmm\|WARN: vCPU \d: CPU_ON for MPIDR 0x[0-9a-f]+, which names no vCPU$",
    r"^vmm\|WARN: vCPU \d: CPU_ON vCPU 2 at 0x[0-9a-f]+, outside guest RAM$",
    *guestlib.absent_devices_allowed("blk", "net", "console"),
]


@pytest.mark.parametrize("name,gic,expected", [
    ("sgi_filters", 2, SGI_V2),
    ("sgi_filters", 3, SGI_V3),
    ("psci_cpu_on", 2, PSCI),
    ("psci_cpu_on", 3, PSCI),
])
def test_smp_guest(testguests, test_log, name, gic, expected):
    cmd = machine_command("hyp", f"{name}-smp{CPUS}-gicv{gic}", testguests[name], "", CMDLINE, smp=CPUS, gic=gic)
    status, output = guestlib.run_to_exit(cmd, test_log, RUN_TIMEOUT)
    text = output.replace("\r", "")
    summary = re.search(rf"^{name}: (\d+) passed, (\d+) failed$", text, re.M)
    assert summary, f"no summary line; console ends with:\n{text[-3000:]}"
    fails = re.findall(r"^FAIL .*$", text, re.M)
    assert not fails, "\n".join(fails)
    assert (int(summary.group(1)), int(summary.group(2))) == (expected, 0), summary.group(0)
    assert len(re.findall(r"^PASS ", text, re.M)) == expected
    assert "unexpected exception" not in text
    assert guestlib.complaints(text, ALLOWED) == []
    assert status == 0, f"QEMU exit status {status}"
