#!/usr/bin/python3
"""Attach to a guest console that QEMU serves on a Unix socket (run-qemu.sh
--console-socket; with `make run GUESTS=2`, guest 1's console). Standard
library only: socat may not be installed.

  tools/attach-console.py SOCKET
      interactive: the terminal goes raw, keys go to the guest, its output
      comes back; Ctrl-] leaves (the guest keeps running). Press Enter for a
      prompt: what the guest printed before you attached is gone.
  tools/attach-console.py [--log FILE] SOCKET -- COMMAND...
      run COMMAND (e.g. the QEMU that serves SOCKET), copy everything the
      console prints to FILE (and stdout without --log) until QEMU closes
      it, and exit with COMMAND's exit status. For scripts.

The socket may appear a moment after QEMU starts: it is waited for (30 s)."""

import argparse
import os
import select
import socket
import subprocess
import sys
import time

ESCAPE = b"\x1d"  # Ctrl-]
WAIT_S = 30


def connect(path, proc=None):
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                return None
            time.sleep(0.05)


def interactive(sock):
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    sys.stderr.write("attach-console: connected; Ctrl-] leaves\r\n")
    try:
        tty.setraw(fd)
        while True:
            ready, _, _ = select.select([fd, sock], [], [])
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if fd in ready:
                data = os.read(fd, 1024)
                if not data or ESCAPE in data:
                    break
                sock.sendall(data)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stderr.write("\r\nattach-console: detached\r\n")
    return 0


def record(sock, proc, log_path):
    log = open(log_path, "wb") if log_path else None
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            if log:
                log.write(data)
                log.flush()
            else:
                os.write(sys.stdout.fileno(), data)
    finally:
        if log:
            log.close()
    return proc.wait() if proc else 0


def main():
    argv = sys.argv[1:]
    command = []
    if "--" in argv:
        command = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", help="copy the console's output here (with a COMMAND)")
    ap.add_argument("socket")
    args = ap.parse_args(argv)
    proc = subprocess.Popen(command) if command else None
    sock = connect(args.socket, proc)
    if sock is None:
        sys.stderr.write(f"attach-console: cannot connect to {args.socket}\n")
        return proc.wait() if proc else 1
    with sock:
        if proc is None and sys.stdin.isatty():
            return interactive(sock)
        return record(sock, proc, args.log)


if __name__ == "__main__":
    sys.exit(main())
