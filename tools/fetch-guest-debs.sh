#!/usr/bin/env bash
# Fetch the Debian packages the guest images are built from (DESIGN section 7):
# Debian's arm64 kernel (the version linux-image-arm64 currently depends on)
# and busybox-static:arm64. The .debs are cached in $LIBVMM_CACHE/debs, so a
# clean checkout does not download them again.
#
# Prints two lines on stdout, the paths of the kernel and busybox .debs:
#   KERNEL_DEB=<path>
#   BUSYBOX_DEB=<path>
#
# Without package lists (offline, no `apt-get update` yet) it falls back to
# the newest cached .debs and says so on stderr.
set -euo pipefail

cache=${LIBVMM_CACHE:-$HOME/.cache/libvmm}/debs
mkdir -p "$cache"

note() { echo "fetch-guest-debs: $*" >&2; }

# One apt-cache call (about a second each with arm64 lists): the candidate
# versions of the metapackage and busybox-static, and the kernel package the
# metapackage depends on ("Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)").
# Prints "PACKAGE VERSION" lines for the kernel package and busybox-static.
resolve_packages() {
    apt-cache show --no-all-versions linux-image-arm64:arm64 busybox-static:arm64 2>/dev/null |
        awk '
        /^Package:/ { pkg = $2 }
        /^Version:/ && pkg == "busybox-static" { print pkg, $2 }
        /^Depends:/ && pkg == "linux-image-arm64" {
            if (match($0, /linux-image-[0-9][^ ,]*-arm64 \(= [^)]*\)/)) {
                split(substr($0, RSTART, RLENGTH), f, /[ ()=]+/)
                print f[1], f[2]
            }
        }'
}

# apt-get download writes an epoch ':' as "%3a" in the file name.
deb_name() {
    local pkg=$1 version=$2
    echo "${pkg}_${version//:/%3a}_arm64.deb"
}

newest_cached() {
    ls -1 "$cache"/"$1"_*_arm64.deb 2>/dev/null | sort -V | tail -n 1
}

# fetch PKG VERSION: print the path of the cached .deb, downloading it if
# needed. An empty VERSION (no package lists) means the newest cached one.
fetch() {
    local pkg=$1 version=$2 deb
    if [ -z "$version" ]; then
        deb=$(newest_cached "$pkg")
        [ -n "$deb" ] || {
            note "apt knows no $pkg:arm64 and none is cached (run tools/install-deps.sh, then apt-get update)"
            return 1
        }
        note "no package lists for $pkg:arm64: using cached $(basename "$deb")"
        echo "$deb"
        return 0
    fi
    deb=$cache/$(deb_name "$pkg" "$version")
    if [ ! -s "$deb" ]; then
        note "downloading $pkg:arm64 $version"
        (cd "$cache" && apt-get download -q "$pkg:arm64=$version" >&2) || {
            note "apt-get download $pkg:arm64=$version failed"
            return 1
        }
    fi
    [ -s "$deb" ] || { note "expected $deb after download"; return 1; }
    echo "$deb"
}

kernel_pkg="" kernel_version="" busybox_version=""
while read -r pkg version; do
    case "$pkg" in
    busybox-static) busybox_version=$version ;;
    linux-image-*) kernel_pkg=$pkg kernel_version=$version ;;
    esac
done < <(resolve_packages)

if [ -z "$kernel_pkg" ]; then
    # Offline: the newest cached kernel package of any ABI.
    deb=$(ls -1 "$cache"/linux-image-[0-9]*-arm64_*_arm64.deb 2>/dev/null | sort -V | tail -n 1)
    [ -n "$deb" ] || { note "cannot resolve linux-image-arm64:arm64 and no kernel .deb is cached"; exit 1; }
    kernel_pkg=$(basename "$deb" | cut -d_ -f1)
    note "cannot resolve linux-image-arm64:arm64: using cached $kernel_pkg"
fi

kernel_deb=$(fetch "$kernel_pkg" "$kernel_version")
busybox_deb=$(fetch busybox-static "$busybox_version")
echo "KERNEL_DEB=$kernel_deb"
echo "BUSYBOX_DEB=$busybox_deb"
