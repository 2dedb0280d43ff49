#!/bin/sh
# Runs `make check` from a second clone placed somewhere else, the way a newcomer places it:
# T/main (a clone of this repository's HEAD) beside T/shared (a symlink to the real shared folder),
# with CS_FIXTURES unset so the relative default ../shared/fixtures is what the tests get. A test
# that depends on where the checkout sits (a relative fixture path symlinked into /tmp, a fixed
# folder name) fails here. Usage, from the project root: sh tools/check-elsewhere.sh
# Only committed work is cloned. Exits with make check's status.
set -e
shared=${CS_FIXTURES:-../shared/fixtures}
shared=$(cd "$shared/.." && pwd) || { echo "check-elsewhere: fixtures folder missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/var/tmp}/cs-elsewhere.XXXXXX")
trap 'rm -rf "$T"' EXIT
git clone -q . "$T/main"
ln -s "$shared" "$T/shared"
echo "check-elsewhere: make check in $T/main (shared at $T/shared -> $shared)"
cd "$T/main"
env -u CS_FIXTURES make --no-print-directory check
