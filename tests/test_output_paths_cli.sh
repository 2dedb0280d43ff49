#!/bin/sh
# Output paths that are not plain files: a FIFO (or device) is refused with exit 1 and left as it
# is; a symlink is kept and the file it points to receives the output (every writer goes through
# "temporary file + rename", which would otherwise replace the special file or the link).
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
cli=$(pwd)/$BUILD/clipsurgery
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
v="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export XDG_CACHE_HOME="$tmp/cache"
mkfifo fifo
for args in "encode-image $m $img --size 64 --out fifo" \
            "segment $m $img --vocab $v --size 64 --out fifo -- cat dog" \
            "segment $m $img --vocab $v --size 64 --out s.png --logits fifo -- cat dog" \
            "preprocess --size 8 $img --out fifo" "decode $img --out fifo"; do
    # shellcheck disable=SC2086
    timeout 60 "$cli" $args >/dev/null 2>err; rc=$?
    [ "$rc" = 1 ] || fail "$args: exit $rc, expected 1"
    grep -q "not a regular file" err || fail "$args: message $(cat err)"
    [ -p fifo ] || fail "$args: the FIFO was replaced"
done
timeout 60 "$cli" eval segment "$m" "$CS_FIXTURES/eval/voc-tiny" --vocab "$v" --out fifo >/dev/null 2>err; rc=$?
[ "$rc" = 1 ] && grep -q "not a regular file" err && [ -p fifo ] || fail "eval --out fifo: exit $rc, $(tail -1 err)"
echo old > target.png
ln -s target.png link.png
timeout 60 "$cli" segment "$m" "$img" --vocab "$v" --size 64 --out link.png -- cat dog >/dev/null || fail "segment through a symlink"
[ -L link.png ] || fail "the symlink was replaced by a file"
head -c 4 target.png | od -c | grep -q 'P   N   G' || fail "the symlink's target did not receive the PNG"
ln -s nowhere/x.png dangling.png
timeout 60 "$cli" encode-image "$m" "$img" --size 64 --out dangling.png 2>err; rc=$?
[ "$rc" = 1 ] && grep -q "symlink to nowhere" err || fail "dangling symlink: exit $rc, $(cat err)"
echo "output paths: FIFOs refused and kept, symlinks kept with their target written, dangling links refused"
