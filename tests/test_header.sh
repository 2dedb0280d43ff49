#!/bin/sh
# The public header compiles on its own as C99 and as C++, with strict warnings.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "clipsurgery.h"\nint main(void){ return cs_status_string(CS_OK) == 0; }\n' > "$tmp/c.c"
cp "$tmp/c.c" "$tmp/cpp.cpp"
cc -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/c.c" -o "$tmp/c.o" || { echo "FAIL: header as C99"; exit 1; }
c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/cpp.cpp" -o "$tmp/cpp.o" || { echo "FAIL: header as C++"; exit 1; }
# only <stddef.h> and <stdint.h> are included
extra=$(grep '^#include' include/clipsurgery.h | grep -v -e '<stddef.h>' -e '<stdint.h>')
[ -z "$extra" ] || { echo "FAIL: header includes $extra"; exit 1; }
echo "header: compiles as C99 and C++"
# docs/api.md is generated from the header and must be up to date
if command -v python3 >/dev/null 2>&1; then
    python3 tools/gen_api_doc.py | cmp -s - docs/api.md || { echo "FAIL: docs/api.md is stale: python3 tools/gen_api_doc.py > docs/api.md"; exit 1; }
    echo "header: docs/api.md up to date"
fi
