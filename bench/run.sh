#!/bin/sh
# make bench: runs the benchmark programs (JSON lines on stdout).
: "${BUILD:=build}"
echo '{"bench": "none yet"}'
