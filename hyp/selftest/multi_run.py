#!/usr/bin/python3
"""Runs hyp's several-PD selftest (multi_vmm.c) and checks what only the
whole run shows: the order of the two PDs' lines and QEMU's exit status.

Variant 0: PD 1's guest powers off (status 0); 1: PD 1's VMM writes through a
bad pointer; 2: PD 1's VMM signals a channel it does not have. In each, PD 1
ends first and PD 0 finishes afterwards; QEMU exits 0 only if both PDs ended
with 0. Finally the image runs on one CPU too few and must be refused at boot.
Prints "hyp-selftest-multi: PASS" and exits 0 when everything holds."""

import argparse
import shlex
import subprocess
import sys

TIMEOUT_S = 120


def run(qemu, elf, smp, log, append):
    cmd = shlex.split(qemu) + ["-smp", str(smp), "-kernel", elf, "-append", append]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=TIMEOUT_S, check=False)
        out, status = proc.stdout.decode("utf-8", "replace"), proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, status = (exc.stdout or b"").decode("utf-8", "replace"), "timeout"
    with open(log, "w", encoding="utf-8") as f:
        f.write(f"$ {shlex.join(cmd)}\n{out}\n(exit status {status})\n")
    return out, status


def line_index(out, text):
    """Where `text` first appears (the two PDs share the console: their lines may interleave)."""
    return out.find(text)


def check_variant(variant, out, status):
    problems = []
    pd1_end = {0: "multi: PD 1: powers off", 1: "hyp| PD 'multi-vmm1' crashed: exception at EL2",
               2: "hyp| PD 'multi-vmm1' crashed: seL4_Signal on empty capability slot"}[variant]
    want_status = 0 if variant == 0 else 1
    for text in ("multi: PD 0: init", "multi: PD 1: init", "multi: PD 1: checks passed", pd1_end,
                 "hyp-selftest-multi: PD 0 PASS"):
        if line_index(out, text) < 0:
            problems.append(f"no {text!r}")
    if "FAIL" in out or "PANIC" in out:
        problems.append("a FAIL or PANIC line")
    if line_index(out, pd1_end) > line_index(out, "hyp-selftest-multi: PD 0 PASS"):
        problems.append("PD 0 finished before PD 1 ended: PD 0 was not shown to outlive PD 1")
    if variant == 1 and line_index(out, "multi: PD 1: powers off") >= 0:
        problems.append("PD 1 went on after its crash")
    if status != want_status:
        problems.append(f"QEMU exit status {status}, want {want_status}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True, help="QEMU command without -smp and -kernel")
    ap.add_argument("--work", required=True)
    ap.add_argument("--append", default="")
    ap.add_argument("elfs", nargs=3, help="the images of variants 0, 1 and 2")
    args = ap.parse_args()
    failed = False
    for variant, elf in enumerate(args.elfs):
        out, status = run(args.qemu, elf, 2, f"{args.work}/run{variant}.log", args.append)
        problems = check_variant(variant, out, status)
        print(out.rstrip())
        print(f"variant {variant}: QEMU exit status {status}: " + ("ok" if not problems else "; ".join(problems)))
        failed |= bool(problems)
    out, status = run(args.qemu, args.elfs[0], 1, f"{args.work}/run-smp1.log", args.append)
    refused = status not in (0, "timeout") and "run QEMU with -smp 2" in out
    print(out.rstrip().splitlines()[-4:] and "\n".join(out.rstrip().splitlines()[-4:]))
    print(f"one CPU too few: QEMU exit status {status}: " + ("refused as required" if refused else "NOT refused"))
    failed |= not refused
    print("hyp-selftest-multi: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
