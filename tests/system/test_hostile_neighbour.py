"""A hostile guest beside a Debian guest (issue 5 item 3): two VMM programs
on one machine under hyp (`make image GUESTS=2`), PD 0 running the hostile
bare-metal guest of test_hostile.py (PL011, a scratch disk, user networking,
a virtconsole) and PD 1 the Debian guest on its hvc0 (test_multi_guest.py).

The hostile guest attacks its virtio devices, the vGIC, SMCCC/PSCI and
unmapped IPAs while its neighbour boots. Pass: the hostile guest judges
every answer right and powers off, which ends only its own PD (hyp and the
other VMM stay up); the Debian guest reaches its shell, keeps running
(uptime grows, no kernel oops) and its own power-off then ends QEMU with
status 0 (both PDs ended cleanly)."""

import re
import shutil
import tempfile
import time
from pathlib import Path

import guestlib
from test_hostile import DISK_BYTES, DISK_MARKER, HOSTILE_TIMEOUT, ConsoleClient
from test_multi_guest import SocketShell, uptime


def test_hostile_guest_beside_debian(guest, test_log):
    guestlib.make("testguests")
    hostile = guestlib.build_dir() / "guests" / "hostile.bin"
    elf = guestlib.build_dir() / "system-images" / "hostile-neighbour.elf"
    elf.parent.mkdir(parents=True, exist_ok=True)
    guestlib.make("image", "GUESTS=2", f"OUT={elf}", f"KERNEL={hostile}", "INITRD=", "CMDLINE=hostile",
                  f"KERNEL1={guest['GUEST_KERNEL']}", f"INITRD1={guest['GUEST_INITRD']}", "SMP=1", "GIC=2")
    tmp = Path(tempfile.mkdtemp(prefix="libvmm-nbr-"))  # Unix socket paths are short
    disk, g0_sock, g1_sock = tmp / "disk.img", tmp / "guest0.sock", tmp / "guest1.sock"
    disk.write_bytes(DISK_MARKER + bytes(DISK_BYTES - len(DISK_MARKER)))
    cmd = guestlib.qemu_command(elf=elf, extra=["--smp", "2", "--mem", "2G", "--disk", str(disk), "--net",
                                                "--console-socket", str(g0_sock), "--console-socket", str(g1_sock)])
    hostile_console = ConsoleClient(g0_sock)  # takes the hostile guest's console flood
    hostile_console.start()
    log = guestlib.TeeLog(test_log)
    g1_log = open(Path(str(test_log) + ".guest1"), "w", encoding="utf-8", errors="replace")
    con = guestlib.Console(cmd, log)
    g1 = None
    try:
        g1 = SocketShell(str(g1_sock), g1_log)
        con.expect(r"HOSTILE: (PASS|FAIL)[^\n]*", HOSTILE_TIMEOUT)
        verdict = con.child.match.group(0)
        assert "PASS" in verdict, f"the hostile guest says {verdict}"
        # Its SYSTEM_OFF ends PD 0 only: its VMM says so, and QEMU goes on with PD 1.
        con.expect(r"vmm\|INFO: guest stopped", guestlib.BOOT_TIMEOUT)
        time.sleep(1)
        assert con.alive(), "QEMU ended with the hostile guest's power-off"

        g1.wait_prompt()
        assert "Linux" in g1.check("uname -s")
        first = uptime(g1)
        g1.check("sleep 2")
        assert uptime(g1) > first + 1, "the Debian guest's clock stands still"
        oops = g1.check("dmesg | grep -c -i -E 'Oops|BUG:|Kernel panic|Internal error' || true").split()[-1]
        assert oops == "0", g1.check("dmesg | tail -40")

        g1.send(b"poweroff\r")
        status = con.wait_exit()
        log.flush()
        output = Path(test_log).read_text(encoding="utf-8", errors="replace")
        for bad in ("PANIC", "HOSTILE: FAIL", "vmm1|ERROR"):
            assert bad not in output, f"{bad!r} on the console:\n" + "\n".join(
                l for l in output.splitlines() if bad in l)[:4000]
        seed = re.search(r"HOSTILE: start at EL1, seed (0x[0-9a-f]+)", output)
        assert status == 0, f"QEMU exit status {status} (hostile seed {seed.group(1) if seed else '?'})"
    finally:
        hostile_console.stop.set()
        hostile_console.join(5)
        if g1 is not None:
            g1.close()
        con.close()
        log.close()
        g1_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
