"""virtio-console: text the guest writes to /dev/hvc0 arrives on the host
side of QEMU's virtconsole (a Unix socket the test connects to), and text
sent there arrives in the guest.

The guest holds /dev/hvc0 open on fd 3 of its shell for the whole module
(hvc resets termios on last close) and puts it in raw mode without echo, so
the bytes on the socket are exactly the bytes written. One machine per
target, shared by the tests of this module: under hyp, and as a control
directly on QEMU with the same device."""

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import guestlib
from conftest import machine_command

IO_TIMEOUT = 60
# Bulk transfers span many virtqueue buffers each way. Guest to host stays
# well below the socket's buffer (QEMU drops virtconsole output it cannot
# write at once: guestlib.ConsoleSocket): 48 KiB of random bytes, 65 KiB as
# base64 lines.
GUEST_TO_HOST_RANDOM = 48 * 1024
HOST_TO_GUEST_BYTES = 96 * 1024


class ConsoleMachine(guestlib.SharedMachine):
    def __init__(self, target, guest, socket_path):
        self.socket_path = socket_path
        self.host = None

        def make_cmd():
            if os.path.exists(socket_path):
                os.unlink(socket_path)
            return machine_command(target, f"virtio-console-{target}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                                   guest["GUEST_DEFAULT_CMDLINE"], devices=["--console-socket", socket_path],
                                   hyp_log="warn")

        super().__init__(f"test_virtio_console.shared[{target}]", make_cmd)

    def boot(self):
        super().boot()
        # QEMU listens from start-up (server=on,wait=off).
        self.host = guestlib.ConsoleSocket(self.socket_path, IO_TIMEOUT)
        self.console.check("exec 3<>/dev/hvc0 && stty -F /dev/hvc0 raw -echo")

    def discard(self):
        if self.host is not None:
            self.host.close()
            self.host = None
        super().discard()


@pytest.fixture(scope="module", params=["direct", "hyp"])
def machine(request, guest):
    # A short path: Unix socket names are limited to 107 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="libvmm-vcon-"))
    m = ConsoleMachine(request.param, guest, str(tmp / "console.sock"))
    yield m
    m.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def machine_test_log(machine, test_log):
    machine.log.attach(test_log)
    machine.log.note("test starts")
    yield
    machine.log.detach()


@pytest.fixture
def healthy(machine):
    """After the test: no virtio errors in the guest kernel's log, no warning
    or error from the VMM or hyp."""
    yield
    if machine.console is not None and machine.console.alive():
        assert guestlib.kernel_errors(machine.console) == ""
    assert machine.new_complaints(guestlib.absent_devices_allowed("blk", "net")) == []


def unique(name):
    return f"{name}-{os.getpid()}-{time.monotonic_ns()}"


def test_guest_line_reaches_host(machine, healthy):
    with machine.shell() as con:
        token = unique("guest-token")
        con.check(f"echo {token} >&3")
        # Exactly the line: nothing before it, no echo, no CR added.
        assert machine.host.receive_until(f"{token}\n".encode()) == f"{token}\n".encode()


def test_host_line_reaches_guest(machine, healthy):
    with machine.shell() as con:
        token = f"{unique('host-token')}\n".encode()
        con.check(f"timeout {IO_TIMEOUT} head -c {len(token)} <&3 > /tmp/in-line & :")
        machine.host.send(token)
        con.check("wait $!", IO_TIMEOUT + 10)
        assert con.check("cat /tmp/in-line").strip() == token.decode().strip()
        assert con.check("wc -c < /tmp/in-line").strip() == str(len(token))


def test_guest_bulk_reaches_host(machine, healthy):
    with machine.shell() as con:
        end = unique("end-of-bulk")
        con.check(f"head -c {GUEST_TO_HOST_RANDOM} /dev/urandom | base64 > /tmp/out")
        info = con.check("wc -c < /tmp/out; sha256sum /tmp/out").split()
        size, digest = int(info[0]), info[1]
        con.check(f"cat /tmp/out >&3 && echo {end} >&3", IO_TIMEOUT)
        data = machine.host.receive_until(f"{end}\n".encode())[:-len(end) - 1]
        assert len(data) == size
        assert hashlib.sha256(data).hexdigest() == digest


def test_host_bulk_reaches_guest(machine, healthy):
    with machine.shell() as con:
        payload = os.urandom(HOST_TO_GUEST_BYTES)
        con.check(f"timeout {IO_TIMEOUT} head -c {len(payload)} <&3 > /tmp/in-bulk & :")
        machine.host.send(payload)
        con.check("wait $!", IO_TIMEOUT + 10)
        output = con.check("wc -c < /tmp/in-bulk; sha256sum /tmp/in-bulk")
        assert output.split()[0] == str(len(payload))
        assert guestlib.sha256_of(output, "/tmp/in-bulk") == hashlib.sha256(payload).hexdigest()
