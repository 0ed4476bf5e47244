"""A reset with every virtio device busy: the guest restarts (`reboot -n -f`:
no sync, no unmount) while it writes to the disk, downloads over the network
and writes to the console. Under hyp this is guest_restart with requests
still at the backends; the new kernel must find each device reset and
working, and nothing the old requests complete may disturb it.

One QEMU run per target: under hyp, and as a control directly on QEMU."""

import hashlib

import pytest

import guestlib
from conftest import machine_command

DISK_SIZE = "256M"
BLOB_SIZE = 24 << 20
TRANSFER_TIMEOUT = 180


def wait_until(condition, what, timeout=TRANSFER_TIMEOUT):
    guestlib.wait_until(condition, what, timeout)


@pytest.mark.parametrize("target", ["direct", "hyp"])
def test_devices_work_after_reset_mid_transfer(target, guest, test_log, tmp_path, socket_dir):
    disk = tmp_path / "disk.img"
    guestlib.make_ext4_image(disk, DISK_SIZE)
    sock_path = socket_dir / "console.sock"
    cmd = machine_command(target, f"virtio-reset-{target}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          guest["GUEST_DEFAULT_CMDLINE"],
                          devices=["--disk", f"{disk}:libvmm-disk0", "--net", "--console-socket", str(sock_path)],
                          hyp_log="warn")
    log = guestlib.TeeLog(test_log)
    con = host = None
    try:
        with guestlib.blob_server(BLOB_SIZE) as server:
            url = f"http://10.0.2.2:{server.server_address[1]}/blob"
            con = guestlib.Console(cmd, log)
            con.boot_to_shell()
            host = guestlib.ConsoleSocket(sock_path)
            con.check("mount -t ext4 /dev/vda /mnt")
            guestlib.wait_link_up(con)

            # All three at once, then the reset while they run.
            con.check(f"wget -q -O /mnt/net.bin {url} & "
                      "dd if=/dev/urandom of=/mnt/rnd bs=1M count=64 2>/dev/null & "
                      "while :; do echo busy-console; done > /dev/hvc0 & :")
            wait_until(lambda: server.requests, "HTTP request from the guest")
            host.receive_until(b"busy-console")
            con.check("sync & :")
            log.note("reset with the devices busy")
            con.send_line("reboot -n -f")
            con.boot_to_shell()

            # Console: a new line arrives after whatever the old kernel left.
            con.check("exec 3<>/dev/hvc0 && stty -F /dev/hvc0 raw -echo && echo after-reset-token >&3")
            host.receive_until(b"after-reset-token\n")

            # Disk: the journal replays; new data goes to the device and back.
            con.check("mount -t ext4 /dev/vda /mnt && dd if=/dev/urandom of=/mnt/after bs=1M count=8 2>/dev/null")
            written = guestlib.sha256_of(con.check("sha256sum /mnt/after"), "/mnt/after")
            con.check("sync && echo 3 > /proc/sys/vm/drop_caches")
            assert guestlib.sha256_of(con.check("sha256sum /mnt/after"), "/mnt/after") == written
            con.check("umount /mnt")

            # Network: a whole download after the reset.
            guestlib.wait_link_up(con)
            con.check(f"wget -q -O /tmp/net.bin {url}", TRANSFER_TIMEOUT)
            assert guestlib.sha256_of(con.check("sha256sum /tmp/net.bin"), "/tmp/net.bin") == \
                hashlib.sha256(server.blob).hexdigest()

            assert guestlib.kernel_errors(con) == ""
            con.send_line("poweroff")
            assert con.wait_exit() == 0
    finally:
        if host is not None:
            host.close()
        if con is not None:
            con.close()
        log.close()

    assert guestlib.complaints(test_log.read_text(errors="replace")) == []
    status, output = guestlib.e2fsck(disk, "-fn")
    assert status == 0, f"e2fsck -fn exited {status}:\n{output[-3000:]}"
