#!/bin/sh
# Usage limits and bad files found by the bad-input review: --map-size over the pixel cap and
# --out equal to --logits are usage errors (2) before any work; a maps file holding NaN makes
# boxes --from-maps exit 1 with nothing on stdout; a classes.txt starting with a UTF-8 byte order
# mark keeps its background line.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
cli=$BUILD/clipsurgery
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
timeout 20 "$cli" heatmap "$m" "$img" --vocab "$v" --map-size 65535x65535 --maps "$tmp/x.st" -- cat 2>/dev/null
[ $? = 2 ] || fail "--map-size 65535x65535 is not a usage error"
timeout 20 "$cli" segment "$m" "$img" --vocab "$v" --out "$tmp/s.png" --logits "$tmp/s.png" -- cat dog 2>/dev/null
[ $? = 2 ] || fail "--out equal to --logits is not a usage error"
"$PYTHON" - "$tmp/nan.st" <<'PY'
import json, struct, sys
h = json.dumps({"maps": {"dtype": "F32", "shape": [2, 2, 1], "data_offsets": [0, 16]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<4f", 0.1, float("nan"), 0.3, 0.4))
PY
timeout 20 "$cli" boxes --from-maps "$tmp/nan.st" > "$tmp/out" 2> "$tmp/err"
[ $? = 1 ] || fail "boxes --from-maps on NaN: exit status"
[ ! -s "$tmp/out" ] || fail "boxes --from-maps on NaN printed: $(cat "$tmp/out")"
grep -q "is NaN" "$tmp/err" || fail "boxes --from-maps on NaN: message $(cat "$tmp/err")"
cp -r "$CS_FIXTURES/eval/voc-tiny" "$tmp/ds" && chmod -R u+w "$tmp/ds"
printf '\357\273\277' | cat - "$CS_FIXTURES/eval/voc-tiny/classes.txt" > "$tmp/ds/classes.txt"
timeout 60 "$cli" eval segment "$m" "$tmp/ds" --vocab "$v" --out "$tmp/r.json" 2>/dev/null || fail "eval on a classes.txt with a BOM"
"$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['background_class'] == 0, r['background_class']" "$tmp/r.json" || fail "BOM: background line lost"
echo "cli limits: map-size cap, --out/--logits clash, NaN maps, BOM in classes.txt"
