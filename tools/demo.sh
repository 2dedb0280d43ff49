#!/bin/sh
# make demo: CLIP Surgery heatmaps and SAM points on real photos, overlays in out/.
# Uses models/clip-vit-base-patch16 (fetched when missing); offline, the fixture model with
# random weights runs the same pipeline.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
set -u
cli="$BUILD/clipsurgery"
model=models/clip-vit-base-patch16
vocab=""
if [ ! -s "$model/model.safetensors" ] && ! command -v curl >/dev/null 2>&1; then
    echo "demo: curl is missing; cannot fetch the model"
fi
if [ -s "$model/model.safetensors" ] || { command -v curl >/dev/null 2>&1 && sh scripts/fetch-model.sh "$model"; }; then
    echo "demo: using $model"
else
    model="$CS_FIXTURES/golden/tiny-hf-f16.safetensors"
    vocab="--vocab $CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
    echo "################################################################################"
    echo "# OFFLINE: real CLIP weights cannot be downloaded here. The demo runs the same   #"
    echo "# pipeline on the fixture model with RANDOM weights: its maps are MEANINGLESS.   #"
    echo "################################################################################"
fi
if [ -z "${DEMO_IMAGES:-}" ]; then
    DEMO_IMAGES=""
    for f in "$CS_FIXTURES"/images/*.jpg "$CS_FIXTURES"/images/*.png; do
        [ -f "$f" ] && DEMO_IMAGES="$DEMO_IMAGES $f"
    done
fi
[ -n "$DEMO_IMAGES" ] || { echo "demo: no images (set DEMO_IMAGES)"; exit 1; }
mkdir -p out
echo "demo: heatmaps -> out/"
# shellcheck disable=SC2086
"$cli" heatmap "$model" $vocab $DEMO_IMAGES --out-dir out -- person bench sky tree grass cat building || exit 1
first=$(echo $DEMO_IMAGES | tr ' ' '\n' | grep -m1 bench-park || echo $DEMO_IMAGES | cut -d' ' -f1)
echo "demo: SAM point prompts for $first"
# shellcheck disable=SC2086
"$cli" points "$model" $vocab "$first" -- person bench "person+bench" || exit 1
echo "demo: done; overlays are in out/"
