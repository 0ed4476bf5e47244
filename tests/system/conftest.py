"""Fixtures shared by the system tests (see guestlib.py for the machinery).

Each test boots real guests on QEMU: under hyp (the linked hyp + VMM ELF from
`make image`), and the same guest directly on QEMU as a control, so a guest
image fault and a hyp fault are told apart. Console logs are written to
$(BUILD)/system-logs/<module>.<test>.log.

Run them with `make system-test`, or a few directly on Debian's Python:
  BUILD=build /usr/bin/python3 -m pytest tests/system -k smoke
LIBVMM_BOOT_TIMEOUT (seconds, default 240) bounds each boot."""

import shutil
import tempfile
from pathlib import Path

import pytest

import guestlib


@pytest.fixture(scope="session")
def guest():
    """The default Debian guest images and settings (mk/guest.mk)."""
    return guestlib.guest_info()


@pytest.fixture(scope="session")
def testguests():
    """The bare-metal test guests, by name -> raw binary path."""
    guestlib.make("testguests")
    return {p.stem: p for p in (guestlib.build_dir() / "guests").glob("*.bin")}


@pytest.fixture
def socket_dir():
    """A short temporary directory for Unix sockets (their names are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="libvmm-sock-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def test_log(request):
    """This test's console log file."""
    return guestlib.log_path(f"{request.module.__name__}.{request.node.name}")


def machine_command(target, name, kernel, initrd, cmdline, smp=1, gic=2, devices=(), qemu_args=(), hyp_log=None):
    """The run-qemu.sh command line booting these images: under hyp
    (target 'hyp', through `make image`) or straight on QEMU ('direct').

    devices: run-qemu.sh's device options (--disk, --net, --hostfwd,
    --console-socket); qemu_args: more QEMU arguments; hyp_log: hyp's log
    level (--log). A direct run with devices boots on QEMU's own DTB with
    `-append cmdline`: the guest DTB lists the virtio-mmio slots the VMM
    emulates (0x0a000000 up), and QEMU puts its first device in the highest
    slot, so the two would not match."""
    if target == "hyp":
        elf = guestlib.build_elf(name, kernel, initrd, cmdline, f"SMP={smp}", f"GIC={gic}")
        extra = ["--smp", str(smp), "--gic", str(gic), *devices]
        if hyp_log:
            extra += ["--log", hyp_log]
        return guestlib.qemu_command(elf=elf, extra=[*extra, *(["--", *qemu_args] if qemu_args else [])])
    info = guestlib.guest_info(f"KERNEL={kernel}", f"INITRD={initrd or ''}", f"CMDLINE={cmdline}", f"SMP={smp}",
                               f"GIC={gic}")
    extra = ["--smp", str(smp), "--gic", str(gic), *devices]
    if devices:
        return guestlib.qemu_command(direct={"kernel": kernel, "initrd": initrd},
                                     extra=[*extra, "--", "-append", cmdline, *qemu_args])
    dtb = guestlib.build_dir() / "system-images" / f"{name}.dtb"
    dtb.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(info["GUEST_DTB"], dtb)
    return guestlib.qemu_command(direct={"kernel": kernel, "initrd": initrd, "dtb": dtb},
                                 extra=[*extra, *(["--", *qemu_args] if qemu_args else [])])
