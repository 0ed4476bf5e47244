"""hyp's own bring-up tests (hyp/selftest, mk/hyp.mk), on both GIC versions:
one ELF each, since hyp takes the GIC version from QEMU's device tree.

hyp-selftest: one vCPU, every seL4 fault kind and kernel operation.
hyp-selftest-smp: four vCPUs on four CPUs under a tiny VMM with its own PSCI:
CPU_ON/CPU_OFF, per-vCPU timers, IPIs through the VMM, per-vCPU fault order,
registers of running vCPUs read and written from other CPUs, restart and stop
across CPUs.
hyp-selftest-multi: two VMM programs (PDs) in one image, one guest each on
its own CPU: separate EL2 tables, stage 2 and CSpaces; PD 1 powers off or
crashes while PD 0 finishes; QEMU's exit status is 0 only if both ended with 0;
one CPU too few is refused at boot."""

import pytest

import guestlib


@pytest.mark.parametrize("target,marker", [
    ("hyp-selftest", "hyp-selftest: PASS"),
    ("hyp-selftest-smp", "hyp-selftest-smp: PASS"),
    ("hyp-selftest-multi", "hyp-selftest-multi: PASS"),
])
@pytest.mark.parametrize("gic", [2, 3])
def test_hyp_selftest(target, marker, gic, test_log):
    # The make target fails unless QEMU exits 0 with the PASS line; the log is kept either way.
    try:
        output = guestlib.make("-s", "-f", "mk/hyp.mk", target, f"GIC={gic}")
    except RuntimeError as err:
        test_log.write_text(str(err))
        raise
    test_log.write_text(output)
    assert marker in output
    if gic == 3:
        assert "(GICv3)" in output
