"""A small NBD server with a volatile write cache, to simulate power cuts.

It serves one raw image file to QEMU's NBD client (`-blockdev nbd` /
`-drive driver=nbd`) over a UNIX socket or a 127.0.0.1 TCP port, following
the NBD protocol document (NetworkBlockDevice/nbd doc/proto.md):

  * fixed newstyle handshake, NBD_OPT_EXPORT_NAME, NBD_OPT_INFO/NBD_OPT_GO
    (NBD_INFO_EXPORT always, NBD_INFO_NAME and NBD_INFO_BLOCK_SIZE when
    asked), NBD_OPT_LIST and NBD_OPT_ABORT; every other option, structured
    replies and TLS among them, is refused with NBD_REP_ERR_UNSUP;
  * simple replies only; NBD_CMD_READ, WRITE, FLUSH, TRIM, WRITE_ZEROES and
    DISC; NBD_CMD_FLAG_FUA on any command.

The volatility model (what a disk with a write cache and no battery does):
a write lands in an in-memory overlay of BLOCK-sized blocks; reads see the
overlay over the file. NBD_CMD_FLUSH writes every overlay block to the file
and fsync()s it before it replies, so every write completed before the flush
is durable ("Ordering of messages and writes"); a FUA command makes the
blocks it touched durable the same way before its reply. cut() is the power
cut: it drops the overlay (whatever was not flushed is gone) and closes the
connections. Requests are served one at a time per connection, in order,
so "completed before the flush" is exactly "received before the flush".
.flush_delay makes every FLUSH take that long before it persists anything,
so a cut right after a client saw its flush answered shows whether the
answer really came after the flush.

Bad requests get error replies (EINVAL; ENOSPC for a write past the end,
as the document asks) and the connection goes on; a request that cannot be
framed (bad magic) ends that connection. Every protocol error is logged
(logging "nbd_server", and the optional log file) and kept in
.protocol_errors. Python 3 standard library only.

Run on its own for manual tests:
  python3 nbd_server.py IMAGE --unix PATH      (or --port N)
SIGUSR1 cuts the power, SIGUSR2 prints the counters, SIGINT/SIGTERM stop it
(dropping what was never flushed)."""

import argparse
import errno
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

# Handshake (proto.md "Newstyle negotiation", "Fixed newstyle negotiation").
NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
FLAG_FIXED_NEWSTYLE = 1 << 0
FLAG_NO_ZEROES = 1 << 1
FLAG_C_FIXED_NEWSTYLE = 1 << 0
FLAG_C_NO_ZEROES = 1 << 1

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_ERR_UNSUP = (1 << 31) + 1
REP_ERR_INVALID = (1 << 31) + 3
REP_ERR_UNKNOWN = (1 << 31) + 6

INFO_EXPORT = 0
INFO_NAME = 1
INFO_BLOCK_SIZE = 3

# Transmission flags ("Transmission flags").
TFLAG_HAS_FLAGS = 1 << 0
TFLAG_SEND_FLUSH = 1 << 2
TFLAG_SEND_FUA = 1 << 3
TFLAG_SEND_TRIM = 1 << 5
TFLAG_SEND_WRITE_ZEROES = 1 << 6
TRANSMISSION_FLAGS = (TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH | TFLAG_SEND_FUA | TFLAG_SEND_TRIM |
                      TFLAG_SEND_WRITE_ZEROES)

# Transmission phase ("Request message", "Simple reply message", "Request types").
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
REQUEST = struct.Struct(">IHHQQI")
SIMPLE_REPLY = struct.Struct(">IIQ")
CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_WRITE_ZEROES = 6
CMD_FLAG_FUA = 1 << 0
CMD_FLAG_NO_HOLE = 1 << 1
CMD_NAMES = {CMD_READ: "READ", CMD_WRITE: "WRITE", CMD_DISC: "DISC", CMD_FLUSH: "FLUSH", CMD_TRIM: "TRIM",
             CMD_WRITE_ZEROES: "WRITE_ZEROES"}

# Limits this server advertises (NBD_INFO_BLOCK_SIZE) and enforces.
MAX_REQUEST = 32 << 20
MAX_STRING = 4096
MAX_OPTION_DATA = 1 << 16
DRAIN_CHUNK = 1 << 20

logger = logging.getLogger("nbd_server")


class Disconnect(Exception):
    """The connection ends (EOF, cut, DISC, or a request that cannot be framed)."""


def _recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        try:
            k = sock.recv_into(view[got:], n - got)
        except OSError as exc:
            raise Disconnect(f"receive failed: {exc}") from None
        if k == 0:
            raise Disconnect("peer closed the connection" if got == 0 else f"peer closed mid-message ({got}/{n})")
        got += k
    return bytes(buf)


def _send(sock, data):
    try:
        sock.sendall(data)
    except OSError as exc:
        raise Disconnect(f"send failed: {exc}") from None


class Stats:
    """Counters. flush_requests counts the FLUSHes received, flushes those
    done (persisted, then answered), flushes_cut those a cut interrupted;
    dirty_bytes is what the overlay holds now."""

    FIELDS = ("connections", "reads", "writes", "fua_writes", "trims", "write_zeroes", "flush_requests", "flushes",
              "flushes_cut", "bytes_read", "bytes_written", "bytes_durable", "bytes_dropped", "cuts", "error_replies",
              "protocol_errors", "dirty_bytes")

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)

    def snapshot(self):
        return {name: getattr(self, name) for name in self.FIELDS}


class _Connection:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.dead = False  # set by cut(): nothing more from this connection reaches the disk


class NbdServer:
    """One export (`export`, or the default export "") of the raw file `image`.

    unix_path: listen on that UNIX socket; otherwise on 127.0.0.1:port (0
    picks a free port: see .port). block: the overlay's granularity. log_file:
    a file that gets a line per connection, cut and protocol error."""

    def __init__(self, image, unix_path=None, port=0, export="disk", block=4096, log_file=None):
        if block < 512 or block & (block - 1):
            raise ValueError(f"block size {block} is not a power of two >= 512")
        self.image = str(image)
        self.export = export
        self.block = block
        self.unix_path = str(unix_path) if unix_path else None
        self.fd = os.open(self.image, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        self.overlay = {}  # block index -> bytearray(block)
        # Seconds a FLUSH takes before it persists anything: a cut within
        # that time loses the flush (counted in flushes_cut), as a disk
        # losing power while it empties its cache would.
        self.flush_delay = 0.0
        self.lock = threading.Lock()
        self.stats_ = Stats()
        self.protocol_errors = []
        self.connections = []
        self.threads = []
        self.closed = False
        self.log_lock = threading.Lock()
        self.log_file = open(log_file, "a", encoding="utf-8") if log_file else None
        if self.unix_path:
            if os.path.exists(self.unix_path):
                os.unlink(self.unix_path)
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(self.unix_path)
        else:
            self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", port))
        self.port = None if self.unix_path else self.listener.getsockname()[1]
        self.listener.listen(4)
        self.acceptor = threading.Thread(target=self._accept_loop, name="nbd-accept", daemon=True)
        self.acceptor.start()
        self._log(f"serving {self.image} ({self.size} bytes) as {export!r} on {self.address()}")

    # --- the test's interface -------------------------------------------

    def address(self):
        return self.unix_path if self.unix_path else f"127.0.0.1:{self.port}"

    def stats(self):
        with self.lock:
            self.stats_.dirty_bytes = len(self.overlay) * self.block
            return self.stats_.snapshot()

    def cut(self):
        """The power cut: drop every write not yet made durable and close
        the connections. Returns the bytes dropped (whole overlay blocks)."""
        dropped, nconns = self._drop_and_disconnect()
        with self.lock:
            self.stats_.bytes_dropped += dropped
            self.stats_.cuts += 1
        self._log(f"power cut: {dropped} bytes of unflushed writes dropped, {nconns} connection(s) closed")
        return dropped

    def _drop_and_disconnect(self):
        with self.lock:
            dropped = len(self.overlay) * self.block
            self.overlay.clear()
            conns = list(self.connections)
            for conn in conns:
                conn.dead = True
        for conn in conns:
            self._close_socket(conn.sock)
        return dropped, len(conns)

    def close(self):
        """Stop serving. Writes not yet flushed are dropped (a clean client
        flushed before it disconnected) but not counted as a cut; returns
        the bytes dropped."""
        if self.closed:
            return 0
        self.closed = True
        self._close_socket(self.listener)
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)
        dropped, _ = self._drop_and_disconnect()
        self.acceptor.join(10)
        for thread in list(self.threads):
            thread.join(10)
        os.close(self.fd)
        self._log(f"closed ({dropped} bytes never flushed dropped)")
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        return dropped

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- logging ----------------------------------------------------------

    def _log(self, text, level=logging.INFO):
        logger.log(level, "%s", text)
        with self.log_lock:
            if self.log_file:
                self.log_file.write(f"{time.strftime('%H:%M:%S')} nbd: {text}\n")
                self.log_file.flush()

    def _protocol_error(self, conn, text):
        with self.lock:
            self.stats_.protocol_errors += 1
            self.protocol_errors.append(text)
        self._log(f"protocol error from {conn.peer}: {text}", logging.WARNING)

    # --- connections ------------------------------------------------------

    @staticmethod
    def _close_socket(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self):
        while not self.closed:
            try:
                sock, peer = self.listener.accept()
            except OSError:
                return
            conn = _Connection(sock, peer or "unix")
            with self.lock:
                if self.closed:
                    self._close_socket(sock)
                    return
                self.connections.append(conn)
                self.stats_.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), name="nbd-conn", daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn):
        self._log(f"connection from {conn.peer}")
        try:
            if self._handshake(conn):
                self._transmission(conn)
        except Disconnect as exc:
            if not conn.dead:
                self._log(f"connection from {conn.peer} ends: {exc}")
        except Exception:  # a bug here must show in the test log, not kill the thread silently
            self._protocol_error(conn, "server failure:\n" + traceback.format_exc())
        finally:
            with self.lock:
                if conn in self.connections:
                    self.connections.remove(conn)
            self._close_socket(conn.sock)

    # --- handshake --------------------------------------------------------

    def _opt_reply(self, conn, opt, rep, data=b""):
        _send(conn.sock, struct.pack(">QIII", OPT_REPLY_MAGIC, opt, rep, len(data)) + data)

    def _export_info(self):
        return struct.pack(">HQH", INFO_EXPORT, self.size, TRANSMISSION_FLAGS)

    def _handshake(self, conn):
        """Fixed newstyle negotiation; True when transmission begins."""
        _send(conn.sock, struct.pack(">QQH", NBDMAGIC, IHAVEOPT, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES))
        (cflags,) = struct.unpack(">I", _recv_exact(conn.sock, 4))
        if cflags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES):
            self._protocol_error(conn, f"unknown client flags 0x{cflags:x}")
            return False  # the server MUST drop the connection
        no_zeroes = bool(cflags & FLAG_C_NO_ZEROES)
        while True:
            magic, opt, length = struct.unpack(">QII", _recv_exact(conn.sock, 16))
            if magic != IHAVEOPT:
                self._protocol_error(conn, f"option magic 0x{magic:x}")
                return False
            if length > MAX_OPTION_DATA:
                self._protocol_error(conn, f"option {opt} with {length} bytes of data")
                return False
            data = _recv_exact(conn.sock, length)
            if opt == OPT_EXPORT_NAME:
                return self._opt_export_name(conn, data, no_zeroes)
            if opt == OPT_ABORT:
                self._opt_reply(conn, opt, REP_ACK)
                return False
            if opt in (OPT_INFO, OPT_GO):
                if self._opt_info_go(conn, opt, data) and opt == OPT_GO:
                    self._log(f"connection from {conn.peer}: transmission after NBD_OPT_GO")
                    return True
            elif opt == OPT_LIST:
                if data:
                    self._opt_reply(conn, opt, REP_ERR_INVALID, b"NBD_OPT_LIST takes no data")
                else:
                    name = self.export.encode()
                    self._opt_reply(conn, opt, REP_SERVER, struct.pack(">I", len(name)) + name)
                    self._opt_reply(conn, opt, REP_ACK)
            else:
                # STARTTLS, STRUCTURED_REPLY, meta contexts and anything
                # unknown: not supported here (the client falls back).
                self._log(f"connection from {conn.peer}: option {opt} refused (NBD_REP_ERR_UNSUP)")
                self._opt_reply(conn, opt, REP_ERR_UNSUP)

    def _name_ok(self, name):
        return name in ("", self.export)

    def _opt_export_name(self, conn, data, no_zeroes):
        name = data.decode("utf-8", "replace")
        if not self._name_ok(name):
            self._protocol_error(conn, f"NBD_OPT_EXPORT_NAME for unknown export {name!r}")
            return False  # this option cannot fail: terminate the session
        _send(conn.sock, struct.pack(">QH", self.size, TRANSMISSION_FLAGS) + (b"" if no_zeroes else bytes(124)))
        self._log(f"connection from {conn.peer}: transmission after NBD_OPT_EXPORT_NAME")
        return True

    def _opt_info_go(self, conn, opt, data):
        """NBD_OPT_INFO / NBD_OPT_GO; True if it ended in NBD_REP_ACK."""
        parsed = self._parse_info_request(data)
        if parsed is None:
            self._protocol_error(conn, f"malformed option {opt} data ({len(data)} bytes)")
            self._opt_reply(conn, opt, REP_ERR_INVALID, b"malformed request")
            return False
        name, requests = parsed
        if not self._name_ok(name):
            self._opt_reply(conn, opt, REP_ERR_UNKNOWN, f"no export {name!r}".encode())
            return False
        self._opt_reply(conn, opt, REP_INFO, self._export_info())
        if INFO_NAME in requests:
            self._opt_reply(conn, opt, REP_INFO, struct.pack(">H", INFO_NAME) + self.export.encode())
        if INFO_BLOCK_SIZE in requests:
            # Any byte granularity works (the overlay reads, patches and writes
            # whole blocks); the preferred size is the overlay's block.
            self._opt_reply(conn, opt, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE, 1, self.block, MAX_REQUEST))
        self._opt_reply(conn, opt, REP_ACK)
        return True

    @staticmethod
    def _parse_info_request(data):
        """(name, [info types]) of NBD_OPT_INFO/GO data, or None if malformed."""
        if len(data) < 6:
            return None
        (name_len,) = struct.unpack_from(">I", data, 0)
        if name_len > MAX_STRING or name_len > len(data) - 6:
            return None
        name = data[4:4 + name_len]
        (count,) = struct.unpack_from(">H", data, 4 + name_len)
        if len(data) != 6 + name_len + 2 * count:
            return None
        requests = list(struct.unpack_from(f">{count}H", data, 6 + name_len))
        try:
            return name.decode("utf-8"), requests
        except UnicodeDecodeError:
            return None

    # --- transmission -----------------------------------------------------

    def _reply(self, conn, handle, error, data=b""):
        if error:
            with self.lock:
                self.stats_.error_replies += 1
        _send(conn.sock, SIMPLE_REPLY.pack(SIMPLE_REPLY_MAGIC, error, handle) + data)

    def _drain(self, conn, length):
        while length:
            n = min(length, DRAIN_CHUNK)
            _recv_exact(conn.sock, n)
            length -= n

    def _transmission(self, conn):
        while True:
            magic, flags, cmd, handle, offset, length = REQUEST.unpack(_recv_exact(conn.sock, REQUEST.size))
            if magic != REQUEST_MAGIC:
                self._protocol_error(conn, f"request magic 0x{magic:x}: cannot find the next request")
                return
            if cmd == CMD_DISC:
                self._log(f"connection from {conn.peer}: NBD_CMD_DISC")
                return
            payload = None
            if cmd == CMD_WRITE:
                if length > MAX_REQUEST:
                    self._drain(conn, length)
                else:
                    payload = _recv_exact(conn.sock, length)
            error, data = self._command(conn, flags, cmd, offset, length, payload)
            if error:
                self._protocol_error(conn, f"{CMD_NAMES.get(cmd, cmd)} flags 0x{flags:x} offset {offset} "
                                     f"length {length}: {errno.errorcode.get(error, error)}")
            self._reply(conn, handle, error, data)

    def _command(self, conn, flags, cmd, offset, length, payload):
        """(error, reply data) of one request, the payload already read."""
        allowed = CMD_FLAG_FUA | (CMD_FLAG_NO_HOLE if cmd == CMD_WRITE_ZEROES else 0)
        if cmd not in CMD_NAMES or flags & ~allowed:
            return errno.EINVAL, b""
        if cmd == CMD_FLUSH:
            if offset or length:
                return errno.EINVAL, b""
            with self.lock:
                self.stats_.flush_requests += 1
            if self.flush_delay:
                time.sleep(self.flush_delay)
            return self._locked(conn, self._do_flush)
        if length > MAX_REQUEST and cmd in (CMD_READ, CMD_WRITE):
            return errno.EINVAL, b""
        if offset > self.size or length > self.size - offset:
            return (errno.ENOSPC if cmd == CMD_WRITE else errno.EINVAL), b""
        fua = bool(flags & CMD_FLAG_FUA)
        if cmd == CMD_READ:
            return self._locked(conn, self._do_read, offset, length)
        # TRIM: this disk reads zeroes after a discard (allowed: "no assumptions").
        return self._locked(conn, self._do_write, cmd, offset, length, payload, fua)

    def _locked(self, conn, fn, *args):
        with self.lock:
            if conn.dead:
                if fn == self._do_flush:
                    self.stats_.flushes_cut += 1
                raise Disconnect("power cut")
            try:
                return fn(*args)
            except OSError as exc:  # the image file failed: the request fails, the server goes on
                self._log(f"host I/O error on {self.image}: {exc}", logging.WARNING)
                return errno.EIO, b""

    # --- the disk: file + volatile overlay (called with self.lock held) ---

    def _file_read(self, offset, length):
        data = os.pread(self.fd, length, offset)
        return data + bytes(length - len(data))

    def _do_read(self, offset, length):
        buf = bytearray(self._file_read(offset, length))
        bs = self.block
        for index in range(offset // bs, (offset + length + bs - 1) // bs):
            block = self.overlay.get(index)
            if block is None:
                continue
            start = max(offset, index * bs)
            end = min(offset + length, (index + 1) * bs)
            buf[start - offset:end - offset] = block[start - index * bs:end - index * bs]
        self.stats_.reads += 1
        self.stats_.bytes_read += length
        return 0, bytes(buf)

    def _do_write(self, cmd, offset, length, data, fua):
        """WRITE of `data`, or zeroes (TRIM, WRITE_ZEROES) when data is None."""
        bs = self.block
        end = offset + length
        touched = range(offset // bs, (end + bs - 1) // bs)
        for index in touched:
            base = index * bs
            start, stop = max(offset, base), min(end, base + bs)
            block = self.overlay.get(index)
            if block is None:
                block = bytearray(bs) if stop - start == bs else bytearray(self._file_read(base, bs))
                self.overlay[index] = block
            if data is None:
                block[start - base:stop - base] = bytes(stop - start)
            else:
                block[start - base:stop - base] = data[start - offset:stop - offset]
        counter = {CMD_WRITE: "writes", CMD_TRIM: "trims", CMD_WRITE_ZEROES: "write_zeroes"}[cmd]
        setattr(self.stats_, counter, getattr(self.stats_, counter) + 1)
        self.stats_.bytes_written += length
        if fua and length:
            self.stats_.fua_writes += 1
            self._persist(list(touched))
        return 0, b""

    def _do_flush(self):
        self._flush_locked()
        self.stats_.flushes += 1
        return 0, b""

    def _flush_locked(self):
        self._persist(sorted(self.overlay))

    def _persist(self, indices):
        """Write these overlay blocks to the file, fsync, and forget them."""
        bs = self.block
        for index in indices:
            block = self.overlay[index]
            n = min(bs, self.size - index * bs)
            os.pwrite(self.fd, bytes(block[:n]), index * bs)
            self.stats_.bytes_durable += n
        if indices:
            os.fsync(self.fd)
        for index in indices:
            del self.overlay[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image")
    parser.add_argument("--unix", help="listen on this UNIX socket")
    parser.add_argument("--port", type=int, default=10809, help="TCP port on 127.0.0.1 (without --unix)")
    parser.add_argument("--export", default="disk")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = NbdServer(args.image, unix_path=args.unix, port=args.port, export=args.export)
    stop = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: server.cut())
    signal.signal(signal.SIGUSR2, lambda *_: print(json.dumps(server.stats()), file=sys.stderr, flush=True))
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            signal.pause()
    finally:
        server.close()


if __name__ == "__main__":
    main()
