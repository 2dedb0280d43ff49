#!/bin/sh
# CLI hardening, second round: '+' targets of points, one-file bundles (convert), the text-feature
# cache, multi-image runs. Every case: a clean exit code (1 runtime, 2 usage) with a message and
# no sanitizer report (run by `make asan` too), or the right result.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
cli="$BUILD/clipsurgery"
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
fail() { echo "FAIL: $*"; exit 1; }

# expect RC MESSAGE-FRAGMENT command...: exit code, message on stderr, no sanitizer report
expect() {
    want=$1 frag=$2
    shift 2
    "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    [ "$rc" = "$want" ] || { cat "$tmp/err"; fail "exit $rc (want $want): $*"; }
    if grep -q "Sanitizer\|runtime error" "$tmp/err"; then cat "$tmp/err"; fail "sanitizer: $*"; fi
    [ -z "$frag" ] || grep -q -- "$frag" "$tmp/err" || { cat "$tmp/err"; fail "no '$frag' in stderr: $*"; }
}

# --- points: '+' forms ---------------------------------------------------------------------
# regression: a part repeated in one TEXT ("a+a") overflowed the similarity buffer (heap write)
expect 0 "" "$cli" points "$m" "$img" --vocab "$v" -- "cat+cat"
sed 's/cat+cat/X/' "$tmp/out" > "$tmp/twice"
expect 0 "" "$cli" points "$m" "$img" --vocab "$v" -- "cat"
sed 's/"cat"/"X"/' "$tmp/out" > "$tmp/once"
cmp -s "$tmp/twice" "$tmp/once" || fail "\"cat+cat\" should give the points of \"cat\""
expect 0 "" "$cli" points "$m" "$img" --vocab "$v" -- "cat+dog+cat" "dog++cat" "cat+"
# regression: "+" (no part) reached feature surgery with zero texts (confusing message)
expect 2 "no part" "$cli" points "$m" "$img" --vocab "$v" -- "+"
expect 2 "no part" "$cli" points "$m" "$img" --vocab "$v" -- cat "++"

# --- convert: one-file bundles ---------------------------------------------------------------
expect 0 "+ vocabulary" "$cli" convert "$m" "$tmp/b.safetensors" --vocab "$v"
"$cli" labels "$tmp/b.safetensors" "$img" -- cat dog > "$tmp/labels_b" 2> "$tmp/err" || fail "bundle labels"
# regression: converting a bundle (onto itself, or to f16) dropped its bundled vocabulary
cp "$tmp/b.safetensors" "$tmp/self.safetensors"
expect 0 "+ vocabulary" "$cli" convert "$tmp/self.safetensors" "$tmp/self.safetensors" --dtype f16
"$cli" labels "$tmp/self.safetensors" "$img" -- cat dog > "$tmp/labels_self" 2> "$tmp/err" ||
    { cat "$tmp/err"; fail "a bundle converted onto itself lost its vocabulary"; }
expect 0 "+ vocabulary" "$cli" convert "$tmp/self.safetensors" "$tmp/back.safetensors"
# regression: --dtype f16 turned values beyond +-65504 into infinity without a word
"$PYTHON" - "$m" "$tmp/big.safetensors" <<'PY' || fail "cannot write inputs"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = bytearray(b[8 + n:])
o = h["visual.ln_pre.weight"]["data_offsets"][0]
data[o:o + 4] = struct.pack("<f", 1e6)
open(sys.argv[2], "wb").write(b[:8 + n] + data)
PY
expect 1 "beyond the f16 range" "$cli" convert "$tmp/big.safetensors" "$tmp/big16.safetensors" --vocab "$v" --dtype f16
[ -e "$tmp/big16.safetensors" ] && fail "a refused conversion wrote its output"
expect 0 "" "$cli" convert "$tmp/big.safetensors" "$tmp/big32.safetensors" --vocab "$v"
# unwritable or odd destinations leave nothing behind and keep the input
expect 1 "cannot write" "$cli" convert "$m" "$tmp/none/x.safetensors" --vocab "$v"
mkdir "$tmp/dir"
expect 1 "Is a directory" "$cli" convert "$m" "$tmp/dir" --vocab "$v"
[ -z "$(ls "$tmp" | grep '\.tmp\.')" ] || { ls "$tmp"; fail "temporary file left behind"; }

# --- the text-feature cache ($XDG_CACHE_HOME/clipsurgery) ------------------------------------
rm -rf "$tmp/cache"
"$cli" labels "$m" "$img" --vocab "$v" --no-cache -- cat dog > "$tmp/fresh" 2> "$tmp/err" || fail "labels"
expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
cmp -s "$tmp/out" "$tmp/fresh" || fail "cached run differs"
n_entries=$(find "$tmp/cache" -name '*.f32' | wc -l)
[ "$n_entries" = 3 ] || fail "expected 3 cache entries (cat, dog, empty text), found $n_entries"
# regression: an entry with NaN (or trailing bytes) was used: "peak": nan, not even JSON
"$PYTHON" - "$tmp/cache" <<'PY' || fail "cannot damage the cache"
import glob, struct, sys
for i, f in enumerate(sorted(glob.glob(sys.argv[1] + "/clipsurgery/*/*.f32"))):
    b = bytearray(open(f, "rb").read())
    if i == 1:
        b += b"\0\0\0\0"
    else:
        b[-4:] = struct.pack("<f", float("nan"))
    open(f, "wb").write(b)
PY
expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
cmp -s "$tmp/out" "$tmp/fresh" || { cat "$tmp/out"; fail "a damaged cache entry was used"; }
# truncated entries, other dimension, a stored name that differs (hash collision): recomputed
for f in $(find "$tmp/cache" -name '*.f32'); do head -c 13 "$f" > "$f.x" && mv "$f.x" "$f"; done
expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
cmp -s "$tmp/out" "$tmp/fresh" || fail "a truncated cache entry was used"
"$PYTHON" - "$tmp/cache" <<'PY' || fail "cannot damage the cache"
import glob, struct, sys
for i, f in enumerate(sorted(glob.glob(sys.argv[1] + "/clipsurgery/*/*.f32"))):
    b = bytearray(open(f, "rb").read())
    if i == 0:
        b[6:10] = struct.pack("<I", 32)
    elif b[10:14] == struct.pack("<I", 3):
        b[14:17] = b"dog"
    open(f, "wb").write(b)
PY
expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
cmp -s "$tmp/out" "$tmp/fresh" || fail "a cache entry of another dimension or name was used"
# no usable cache: results the same, no error
echo x > "$tmp/afile"
for c in "$tmp/afile" "$tmp/afile/sub" /proc/nonexistent; do
    XDG_CACHE_HOME="$c" expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
    cmp -s "$tmp/out" "$tmp/fresh" || fail "cache at '$c'"
done
mkdir -p "$tmp/ro" && chmod 555 "$tmp/ro"
XDG_CACHE_HOME="$tmp/ro" expect 0 "" "$cli" labels "$m" "$img" --vocab "$v" -- cat dog
cmp -s "$tmp/out" "$tmp/fresh" || fail "read-only cache"
env -u XDG_CACHE_HOME -u HOME "$cli" labels "$m" "$img" --vocab "$v" -- cat dog > "$tmp/out" 2> "$tmp/err" ||
    { cat "$tmp/err"; fail "no HOME"; }
cmp -s "$tmp/out" "$tmp/fresh" || fail "no HOME: results differ"
# eight processes filling one cache at once: identical results, no temporary file left
rm -rf "$tmp/cache"
for i in 1 2 3 4 5 6 7 8; do
    mkdir -p "$tmp/par$i"
    "$cli" heatmap "$m" "$img" --vocab "$v" --out-dir "$tmp/par$i" -- cat dog "a bird" > /dev/null 2> "$tmp/par$i.err" &
done
wait
for i in 1 2 3 4 5 6 7 8; do
    grep -q "Sanitizer\|runtime error" "$tmp/par$i.err" && { cat "$tmp/par$i.err"; fail "sanitizer in parallel run"; }
    for f in "$tmp/par1"/*; do cmp -s "$f" "$tmp/par$i/$(basename "$f")" || fail "parallel run $i differs"; done
done
[ "$(ls "$tmp/par1" | wc -l)" = 3 ] || fail "parallel run: expected 3 overlays"
[ -z "$(find "$tmp/cache" -type f ! -name '*.f32')" ] || { find "$tmp/cache"; fail "temporary cache files left"; }

# --- multi-image runs ---------------------------------------------------------------------
# regression: a --batch line of only spaces (or a tab) was taken as a path
printf '# comment\r\n\r\n%s\r\n   \n\t\n%s\n' "$img" "$img" > "$tmp/list"
expect 0 "\[2/2\]" "$cli" labels "$m" --vocab "$v" --batch "$tmp/list" -- cat
[ "$(grep -c '"image"' "$tmp/out")" = 2 ] || { cat "$tmp/out"; fail "--batch with blank lines"; }

echo "hardening2 CLI: ok"
