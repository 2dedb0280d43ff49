#!/bin/sh
# The README's C and Python examples run as written (on the fixture model).
: "${BUILD:=build}" "${PYTHON:=python3}" "${CS_FIXTURES:=../shared/fixtures}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
if [ "${SAN:-}" = 1 ]; then echo "readme: skipped in the sanitizer build"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{f=1;next} /^```$/{f=0} f' README.md > "$tmp/heatmap.c"
awk '/^```python$/{f=1;next} /^```$/{f=0} f' README.md > "$tmp/example.py"
[ -s "$tmp/heatmap.c" ] && [ -s "$tmp/example.py" ] || { echo "FAIL: README examples not found"; exit 1; }
cc -std=c99 -Wall -Wextra -Werror -Iinclude "$tmp/heatmap.c" -o "$tmp/heatmap" "$BUILD/libclipsurgery.a" \
    $(pkg-config --libs openblas libpng libjpeg zlib libutf8proc jansson) -lpthread -lm || { echo "FAIL: README C example does not build"; exit 1; }
case "$CS_FIXTURES" in /*) fx="$CS_FIXTURES" ;; *) fx="$(pwd)/$CS_FIXTURES" ;; esac
(cd "$tmp" && ./heatmap "$fx/golden/tiny-hf-f16.safetensors" \
    "$fx/vocab/bpe_simple_vocab_16e6.txt.gz" "$fx/images/chelsea.png" cat sky) > "$tmp/c.out" \
    || { echo "FAIL: README C example failed"; cat "$tmp/c.out"; exit 1; }
grep -q "cat: overlay_0.png" "$tmp/c.out" && [ -s "$tmp/overlay_1.png" ] || { echo "FAIL: README C example output"; exit 1; }
# The example reads ../shared/fixtures and bindings/python relative to the repository root: run it
# from a folder laid out so (the fixtures may be elsewhere, e.g. from a worktree).
mkdir -p "$tmp/layout/repo" "$tmp/layout/shared"
ln -s "$fx" "$tmp/layout/shared/fixtures"
ln -s "$(pwd)/bindings" "$tmp/layout/repo/bindings"
case "$BUILD" in /*) lib="$BUILD" ;; *) lib="$(pwd)/$BUILD" ;; esac
(cd "$tmp/layout/repo" && CLIPSURGERY_LIBRARY="$lib/libclipsurgery.so.0" "$PYTHON" "$tmp/example.py") > "$tmp/py.out" \
    || { echo "FAIL: README Python example"; exit 1; }
grep -q "^maps (375, 500, 2)" "$tmp/py.out" || { echo "FAIL: README Python example output:"; cat "$tmp/py.out"; exit 1; }
echo "readme: C and Python examples ran"
