#!/bin/sh
# Every dynamic symbol the shared library exports starts with cs_.
: "${BUILD:=build}"
so="$BUILD/libclipsurgery.so"
[ -f "$so" ] || { echo "FAIL: $so not built"; exit 1; }
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^cs_' || true)
n=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/' | grep -c ' cs_')
if [ -n "$bad" ]; then
    echo "FAIL: exported symbols without the cs_ prefix:"; echo "$bad"; exit 1
fi
[ "$n" -gt 5 ] || { echo "FAIL: only $n cs_ symbols exported"; exit 1; }
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
case "$soname" in libclipsurgery.so.[0-9]*) ;; *) echo "FAIL: SONAME '$soname'"; exit 1 ;; esac
echo "symbols: $n exported, all cs_-prefixed; SONAME $soname"
# every call the header declares is exported, under a version node (abi/libclipsurgery.map)
hdr_calls=$(sed -n 's/^CS_API[^(]*[ *]\(cs_[a-z0-9_]*\)(.*/\1/p' include/clipsurgery.h | sort -u)
[ -n "$hdr_calls" ] || { echo "FAIL: no CS_API calls parsed from the header"; exit 1; }
exported=$(objdump -T "$so" | awk '$NF ~ /^cs_/ && $0 ~ /CS_[0-9]/ {print $NF}' | sort -u)
missing=$(printf '%s\n' "$hdr_calls" | while read -r f; do printf '%s\n' "$exported" | grep -qx "$f" || echo "$f"; done)
if [ -n "$missing" ]; then
    echo "FAIL: declared in the header but not exported with a version (add to abi/libclipsurgery.map):"
    echo "$missing"; exit 1
fi
echo "symbols: all $(printf '%s\n' "$hdr_calls" | wc -l) header calls exported with a version node"
