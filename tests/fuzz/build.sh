#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) into build/fuzz/.
# Usage (from the worktree root): sh tests/fuzz/build.sh; then e.g.
#   build/fuzz/fuzz_safetensors -max_total_time=60 build/fuzz/corpus_st
set -e
OUT=build/fuzz
mkdir -p $OUT
PKGS="openblas libpng libjpeg zlib libutf8proc jansson"
CF="-std=c11 -g -O1 -D_GNU_SOURCE -Iinclude -Ilib $(pkg-config --cflags $PKGS) -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"
for f in lib/*/*.c; do
    o=$OUT/$(echo "${f#lib/}" | tr / _ | sed "s/\.c$/.o/")
    [ "$o" -nt "$f" ] || clang $CF -c "$f" -o "$o"
done
for t in tests/fuzz/fuzz_*.c; do
    n=$(basename "$t" .c)
    clang $CF -fsanitize=fuzzer "$t" $OUT/*.o -o $OUT/$n $LIBS
done
