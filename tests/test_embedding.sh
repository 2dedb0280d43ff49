#!/bin/sh
# Static linking and the C++ example of docs/embedding.md: a make install tree, then a C program
# and the C++ example linked against libclipsurgery.a (pkg-config --static lists the private
# dependencies), checked to have no libclipsurgery.so dependency, and run on the fixture model.
: "${BUILD:=build}" "${CS_FIXTURES:=../shared/fixtures}"
CS_FIXTURES=$(cd "$CS_FIXTURES" 2>/dev/null && pwd) || { echo "error: fixtures folder missing (set CS_FIXTURES)" >&2; exit 1; }
if [ "${SAN:-}" = 1 ]; then echo "embedding: skipped in the sanitizer build (checked by the normal build)"; exit 0; fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory -s install BUILD="$BUILD" PREFIX=/opt/cs DESTDIR="$tmp/root" >/dev/null || fail "make install"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root" PKG_CONFIG_PATH="$tmp/root/opt/cs/lib/pkgconfig"
cflags=$(pkg-config --cflags clipsurgery) || fail "pkg-config --cflags"
deps=$(pkg-config --static --libs clipsurgery | sed 's/-lclipsurgery//') || fail "pkg-config --static"
for p in -lopenblas -lpng16 -ljpeg -lz -lutf8proc -ljansson -lpthread -lm; do
    case " $deps " in *" $p "*) ;; *) fail "pkg-config --static --libs lacks $p: $deps" ;; esac
done
model="$CS_FIXTURES/golden/tiny-openai-f32.safetensors"
vocab="$CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz"
img="$CS_FIXTURES/images/chelsea.png"

cat > "$tmp/app.c" <<'C'
/* A C program linked statically: model from memory (copied), the buffer freed before use. */
#include <clipsurgery.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned char *slurp(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END); long len = ftell(f); rewind(f);
    unsigned char *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) { free(b); b = NULL; }
    fclose(f); *n = (size_t)len; return b;
}
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    size_t nw, nv;
    unsigned char *w = slurp(argv[1], &nw), *v = slurp(argv[2], &nv);
    if (!w || !v) return 2;
    cs_model_params p; cs_model_params_default(&p);
    p.vocab_data = v; p.vocab_size = nv; p.flags = CS_MODEL_COPY_BUFFER;
    cs_model *m = NULL;
    cs_status s = cs_model_load_memory(w, nw, &p, &m);
    free(w); free(v);
    if (s != CS_OK) { fprintf(stderr, "%s\n", cs_last_error()); return 1; }
    printf("%s embed_dim %d layers %d\n", cs_version_string(), cs_model_embed_dim(m), cs_model_vision_layers(m));
    cs_model_free(m);
    return 0;
}
C
cc "$tmp/app.c" -o "$tmp/app" $cflags -Wl,-Bstatic -lclipsurgery -Wl,-Bdynamic $deps || fail "static C link"
readelf -d "$tmp/app" | grep -q 'libclipsurgery' && fail "C program still needs libclipsurgery.so"
out=$("$tmp/app" "$model" "$vocab") || fail "static C program"
case "$out" in *"embed_dim 64 layers 8"*) ;; *) fail "static C program printed: $out" ;; esac

# the C++ example, verbatim from docs/embedding.md
awk '/^```cpp$/ {on = 1; next} /^```$/ {on = 0} on' docs/embedding.md > "$tmp/example.cpp"
[ -s "$tmp/example.cpp" ] || fail "no C++ example in docs/embedding.md"
c++ -std=c++14 -Wall -Wextra -Werror "$tmp/example.cpp" -o "$tmp/example" $cflags \
    -Wl,-Bstatic -lclipsurgery -Wl,-Bdynamic $deps || fail "static C++ link"
readelf -d "$tmp/example" | grep -q 'libclipsurgery' && fail "C++ example still needs libclipsurgery.so"
out=$("$tmp/example" "$model" "$vocab" "$img" cat dog) || fail "C++ example: $out"
[ "$(printf '%s\n' "$out" | wc -l)" = 2 ] || fail "C++ example printed: $out"
printf '%s\n' "$out" | awk '$1 != "cat" && $1 != "dog" {exit 1} $2 < -1 || $2 > 1 {exit 1}' || fail "C++ example output: $out"
# its error path: a missing file is an exception turned into exit 1 with the library's message
"$tmp/example" "$model" "$vocab" /nonexistent.png >/dev/null 2>"$tmp/err" && fail "C++ example accepted a missing image"
grep -q "cs_image_decode_file" "$tmp/err" || fail "C++ example error message: $(cat "$tmp/err")"
echo "embedding: C and C++ programs linked statically (pkg-config --static) and ran; model from memory"
