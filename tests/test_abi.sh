#!/bin/sh
# The built library keeps the ABI of abi/libclipsurgery.so.0.abi (tools/abi-check.sh), and the
# check itself can fail: a copy of the baseline with one enum value changed must be refused.
: "${BUILD:=build}"
if [ "${SAN:-}" = 1 ]; then echo "abi: skipped in the sanitizer build (checked in the normal build)"; exit 0; fi
sh tools/abi-check.sh "$BUILD/libclipsurgery.so.0" || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# a baseline in which CS_ATTN_VV was 5: today's value 1 must read as a changed enumerator
sed "s/<enumerator name='CS_ATTN_VV' value='1'\/>/<enumerator name='CS_ATTN_VV' value='5'\/>/" \
    abi/libclipsurgery.so.0.abi > "$tmp/base.abi"
cmp -s "$tmp/base.abi" abi/libclipsurgery.so.0.abi && { echo "FAIL: abi test could not alter the baseline"; exit 1; }
mkdir -p "$tmp/abi" && cp "$tmp/base.abi" "$tmp/abi/libclipsurgery.so.0.abi" && cp abi/suppressions.abignore "$tmp/abi/"
lib=$(cd "$(dirname "$BUILD/libclipsurgery.so.0")" && pwd)/libclipsurgery.so.0
root=$(pwd)
if (cd "$tmp" && ln -s "$root/include" include && sh "$root/tools/abi-check.sh" "$lib" >/dev/null 2>&1); then
    echo "FAIL: abi-check accepted a changed enum value"; exit 1
fi
echo "abi: compatible with the baseline; a changed enum value is refused"
