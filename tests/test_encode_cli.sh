#!/bin/sh
# clipsurgery encode-image on a pixel_values safetensors against the reference goldens
# (raw.image_features, cs.image_features), and on an image file, for both tiny model files;
# usage and runtime errors.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
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

compare() { # out.safetensors golden-name [tensor-name]
    "$PYTHON" - "$1" "$g/tiny-golden.safetensors" "$2" "${3:-image_features}" <<'PY'
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
shape, got = load(sys.argv[1], sys.argv[4])
wshape, want = load(sys.argv[2], sys.argv[3])
# a single image is compared with the first image of the golden batch
assert shape[1:] == wshape[1:] and shape[0] <= wshape[0], (shape, wshape)
err = max(abs(x - y) for x, y in zip(got, want[:len(got)]))
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
    # an image file: decoded and preprocessed at --size 64 (golden input.x64[0] is bench-park)
    "$cli" encode-image "$g/$model.safetensors" "$CS_FIXTURES/images/bench-park.jpg" --size 64 \
        --out "$tmp/img.safetensors" || fail "$model image file exit $?"
    compare "$tmp/img.safetensors" cs.image_features || fail "$model image file features"
done

# encode-text: strings (the manifest prompts) and prompt ensembles (the manifest classes)
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
for model in tiny-openai-f32 tiny-hf-f16; do
    "$cli" encode-text "$g/$model.safetensors" --vocab "$v" --out "$tmp/t.safetensors" -- \
        "a photo of a cat." "a diagram" "A RED Car on the road!!" "" "two dogs & a frisbee" \
        "café au lait" || fail "$model encode-text exit $?"
    compare "$tmp/t.safetensors" text.features text_features || fail "$model text features"
    "$cli" encode-text "$g/$model.safetensors" --vocab "$v" --ensemble --out "$tmp/e.safetensors" \
        person bench ground building sky tree grass cat road "potted plant" "tv monitor" water \
        || fail "$model ensemble exit $?"
    compare "$tmp/e.safetensors" text.ensemble text_features || fail "$model ensemble"
    "$cli" encode-text "$g/$model.safetensors" --vocab "$v" --ensemble --out "$tmp/r.safetensors" \
        "" || fail "$model redundant exit $?"
    compare "$tmp/r.safetensors" text.redundant text_features || fail "$model redundant"
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
