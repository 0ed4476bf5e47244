"""The I/O figures (bench/README.md, "I/O"): virtio-blk and virtio-net throughput
inside the Debian guest, (A) under hyp with the VMM's virtio devices backed by
QEMU's, and (B) booted directly by QEMU with the same QEMU devices; and, under
hyp, the guest's exits per MiB counted from QEMU's exception log.

The guest side is bench/tools/bench_io.c (`/usr/bin/bench-io`, appended to
the default initrd by `make bench-io-initrd`); this module drives the guest's
shell over the serial console and plays the host end of the TCP transfers, on
127.0.0.1 only: the guest reaches it as 10.0.2.2 through QEMU's user
networking, and it reaches the guest through a forwarded port."""

import os
import re
import select
import shlex
import socket
import subprocess
import threading
import time
from pathlib import Path

from measure import REPO, RUN_QEMU, BenchError, spread

PROMPT = b"libvmm-guest# "
DISK_SERIAL = "libvmm-disk0"  # the main job's disk (examples/linux/system.c)
HOST_FROM_GUEST = "10.0.2.2"  # QEMU user networking: the host's 127.0.0.1
GUEST_PORT = 5001

BOOT_TIMEOUT = 300
STEP_TIMEOUT = 300
CONNECT_TIMEOUT = 30

# What each run does, in this order: (name, bench-io arguments, MiB moved).
# The disk image is DISK_MIB, prefilled, so every read finds allocated blocks;
# the sequential steps go over it SEQ_MIB / DISK_MIB times. Each step takes
# a few seconds, so a burst of other work on the machine is averaged out.
DISK_MIB = 256
SEQ_MIB = 1024
RAND_COUNT = 8000
TCP_MIB = 64


def steps():
    rand_mib = RAND_COUNT * 4096 / (1 << 20)
    return [
        ("seq-write", f"blk seq-write /dev/vda {SEQ_MIB}", SEQ_MIB),
        ("seq-read", f"blk seq-read /dev/vda {SEQ_MIB}", SEQ_MIB),
        ("rand-write", f"blk rand-write /dev/vda {RAND_COUNT} {DISK_MIB}", rand_mib),
        ("rand-read", f"blk rand-read /dev/vda {RAND_COUNT} {DISK_MIB}", rand_mib),
        ("tcp-send", f"tcp send {HOST_FROM_GUEST} {{port}} {TCP_MIB}", TCP_MIB),
        ("tcp-recv", f"tcp recv {GUEST_PORT}", TCP_MIB),
    ]


RESULT_RE = re.compile(rb"BENCH-IO: (\S+) bytes (\d+) ns (\d+) ops (\d+) irq_virtio (\d+) irq_all (\d+)")
FAIL_RE = re.compile(rb"BENCH-IO: FAIL [^\r\n]*")


class Console:
    """A QEMU whose serial console is this process's pipe; every byte is logged."""

    def __init__(self, cmd, log_path):
        self.cmd = cmd
        self.log = open(log_path, "wb")
        self.log.write(f"=== spawn {shlex.join(map(str, cmd))} ===\n".encode())
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.buf = b""

    def expect(self, pattern, timeout):
        """Wait for a regex (bytes); consume the output up to its end; the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"no {pattern!r} within {timeout} s; console ends with:\n{self.tail()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise BenchError(f"QEMU ended before {pattern!r}; console ends with:\n{self.tail()}")
                self.log.write(chunk)
                self.log.flush()
                self.buf += chunk

    def tail(self):
        return self.buf[-3000:].decode(errors="replace")

    def send(self, line):
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BenchError(f"QEMU ended; console ends with:\n{self.tail()}") from None

    def start(self, command):
        """Run a shell command; finish() waits for its end. The markers are
        spelled so that the echoed command line cannot match them."""
        self.send(f'echo "@@"BEGIN; {command}; echo "@@"END$?')
        self.expect(rb"@@BEGIN\r?\n", STEP_TIMEOUT)

    def finish(self):
        m = self.expect(rb"(?s)(.*?)@@END(\d+)\r?\n", STEP_TIMEOUT)
        self.expect(re.escape(PROMPT), STEP_TIMEOUT)
        return int(m.group(2)), m.group(1)

    def poweroff(self):
        self.send("poweroff -f")
        try:
            status = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise BenchError("the guest did not power off within 120 s") from None
        rest = self.proc.stdout.read()
        self.log.write(rest)
        return status

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.log.close()


# --- the host ends of the TCP transfers (127.0.0.1 only) -------------------------------------------------


class Sink(threading.Thread):
    """Accepts one connection on 127.0.0.1, reads it to its end, then closes
    (which tells the guest's sender that every byte arrived)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(STEP_TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.bytes = None
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(STEP_TIMEOUT)
                total = 0
                while True:
                    data = conn.recv(1 << 20)
                    if not data:
                        break
                    total += len(data)
                self.bytes = total
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()


def free_port():
    """A port on 127.0.0.1 nobody listens on now, for QEMU's hostfwd."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_to_guest(port, nbytes, result):
    """Connect to the forwarded port, send nbytes, close the write side and
    wait for the guest to close. QEMU accepts before the guest does, so a
    refused connection is retried."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    chunk = os.urandom(1 << 20)
    try:
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with s:
            left = nbytes
            while left:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        result["sent"] = nbytes
    except OSError as e:
        result["error"] = e


# --- one machine ---------------------------------------------------------------------------------------------


def exit_log_size(path):
    return os.path.getsize(path) if path and os.path.exists(path) else 0


def parse_result(output, name):
    fail = FAIL_RE.search(output)
    m = RESULT_RE.search(output)
    if fail or not m or m.group(1).decode() != name:
        why = fail.group(0).decode(errors="replace") if fail else "no result line"
        raise BenchError(f"bench-io {name}: {why}:\n{output[-2000:].decode(errors='replace')}")
    nbytes, ns, ops, irq_virtio, irq_all = (int(x) for x in m.groups()[1:])
    if ns <= 0 or nbytes <= 0:
        raise BenchError(f"bench-io {name}: nothing measured ({m.group(0).decode()})")
    mib = nbytes / (1 << 20)
    return {
        "mib": mib,
        "seconds": ns / 1e9,
        "mibps": mib / (ns / 1e9),
        "iops": ops / (ns / 1e9) if ops else None,
        "irq_virtio_per_mib": irq_virtio / mib,
        "irq_all_per_mib": irq_all / mib,
    }


def run_step(con, name, args, mib, hostfwd_port):
    """One bench-io command; for the TCP steps also the host's end."""
    sink = peer = None
    result = {}
    if name == "tcp-send":
        sink = Sink()
        sink.start()
        args = args.format(port=sink.port)
    con.start(f"bench-io {args}")
    if name == "tcp-recv":
        con.expect(rb"BENCH-IO: listening\r?\n", STEP_TIMEOUT)
        peer = threading.Thread(target=send_to_guest, args=(hostfwd_port, TCP_MIB << 20, result), daemon=True)
        peer.start()
    status, output = con.finish()
    if status != 0:
        raise BenchError(f"bench-io {args}: exit status {status}:\n{output[-2000:].decode(errors='replace')}")
    # The guest printed its result only after the host's end was done with
    # the connection, so these threads have finished or are about to.
    for t in (sink, peer):
        if t:
            t.join(CONNECT_TIMEOUT)
    if sink and (sink.error or sink.bytes != TCP_MIB << 20):
        raise BenchError(f"host sink: {sink.error or f'{sink.bytes} bytes arrived'}")
    if peer and "error" in result:
        raise BenchError(f"host sender: {result['error']}")
    res = parse_result(output, name)
    if res["mib"] != mib:
        raise BenchError(f"bench-io {args}: moved {res['mib']} MiB, not {mib}")
    return res


def run_machine(cmd, log_path, hostfwd_port, exit_log=None):
    """Boot, run every step once, power off. name -> result; with exit_log
    (QEMU's -d int output) also the byte range of that log each step spans,
    and the same for a `bench-io nop` (the cost of running a command at all)."""
    con = Console(cmd, log_path)
    results = {}
    try:
        con.expect(re.escape(PROMPT), BOOT_TIMEOUT)
        # Kernel messages on the console would break the result lines.
        con.start("dmesg -n 1")
        con.finish()
        for name, args, mib in [("nop", "nop", 0)] + steps():
            before = exit_log_size(exit_log)
            if name == "nop":
                con.start("bench-io nop")
                status, output = con.finish()
                if status != 0 or b"BENCH-IO: nop" not in output:
                    raise BenchError(f"bench-io nop failed:\n{output.decode(errors='replace')}")
                results[name] = {}
            else:
                results[name] = run_step(con, name, args, mib, hostfwd_port)
            results[name]["log_span"] = (before, exit_log_size(exit_log))
        status = con.poweroff()
        if status != 0:
            raise BenchError(f"QEMU exit status {status} after poweroff; see {log_path}")
    finally:
        con.close()
    return results


# --- counting exits in QEMU's exception log --------------------------------------------------------------------

TAKING_RE = re.compile(rb"^Taking exception \d+ \[([^\]]+)\]")
FROM_RE = re.compile(rb"^\.\.\.from EL(\d) to EL(\d)")

# QEMU's names for the exceptions a guest takes to EL2, by what they are here.
EXIT_CLASSES = {b"Data Abort": "mmio", b"IRQ": "irq", b"Hypervisor Call": "hvc_smc",
                b"Hypervisor Trap": "hvc_smc"}


def count_exits(path, start, end):
    """Exceptions taken from EL0/EL1 (the guest) to EL2 (hyp) in bytes
    [start, end) of a `-d int` log, by class."""
    counts = {"mmio": 0, "irq": 0, "hvc_smc": 0, "other": 0}
    name = None
    with open(path, "rb") as f:
        f.seek(start)
        for line in f.read(end - start).splitlines():
            m = TAKING_RE.match(line)
            if m:
                name = m.group(1)
                continue
            m = FROM_RE.match(line)
            if m and name is not None:
                if m.group(2) == b"2" and m.group(1) in (b"0", b"1"):
                    counts[EXIT_CLASSES.get(name, "other")] += 1
                name = None
    counts["total"] = sum(counts.values())
    return counts


def exits_per_mib(results, exit_log):
    """name -> exits per MiB by class, the nop command's exits subtracted."""
    base = count_exits(exit_log, *results["nop"]["log_span"])
    out = {}
    for name, _, _ in steps():
        r = results[name]
        c = count_exits(exit_log, *r["log_span"])
        out[name] = {k: max(c[k] - base[k], 0) / r["mib"] for k in c}
        out[name]["raw"] = c
    out["nop"] = base
    return out


# --- the whole I/O benchmark -------------------------------------------------------------------------------------


def prefill_disk(path, mib):
    """A raw image of `mib` MiB of pseudo-random bytes, written out (not sparse)."""
    block = os.urandom(1 << 20)
    tmp = Path(f"{path}.new")
    with open(tmp, "wb") as f:
        for _ in range(mib):
            f.write(block)
    os.replace(tmp, path)


def hyp_command(elf, disk, hostfwd_port, *qemu_args):
    return [str(RUN_QEMU), "--test", "--disk", f"{disk}:{DISK_SERIAL}",
            "--hostfwd", f"tcp:127.0.0.1:{hostfwd_port}-:{GUEST_PORT}", str(elf), "--", *qemu_args]


def direct_command(kernel, initrd, cmdline, disk, hostfwd_port):
    # No --dtb: the guest DTB lists the VMM's virtio-mmio slots, not QEMU's,
    # so QEMU generates its own and gets the command line through -append.
    return [str(RUN_QEMU), "--test", "--direct", "--kernel", str(kernel), "--initrd", str(initrd),
            "--disk", f"{disk}:{DISK_SERIAL}", "--hostfwd", f"tcp:127.0.0.1:{hostfwd_port}-:{GUEST_PORT}",
            "--", "-append", cmdline]


def summarize(a_runs, b_runs):
    """Per step: A, B and per-pair A/B of the throughput, and the interrupt rates."""
    out = {}
    for name, _, _ in steps():
        a = [r[name] for r in a_runs]
        b = [r[name] for r in b_runs]
        key = "iops" if a[0]["iops"] is not None and name.startswith("rand") else "mibps"
        out[name] = {
            "unit": key,
            "hyp": spread([x[key] for x in a]),
            "direct": spread([x[key] for x in b]),
            "ratio": spread([x[key] / y[key] for x, y in zip(a, b)]),
            "mib": a[0]["mib"],
        }
        for env, runs in (("hyp", a), ("direct", b)):
            for irq in ("irq_virtio_per_mib", "irq_all_per_mib"):
                out[name][f"{irq}.{env}"] = spread([x[irq] for x in runs])["median"]
    return out


def collect(b, info, runs, log):
    """Everything of the I/O section; `runs` machines of each kind, alternating."""
    kernel = info["GUEST_KERNEL"]
    cmdline = info["GUEST_DEFAULT_CMDLINE"]
    b.make("bench-io-initrd")
    initrd = b.out / "io-initrd.cpio.gz"
    elf = b.image("bench-io", kernel, initrd, cmdline)
    disk = b.out / "io-disk.img"
    prefill_disk(disk, DISK_MIB)
    logs = b.out / "io-logs"
    logs.mkdir(exist_ok=True)

    a_runs, b_runs = [], []
    for i in range(runs):
        port = free_port()
        a_runs.append(run_machine(hyp_command(elf, disk, port), logs / f"hyp-{i + 1}.log", port))
        port = free_port()
        b_runs.append(run_machine(direct_command(kernel, initrd, cmdline, disk, port),
                                  logs / f"direct-{i + 1}.log", port))
        log(f"bench: I/O run {i + 1}/{runs}: " + ", ".join(
            f"{n} {a_runs[-1][n]['mibps']:.1f}/{b_runs[-1][n]['mibps']:.1f}" for n, _, _ in steps()) +
            " MiB/s (hyp/direct)")

    log("bench: I/O exits under hyp (QEMU -d int, one more run)")
    exit_log = b.out / "io-exits.qemu.log"
    exit_log.unlink(missing_ok=True)
    port = free_port()
    counted = run_machine(hyp_command(elf, disk, port, "-d", "int", "-D", str(exit_log)),
                          logs / "hyp-exits.log", port, exit_log=str(exit_log))
    exits = exits_per_mib(counted, str(exit_log))
    exit_log.unlink()

    return {
        "steps": summarize(a_runs, b_runs),
        "exits": exits,
        "exits_run": {n: {k: v for k, v in r.items() if k != "log_span"} for n, r in counted.items()},
        "sizes": {"disk_mib": DISK_MIB, "seq_mib": SEQ_MIB, "rand_count": RAND_COUNT, "tcp_mib": TCP_MIB},
        "cmdline": cmdline,
        "runs": runs,
        "raw": {"hyp": a_runs, "direct": b_runs},
    }
