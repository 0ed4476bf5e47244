#!/usr/bin/python3
"""libvmm benchmarks: `make bench` and `make bench-guard` (bench/README.md).

  bench/bench.py --build DIR [--runs N] [--io-runs N] [--accept]   all figures,
      as a table, compared with bench/accepted.json (--accept: replace it with these)
  bench/bench.py --build DIR --io-only [--io-runs N] [--accept]   the I/O figures
      alone (--accept: replace those, keep the others)
  bench/bench.py --build DIR --guard                 exit-path instruction
      counts only; fails if one exceeds GUARD_FACTOR x its accepted value

Debian's /usr/bin/python3, standard library only."""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))

import io_bench  # noqa: E402
import measure  # noqa: E402
import sizes  # noqa: E402
from measure import BenchError  # noqa: E402

ACCEPTED = Path(__file__).resolve().parent / "accepted.json"
GUARD_FACTOR = 2.0
COUNT_BAND = 0.05  # instruction counts and sizes: a change beyond 5% is reported
# I/O figures: noisier than anything else here (the host's page cache, slirp,
# TCG threads on a shared machine), so a move must also exceed this fraction.
IO_TIME_BAND = 0.25
# Exits and interrupts per MiB: counts, but not deterministic (interrupt
# coalescing and timer ticks depend on timing), so a wider band than 5%.
IO_COUNT_BAND = 0.25

# I/O rows (bench/io_bench.py steps): key, label.
IO_ROWS = [
    ("seq-read", "virtio-blk sequential read, 1 MiB O_DIRECT requests, MiB/s"),
    ("seq-write", "virtio-blk sequential write, 1 MiB O_DIRECT requests, MiB/s"),
    ("rand-read", "virtio-blk 4 KiB random read, O_DIRECT, one at a time, IOPS"),
    ("rand-write", "virtio-blk 4 KiB random write, O_DIRECT, one at a time, IOPS"),
    ("tcp-send", "virtio-net TCP guest -> host (10.0.2.2 = 127.0.0.1), MiB/s"),
    ("tcp-recv", "virtio-net TCP host -> guest (127.0.0.1 hostfwd), MiB/s"),
]

# Exit-path rows of tests/guests/bench_exits.c: key, label, KVM anchor key.
EXIT_ROWS = [
    ("hvc", "null HVC (SMCCC id 0x8600ff00 -> NOT_SUPPORTED)", "hvc"),
    ("smc", "null SMC (same id over SMC)", None),
    ("mmio", "MMIO read of a VMM-emulated device (GICD_TYPER: the vGIC until virtio lands)", "mmio"),
    ("gicd", "vGIC distributor read (GICD_ISENABLER0)", "gicd"),
    ("sgi", "virtual IRQ: self-SGI via GICD_SGIR -> handler IAR + EOIR, incl. maintenance exit", None),
    ("ipi", "IPI round trip between two vCPUs: SGI to vCPU 1, its handler EOIs and SGIs back (2 vCPUs)", "ipi"),
]
# The IPI row runs on its own machine with this many vCPUs; every other row on one with a single vCPU.
IPI_CPUS = 2

# DESIGN section 8: Linux KVM 6.1 + kvmtool nested on this QEMU, instructions per round trip.
KVM_NVHE = {"hvc": 1495, "gicd": 2330, "mmio": 6250, "ipi": 5670}
KVM_VHE = {"hvc": 1000, "gicd": 1840, "mmio": 5930, "ipi": 4700}
# Goal (DESIGN 8): at least this many times shorter than KVM's best.
GOAL = {"hvc": 4, "gicd": 4, "mmio": 10, "ipi": 4}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def machine_info():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Model"):
                model = value.strip()
                break
    except OSError:
        pass
    qemu = subprocess.run(["qemu-system-aarch64", "--version"], stdout=subprocess.PIPE, text=True,
                          check=False).stdout.splitlines()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "qemu": qemu[0] if qemu else "unknown",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- measuring ---------------------------------------------------------------------------------------


def build_exits(b):
    """The exit-path guest, and it linked with hyp + the VMM for one vCPU and for IPI_CPUS."""
    exits_bin = b.testguest("bench_exits")
    return exits_bin, b.image("bench-exits", exits_bin, ""), b.image("bench-exits-ipi", exits_bin, "", vcpus=IPI_CPUS)


def exits_hyp(elf, ipi_elf):
    return measure.with_ipi(measure.run_exits_hyp(elf), measure.run_exits_hyp(ipi_elf, cpus=IPI_CPUS))


def collect(b, runs, io_runs, io_only):
    r = {"machine": machine_info(), "runs": runs}
    info = b.guest_info()
    kernel, initrd = info["GUEST_KERNEL"], info["GUEST_INITRD"]
    if io_only:
        r["io"] = collect_io(b, info, io_runs)
        b.restore_default_image()
        return r

    log("bench: exit path (bench_exits, -icount)")
    exits_bin, exits_elf, ipi_elf = build_exits(b)
    direct = measure.with_ipi(measure.run_exits_direct(exits_bin), measure.run_exits_direct(exits_bin, cpus=IPI_CPUS))
    r["exits"] = {"hyp": exits_hyp(exits_elf, ipi_elf), "direct": direct}

    log("bench: instructions before the guest's first instruction (bench_boot, -icount)")
    boot_bin = b.testguest("bench_boot")
    padded = measure.padded_copy(boot_bin, b.out / "bench_boot-padded.bin", os.path.getsize(kernel))
    r["boot_instr"] = {
        "direct": measure.run_boot_instr_direct(boot_bin),
        "hyp_min": measure.run_boot_instr_hyp(b.image("bench-boot-min", boot_bin, "")),
        "hyp_full": measure.run_boot_instr_hyp(b.image("bench-boot-full", padded, initrd)),
        # Bytes the loader copies in each (the DTB, the same in both, aside).
        "min_bytes": os.path.getsize(boot_bin),
        "full_bytes": os.path.getsize(padded) + os.path.getsize(initrd),
        "full_kernel": os.path.getsize(padded),
        "full_initrd": os.path.getsize(initrd),
    }

    log(f"bench: boot to the first userspace line, {runs} x (hyp, direct) alternating")
    cmdline = f"{info['GUEST_DEFAULT_CMDLINE']} {measure.SMOKE_ARG}"
    smoke_elf = b.image("bench-smoke", kernel, initrd, cmdline)
    # The DTB just built for that command line, for the direct boot too.
    dtb = b.out / "bench-smoke.dtb"
    dtb.write_bytes(Path(b.guest_info(f"CMDLINE={cmdline}")["GUEST_DTB"]).read_bytes())
    hyp_t, direct_t, ratio = measure.boot_wall_times(smoke_elf, kernel, initrd, dtb, runs, log)
    r["boot_wall"] = {"hyp": hyp_t, "direct": direct_t, "ratio": ratio, "cmdline": cmdline}
    r["loader"] = {"kernel": os.path.getsize(kernel), "initrd": os.path.getsize(initrd),
                   "dtb": os.path.getsize(dtb)}

    if io_runs:
        r["io"] = collect_io(b, info, io_runs)

    log("bench: sizes")
    r["size"] = sizes.measure(b.build, exits_elf)
    b.restore_default_image()
    return r


def collect_io(b, info, runs):
    log(f"bench: I/O, {runs} x (hyp, direct) alternating, then one hyp run counting exits")
    io = io_bench.collect(b, info, runs, log)
    # The load while the I/O ran (other people's jobs share the machine).
    io["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return io


# --- figures and the regression check --------------------------------------------------------------


def figures(r):
    """Flat name -> figure; kind 'count' (deterministic, 5% band unless 'band' says
    otherwise) or 'time' (median/lo/hi; with 'band', also a relative threshold)."""
    f = io_figures(r["io"]) if "io" in r else {}
    if "exits" not in r:
        return f
    for env, rows in r["exits"].items():
        for name, v in rows.items():
            if isinstance(v, float) and name != "loop":
                f[f"exits.{env}.{name}"] = {"kind": "count", "value": v}
    for k in ("direct", "hyp_min", "hyp_full"):
        f[f"boot.instr.{k}"] = {"kind": "count", "value": r["boot_instr"][k]}
    for k, v in r["loader"].items():
        f[f"boot.bytes.{k}"] = {"kind": "count", "value": v}
    for k in ("hyp", "direct", "ratio"):
        f[f"boot.wall.{k}"] = dict(kind="time", **{x: r["boot_wall"][k][x] for x in ("median", "lo", "hi", "n")})
    for group, v in r["size"]["loc"].items():
        f[f"size.loc.{group}"] = {"kind": "count", "value": v["code"]}
    for part in ("libvmm", "hyp_objs", "program"):
        for sec, v in r["size"][part].items():
            if sec != "images":
                f[f"size.{part}.{sec}"] = {"kind": "count", "value": v}
    return f


def io_figures(io):
    f = {}
    for key, _ in IO_ROWS:
        st = io["steps"][key]
        for env in ("hyp", "direct", "ratio"):
            f[f"io.{key}.{env}"] = dict(kind="time", band=IO_TIME_BAND,
                                        **{x: st[env][x] for x in ("median", "lo", "hi", "n")})
        for env in ("hyp", "direct"):
            f[f"io.{key}.irq_per_mib.{env}"] = {"kind": "count", "band": IO_COUNT_BAND,
                                                "value": st[f"irq_all_per_mib.{env}"]}
        f[f"io.{key}.exits_per_mib.hyp"] = {"kind": "count", "band": IO_COUNT_BAND,
                                            "value": io["exits"][key]["total"]}
    return f


def moved(new, old):
    """Why figure `new` moved beyond its noise band from `old`, or None."""
    if new["kind"] == "time":
        # Timings: outside each other's min-max spread (both runs' noise), and
        # for the I/O figures also by more than their relative band.
        outside = not old["lo"] <= new["median"] <= old["hi"] and not new["lo"] <= old["median"] <= new["hi"]
        if outside and new.get("band") and old["median"]:
            outside = abs(new["median"] - old["median"]) / abs(old["median"]) > new["band"]
        if outside:
            return (f"{old['median']:.2f} -> {new['median']:.2f} (accepted spread {old['lo']:.2f}-{old['hi']:.2f}, "
                    f"now {new['lo']:.2f}-{new['hi']:.2f})")
        return None
    a, b = old["value"], new["value"]
    if a == b or (a and abs(b - a) / abs(a) <= new.get("band", COUNT_BAND)):
        return None
    change = f"{(b - a) / a:+.1%}" if a else "was 0"
    prec = 0 if max(abs(a), abs(b)) >= 100 else 2
    return f"{a:,.{prec}f} -> {b:,.{prec}f} ({change})"


def in_scope(name, scope):
    """Whether figure `name` was measured: scope "all", "io" (--io-only) or "no-io" (--io-runs 0)."""
    return scope == "all" or (scope == "io") == name.startswith("io.")


def compare(figs, accepted, scope="all"):
    """Moved figures; accepted figures out of this run's scope are left out."""
    if not accepted:
        return ["no accepted figures yet (make bench-accept records these)"]
    old = {k: v for k, v in accepted["figures"].items() if in_scope(k, scope)}
    out = []
    new = [name for name in figs if name not in old]
    if new:
        out.append(f"new figures, not accepted yet: {', '.join(new)}")
    for name, fig in figs.items():
        if name in new:
            continue
        if old[name]["kind"] != fig["kind"]:
            out.append(f"{name}: kind changed")
        else:
            why = moved(fig, old[name])
            if why:
                out.append(f"{name}: {why}")
    out += [f"{name}: no longer measured" for name in old if name not in figs]
    return out


def load_accepted():
    try:
        return json.loads(ACCEPTED.read_text())
    except FileNotFoundError:
        return None


def save_accepted(r, figs, scope="all"):
    """Record these figures; keep the accepted ones out of this run's scope."""
    rounded = {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in fig.items()}
               for name, fig in figs.items()}
    machine = dict(r["machine"])
    old = load_accepted()
    if scope != "all" and old:
        rounded = {**{k: v for k, v in old["figures"].items() if not in_scope(k, scope)}, **rounded}
    if scope == "io" and old:
        machine = dict(old["machine"])
    elif scope == "no-io" and old and "io" in old["machine"]:
        machine["io"] = old["machine"]["io"]
    if "io" in r:
        # The I/O figures' own date and load (io-only runs keep the others' machine).
        machine["io"] = {**{k: v for k, v in r["machine"].items() if k != "io"}, "load": r["io"]["load"]}
    ACCEPTED.write_text(json.dumps({"machine": machine, "figures": rounded}, indent=1, sort_keys=True) + "\n")


# --- the table -------------------------------------------------------------------------------------


def fmt_instr(v):
    return f"{v:,.0f}" if isinstance(v, float) else v


def exit_table(r):
    hyp, direct = r["exits"]["hyp"], r["exits"]["direct"]
    lines = [
        "| round trip | hyp + libvmm | QEMU direct | KVM nVHE | KVM VHE | KVM best / ours | goal |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label, anchor in EXIT_ROWS:
        ours, theirs = hyp.get(key, "missing"), direct.get(key, "missing")
        nvhe = f"{KVM_NVHE[anchor]:,}" if anchor else "-"
        vhe = f"{KVM_VHE[anchor]:,}" if anchor else "-"
        ratio = goal = "-"
        if anchor and isinstance(ours, float) and ours > 0:
            x = min(KVM_NVHE[anchor], KVM_VHE[anchor]) / ours
            ratio = f"{x:.1f}x"
            goal = f"{GOAL[anchor]}x: {'met' if x >= GOAL[anchor] else 'not yet'}"
        elif anchor:
            goal = f"{GOAL[anchor]}x"
        ours = fmt_instr(ours) if isinstance(ours, float) else f"n/a ({ours})"
        theirs = fmt_instr(theirs) if isinstance(theirs, float) else f"n/a ({theirs})"
        lines.append(f"| {label} | {ours} | {theirs} | {nvhe} | {vhe} | {ratio} | {goal} |")
    return lines


def fmt_time(t):
    return f"{t['median']:.2f} s ({t['lo']:.2f}-{t['hi']:.2f})"


def boot_table(r):
    w, bi = r["boot_wall"], r["boot_instr"]
    ld = r["loader"]
    total = ld["kernel"] + ld["dtb"] + ld["initrd"]
    copied = bi["full_bytes"] - bi["min_bytes"]
    per_byte = (bi["hyp_full"] - bi["hyp_min"]) / copied if copied else 0
    ratio = w["ratio"]
    return [
        "| boot | hyp (A) | direct (B) | A/B |",
        "|---|---:|---:|---:|",
        f"| wall time to the first userspace line, median (min-max) of {w['hyp']['n']} | {fmt_time(w['hyp'])} "
        f"| {fmt_time(w['direct'])} | {ratio['median']:.2f} ({ratio['lo']:.2f}-{ratio['hi']:.2f}) |",
        f"| instructions before the guest's first instruction, tiny guest | {bi['hyp_min']:,} | {bi['direct']:,} | - |",
        f"| the same with Linux-sized images copied ({bi['full_kernel']:,} + {bi['full_initrd']:,} B) "
        f"| {bi['hyp_full']:,} | - | - |",
        f"| loader copy cost, instructions per byte | {per_byte:.2f} | - | - |",
        f"| bytes copied by the loader: Image {ld['kernel']:,} + DTB {ld['dtb']:,} + initrd {ld['initrd']:,} "
        f"| {total:,} | - | - |",
    ]


def size_table(r):
    loc, s = r["size"]["loc"], r["size"]
    p = s["program"]
    lines = [
        "| size | files | lines | code lines |",
        "|---|---:|---:|---:|",
    ]
    for group, what in (("library", "library (src/, include/)"), ("hyp", "hyp (hyp/)"),
                        ("tests", "tests (tests/)"), ("examples", "examples (examples/)")):
        v = loc[group]
        lines.append(f"| {what} | {v['files']} | {v['lines']:,} | {v['code']:,} |")
    lines += [
        "",
        "| aarch64 binary | text | data | bss |",
        "|---|---:|---:|---:|",
        f"| libvmm.a (size -t; text includes rodata) | {s['libvmm']['text']:,} | {s['libvmm']['data']:,} "
        f"| {s['libvmm']['bss']:,} |",
        f"| hyp objects (size -t of $(BUILD)/hyp/*.o) | {s['hyp_objs']['text']:,} | {s['hyp_objs']['data']:,} "
        f"| {s['hyp_objs']['bss']:,} |",
        f"| hyp + VMM program, guest images excluded: .text + .rodata ({p['text']:,} + {p['rodata']:,}) "
        f"| {p['text'] + p['rodata']:,} | {p['data']:,} | {p['bss']:,} |",
    ]
    return lines


def fmt_rate(t, unit):
    prec = 0 if unit == "iops" else 1
    return f"{t['median']:,.{prec}f} ({t['lo']:,.{prec}f}-{t['hi']:,.{prec}f})"


def io_table(r):
    io = r["io"]
    st, ex = io["steps"], io["exits"]
    z = io["sizes"]
    n = st[IO_ROWS[0][0]]["hyp"]["n"]
    lines = [
        f"I/O inside the guest (A = under hyp, the VMM's virtio devices backed by QEMU's; B = the same guest "
        f"booted directly by QEMU with the same QEMU devices; median (min-max) of {n} runs each, A and B "
        f"alternating; A/B per pair, above 1 = faster under hyp; load average {io['load']} after the runs). "
        f"Sizes: {z['seq_mib']} MiB sequential, {z['rand_count']:,} random 4 KiB requests over a "
        f"{z['disk_mib']} MiB raw disk, {z['tcp_mib']} MiB per TCP direction.",
        "",
        "| I/O | hyp (A) | direct (B) | A/B |",
        "|---|---:|---:|---:|",
    ]
    for key, label in IO_ROWS:
        x = st[key]
        ratio = x["ratio"]
        lines.append(f"| {label} | {fmt_rate(x['hyp'], x['unit'])} | {fmt_rate(x['direct'], x['unit'])} "
                     f"| {ratio['median']:.2f} ({ratio['lo']:.2f}-{ratio['hi']:.2f}) |")
    lines += [
        "",
        "Per MiB transferred: guest exits under hyp (exceptions from EL0/EL1 to EL2 in QEMU's `-d int` log, "
        "one extra run, minus a no-op command's), and interrupts the guest took (/proc/interrupts; "
        "under hyp every one of them was injected by the VMM), medians of the timed runs:",
        "",
        "| per MiB | exits (A) | of which MMIO | IRQ | other | virtio IRQs (A) | all IRQs (A) "
        "| virtio IRQs (B) | all IRQs (B) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in IO_ROWS:
        e, x = ex[key], st[key]
        name = label.rsplit(",", 1)[0]
        lines.append(f"| {name} | {e['total']:,.1f} | {e['mmio']:,.1f} | {e['irq']:,.1f} "
                     f"| {e['hvc_smc'] + e['other']:,.1f} | {x['irq_virtio_per_mib.hyp']:,.1f} "
                     f"| {x['irq_all_per_mib.hyp']:,.1f} | {x['irq_virtio_per_mib.direct']:,.1f} "
                     f"| {x['irq_all_per_mib.direct']:,.1f} |")
    return lines


def render(r, changes, accepted):
    m = r["machine"]
    out = [
        "### Benchmarks (`make bench`; bench/README.md explains each figure)",
        "",
        f"Measured {m['date']} on {m['nproc']} CPUs, {m['cpu']}, {m['qemu']} (load average {m['load']}).",
        "",
    ]
    if "exits" in r:
        out += [
            "Exit path, instructions per round trip (`qemu -icount shift=0,sleep=off`: deterministic):",
            "",
            *exit_table(r),
            "",
            "Boot (Debian's kernel and initrd, `nokaslr`, to the first line its userspace prints):",
            "",
            *boot_table(r),
            "",
        ]
    if "io" in r:
        out += [*io_table(r), ""]
    if "size" in r:
        out += [*size_table(r), ""]
    since = ""
    if accepted:
        # An --io-only run compares with the I/O figures' own date.
        m_acc = accepted["machine"].get("io", accepted["machine"]) if "exits" not in r else accepted["machine"]
        since = f" (accepted {m_acc['date']})"
    if changes:
        out.append(f"Moved beyond the noise band since bench/accepted.json{since}:")
        out += [f"- {c}" for c in changes]
    else:
        out.append(f"No figure moved beyond its noise band since bench/accepted.json{since}.")
    return "\n".join(out)


# --- the guard -------------------------------------------------------------------------------------


def guard(b):
    start = time.monotonic()
    accepted = load_accepted()
    if not accepted:
        log(f"bench-guard: FAIL: {ACCEPTED} is missing")
        return 1
    _, elf, ipi_elf = build_exits(b)
    rows = exits_hyp(elf, ipi_elf)
    b.restore_default_image()
    failed = False
    for key, label, _ in EXIT_ROWS:
        old = accepted["figures"].get(f"exits.hyp.{key}")
        if not old:
            continue
        new = rows.get(key)
        if not isinstance(new, float):
            print(f"bench-guard: FAIL {key}: no count ({new})")
            failed = True
            continue
        ceiling = GUARD_FACTOR * old["value"]
        verdict = "ok" if new <= ceiling else "FAIL"
        failed |= new > ceiling
        print(f"bench-guard: {verdict} {key}: {new:,.0f} instructions (accepted {old['value']:,.0f}, "
              f"ceiling {ceiling:,.0f}) {label}")
    print(f"bench-guard: {'FAIL' if failed else 'PASS'} in {time.monotonic() - start:.1f} s")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5, help="boots of each of A and B (default 5)")
    ap.add_argument("--accept", action="store_true", help="record these figures in bench/accepted.json")
    ap.add_argument("--guard", action="store_true", help="exit-path counts against 2x the accepted ones")
    ap.add_argument("--io-runs", type=int, default=3, help="I/O machines of each of A and B (default 3; 0: no I/O)")
    ap.add_argument("--io-only", action="store_true", help="the I/O figures alone")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.io_runs < (1 if args.io_only else 0):
        ap.error("--io-runs must be at least 1 with --io-only, else at least 0")
    scope = "io" if args.io_only else "all" if args.io_runs else "no-io"
    b = measure.Builder(args.build)
    try:
        if args.guard:
            return guard(b)
        r = collect(b, args.runs, args.io_runs, args.io_only)
    except BenchError as e:
        log(f"bench: FAIL: {e}")
        return 1
    figs = figures(r)
    accepted = load_accepted()
    (b.out / ("results-io.json" if args.io_only else "results.json")).write_text(json.dumps(r, indent=1) + "\n")
    print(render(r, compare(figs, accepted, scope), accepted))
    if args.accept:
        save_accepted(r, figs, scope)
        log(f"bench: figures recorded in {ACCEPTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
