#!/usr/bin/env bash
# System tests: boot real guests under hyp in QEMU (pytest + pexpect on
# Debian's /usr/bin/python3, DESIGN section 7).
set -u
cd "$(dirname "$0")/.."
if ! ls tests/system/test_*.py >/dev/null 2>&1; then
    echo "system: no system tests present"
    exit 0
fi
exec /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/system "$@"
