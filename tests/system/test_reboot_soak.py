"""Reboot soak: the Debian guest under hyp, with a disk, the network and the
virtio console, rebooted through PSCI SYSTEM_RESET (guest_restart) again and
again. The disk is throttled by QEMU (200 IOPS, 16 MiB/s), so that requests
wait at the backend long enough for a reset to find some there. After every reboot the guest must be healthy: a shell, the disk mounts
and reads back a file written before the first reboot, a download from a host
HTTP server is intact, a line on the virtio console reaches the host. And no
fixed pool of the VMM or of hyp may creep.

Rounds (LIBVMM_SOAK_REBOOTS, default 5; `make bench-soak` runs 100). The first
and the last are quiescent; in between they cycle through
  busy    `reboot` (busybox init: shutdown actions, kill, sync, reboot(2))
          typed while a dd to the disk, a loop of direct reads of the whole
          disk, a wget of a large file to the disk and a writer on /dev/hvc0
          run in the background;
  forced  the same load, plus a `sync` in the background, then
          `reboot -n -f` (reboot(2) at once): requests are still at the
          backends when the reset comes, and their answers arrive after it;
  quiet   nothing running, disk unmounted: `reboot`.

The pool lines. At each guest_restart, after the devices are reset, the VMM
prints `vmm|INFO: pools after reset N: blk reqs a/b parts c/d slots e/f net
tx g/h rx i/j console tx k/l rx m/n` (virtio_*_pool_usage()), and hyp one
`hyp-pools: backend <n> <kind> ...` line per backend (hyp_report_pools()).
That is a snapshot at the moment of the reset, so the criterion is:
  - every reboot: N counts the reboots (the hook ran each time), and blk reqs
    is 0 (a device reset drops every guest request before the hook runs);
  - every quiet reboot: each library count is at its starting value, i.e.
    blk reqs, parts and slots 0, net tx 0, net rx equal to its capacity (every
    receive buffer posted to the backend), console tx and rx 0. The guest
    had nothing outstanding, and the late answers to whatever an earlier
    busy or forced reset orphaned came back long before (the throttled
    disk answers 17 requests in about 0.1 s; a boot takes seconds), so
    anything away from the start is a leak;
  - every quiet reboot: hyp's lines equal those of the first quiet reboot,
    which show nothing at the devices (blk slots 0, net and console tx 0)
    and every net receive slot posted. (hyp's rings to the VMM are not
    reset with the guest, so these are the same pools all run long.)
Busy and forced reboots may show anything in flight: their counts are only
reported (how often a reset met requests at the backend). No timing is
asserted; the run prints its time per reboot."""

import hashlib
import os
import re
import time

import guestlib
from conftest import machine_command

REBOOTS = int(os.environ.get("LIBVMM_SOAK_REBOOTS", "5"))
DISK_SIZE = "256M"
BIG_BLOB = 8 << 20  # downloaded while a busy reboot comes
SMALL_BLOB = 256 << 10  # downloaded after every boot
KEEP_BYTES = 1 << 20
TRANSFER_TIMEOUT = 180
# A slow disk (QEMU's I/O throttling of run-qemu.sh's drive disk0). Unthrottled,
# QEMU answers a request within a few thousand guest instructions, far less
# than the guest's reboot path takes, so a reset would hardly ever find one
# still at the backend.
DISK_THROTTLE = ["-set", "drive.disk0.throttling.iops-total=200", "-set", "drive.disk0.throttling.bps-total=16777216"]

VMM_POOLS_RE = r"vmm\|INFO: pools after reset (\d+): ([^\r\n]*)\r*\n"
HYP_POOLS_RE = re.compile(r"^hyp-pools: ([^\r\n]*?)\r*$", re.M)
DEVICES = ("blk", "net", "console")
# Console log level: warnings too, not only errors (guestlib.KERNEL_QUIET), so that
# a soft lockup or RCU stall comes with its register dump and stack in the log
# (a guest stuck in ksoftirqd at `reboot -n -f`, before SYSTEM_RESET, was seen
# once in about 180 forced reboots, with no stack to show where).
KERNEL_WARNINGS = "dmesg -n 5"

# The library's pools at rest, by (device, pool): in use 0, or "all" (= capacity).
LIBRARY_AT_REST = {
    ("blk", "reqs"): 0, ("blk", "parts"): 0, ("blk", "slots"): 0,
    ("net", "tx"): 0, ("net", "rx"): "all",
    ("console", "tx"): 0, ("console", "rx"): 0,
}
# hyp's pools at rest, by (kind, pool).
HYP_AT_REST = {("blk", "slots"): 0, ("net", "tx"): 0, ("net", "rx"): "all", ("console", "tx"): 0}


def plan(n):
    """Round modes: quiet first and last, busy / forced / quiet in between."""
    cycle = ("busy", "forced", "quiet")
    return ["quiet" if i in (0, n - 1) else cycle[(i - 1) % 3] for i in range(n)]


def parse_vmm_pools(text):
    """'blk reqs 0/32 parts 0/64 ... net tx 0/128 ...' -> {(device, pool): (in_use, capacity)}."""
    pools, device, words = {}, None, text.split()
    i = 0
    while i < len(words):
        if words[i] in DEVICES:
            device = words[i]
            i += 1
            continue
        assert words[i] != "absent", f"virtio-{device} has no backend: {text!r}"
        assert device is not None and i + 1 < len(words), f"unreadable pool line: {text!r}"
        used, _, cap = words[i + 1].partition("/")
        pools[(device, words[i])] = (int(used), int(cap))
        i += 2
    assert set(pools) == set(LIBRARY_AT_REST), f"unexpected pools in {text!r}"
    return pools


def parse_hyp_pools(lines):
    """['backend 0 blk slots 0/32', ...] -> {(kind, pool): (in_use, capacity)}."""
    pools = {}
    for line in lines:
        words = line.split()
        assert not line.endswith("no device"), f"a hyp backend has no device: {line!r}"
        assert len(words) >= 5 and words[0] == "backend" and len(words) % 2 == 1, f"unreadable hyp line: {line!r}"
        kind = words[2]
        for name, value in zip(words[3::2], words[4::2]):
            used, _, cap = value.partition("/")
            pools[(kind, name)] = (int(used), int(cap))
    return pools


def at_rest_violations(pools, expected):
    """The pools whose in-use count is not its value at rest."""
    bad = []
    for key, want in expected.items():
        if key not in pools:
            bad.append(f"{key[0]} {key[1]} missing")
            continue
        used, cap = pools[key]
        if used != (cap if want == "all" else want):
            bad.append(f"{key[0]} {key[1]} {used}/{cap}")
    return bad


def wait_until(condition, what, timeout=TRANSFER_TIMEOUT):
    guestlib.wait_until(condition, what, timeout)


class Soak:
    """One machine and the host ends of its devices, with the checks a round makes."""

    def __init__(self, con, host, big, small, log):
        self.con, self.host, self.big, self.small, self.log = con, host, big, small, log
        self.keep_sha = None

    def url(self, server):
        return f"http://10.0.2.2:{server.server_address[1]}/blob"

    def write_keep_file(self):
        con = self.con
        con.check("mount -t ext4 /dev/vda /mnt")
        con.check(f"dd if=/dev/urandom of=/mnt/keep bs=64k count={KEEP_BYTES >> 16} 2>/dev/null && sync")
        self.keep_sha = guestlib.sha256_of(con.check("sha256sum /mnt/keep"), "/mnt/keep")
        con.check("umount /mnt")

    def check_healthy(self, round_no):
        """Shell (we are at it), disk, network, console, no kernel complaints."""
        con = self.con
        con.check("mount -t ext4 /dev/vda /mnt")
        assert guestlib.sha256_of(con.check("sha256sum /mnt/keep"), "/mnt/keep") == self.keep_sha, \
            f"round {round_no}: /mnt/keep changed"
        guestlib.wait_link_up(con)
        fetched = con.check(f"wget -q -O - {self.url(self.small)} | sha256sum", TRANSFER_TIMEOUT)
        assert guestlib.sha256_of(fetched, "-") == hashlib.sha256(self.small.blob).hexdigest(), \
            f"round {round_no}: download corrupt"
        token = f"soak-token-{round_no}"
        con.check(f"exec 3<>/dev/hvc0 && stty -F /dev/hvc0 raw -echo && echo {token} >&3")
        self.host.receive_until(token.encode() + b"\n")
        assert guestlib.kernel_errors(con) == "", f"round {round_no}: kernel errors"

    def load(self, forced):
        """Disk, network and console I/O in the background (the disk mounted by check_healthy)."""
        before = len(self.big.requests)
        self.con.check(f"wget -q -O /mnt/net.bin {self.url(self.big)} & "
                       "dd if=/dev/urandom of=/mnt/busy bs=1M count=32 2>/dev/null & "
                       "while dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null; do :; done & "
                       "while :; do echo busy-console; done > /dev/hvc0 & :")
        wait_until(lambda: len(self.big.requests) > before, "HTTP request from the guest")
        self.host.receive_until(b"busy-console")
        if forced:
            self.con.check("sync & :")

    def reboot(self, mode):
        """Reboot as `mode` says; return (reset number, library line, hyp lines) of the reset."""
        con = self.con
        if mode == "quiet":
            con.check("umount /mnt && sync && sleep 1")
            con.send_line("reboot")
        else:
            self.load(forced=mode == "forced")
            con.send_line("reboot -n -f" if mode == "forced" else "reboot")
        match = con.expect(VMM_POOLS_RE)
        reset, vmm_line = int(match.group(1)), match.group(2)
        con.expect(guestlib.LINUX_BANNER)
        hyp_lines = HYP_POOLS_RE.findall(con.child.before)
        con.expect("Run /init as init process")
        con.wait_prompt()
        con.check(KERNEL_WARNINGS)
        return reset, vmm_line, hyp_lines


def test_reboot_soak(guest, test_log, tmp_path, socket_dir):
    modes = plan(REBOOTS)
    disk = tmp_path / "disk.img"
    guestlib.make_ext4_image(disk, DISK_SIZE)
    sock_path = socket_dir / "console.sock"
    cmd = machine_command("hyp", "reboot-soak", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          guest["GUEST_DEFAULT_CMDLINE"],
                          devices=["--disk", f"{disk}:libvmm-disk0", "--net", "--console-socket", str(sock_path)],
                          qemu_args=DISK_THROTTLE, hyp_log="warn")
    log = guestlib.TeeLog(test_log)
    con = host = None
    first_quiet = last = None
    busy_seen = []
    try:
        with guestlib.blob_server(BIG_BLOB) as big, guestlib.blob_server(SMALL_BLOB) as small:
            con = guestlib.Console(cmd, log)
            con.boot_to_shell()
            con.check(KERNEL_WARNINGS)
            host = guestlib.ConsoleSocket(sock_path)
            soak = Soak(con, host, big, small, log)
            soak.write_keep_file()
            soak.check_healthy(0)
            started = time.monotonic()
            for round_no, mode in enumerate(modes, start=1):
                log.note(f"round {round_no}/{len(modes)}: {mode} reboot")
                reset, vmm_line, hyp_lines = soak.reboot(mode)
                log.note(f"round {round_no}: pools {vmm_line!r} {hyp_lines!r}")
                last = (vmm_line, hyp_lines)
                assert reset == round_no, f"reset {reset} reported in round {round_no}: a reset hook run missing"
                lib = parse_vmm_pools(vmm_line)
                hyp = parse_hyp_pools(hyp_lines)
                assert lib[("blk", "reqs")][0] == 0, f"round {round_no}: guest requests survived the reset"
                if mode == "quiet":
                    bad = at_rest_violations(lib, LIBRARY_AT_REST)
                    assert bad == [], f"round {round_no}: library pools not back at rest: {bad} ({vmm_line})"
                    if first_quiet is None:
                        bad = at_rest_violations(hyp, HYP_AT_REST)
                        assert bad == [], f"round {round_no}: hyp pools not at rest: {bad} ({hyp_lines})"
                        first_quiet = (vmm_line, hyp_lines)
                    assert (vmm_line, hyp_lines) == first_quiet, \
                        f"round {round_no}: pools differ from the first quiet reboot's {first_quiet}"
                elif at_rest_violations(lib, LIBRARY_AT_REST) or at_rest_violations(hyp, HYP_AT_REST):
                    busy_seen.append(round_no)
                soak.check_healthy(round_no)
            elapsed = time.monotonic() - started

            con.check("umount /mnt")
            con.send_line("poweroff")
            assert con.wait_exit() == 0
    finally:
        if host is not None:
            host.close()
        if con is not None:
            con.close()
        log.close()

    summary = (f"soak: {len(modes)} reboots in {elapsed:.0f} s, {elapsed / len(modes):.1f} s per reboot "
               f"(with the checks after each); resets that met requests in flight: {busy_seen}\n"
               f"soak: final pools: {last[0]}\n" + "".join(f"soak: final hyp pools: {line}\n" for line in last[1]))
    print(summary, end="")
    with open(test_log, "a", encoding="utf-8") as f:
        f.writelines(f"=== {line} ===\n" for line in summary.splitlines())

    assert guestlib.complaints(test_log.read_text(errors="replace")) == []
    status, output = guestlib.e2fsck(disk, "-fn")
    assert status == 0, f"e2fsck -fn exited {status}:\n{output[-3000:]}"
