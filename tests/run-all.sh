#!/bin/sh
# Runs every C test binary given as arguments, then tests/test_*.sh and tests/test_*.py.
# Exits nonzero when any fails; Check prints its own summary line per suite.
: "${BUILD:=build}" "${PYTHON:=python3}"
export BUILD CS_FIXTURES
export CK_FORK=yes
if [ ! -d "${CS_FIXTURES:-../shared/fixtures}" ]; then
    echo "error: fixtures folder ${CS_FIXTURES:-../shared/fixtures} is missing (set CS_FIXTURES)" >&2
    exit 1
fi
# Absolute from here on: tests symlink fixture paths into temporary folders and change directory.
CS_FIXTURES=$(cd "${CS_FIXTURES:-../shared/fixtures}" && pwd)
failed=""
for t in "$@"; do
    echo "== $t"
    "$t" || failed="$failed $t"
done
for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    echo "== $t"
    sh "$t" || failed="$failed $t"
done
for t in tests/test_*.py; do
    [ -f "$t" ] || continue
    if [ "${SAN:-}" = 1 ] && [ "$t" = tests/test_python.py ]; then echo "== $t skipped in the sanitizer build (ctypes cannot load an ASan library)"; continue; fi
    echo "== $t"
    "$PYTHON" "$t" || failed="$failed $t"
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all test programs passed"
