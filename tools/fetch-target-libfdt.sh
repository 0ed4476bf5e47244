#!/usr/bin/env bash
# Unpack Debian's arm64 libfdt (static library + headers) for target builds.
# The .deb is cached under ~/.cache/libvmm (DESIGN section 7).
set -euo pipefail
dest=$1
cache=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/debs
mkdir -p "$cache"
deb=$(ls "$cache"/libfdt-dev_*_arm64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download libfdt-dev:arm64 >/dev/null 2>&1) || {
        echo "fetch-target-libfdt: apt-get download libfdt-dev:arm64 failed" >&2
        exit 1
    }
    deb=$(ls "$cache"/libfdt-dev_*_arm64.deb | head -n 1)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg -x "$deb" "$tmp"
mkdir -p "$dest/lib" "$dest/include"
cp "$tmp"/usr/lib/aarch64-linux-gnu/libfdt.a "$dest/lib/"
cp "$tmp"/usr/include/libfdt*.h "$tmp"/usr/include/fdt.h "$dest/include/"
