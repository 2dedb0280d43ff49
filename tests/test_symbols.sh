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
