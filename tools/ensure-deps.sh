#!/bin/sh
# Installs the Debian build dependencies when one is missing (as root), or says what to run.
# Called by `make check`, `make demo` and `make bench`; reads DEB_PACKAGES, PKGS (pkg-config
# names), FILES (paths that must exist, e.g. the pkg-config file of OpenBLAS's OpenMP build),
# TOOLS (commands), HEADERS (C headers cc must find, for libraries without a pkg-config
# file, e.g. oneapi/dnnl/dnnl.h for make GEMM=onednn) and PY_DEB_MODULES (Python modules
# /usr/bin/python3 must import).
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
command -v cc >/dev/null 2>&1 || missing="$missing cc"
command -v c++ >/dev/null 2>&1 || missing="$missing c++"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
for t in $TOOLS; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -z "$missing" ]; then
    for p in $PKGS; do
        pkg-config --exists "$p" || missing="$missing $p"
    done
fi
if [ -z "$missing" ]; then
    for f in ${FILES:-}; do
        [ -e "$f" ] || missing="$missing $f"
    done
fi
if [ -z "$missing" ]; then
    for h in ${HEADERS:-}; do
        printf '#include <%s>\n' "$h" | cc -E -x c - >/dev/null 2>&1 || missing="$missing $h"
    done
fi
# Python modules from Debian's packages (python3-numpy, python3-dask, ...), for /usr/bin/python3
if [ -z "$missing" ] && [ -n "${PY_DEB_MODULES:-}" ] && [ -x /usr/bin/python3 ]; then
    for m in $PY_DEB_MODULES; do
        /usr/bin/python3 -c "import $m" >/dev/null 2>&1 || missing="$missing python3:$m"
    done
fi
[ -z "$missing" ] && exit 0
echo "missing build dependencies:$missing"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing them with apt-get (make deps)"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $DEB_PACKAGES
    exit $?
fi
echo "run as root:  apt-get update && apt-get install -y $DEB_PACKAGES"
exit 1
