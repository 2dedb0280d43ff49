#!/bin/sh
# clipsurgery encode-image on a pixel_values safetensors against the reference goldens
# (raw.image_features, cs.image_features), for both tiny model files; usage errors.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
cli="$BUILD/clipsurgery"
g="$CS_FIXTURES/golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# pixel_values [2,3,64,64] extracted from the golden input.x64
"$PYTHON" - "$g/tiny-golden.safetensors" "$tmp/px.safetensors" <<'PY' || fail "cannot write pixel_values"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
s, e = h['input.x64']['data_offsets']
data = b[8 + n + s:8 + n + e]
hdr = json.dumps({'pixel_values': {'dtype': 'F32', 'shape': [2, 3, 64, 64],
                                   'data_offsets': [0, len(data)]}}).encode()
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hdr)) + hdr + data)
PY

compare() { # out.safetensors golden-name
    "$PYTHON" - "$1" "$g/tiny-golden.safetensors" "$2" <<'PY'
import json, struct, sys, array
def load(path, name):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    t = h[name]
    s, e = t['data_offsets']
    a = array.array('f')
    a.frombytes(b[8 + n + s:8 + n + e])
    return t['shape'], a
shape, got = load(sys.argv[1], 'image_features')
wshape, want = load(sys.argv[2], sys.argv[3])
assert shape == wshape, (shape, wshape)
err = max(abs(x - y) for x, y in zip(got, want))
print('%s: max abs error %.3g' % (sys.argv[3], err))
sys.exit(0 if err <= 1e-4 else 1)
PY
}

for model in tiny-openai-f32 tiny-hf-f16; do
    "$cli" encode-image "$g/$model.safetensors" "$tmp/px.safetensors" --mode raw \
        --out "$tmp/raw.safetensors" || fail "$model raw exit $?"
    compare "$tmp/raw.safetensors" raw.image_features || fail "$model raw features"
    "$cli" encode-image "$g/$model.safetensors" "$tmp/px.safetensors" --threads 1 \
        --out "$tmp/cs.safetensors" || fail "$model surgery exit $?"
    compare "$tmp/cs.safetensors" cs.image_features || fail "$model surgery features"
done

m="$g/tiny-openai-f32.safetensors"
"$cli" encode-image "$m" "$tmp/px.safetensors" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing --out"
"$cli" encode-image "$m" "$tmp/px.safetensors" --mode fancy --out "$tmp/x.safetensors" 2>/dev/null
[ $? -eq 2 ] || fail "bad --mode"
"$cli" encode-image "$m" "$tmp/px.safetensors" --size 96 --out "$tmp/x.safetensors" 2>/dev/null
[ $? -eq 2 ] || fail "--size mismatch"
"$cli" encode-image "$m" "$tmp/px.safetensors" --surgery-blocks 9 --out "$tmp/x.safetensors" 2>/dev/null
[ $? -eq 1 ] || fail "too many surgery blocks"
"$cli" encode-image "$m" "$tmp/missing.safetensors" --out "$tmp/x.safetensors" 2>/dev/null
[ $? -eq 1 ] || fail "missing input"
[ ! -e "$tmp/x.safetensors" ] || fail "output written on failure"
"$cli" encode-text "$m" >/dev/null 2>&1; [ $? -eq 2 ] || fail "encode-text without TEXT"
"$cli" encode-image --help | grep -q "image_features" || fail "help"
echo "encode cli: ok"
