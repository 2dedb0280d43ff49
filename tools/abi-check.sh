#!/bin/sh
# ABI check of the built shared library against the committed baseline (abi/README.md):
#   sh tools/abi-check.sh [LIBRARY]      (default: $BUILD/libclipsurgery.so.0, BUILD=build)
# Fails when a change breaks existing callers: a removed or changed function or variable, a
# changed struct layout or enum value, a params-struct prefix changed (fields appended at the end
# of a size-first cs_*_params / cs_*_info struct are allowed: tools/abi_report.py judges the
# abidiff report). Pure additions pass. Also fails when an exported symbol has no version node (abi/libclipsurgery.map).
: "${BUILD:=build}"
lib=${1:-$BUILD/libclipsurgery.so.0}
base=abi/libclipsurgery.so.0.abi
command -v abidiff >/dev/null 2>&1 || { echo "abi-check: abidiff missing (apt-get install abigail-tools)" >&2; exit 1; }
[ -f "$lib" ] || { echo "abi-check: $lib not built" >&2; exit 1; }
report=$(abidiff --headers-dir2 include "$base" "$lib" 2>&1)
rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (status $rc):"; echo "$report"; exit 1
fi
if ! verdict=$(printf '%s\n' "$report" | python3 tools/abi_report.py) || [ $((rc & 8)) -ne 0 ]; then
    echo "abi-check: FAIL: incompatible ABI change against $base:"
    echo "$verdict"
    echo "(the whole abidiff report follows; an intended break needs a new MAJOR, see abi/README.md)"
    echo "$report"
    exit 1
fi
unversioned=$(objdump -T "$lib" | awk '$NF ~ /^cs_/ && $0 ~ / \.text| \.data| \.bss| \.rodata/ && $0 !~ /CS_[0-9]/ {print $NF}')
if [ -n "$unversioned" ]; then
    echo "abi-check: FAIL: exported without a version node (add them to abi/libclipsurgery.map):"
    echo "$unversioned"; exit 1
fi
added=$(printf '%s\n' "$report" | grep -c "^  \[A\]")
echo "abi-check: compatible with $base ($added addition(s))"
printf '%s\n' "$report" | grep "^  \[A\]" || true
exit 0
