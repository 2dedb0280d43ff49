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
    $(pkg-config --libs openblas libpng libjpeg zlib libutf8proc jansson) \
    $(sed -n 's/^Libs.private: //p' "$BUILD/clipsurgery.pc") || { echo "FAIL: README C example does not build"; exit 1; }
case "$CS_FIXTURES" in /*) fx="$CS_FIXTURES" ;; *) fx="$(pwd)/$CS_FIXTURES" ;; esac
(cd "$tmp" && ./heatmap "$fx/golden/tiny-hf-f16.safetensors" \
    "$fx/vocab/bpe_simple_vocab_16e6.txt.gz" "$fx/images/chelsea.png" cat sky) > "$tmp/c.out" \
    || { echo "FAIL: README C example failed"; cat "$tmp/c.out"; exit 1; }
grep -q "cat: overlay_0.png" "$tmp/c.out" && [ -s "$tmp/overlay_1.png" ] || { echo "FAIL: README C example output"; exit 1; }
# run from the repository root as the README says; its fixtures path becomes the resolved one, so
# the example also runs where ../shared is not beside the checkout (CS_FIXTURES elsewhere)
grep -q '^fixtures = "../shared/fixtures"$' "$tmp/example.py" || { echo "FAIL: README Python example has no fixtures line"; exit 1; }
sed -i "s|^fixtures = \"../shared/fixtures\"$|fixtures = \"$fx\"|" "$tmp/example.py"
"$PYTHON" "$tmp/example.py" > "$tmp/py.out" || { echo "FAIL: README Python example"; exit 1; }
grep -q "^maps (375, 500, 2)" "$tmp/py.out" || { echo "FAIL: README Python example output:"; cat "$tmp/py.out"; exit 1; }
echo "readme: C and Python examples ran"
