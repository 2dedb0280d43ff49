/* Text encoder, prompt ensembles and the redundant feature against the reference goldens (both
 * tiny model files), plus the bad-input rules. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const model_files[2] = {"golden/tiny-openai-f32.safetensors",
                                           "golden/tiny-hf-f16.safetensors"};

static cs_model *load_model(int which, int vocab)
{
    char *path = tu_fixture(model_files[which]);
    char *vpath = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params mp;
    cs_model_params_default(&mp);
    if (vocab) mp.vocab_path = vpath;
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, &mp, &m);
    ck_assert_msg(s == CS_OK, "cannot load %s: %s", path, cs_last_error());
    free(path);
    free(vpath);
    return m;
}

static cs_context *make_ctx(const cs_model *m)
{
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    return ctx;
}

static int32_t *golden_tokens(const cs_safetensors *g, int *n_texts)
{
    const cs_st_tensor *t = cs_st_find(g, "text.tokens");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, CS_DT_I32);
    int32_t *ids = malloc(t->nbytes);
    memcpy(ids, t->data, t->nbytes);
    *n_texts = (int)t->shape[0];
    return ids;
}

START_TEST(token_ids_match_golden)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    int n;
    int32_t *ids = golden_tokens(g, &n);
    size_t nf;
    float *want = tu_golden_f32(g, "text.features", &nf);
    cs_model *m = load_model(_i, 0);
    cs_context *ctx = make_ctx(m);
    float *got = malloc(nf * sizeof(float));
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, n, got, nf), CS_OK);
    double err = tu_max_abs_diff(got, want, nf);
    printf("%s text.features: max abs error %.3g\n", model_files[_i], err);
    ck_assert_msg(err <= TOL, "text.features error %g", err);
    /* one text at a time gives the same rows (texts of different lengths share GEMMs) */
    int d = cs_model_embed_dim(m);
    float one[256];
    for (int t = 0; t < n; t++) {
        ck_assert_int_eq(cs_encode_token_ids(ctx, ids + (size_t)t * 77, 1, one, (size_t)d), CS_OK);
        ck_assert(tu_max_abs_diff(one, got + (size_t)t * d, (size_t)d) <= 1e-5);
    }
    free(got);
    free(want);
    free(ids);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

static const char *const classes[12] = {"person", "bench", "ground", "building",
                                        "sky",    "tree",  "grass",  "cat",
                                        "road",   "potted plant", "tv monitor", "water"};
static const char *const prompts[6] = {"a photo of a cat.", "a diagram", "A RED Car on the road!!",
                                       "", "two dogs & a frisbee", "caf\xc3\xa9 au lait"};

/* strings through the model's tokenizer give the golden features of the manifest prompts */
START_TEST(texts_match_golden)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    size_t nf;
    float *want = tu_golden_f32(g, "text.features", &nf);
    cs_model *m = load_model(_i, 1);
    ck_assert_ptr_nonnull(cs_model_tokenizer(m));
    cs_context *ctx = make_ctx(m);
    float *got = malloc(nf * sizeof(float));
    ck_assert_int_eq(cs_encode_texts(ctx, prompts, 6, got, nf), CS_OK);
    double err = tu_max_abs_diff(got, want, nf);
    printf("%s text.features from strings: max abs error %.3g\n", model_files[_i], err);
    ck_assert_msg(err <= TOL, "text.features error %g", err);
    free(got);
    free(want);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(ensemble_matches_golden)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    size_t ne, nr;
    float *want = tu_golden_f32(g, "text.ensemble", &ne);
    float *want_r = tu_golden_f32(g, "text.redundant", &nr);
    cs_model *m = load_model(_i, 1);
    cs_context *ctx = make_ctx(m);
    float *got = malloc(ne * sizeof(float)), r[64];
    ck_assert_int_eq(cs_prompt_ensemble(ctx, classes, 12, got, ne), CS_OK);
    double err = tu_max_abs_diff(got, want, ne);
    printf("%s text.ensemble: max abs error %.3g\n", model_files[_i], err);
    ck_assert_msg(err <= TOL, "text.ensemble error %g", err);
    ck_assert_int_eq(cs_redundant_feature(ctx, r, 64), CS_OK);
    err = tu_max_abs_diff(r, want_r, nr);
    printf("%s text.redundant: max abs error %.3g\n", model_files[_i], err);
    ck_assert_msg(err <= TOL, "text.redundant error %g", err);
    /* statuses */
    ck_assert_int_eq(cs_redundant_feature(ctx, r, 63), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_prompt_ensemble(ctx, classes, 0, got, ne), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_prompt_ensemble(ctx, NULL, 1, got, ne), CS_ERR_INVALID_ARGUMENT);
    char *long_name = malloc(2000);
    for (int i = 0; i < 1999; i++) long_name[i] = i % 2 ? ' ' : 'a';
    long_name[1999] = '\0';
    const char *ln[1] = {long_name};
    got[0] = 777.0f;
    ck_assert_int_eq(cs_prompt_ensemble(ctx, ln, 1, got, ne), CS_ERR_TEXT_TOO_LONG);
    ck_assert_int_eq(cs_encode_texts(ctx, ln, 1, got, ne), CS_ERR_TEXT_TOO_LONG);
    ck_assert(got[0] == 777.0f);
    free(long_name);
    free(got);
    free(want);
    free(want_r);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* Texts sharing prefixes (duplicates, a text that is a prefix of another plus its end-of-text,
 * different texts with a common start) give each text's own result: the shared rows are reused,
 * never mixed up. */
START_TEST(shared_prefixes)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    int n;
    int32_t *ids = golden_tokens(g, &n);
    cs_model *m = load_model(_i, 0);
    cs_context *ctx = make_ctx(m);
    int d = cs_model_embed_dim(m);
    enum { NB = 7 };
    int32_t batch[NB * 77];
    int src[NB] = {0, 1, 0, 2, 0, 4, 1};
    for (int k = 0; k < NB; k++) memcpy(batch + k * 77, ids + src[k] * 77, 77 * sizeof(int32_t));
    /* text 4: the first 3 ids of text 0 then end-of-text; text 5: text 0's start, other end */
    for (int i = 3; i < 77; i++) batch[4 * 77 + i] = i == 3 ? CS_TOKEN_EOT : 0;
    batch[5 * 77 + 0] = ids[0];
    batch[5 * 77 + 1] = ids[1];
    batch[5 * 77 + 2] = ids[2];
    batch[5 * 77 + 3] = 320;
    batch[5 * 77 + 4] = CS_TOKEN_EOT;
    for (int i = 5; i < 77; i++) batch[5 * 77 + i] = 0;
    float *all = malloc((size_t)NB * d * sizeof(float)), one[256];
    ck_assert_int_eq(cs_encode_token_ids(ctx, batch, NB, all, (size_t)NB * d), CS_OK);
    for (int k = 0; k < NB; k++) {
        ck_assert_int_eq(cs_encode_token_ids(ctx, batch + k * 77, 1, one, (size_t)d), CS_OK);
        double err = tu_max_abs_diff(one, all + (size_t)k * d, (size_t)d);
        ck_assert_msg(err <= 1e-5, "text %d: batch vs alone %g", k, err);
    }
    ck_assert(tu_max_abs_diff(all, all + 4 * d, (size_t)d) > 1e-3);
    ck_assert(tu_max_abs_diff(all + 4 * d, all + 5 * d, (size_t)d) > 1e-3);
    free(all);
    free(ids);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(bad_token_ids)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    int n;
    int32_t *ids = golden_tokens(g, &n);
    cs_model *m = load_model(0, 0);
    cs_context *ctx = make_ctx(m);
    float f[6 * 64];
    f[0] = 4321.0f;
    ck_assert_int_eq(cs_encode_token_ids(NULL, ids, 1, f, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_token_ids(ctx, NULL, 1, f, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, 0, f, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, 2, f, 127), CS_ERR_BUFFER_TOO_SMALL);
    int32_t bad[77];
    memcpy(bad, ids, sizeof bad);
    bad[3] = 49408; /* out of the vocabulary */
    ck_assert_int_eq(cs_encode_token_ids(ctx, bad, 1, f, 64), CS_ERR_INVALID_ARGUMENT);
    bad[3] = -1;
    ck_assert_int_eq(cs_encode_token_ids(ctx, bad, 1, f, 64), CS_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 77; i++) bad[i] = i == 0 ? CS_TOKEN_SOT : 0; /* no end-of-text */
    ck_assert_int_eq(cs_encode_token_ids(ctx, bad, 1, f, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(cs_last_error(), "end-of-text") != NULL);
    ck_assert(f[0] == 4321.0f);
    /* a model without a vocabulary cannot encode strings */
    if (cs_model_tokenizer(m) == NULL) {
        const char *t[1] = {"a cat"};
        ck_assert_int_eq(cs_encode_texts(ctx, t, 1, f, 64), CS_ERR_NO_VOCABULARY);
        ck_assert_int_eq(cs_prompt_ensemble(ctx, t, 1, f, 64), CS_ERR_NO_VOCABULARY);
    }
    free(ids);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(templates_table)
{
    ck_assert_int_eq(cs_prompt_template_count(), 85);
    ck_assert_str_eq(cs_prompt_template(0), "a bad photo of a {}.");
    ck_assert_ptr_null(cs_prompt_template(85));
    ck_assert_ptr_null(cs_prompt_template(-1));
    /* the table equals the fixture list, line by line */
    char *path = tu_fixture("templates.txt");
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int i = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!*line) continue;
        ck_assert_int_lt(i, 85);
        ck_assert_str_eq(cs_prompt_template(i), line);
        i++;
    }
    ck_assert_int_eq(i, 85);
    fclose(f);
    free(path);
}
END_TEST

START_TEST(l2_normalize)
{
    float x[6] = {3, 4, 0, 0, 0, 0};
    cs_l2_normalize(x, 2, 3);
    ck_assert(x[0] == 0.6f && x[1] == 0.8f && x[2] == 0.0f);
    ck_assert(x[3] == 0.0f && x[4] == 0.0f && x[5] == 0.0f);
    cs_l2_normalize(NULL, 2, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, token_ids_match_golden, 0, 2);
    tcase_add_loop_test(tc, texts_match_golden, 0, 2);
    tcase_add_loop_test(tc, ensemble_matches_golden, 0, 2);
    tcase_add_loop_test(tc, shared_prefixes, 0, 2);
    tcase_add_test(tc, bad_token_ids);
    tcase_add_test(tc, templates_table);
    tcase_add_test(tc, l2_normalize);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
