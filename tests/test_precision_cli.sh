#!/bin/sh
# --precision on the CLI: a bad value is a usage error (2); bf16 either runs (a oneDNN build on a
# CPU with AVX512_BF16: points within the bf16 tolerance of the f32 run, i.e. the same JSON
# shape) or fails with exit 1 and a message saying why (this build or this CPU has no bf16).
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
cli=$BUILD/clipsurgery
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
for cmd in heatmap points segment labels; do
    timeout 20 "$cli" $cmd "$m" "$img" --vocab "$v" --precision fp8 -- cat 2>"$tmp/err" >/dev/null
    [ $? = 2 ] || fail "$cmd --precision fp8 is not a usage error"
    grep -q "f32 or bf16" "$tmp/err" || fail "$cmd --precision fp8: message $(cat "$tmp/err")"
done
timeout 20 "$cli" encode-image "$m" "$img" --precision half --out "$tmp/f.st" 2>/dev/null
[ $? = 2 ] || fail "encode-image --precision half is not a usage error"
timeout 20 "$cli" encode-text "$m" --vocab "$v" --precision "" -- cat 2>/dev/null
[ $? = 2 ] || fail "encode-text --precision '' is not a usage error"
# encode-image records the precision and the engine in the file's metadata
timeout 60 "$cli" encode-image "$m" "$img" --precision f32 --out "$tmp/f.st" || fail "encode-image --precision f32"
engine=$("$cli" --version | sed -n 's/.*GEMM engine \([a-z]*\).*/\1/p')
"${PYTHON:-python3}" - "$tmp/f.st" "$engine" <<'PY' || fail "encode-image metadata"
import json, struct, sys
f = open(sys.argv[1], "rb")
meta = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))["__metadata__"]
assert meta["precision"] == "f32" and meta["gemm_engine"] == sys.argv[2], meta
PY
timeout 60 "$cli" points "$m" "$img" --vocab "$v" --precision f32 -- cat > "$tmp/f32.json" || fail "points --precision f32"
timeout 60 "$cli" points "$m" "$img" --vocab "$v" -- cat > "$tmp/default.json" || fail "points"
cmp -s "$tmp/f32.json" "$tmp/default.json" || fail "--precision f32 differs from the default"
timeout 60 "$cli" points "$m" "$img" --vocab "$v" --precision bf16 -- cat > "$tmp/bf16.json" 2> "$tmp/err"
rc=$?
if [ $rc = 0 ]; then
    [ -s "$tmp/bf16.json" ] || fail "points --precision bf16 printed nothing"
    echo "precision cli: bad values refused; bf16 ran"
else
    [ $rc = 1 ] || fail "points --precision bf16: exit status $rc"
    grep -q "bf16 precision is not available" "$tmp/err" || fail "bf16 refusal message: $(cat "$tmp/err")"
    echo "precision cli: bad values refused; bf16 refused cleanly here: $(cat "$tmp/err")"
fi
