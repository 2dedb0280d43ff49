#!/bin/sh
# make bench: generates a random full-size ViT-B/16 CLIP and a random full-size RN50 CLIP
# (tools/gen_model --arch rn50) once and runs the benchmark programs on each; JSON lines on stdout.
#
# OpenBLAS 0.3.21 (Debian 12) does not know recent Xeon models and falls back to its Prescott
# (SSE3) kernels, about ten times slower. When OPENBLAS_CORETYPE is unset and the CPU has AVX-512
# (or AVX2), this script sets it for the benchmark process only and says so in the JSON; the
# library itself never changes OpenBLAS settings. Override with OPENBLAS_CORETYPE=... make bench.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
# the generated models are shared by every build (GEMM=onednn builds into build/onednn)
: "${BENCH_MODELS:=build/bench}"
mkdir -p "$BENCH_MODELS" || exit 1
model="$BENCH_MODELS/vitb16-openai-f32.safetensors"
if [ ! -f "$model" ]; then
    "$BUILD/tools/gen_model" --layout openai --dtype f32 --out "$model" || exit 1
fi
rn50="$BENCH_MODELS/rn50-openai-f32.safetensors"
if [ ! -f "$rn50" ]; then
    "$BUILD/tools/gen_model" --arch rn50 --dtype f32 --out "$rn50" || exit 1
fi
forced=""
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
        OPENBLAS_CORETYPE=SkylakeX; forced=1
    elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
        OPENBLAS_CORETYPE=Haswell; forced=1
    fi
    [ -n "$forced" ] && export OPENBLAS_CORETYPE
fi
if [ -n "$forced" ]; then set_by=true; else set_by=false; fi
echo "{\"bench\": \"environment\", \"OPENBLAS_CORETYPE\": \"${OPENBLAS_CORETYPE:-}\", \"set_by_run_sh\": $set_by}"
vocab="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
[ -f "$vocab" ] && vargs="--vocab $vocab" || vargs=""
# the in-run GEMM roof: cs_gemm on the model's shapes, f32 and (when available) bf16; each
# encode line below reads its GFLOP/s as a fraction of the roof of its precision ("efficiency")
roof_out=$("$BUILD/bench/bench_gemm" "$model" --reps "${GEMM_REPS:-10}") || exit 1
printf '%s\n' "$roof_out"
roof() { printf '%s\n' "$roof_out" | grep "gemm_roof_summary" | grep "\"precision\": \"$1\"" |
         sed -n 's/.*"roof_gflops": \([0-9.]*\).*/\1/p'; }
roofs=""
r32=$(roof f32); [ -n "$r32" ] && roofs="--roof-f32 $r32"
r16=$(roof bf16); [ -n "$r16" ] && roofs="$roofs --roof-bf16 $r16"
# bf16 accuracy (when bf16 runs here) is also measured on the fixture photos
photos=""
for p in bench-park.jpg astronaut.png chelsea.png; do
    [ -f "$CS_FIXTURES/images/$p" ] && photos="$photos --photo $CS_FIXTURES/images/$p"
done
# shellcheck disable=SC2086
"$BUILD/bench/bench_encode" "$model" $vargs $roofs $photos --reps "${REPS:-3}"
# RN50 CLIP: surgery (and raw) encode at 224 and 512 px
# shellcheck disable=SC2086
"$BUILD/bench/bench_encode" "$rn50" $vargs $roofs $photos --reps "${REPS:-3}"
