/* libFuzzer target: the one-file bundle that `clipsurgery convert` writes, as cs_model_load reads
 * it (lib/io/model.c bundle_config and the bundled vocabulary): the "__metadata__" with its
 * clipsurgery.* keys and the "clipsurgery.vocab.merges" tensor, spliced into a small valid model
 * (OpenAI naming, width 64, one block per tower, built here) that is written per input to a
 * temporary file (one folder per process).
 * Input: METADATA [ '\0' MODE MERGES ]
 *   METADATA  JSON text spliced as the value of "__metadata__" (left out when empty), e.g.
 *             {"clipsurgery.format":"bundle-1","clipsurgery.activation":"gelu"}
 *   MODE      the merges tensor's dtype and shape: bits 0-1 U8, I8, BOOL, F32; bit 2 shape
 *             [1, n] instead of [n]; bit 3 the tensor comes first in the data section
 *   MERGES    the tensor's bytes (a F32 tensor takes the largest multiple of 4)
 * See tests/fuzz/README.md. */
#include "clipsurgery.h"

#include "fuzz_util.h"

#include <stdint.h>

enum { W = 64, MLP = 8, PATCH = 2, EMBED = 8, VOCAB = 16, CTX = 4 };

static char *tensors_json; /* the weights' header entries, offsets from 0 */
static size_t data_size;   /* bytes of weights (zeros) */
static uint8_t *zeros;
static const char *bundle_path;

static char *append(char *s, size_t *len, size_t *cap, const char *add, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap = *cap ? 2 * *cap : 4096;
        s = realloc(s, *cap);
        if (!s) abort();
    }
    memcpy(s + *len, add, n);
    *len += n;
    s[*len] = '\0';
    return s;
}

static char *hdr;
static size_t hdr_len, hdr_cap;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void put(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hdr = append(hdr, &hdr_len, &hdr_cap, buf, (size_t)n);
}

/* One F32 tensor entry of the weights. */
static void tensor(const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t dims[4] = {a, b, c, d};
    size_t n = 1;
    put("%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", hdr_len ? "," : "", name);
    for (int i = 0; i < ndim; i++) {
        put("%s%lld", i ? "," : "", (long long)dims[i]);
        n *= (size_t)dims[i];
    }
    put("],\"data_offsets\":[%zu,%zu]}", data_size, data_size + 4 * n);
    data_size += 4 * n;
}

static void block(const char *prefix)
{
    char n[256];
#define T(suffix, nd, a, b) (snprintf(n, sizeof n, "%s0.%s", prefix, suffix), tensor(n, nd, a, b, 0, 0))
    T("ln_1.weight", 1, W, 0);
    T("ln_1.bias", 1, W, 0);
    T("attn.in_proj_weight", 2, 3 * W, W);
    T("attn.in_proj_bias", 1, 3 * W, 0);
    T("attn.out_proj.weight", 2, W, W);
    T("attn.out_proj.bias", 1, W, 0);
    T("ln_2.weight", 1, W, 0);
    T("ln_2.bias", 1, W, 0);
    T("mlp.c_fc.weight", 2, MLP, W);
    T("mlp.c_fc.bias", 1, MLP, 0);
    T("mlp.c_proj.weight", 2, W, MLP);
    T("mlp.c_proj.bias", 1, W, 0);
#undef T
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tensor("visual.conv1.weight", 4, W, 3, PATCH, PATCH);
    tensor("visual.class_embedding", 1, W, 0, 0, 0);
    tensor("visual.positional_embedding", 2, 2, W, 0, 0); /* grid 1 */
    tensor("visual.ln_pre.weight", 1, W, 0, 0, 0);
    tensor("visual.ln_pre.bias", 1, W, 0, 0, 0);
    block("visual.transformer.resblocks.");
    tensor("visual.ln_post.weight", 1, W, 0, 0, 0);
    tensor("visual.ln_post.bias", 1, W, 0, 0, 0);
    tensor("visual.proj", 2, W, EMBED, 0, 0);
    tensor("token_embedding.weight", 2, VOCAB, W, 0, 0);
    tensor("positional_embedding", 2, CTX, W, 0, 0);
    block("transformer.resblocks.");
    tensor("ln_final.weight", 1, W, 0, 0, 0);
    tensor("ln_final.bias", 1, W, 0, 0, 0);
    tensor("text_projection", 2, W, EMBED, 0, 0);
    tensor("logit_scale", 0, 0, 0, 0, 0);
    tensors_json = hdr;
    hdr = NULL;
    hdr_len = hdr_cap = 0;
    zeros = calloc(1, data_size);
    if (!zeros) abort();
    bundle_path = fz_tmpfile("bundle", "bundle.safetensors");
    return 0;
}

static const char *const dtypes[4] = {"U8", "I8", "BOOL", "F32"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t meta_len = nul ? (size_t)(nul - data) : size;
    int has_merges = nul && (size_t)(nul - data) + 1 < size;
    unsigned mode = has_merges ? nul[1] : 0;
    const uint8_t *merges = has_merges ? nul + 2 : NULL;
    size_t merges_len = has_merges ? size - meta_len - 2 : 0;
    const char *dt = dtypes[mode & 3];
    size_t count = merges_len;
    if ((mode & 3) == 3) {
        count = merges_len / 4;
        merges_len = count * 4;
    }
    size_t w0 = (mode & 8) ? merges_len : 0; /* where the weights start in the data section */
    size_t m0 = (mode & 8) ? 0 : data_size;

    hdr_len = 0;
    put("{");
    if (meta_len) {
        put("\"__metadata__\":");
        hdr = append(hdr, &hdr_len, &hdr_cap, (const char *)data, meta_len);
        put(",");
    }
    if (w0 == 0) {
        hdr = append(hdr, &hdr_len, &hdr_cap, tensors_json, strlen(tensors_json));
    } else { /* shift every data_offsets pair by w0 */
        const char *p = tensors_json;
        for (;;) {
            const char *q = strstr(p, "\"data_offsets\":[");
            if (!q) break;
            q += 16;
            hdr = append(hdr, &hdr_len, &hdr_cap, p, (size_t)(q - p));
            char *end;
            unsigned long long b = strtoull(q, &end, 10), e = strtoull(end + 1, &end, 10);
            put("%llu,%llu", b + w0, e + w0);
            p = end;
        }
        hdr = append(hdr, &hdr_len, &hdr_cap, p, strlen(p));
    }
    if (has_merges) {
        put(",\"clipsurgery.vocab.merges\":{\"dtype\":\"%s\",\"shape\":[", dt);
        if (mode & 4) put("1,");
        put("%zu],\"data_offsets\":[%zu,%zu]}", count, m0, m0 + merges_len);
    }
    put("}");
    while (hdr_len % 8) put(" "); /* the data section 8-byte aligned, as cs_st_write does */
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr_len >> (8 * i));
    /* header length, header, then the data section in the chosen order */
    FILE *f = fopen(bundle_path, "wb");
    int ok = f && fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hdr_len, f) == hdr_len;
    if (ok && (mode & 8)) ok = !merges_len || fwrite(merges, 1, merges_len, f) == merges_len;
    if (ok) ok = fwrite(zeros, 1, data_size, f) == data_size;
    if (ok && !(mode & 8)) ok = !merges_len || fwrite(merges, 1, merges_len, f) == merges_len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
        perror(bundle_path);
        exit(1);
    }

    cs_model *m = NULL;
    cs_status s = fz_verbose(cs_model_load(bundle_path, NULL, &m));
    if (s == CS_OK) {
        cs_model_info info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if (cs_model_get_info(m, &info) != CS_OK || !(info.layer_norm_eps > 0) ||
            info.layer_norm_eps >= 1 || info.vision_width != W)
            abort(); /* a bundle that loads must be usable */
        const cs_tokenizer *t = cs_model_tokenizer(m);
        if (t) {
            int32_t ids[CS_CONTEXT_LENGTH];
            size_t n = 0;
            if (cs_tokenize(t, "a photo of a cat.", 17, ids, CS_CONTEXT_LENGTH, &n) != CS_OK) abort();
        }
        cs_model_free(m);
    } else if (m || !*cs_last_error()) {
        abort();
    }
    return 0;
}
