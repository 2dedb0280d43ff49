/* Precision and engine (docs/PRECISION.md): CS_MODEL_PRECISION_BF16 on the tiny ViT and ResNet
 * models against the reference goldens within the bf16 tolerance, CS_ERR_UNSUPPORTED where the
 * build or the CPU has no bf16, cs_model_precision, cs_gemm_engine and cs_context_flops. */
#include "testutil.h"

#include "core/bf16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bf16 rounds every product operand to 8 significant bits. Measured on the tiny models (oneDNN,
 * AMX): ViT features max abs 0.015 (min token cosine 0.99998), ResNet 0.055 (0.9996), text
 * ensembles 0.0012. The tolerances leave about 2x of margin. */
#define TOL_BF16_VIT 0.04
#define TOL_BF16_RESNET 0.1
#define TOL_BF16_COS 0.999

static cs_status load(const char *rel, unsigned flags, cs_model **m)
{
    char *path = tu_fixture(rel);
    cs_model_params p;
    cs_model_params_default(&p);
    p.flags = flags;
    *m = NULL;
    cs_status s = cs_model_load(path, &p, m);
    free(path);
    return s;
}

static cs_context *ctx_of(const cs_model *m)
{
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    return ctx;
}

/* 1 when bf16 runs here; 0 (after checking the refusal) when the build or CPU has none. */
static int bf16_available(void)
{
    cs_model *m = (cs_model *)0x1; /* must stay untouched on failure */
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model_params p;
    cs_model_params_default(&p);
    p.flags = CS_MODEL_PRECISION_BF16;
    cs_status s = cs_model_load(path, &p, &m);
    free(path);
    if (s == CS_OK) {
        ck_assert_str_eq(cs_gemm_engine(), "onednn");
        ck_assert_int_eq(cs_model_precision(m), CS_PRECISION_BF16);
        cs_model_free(m);
        return 1;
    }
    ck_assert_int_eq(s, CS_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(m, (cs_model *)0x1);
    const char *msg = cs_last_error();
    ck_assert_msg(strstr(msg, "bf16") != NULL, "message: %s", msg);
    if (strcmp(cs_gemm_engine(), "openblas") == 0)
        ck_assert_msg(strstr(msg, "GEMM=onednn") != NULL, "message: %s", msg);
    printf("bf16 not available here: %s\n", msg);
    return 0;
}

START_TEST(engine_and_precision_queries)
{
    const char *e = cs_gemm_engine();
    ck_assert(strcmp(e, "openblas") == 0 || strcmp(e, "onednn") == 0);
    ck_assert_int_eq(cs_model_precision(NULL), CS_PRECISION_F32);
    ck_assert(cs_context_flops(NULL) == 0.0);
    cs_model *m;
    ck_assert_int_eq(load("golden/tiny-openai-f32.safetensors", 0, &m), CS_OK);
    ck_assert_int_eq(cs_model_precision(m), CS_PRECISION_F32);
    cs_context *ctx = ctx_of(m);
    ck_assert(cs_context_flops(ctx) == 0.0);
    size_t n = (size_t)cs_model_image_tokens(m, 64, 64) * cs_model_embed_dim(m);
    float *px = calloc((size_t)3 * 64 * 64, sizeof(float)), *f = malloc(n * sizeof(float));
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 64, 64, f, n), CS_OK);
    double once = cs_context_flops(ctx);
    ck_assert(once > 0.0);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 64, 64, f, n), CS_OK);
    ck_assert(fabs(cs_context_flops(ctx) - 2.0 * once) <= 1e-9 * once);
    free(px);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

START_TEST(unknown_flags_refused)
{
    cs_model *m = NULL;
    ck_assert_int_eq(load("golden/tiny-openai-f32.safetensors", 0x80u, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
}
END_TEST

/* Largest |a-b| and smallest per-row cosine of rows x dim features. */
static void compare(const float *a, const float *b, size_t rows, int dim, double *max_abs,
                    double *min_cos)
{
    *max_abs = tu_max_abs_diff(a, b, rows * (size_t)dim);
    *min_cos = 1.0;
    for (size_t r = 0; r < rows; r++) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < dim; i++) {
            double x = a[r * dim + i], y = b[r * dim + i];
            ab += x * y, aa += x * x, bb += y * y;
        }
        double c = ab / sqrt(aa * bb);
        if (c < *min_cos) *min_cos = c;
    }
}

/* Surgery features of the golden input with the model loaded in bf16 against the golden. */
static void bf16_golden(const char *model_rel, const char *golden_rel, const char *input,
                        const char *expect, int n_blocks, double tol)
{
    if (!bf16_available()) return;
    cs_safetensors *g = tu_open_golden(golden_rel);
    const cs_st_tensor *ti = cs_st_find(g, input);
    ck_assert_ptr_nonnull(ti);
    int b = (int)ti->shape[0], h = (int)ti->shape[2], w = (int)ti->shape[3];
    float *x = tu_golden_f32(g, input, NULL);
    size_t n;
    float *want = tu_golden_f32(g, expect, &n);
    cs_model *m;
    ck_assert_msg(load(model_rel, CS_MODEL_PRECISION_BF16, &m) == CS_OK, "%s", cs_last_error());
    cs_context *ctx = ctx_of(m);
    float *got = malloc(n * sizeof(float));
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    sp.n_blocks = n_blocks;
    ck_assert_msg(cs_surgery_apply(ctx, &sp, x, b, h, w, got, n) == CS_OK, "%s", cs_last_error());
    int d = cs_model_embed_dim(m);
    double err, cosv;
    compare(got, want, n / (size_t)d, d, &err, &cosv);
    printf("bf16 %s %s: max abs %.3g, min token cosine %.6f\n", model_rel, expect, err, cosv);
    ck_assert_msg(err <= tol, "%s: max abs %g over %g", expect, err, tol);
    ck_assert_msg(cosv >= TOL_BF16_COS, "%s: min cosine %g under %g", expect, cosv, TOL_BF16_COS);
    /* and it really ran in bf16: not bit-equal to f32 */
    ck_assert(err > 0.0);
    free(got);
    free(want);
    free(x);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}

START_TEST(bf16_vit_surgery_golden)
{
    bf16_golden("golden/tiny-openai-f32.safetensors", "golden/tiny-golden.safetensors",
                "input.x64", "cs.image_features", 6, TOL_BF16_VIT);
}
END_TEST

START_TEST(bf16_vit_raw_golden)
{
    bf16_golden("golden/tiny-openai-f32.safetensors", "golden/tiny-golden.safetensors",
                "input.x64", "raw.image_features", 0, TOL_BF16_VIT);
}
END_TEST

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Round to nearest, ties to even; NaN stays a quiet NaN; overflow rounds to infinity. */
START_TEST(bf16_rounding)
{
    static const uint32_t in[] = {0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu,
                                  0x3f808001u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                  0x7f800001u, 0x7f7fffffu, 0x80000000u, 0x00000001u,
                                  0xbf808001u};
    static const uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x3f81, 0x7f80, 0xff80,
                                    0x7fc0, 0x7fc0, 0x7f80, 0x8000, 0x0000, 0xbf81};
    size_t n = sizeof in / sizeof in[0];
    float x[16];
    uint16_t got[16];
    for (size_t i = 0; i < n; i++) x[i] = from_bits(in[i]);
    cs_bf16_from_f32(x, n, 1, n, got);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "0x%08x -> 0x%04x, want 0x%04x", in[i], got[i], want[i]);
    /* strided rows are packed */
    float m[2][4] = {{1, 2, 3, 99}, {4, 5, 6, 99}};
    uint16_t p[6];
    cs_bf16_from_f32(&m[0][0], 4, 2, 3, p);
    ck_assert_uint_eq(p[3], 0x4080); /* 4.0 */
    ck_assert_uint_eq(p[5], 0x40c0); /* 6.0 */
}
END_TEST

/* The weight table finds sub-matrices wholly inside an added weight, and nothing else. */
START_TEST(bf16_table_lookup)
{
    float *w1 = malloc(12 * sizeof(float)), *w2 = malloc(6 * sizeof(float)), other[4] = {0};
    for (int i = 0; i < 12; i++) w1[i] = (float)i;
    for (int i = 0; i < 6; i++) w2[i] = -(float)i;
    cs_bf16_table *t = cs_bf16_table_create();
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cs_bf16_table_add(t, w2, 6), 0);
    ck_assert_int_eq(cs_bf16_table_add(t, w1, 12), 0);
    ck_assert_int_eq(cs_bf16_table_add(t, w1, 12), 0); /* same weight again: one copy */
    cs_bf16_table_seal(t);
    ck_assert_uint_eq(cs_bf16_table_bytes(t), 18 * sizeof(uint16_t));
    const uint16_t *c = cs_bf16_table_find(t, w1 + 4, 4, 2, 4); /* rows 1..2 of [3, 4] */
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c[0], 0x4080); /* 4.0 */
    ck_assert_uint_eq(c[7], 0x4130); /* 11.0 */
    ck_assert_ptr_null(cs_bf16_table_find(t, w1 + 4, 4, 3, 4)); /* runs past the end */
    ck_assert_ptr_null(cs_bf16_table_find(t, other, 4, 1, 4)); /* an activation */
    ck_assert_ptr_nonnull(cs_bf16_table_find(t, w2, 3, 2, 3));
    ck_assert_ptr_null(cs_bf16_table_find(NULL, w2, 3, 2, 3));
    cs_bf16_table_free(t);
    free(w1);
    free(w2);
}
END_TEST

START_TEST(bf16_resnet_surgery_golden)
{
    bf16_golden("golden/rn-tiny-openai-f32.safetensors", "golden/rn-tiny-golden.safetensors",
                "input.x64", "cs.image_features", 6, TOL_BF16_RESNET);
}
END_TEST

START_TEST(bf16_text_ensemble_golden)
{
    if (!bf16_available()) return;
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    size_t n;
    float *want = tu_golden_f32(g, "text.ensemble", &n);
    cs_model *m;
    char *vocab = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model_params p;
    cs_model_params_default(&p);
    p.flags = CS_MODEL_PRECISION_BF16;
    p.vocab_path = vocab;
    ck_assert_msg(cs_model_load(path, &p, &m) == CS_OK, "%s", cs_last_error());
    static const char *const classes[12] = {"person", "bench", "ground", "building",
                                            "sky", "tree", "grass", "cat", "road",
                                            "potted plant", "tv monitor", "water"};
    int d = cs_model_embed_dim(m);
    ck_assert_uint_eq(n, (size_t)12 * d);
    cs_context *ctx = ctx_of(m);
    float *got = malloc(n * sizeof(float));
    ck_assert_int_eq(cs_prompt_ensemble(ctx, classes, 12, got, n), CS_OK);
    double err, cosv;
    compare(got, want, 12, d, &err, &cosv);
    printf("bf16 text.ensemble: max abs %.3g, min cosine %.6f\n", err, cosv);
    ck_assert_msg(err <= TOL_BF16_VIT && cosv >= TOL_BF16_COS, "ensemble %g %g", err, cosv);
    free(got);
    free(want);
    free(vocab);
    free(path);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("precision");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, engine_and_precision_queries);
    tcase_add_test(tc, unknown_flags_refused);
    tcase_add_test(tc, bf16_rounding);
    tcase_add_test(tc, bf16_table_lookup);
    tcase_add_test(tc, bf16_vit_surgery_golden);
    tcase_add_test(tc, bf16_vit_raw_golden);
    tcase_add_test(tc, bf16_resnet_surgery_golden);
    tcase_add_test(tc, bf16_text_ensemble_golden);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
