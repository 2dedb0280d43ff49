#!/bin/sh
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang (14 or later) under
# -fsanitize=fuzzer,address,undefined into build/fuzz/. The library sources are compiled once
# into build/fuzz/obj/lib/; a target that needs CLI code names the src/ files it needs on a line
#   /* CLI sources: src/a.c src/b.c */
# (never src/main.c), compiled into build/fuzz/obj/src/.
# Usage (from the worktree root): sh tests/fuzz/build.sh [target ...]   (default: all)
# Environment: CLANG (default clang), FUZZ_BUILD_JOBS (parallel compiles, default 2).
# Exits 1 naming the targets that failed to build.
set -e
CLANG=${CLANG:-clang}
JOBS=${FUZZ_BUILD_JOBS:-2}
OUT=build/fuzz
OBJ=$OUT/obj
mkdir -p "$OBJ/lib" "$OBJ/src"
command -v "$CLANG" >/dev/null 2>&1 || { echo "build.sh: $CLANG not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
PKGS="openblas libpng libjpeg zlib libutf8proc jansson"
DEPS_CFLAGS=$(pkg-config --cflags $PKGS)
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"
CF="-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-psabi -D_GNU_SOURCE -Iinclude -Ilib -Isrc $DEPS_CFLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
HEADERS="include/*.h lib/*/*.h lib/*/*.inc src/*.h tests/fuzz/build.sh"
FAILED=$OUT/.failed
rm -f "$FAILED"

# stale: the object is missing or older than its source or any header (or this script)
stale() {
    [ -f "$2" ] || return 0
    [ -n "$(find "$1" $HEADERS -newer "$2" 2>/dev/null | head -n 1)" ]
}

# runs "$@" in the background, at most $JOBS at a time; a failure is noted in $FAILED as $1
running=0
spawn() {
    what=$1
    shift
    ( "$@" || echo "$what" >>"$FAILED" ) &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait
        running=0
    fi
}

obj_of() { # lib/io/model.c -> build/fuzz/obj/lib/io_model.o, src/x.c -> build/fuzz/obj/src/x.o
    case "$1" in
    lib/*) echo "$OBJ/lib/$(echo "${1#lib/}" | tr / _ | sed 's/\.c$/.o/')" ;;
    src/*) echo "$OBJ/src/$(basename "$1" .c).o" ;;
    esac
}

cli_sources() { sed -n 's|^/\* CLI sources: \(.*\) \*/$|\1|p' "$1"; }

if [ $# -gt 0 ]; then
    TARGETS=""
    for n in "$@"; do TARGETS="$TARGETS tests/fuzz/${n%.c}.c"; done
else
    TARGETS=$(ls tests/fuzz/fuzz_*.c)
fi

# library objects, and the CLI objects the targets name
SRCS="lib/*/*.c"
for t in $TARGETS; do
    [ -f "$t" ] || { echo "build.sh: no such target $t" >&2; echo "$(basename "$t" .c)" >>"$FAILED"; continue; }
    SRCS="$SRCS $(cli_sources "$t")"
done
# one GEMM engine: the default (OpenBLAS) one, as the Makefile's default build (and no object of
# another engine left from an older run, since the targets link $OBJ/lib/*.o)
for o in "$OBJ"/lib/core_gemm_*.o; do
    [ -e "$o" ] && [ "$o" != "$OBJ/lib/core_gemm_openblas.o" ] && rm -f "$o"
done
for f in $(echo $SRCS | tr ' ' '\n' | grep -v '^lib/core/gemm_' | sort -u) lib/core/gemm_openblas.c; do
    case "$f" in src/main.c) echo "build.sh: src/main.c cannot be linked into a fuzz target" >&2; exit 1 ;; esac
    o=$(obj_of "$f")
    if stale "$f" "$o"; then
        echo "  CC $f"
        spawn "$f" "$CLANG" $CF -c "$f" -o "$o"
    fi
done
wait
running=0
if [ -s "$FAILED" ]; then
    echo "build.sh: cannot compile: $(tr '\n' ' ' <"$FAILED")" >&2
    # no target may be left with an old binary
    for t in $TARGETS; do rm -f "$OUT/$(basename "$t" .c)"; done
    exit 1
fi

# one binary per target
for t in $TARGETS; do
    [ -f "$t" ] || continue
    n=$(basename "$t" .c)
    cli=""
    for f in $(cli_sources "$t"); do cli="$cli $(obj_of "$f")"; done
    # relinked when older than its source, an object, a header or this script; removed first,
    # so that a target that fails to build leaves no old binary behind
    if [ -f "$OUT/$n" ] && [ -z "$(find "$t" tests/fuzz/*.h "$OBJ"/lib/*.o $cli $HEADERS -newer "$OUT/$n" 2>/dev/null | head -n 1)" ]; then
        continue
    fi
    rm -f "$OUT/$n"
    echo "  LD $OUT/$n"
    spawn "$n" "$CLANG" $CF -fsanitize=fuzzer "$t" "$OBJ"/lib/*.o $cli -o "$OUT/$n" $LIBS
done
wait
if [ -s "$FAILED" ]; then
    echo "build.sh: FAILED to build: $(tr '\n' ' ' <"$FAILED")" >&2
    exit 1
fi
echo "build.sh: ready:$(for t in $TARGETS; do printf ' %s' "$(basename "$t" .c)"; done) in $OUT/"
