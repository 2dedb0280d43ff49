#!/bin/sh
# OpenMP environments that give a parallel region fewer threads than omp_get_max_threads():
# OMP_THREAD_LIMIT below the thread count, OMP_DYNAMIC=true. OpenBLAS's OpenMP build then waited
# forever inside its first threaded product and oneDNN left parts of its outputs uncomputed;
# the engines now fit the product's team to what the runtime gives (core/gemm_engine.h
# cs_omp_team_fit). Each run must finish (timeout) and give the default environment's features
# (f32, and bf16 where this build and CPU have it).
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}" "${PYTHON:=python3}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
cli=$BUILD/clipsurgery
m="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
img="$CS_FIXTURES/images/chelsea.png"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for prec in f32 bf16; do
    # 224 px: 197 tokens, every product large enough for the engines to thread it
    if ! "$cli" encode-image "$m" "$img" --size 224 --threads 2 --precision $prec \
        --out "$tmp/ref.st" 2>"$tmp/err"; then
        [ $prec = bf16 ] && grep -q "bf16" "$tmp/err" && { echo "bf16 not available here: skipped"; continue; }
        cat "$tmp/err"; fail "$prec: encode-image failed in the default environment"
    fi
    for env in OMP_THREAD_LIMIT=1 "OMP_THREAD_LIMIT=1 OMP_NUM_THREADS=4" OMP_DYNAMIC=true \
               "OMP_DYNAMIC=true OMP_NUM_THREADS=8"; do
        env $env timeout 120 "$cli" encode-image "$m" "$img" --size 224 --threads 2 \
            --precision $prec --out "$tmp/got.st"
        rc=$?
        [ $rc = 124 ] && fail "$prec, $env: encode-image hung (killed after 120 s)"
        [ $rc = 0 ] || fail "$prec, $env: encode-image exited $rc"
        cmp -s "$tmp/ref.st" "$tmp/got.st" && continue
        # a serial BLAS may round products with an inner dimension over 512 differently
        # (docs/ENGINES.md): close, not equal, is fine then; uncomputed outputs are not
        "$PYTHON" - "$tmp/ref.st" "$tmp/got.st" <<'PY' || fail "$prec, $env: features differ"
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    t = h["image_features"]
    s, e = t["data_offsets"]
    d = b[8 + n + s:8 + n + e]
    return struct.unpack("<%df" % (len(d) // 4), d)
a, b = load(sys.argv[1]), load(sys.argv[2])
worst = max(abs(x - y) if x == x and y == y else float("inf") for x, y in zip(a, b))
print("max diff %g" % worst)
sys.exit(0 if len(a) == len(b) and worst < 1e-4 else 1)
PY
    done
done
echo "omp team: every environment finished with the default environment's features"
