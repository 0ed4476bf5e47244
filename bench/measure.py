"""Building the benchmark images and running them on QEMU (bench/README.md).

Every run goes through tools/run-qemu.sh, so the machine is the one `make run`
and the system tests use: under hyp (virtualization=on, the linked hyp + VMM
ELF) or directly (--direct: virtualization=off, QEMU's own GIC and PSCI)."""

import os
import re
import select
import shutil
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_QEMU = REPO / "tools" / "run-qemu.sh"
ICOUNT = ["-icount", "shift=0,sleep=off"]

# The first line the guest's userspace prints (examples/linux/guest/rcS), and
# the smoke check's verdict (libvmm.smoke=1), after which the guest powers off.
USERSPACE_MARKER = b"libvmm guest: "
SMOKE_PASS = b"LIBVMM-SMOKE: PASS"
SMOKE_ARG = "libvmm.smoke=1"

ICOUNT_TIMEOUT = 120
BOOT_TIMEOUT = 300
MAKE_TIMEOUT = 1800


class BenchError(RuntimeError):
    """A build or a run that did not do what the benchmark needs."""


class Builder:
    """Runs make in the repository for one BUILD directory."""

    def __init__(self, build):
        build = Path(build)
        self.build = build if build.is_absolute() else REPO / build
        self.out = self.build / "bench"
        self.out.mkdir(parents=True, exist_ok=True)

    def make(self, *args):
        # Called from make: drop the parent's jobserver and overrides, so this
        # is an independent make with exactly the variables given here.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        cmd = ["make", "--no-print-directory", f"BUILD={self.build}", *args]
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=MAKE_TIMEOUT, check=False)
        if proc.returncode != 0:
            raise BenchError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
        return proc.stdout

    def guest_info(self, *make_vars):
        """mk/guest.mk's resolved paths and settings (images built first)."""
        self.make("guest-images", *make_vars)
        info = {}
        for line in self.make("-s", "guest-info", *make_vars).splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("GUEST_"):
                info[key] = value
        return info

    def testguest(self, name):
        path = self.build / "guests" / f"{name}.bin"
        self.make(str(path))
        return path

    def image(self, name, kernel, initrd, cmdline=None, vcpus=1):
        """hyp + the Linux VMM with these images and `vcpus` vCPUs, copied to bench/<name>.elf."""
        out = self.out / f"{name}.elf"
        args = ["image", f"OUT={out}", f"KERNEL={kernel}", f"INITRD={initrd or ''}", f"SMP={vcpus}"]
        if cmdline is not None:
            args.append(f"CMDLINE={cmdline}")
        self.make(*args)
        return out

    def restore_default_image(self):
        """Relink $(BUILD)/linux-vmm/linux-vmm.elf with the default guest, as `make image` leaves it."""
        self.make("image")


def run_to_exit(cmd, timeout):
    """Run a command to its end; (exit status, combined output)."""
    try:
        proc = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{' '.join(map(str, cmd))}: no exit within {timeout} s\n"
                         f"{(e.stdout or b'').decode(errors='replace')[-3000:]}") from None
    return proc.returncode, proc.stdout.decode(errors="replace")


def hyp_cmd(elf, *qemu_args, cpus=1):
    return [str(RUN_QEMU), "--test", "--smp", str(cpus), str(elf), "--", *qemu_args]


def direct_cmd(kernel, initrd=None, dtb=None, *qemu_args, cpus=1):
    cmd = [str(RUN_QEMU), "--test", "--direct", "--smp", str(cpus), "--kernel", str(kernel)]
    if initrd:
        cmd += ["--initrd", str(initrd)]
    if dtb:
        cmd += ["--dtb", str(dtb)]
    return cmd + ["--", *qemu_args]


# --- exit path ------------------------------------------------------------------------------------

EXITS_ENV_RE = re.compile(r"BENCH-EXITS: env (\w+) cntfrq (\d+) iters (\d+)")
EXITS_ROW_RE = re.compile(r"BENCH-EXITS: row (\w+) (?:ticks (\d+) instr \d+|n/a (.*))")


def parse_exits(output, expect_env):
    """Rows of tests/guests/bench_exits.c: name -> net instructions per
    iteration (float), or the n/a reason (str)."""
    env = EXITS_ENV_RE.search(output)
    if not env or "BENCH-EXITS: done" not in output or "BENCH-EXITS: FAIL" in output:
        raise BenchError(f"bench_exits ({expect_env}) did not complete cleanly:\n{output[-3000:]}")
    if env.group(1) != expect_env:
        raise BenchError(f"bench_exits thought it ran {env.group(1)}, expected {expect_env}")
    freq, iters = int(env.group(2)), int(env.group(3))
    ticks = {}
    rows = {}
    for m in EXITS_ROW_RE.finditer(output):
        if m.group(2) is not None:
            ticks[m.group(1)] = int(m.group(2))
        else:
            rows[m.group(1)] = m.group(3).strip()
    if "loop" not in ticks:
        raise BenchError("bench_exits printed no empty-loop row")
    for name, t in ticks.items():
        if name != "loop":
            rows[name] = round((t - ticks["loop"]) * 1e9 / freq / iters, 1)
    rows["loop"] = round(ticks["loop"] * 1e9 / freq / iters, 1)
    return rows


def run_exits_hyp(elf, cpus=1):
    """bench_exits under hyp; with 2 CPUs (an image linked with SMP=2) it measures the IPI row alone."""
    status, output = run_to_exit(hyp_cmd(elf, *ICOUNT, cpus=cpus), ICOUNT_TIMEOUT)
    if status != 0:
        raise BenchError(f"bench_exits under hyp ({cpus} CPUs): QEMU exit status {status}:\n{output[-3000:]}")
    return parse_exits(output, "hyp")


def run_exits_direct(binary, cpus=1):
    status, output = run_to_exit(direct_cmd(binary, None, None, *ICOUNT, cpus=cpus), ICOUNT_TIMEOUT)
    if status != 0:
        raise BenchError(f"bench_exits directly ({cpus} CPUs): QEMU exit status {status}:\n{output[-3000:]}")
    return parse_exits(output, "direct")


def with_ipi(rows, two_cpu_rows):
    """The one-vCPU run's rows, with the IPI row of the two-vCPU run (the only row measured there)."""
    merged = dict(rows)
    merged["ipi"] = two_cpu_rows.get("ipi", "no ipi row in the 2-CPU run")
    return merged


# --- instructions before the guest's first instruction ----------------------------------------------

BOOT_RE = re.compile(r"BENCH-BOOT: ticks (\d+) cntfrq (\d+)")


def parse_boot_instr(output, what):
    m = BOOT_RE.search(output)
    if not m:
        raise BenchError(f"bench_boot ({what}) printed no counter:\n{output[-3000:]}")
    return round(int(m.group(1)) * 1e9 / int(m.group(2)))


def run_boot_instr_hyp(elf):
    """Instructions run before the guest's first one."""
    status, output = run_to_exit(hyp_cmd(elf, *ICOUNT), ICOUNT_TIMEOUT)
    if status != 0:
        raise BenchError(f"bench_boot under hyp: QEMU exit status {status}:\n{output[-3000:]}")
    return parse_boot_instr(output, "hyp")


def run_boot_instr_direct(binary):
    status, output = run_to_exit(direct_cmd(binary, None, None, *ICOUNT), ICOUNT_TIMEOUT)
    if status != 0:
        raise BenchError(f"bench_boot directly: QEMU exit status {status}:\n{output[-3000:]}")
    return parse_boot_instr(output, "direct")


def padded_copy(src, dst, size):
    """src zero-padded to `size` bytes: a raw guest the loader copies as many bytes of as a kernel of that size."""
    shutil.copyfile(src, dst)
    if os.path.getsize(dst) > size:
        raise BenchError(f"{src} is larger than {size} bytes")
    os.truncate(dst, size)
    return dst


# --- wall time to the userspace marker ----------------------------------------------------------------


def time_to_marker(cmd, timeout=BOOT_TIMEOUT):
    """Seconds from starting QEMU to the first userspace line; the run must
    then pass the smoke check and power off with status 0."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = bytearray()
    marker_at = None
    try:
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise BenchError(f"{' '.join(map(str, cmd))}: no power-off within {timeout} s\n"
                                 f"{out[-3000:].decode(errors='replace')}")
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
            if marker_at is None and USERSPACE_MARKER in out:
                marker_at = time.monotonic() - start
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    text = out.decode(errors="replace")
    if marker_at is None or SMOKE_PASS not in out or status != 0:
        raise BenchError(f"{' '.join(map(str, cmd))}: marker {marker_at is not None}, smoke PASS "
                         f"{SMOKE_PASS in out}, exit status {status}\n{text[-3000:]}")
    return marker_at


def spread(values):
    """{median, lo, hi} of a list of numbers."""
    return {"median": statistics.median(values), "lo": min(values), "hi": max(values), "n": len(values)}


def boot_wall_times(hyp_elf, kernel, initrd, dtb, runs, log=print):
    """Alternate A (under hyp) and B (directly) `runs` times each. The ratio
    is taken per A/B pair (neighbours in time, so a change in the machine's
    load hits both) and summarised like the times."""
    a, b = [], []
    for i in range(runs):
        a.append(time_to_marker(hyp_cmd(hyp_elf)))
        b.append(time_to_marker(direct_cmd(kernel, initrd, dtb)))
        log(f"bench: boot run {i + 1}/{runs}: hyp {a[-1]:.2f} s, direct {b[-1]:.2f} s")
    return spread(a), spread(b), spread([x / y for x, y in zip(a, b)])
