#!/bin/sh
# make install into a DESTDIR, then build and run a small program with pkg-config against it.
: "${BUILD:=build}"
if [ "${SAN:-}" = 1 ]; then echo "install: skipped in the sanitizer build (checked by the normal build)"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory -s install BUILD="$BUILD" PREFIX=/opt/cs DESTDIR="$tmp/root" >/dev/null || { echo "FAIL: make install"; exit 1; }
for f in opt/cs/include/clipsurgery.h opt/cs/lib/libclipsurgery.a opt/cs/lib/libclipsurgery.so \
         opt/cs/lib/pkgconfig/clipsurgery.pc opt/cs/bin/clipsurgery; do
    [ -e "$tmp/root/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
cat > "$tmp/hello.c" <<'C'
#include <clipsurgery.h>
#include <stdio.h>
int main(void) {
    cs_model_params p;
    cs_model_params_default(&p);
    cs_model *m = NULL;
    cs_status s = cs_model_load("/nonexistent", &p, &m);
    printf("%s %s\n", cs_version_string(), cs_status_string(s));
    return s == CS_ERR_IO && cs_version() == CS_VERSION_NUMBER ? 0 : 1;
}
C
export PKG_CONFIG_SYSROOT_DIR="$tmp/root" PKG_CONFIG_PATH="$tmp/root/opt/cs/lib/pkgconfig"
flags=$(pkg-config --cflags --libs clipsurgery) || { echo "FAIL: pkg-config"; exit 1; }
cc "$tmp/hello.c" -o "$tmp/hello" $flags || { echo "FAIL: compile against installed library"; exit 1; }
LD_LIBRARY_PATH="$tmp/root/opt/cs/lib" "$tmp/hello" >/dev/null || { echo "FAIL: run"; exit 1; }
grep -q '^prefix=/opt/cs$' "$tmp/root/opt/cs/lib/pkgconfig/clipsurgery.pc" || { echo "FAIL: .pc prefix"; exit 1; }
pydir=$(find "$tmp/root/opt/cs/lib" -name clipsurgery -type d -path '*-packages*' | head -1)
[ -n "$pydir" ] && [ -f "$pydir/__init__.py" ] || { echo "FAIL: Python package not installed"; exit 1; }
# uninstall removes everything it installed
make --no-print-directory -s uninstall PREFIX=/opt/cs DESTDIR="$tmp/root" >/dev/null
left=$(find "$tmp/root" -type f | grep -c clipsurgery)
[ "$left" = 0 ] || { echo "FAIL: uninstall left $left files"; exit 1; }
echo "install: pkg-config program built and ran against DESTDIR install"
