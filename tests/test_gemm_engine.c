/* The build's GEMM engine (OpenBLAS, or oneDNN with make GEMM=onednn) through cs_gemm, against a
 * plain triple loop in double: transposes, row strides wider than the rows, alpha and beta,
 * m/n/k = 1 and odd sizes, through a context (cached oneDNN primitives, hit again and evicted)
 * and without one; bf16 precision against the same loop on bf16-rounded operands (onednn build
 * on a CPU with native bf16), or CS_ERR_UNSUPPORTED naming what is missing. */
#include "testutil.h"

#include "core/context.h"
#include "core/gemm.h"
#include "io/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ta, tb, m, n, k, pad_a, pad_b, pad_c;
    float alpha, beta;
} shape;

static const shape SHAPES[] = {
    {0, 1, 197, 96, 64, 0, 0, 0, 1.0f, 0.0f},   /* linear layer: weights [out, in] */
    {0, 1, 197, 96, 64, 0, 0, 0, 1.0f, 1.0f},   /* residual accumulate */
    {0, 0, 37, 41, 29, 0, 0, 0, 1.0f, 0.0f},
    {1, 0, 37, 41, 29, 0, 0, 0, 1.0f, 0.0f},
    {1, 1, 37, 41, 29, 0, 0, 0, 1.0f, 0.0f},
    {0, 1, 33, 65, 17, 3, 5, 7, 1.0f, 0.5f},    /* strides wider than the rows */
    {1, 0, 33, 65, 17, 11, 2, 1, 0.125f, 1.0f}, /* alpha != 1 */
    {0, 0, 31, 29, 23, 1, 9, 4, -0.7f, 0.5f},
    {1, 1, 19, 23, 31, 6, 3, 2, 2.5f, 0.0f},
    {0, 1, 1, 50, 40, 0, 0, 0, 1.0f, 0.0f},     /* one row (class token) */
    {0, 1, 50, 1, 40, 0, 4, 3, 1.0f, 1.0f},     /* one column */
    {0, 0, 30, 20, 1, 2, 0, 1, 1.0f, 0.5f},     /* k = 1 */
    {1, 0, 1, 1, 1, 0, 0, 0, 3.0f, 0.5f},
    {0, 1, 65, 65, 8, 0, 0, 0, 0.125f, 0.0f},   /* attention scores q k^T scaled */
    {0, 0, 65, 8, 65, 0, 0, 0, 1.0f, 0.0f},     /* scores times v */
    {0, 1, 129, 257, 255, 1, 1, 1, 1.0f, 1.0f},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

static unsigned rng_state = 12345u;
static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float bf16_round(float f)
{
    uint32_t u = (uint32_t)to_bf16(f) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* Storage of op(X) [rows, cols] (trans: stored [cols, rows]) with `pad` extra columns, padding
 * filled with NaN so that reading it shows. */
typedef struct {
    float *p;
    int ld, stored_rows;
} mat;

static mat mat_new(int trans, int rows, int cols, int pad)
{
    mat x;
    x.stored_rows = trans ? cols : rows;
    int stored_cols = trans ? rows : cols;
    x.ld = stored_cols + pad;
    x.p = (float *)malloc(sizeof(float) * (size_t)x.stored_rows * (size_t)x.ld);
    ck_assert_ptr_nonnull(x.p);
    for (int i = 0; i < x.stored_rows; i++)
        for (int j = 0; j < x.ld; j++)
            x.p[(size_t)i * x.ld + j] = j < stored_cols ? frand() : NAN;
    return x;
}

static double at(const mat *x, int trans, int r, int c)
{
    return trans ? x->p[(size_t)c * x->ld + r] : x->p[(size_t)r * x->ld + c];
}

/* Runs shape s through cs_gemm on ctx and checks every output against the double loop (operands
 * rounded to bf16 first when bf16 is set) with relative tolerance tol on the scale
 * |alpha| sum |a b| + |beta c|; the padding of C must stay untouched. Returns the largest error
 * relative to that scale. */
static double run_shape(cs_context *ctx, const shape *s, int bf16, double tol)
{
    mat a = mat_new(s->ta, s->m, s->k, s->pad_a);
    mat b = mat_new(s->tb, s->k, s->n, s->pad_b);
    if (bf16) {
        for (size_t i = 0; i < (size_t)a.stored_rows * a.ld; i++) a.p[i] = bf16_round(a.p[i]);
        for (size_t i = 0; i < (size_t)b.stored_rows * b.ld; i++) b.p[i] = bf16_round(b.p[i]);
    }
    int ldc = s->n + s->pad_c;
    size_t nc = (size_t)s->m * ldc;
    float *c = (float *)malloc(sizeof(float) * nc);
    float *c0 = (float *)malloc(sizeof(float) * nc);
    ck_assert(c && c0);
    for (size_t i = 0; i < nc; i++) c0[i] = (int)(i % (size_t)ldc) < s->n ? frand() : 1234.5f;
    memcpy(c, c0, sizeof(float) * nc);
    cs_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, s->alpha, a.p, a.ld, b.p, b.ld, s->beta, c, ldc);
    double worst = 0.0;
    for (int i = 0; i < s->m; i++) {
        for (int j = 0; j < ldc; j++) {
            float got = c[(size_t)i * ldc + j];
            if (j >= s->n) {
                ck_assert_msg(got == 1234.5f, "shape %dx%dx%d: padding of C written at (%d,%d)",
                              s->m, s->n, s->k, i, j);
                continue;
            }
            double acc = 0.0, mag = 0.0;
            for (int p = 0; p < s->k; p++) {
                double t = at(&a, s->ta, i, p) * at(&b, s->tb, p, j);
                acc += t;
                mag += fabs(t);
            }
            double cin = c0[(size_t)i * ldc + j];
            double want = (double)s->alpha * acc + (s->beta == 0.0f ? 0.0 : (double)s->beta * cin);
            double scale = fabs((double)s->alpha) * mag + fabs((double)s->beta * cin) + 1e-30;
            double err = fabs((double)got - want) / scale;
            ck_assert_msg(err <= tol, "%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g at (%d,%d): "
                          "%.9g vs %.9g (relative %.3g)", cs_gemm_engine(), s->ta, s->tb, s->m,
                          s->n, s->k, (double)s->alpha, (double)s->beta, i, j, (double)got, want,
                          err);
            if (err > worst) worst = err;
        }
    }
    free(a.p);
    free(b.p);
    free(c);
    free(c0);
    return worst;
}

static cs_model *load_tiny(uint32_t flags, cs_status *status)
{
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model_params p;
    cs_model_params_default(&p);
    p.flags = flags;
    cs_model *m = NULL;
    *status = cs_model_load(path, &p, &m);
    free(path);
    return m;
}

START_TEST(f32_matches_the_triple_loop)
{
    cs_status st;
    cs_model *m = load_tiny(0, &st);
    ck_assert_int_eq(st, CS_OK);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    double worst = 0.0, flops = 0.0;
    for (int rep = 0; rep < 2; rep++) /* the second round reuses the cached primitives */
        for (int i = 0; i < N_SHAPES; i++) {
            double e = run_shape(ctx, &SHAPES[i], 0, 1e-5);
            if (e > worst) worst = e;
            flops += 2.0 * SHAPES[i].m * SHAPES[i].n * SHAPES[i].k;
        }
    ck_assert_double_eq_tol(cs_context_flops(ctx), flops, 0.5);
    for (int i = 0; i < N_SHAPES; i++) { /* no context: f32 on the engine, nothing counted */
        double e = run_shape(NULL, &SHAPES[i], 0, 1e-5);
        if (e > worst) worst = e;
    }
    printf("gemm_engine %s f32: max relative error %.3g\n", cs_gemm_engine(), worst);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

START_TEST(more_shapes_than_the_cache_holds)
{
    cs_status st;
    cs_model *m = load_tiny(0, &st);
    ck_assert_int_eq(st, CS_OK);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    /* 150 distinct small shapes (more than the 64 cached primitives), twice, then the first ones
     * again after they were evicted */
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < 150; i++) {
            shape s = {i & 1, (i >> 1) & 1, 1 + i % 13, 1 + i % 7, 1 + i / 7, i % 3, 0, i % 2,
                       1.0f, (i % 3) * 0.5f};
            run_shape(ctx, &s, 0, 1e-5);
        }
    run_shape(ctx, &SHAPES[0], 0, 1e-5);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

START_TEST(bf16_matches_the_loop_on_rounded_operands_or_is_refused)
{
    cs_status st;
    cs_model *m = load_tiny(CS_MODEL_PRECISION_BF16, &st);
    if (strcmp(cs_gemm_engine(), "onednn") != 0) {
        ck_assert_int_eq(st, CS_ERR_UNSUPPORTED);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(cs_last_error(), "GEMM=onednn") != NULL, "message: %s",
                      cs_last_error());
        printf("gemm_engine %s bf16: refused (%s)\n", cs_gemm_engine(), cs_last_error());
        return;
    }
    if (st == CS_ERR_UNSUPPORTED) {
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(cs_last_error(), "AVX512_BF16") != NULL, "message: %s",
                      cs_last_error());
        printf("gemm_engine onednn bf16: this CPU has none (%s)\n", cs_last_error());
        return;
    }
    ck_assert_int_eq(st, CS_OK);
    ck_assert_int_eq(cs_model_precision(m), CS_PRECISION_BF16);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    double worst = 0.0;
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < N_SHAPES; i++) {
            double e = run_shape(ctx, &SHAPES[i], 1, 1e-5);
            if (e > worst) worst = e;
        }
    printf("gemm_engine onednn bf16, activation products (run in f32): max relative error %.3g\n",
           worst);
    /* K = 63 with a narrow output crashed oneDNN 2.6.3's AMX bf16 kernel (SIGILL): odd K runs in
     * f32, so this must give the f32 loop's result */
    {
        const float *fc = m->text.blocks[0].fc_w; /* [mlp, width]: viewed as [27, 63] */
        mat a = mat_new(0, 139, 63, 0);
        float *c = (float *)malloc(sizeof(float) * 139 * 27);
        ck_assert_ptr_nonnull(c);
        cs_gemm(ctx, 0, 1, 139, 27, 63, 1.0f, a.p, a.ld, fc, 63, 0.0f, c, 27);
        double e = 0.0;
        for (int i = 0; i < 139; i++)
            for (int j = 0; j < 27; j++) {
                double acc = 0.0, mag = 0.0;
                for (int p = 0; p < 63; p++) {
                    double t = (double)a.p[(size_t)i * a.ld + p] * fc[(size_t)j * 63 + p];
                    acc += t;
                    mag += fabs(t);
                }
                double err = fabs(c[(size_t)i * 27 + j] - acc) / (mag + 1e-30);
                if (err > e) e = err;
            }
        printf("gemm_engine onednn bf16 weight product 139x27x63 (odd K, runs f32): %.3g\n", e);
        ck_assert_msg(e <= 1e-5, "odd-K product off by %g", e);
        free(a.p);
        free(c);
    }
    /* products with a model weight run in bf16: the weight's bf16 copy times the activation
     * rounded to bf16, against the double loop on the rounded values; and not equal to f32 */
    const cs_block_weights *blk = &m->vision.blocks[0];
    int w = m->vision.width; /* qkv_w [3w, w], fc_w [mlp, w] */
    const int rows[3] = {1, 7, 197};
    for (int r = 0; r < 3; r++) {
        int mm = rows[r], nn = 3 * w, kk = w;
        mat a = mat_new(0, mm, kk, 3);
        float *ar = (float *)malloc(sizeof(float) * (size_t)mm * a.ld);
        float *c16 = (float *)malloc(sizeof(float) * (size_t)mm * nn);
        float *c32 = (float *)malloc(sizeof(float) * (size_t)mm * nn);
        ck_assert(ar && c16 && c32);
        for (size_t i = 0; i < (size_t)mm * a.ld; i++) ar[i] = bf16_round(a.p[i]);
        cs_gemm(ctx, 0, 1, mm, nn, kk, 1.0f, a.p, a.ld, blk->qkv_w, kk, 0.0f, c16, nn);
        cs_gemm(NULL, 0, 1, mm, nn, kk, 1.0f, a.p, a.ld, blk->qkv_w, kk, 0.0f, c32, nn);
        double e = 0.0;
        for (int i = 0; i < mm; i++)
            for (int j = 0; j < nn; j++) {
                double acc = 0.0, mag = 0.0;
                for (int p = 0; p < kk; p++) {
                    double t = (double)ar[(size_t)i * a.ld + p] *
                               bf16_round(blk->qkv_w[(size_t)j * kk + p]);
                    acc += t;
                    mag += fabs(t);
                }
                double err = fabs(c16[(size_t)i * nn + j] - acc) / (mag + 1e-30);
                if (err > e) e = err;
            }
        double d = tu_max_abs_diff(c16, c32, (size_t)mm * nn);
        printf("gemm_engine onednn bf16 weight product %dx%dx%d: max relative error %.3g on "
               "rounded operands; max abs %.3g from f32\n", mm, nn, kk, e, d);
        ck_assert_msg(e <= 1e-5, "bf16 weight product off by %g", e);
        ck_assert_msg(d > 0.0, "the weight product did not run in bf16");
        free(a.p);
        free(ar);
        free(c16);
        free(c32);
    }
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gemm_engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, f32_matches_the_triple_loop);
    tcase_add_test(tc, more_shapes_than_the_cache_holds);
    tcase_add_test(tc, bf16_matches_the_loop_on_rounded_operands_or_is_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
