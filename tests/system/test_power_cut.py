"""Power cut: no write the guest flushed is lost.

Killing QEMU cannot show a missing FLUSH (the writes already sit in the
host's page cache), so the disk is served by nbd_server.py: a block server
whose writes stay in a volatile overlay until an NBD_CMD_FLUSH (or FUA)
makes them durable, and whose cut() drops whatever was not flushed.

The guest mounts an ext4 image through it (virtio-blk, serial libvmm-disk0,
backed by QEMU's NBD client) and:
  1. writes phase-1 files and syncs: from the moment sync returns they must
     survive anything;
  2. writes phase-2 files without a sync and lets the kernel write them back
     (writeback sends no flush); then the power goes: QEMU is killed and the
     server drops its overlay. The counters must show that phase-2 writes
     really were dropped, else the test proves nothing;
  3. boots again (journal replay), finds phase 1 intact, writes phase-3
     files and syncs while the server takes a second over each flush; the
     power goes the moment sync returns. A layer that answers a FLUSH before
     the disk has done it loses the phase-3 files here;
  4. boots again, finds phases 1 and 3 intact, unmounts cleanly; the host's
     e2fsck -fn is clean and debugfs reads the same files.
Under hyp, and directly on QEMU as a control.

test_nbd_server_model checks the server itself with a small client of its
own (no guest): volatility, FLUSH, FUA, a flush cut short, error replies."""

import errno
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import guestlib
import nbd_server
from conftest import machine_command

MIB = 1 << 20
DISK_SIZE = "64M"
DISK_SERIAL = "libvmm-disk0"
EXPORT = "disk"
# Phase 1 (synced): two whole MiBs and one that ends mid-block and mid-sector.
PHASE1 = {"p1a": 2 * MIB, "p1b": 2 * MIB, "p1odd": MIB + 4097}
# Phase 2 (never synced): written back by the kernel without a flush.
PHASE2 = {"p2a": 6 * MIB, "p2b": 6 * MIB}
# Phase 3 (synced through a slow flush, the power cut as sync returns).
PHASE3 = {"p3a": 2 * MIB, "p3odd": 512 * 1024 + 513}
FLUSH_DELAY = 1.0
IO_TIMEOUT = 240
WRITEBACK_TIMEOUT = 120
SUM_RE = re.compile(r"^([0-9a-f]{64})  /mnt/(\S+)/(\S+)$", re.M)


@pytest.fixture
def socket_dir():
    # A short path: UNIX socket names are limited to 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="libvmm-nbd-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --- the guest scenario ----------------------------------------------------


def boot(target, guest, sock_path, log):
    drive = (f"driver=nbd,server.type=unix,server.path={sock_path},export={EXPORT},if=none,id=nbd0,"
             "cache.direct=on")
    # A direct run needs QEMU's own DTB (machine_command picks it when some
    # run-qemu.sh device option is given; --mem 512M is the direct default).
    devices = ["--mem", "512M"] if target == "direct" else []
    cmd = machine_command(target, f"power-cut-{target}", guest["GUEST_KERNEL"], guest["GUEST_INITRD"],
                          guest["GUEST_DEFAULT_CMDLINE"], devices=devices, hyp_log="warn",
                          qemu_args=["-drive", drive, "-device", f"virtio-blk-device,drive=nbd0,serial={DISK_SERIAL}"])
    con = guestlib.Console(cmd, log)
    con.boot_to_shell()
    return con


def write_files(con, directory, files):
    """Write `files` from /dev/urandom into /mnt/<directory>; return their
    checksums, all different."""
    con.check(f"mkdir -p /mnt/{directory}")
    for name, size in files.items():
        path = f"/mnt/{directory}/{name}"
        if size % MIB == 0:
            con.check(f"dd if=/dev/urandom of={path} bs=1M count={size // MIB} 2>/dev/null", IO_TIMEOUT)
        else:
            con.check(f"head -c {size} /dev/urandom > {path}", IO_TIMEOUT)
    sums = guest_sums(con, directory)
    assert sorted(sums) == sorted(files) and len(set(sums.values())) == len(files), sums
    return sums


def guest_sums(con, directory):
    """{name: sha256} of /mnt/<directory>/*, computed in the guest (a
    missing file or directory is just not in the result)."""
    _, output = con.run(f"sha256sum /mnt/{directory}/* 2>&1", IO_TIMEOUT)
    return {m.group(3): m.group(1) for m in SUM_RE.finditer(output) if m.group(2) == directory}


def wait_written_back(con):
    """Wait until the guest's page cache holds (almost) no dirty or
    under-writeback data; return the last /proc/meminfo Dirty/Writeback."""
    return con.check(
        f"i=0; while [ $i -lt {WRITEBACK_TIMEOUT * 2} ]; do "
        "set -- $(awk '/^(Dirty|Writeback):/ {s += $2} END {print s}' /proc/meminfo); "
        "[ \"$1\" -le 256 ] && break; sleep 0.5; i=$((i + 1)); done; grep -E '^(Dirty|Writeback):' /proc/meminfo",
        WRITEBACK_TIMEOUT + guestlib.COMMAND_TIMEOUT)


def power_cut(con, server, log):
    """QEMU dies at once (SIGKILL: no flush at exit), then the disk loses
    its cache. Returns (bytes dropped, counters after the cut)."""
    os.kill(con.child.pid, signal.SIGKILL)
    con.wait_exit()
    con.close()
    dropped = server.cut()
    stats = server.stats()
    log.note(f"power cut: {dropped} bytes dropped; nbd counters {stats}")
    return dropped, stats


def mount_after_cut(con, expected):
    """Mount (the journal replays) and check every {directory: sums} in expected."""
    con.check("mount -t ext4 -o commit=600 /dev/vda /mnt")
    messages = con.check("dmesg | grep 'EXT4-fs (vda)' || true")
    assert "recovery complete" in messages, f"no journal replay at mount after the cut:\n{messages}"
    for directory, sums in expected.items():
        assert guest_sums(con, directory) == sums, f"/mnt/{directory} after the power cut"


def console_complaints(log_file):
    return guestlib.complaints(log_file.read_text(errors="replace"), guestlib.absent_devices_allowed("net", "console"))


@pytest.mark.parametrize("target", ["direct", "hyp"])
def test_flushed_writes_survive_power_cut(target, guest, test_log, tmp_path, socket_dir):
    disk = tmp_path / "disk.img"
    guestlib.make_ext4_image(disk, DISK_SIZE)
    sock_path = socket_dir / "nbd.sock"
    nbd_log = test_log.with_suffix(".nbd.log")
    nbd_log.unlink(missing_ok=True)
    server = nbd_server.NbdServer(disk, unix_path=sock_path, export=EXPORT, log_file=nbd_log)
    log = guestlib.TeeLog(test_log)
    con = None
    try:
        con = boot(target, guest, sock_path, log)
        # The guest must see a write-back cache, or it would never flush.
        assert con.check("cat /sys/block/vda/queue/write_cache").strip() == "write back"
        assert con.check("cat /sys/block/vda/serial").strip() == DISK_SERIAL

        # Phase 1: written and synced. A long commit interval keeps ext4
        # from flushing by itself later on.
        con.check("mount -t ext4 -o commit=600 /dev/vda /mnt")
        phase1 = write_files(con, "data", PHASE1)
        before_sync = server.stats()
        con.check("sync", IO_TIMEOUT)
        synced = server.stats()
        log.note(f"nbd after the phase-1 sync: {synced}")
        assert synced["flush_requests"] > before_sync["flush_requests"], f"sync sent no NBD_CMD_FLUSH: {synced}"

        # Phase 2: new files only, never synced; the kernel writes them back
        # within a second or two, and writeback sends no flush.
        con.check("echo 100 > /proc/sys/vm/dirty_expire_centisecs && "
                  "echo 50 > /proc/sys/vm/dirty_writeback_centisecs")
        write_files(con, "data2", PHASE2)
        log.note("guest page cache: " + " ".join(wait_written_back(con).split()))
        assert guestlib.kernel_errors(con) == ""
        dropped, cut1 = power_cut(con, server, log)
        con = None
        # The cut must have dropped what phase 2 wrote after the last flush,
        # or this proves nothing; if the kernel flushed on its own, say so.
        phase2_bytes = sum(PHASE2.values())
        assert dropped >= phase2_bytes // 2, (
            f"the cut dropped only {dropped} bytes of ~{phase2_bytes} written in phase 2 "
            f"({cut1['flush_requests'] - synced['flush_requests']} flush(es) since the phase-1 sync; counters {cut1})")

        # Power back on. Phase 3: files synced with a slow disk flush, and the
        # power cut the moment sync returns: if any layer answered the flush
        # before the disk had done it, the flush is still under way then and
        # the cut loses the files.
        log.note("second boot, after the first power cut")
        con = boot(target, guest, sock_path, log)
        mount_after_cut(con, {"data": phase1})
        phase3 = write_files(con, "data3", PHASE3)
        server.flush_delay = FLUSH_DELAY
        before_sync = server.stats()
        con.check("sync", IO_TIMEOUT)
        _, cut2 = power_cut(con, server, log)
        con = None
        server.flush_delay = 0.0
        assert cut2["flush_requests"] > before_sync["flush_requests"], f"sync sent no NBD_CMD_FLUSH: {cut2}"

        log.note("third boot, after the second power cut")
        con = boot(target, guest, sock_path, log)
        mount_after_cut(con, {"data": phase1, "data3": phase3})
        log.note("phase-2 files after the cuts: " + " ".join(con.check("ls /mnt/data2 2>&1 || true").split()))
        con.check("umount /mnt")
        assert guestlib.kernel_errors(con) == ""
        con.send_line("poweroff")
        assert con.wait_exit() == 0
        con.close()
        con = None
        final = server.stats()
        log.note(f"nbd after the clean power-off: {final}")
        assert final["dirty_bytes"] == 0, f"unmount and power-off left {final['dirty_bytes']} bytes unflushed"
        assert server.protocol_errors == []
    finally:
        if con is not None:
            con.close()
        server.close()
        for error in server.protocol_errors:
            log.note(f"nbd protocol error: {error}")
        log.close()

    assert console_complaints(test_log) == []
    status, output = guestlib.e2fsck(disk, "-fn")
    assert status == 0, f"e2fsck -fn exited {status}:\n{output[-3000:]}"
    assert host_sums(disk, "data", tmp_path / "dump1") == phase1
    assert host_sums(disk, "data3", tmp_path / "dump3") == phase3


def host_sums(disk, directory, out_dir):
    """{name: sha256} of /<directory>/* read out of the image by debugfs."""
    out_dir.mkdir(parents=True)
    proc = subprocess.run([guestlib.host_tool("debugfs"), "-R", f"rdump /{directory} {out_dir}", str(disk)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert (out_dir / directory).is_dir(), f"debugfs found no /{directory}:\n{proc.stdout}"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out_dir / directory).iterdir()}


# --- the server's own model, with a small client -------------------------


class NbdClient:
    """Just enough of an NBD client to drive nbd_server.py."""

    def __init__(self, address, no_zeroes=True):
        """address: a UNIX socket path, or (host, port)."""
        self.sock = socket.socket(socket.AF_INET if isinstance(address, tuple) else socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(address if isinstance(address, tuple) else str(address))
        self.handle = 0
        magic, opt_magic, hflags = struct.unpack(">QQH", self.recv(18))
        assert (magic, opt_magic) == (nbd_server.NBDMAGIC, nbd_server.IHAVEOPT)
        assert hflags & nbd_server.FLAG_FIXED_NEWSTYLE
        self.no_zeroes = no_zeroes and bool(hflags & nbd_server.FLAG_NO_ZEROES)
        self.sock.sendall(struct.pack(">I", nbd_server.FLAG_C_FIXED_NEWSTYLE |
                                      (nbd_server.FLAG_C_NO_ZEROES if self.no_zeroes else 0)))

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError(f"server closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def option(self, opt, data=b""):
        """Send an option; return its replies [(type, data)] up to the final one."""
        self.sock.sendall(struct.pack(">QII", nbd_server.IHAVEOPT, opt, len(data)) + data)
        replies = []
        while True:
            magic, ropt, rtype, length = struct.unpack(">QIII", self.recv(20))
            assert (magic, ropt) == (nbd_server.OPT_REPLY_MAGIC, opt)
            replies.append((rtype, self.recv(length)))
            if rtype not in (nbd_server.REP_INFO, nbd_server.REP_SERVER):
                return replies

    def go(self, name=EXPORT, infos=(nbd_server.INFO_BLOCK_SIZE,)):
        data = struct.pack(">I", len(name)) + name.encode() + struct.pack(f">H{len(infos)}H", len(infos), *infos)
        return self.option(nbd_server.OPT_GO, data)

    def export_name(self, name=EXPORT):
        self.sock.sendall(struct.pack(">QII", nbd_server.IHAVEOPT, nbd_server.OPT_EXPORT_NAME, len(name)) +
                          name.encode())
        size, flags = struct.unpack(">QH", self.recv(10))
        if not self.no_zeroes:
            assert self.recv(124) == bytes(124)
        return size, flags

    def request(self, cmd, offset=0, length=0, data=b"", flags=0, magic=nbd_server.REQUEST_MAGIC):
        """Send one request; return (error, read data)."""
        self.handle += 1
        if cmd == nbd_server.CMD_WRITE:
            length = len(data)
        self.sock.sendall(struct.pack(">IHHQQI", magic, flags, cmd, self.handle, offset, length) + data)
        rmagic, error, handle = struct.unpack(">IIQ", self.recv(16))
        assert (rmagic, handle) == (nbd_server.SIMPLE_REPLY_MAGIC, self.handle)
        payload = self.recv(length) if cmd == nbd_server.CMD_READ and error == 0 else b""
        return error, payload

    def read(self, offset, length):
        error, data = self.request(nbd_server.CMD_READ, offset, length)
        assert error == 0
        return data

    def write(self, offset, data, fua=False):
        assert self.request(nbd_server.CMD_WRITE, offset, data=data, flags=nbd_server.CMD_FLAG_FUA if fua else 0) == (
            0, b"")

    def flush(self):
        assert self.request(nbd_server.CMD_FLUSH) == (0, b"")

    def closed_by_server(self):
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self):
        self.sock.close()


def connect(address):
    client = NbdClient(address)
    replies = client.go()
    assert replies[-1] == (nbd_server.REP_ACK, b"")
    return client


def file_bytes(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def test_nbd_server_model(tmp_path, socket_dir):
    image = tmp_path / "model.img"
    original = os.urandom(1 * MIB)
    image.write_bytes(original)
    sock_path = socket_dir / "model.sock"
    with nbd_server.NbdServer(image, unix_path=sock_path, export=EXPORT, block=4096) as server:
        # Handshake: options refused or answered as the protocol says.
        client = NbdClient(sock_path)
        assert client.option(nbd_server.OPT_STRUCTURED_REPLY) == [(nbd_server.REP_ERR_UNSUP, b"")]
        assert client.option(nbd_server.OPT_STARTTLS) == [(nbd_server.REP_ERR_UNSUP, b"")]
        assert client.option(99, b"xyz") == [(nbd_server.REP_ERR_UNSUP, b"")]
        assert client.go("nosuch")[-1][0] == nbd_server.REP_ERR_UNKNOWN
        assert client.option(nbd_server.OPT_GO, b"\x00\x00\x00\x09abc")[-1][0] == nbd_server.REP_ERR_INVALID
        assert client.option(nbd_server.OPT_LIST) == [(nbd_server.REP_SERVER, b"\x00\x00\x00\x04disk"),
                                                      (nbd_server.REP_ACK, b"")]
        replies = client.go(infos=(nbd_server.INFO_BLOCK_SIZE, nbd_server.INFO_NAME))
        assert replies[-1] == (nbd_server.REP_ACK, b"")
        infos = {struct.unpack(">H", data[:2])[0]: data[2:] for rtype, data in replies[:-1]}
        size, tflags = struct.unpack(">QH", infos[nbd_server.INFO_EXPORT])
        assert size == len(original)
        assert tflags & nbd_server.TFLAG_SEND_FLUSH and tflags & nbd_server.TFLAG_SEND_FUA
        assert struct.unpack(">III", infos[nbd_server.INFO_BLOCK_SIZE])[1] == 4096
        assert infos[nbd_server.INFO_NAME] == b"disk"

        # A write is volatile: visible to reads, not in the file, gone at the cut.
        a = os.urandom(8192)
        client.write(4096, a)
        client.write(100, b"0123456789")  # inside a block: read, patch, keep
        assert client.read(4096, 8192) == a
        assert client.read(96, 20) == original[96:100] + b"0123456789" + original[110:116]
        assert file_bytes(image, 0, 3 * 4096) == original[:3 * 4096]
        assert server.cut() == 3 * 4096
        assert client.closed_by_server()
        client.close()
        client = connect(sock_path)
        assert client.read(0, 3 * 4096) == original[:3 * 4096]

        # Write + FLUSH: durable in the file, kept at the cut.
        b = os.urandom(4096 + 512)
        client.write(65536 + 512, b)
        client.flush()
        assert file_bytes(image, 65536 + 512, len(b)) == b
        assert server.cut() == 0
        client.close()
        client = connect(sock_path)
        assert client.read(65536 + 512, len(b)) == b

        # FUA makes its own write durable at once; a plain write next to it is not.
        c, d = os.urandom(4096), os.urandom(4096)
        client.write(32 * 4096, c)
        client.write(48 * 4096, d, fua=True)
        assert file_bytes(image, 48 * 4096, 4096) == d
        assert server.cut() == 4096
        client.close()
        client = connect(sock_path)
        assert client.read(48 * 4096, 4096) == d
        assert client.read(32 * 4096, 4096) == original[32 * 4096:33 * 4096]

        # WRITE_ZEROES and TRIM (this disk reads zeroes after one) are volatile too.
        assert client.request(nbd_server.CMD_WRITE_ZEROES, 65536, 4096 + 512) == (0, b"")
        assert client.request(nbd_server.CMD_TRIM, 80 * 4096, 4096) == (0, b"")
        b_end = 65536 + 512 + len(b)
        assert client.read(65536, 8192) == bytes(4096 + 512) + b[4096:] + original[b_end:65536 + 8192]
        assert client.read(80 * 4096, 4096) == bytes(4096)
        assert server.cut() == 3 * 4096
        client.close()
        client = connect(sock_path)
        assert client.read(65536 + 512, len(b)) == b
        assert client.read(80 * 4096, 4096) == original[80 * 4096:81 * 4096]

        # A flush the cut interrupts persists nothing and is never answered.
        server.flush_delay = 0.5
        e = os.urandom(4096)
        client.write(64 * 4096, e)
        client.sock.sendall(struct.pack(">IHHQQI", nbd_server.REQUEST_MAGIC, 0, nbd_server.CMD_FLUSH, 77, 0, 0))
        time.sleep(0.1)
        assert server.cut() == 4096
        assert client.closed_by_server()
        client.close()
        deadline = time.monotonic() + 10
        while server.stats()["flushes_cut"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stats()["flushes_cut"] == 1
        assert file_bytes(image, 64 * 4096, 4096) == original[64 * 4096:65 * 4096]
        server.flush_delay = 0.0
        client = connect(sock_path)

        # Bad requests: an error reply each, and the connection goes on.
        errors_before = len(server.protocol_errors)
        assert client.request(nbd_server.CMD_READ, len(original) - 512, 1024) == (errno.EINVAL, b"")
        assert client.request(nbd_server.CMD_READ, 1 << 62, 512) == (errno.EINVAL, b"")
        assert client.request(nbd_server.CMD_WRITE, len(original), data=b"x" * 512) == (errno.ENOSPC, b"")
        assert client.request(nbd_server.CMD_TRIM, len(original), 4096) == (errno.EINVAL, b"")
        assert client.request(nbd_server.CMD_FLUSH, 512, 0) == (errno.EINVAL, b"")
        assert client.request(nbd_server.CMD_READ, 0, 512, flags=1 << 9) == (errno.EINVAL, b"")
        assert client.request(42, 0, 0) == (errno.EINVAL, b"")
        assert len(server.protocol_errors) == errors_before + 7
        assert client.read(48 * 4096, 4096) == d
        # A request that cannot be framed ends the connection, not the server.
        client.sock.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, 0, 1, 0, 0))
        assert client.closed_by_server()
        client.close()

        # NBD_OPT_EXPORT_NAME with the 124 zero bytes, then DISC.
        client = NbdClient(sock_path, no_zeroes=False)
        assert client.export_name() == (len(original), nbd_server.TRANSMISSION_FLAGS)
        assert client.read(48 * 4096, 4096) == d
        client.sock.sendall(struct.pack(">IHHQQI", nbd_server.REQUEST_MAGIC, 0, nbd_server.CMD_DISC, 9, 0, 0))
        assert client.closed_by_server()
        client.close()

        # A client that dies in the middle of a write payload.
        client = connect(sock_path)
        client.sock.sendall(struct.pack(">IHHQQI", nbd_server.REQUEST_MAGIC, 0, nbd_server.CMD_WRITE, 1, 0, 4096) +
                            b"y" * 100)
        client.close()
        client = connect(sock_path)
        assert client.read(0, 4096) == original[:4096]
        client.close()

        stats = server.stats()
        assert stats["cuts"] == 5 and stats["fua_writes"] == 1 and stats["flushes"] == 1
        assert stats["bytes_dropped"] == (3 + 0 + 1 + 3 + 1) * 4096
        assert not any("server failure" in e for e in server.protocol_errors), server.protocol_errors
    # Closing drops nothing durable: the file holds the flushed and FUA data.
    assert file_bytes(image, 65536 + 512, len(b)) == b
    assert file_bytes(image, 48 * 4096, 4096) == d

    # The same over TCP on 127.0.0.1.
    with nbd_server.NbdServer(image, port=0, export=EXPORT) as server:
        client = connect(("127.0.0.1", server.port))
        assert client.read(48 * 4096, 4096) == d
        client.write(0, a, fua=True)
        client.close()
    assert file_bytes(image, 0, len(a)) == a
