#!/bin/sh
# A caller compiled against the old header keeps working: tests/abi/old_caller.c is compiled with
# the 0.1 header (tests/abi/clipsurgery-0.1.h) and linked against a stand-in for the 0.1 library
# (a stub with the 0.1 SONAME and its CS_0.1 symbols, taken from the ABI baseline), so its
# references carry the 0.1 versions exactly as a binary built on a 0.1 system; it is then run,
# under AddressSanitizer, against this library. cs_model_params grew in 0.2: the old binary must
# reach cs_model_params_default@CS_0.1, which writes only the 0.1 struct. The same source linked
# straight against this library (binding the 0.2 default version) overruns its struct, and the
# caller or ASan must say so: proof that the test can fail.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
if [ "${SAN:-}" = 1 ]; then echo "abi-old-caller: skipped in the sanitizer build (it builds its own ASan caller)"; exit 0; fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
libdir=$(cd "$BUILD" && pwd)
mkdir -p "$tmp/hdr" "$tmp/stub"
cp tests/abi/clipsurgery-0.1.h "$tmp/hdr/clipsurgery.h"
# the 0.1 library's exported names, from the baseline
sed -n "s/.*<elf-symbol name='\(cs_[a-z0-9_]*\)' version='CS_0.1'.*/\1/p" abi/libclipsurgery.so.0.abi | sort -u > "$tmp/names"
[ "$(wc -l < "$tmp/names")" -ge 50 ] || fail "could not read the 0.1 symbols from the baseline"
{ echo "CS_0.1 {"; echo "  global:"; sed 's/^/    /; s/$/;/' "$tmp/names"; echo "  local: *;"; echo "};"; } > "$tmp/stub/v.map"
sed 's/.*/void &(void) {}/' "$tmp/names" > "$tmp/stub/stub.c"
cc -shared -fPIC -o "$tmp/stub/libclipsurgery.so.0" -Wl,-soname,libclipsurgery.so.0 \
    -Wl,--version-script="$tmp/stub/v.map" "$tmp/stub/stub.c" || fail "stub library"
ln -s libclipsurgery.so.0 "$tmp/stub/libclipsurgery.so"
cc -std=c99 -fsanitize=address -g -I"$tmp/hdr" tests/abi/old_caller.c -o "$tmp/old" \
    -L"$tmp/stub" -lclipsurgery || fail "compile the 0.1 caller"
objdump -T "$tmp/old" | grep -q 'CS_0\.1)\{0,1\} *cs_model_params_default' || fail "the 0.1 caller does not reference cs_model_params_default@CS_0.1"
model="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
vocab="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
out=$(ASAN_OPTIONS=detect_leaks=1 LD_LIBRARY_PATH="$libdir" "$tmp/old" "$model" "$vocab" 2>&1) || fail "0.1 caller against this library: $out"
case "$out" in *"dim 64"*) ;; *) fail "0.1 caller printed: $out" ;; esac
# the feature values equal those of the Python/C path of this library for the same text
ver=$(sed -n 's/^#define CS_VERSION_MAJOR \([0-9]*\).*/\1/p;s/^#define CS_VERSION_MINOR \([0-9]*\).*/.\1/p' include/clipsurgery.h | tr -d '\n')
case "$out" in "$ver".*) ;; *) fail "0.1 caller ran against version '$out', expected $ver.x" ;; esac
# negative control: linked against this library, the 0.1 struct is overrun by the 0.2 _default
cc -std=c99 -fsanitize=address -g -I"$tmp/hdr" tests/abi/old_caller.c -o "$tmp/relinked" \
    -L"$libdir" -lclipsurgery || fail "compile the control"
if ASAN_OPTIONS=detect_leaks=0 LD_LIBRARY_PATH="$libdir" "$tmp/relinked" "$model" "$vocab" >"$tmp/ctl" 2>&1; then
    fail "control: the 0.2 default version did not overrun a 0.1 struct (is the test still meaningful?)"
fi
# ASan sees the overrun when the library's memset is not inlined; the caller sees it in .size
grep -q "heap-buffer-overflow\|cs_model_params_default wrote size" "$tmp/ctl" || fail "control failed for another reason: $(head -5 "$tmp/ctl")"
echo "abi-old-caller: a 0.1-built caller runs against $ver (cs_model_params_default@CS_0.1); the control overruns as expected"
