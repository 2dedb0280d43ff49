#!/bin/sh
# make demo: for now prints the architecture of the fixture model (the main-job issue extends it).
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
set -e
"$BUILD/clipsurgery" info "$CS_FIXTURES/golden/tiny-hf-f16.safetensors"
