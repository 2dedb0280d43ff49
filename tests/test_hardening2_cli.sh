#!/bin/sh
# CLI hardening, second round: '+' targets of points, one-file bundles (convert), the text-feature
# cache, multi-image runs. Every case: a clean exit code (1 runtime, 2 usage) with a message and
# no sanitizer report (run by `make asan` too), or the right result.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
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

echo "hardening2 CLI: ok"
