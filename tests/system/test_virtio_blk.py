"""virtio-blk durability: data a guest writes on ext4 and syncs is on the
disk image, for the host's e2fsprogs and for the next boot.

The disk is an ext4 image made on the host, given to QEMU as the
virtio-blk-device with serial libvmm-disk0 (the main job binds that serial).
The guest writes random files and records their SHA-256; the host checks the
file system with `e2fsck -fn`, reads the files out of the image with
debugfs, and a later boot reads them back through virtio-blk. Each test runs
under hyp and, as a control, directly on QEMU with the same device."""

import hashlib
import os
import re
import shutil
import signal
import subprocess

import pytest

import guestlib
from conftest import machine_command

DISK_SIZE = "128M"
DISK_SERIAL = "libvmm-disk0"
MIB = 1 << 20
# 4 x 8 MiB, and one file that ends in the middle of a block and a sector.
FILES = {"f1": 8 * MIB, "f2": 8 * MIB, "f3": 8 * MIB, "f4": 8 * MIB, "odd": 3 * MIB + 4097}
WRITE_TIMEOUT = 240
SUM_RE = re.compile(r"^([0-9a-f]{64})  /mnt/data/(\S+)$", re.M)

pytestmark = pytest.mark.parametrize("target", ["direct", "hyp"])


def make_disk(path):
    guestlib.make_ext4_image(path, DISK_SIZE)


def boot(target, guest, disk, log):
    cmd = machine_command(target, f"virtio-blk-{target}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          guest["GUEST_DEFAULT_CMDLINE"], devices=["--disk", f"{disk}:{DISK_SERIAL}"], hyp_log="warn")
    con = guestlib.Console(cmd, log)
    con.boot_to_shell()
    return con


def guest_sums(con):
    """{name: sha256} of /mnt/data/*, computed in the guest."""
    output = con.check("sha256sum /mnt/data/*", WRITE_TIMEOUT)
    return {m.group(2): m.group(1) for m in SUM_RE.finditer(output)}


def check_disk_identity(con):
    """The disk's capacity and its serial (GET_ID) are the backend's."""
    sectors = int(DISK_SIZE.rstrip("M")) * MIB // 512
    assert con.check("cat /sys/block/vda/size").strip() == str(sectors)
    assert con.check("cat /sys/block/vda/serial").strip() == DISK_SERIAL


def write_files(con):
    """Mount the disk, write FILES from /dev/urandom, return their checksums
    and check their sizes."""
    con.check("mount -t ext4 /dev/vda /mnt && mkdir /mnt/data")
    for name, size in FILES.items():
        if size % MIB == 0:
            con.check(f"dd if=/dev/urandom of=/mnt/data/{name} bs=1M count={size // MIB} 2>/dev/null",
                      WRITE_TIMEOUT)
        else:
            con.check(f"head -c {size} /dev/urandom > /mnt/data/{name}", WRITE_TIMEOUT)
    sizes = {}
    for line in con.check("wc -c /mnt/data/*").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].startswith("/mnt/data/"):
            sizes[fields[1][len("/mnt/data/"):]] = int(fields[0])
    assert sizes == FILES
    sums = guest_sums(con)
    assert sorted(sums) == sorted(FILES)
    assert len(set(sums.values())) == len(FILES), f"files with the same content: {sums}"
    return sums


def verify_files(con, expected):
    """Mount the disk in a new boot and compare every checksum."""
    con.check("mount -t ext4 /dev/vda /mnt")
    assert guest_sums(con) == expected
    con.check("umount /mnt")


def assert_healthy(con, log_file):
    """No block or ext4 errors in the guest kernel's log, and no warning or
    error from the VMM or hyp on the console."""
    assert guestlib.kernel_errors(con) == ""
    con.log.flush()
    text = log_file.read_text(errors="replace")
    assert guestlib.complaints(text, guestlib.absent_devices_allowed("net", "console")) == []


def power_off(con):
    con.send_line("poweroff")
    assert con.wait_exit() == 0


def host_sums(disk, out_dir):
    """{name: sha256} of /data/* read out of the image by debugfs."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    proc = subprocess.run([guestlib.host_tool("debugfs"), "-R", f"rdump /data {out_dir}", str(disk)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    data = out_dir / "data"
    assert data.is_dir(), f"debugfs found no /data:\n{proc.stdout}"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir()}


def check_image(disk, expected, tmp_path):
    status, output = guestlib.e2fsck(disk, "-fn")
    assert status == 0, f"e2fsck -fn {disk} exited {status}:\n{output[-3000:]}"
    assert host_sums(disk, tmp_path / "dump") == expected


def test_data_survives_poweroff_and_fresh_qemu(target, guest, test_log, tmp_path):
    disk = tmp_path / "disk.img"
    make_disk(disk)
    log = guestlib.TeeLog(test_log)
    con = None
    try:
        con = boot(target, guest, disk, log)
        check_disk_identity(con)
        written = write_files(con)
        con.check("sync", WRITE_TIMEOUT)
        con.check("umount /mnt")
        assert_healthy(con, test_log)
        power_off(con)

        check_image(disk, written, tmp_path)

        log.note("a fresh QEMU on the same image")
        con = boot(target, guest, disk, log)
        verify_files(con, written)
        assert_healthy(con, test_log)
        power_off(con)
    finally:
        if con is not None:
            con.close()
        log.close()


def test_data_survives_reboot(target, guest, test_log, tmp_path):
    disk = tmp_path / "disk.img"
    make_disk(disk)
    log = guestlib.TeeLog(test_log)
    con = None
    try:
        con = boot(target, guest, disk, log)
        written = write_files(con)
        con.check("sync", WRITE_TIMEOUT)
        # Under hyp the restart goes through guest_restart: the devices are
        # reset and probed again by the new kernel.
        con.send_line("reboot")
        con.expect("reboot: Restarting system", guestlib.COMMAND_TIMEOUT)
        con.boot_to_shell()
        verify_files(con, written)
        assert_healthy(con, test_log)
        power_off(con)
        check_image(disk, written, tmp_path)
    finally:
        if con is not None:
            con.close()
        log.close()


def test_synced_data_is_in_the_image_when_qemu_is_killed(target, guest, test_log, tmp_path):
    """After the guest's sync returns, every write and the journal commit has
    completed at QEMU: killing QEMU right then (no unmount, no flush at exit)
    leaves an image whose journal e2fsck replays, with every file intact."""
    disk = tmp_path / "disk.img"
    make_disk(disk)
    log = guestlib.TeeLog(test_log)
    con = None
    try:
        con = boot(target, guest, disk, log)
        written = write_files(con)
        assert_healthy(con, test_log)
        con.check("sync", WRITE_TIMEOUT)
        os.kill(con.child.pid, signal.SIGKILL)
        con.wait_exit()
    finally:
        if con is not None:
            con.close()
        log.close()

    status, output = guestlib.e2fsck(disk, "-fy")
    assert status in (0, 1), f"e2fsck -fy exited {status}:\n{output[-3000:]}"
    check_image(disk, written, tmp_path)
