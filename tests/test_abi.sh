#!/bin/sh
# The built library keeps the ABI of abi/libclipsurgery.so.0.abi (tools/abi-check.sh), and the
# check itself can fail: copies of the baseline with one enum value changed, and with two members
# of a params struct swapped, must be refused.
: "${BUILD:=build}"
if [ "${SAN:-}" = 1 ]; then echo "abi: skipped in the sanitizer build (checked in the normal build)"; exit 0; fi
sh tools/abi-check.sh "$BUILD/libclipsurgery.so.0" || exit 1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
lib=$(cd "$(dirname "$BUILD/libclipsurgery.so.0")" && pwd)/libclipsurgery.so.0
root=$(pwd)
refused() { # name, python edit of the baseline text t
    mkdir -p "$tmp/$1/abi" && ln -s "$root/include" "$tmp/$1/include" && ln -s "$root/tools" "$tmp/$1/tools"
    python3 - abi/libclipsurgery.so.0.abi "$tmp/$1/abi/libclipsurgery.so.0.abi" "$2" <<'PY' || { echo "FAIL: abi test could not alter the baseline ($1)"; exit 1; }
import re, sys
t = open(sys.argv[1]).read()
u = eval(sys.argv[3])
if u == t:
    sys.exit(1)
open(sys.argv[2], "w").write(u)
PY
    if (cd "$tmp/$1" && sh tools/abi-check.sh "$lib" >/dev/null 2>&1); then
        echo "FAIL: abi-check accepted $1"; exit 1
    fi
}
# a baseline in which CS_ATTN_VV was 5: today's value 1 reads as a changed enumerator
refused "a changed enum value" "t.replace(\"<enumerator name='CS_ATTN_VV' value='1'/>\", \"<enumerator name='CS_ATTN_VV' value='5'/>\")"
# a baseline in which cs_surgery_params had attention before n_blocks: a reordered layout
refused "swapped params members" "re.sub(r\"(<class-decl name='cs_surgery_params'.*?</class-decl>)\", lambda m: m.group(1).replace(\"layout-offset-in-bits='64'\", 'X').replace(\"layout-offset-in-bits='96'\", \"layout-offset-in-bits='64'\").replace('X', \"layout-offset-in-bits='96'\"), t, count=1, flags=re.S)"
echo "abi: compatible with the baseline; a changed enum value and swapped params members are refused"
