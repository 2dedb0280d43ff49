#!/bin/sh
# clipsurgery tokenize: golden lines with both vocabulary forms (hundreds of TEXT arguments in
# one call), --truncate, --show-ftfy (the mojibake golden's `fixed`), exit codes (0 ok,
# 1 runtime, 2 usage), --help.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
cli="$BUILD/clipsurgery"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() { want=$1; shift; "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; [ "$rc" = "$want" ] || { cat "$tmp/err"; fail "'$*' exited $rc, want $want"; }; }
gz="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"

expect_rc 0 "$cli" tokenize --help
grep -q "usage: clipsurgery tokenize" "$tmp/out" || fail "tokenize --help text"
expect_rc 2 "$cli" tokenize
expect_rc 2 "$cli" tokenize --vocab "$gz"
expect_rc 2 "$cli" tokenize "a cat"
expect_rc 2 "$cli" tokenize --vocab
expect_rc 2 "$cli" tokenize --bogus --vocab "$gz" "a cat"
expect_rc 1 "$cli" tokenize --vocab "$tmp/missing.txt.gz" "a cat"
expect_rc 1 "$cli" tokenize --model "$tmp/missing.safetensors" "a cat"
expect_rc 0 "$cli" tokenize --vocab "$gz" -- "a photo of a cat."
[ "$(cat "$tmp/out")" = "[49406, 320, 1125, 539, 320, 2368, 269, 49407]" ] || fail "simple line: $(cat "$tmp/out")"
# --model: the tokenizer found with a model (the tiny golden model has none beside it)
tiny="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
expect_rc 0 "$cli" tokenize --model "$tiny" --vocab "$CS_FIXTURES/vocab" "a cat"
[ "$(cat "$tmp/out")" = "[49406, 320, 2368, 49407]" ] || fail "--model line: $(cat "$tmp/out")"
expect_rc 1 "$cli" tokenize --model "$tiny" "a cat"
expect_rc 0 "$cli" tokenize --vocab "$gz" -- "-----"
[ "$(wc -l <"$tmp/out")" = 1 ] || fail "text after -- starting with '-'"

# every golden case, all TEXTs in one call per file, both vocabulary forms, with and without
# --truncate
"$PYTHON" - "$cli" "$CS_FIXTURES" <<'PY' || fail "golden lines"
import json, subprocess, sys
cli, fx = sys.argv[1], sys.argv[2]
forms = [fx + "/vocab/bpe_simple_vocab_16e6.txt.gz", fx + "/vocab/vocab.json", fx + "/vocab"]
total = 0
for name in ["tokenizer.json", "tokenizer_more.json", "tokenizer_mojibake.json"]:
    cases = json.load(open(fx + "/golden/" + name))
    # argv cannot hold NUL; every golden text is NUL-free
    texts = [c["text"] for c in cases]
    for form in forms:
        for trunc in ([], ["--truncate"]):
            r = subprocess.run([cli, "tokenize", "--vocab", form] + trunc + ["--"] + texts,
                               capture_output=True)
            if r.returncode != 0:
                sys.exit("exit %d: %s" % (r.returncode, r.stderr.decode()))
            lines = r.stdout.decode().split("\n")
            if lines[-1] != "" or len(lines) != len(cases) + 1:
                sys.exit("%s: %d lines for %d texts" % (name, len(lines) - 1, len(cases)))
            for c, line in zip(cases, lines):
                want = c["truncated"] if trunc and "truncated" in c else c["ids"]
                if json.loads(line) != want or line != json.dumps(want):
                    sys.exit("%s %s %s: %r gives %s, want %s" % (name, form, trunc, c["text"], line, want))
                total += 1
# --show-ftfy: the fix_text stage alone, with and without a vocabulary
cases = json.load(open(fx + "/golden/tokenizer_mojibake.json"))
texts = [c["text"] for c in cases]
for extra in ([], ["--vocab", forms[0]]):
    r = subprocess.run([cli, "tokenize", "--show-ftfy"] + extra + ["--"] + texts, capture_output=True)
    if r.returncode != 0:
        sys.exit("--show-ftfy exit %d: %s" % (r.returncode, r.stderr.decode()))
    lines = r.stdout.decode().split("\n")
    if lines[-1] != "" or len(lines) != len(cases) + 1:
        sys.exit("--show-ftfy: %d lines for %d texts" % (len(lines) - 1, len(cases)))
    for c, line in zip(cases, lines):
        if json.loads(line) != c["fixed"] or line != json.dumps(c["fixed"], ensure_ascii=False):
            sys.exit("--show-ftfy %r gives %s, want %s" % (c["text"], line, json.dumps(c["fixed"], ensure_ascii=False)))
        total += 1
print("tokenize CLI: %d golden lines exact" % total)
PY
