#!/usr/bin/env bash
# Install every host package the project needs, from Debian's archive only.
# Idempotent and quiet when nothing is missing (DESIGN section 7).
set -euo pipefail

packages=(
    make gcc gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu picolibc-aarch64-linux-gnu
    qemu-system-arm device-tree-compiler libfdt-dev libcmocka-dev
    python3-pytest python3-pexpect clang libclang-rt-14-dev
    kmod cpio e2fsprogs xz-utils zstd clang-format
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "install-deps: enabling the arm64 architecture for guest packages"
    dpkg --add-architecture arm64
    need_update=1
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

if [ ${#missing[@]} -gt 0 ] || [ -n "${need_update:-}" ]; then
    echo "install-deps: installing ${missing[*]:-(package lists only)}"
    "${sudo_cmd[@]}" apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
fi
