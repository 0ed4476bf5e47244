"""tests/guests/hostile.c under hyp with all three virtio devices backed by
QEMU's own (a scratch disk, user networking, a virtconsole on a Unix
socket): the guest attacks the virtio register files and rings, the vGIC
distributor, SMCCC/PSCI, unmapped IPAs and accesses the syndrome cannot
describe, and checks every answer itself (issue 3 item 7, issue 5 item 3;
shared/reference/guest-attack-classes.md).

Pass: the guest prints HOSTILE: PASS and powers off, so QEMU ends with
status 0 (a hyp panic or a failed VMM ends it non-zero); the VMM logged its
refusal of each main class; the devices still did real work afterwards.

The seed is printed on the console; LIBVMM_HOSTILE_SEED=<seed> repeats a run."""

import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import guestlib

# The run itself takes a few seconds; the bound covers a slow, loaded machine.
HOSTILE_TIMEOUT = 180
DISK_BYTES = 1 << 20
DISK_MARKER = b"HOSTILE-DISK-MARKER-0123"
CONSOLE_IN = b"HOSTILE-IN\n"
CONSOLE_FLOOD = 0x400000  # CONSOLE_FLOOD in tests/guests/hostile/virtio_dev.c

# VMM log lines the run must produce, one per main class (src/virtio/mmio.c,
# src/fault.c). Each is the first of its rate-limited call site, so it is
# printed whatever the seed.
REFUSALS = {
    "class 1: queue configuration changed after activation":
        r"vmm\|WARN: virtio-\S+: write to 0x0[0-9a-f]{2} for queue \d+ refused: queue in use",
    "classes 3-7, 15: malformed rings end in DEVICE_NEEDS_RESET":
        r"vmm\|WARN: virtio-\S+: [^\n]*: device needs reset",
    "classes 9, 16: QueueNotify out of range":
        r"vmm\|WARN: virtio-\S+: QueueNotify \d+ ignored",
    "class 17: ISV=0 access to an emulated device":
        r"vmm\|ERROR: [^\n]*the syndrome cannot describe \(ISV=0[^\n]*external abort injected",
    "an access to an IPA where nothing is":
        r"vmm\|WARN: vCPU 0: (?:read|write) at IPA 0x[0-9a-f]+ \(pc 0x[0-9a-f]+\): no device there",
}


class ConsoleClient(threading.Thread):
    """The host side of the guest's virtconsole: connects as soon as QEMU
    has created the socket, sends one line and collects everything until
    QEMU closes it."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = str(path)
        self.received = b""
        self.connected = False
        self.stop = threading.Event()

    def run(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                sock.connect(self.path)
                break
            except OSError:
                time.sleep(0.02)
        else:
            sock.close()
            return
        self.connected = True
        sock.sendall(CONSOLE_IN)
        sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.received += chunk
        sock.close()


def counts(output):
    """The key=value totals of the PASS line."""
    match = re.search(r"HOSTILE: PASS (.*)", output)
    assert match, "no HOSTILE: PASS line"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def run_hostile(workdir, test_log):
    seed = os.environ.get("LIBVMM_HOSTILE_SEED", "")
    cmdline = "hostile" + (f" hostile.seed={seed}" if seed else "")
    guestlib.make("testguests")
    kernel = guestlib.build_dir() / "guests" / "hostile.bin"
    elf = guestlib.build_elf("hostile", kernel, "", cmdline)
    disk = workdir / "disk.img"
    disk.write_bytes(DISK_MARKER + bytes(DISK_BYTES - len(DISK_MARKER)))
    sock = workdir / "console.sock"
    cmd = guestlib.qemu_command(elf=elf, extra=["--disk", str(disk), "--net", "--console-socket", str(sock)])
    client = ConsoleClient(sock)
    client.start()
    try:
        status, output = guestlib.run_to_exit(cmd, test_log, HOSTILE_TIMEOUT)
    finally:
        client.stop.set()
        client.join(5)
    return status, output.replace("\r", ""), client


def test_hostile_guest_under_hyp(test_log):
    # A short directory: a Unix socket path has to fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="libvmm-hostile-") as tmp:
        status, output, console = run_hostile(Path(tmp), test_log)
    seed = re.search(r"HOSTILE: start at EL1, seed (0x[0-9a-f]+)", output)
    where = f"(seed {seed.group(1) if seed else '?'}; log {test_log})"

    # hyp and the VMM stayed up, and the guest judged every answer right.
    for bad in ("PANIC", "stopped the guest", "HOSTILE: FAIL"):
        assert bad not in output, f"{bad!r} in the output {where}:\n" + "\n".join(
            l for l in output.splitlines() if bad in l)[:4000]
    assert "HOSTILE: PASS" in output, f"no verdict {where}; output ends with:\n{output[-3000:]}"
    assert status == 0, f"QEMU exit status {status} {where}"

    # Every phase ran, on real devices.
    for line in ("virtio-blk: present", "virtio-net: present", "virtio-console: present", "phase 1 virtio done",
                 "phase 2 vGIC distributor done", "phase 3 SMCCC/PSCI done", "phase 4 regions done",
                 "phase 5 SMC/HVC immediates done"):
        assert f"HOSTILE: {line}" in output, f"missing 'HOSTILE: {line}' {where}"
    totals = counts(output)
    assert totals["virtio_cases"] >= 400 and totals["needs_reset"] >= 60 and totals["error_status"] >= 10, totals
    assert totals["gic_accesses"] >= 30000 and totals["smccc_calls"] >= 15000 and totals["aborts"] >= 6000, totals

    # The VMM said what it refused.
    for what, pattern in REFUSALS.items():
        assert re.search(pattern, output), f"no VMM log line for {what} ({pattern}) {where}"

    # After the abuse each device still did real work.
    assert f"virtio-blk sector 0 starts '{DISK_MARKER.decode()}'" in output
    assert "HOSTILE: virtio-blk valid operations ok" in output
    assert "HOSTILE: virtio-net ARP reply from 10.0.2.2 received" in output
    assert console.connected, "never connected to the virtconsole socket"
    assert b"HOSTILE-CONSOLE-OK from the hostile guest\n" in console.received, console.received[-300:]
    assert f"HOSTILE: virtio-console received '{CONSOLE_IN.decode().strip()}" in output
    # Nothing was read from a transmit chain after the reset that dropped it (the guest overwrote it with 'X').
    assert b"X" not in console.received
    assert console.received.count(b"#") <= CONSOLE_FLOOD
