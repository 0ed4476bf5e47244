#!/usr/bin/python3
"""Host side of hyp's backend selftest (make -f mk/hyp.mk hyp-selftest-backends).

Makes two scratch raw disk images with dd, a TFTP directory for QEMU's user
networking and a console socket, runs the backend test VMM under QEMU with
virtio-blk, virtio-net and virtio-serial devices (the disks in the opposite
order of the VMM's description), talks to the virtconsole through its socket,
then checks QEMU's exit status and what the VMM wrote on the disk image.
Two more runs: the same devices left legacy (hyp must refuse them), and a
system description hyp must reject. Exit status 0 only if everything passed.
"""
import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

DISK_A_BYTES = 16 << 20
DISK_B_BYTES = 8 << 20
DISK_B_SIG_BYTES = 0x2000
PAT_OFFSET, PAT_BYTES = 2048 * 512, 1 << 20
ZERO_OFFSET, ZERO_BYTES = (2048 + 64) * 512, 4096
PERF_OFFSET, PERF_BYTES, PERF_WINDOW = 8 << 20, 8 << 20, 4 << 20
CONSOLE_BYTES = 3000
TFTP_TEXT = b"hyp backend selftest: hello over slirp tftp\n"
MAC = "52:54:00:aa:bb:01"


def pattern_a(p):
    return ((p >> 9) * 31 + (p & 511) * 7 + 1) & 0xFF


def pattern_b(p):
    return ((p * 5 + 3) ^ 0x5A) & 0xFF


def perf_expected():
    base = bytes(range(256)) * 16
    twice = base + base
    window = b"".join(twice[b % 4096:b % 4096 + 4096] for b in range(PERF_WINDOW // 4096))
    return window * (PERF_BYTES // PERF_WINDOW)


def console_payload():
    return bytes(ord("a") + (i * 7) % 26 for i in range(CONSOLE_BYTES))


def make_images(work):
    a, b = os.path.join(work, "disk-a.img"), os.path.join(work, "disk-b.img")
    for path, size in ((a, DISK_A_BYTES), (b, DISK_B_BYTES)):
        subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % (size >> 20), "status=none"],
                       check=True)
    with open(b, "r+b") as f:
        f.write(bytes(pattern_b(i) for i in range(DISK_B_SIG_BYTES)))
    tftp = os.path.join(work, "tftp")
    os.makedirs(tftp, exist_ok=True)
    with open(os.path.join(tftp, "hello.txt"), "wb") as f:
        f.write(TFTP_TEXT)
    return a, b, tftp


def device_args(a, b, tftp, sock, modern):
    """Disk b first, so QEMU gives it the highest slot: the VMM lists disk a first."""
    args = ["-global", "virtio-mmio.force-legacy=false"] if modern else []
    return args + [
        "-drive", "file=%s,if=none,format=raw,id=db,readonly=on" % b,
        "-device", "virtio-blk-device,drive=db,serial=hyp-disk-b",
        "-netdev", "user,id=n0,tftp=%s" % tftp,
        "-device", "virtio-net-device,netdev=n0,mac=%s" % MAC,
        "-device", "virtio-serial-device",
        "-chardev", "socket,id=c0,path=%s,server=on,wait=off" % sock,
        "-device", "virtconsole,chardev=c0",
        "-drive", "file=%s,if=none,format=raw,id=da" % a,
        "-device", "virtio-blk-device,drive=da,serial=hyp-disk-a",
    ]


def console_exchange(sock_path, qemu, timeout):
    """Send the payload through the virtconsole's socket; return what came back."""
    deadline = time.time() + timeout
    while not os.path.exists(sock_path):
        if qemu.poll() is not None or time.time() > deadline:
            return b""
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.settimeout(0.5)
    s.sendall(console_payload())
    got = b""
    while len(got) < CONSOLE_BYTES and time.time() < deadline and qemu.poll() is None:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def run_qemu(cmd, log_path, sock, timeout):
    with open(log_path, "wb") as log:
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        echoed = console_exchange(sock, qemu, timeout) if sock else b""
        try:
            status = qemu.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()
            status = "timeout"
    with open(log_path, "rb") as log:
        text = log.read().decode(errors="replace")
    return status, text, echoed


def check_images(a, b, failures):
    with open(a, "rb") as f:
        img = f.read()
    want = bytearray(pattern_a(PAT_OFFSET + i) for i in range(PAT_BYTES))
    z = ZERO_OFFSET - PAT_OFFSET
    want[z:z + ZERO_BYTES] = bytes(ZERO_BYTES)
    if img[PAT_OFFSET:PAT_OFFSET + PAT_BYTES] != want:
        failures.append("disk-a.img: the written and flushed 1 MiB pattern is not in the image")
    if img[PERF_OFFSET:PERF_OFFSET + PERF_BYTES] != perf_expected():
        failures.append("disk-a.img: the timed 8 MiB write is not in the image")
    with open(b, "rb") as f:
        imgb = f.read()
    if imgb[:DISK_B_SIG_BYTES] != bytes(pattern_b(i) for i in range(DISK_B_SIG_BYTES)) or \
            imgb[DISK_B_SIG_BYTES:] != bytes(DISK_B_BYTES - DISK_B_SIG_BYTES):
        failures.append("disk-b.img (read-only) changed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--qemu", required=True, help="QEMU command without -kernel")
    ap.add_argument("--elf", nargs=3, required=True, help="variants 0 (full), 1 (legacy), 2 (bad description)")
    ap.add_argument("--append", default="hyp.log=info")
    ap.add_argument("--timeout", type=int, default=180)
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    sock = os.path.join(work, "console.sock")
    if len(sock) > 100:  # sun_path is 108 bytes
        sock = os.path.join(tempfile.mkdtemp(prefix="hyp-be-"), "console.sock")
    failures = []

    a, b, tftp = make_images(work)
    if os.path.exists(sock):
        os.unlink(sock)
    base = shlex.split(args.qemu)
    cmd = base + ["-kernel", args.elf[0], "-append", args.append] + device_args(a, b, tftp, sock, True)
    print("backends: " + " ".join(shlex.quote(c) for c in cmd))
    status, text, echoed = run_qemu(cmd, os.path.join(work, "run0.log"), sock, args.timeout)
    print(text)
    print("qemu exit status: %s" % status)
    if status != 0 or "hyp-selftest-backends: PASS" not in text:
        failures.append("full run: QEMU exit status %s, no PASS line" % status)
    for what in ("ring tail out of range", "ring head out of range", "request buffer outside the data area",
                 "rx buffer too small or outside the data area", "returned unsent"):
        if what not in text:
            failures.append("full run: hyp did not report '%s'" % what)
    if echoed != console_payload():
        failures.append("console: %d of %d bytes echoed back correctly through the socket" %
                        (sum(1 for x, y in zip(echoed, console_payload()) if x == y), CONSOLE_BYTES))
    else:
        print("backends: console: %d bytes sent through the socket and echoed back" % CONSOLE_BYTES)
    check_images(a, b, failures)

    # Legacy devices: hyp must refuse them, say why, and leave every backend not ready.
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = base + ["-kernel", args.elf[1], "-append", "hyp.log=warn"] + device_args(a, b, tftp, sock, False)
    status, text, _ = run_qemu(cmd, os.path.join(work, "run1.log"), None, 60)
    print("\n".join(l for l in text.splitlines() if "legacy" in l or "hyp-selftest" in l))
    if status != 0 or "PASS (legacy refused)" not in text or "force-legacy=false" not in text:
        failures.append("legacy run: exit status %s, refusal not reported" % status)

    # A backend region the PD does not map: hyp must refuse the description.
    cmd = base + ["-kernel", args.elf[2]]
    status, text, _ = run_qemu(cmd, os.path.join(work, "run2.log"), None, 60)
    print("\n".join(l for l in text.splitlines() if "PANIC" in l))
    if status in (0, "timeout") or "not mapped read-write and cached" not in text:
        failures.append("bad description: exit status %s, no clear refusal" % status)

    for f in failures:
        print("backends: FAIL " + f)
    print("hyp-selftest-backends: %s" % ("FAIL" if failures else "PASS (host checks)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
