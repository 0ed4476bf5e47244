"""virtio-net over QEMU user networking, both ways.

The guest (10.0.2.15, gateway 10.0.2.2: examples/linux/guest/rcS) fetches a
file from an HTTP server the test runs on 127.0.0.1 of this machine (user
networking maps 10.0.2.2 to it), and serves a file with busybox httpd that
the test fetches through a port forwarded from 127.0.0.1. One machine per
target, shared by the tests of this module: under hyp, and as a control
directly on QEMU with the same device."""

import hashlib
import urllib.request

import pytest

import guestlib
from conftest import machine_command

# Set on QEMU's device with -global: a VMM that made up its own MAC, or took
# QEMU's default, would show another one.
MAC = "52:54:00:4c:56:4d"
HOST_FILE_SIZE = 4 * (1 << 20) + 1234
GUEST_FILE_SIZE = 3 * (1 << 20) + 777
TRANSFER_TIMEOUT = 120


class NetMachine(guestlib.SharedMachine):
    def __init__(self, target, guest):
        self.target = target
        self.forward_port = guestlib.free_port()

        def make_cmd():
            return machine_command(target, f"virtio-net-{target}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                                   guest["GUEST_DEFAULT_CMDLINE"],
                                   devices=["--hostfwd", f"tcp:127.0.0.1:{self.forward_port}-:80"],
                                   qemu_args=["-global", f"virtio-net-device.mac={MAC}"], hyp_log="warn")

        super().__init__(f"test_virtio_net.shared[{target}]", make_cmd)


@pytest.fixture(scope="module", params=["direct", "hyp"])
def machine(request, guest):
    m = NetMachine(request.param, guest)
    yield m
    m.close()


@pytest.fixture(autouse=True)
def machine_test_log(machine, test_log):
    machine.log.attach(test_log)
    machine.log.note("test starts")
    yield
    machine.log.detach()


@pytest.fixture
def healthy(machine):
    """After the test: no device errors in the guest kernel's log, no
    warning or error from the VMM or hyp."""
    yield
    if machine.console is not None and machine.console.alive():
        assert guestlib.kernel_errors(machine.console) == ""
    assert machine.new_complaints(guestlib.absent_devices_allowed("blk", "console")) == []


@pytest.fixture
def host_server():
    with guestlib.blob_server(HOST_FILE_SIZE) as server:
        yield server


def test_link_is_up_with_the_device_mac(machine, healthy):
    with machine.shell() as con:
        assert con.check("cat /sys/class/net/eth0/address").strip() == MAC
        state = guestlib.wait_link_up(con)
        assert state.split() == ["1", "up"]
        assert "10.0.2.15/24" in con.check("ip -4 addr show dev eth0")


def test_guest_fetches_from_host_server(machine, host_server, healthy):
    port = host_server.server_address[1]
    with machine.shell() as con:
        guestlib.wait_link_up(con)
        con.check(f"wget -q -O /tmp/blob http://10.0.2.2:{port}/blob", TRANSFER_TIMEOUT)
        output = con.check("wc -c < /tmp/blob; sha256sum /tmp/blob")
        assert output.split()[0] == str(HOST_FILE_SIZE)
        assert guestlib.sha256_of(output, "/tmp/blob") == hashlib.sha256(host_server.blob).hexdigest()
        con.check("rm /tmp/blob")
    assert host_server.requests == ["/blob"]


def test_host_fetches_from_guest_server(machine, healthy):
    with machine.shell() as con:
        guestlib.wait_link_up(con)
        con.check(f"mkdir -p /www && head -c {GUEST_FILE_SIZE} /dev/urandom > /www/blob")
        guest_sum = guestlib.sha256_of(con.check("sha256sum /www/blob"), "/www/blob")
        con.check("httpd -p 80 -h /www")
        # Inside the guest first: httpd is up before the host asks.
        local = con.check("wget -q -O - http://127.0.0.1/blob | sha256sum", TRANSFER_TIMEOUT)
        assert local.split()[0] == guest_sum
        url = f"http://127.0.0.1:{machine.forward_port}/blob"
        # Straight to 127.0.0.1, whatever proxy the environment names.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=TRANSFER_TIMEOUT) as response:
            assert response.status == 200
            body = response.read()
        assert len(body) == GUEST_FILE_SIZE
        assert hashlib.sha256(body).hexdigest() == guest_sum
