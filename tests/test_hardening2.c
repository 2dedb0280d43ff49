/* Hardening, second round: one-file bundles (bundled vocabulary tensor, __metadata__
 * configuration). Every bad bundle gives a clean status; run under ASan + UBSan by `make asan`.
 * Regressions for fixed bugs are marked "regression". */
#include "testutil.h"

#include "io/safetensors.h"
#include "text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes the tiny OpenAI fixture as a bundle to a temporary file: its tensors, plus a merges
 * tensor (unless merges is NULL) of the given dtype and shape, plus metadata pairs. */
static char *write_bundle(const void *merges, cs_dtype dtype, int ndim, const int64_t *shape,
                          const cs_st_meta *meta, size_t n_meta)
{
    char *src = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_safetensors *st = NULL;
    ck_assert_int_eq(cs_st_open(src, &st), CS_OK);
    cs_st_entry *e = calloc(st->n_tensors + 1, sizeof *e);
    ck_assert_ptr_nonnull(e);
    for (size_t i = 0; i < st->n_tensors; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        e[i] = (cs_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    size_t n = st->n_tensors;
    if (merges) e[n++] = (cs_st_entry){"clipsurgery.vocab.merges", dtype, ndim, shape, merges};
    char *path = strdup("/tmp/cs_hardening2_XXXXXX");
    ck_assert_ptr_nonnull(path);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(cs_st_write(path, e, n, meta, n_meta), CS_OK);
    free(e);
    cs_st_close(st);
    free(src);
    return path;
}

/* The merges text of the fixture vocabulary (header + the merges the tokenizer uses). */
static char *fixture_merges(size_t *size)
{
    char *p = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    char *text = NULL;
    ck_assert_int_eq(cs_read_merges_file(p, &text, size), CS_OK);
    free(p);
    return text;
}

static cs_status load_bundle(const char *path, cs_model **out)
{
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, NULL, &m);
    if (s != CS_OK) {
        ck_assert_ptr_null(m);
        ck_assert_str_ne(cs_last_error(), "");
    }
    if (out) *out = m;
    else cs_model_free(m);
    return s;
}

static cs_status bundle_status(const void *merges, cs_dtype dtype, int ndim, const int64_t *shape,
                               const cs_st_meta *meta, size_t n_meta)
{
    char *path = write_bundle(merges, dtype, ndim, shape, meta, n_meta);
    cs_status s = load_bundle(path, NULL);
    unlink(path);
    free(path);
    return s;
}

static cs_status meta_status(const char *key, const char *value)
{
    cs_st_meta meta[1] = {{(char *)key, (char *)value}};
    return bundle_status(NULL, CS_DT_U8, 0, NULL, meta, 1);
}

START_TEST(bundle_vocabulary_tensor)
{
    size_t n = 0;
    char *merges = fixture_merges(&n);
    int64_t len[1] = {(int64_t)n};
    /* the good bundle has a vocabulary that tokenizes like the file */
    char *path = write_bundle(merges, CS_DT_U8, 1, len, NULL, 0);
    cs_model *m = NULL;
    ck_assert_int_eq(load_bundle(path, &m), CS_OK);
    ck_assert_ptr_nonnull(cs_model_tokenizer(m));
    int32_t ids[77];
    size_t n_ids = 0;
    ck_assert_int_eq(cs_tokenize(cs_model_tokenizer(m), "a photo of a cat.", 17, ids, 77, &n_ids),
                     CS_OK);
    ck_assert_uint_gt(n_ids, 2);
    cs_model_free(m);
    unlink(path);
    free(path);

    /* wrong dtype or shape */
    int64_t quarter[1] = {(int64_t)n / 4}, two[2] = {1, (int64_t)n};
    ck_assert_int_eq(bundle_status(merges, CS_DT_I8, 1, len, NULL, 0), CS_ERR_FORMAT);
    ck_assert_int_eq(bundle_status(merges, CS_DT_F32, 1, quarter, NULL, 0), CS_ERR_FORMAT);
    ck_assert_int_eq(bundle_status(merges, CS_DT_U8, 2, two, NULL, 0), CS_ERR_FORMAT);
    ck_assert_int_eq(bundle_status(merges, CS_DT_U8, 0, NULL, NULL, 0), CS_ERR_FORMAT);
    /* empty, truncated, header only, garbage */
    int64_t zero[1] = {0}, half[1] = {(int64_t)n / 2}, head[1] = {20};
    ck_assert_int_eq(bundle_status(merges, CS_DT_U8, 1, zero, NULL, 0), CS_ERR_FORMAT);
    ck_assert_int_eq(bundle_status(merges, CS_DT_U8, 1, half, NULL, 0), CS_ERR_FORMAT);
    ck_assert_int_eq(bundle_status(merges, CS_DT_U8, 1, head, NULL, 0), CS_ERR_FORMAT);
    uint8_t *junk = malloc(n);
    ck_assert_ptr_nonnull(junk);
    for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)(i * 2654435761u >> 13);
    ck_assert_int_eq(bundle_status(junk, CS_DT_U8, 1, len, NULL, 0), CS_ERR_FORMAT);
    /* NUL bytes and invalid UTF-8 inside the merges */
    memcpy(junk, merges, n);
    junk[n / 3] = 0;
    junk[n / 2] = 0xff;
    ck_assert_int_eq(bundle_status(junk, CS_DT_U8, 1, len, NULL, 0), CS_ERR_FORMAT);
    free(junk);
    /* a huge tensor whose tail the tokenizer never reads still loads */
    size_t big_n = n + ((size_t)64 << 20);
    char *big = malloc(big_n);
    ck_assert_ptr_nonnull(big);
    memcpy(big, merges, n);
    memset(big + n, 'x', big_n - n);
    int64_t big_len[1] = {(int64_t)big_n};
    ck_assert_int_eq(bundle_status(big, CS_DT_U8, 1, big_len, NULL, 0), CS_OK);
    free(big);
    free(merges);
}
END_TEST

START_TEST(bundle_tokenizer_from_merges_arguments)
{
    cs_tokenizer *t = NULL;
    ck_assert_int_eq(cs_tokenizer_from_merges(NULL, 5, "x", &t), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenizer_from_merges("a", 1, "x", NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenizer_from_merges(NULL, 0, "x", &t), CS_ERR_FORMAT);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(bundle_metadata_values)
{
    ck_assert_int_eq(meta_status("clipsurgery.activation", "gelu"), CS_OK);
    ck_assert_int_eq(meta_status("clipsurgery.activation", "relu"), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(meta_status("clipsurgery.activation", ""), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(meta_status("clipsurgery.layer_norm_eps", "1e-6"), CS_OK);
    const char *bad_eps[] = {"", "0", "-1e-5", "1", "nan", "inf", "1e-5x", " 1e-5 ", "1e400"};
    for (size_t i = 0; i < sizeof bad_eps / sizeof *bad_eps; i++)
        ck_assert_msg(meta_status("clipsurgery.layer_norm_eps", bad_eps[i]) == CS_ERR_FORMAT,
                      "eps \"%s\" accepted", bad_eps[i]);
    /* regression: 1e-50 passed the double check but is 0 as a float (division by zero) */
    ck_assert_int_eq(meta_status("clipsurgery.layer_norm_eps", "1e-50"), CS_ERR_FORMAT);
    /* regression: a bundle of an unknown (future) format version was read as bundle-1 */
    ck_assert_int_eq(meta_status("clipsurgery.format", "bundle-1"), CS_OK);
    ck_assert_int_eq(meta_status("clipsurgery.format", "bundle-2"), CS_ERR_UNSUPPORTED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hardening2");
    TCase *tc = tcase_create("bundles");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bundle_vocabulary_tensor);
    tcase_add_test(tc, bundle_tokenizer_from_merges_arguments);
    tcase_add_test(tc, bundle_metadata_values);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
