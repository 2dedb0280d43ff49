#!/bin/sh
# Fuzzing smoke run for CI: builds every target (tests/fuzz/build.sh), builds a seed corpus per
# target under build/fuzz/corpus_<target> from the fixtures (and files the CLI makes from them),
# runs each target FUZZ_SECONDS seconds (FUZZ_JOBS at a time) with leak detection, and fails
# naming the targets that did not build, crashed, leaked or timed out. Ends with the executions
# per target. Run from the project root:
#   CS_FIXTURES=/path/to/fixtures sh tests/fuzz/run.sh
# Environment: CS_FIXTURES (default ../shared/fixtures beside the project), FUZZ_SECONDS
# (default 20), FUZZ_JOBS (default 2), FUZZ_TARGETS (default: every tests/fuzz/fuzz_*.c),
# CLANG (default clang). Logs: build/fuzz/log_<target>.txt; crash inputs:
# build/fuzz/artifacts/<target>-*.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# the fixtures, as an absolute path before anything else (relative: to the caller's folder;
# the default: beside the project root)
FX=${CS_FIXTURES:-$ROOT/../shared/fixtures}
if [ ! -d "$FX" ]; then
    echo "run.sh: fixtures folder $FX is missing (set CS_FIXTURES)" >&2
    exit 1
fi
CS_FIXTURES=$(cd "$FX" && pwd)
export CS_FIXTURES
cd "$ROOT" || exit 1

SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
JOBS=${FUZZ_JOBS:-2}
OUT=build/fuzz
T0=$(date +%s)
if [ -n "${FUZZ_TARGETS:-}" ]; then
    TARGETS=$FUZZ_TARGETS
else
    TARGETS=$(for t in tests/fuzz/fuzz_*.c; do basename "$t" .c; done)
fi
failed=""
fail() { # target, reason
    echo "run.sh: FAIL $1: $2"
    failed="$failed $1"
}

# --- build ---------------------------------------------------------------------------------
echo "== building the fuzz targets"
sh tests/fuzz/build.sh $TARGETS 2>&1 | grep -v -e '^  CC ' -e '^  LD '
for t in $TARGETS; do
    [ -x "$OUT/$t" ] || fail "$t" "did not build"
done
echo "== building the CLI (for seeds)"
if ! make --no-print-directory -j2 cli >"$OUT/make_cli.log" 2>&1; then
    tail -n 20 "$OUT/make_cli.log" >&2
    echo "run.sh: FAIL: cannot build build/clipsurgery (seeds need it)" >&2
    exit 1
fi

T_BUILT=$(date +%s)

# --- seeds ---------------------------------------------------------------------------------
echo "== seed corpora"
CLI=build/clipsurgery
S=$OUT/seeds.tmp
rm -rf "$S" && mkdir -p "$S" "$OUT/artifacts" || exit 1
MODEL=$CS_FIXTURES/golden/tiny-openai-f32.safetensors
VOCAB=$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz
seed_ok=1
$CLI convert "$MODEL" "$S/bundle.safetensors" --vocab "$VOCAB" 2>"$S/log" || seed_ok=0
$CLI preprocess --size 8 "$CS_FIXTURES/edge/rgb8.png" --out "$S/px8.safetensors" 2>>"$S/log" || seed_ok=0
$CLI preprocess --size 5 "$CS_FIXTURES/edge/gray_alpha.png" --out "$S/px5.safetensors" 2>>"$S/log" || seed_ok=0
XDG_CACHE_HOME=$(pwd)/$S/cache $CLI labels "$MODEL" "$CS_FIXTURES/edge/rgb8.png" --vocab "$VOCAB" \
    -- cat dog >/dev/null 2>>"$S/log" || seed_ok=0
if [ "$seed_ok" != 1 ]; then
    cat "$S/log" >&2
    echo "run.sh: FAIL: the CLI could not make the seeds" >&2
    exit 1
fi
for t in $TARGETS fuzz_image fuzz_pixel_values fuzz_safetensors fuzz_text_cache; do
    mkdir -p "$OUT/corpus_$t"
done
seed() { # file, target, name (fixtures are read-only: a copy of one could not be overwritten)
    rm -f "$OUT/corpus_$2/seed_$3" && cat "$1" >"$OUT/corpus_$2/seed_$3"
}
if ! python3 tests/fuzz/seeds.py "$CS_FIXTURES" "$OUT" "$S/bundle.safetensors" "$S/px8.safetensors"; then
    echo "run.sh: FAIL: tests/fuzz/seeds.py" >&2
    exit 1
fi
for f in "$CS_FIXTURES"/edge/*.png "$CS_FIXTURES"/edge/*.jpg; do
    seed "$f" fuzz_image "$(basename "$f")"
done
for f in "$CS_FIXTURES"/edge/*.png; do
    [ -d "$OUT/corpus_fuzz_label_png" ] && seed "$f" fuzz_label_png "$(basename "$f")"
done
seed "$S/px5.safetensors" fuzz_pixel_values px5
seed "$S/px5.safetensors" fuzz_safetensors px5
n=0
for f in "$S"/cache/clipsurgery/*/*.f32; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    seed "$f" fuzz_text_cache "entry_$n"
done
[ "$n" -ge 1 ] || { echo "run.sh: FAIL: no text cache entry was written" >&2; exit 1; }
rm -rf "$S"

T_SEEDED=$(date +%s)

# --- run -----------------------------------------------------------------------------------
echo "== fuzzing$(for t in $TARGETS; do printf ' %s' "$t"; done): ${SECONDS_PER_TARGET} s each, $JOBS at a time"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:abort_on_error=0:${ASAN_OPTIONS:-}
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}
export ASAN_OPTIONS UBSAN_OPTIONS
run_one() {
    t=$1
    "$OUT/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=25 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t-" \
        "$OUT/corpus_$t" >"$OUT/log_$t.txt" 2>&1
    echo $? >"$OUT/rc_$t"
}
running=0
for t in $TARGETS; do
    [ -x "$OUT/$t" ] || continue
    rm -f "$OUT/rc_$t"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait
        running=0
    fi
done
wait

# --- results -------------------------------------------------------------------------------
summary=""
for t in $TARGETS; do
    if [ ! -x "$OUT/$t" ]; then
        summary="$summary$t not-built -\n"
        continue
    fi
    log=$OUT/log_$t.txt
    rc=$(cat "$OUT/rc_$t" 2>/dev/null || echo "?")
    runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
    if [ "$rc" != 0 ] || [ -z "$runs" ]; then
        if grep -q 'ERROR: LeakSanitizer' "$log"; then what=leak
        elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then what=timeout
        elif grep -q -e 'ERROR: libFuzzer: out-of-memory' -e 'allocation-size-too-big' "$log"; then what=out-of-memory
        else what=crash
        fi
        why=$(grep -m 1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log")
        fail "$t" "$what (exit status $rc)${why:+: $why}"
        grep -E '^(SUMMARY|Test unit written)' "$log"
        echo "    log: $log"
        runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
        summary="$summary$t $what ${runs:--}\n"
    else
        summary="$summary$t ok $runs\n"
    fi
done
echo "== executions per target"
printf "$summary" | awk '{printf "  %-20s %-14s %s\n", $1, $2, ($3 == "-" ? "" : $3 " runs")}'
echo "== $(($(date +%s) - T0)) s in all (build $((T_BUILT - T0)) s, seeds $((T_SEEDED - T_BUILT)) s, fuzzing $(($(date +%s) - T_SEEDED)) s)"
if [ -n "$failed" ]; then
    echo "run.sh: FAILED:$failed"
    exit 1
fi
echo "run.sh: every fuzz target ran clean"
