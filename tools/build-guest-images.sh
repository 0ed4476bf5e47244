#!/usr/bin/env bash
# Build the Debian guest: the arm64 kernel Image and a busybox initrd
# (gzip'd newc cpio), from Debian's own packages (DESIGN section 7).
#
#   tools/build-guest-images.sh [--out DIR]
#
# Built images are cached in $LIBVMM_CACHE/guest/<key>/, where the key hashes
# the package versions and every input file of this build, so a clean
# checkout reuses them. With --out, Image and initrd.cpio.gz are copied to DIR,
# and only rewritten when their contents change (make then relinks nothing).
#
# No root needed: the archive is written with `cpio -R 0:0`, and device nodes
# come from devtmpfs at boot.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
guest_src=$here/examples/linux/guest
cache=${LIBVMM_CACHE:-$HOME/.cache/libvmm}
out=

# Layout of the guest (Linux booting.rst; mk/guest.mk holds the addresses):
# the initrd sits at 0x5c000000 and must end below the DTB at 0x5fe00000.
readonly INITRD_LIMIT=$((60 << 20))
readonly REPRO_EPOCH=1700000000

note() { echo "build-guest-images: $*" >&2; }
die() {
    note "$*"
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift 2 ;;
    *) die "unknown option $1" ;;
    esac
done

# Files whose content decides the images. gen-dts.sh only shapes the DTB.
inputs=(
    "$here/tools/build-guest-images.sh"
    "$guest_src/init" "$guest_src/inittab" "$guest_src/rcS" "$guest_src/profile"
    "$guest_src/smoke-check" "$guest_src/modules"
)

eval "$("$here/tools/fetch-guest-debs.sh")"
[ -n "${KERNEL_DEB:-}" ] && [ -n "${BUSYBOX_DEB:-}" ] || die "fetch-guest-debs.sh named no packages"

key=$({
    basename "$KERNEL_DEB"
    basename "$BUSYBOX_DEB"
    sha256sum "${inputs[@]}" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
dest=$cache/guest/$key

# le32 FILE OFFSET / le64 FILE OFFSET: little-endian integers from a file.
le32() { od -An -t u4 -j "$2" -N 4 --endian=little "$1" | tr -d ' '; }
le64() { od -An -t u8 -j "$2" -N 8 --endian=little "$1" | tr -d ' '; }

# Linux Documentation/arch/arm64/booting.rst: the 64-byte Image header.
check_image() {
    local image=$1
    [ "$(od -An -c -j 56 -N 3 "$image" | tr -d ' ')" = ARM ] || die "$image has no arm64 Image magic at 0x38"
    printf 'text_offset=0x%x image_size=0x%x flags=0x%x\n' \
        "$(le64 "$image" 8)" "$(le64 "$image" 16)" "$(le64 "$image" 24)"
}

# The named modules and everything they depend on (modinfo `depends`), as
# paths relative to lib/modules/VERSION.
module_closure() {
    local moddir=$1
    shift
    local -A seen=()
    local queue=("$@") name path dep
    while [ ${#queue[@]} -gt 0 ]; do
        name=${queue[0]//-/_}
        queue=("${queue[@]:1}")
        [ -n "${seen[$name]:-}" ] && continue
        path=$(find "$moddir/kernel" -name "$name.ko*" -o -name "${name//_/-}.ko*" | head -n 1)
        if [ -z "$path" ]; then
            grep -q "/${name}.ko" "$moddir/modules.builtin" && { seen[$name]=builtin; continue; }
            die "module $name is neither in the package nor built in"
        fi
        seen[$name]=${path#"$moddir"/}
        for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
            queue+=("$dep")
        done
    done
    for name in "${!seen[@]}"; do
        [ "${seen[$name]}" = builtin ] || echo "${seen[$name]}"
    done | sort
}

build() {
    local work=$1
    local pkg=$work/pkg root=$work/root
    mkdir -p "$pkg" "$root"

    note "unpacking $(basename "$KERNEL_DEB")"
    dpkg-deb -x "$KERNEL_DEB" "$pkg"
    dpkg-deb -x "$BUSYBOX_DEB" "$work/busybox"

    local vmlinuz version
    vmlinuz=$(ls "$pkg"/boot/vmlinuz-* | head -n 1)
    version=${vmlinuz##*/vmlinuz-}
    # Debian's arm64 vmlinuz is an uncompressed Image; accept a gzip'd one too.
    if [ "$(od -An -t x1 -N 2 "$vmlinuz" | tr -d ' ')" = 1f8b ]; then
        gzip -dc "$vmlinuz" >"$work/Image"
    else
        cp "$vmlinuz" "$work/Image"
    fi
    local header
    header=$(check_image "$work/Image")

    # Root file system.
    mkdir -p "$root"/{bin,sbin,etc/init.d,proc,sys,dev,tmp,run,root,usr/bin,usr/sbin,lib/modules}
    cp "$work/busybox/bin/busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    ln -s ../bin/busybox "$root/sbin/init"
    install -m 0755 "$guest_src/init" "$root/init"
    install -m 0644 "$guest_src/inittab" "$root/etc/inittab"
    install -m 0755 "$guest_src/rcS" "$root/etc/init.d/rcS"
    install -m 0644 "$guest_src/profile" "$root/etc/profile"
    install -m 0755 "$guest_src/smoke-check" "$root/usr/bin/libvmm-smoke"
    echo libvmm >"$root/etc/hostname"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    chmod 1777 "$root/tmp"
    chmod 0700 "$root/root"

    # Modules, their dependencies, and Debian's depmod over them.
    local moddir=$pkg/lib/modules/$version rel
    local -a wanted
    mapfile -t wanted < <(grep -v '^[[:space:]]*\(#\|$\)' "$guest_src/modules")
    mkdir -p "$root/lib/modules/$version"
    cp "$moddir"/modules.builtin "$moddir"/modules.builtin.modinfo "$moddir"/modules.order \
        "$root/lib/modules/$version/"
    for rel in $(module_closure "$moddir" "${wanted[@]}"); do
        install -D -m 0644 "$moddir/$rel" "$root/lib/modules/$version/$rel"
    done
    depmod -b "$root" "$version"
    [ -s "$root/lib/modules/$version/modules.dep" ] || die "depmod wrote no modules.dep"

    # newc cpio, owned by root, in a stable order with stable times.
    find "$root" -exec touch -h -d "@$REPRO_EPOCH" {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 >"$work/initrd.cpio.gz"

    local initrd_size
    initrd_size=$(stat -c %s "$work/initrd.cpio.gz")
    [ "$initrd_size" -le "$INITRD_LIMIT" ] ||
        die "initrd is $initrd_size bytes: more than the 60 MiB between 0x5c000000 and the DTB"

    {
        echo "kernel_package=$(basename "$KERNEL_DEB")"
        echo "busybox_package=$(basename "$BUSYBOX_DEB")"
        echo "kernel_version=$version"
        echo "kernel_bytes=$(stat -c %s "$work/Image")"
        echo "$header"
        echo "initrd_bytes=$initrd_size"
        echo "initrd_files=$(find "$root" -mindepth 1 | wc -l)"
        echo "modules=$(find "$root/lib/modules" -name '*.ko' -printf '%f ' | sed 's/\.ko//g')"
    } >"$work/manifest"
}

if [ ! -s "$dest/manifest" ]; then
    mkdir -p "$cache/guest"
    work=$(mktemp -d "$cache/guest/.build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    build "$work"
    mkdir -p "$dest"
    mv "$work/Image" "$work/initrd.cpio.gz" "$dest/"
    mv "$work/manifest" "$dest/manifest" # last: marks the entry complete
    note "built guest images in $dest"
    sed 's/^/  /' "$dest/manifest" >&2
fi

# Keep the few most recently used builds; each is about 35 MiB.
touch "$dest"
find "$cache/guest" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %p\n' | sort -rn |
    tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf

# copy_if_changed SRC DST: keep DST's time stamp when its contents match.
copy_if_changed() {
    cmp -s "$1" "$2" && return 0
    cp "$1" "$2.tmp"
    mv "$2.tmp" "$2"
}

if [ -n "$out" ]; then
    mkdir -p "$out"
    copy_if_changed "$dest/Image" "$out/Image"
    copy_if_changed "$dest/initrd.cpio.gz" "$out/initrd.cpio.gz"
    copy_if_changed "$dest/manifest" "$out/manifest"
fi
echo "GUEST_IMAGES=$dest"
