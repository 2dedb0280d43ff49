#!/bin/sh
# ONNX Runtime baseline of the image encoder (bench/ort/README.md); JSON lines on stdout only.
#
#   sh bench/ort/run.sh [MODEL.safetensors] [OUT_DIR]
#
# MODEL: an f32 OpenAI-layout ViT checkpoint (default build/bench/vitb16-openai-f32.safetensors,
# the one `make bench` generates); OUT_DIR (default build/ort) receives node_modules (installed
# once: onnxruntime-node with --ignore-scripts, its CPU binary only), the exported ONNX files
# (once per model), and the pixels and features of the parity checks.
# Environment: REPS (default 3), ORT_THREADS (default 2, ORT's intra-op threads; our library runs
# with the same count in the parity check), ORT_VERSION (default 1.30.0), BUILD (default build:
# where libclipsurgery.so.0 is), CS_FIXTURES (default ../shared/fixtures: the official-code golden
# check on the tiny model runs when its files are there), PYTHON (default: a python3 with numpy
# when there is one), NODE, NPM.
# Without node/npm, or when the install fails (no network), prints one "skipped" line and exits 0.
# Exits 1 when a parity check fails.
here=$(cd "$(dirname "$0")" && pwd) || exit 1
root=$(cd "$here/../.." && pwd) || exit 1
model=${1:-build/bench/vitb16-openai-f32.safetensors}
out=${2:-build/ort}
: "${REPS:=3}" "${ORT_THREADS:=2}" "${ORT_VERSION:=1.30.0}" "${BUILD:=build}"
: "${CS_FIXTURES:=../shared/fixtures}" "${NODE:=node}" "${NPM:=npm}"

skip() {
    printf '{"bench": "ort_encode_image", "skipped": true, "reason": "%s"}\n' "$1"
    exit 0
}

[ -f "$model" ] || skip "no model $model"
command -v "$NODE" >/dev/null 2>&1 || skip "node not found"
mkdir -p "$out" || exit 1
mods="$out/node_modules"
installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$mods/onnxruntime-node/package.json" 2>/dev/null | head -n 1)
if [ "$installed" != "$ORT_VERSION" ]; then
    command -v "$NPM" >/dev/null 2>&1 || skip "npm not found"
    # --ignore-scripts: the package's install script fetches CUDA libraries (and fails without
    # them); the CPU binary ships in the package itself
    if ! "$NPM" install --prefix "$out" --ignore-scripts --no-audit --no-fund \
            "onnxruntime-node@$ORT_VERSION" >"$out/npm-install.log" 2>&1; then
        skip "npm install onnxruntime-node@$ORT_VERSION failed (see $out/npm-install.log)"
    fi
fi
if ! (cd "$out" && "$NODE" -e "require('onnxruntime-node')") >/dev/null 2>&1; then
    skip "onnxruntime-node does not load on this machine"
fi

if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    if ! python3 -c "import numpy" >/dev/null 2>&1 &&
            /usr/bin/python3 -c "import numpy" >/dev/null 2>&1; then
        PYTHON=/usr/bin/python3
    fi
fi

# newer A B: file A was modified after file B (POSIX sh has no -nt)
newer() { [ -n "$(find "$1" -newer "$2" 2>/dev/null)" ]; }

status=0
golden="$CS_FIXTURES/golden"
if [ -f "$golden/tiny-golden.safetensors" ] && [ -f "$golden/tiny-openai-f32.safetensors" ]; then
    "$PYTHON" "$here/check_parity.py" golden "$golden" --node-modules "$mods" \
        --work "$out/golden" 2>"$out/golden.log" || status=1
fi

if [ -z "${CLIPSURGERY_LIBRARY:-}" ] && [ -f "$BUILD/libclipsurgery.so.0" ]; then
    CLIPSURGERY_LIBRARY=$(cd "$BUILD" && pwd)/libclipsurgery.so.0
    export CLIPSURGERY_LIBRARY
fi
name=$(basename "$model" .safetensors)
for size in 224 512; do
    onnx="$out/$name-surgery-$size.onnx"
    # exported once per model (again when the model or the exporter is newer)
    if [ ! -f "$onnx" ] || [ ! -f "$onnx.gflop" ] || newer "$model" "$onnx" ||
            newer "$here/export_onnx.py" "$onnx"; then
        if ! "$PYTHON" "$here/export_onnx.py" "$model" "$onnx.tmp" --size "$size" \
                --flops-out "$onnx.gflop" 2>"$out/export-$size.log"; then
            rm -f "$onnx.tmp"
            echo "bench/ort/run.sh: export failed, see $out/export-$size.log" >&2
            exit 1
        fi
        mv "$onnx.tmp" "$onnx" || exit 1
    fi
    pixels="$out/pixels-$size.f32"
    features="$out/features-$size.f32"
    gflop=$(cat "$onnx.gflop" 2>/dev/null)
    "$NODE" "$here/run_ort.mjs" "$onnx" --size "$size" --reps "$REPS" --threads "$ORT_THREADS" \
        --node-modules "$mods" --save-pixels "$pixels" --out "$features" \
        ${gflop:+--gflop "$gflop"} || exit 1
    PYTHONPATH="$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}" \
        "$PYTHON" "$here/check_parity.py" lib "$model" --size "$size" --pixels "$pixels" \
        --ort-features "$features" --threads "$ORT_THREADS" || status=1
done
exit $status
