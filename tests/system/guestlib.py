"""Helpers for the system tests: building images through make, booting them
on QEMU (under hyp, or directly for comparison) and talking to the guest's
console with pexpect. Every byte of console output goes to a log file."""

import contextlib
import http.server
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
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

    def boot_to_shell(self, timeout=BOOT_TIMEOUT):
        """Wait for a (re)boot from Linux's banner to the shell prompt, then
        keep all but error messages off the console (KERNEL_QUIET)."""
        self.expect(LINUX_BANNER, timeout)
        self.expect("Run /init as init process", timeout)
        self.wait_prompt(timeout)
        self.check(KERNEL_QUIET)
        self.log.note(f"shell after {time.monotonic() - self.started:.1f} s")

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


# Kernel messages below KERN_ERR would land in the middle of command output
# (checksums, tokens): keep them in dmesg only. Errors still show.
KERNEL_QUIET = "dmesg -n 4"

# Kernel messages that mean a device or file system went wrong.
KERNEL_ERRORS = r"I/O error|blk_update_request|EXT4-fs error|EXT4-fs warning|JBD2.*error|virtio.*(error|fail)|timed out"


def kernel_errors(con):
    """The guest kernel's log lines about device or file-system errors."""
    status, output = con.run(f"dmesg | grep -iE '{KERNEL_ERRORS}'")
    assert status in (0, 1), f"dmesg | grep exited {status}:\n{output}"
    return output.strip()


# A line of the VMM's log at WARN or ERROR ("<pd>|WARN: ...", src/util/log.c)
# or of hyp's log ("hyp| ...", shown from --log warn on).
COMPLAINT_RE = re.compile(r"^(?:[\w.-]+\|(?:WARN|ERROR): .*|hyp\| .*)$", re.M)


def complaints(text, allow=()):
    """The VMM's and hyp's warnings and errors in a console log, but for
    lines matching one of the regexes in `allow`."""
    lines = [m.group(0).rstrip("\r") for m in COMPLAINT_RE.finditer(text)]
    return [line for line in lines if not any(re.search(pattern, line) for pattern in allow)]


def absent_devices_allowed(*kinds):
    """complaints() allow-list for the main job's devices whose backend a
    run leaves out (kinds: 'blk', 'net', 'console'): the VMM says once that
    the guest sees no device there."""
    return [rf"^vmm\|WARN: virtio-{kind}@0x[0-9a-f]+: no usable backend; the guest sees no device here$"
            for kind in kinds]


class LogCursor:
    """Reads what a log file gained since the last read (pexpect flushes
    its logfile after each write)."""

    def __init__(self, path):
        self.path = Path(path)
        self.offset = 0

    def read_new(self):
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        return text


def sha256_of(output, path):
    """The checksum of `path` in sha256sum's output."""
    match = re.search(rf"^([0-9a-f]{{64}})  {re.escape(path)}$", output, re.M)
    assert match, f"no checksum of {path} in:\n{output}"
    return match.group(1)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host_tool(name):
    """Path of a host program, also looked for in the sbin directories
    (e2fsprogs) when they are not on PATH."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise RuntimeError(f"{name} is not installed on this machine")
    return found


def make_ext4_image(path, size):
    """A sparse raw disk image of `size` (truncate's syntax) holding an
    empty ext4 file system."""
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)
    subprocess.run([host_tool("mkfs.ext4"), "-q", "-F", "-L", "libvmm-test", str(path)], check=True)


def e2fsck(image, *flags):
    """(exit status, output) of e2fsck on an image."""
    proc = subprocess.run([host_tool("e2fsck"), *flags, str(image)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def wait_link_up(con, timeout_s=30):
    """Wait in the guest until eth0's operstate is up (the carrier comes
    from virtio-net's STATUS; operstate follows through the kernel's
    linkwatch); return `carrier operstate`."""
    return con.check(f"i=0; while [ $i -lt {timeout_s * 10} ] && "
                     "[ \"$(cat /sys/class/net/eth0/operstate)\" != up ]; do sleep 0.1; i=$((i + 1)); done; "
                     "cat /sys/class/net/eth0/carrier /sys/class/net/eth0/operstate", timeout_s + COMMAND_TIMEOUT)


class SharedMachine:
    """One booted machine shared by the tests of a module: booted on first
    use, thrown away when a test using it fails (the next test boots afresh).
    Its console goes to `log_name`'s log and to each test's own log."""

    def __init__(self, log_name, make_cmd):
        self.log_file = log_path(log_name)
        self.log = TeeLog(self.log_file)
        self.cursor = LogCursor(self.log_file)
        self.make_cmd = make_cmd
        self.console = None

    def boot(self):
        self.console = Console(self.make_cmd(), self.log)
        self.console.boot_to_shell()

    @contextlib.contextmanager
    def shell(self):
        if self.console is None or not self.console.alive():
            self.boot()
        try:
            yield self.console
        except BaseException:
            self.discard()
            raise

    def new_complaints(self, allow=()):
        """The VMM's and hyp's warnings and errors since the last call."""
        self.log.flush()
        return complaints(self.cursor.read_new(), allow)

    def discard(self):
        if self.console is not None:
            self.console.close()
            self.console = None

    def close(self):
        self.discard()
        self.log.close()


class _BlobHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path != "/blob":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.server.blob)))
        self.end_headers()
        try:
            self.wfile.write(self.server.blob)
        except (BrokenPipeError, ConnectionResetError):
            # A guest that reboots mid-transfer; the test sees the result.
            self.close_connection = True

    def log_message(self, fmt, *args):
        pass


@contextlib.contextmanager
def blob_server(size):
    """An HTTP server on 127.0.0.1 (a free port: .server_address[1]) that
    serves `size` random bytes (.blob) at /blob and records each request's
    path (.requests). QEMU user networking shows it to the guest at
    10.0.2.2 on the same port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BlobHandler)
    server.daemon_threads = True
    server.blob = os.urandom(size)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def wait_until(condition, what, timeout):
    """Poll condition() until it is true; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


class ConsoleSocket:
    """The host side of QEMU's virtconsole (run-qemu.sh --console-socket),
    connected once QEMU listens. QEMU drops virtconsole output it cannot
    write to the socket at once (hw/char/virtio-console.c), so a thread
    drains it all the time into a buffer that receive_until() consumes."""

    def __init__(self, path, timeout=COMMAND_TIMEOUT, log=None):
        self.timeout = timeout
        self.log = log  # a file that gets every byte received, as text
        self.cond = threading.Condition()
        self.received = bytearray()
        self.closed = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.closed = True
                    self.cond.notify_all()
                    return
                if self.log is not None:
                    self.log.write(chunk.decode("utf-8", "replace"))
                    self.log.flush()
                self.received += chunk
                self.cond.notify_all()

    def send(self, data):
        self.sock.sendall(data)

    def receive_until(self, marker):
        """Everything received up to and including `marker`; fails if it
        does not come within the timeout."""
        with self.cond:
            self.cond.wait_for(lambda: marker in self.received or self.closed, self.timeout)
            end = self.received.find(marker)
            if end < 0:
                raise AssertionError(f"no {marker!r} from the guest within {self.timeout} s ({len(self.received)} "
                                     f"bytes came, ending {bytes(self.received[-200:])!r})")
            end += len(marker)
            data = bytes(self.received[:end])
            del self.received[:end]
        return data

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.reader.join(self.timeout)
