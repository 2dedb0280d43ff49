#!/bin/sh
# Damaged text in and JSON out: bytes that are not UTF-8 in a caption or a class name give valid
# JSON (U+FFFD) with exit 0, and deeply nested HTML entities ("&amp;amp;amp;...") tokenize in
# linear time (ftfy's repeat-until-stable loop is capped; docs/tokenizer.md).
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
bad=$(printf '\377\376 bad caf\303\251 \355\240\200 \300\257')
timeout 60 "$cli" explain-text "$m" "$img" --vocab "$v" --size 64 --out-dir "$tmp/o" -- "$bad" > "$tmp/e.json" || fail "explain-text with invalid UTF-8"
"$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1], encoding='utf-8')); assert d[0]['caption'].count('\ufffd') >= 4 and 'caf\u00e9' in d[0]['caption'], d[0]['caption']" "$tmp/e.json" || fail "explain-text JSON: $(head -c 200 "$tmp/e.json")"
timeout 60 "$cli" labels "$m" "$img" --vocab "$v" --size 64 -- "$bad" dog > "$tmp/l.json" || fail "labels with invalid UTF-8"
"$PYTHON" -c "import json,sys; json.load(open(sys.argv[1], encoding='utf-8'))" "$tmp/l.json" || fail "labels JSON"
nest=$("$PYTHON" -c "print('&amp;' + 'amp;' * 30000, end='')")
timeout 20 "$cli" tokenize --show-ftfy -- "$nest" > "$tmp/f.json" || fail "nested entities: ftfy stage took over 20 s or failed"
timeout 20 "$cli" tokenize --vocab "$v" -- "$nest" > /dev/null || fail "nested entities: tokenize took over 20 s or failed"
echo "bad text: invalid UTF-8 gives valid JSON; 30000 nested entities tokenize at once"
