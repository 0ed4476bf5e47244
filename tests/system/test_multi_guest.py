"""Two Debian guests side by side under hyp (`make image GUESTS=2`): each has
its own VMM program (PD), physical CPU, RAM, stage 2 and devices. Guest 0
owns the PL011; guest 1's console is a virtio console (its hvc0) on QEMU's
second virtconsole, a Unix socket here.

Guest 1 reboots through its console again and again while guest 0 keeps
running: guest 0 must never reboot (one "Booting Linux" on its console, its
/proc/uptime only grows, a counter started before the loop keeps counting in
the same process). Then guest 1 powers off and guest 0 still answers, and
guest 0's power-off ends QEMU with status 0 (both PDs ended with 0).

GICv2 with ten reboots; GICv3 with three, to keep the module near four
minutes on a two-core machine."""

import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import guestlib

SOCKET_WAIT_S = 10
NUDGE_S = 3  # guest 1's prompt is printed once: press Enter until it shows


class SocketShell(guestlib.ConsoleSocket):
    """Guest 1's shell on hvc0 through QEMU's virtconsole socket: the same
    marker protocol as guestlib.Console.run, over the socket."""

    def __init__(self, path, log):
        deadline = time.monotonic() + SOCKET_WAIT_S
        while not Path(path).exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"QEMU did not create {path}")
            time.sleep(0.05)
        super().__init__(path, guestlib.BOOT_TIMEOUT, log=log)

    def expect(self, pattern, timeout, nudge=False):
        """Consume everything up to the first match of `pattern` (bytes regex);
        with nudge, send Enter every NUDGE_S seconds while waiting."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            with self.cond:
                match = regex.search(self.received)
                if match:
                    consumed = bytes(self.received[:match.end()])
                    del self.received[:match.end()]
                    return regex.search(consumed)  # on a copy: the buffer has moved on
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    tail = bytes(self.received[-1500:]).decode("utf-8", "replace")
                    raise AssertionError(f"guest 1: no {pattern!r} within {timeout} s; its console ends with:\n{tail}")
                self.cond.wait(min(left, NUDGE_S))
            if nudge and not regex.search(self.received):
                self.send(b"\r")

    def wait_prompt(self, timeout=guestlib.BOOT_TIMEOUT):
        self.expect(re.escape(guestlib.PROMPT.encode()), timeout, nudge=True)

    def run(self, command, timeout=guestlib.COMMAND_TIMEOUT):
        self.send(f'echo "@@"BEGIN; {command}; echo "@@"END$?\r'.encode())
        self.expect(rb"@@BEGIN\r*\n", timeout)
        match = self.expect(rb"(?s)(.*?)@@END(\d+)\r*\n", timeout)
        self.expect(re.escape(guestlib.PROMPT.encode()), timeout)
        return int(match.group(2)), match.group(1).decode("utf-8", "replace").replace("\r", "")

    def check(self, command, timeout=guestlib.COMMAND_TIMEOUT):
        status, output = self.run(command, timeout)
        assert status == 0, f"guest 1: {command!r} exited {status}:\n{output}"
        return output


def uptime(shell):
    """Seconds since boot, from /proc/uptime (kernel messages may interleave on guest 0's console)."""
    out = shell.check("cat /proc/uptime")
    values = [float(m.group(1)) for m in re.finditer(r"^([0-9]+\.[0-9]+) [0-9]+\.[0-9]+$", out, re.M)]
    assert len(values) == 1, out
    return values[0]


def wait_rebooted(g1, started):
    """Guest 1's uptime once a shell of its new boot answers: its old shell may
    still answer for a moment after `reboot`, and its kernel messages are not
    on hvc0, so ask until the uptime is younger than the reboot command."""
    deadline = started + guestlib.BOOT_TIMEOUT
    while time.monotonic() < deadline:
        try:
            g1.wait_prompt(timeout=10)
            value = uptime(g1)
        except AssertionError:
            continue
        if value < time.monotonic() - started + 1:
            return value
        time.sleep(1)
    raise AssertionError(f"guest 1 did not come back within {guestlib.BOOT_TIMEOUT} s of its reboot")


def counter(con):
    out = con.check("cat /tmp/counter")
    values = [int(line) for line in out.split() if line.isdigit()]
    assert len(values) == 1, out
    return values[0]


@pytest.mark.parametrize("gic,reboots", [(2, 10), (3, 3)])
def test_guest1_reboots_guest0_unaffected(guest, test_log, gic, reboots):
    elf = guestlib.build_dir() / "system-images" / f"multi-guest-gicv{gic}.elf"
    elf.parent.mkdir(parents=True, exist_ok=True)
    # Guest 1's command line is mk/guest.mk's default (CMDLINE1).
    guestlib.make("image", "GUESTS=2", f"OUT={elf}", f"KERNEL={guest['GUEST_KERNEL']}",
                  f"INITRD={guest['GUEST_INITRD']}", f"CMDLINE={guest['GUEST_DEFAULT_CMDLINE']}", "SMP=1",
                  f"GIC={gic}")
    tmp = Path(tempfile.mkdtemp(prefix="libvmm-multi-"))  # Unix socket paths are short
    g0_sock, g1_sock = tmp / "guest0.sock", tmp / "guest1.sock"
    cmd = guestlib.qemu_command(elf=elf, extra=["--smp", "2", "--mem", "2G", "--gic", str(gic), "--console-socket",
                                                str(g0_sock), "--console-socket", str(g1_sock)])
    log = guestlib.TeeLog(test_log)
    g1_log_path = Path(str(test_log) + ".guest1")
    g1_log = open(g1_log_path, "w", encoding="utf-8", errors="replace")
    con = guestlib.Console(cmd, log)
    g1 = None
    try:
        g1 = SocketShell(str(g1_sock), g1_log)
        con.boot_to_shell()
        g1.wait_prompt()
        log.note(f"both shells after {time.monotonic() - con.started:.1f} s")
        assert "Linux" in g1.check("uname -s")
        assert "virtio_console" in g1.check("cut -d' ' -f1 /proc/modules")
        assert g1.check("ls /proc/device-tree | grep -c pl011 || true").strip() == "0", "guest 1 has no PL011"

        # Guest 0: a counter in one process, started before the loop.
        con.check("(i=0; while :; do i=$((i + 1)); echo $i > /tmp/counter; sleep 0.2; done) & echo $! > /tmp/counter.pid")
        pid = con.check("cat /tmp/counter.pid").split()[-1]
        last_uptime0, last_count = uptime(con), counter(con)

        for n in range(1, reboots + 1):
            before = uptime(g1)
            started = time.monotonic()
            log.note(f"guest 1 reboot {n}/{reboots} (its uptime {before:.1f} s)")
            g1.send(b"reboot\r")
            after = wait_rebooted(g1, started)  # only returns with the uptime of a new boot
            # Guest 0 went on meanwhile, in the same boot and the same counter process.
            up0, count = uptime(con), counter(con)
            assert up0 > last_uptime0, f"guest 0's uptime went from {last_uptime0} to {up0}"
            assert count > last_count, f"guest 0's counter went from {last_count} to {count}"
            con.check(f"kill -0 {pid}")
            last_uptime0, last_count = up0, count
            log.note(f"guest 1 back after {time.monotonic() - started:.1f} s (uptime {after:.1f} s); "
                     f"guest 0 uptime {up0:.1f} s, "
                     f"counter {count}")

        assert g1.check("echo guest1-ok").strip().endswith("guest1-ok")
        assert con.check("echo guest0-ok").strip().endswith("guest0-ok")
        log.flush()
        banners = Path(test_log).read_text(encoding="utf-8", errors="replace").count(guestlib.LINUX_BANNER)
        assert banners == 1, f"guest 0's console shows {banners} boots"

        # Guest 1 powers off: only its PD ends; guest 0 still answers, then its power-off ends QEMU with 0.
        # Its VMM says so on the shared PL011 (libvmm's log, prefixed with the PD's name).
        g1.send(b"poweroff\r")
        con.expect(r"vmm1\|INFO: guest stopped", guestlib.BOOT_TIMEOUT)
        assert con.alive(), "QEMU ended with guest 1's power-off"
        assert counter(con) > last_count
        con.send_line("poweroff")
        assert con.wait_exit() == 0
    finally:
        if g1 is not None:
            g1.close()
        con.close()
        log.close()
        g1_log.close()
        shutil.rmtree(tmp, ignore_errors=True)

