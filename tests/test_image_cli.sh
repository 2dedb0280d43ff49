#!/bin/sh
# clipsurgery decode / preprocess: outputs, exit codes (0 ok, 1 runtime, 2 usage), --help.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
cli="$BUILD/clipsurgery"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() { want=$1; shift; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; [ "$rc" = "$want" ] || { cat "$tmp/err"; fail "'$*' exited $rc, want $want"; }; }

expect_rc 0 "$cli" decode --help
grep -q "usage: clipsurgery decode" "$tmp/out" || fail "decode --help text"
expect_rc 0 "$cli" preprocess --help
grep -q "pixel_values" "$tmp/out" || fail "preprocess --help text"
expect_rc 2 "$cli" decode
expect_rc 2 "$cli" decode "$CS_FIXTURES/edge/rgb8.png"
expect_rc 2 "$cli" decode --bogus "$CS_FIXTURES/edge/rgb8.png" --out "$tmp/x.png"
expect_rc 2 "$cli" preprocess --size 0 "$CS_FIXTURES/edge/rgb8.png" --out "$tmp/x.st"
expect_rc 2 "$cli" preprocess --size abc "$CS_FIXTURES/edge/rgb8.png" --out "$tmp/x.st"
expect_rc 1 "$cli" decode "$tmp/missing.png" --out "$tmp/x.png"
expect_rc 1 "$cli" decode "$CS_FIXTURES/edge/bad_crc.png" --out "$tmp/x.png"
grep -q "CRC" "$tmp/err" || fail "bad_crc message should carry libpng's text"
expect_rc 1 "$cli" decode "$CS_FIXTURES/edge/bad_truncated.jpg" --out "$tmp/x.png"
expect_rc 0 "$cli" decode --accept-warnings "$CS_FIXTURES/edge/bad_truncated.jpg" --out "$tmp/x.png"
expect_rc 1 "$cli" decode --max-pixels 10 "$CS_FIXTURES/edge/rgb8.png" --out "$tmp/x.png"
[ -e "$tmp/x.png.tmp" ] && fail "temporary file left behind"

# decode -> PNG -> decode again is lossless; and the written PNG is an RGB PNG of the right size
expect_rc 0 "$cli" decode "$CS_FIXTURES/edge/palette_trns.png" --out "$tmp/p.png"
expect_rc 0 "$cli" decode "$tmp/p.png" --out "$tmp/p2.png"
cmp -s "$tmp/p.png" "$tmp/p2.png" || fail "decode of a decoded PNG changed it"
expect_rc 0 "$cli" decode --exif "$CS_FIXTURES/edge/exif_orient6.jpg" --out "$tmp/e.png"

# preprocess writes pixel_values [3,S,S] F32 equal to the golden
expect_rc 0 "$cli" preprocess --size 224 "$CS_FIXTURES/images/bench-park.jpg" --out "$tmp/pv.safetensors"
expect_rc 0 "$cli" preprocess --size 64 "$CS_FIXTURES/images/logo.png" --out "$tmp/pv64.safetensors"
"$PYTHON" - "$tmp/pv.safetensors" "$CS_FIXTURES/golden/preprocess.safetensors" "$tmp/pv64.safetensors" <<'PY' || fail "preprocess output"
import json, struct, sys
from array import array
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return h, b[8 + n:]
def tensor(path, name):
    h, d = load(path)
    t = h[name]
    s, e = t["data_offsets"]
    a = array("f"); a.frombytes(d[s:e])
    return t, a
t, a = tensor(sys.argv[1], "pixel_values")
assert t["dtype"] == "F32" and t["shape"] == [3, 224, 224], t
_, g = tensor(sys.argv[2], "pre224.bench-park")
md = max(abs(x - y) for x, y in zip(a, g))
assert md <= 1.0 / 255 / 0.26130258 + 1e-5, md
t, _ = tensor(sys.argv[3], "pixel_values")
assert t["shape"] == [3, 64, 64], t
PY
echo "image cli: decode and preprocess behave"
