#!/bin/sh
# CLI hardening: absurd options, bad pixel_values, missing batch files, long texts give a clean
# exit code (1 runtime, 2 usage) with a message and no sanitizer report (run by `make asan` too).
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
cli="$BUILD/clipsurgery"
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect RC MESSAGE-FRAGMENT command...: exit code, message on stderr, no sanitizer report
expect() {
    want=$1 frag=$2
    shift 2
    "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ "$rc" = "$want" ] || { cat "$tmp/err"; fail "exit $rc (want $want): $*"; }
    if grep -q "Sanitizer\|runtime error" "$tmp/err"; then cat "$tmp/err"; fail "sanitizer: $*"; fi
    grep -q -- "$frag" "$tmp/err" || { cat "$tmp/err"; fail "no '$frag' in stderr: $*"; }
}

"$PYTHON" - "$tmp" <<'PY' || fail "cannot write inputs"
import json, struct, sys
def st(path, name, dtype, shape, raw):
    h = json.dumps({name: {"dtype": dtype, "shape": shape, "data_offsets": [0, len(raw)]}}).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + raw)
d = sys.argv[1]
st(d + "/nan.safetensors", "pixel_values", "F32", [3, 64, 64], b"\0\0\xc0\x7f" * (3 * 64 * 64))
st(d + "/inf.safetensors", "pixel_values", "F16", [1, 3, 64, 64], b"\0\x7c" * (3 * 64 * 64))
st(d + "/i32.safetensors", "pixel_values", "I32", [3, 64, 64], b"\0" * (3 * 64 * 64 * 4))
st(d + "/shape.safetensors", "pixel_values", "F32", [1, 64, 64], b"\0" * (64 * 64 * 4))
PY

# usage errors
expect 2 "bad --size" "$cli" heatmap "$m" "$img" --vocab "$v" --size 0 -- cat
expect 2 "bad --size" "$cli" heatmap "$m" "$img" --vocab "$v" --size 100000 -- cat
expect 2 "bad --map-size" "$cli" heatmap "$m" "$img" --vocab "$v" --map-size 0x0 -- cat
expect 2 "bad --map-size" "$cli" heatmap "$m" "$img" --vocab "$v" --map-size 99999x99999 -- cat
expect 2 "bad --threads" "$cli" heatmap "$m" "$img" --vocab "$v" --threads -1 -- cat
expect 2 "needs a value" "$cli" heatmap "$m" "$img" --vocab
expect 1 "multiple of the patch" "$cli" heatmap "$m" "$img" --vocab "$v" --size 63 --out-dir "$tmp" -- cat
expect 1 "n_blocks" "$cli" heatmap "$m" "$img" --vocab "$v" --surgery-blocks 99 --out-dir "$tmp" -- cat

# regression: NaN/inf pixel_values reached the encoder (undefined behaviour in its exp)
expect 1 "NaN or infinity" "$cli" heatmap "$m" "$tmp/nan.safetensors" --vocab "$v" --out-dir "$tmp" -- cat
expect 1 "NaN or infinity" "$cli" labels "$m" "$tmp/inf.safetensors" --vocab "$v" -- cat dog
expect 1 "NaN or infinity" "$cli" encode-image "$m" "$tmp/nan.safetensors" --out "$tmp/f.safetensors"
expect 1 "pixel_values" "$cli" heatmap "$m" "$tmp/i32.safetensors" --vocab "$v" --out-dir "$tmp" -- cat
expect 1 "pixel_values" "$cli" heatmap "$m" "$tmp/shape.safetensors" --vocab "$v" --out-dir "$tmp" -- cat

# regression: a --batch list naming a missing file leaked the input list
printf '%s\n' "$tmp/missing.png" > "$tmp/list"
expect 1 "missing.png" "$cli" heatmap "$m" "$img" --vocab "$v" --batch "$tmp/list" --out-dir "$tmp" -- cat
expect 1 "cannot open --batch" "$cli" heatmap "$m" "$img" --vocab "$v" --batch "$tmp/nolist" -- cat

# texts: over 77 tokens is a clean error; '/' and "" make safe file names inside --out-dir
long=$(printf 'cat %.0s' $(seq 1 100))
expect 1 "too long" "$cli" heatmap "$m" "$img" --vocab "$v" --out-dir "$tmp/o" -- "$long"
expect 1 "No such file" "$cli" heatmap "$m" "$img" --vocab "$v" --out-dir /nonexistent/a/b -- cat
"$cli" heatmap "$m" "$img" --vocab "$v" --no-cache --out-dir "$tmp/o" -- "../up" "a/b" "" > /dev/null 2> "$tmp/err" ||
    { cat "$tmp/err"; fail "heatmap with odd texts"; }
[ -e "$tmp/up.png" ] || [ -e "$tmp/chelsea_up.png" ] && fail "a text escaped --out-dir"
[ "$(ls "$tmp/o" | wc -l)" = 3 ] || { ls "$tmp/o"; fail "expected 3 overlays"; }
echo "hardening CLI: ok"
