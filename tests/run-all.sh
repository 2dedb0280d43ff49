#!/bin/sh
# Runs every C test binary given as arguments, then tests/test_*.sh and tests/test_*.py.
# Exits nonzero when any fails; Check prints its own summary line per suite.
: "${BUILD:=build}" "${PYTHON:=python3}"
export BUILD CS_FIXTURES
export CK_FORK=yes
# every test's text-feature cache in one temporary folder: `make check` never reads or writes the
# user's ~/.cache/clipsurgery (a test that wants its own cache still sets XDG_CACHE_HOME)
CS_TEST_CACHE=$(mktemp -d)
trap 'rm -rf "$CS_TEST_CACHE"' EXIT
XDG_CACHE_HOME=$CS_TEST_CACHE
export XDG_CACHE_HOME
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
# The binding's suites (tests/test_python*.py) run twice: with numpy hidden
# (CLIPSURGERY_NO_NUMPY=1) and with numpy, each under the first of $PYTHON and Debian's
# /usr/bin/python3 that has what the suite needs (numpy; Dask for test_python_dask.py).
py_with() {
    for p in "$PYTHON" /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c "import $1" >/dev/null 2>&1; then
            echo "$p"
            return
        fi
    done
}
PY_NUMPY=$(py_with numpy)
PY_DASK=$(py_with "numpy, dask, distributed")
for t in tests/test_*.py; do
    [ -f "$t" ] || continue
    case "$t" in
    tests/test_python*.py)
        if [ "${SAN:-}" = 1 ]; then echo "== $t skipped in the sanitizer build (ctypes cannot load an ASan library)"; continue; fi
        py="$PYTHON"
        with="$PY_NUMPY"
        if [ "$t" = tests/test_python_dask.py ]; then py="${PY_DASK:-$PYTHON}"; with="$PY_DASK"; fi
        echo "== $t (numpy hidden, $py)"
        CLIPSURGERY_NO_NUMPY=1 "$py" "$t" || failed="$failed $t(no-numpy)"
        if [ -z "$with" ]; then
            echo "FAIL: no python3 that imports numpy (and Dask for the Dask tests) for $t: make check installs python3-numpy python3-dask python3-distributed"
            failed="$failed $t(numpy)"
            continue
        fi
        echo "== $t (numpy, $with)"
        "$with" "$t" || failed="$failed $t(numpy)"
        ;;
    *)
        echo "== $t"
        "$PYTHON" "$t" || failed="$failed $t"
        ;;
    esac
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all test programs passed"
