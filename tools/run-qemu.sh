#!/usr/bin/env bash
# Boot something on QEMU's virt board (cortex-a57: DESIGN section 3).
#
#   tools/run-qemu.sh [options] ELF
#       the linked hyp + VMM program, at EL2 (virtualization=on, -semihosting
#       so hyp can end QEMU with an exit status)
#   tools/run-qemu.sh --direct [options] --kernel IMAGE [--initrd FILE] [--dtb FILE]
#       the guest straight on QEMU without hyp (virtualization=off), to
#       compare against and to check guest images on their own. QEMU rewrites
#       /psci/method in the DTB to its own conduit (HVC here) and fills in
#       /chosen's initrd range itself.
#
# Options:
#   --interactive     console on stdio with QEMU's monitor multiplexed in
#                     (Ctrl-A X quits, Ctrl-A C for the monitor); for `make run`
#   --test            console on stdio, no monitor (default): for scripts
#   --smp N           CPUs (default $SMP or 1)
#   --gic 2|3         GIC version (default $GIC or 2)
#   --mem SIZE        RAM (default 1G; --direct: 512M, the guest DTB's size)
#   --log LEVEL       hyp's log level, passed as `-append hyp.log=LEVEL`
#                     (default $HYP_LOG; empty: hyp's default, off)
#   --gdb             wait for gdb on tcp::1234 (-s -S)
#   --disk FILE[:SERIAL]  a raw disk image as QEMU's virtio-blk-device with
#                     serial= SERIAL (default libvmm-disk<N>); repeatable
#   --net             QEMU user networking on a virtio-net-device (guest
#                     10.0.2.15, host 10.0.2.2)
#   --hostfwd SPEC    forward a host port into the guest, e.g.
#                     tcp:127.0.0.1:8080-:80; repeatable; implies --net
#   --console-socket PATH  a virtconsole whose host side is a Unix socket
#                     at PATH (QEMU listens; connect to talk to the guest);
#                     repeatable: one virtio-serial device each, in order
#                     (with two guests the first is guest 0's hvc0, the
#                     second guest 1's console; tools/attach-console.py)
#   --dry-run         print the QEMU command line instead of running it
#   -- ARGS...        extra QEMU arguments
#
# QEMU replaces this script's process, so its exit status is the script's:
# 0 when the guest powers off, non-zero for a hyp panic or a failed VMM.
set -euo pipefail

die() {
    echo "run-qemu: $*" >&2
    exit 2
}

mode="test" direct=0 smp=${SMP:-1} gic=${GIC:-2} mem="" log=${HYP_LOG:-} gdb=0 dry=0
kernel="" initrd="" dtb="" elf=""
extra=() disks=() hostfwds=() console_sockets=()
net=0

while [ $# -gt 0 ]; do
    case "$1" in
    --interactive) mode=interactive; shift ;;
    --test) mode="test"; shift ;;
    --direct) direct=1; shift ;;
    --smp) smp=$2; shift 2 ;;
    --gic) gic=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --gdb) gdb=1; shift ;;
    --dry-run) dry=1; shift ;;
    --kernel) kernel=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --disk) disks+=("$2"); shift 2 ;;
    --net) net=1; shift ;;
    --hostfwd) hostfwds+=("$2"); net=1; shift 2 ;;
    --console-socket) console_sockets+=("$2"); shift 2 ;;
    --dtb) dtb=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -*) die "unknown option $1 (see the comment at the top of $0)" ;;
    *) [ -z "$elf" ] || die "more than one program given: $elf $1"; elf=$1; shift ;;
    esac
done

[ "$gic" = 2 ] || [ "$gic" = 3 ] || die "--gic must be 2 or 3"
[[ "$smp" =~ ^[1-8]$ ]] || die "--smp must be 1..8"

cmd=(qemu-system-aarch64 -cpu cortex-a57 -smp "$smp" -nodefaults -display none)

if [ "$mode" = interactive ]; then
    cmd+=(-serial mon:stdio)
else
    cmd+=(-serial stdio -monitor none)
fi

if [ "$direct" = 1 ]; then
    [ -n "$kernel" ] || die "--direct needs --kernel"
    [ -z "$elf" ] || die "--direct boots --kernel, not $elf"
    cmd+=(-M "virt,virtualization=off,gic-version=$gic" -m "${mem:-512M}" -kernel "$kernel")
    [ -z "$initrd" ] || cmd+=(-initrd "$initrd")
    [ -z "$dtb" ] || cmd+=(-dtb "$dtb")
else
    [ -n "$elf" ] || die "no program to boot (give the hyp + VMM ELF, or --direct --kernel ...)"
    [ -z "$kernel$initrd$dtb" ] || die "--kernel/--initrd/--dtb go with --direct; the ELF carries its images"
    cmd+=(-M "virt,virtualization=on,gic-version=$gic" -m "${mem:-1G}" -kernel "$elf")
    cmd+=(-semihosting)
    [ -z "$log" ] || cmd+=(-append "hyp.log=$log")
fi

# QEMU's own virtio devices (DESIGN section 7): modern transports only; the
# first -device lands in the highest virtio-mmio slot, so hyp binds disks by
# serial, not by slot.
cmd+=(-global virtio-mmio.force-legacy=false)
for i in "${!disks[@]}"; do
    file=${disks[$i]%%:*}
    serial=libvmm-disk$i
    [ "$file" = "${disks[$i]}" ] || serial=${disks[$i]#*:}
    [ -f "$file" ] || die "disk image $file does not exist"
    cmd+=(-drive "file=$file,if=none,format=raw,id=disk$i" -device "virtio-blk-device,drive=disk$i,serial=$serial")
done
if [ "$net" = 1 ]; then
    netdev=user,id=net0
    for f in "${hostfwds[@]}"; do netdev+=",hostfwd=$f"; done
    cmd+=(-netdev "$netdev" -device virtio-net-device,netdev=net0)
fi
# Each virtconsole on its own virtio-serial device (bus=): port 0, no MULTIPORT needed.
for i in "${!console_sockets[@]}"; do
    cmd+=(-device "virtio-serial-device,id=vser$i"
        -chardev "socket,id=vcon$i,path=${console_sockets[$i]},server=on,wait=off"
        -device "virtconsole,chardev=vcon$i,bus=vser$i.0")
done

[ "$gdb" = 0 ] || cmd+=(-s -S)
cmd+=("${extra[@]}")

if [ "$dry" = 1 ]; then
    printf '%q ' "${cmd[@]}"
    echo
    exit 0
fi
exec "${cmd[@]}"
