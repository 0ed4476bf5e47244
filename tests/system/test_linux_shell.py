"""The Debian guest at its shell: boots, runs commands, takes timer
interrupts, reboots through guest_restart and powers off with status 0.

One booted guest is shared by the tests of a target (a boot costs about a
minute under nested TCG); a test that leaves it broken makes the next one
boot afresh. The tests run in file order: reboot, then poweroff last."""

import contextlib
import time

import pytest

import guestlib
from conftest import machine_command


class SharedLinux:
    def __init__(self, target, guest):
        self.target = target
        self.guest = guest
        self.log = guestlib.TeeLog(guestlib.log_path(f"test_linux_shell.shared[{target}]"))
        self.console = None
        self.kernel_version = None
        self.cmd = None

    def boot(self):
        if self.cmd is None:
            self.cmd = machine_command(self.target, f"linux-{self.target}", self.guest["GUEST_KERNEL"],
                                       self.guest["GUEST_INITRD"], self.guest["GUEST_DEFAULT_CMDLINE"])
        self.console = guestlib.Console(self.cmd, self.log)
        self.console.expect(guestlib.LINUX_BANNER)
        self.kernel_version = self.console.expect(r"Linux version (\S+)\s").group(1)
        self.console.expect("Run /init as init process")
        self.console.wait_prompt()
        self.log.note(f"shell after {time.monotonic() - self.console.started:.1f} s")

    @contextlib.contextmanager
    def shell(self):
        """The guest's console at a prompt, booting it if needed. If the
        test fails, the guest is thrown away."""
        if self.console is None or not self.console.alive():
            self.boot()
        try:
            yield self.console
        except BaseException:
            self.discard()
            raise

    def discard(self):
        if self.console is not None:
            self.console.close()
            self.console = None

    def close(self):
        self.discard()
        self.log.close()


@pytest.fixture(scope="module", params=["direct", "hyp"])
def linux(request, guest):
    machine = SharedLinux(request.param, guest)
    yield machine
    machine.close()


@pytest.fixture(autouse=True)
def linux_test_log(linux, test_log):
    linux.log.attach(test_log)
    linux.log.note("test starts")
    yield
    linux.log.detach()


def test_boots_to_shell(linux):
    with linux.shell() as con:
        assert linux.kernel_version.startswith("6."), linux.kernel_version
        assert con.check("echo $((6 * 7))").strip() == "42"


def test_uname_machine(linux):
    with linux.shell() as con:
        assert con.check("uname -m").strip() == "aarch64"


def test_arch_timer_interrupts_grow(linux):
    with linux.shell() as con:
        before = guestlib.interrupt_count(con.check("cat /proc/interrupts"))
        con.check("sleep 2")
        after = guestlib.interrupt_count(con.check("cat /proc/interrupts"))
        assert after > before, f"arch_timer count {before} -> {after}"


def test_reboot_returns_to_shell(linux):
    with linux.shell() as con:
        # A file in the initramfs: a real restart reloads the initrd and
        # it is gone; a guest that merely jumped back to its entry keeps it.
        con.check("echo before-reboot > /reboot-marker")
        con.send_line("reboot")
        con.expect("reboot: Restarting system", guestlib.COMMAND_TIMEOUT)
        con.expect(guestlib.LINUX_BANNER)
        con.expect("Run /init as init process")
        con.wait_prompt()
        status, _ = con.run("test -e /reboot-marker")
        assert status == 1, "/reboot-marker survived the reboot"
        assert con.check("uname -m").strip() == "aarch64"


def test_poweroff_ends_qemu_with_status_0(linux):
    with linux.shell() as con:
        con.send_line("poweroff")
        con.expect("reboot: Power down", guestlib.COMMAND_TIMEOUT * 2)
        status = con.wait_exit(guestlib.COMMAND_TIMEOUT * 2)
        linux.console = None
        assert status == 0
