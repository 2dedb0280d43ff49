/* Embedding: models and vocabularies loaded from caller memory (cs_model_load_memory,
 * cs_tokenizer_load_memory) give the same results as from files, zero-copy or copied, aligned or
 * not; bad buffers give clean statuses; and a caller compiled against the 0.1 header (a shorter
 * cs_model_params) still works against this library. */
#include "testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_all(const char *rel, size_t *size)
{
    char *p = tu_fixture(rel);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 64);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    free(p);
    *size = (size_t)n;
    return buf;
}

/* Image features of the golden input.x64 (2 images) through the surgery encoder, and the token
 * ids of a caption: what a model gives, for comparing two loads. */
typedef struct outputs {
    float *features;
    size_t n;
    int32_t ids[CS_CONTEXT_LENGTH];
} outputs;

static void run(const cs_model *m, outputs *o)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    size_t npx;
    float *px = tu_golden_f32(g, "input.x64", &npx);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    o->n = (size_t)2 * 17 * 64;
    o->features = malloc(o->n * sizeof(float));
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 2, 64, 64, o->features, o->n), CS_OK);
    const cs_tokenizer *tok = cs_model_tokenizer(m);
    ck_assert_ptr_nonnull(tok);
    const char *caption = "a photo of a dog on a bench, caf\xc3\xa9";
    ck_assert_int_eq(cs_tokenize_context(tok, caption, strlen(caption), 0, o->ids, NULL), CS_OK);
    cs_context_free(ctx);
    free(px);
    cs_st_close(g);
}

static void expect_same(const outputs *a, const outputs *b)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_msg(memcmp(a->features, b->features, a->n * sizeof(float)) == 0,
                  "image features differ between file and memory loads");
    ck_assert_msg(memcmp(a->ids, b->ids, sizeof a->ids) == 0, "token ids differ");
}

static void reference(outputs *o)
{
    char *p = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *v = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = v;
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load(p, &mp, &m) == CS_OK, "%s", cs_last_error());
    run(m, o);
    cs_model_free(m);
    free(p);
    free(v);
}

START_TEST(memory_load_equals_file_load)
{
    outputs ref, got;
    reference(&ref);
    size_t nw, nv;
    unsigned char *w = read_all("golden/tiny-openai-f32.safetensors", &nw);
    unsigned char *v = read_all("vocab/bpe_simple_vocab_16e6.txt.gz", &nv);
    /* _i: 0 zero-copy aligned, 1 zero-copy at an odd address (tensors converted), 2 copied
     * (the caller's buffer is wiped and freed before the model is used) */
    int mode = _i;
    unsigned char *buf = w;
    if (mode == 1) {
        buf = malloc(nw + 1);
        memcpy(buf + 1, w, nw);
    }
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_data = v;
    mp.vocab_size = nv;
    if (mode == 2) mp.flags = CS_MODEL_COPY_BUFFER;
    cs_model *m = NULL;
    const unsigned char *src = mode == 1 ? buf + 1 : buf;
    ck_assert_msg(cs_model_load_memory(src, nw, &mp, &m) == CS_OK, "%s", cs_last_error());
    memset(v, 0, nv); /* the vocabulary is read during the call only */
    free(v);
    if (mode == 2) {
        memset(w, 0xA5, nw);
        free(w);
        w = NULL;
    }
    run(m, &got);
    expect_same(&ref, &got);
    cs_model_free(m);
    if (mode == 1) free(buf);
    free(w);
    free(ref.features);
    free(got.features);
}
END_TEST

START_TEST(memory_load_does_not_write_the_buffer)
{
    size_t nw, nv;
    unsigned char *w = read_all("golden/tiny-hf-f16.safetensors", &nw); /* F16: converted */
    unsigned char *copy = malloc(nw);
    memcpy(copy, w, nw);
    unsigned char *v = read_all("vocab/bpe_simple_vocab_16e6.txt.gz", &nv);
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_data = v;
    mp.vocab_size = nv;
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load_memory(w, nw, &mp, &m) == CS_OK, "%s", cs_last_error());
    ck_assert_msg(memcmp(w, copy, nw) == 0, "the caller's buffer was changed by the load");
    cs_model_info in;
    memset(&in, 0, sizeof in);
    in.size = sizeof in;
    ck_assert_int_eq(cs_model_get_info(m, &in), CS_OK);
    ck_assert_int_eq(in.layout, CS_LAYOUT_HF);
    ck_assert_int_eq(in.dtype_bits, 16);
    cs_model_free(m);
    ck_assert_msg(memcmp(w, copy, nw) == 0, "the caller's buffer was changed by the free");
    free(w);
    free(copy);
    free(v);
}
END_TEST

START_TEST(vocabulary_from_memory_all_forms)
{
    char *gz = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_tokenizer *ref = NULL;
    ck_assert_int_eq(cs_tokenizer_load(gz, &ref), CS_OK);
    size_t nv, nm;
    unsigned char *v = read_all("vocab/bpe_simple_vocab_16e6.txt.gz", &nv);
    unsigned char *merges = read_all("vocab/merges.txt", &nm); /* plain merges, HF header line */
    cs_tokenizer *a = NULL, *b = NULL;
    ck_assert_msg(cs_tokenizer_load_memory(v, nv, &a) == CS_OK, "%s", cs_last_error());
    ck_assert_msg(cs_tokenizer_load_memory(merges, nm, &b) == CS_OK, "%s", cs_last_error());
    const char *texts[] = {"Hello, World!", "a photo of a café &amp; a 🐈", "naïve résumé 123"};
    for (int t = 0; t < 3; t++) {
        int32_t r[CS_CONTEXT_LENGTH], x[CS_CONTEXT_LENGTH], y[CS_CONTEXT_LENGTH];
        size_t len = strlen(texts[t]);
        ck_assert_int_eq(cs_tokenize_context(ref, texts[t], len, 0, r, NULL), CS_OK);
        ck_assert_int_eq(cs_tokenize_context(a, texts[t], len, 0, x, NULL), CS_OK);
        ck_assert_int_eq(cs_tokenize_context(b, texts[t], len, 0, y, NULL), CS_OK);
        ck_assert_msg(memcmp(r, x, sizeof r) == 0, "gzip vocabulary in memory: ids differ");
        ck_assert_msg(memcmp(r, y, sizeof r) == 0, "plain merges in memory: ids differ");
    }
    cs_tokenizer_free(ref);
    cs_tokenizer_free(a);
    cs_tokenizer_free(b);
    free(v);
    free(merges);
    free(gz);
}
END_TEST

START_TEST(bad_buffers_give_clean_statuses)
{
    size_t nw, nv;
    unsigned char *w = read_all("golden/tiny-openai-f32.safetensors", &nw);
    unsigned char *v = read_all("vocab/bpe_simple_vocab_16e6.txt.gz", &nv);
    cs_model *m = (cs_model *)(uintptr_t)0x1; /* must stay untouched on failure */
    cs_model_params mp;
    cs_model_params_default(&mp);
    ck_assert_int_eq(cs_model_load_memory(NULL, 10, &mp, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_model_load_memory(w, 0, &mp, &m), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_model_load_memory(w, 7, &mp, &m), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_model_load_memory(w, nw / 2, &mp, &m), CS_ERR_FORMAT);
    /* not safetensors: its first 8 bytes read as a header length far past the buffer */
    cs_status st = cs_model_load_memory(v, nv, &mp, &m);
    ck_assert_msg(st == CS_ERR_FORMAT || st == CS_ERR_TOO_LARGE, "status %d", st);
    mp.flags = 0x80;
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(cs_last_error(), "flags") != NULL, "message: %s", cs_last_error());
    mp.flags = CS_MODEL_COPY_BUFFER;
    ck_assert_int_eq(cs_model_load_memory(w, 0, &mp, &m), CS_ERR_FORMAT);
    mp.flags = 0;
    mp.vocab_size = 5; /* size without data */
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &m), CS_ERR_INVALID_ARGUMENT);
    /* no vocabulary anywhere, and one required */
    mp.vocab_size = 0;
    mp.require_vocabulary = 1;
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &m), CS_ERR_NO_VOCABULARY);
    /* a corrupt or truncated gzip vocabulary */
    mp.require_vocabulary = 0;
    mp.vocab_data = v;
    mp.vocab_size = nv / 3;
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &m), CS_ERR_FORMAT);
    unsigned char *bad = malloc(nv);
    memcpy(bad, v, nv);
    for (size_t i = 100; i < 200 && i < nv; i++) bad[i] ^= 0x5a;
    mp.vocab_data = bad;
    mp.vocab_size = nv;
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &m), CS_ERR_FORMAT);
    ck_assert_ptr_eq(m, (cs_model *)(uintptr_t)0x1);
    cs_tokenizer *t = NULL;
    ck_assert_int_eq(cs_tokenizer_load_memory(NULL, 3, &t), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenizer_load_memory(v, nv, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenizer_load_memory("", 0, &t), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_tokenizer_load_memory("\x1f\x8b", 2, &t), CS_ERR_FORMAT);
    ck_assert_ptr_null(t);
    /* without a vocabulary and not required: loads, the model has no tokenizer */
    cs_model_params_default(&mp);
    cs_model *ok = NULL;
    ck_assert_int_eq(cs_model_load_memory(w, nw, &mp, &ok), CS_OK);
    ck_assert_ptr_null(cs_model_tokenizer(ok));
    cs_model_free(ok);
    free(bad);
    free(w);
    free(v);
}
END_TEST

/* cs_model_params as the 0.1 header declared it: the library must read only this prefix (the
 * struct is allocated at exactly this size, so ASan reports a read past it). */
typedef struct cs_model_params_v0_1 {
    size_t size;
    const char *vocab_path;
    int require_vocabulary;
} cs_model_params_v0_1;

START_TEST(caller_built_against_0_1_header)
{
    ck_assert_int_lt(sizeof(cs_model_params_v0_1), sizeof(cs_model_params));
    ck_assert_int_eq(offsetof(cs_model_params_v0_1, require_vocabulary),
                     offsetof(cs_model_params, require_vocabulary));
    char *p = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *v = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params_v0_1 *old = malloc(sizeof *old);
    old->size = sizeof *old;
    old->vocab_path = v;
    old->require_vocabulary = 1;
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load(p, (const cs_model_params *)(const void *)old, &m) == CS_OK, "%s",
                  cs_last_error());
    outputs ref, got;
    run(m, &got);
    reference(&ref);
    expect_same(&ref, &got);
    cs_model_free(m);
    /* the same old struct through the new memory call */
    size_t nw;
    unsigned char *w = read_all("golden/tiny-openai-f32.safetensors", &nw);
    ck_assert_int_eq(cs_model_load_memory(w, nw, (const cs_model_params *)(const void *)old, &m),
                     CS_OK);
    ck_assert_ptr_nonnull(cs_model_tokenizer(m));
    cs_model_free(m);
    /* a size smaller than the 0.1 prefix is still refused */
    old->size = 4;
    ck_assert_int_eq(cs_model_load(p, (const cs_model_params *)(const void *)old, &m),
                     CS_ERR_INVALID_ARGUMENT);
    free(old);
    free(w);
    free(ref.features);
    free(got.features);
    free(p);
    free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("embedding");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, memory_load_equals_file_load, 0, 3);
    tcase_add_test(tc, memory_load_does_not_write_the_buffer);
    tcase_add_test(tc, vocabulary_from_memory_all_forms);
    tcase_add_test(tc, bad_buffers_give_clean_statuses);
    tcase_add_test(tc, caller_built_against_0_1_header);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
