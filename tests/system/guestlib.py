"""Helpers for the system tests: building images through make, booting them
on QEMU (under hyp, or directly for comparison) and talking to the guest's
console with pexpect. Every byte of console output goes to a log file."""

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pexpect

REPO = Path(__file__).resolve().parents[2]
RUN_QEMU = REPO / "tools" / "run-qemu.sh"

# The shell prompt set by examples/linux/guest/profile.
PROMPT = "libvmm-guest# "
PROMPT_RE = re.escape(PROMPT)
# First line Linux prints (arch/arm64/kernel/setup.c); seen once per boot.
LINUX_BANNER = "Booting Linux on physical CPU"

# QEMU TCG, nested: a boot to the shell takes 30-90 s under hyp.
BOOT_TIMEOUT = int(os.environ.get("LIBVMM_BOOT_TIMEOUT", "240"))
COMMAND_TIMEOUT = 60
MAKE_TIMEOUT = 1800


def build_dir():
    build = Path(os.environ.get("BUILD", "build"))
    return build if build.is_absolute() else REPO / build


def _make_env():
    # Called from `make system-test`: drop the parent make's jobserver and
    # level so these are independent top-level makes with explicit variables.
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(var, None)
    return env


def make(*args):
    """Run make in the repository with BUILD set; return its stdout. A failed
    build raises with make's output, so the test fails with the reason."""
    cmd = ["make", "--no-print-directory", f"BUILD={build_dir()}", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=_make_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=MAKE_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}")
    return proc.stdout


def guest_info(*make_vars):
    """The guest images' paths and settings from mk/guest.mk, built first."""
    make("guest-images", *make_vars)
    info = {}
    for line in make("-s", "guest-info", *make_vars).splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("GUEST_"):
            info[key] = value
    return info


def build_elf(name, kernel, initrd, cmdline, *make_vars):
    """Link hyp + the Linux VMM with these guest images into one ELF
    (make_vars: further settings of mk/guest.mk, e.g. "SMP=4", "GIC=3")."""
    out = build_dir() / "system-images" / f"{name}.elf"
    out.parent.mkdir(parents=True, exist_ok=True)
    make("image", f"OUT={out}", f"KERNEL={kernel}", f"INITRD={initrd or ''}", f"CMDLINE={cmdline}", *make_vars)
    if not out.is_file():
        raise RuntimeError(f"make image did not produce {out}")
    return out


def log_path(name):
    logs = build_dir() / "system-logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")


class TeeLog:
    """pexpect logfile_read target: every write goes to the current files."""

    def __init__(self, *paths):
        self.files = [open(p, "w", encoding="utf-8", errors="replace") for p in paths]
        self.extra = None

    def attach(self, path):
        """Copy output to `path` as well, until the next attach/detach."""
        self.detach()
        self.extra = open(path, "w", encoding="utf-8", errors="replace")

    def detach(self):
        if self.extra:
            self.extra.close()
            self.extra = None

    def write(self, text):
        for f in self.files + ([self.extra] if self.extra else []):
            f.write(text)

    def flush(self):
        for f in self.files + ([self.extra] if self.extra else []):
            f.flush()

    def note(self, text):
        """A line of the test's own in the log, set apart from console output."""
        self.write(f"\n=== {text} ===\n")
        self.flush()

    def close(self):
        self.detach()
        for f in self.files:
            f.close()
        self.files = []


def qemu_command(elf=None, direct=None, interactive=False, extra=()):
    """tools/run-qemu.sh's command line: the hyp ELF, or with direct=
    {'kernel', 'initrd', 'dtb'} the guest straight on QEMU."""
    cmd = [str(RUN_QEMU), "--interactive" if interactive else "--test"]
    if direct is not None:
        cmd.append("--direct")
        for key in ("kernel", "initrd", "dtb"):
            if direct.get(key):
                cmd += [f"--{key}", str(direct[key])]
    else:
        cmd.append(str(elf))
    return cmd + list(extra)


class Console:
    """A booted machine's serial console under pexpect."""

    def __init__(self, cmd, log):
        self.log = log
        self.log.note("spawn " + shlex.join(cmd))
        self.started = time.monotonic()
        self.child = pexpect.spawn(cmd[0], cmd[1:], cwd=str(REPO), encoding="utf-8", codec_errors="replace",
                                   timeout=BOOT_TIMEOUT, echo=False, dimensions=(50, 200))
        self.child.logfile_read = log

    def expect(self, pattern, timeout=BOOT_TIMEOUT):
        """Wait for a regex; on timeout or EOF fail with the tail of the console."""
        try:
            self.child.expect(pattern, timeout=timeout)
        except pexpect.TIMEOUT:
            raise AssertionError(f"no {pattern!r} within {timeout} s; console ends with:\n{self.tail()}") from None
        except pexpect.EOF:
            raise AssertionError(f"QEMU ended before {pattern!r}; console ends with:\n{self.tail()}") from None
        return self.child.match

    def tail(self, n=2000):
        before = self.child.before if isinstance(self.child.before, str) else ""
        return before[-n:]

    def wait_prompt(self, timeout=BOOT_TIMEOUT):
        self.expect(PROMPT_RE, timeout)

    def run(self, command, timeout=COMMAND_TIMEOUT):
        """Run a shell command; return (exit status, output). Markers around
        the output are spelled so the echoed command line cannot match."""
        self.child.send(f'echo "@@"BEGIN; {command}; echo "@@"END$?\r')
        # The host pty turns the guest's "\r\n" into "\r\r\n".
        self.expect(r"@@BEGIN\r*\n", timeout)
        match = self.expect(r"(?s)(.*?)@@END(\d+)\r*\n", timeout)
        output, status = match.group(1), int(match.group(2))
        self.wait_prompt(timeout)
        return status, output.replace("\r", "")

    def check(self, command, timeout=COMMAND_TIMEOUT):
        """run() that must succeed; returns the output."""
        status, output = self.run(command, timeout)
        assert status == 0, f"{command!r} exited {status}:\n{output}"
        return output

    def send_line(self, line):
        self.child.send(line + "\r")

    def wait_exit(self, timeout=BOOT_TIMEOUT):
        """Wait for QEMU to end; return its exit status (None if a signal)."""
        self.expect(pexpect.EOF, timeout)
        self.child.close()
        self.log.note(f"QEMU exit status {self.child.exitstatus} signal {self.child.signalstatus}")
        return self.child.exitstatus

    def alive(self):
        return self.child.isalive()

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()


def interrupt_count(proc_interrupts, name="arch_timer"):
    """Sum of the per-CPU counts on the /proc/interrupts line naming `name`."""
    for line in proc_interrupts.splitlines():
        if line.rstrip().endswith(name):
            fields = line.split()[1:]
            total = 0
            for field in fields:
                if not field.isdigit():
                    break
                total += int(field)
            return total
    raise AssertionError(f"no {name} line in /proc/interrupts:\n{proc_interrupts}")


def run_to_exit(cmd, log_file, timeout=BOOT_TIMEOUT):
    """Run a machine with no terminal and no input until it ends; return
    (exit status, console output), the output also written to log_file."""
    with open(log_file, "w", encoding="utf-8", errors="replace") as log:
        log.write(f"=== spawn {shlex.join(cmd)} ===\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout, check=False)
            output = proc.stdout.decode("utf-8", "replace")
            status = proc.returncode
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode("utf-8", "replace")
            log.write(output + f"\n=== timed out after {timeout} s ===\n")
            raise AssertionError(f"machine still running after {timeout} s; output ends with:\n{output[-2000:]}")
        log.write(output + f"\n=== exit status {status} ===\n")
    return status, output
