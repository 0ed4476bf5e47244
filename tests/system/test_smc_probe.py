"""tests/guests/smc_probe.c booted as a raw KERNEL= with no initrd: unknown
SMCCC calls answer NOT_SUPPORTED and the guest keeps running, PSCI_VERSION
works over both conduits, and SYSTEM_OFF over SMC ends QEMU with status 0."""

import re

import guestlib
from conftest import machine_command

PROBE_TIMEOUT = 120


def boot_probe(target, guest, testguests, test_log):
    cmd = machine_command(target, f"smc_probe-{target}", testguests["smc_probe"], "",
                          guest["GUEST_DEFAULT_CMDLINE"])
    return guestlib.run_to_exit(cmd, test_log, PROBE_TIMEOUT)


def psci_versions(output):
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"SMC-PROBE: PSCI_VERSION via (hvc|smc) = 0x[0-9a-f]+ \((\d+)\.(\d+)\)", output)}


def test_smc_probe_under_hyp(guest, testguests, test_log):
    status, output = boot_probe("hyp", guest, testguests, test_log)
    lines = output.splitlines()
    assert "SMC-PROBE: unknown SMC -> NOT_SUPPORTED ok" in output, output[-3000:]
    assert re.search(r"SMC-PROBE: start at EL1, x0 \(DTB\) = 0x[0-9a-f]+, FDT magic ok", output)
    versions = psci_versions(output)
    assert versions.get("smc", (0, 0)) >= (1, 0), output[-3000:]
    assert versions.get("hvc", (0, 0)) >= (1, 0), output[-3000:]
    # It kept running after the unknown calls, and stopped at SYSTEM_OFF.
    order = [next(i for i, l in enumerate(lines) if marker in l)
             for marker in ("NOT_SUPPORTED ok", "PSCI_VERSION via smc", "SYSTEM_OFF via smc")]
    assert order == sorted(order)
    for bad in ("FAIL", "unexpected exception", "UNDEFINED", "halted"):
        assert bad not in output, f"{bad!r} in the probe's output"
    assert status == 0


def test_smc_probe_direct_reports_undefined_smc(guest, testguests, test_log):
    """Control: on QEMU without EL2 or EL3 the SMC instruction is UNDEFINED
    at EL1 and QEMU's own PSCI answers HVC. The probe must say so rather than
    claim NOT_SUPPORTED, and still power off."""
    status, output = boot_probe("direct", guest, testguests, test_log)
    assert re.search(r"SMC-PROBE: start at EL1, x0 \(DTB\) = 0x[0-9a-f]+, FDT magic ok", output), output
    assert "guest: smc is UNDEFINED here (ESR 0x02000000)" in output
    assert "SMC-PROBE: unknown SMC -> NOT_SUPPORTED FAIL" in output
    assert psci_versions(output).get("hvc", (0, 0)) >= (1, 0)
    assert status == 0
