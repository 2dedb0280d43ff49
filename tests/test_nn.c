/* Transformer kernels on known values: QuickGELU (OpenAI CLIP), GELU (configs saying "gelu"),
 * softmax rows, layer norm; and config.json's hidden_act reaching the model. */
#include "testutil.h"

#include "core/gram.h"
#include "core/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double quick_gelu_ref(double x) { return x / (1.0 + exp(-1.702 * x)); }

START_TEST(activations_match_their_definitions)
{
    /* 19 values: the vector path (16) and the scalar tail (3), with a bias */
    float x[19], b[19], y[19];
    for (int i = 0; i < 19; i++) {
        x[i] = -6.0f + 0.65f * (float)i;
        b[i] = 0.01f * (float)i;
    }
    int acts[2] = {CS_ACT_QUICK_GELU, CS_ACT_GELU};
    for (int a = 0; a < 2; a++) {
        memcpy(y, x, sizeof y);
        cs_nn_bias_act(NULL, y, 1, 19, 19, b, acts[a]);
        for (int i = 0; i < 19; i++) {
            double in = (double)x[i] + (double)b[i];
            double want = a == 0 ? quick_gelu_ref(in) : gelu_ref(in);
            ck_assert_msg(fabs(y[i] - want) < 2e-6 * (1.0 + fabs(want)), "act %d x=%g: %g vs %g",
                          acts[a], in, (double)y[i], want);
        }
    }
    /* known points */
    float g[3] = {1.0f, -1.0f, 2.0f};
    cs_nn_bias_act(NULL, g, 1, 3, 3, NULL, CS_ACT_GELU);
    ck_assert_float_eq_tol(g[0], 0.8413447f, 1e-6f);
    ck_assert_float_eq_tol(g[1], -0.1586553f, 1e-6f);
    ck_assert_float_eq_tol(g[2], 1.9544997f, 1e-6f);
    /* no activation: bias only */
    float n[2] = {1.0f, 2.0f}, nb[2] = {0.5f, -0.5f};
    cs_nn_bias_act(NULL, n, 1, 2, 2, nb, -1);
    ck_assert(n[0] == 1.5f && n[1] == 1.5f);
}
END_TEST

START_TEST(softmax_and_layer_norm)
{
    float row[21];
    for (int i = 0; i < 21; i++) row[i] = (float)(i % 7) - 3.0f + 50.0f; /* large offset: stable */
    double z = 0;
    for (int i = 0; i < 21; i++) z += exp((double)(i % 7) - 3.0);
    cs_nn_softmax_rows(NULL, row, 1, 21, 21);
    double sum = 0;
    for (int i = 0; i < 21; i++) {
        ck_assert(fabs(row[i] - exp((double)(i % 7) - 3.0) / z) < 1e-6);
        sum += row[i];
    }
    ck_assert(fabs(sum - 1.0) < 1e-5);
    float x[10], y[10], w[10], b[10];
    for (int i = 0; i < 10; i++) {
        x[i] = (float)i;
        w[i] = 2.0f;
        b[i] = 1.0f;
    }
    cs_nn_layer_norm(NULL, x, 10, y, 10, 1, 10, w, b, 1e-5f);
    double var = 8.25; /* of 0..9 */
    for (int i = 0; i < 10; i++)
        ck_assert(fabs(y[i] - (2.0 * (i - 4.5) / sqrt(var + 1e-5) + 1.0)) < 1e-5);
}
END_TEST

START_TEST(config_json_hidden_act_reaches_the_model)
{
    char dir[] = "/tmp/cs_test_nn_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *src = tu_fixture("golden/tiny-hf-f16.safetensors");
    char link[256], cfg[256];
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    ck_assert_int_eq(symlink(src, link), 0);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{\"projection_dim\": 64, \"vision_config\": {\"hidden_size\": 128, \"hidden_act\": \"gelu\","
          " \"layer_norm_eps\": 1e-6}, \"text_config\": {\"hidden_act\": \"gelu\"}}", f);
    fclose(f);
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_OK);
    cs_model_info in;
    memset(&in, 0, sizeof in);
    in.size = sizeof in;
    cs_model_get_info(m, &in);
    ck_assert_int_eq(in.activation, CS_ACT_GELU);
    ck_assert_float_eq_tol(in.layer_norm_eps, 1e-6f, 1e-12f);
    /* GELU and QuickGELU give different features from the same weights */
    cs_model *q = NULL;
    ck_assert_int_eq(cs_model_load(src, NULL, &q), CS_OK);
    cs_context *cm = NULL, *cq = NULL;
    cs_context_create(m, NULL, &cm);
    cs_context_create(q, NULL, &cq);
    float *px = calloc(3 * 64 * 64, sizeof(float)), fm[17 * 64], fq[17 * 64];
    for (int i = 0; i < 3 * 64 * 64; i++) px[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    ck_assert_int_eq(cs_encode_images(cm, px, 1, 64, 64, fm, 17 * 64), CS_OK);
    ck_assert_int_eq(cs_encode_images(cq, px, 1, 64, 64, fq, 17 * 64), CS_OK);
    ck_assert(tu_max_abs_diff(fm, fq, 17 * 64) > 1e-3);
    cs_context_free(cm);
    cs_context_free(cq);
    cs_model_free(q);
    cs_model_free(m);
    free(px);
    /* a vocabulary beside the weights is found: the HF pair, then the OpenAI file first */
    const char *forms[3][2] = {{"vocab/vocab.json", "vocab.json"}, {"vocab/merges.txt", "merges.txt"},
                               {"vocab/bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt.gz"}};
    char vlinks[3][256];
    for (int i = 0; i < 3; i++) {
        char *v = tu_fixture(forms[i][0]);
        snprintf(vlinks[i], sizeof vlinks[i], "%s/%s", dir, forms[i][1]);
        ck_assert_int_eq(symlink(v, vlinks[i]), 0);
        free(v);
        if (i == 0) continue; /* vocab.json alone lacks its merges */
        m = NULL;
        ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_OK);
        const cs_tokenizer *tok = cs_model_tokenizer(m);
        ck_assert_ptr_nonnull(tok);
        int32_t ids[8];
        size_t n = 0;
        ck_assert_int_eq(cs_tokenize(tok, "a diagram", 9, ids, 8, &n), CS_OK);
        ck_assert_uint_eq(n, 4); /* golden/tokenizer.json: 49406 320 22697 49407 */
        ck_assert(ids[0] == 49406 && ids[1] == 320 && ids[2] == 22697 && ids[3] == 49407);
        cs_model_free(m);
    }
    for (int i = 0; i < 3; i++) unlink(vlinks[i]);
    /* an unknown activation is refused */
    f = fopen(cfg, "w");
    fputs("{\"vision_config\": {\"hidden_act\": \"relu\"}}", f);
    fclose(f);
    m = NULL;
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_ERR_UNSUPPORTED);
    ck_assert(strstr(cs_last_error(), "relu") != NULL);
    unlink(cfg);
    unlink(link);
    rmdir(dir);
    free(src);
}
END_TEST

/* cs_gram_upper (the upper block rows of a a^T through cs_gemm) and cs_nn_sym_attention
 * (softmax(alpha a a^T) b from that triangle) against direct double-precision products, for
 * sizes around the block size and strided operands, on one and on several threads. */
START_TEST(symmetric_scores_match_the_full_product)
{
    static const int sizes[] = {1, 2, 7, 127, 128, 129, 255, 256, 300, 512, 513, 700};
    const int k = 13, lda = 16, d = 5, ldb = 9, ldo = 7;
    for (int threads = 1; threads <= 3; threads += 2) {
        cs_context *ctx = NULL;
        cs_context_params cp;
        cs_context_params_default(&cp);
        cp.n_threads = threads;
        cs_model *m = NULL;
        char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
        ck_assert_int_eq(cs_model_load(path, NULL, &m), CS_OK);
        free(path);
        ck_assert_int_eq(cs_context_create(m, &cp, &ctx), CS_OK);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            int n = sizes[si], lds = n + 5;
            float *a = malloc(sizeof(float) * (size_t)n * lda);
            float *bm = malloc(sizeof(float) * (size_t)n * ldb);
            float *s = malloc(sizeof(float) * (size_t)n * lds);
            float *o = malloc(sizeof(float) * (size_t)n * ldo);
            double *p = malloc(sizeof(double) * (size_t)n);
            ck_assert(a && bm && s && o && p);
            uint32_t r = 7u + (uint32_t)n;
            for (int i = 0; i < n * lda; i++) {
                r = r * 1664525u + 1013904223u;
                a[i] = (float)(r >> 8) / 16777216.0f * 4.0f - 2.0f;
            }
            for (int i = 0; i < n * ldb; i++) bm[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
            for (int i = 0; i < n * lds; i++) s[i] = -12345.0f;
            for (int i = 0; i < n * ldo; i++) o[i] = 0.5f;
            double f0 = cs_context_flops(ctx);
            cs_gram_upper(ctx, n, k, 0.25f, a, lda, s, lds);
            double counted = cs_context_flops(ctx) - f0;
            double want_flops = 0.0;
            int bs = cs_gram_block(n);
            for (int i0 = 0; i0 < n; i0 += bs) {
                int mm = n - i0 < bs ? n - i0 : bs;
                want_flops += 2.0 * mm * (double)(n - i0) * k;
            }
            ck_assert(counted == want_flops && counted == cs_gram_flops(n, k));
            if (n > cs_gram_block(n)) ck_assert(counted < 2.0 * n * (double)n * k);
            double worst = 0.0, worst_att = 0.0;
            for (int i = 0; i < n; i++) {
                int i0 = i / cs_gram_block(n) * cs_gram_block(n);
                for (int j = 0; j < lds; j++) {
                    float got = s[(size_t)i * lds + j];
                    if (j < i0 || j >= n) { /* never written */
                        ck_assert(got == -12345.0f);
                        continue;
                    }
                    double want = 0.0;
                    for (int c = 0; c < k; c++)
                        want += (double)a[(size_t)i * lda + c] * a[(size_t)j * lda + c];
                    double e = fabs(got - 0.25 * want);
                    if (!(e <= worst)) worst = e;
                }
            }
            ck_assert_msg(worst < 1e-5, "n=%d threads=%d: gram max error %g", n, threads, worst);
            for (int acc = 0; acc <= 1; acc++) {
                ck_assert_int_eq(cs_nn_sym_attention(ctx, a, lda, n, k, 0.7f, bm, ldb, d, o, ldo,
                                                     acc),
                                 CS_OK);
                /* after acc = 0 then acc = 1, o holds twice the attention */
                for (int i = 0; i < n; i++) {
                    double mx = -1e300, z = 0.0;
                    for (int j = 0; j < n; j++) {
                        double dot = 0.0;
                        for (int c = 0; c < k; c++)
                            dot += (double)a[(size_t)i * lda + c] * a[(size_t)j * lda + c];
                        p[j] = 0.7 * dot;
                        if (p[j] > mx) mx = p[j];
                    }
                    for (int j = 0; j < n; j++) z += (p[j] = exp(p[j] - mx));
                    for (int c = 0; c < d; c++) {
                        double want = 0.0;
                        for (int j = 0; j < n; j++) want += p[j] / z * bm[(size_t)j * ldb + c];
                        double e = fabs(o[(size_t)i * ldo + c] - (acc + 1) * want);
                        if (!(e <= worst_att)) worst_att = e;
                    }
                    for (int c = d; c < ldo; c++) ck_assert(o[(size_t)i * ldo + c] == 0.5f);
                }
            }
            ck_assert_msg(worst_att < 2e-5, "n=%d threads=%d: attention max error %g", n, threads,
                          worst_att);
            free(a);
            free(bm);
            free(s);
            free(o);
            free(p);
        }
        cs_context_free(ctx);
        cs_model_free(m);
    }
}
END_TEST

/* The row kernels on several threads (enough rows to split) give the serial results exactly,
 * and the fused bias + layer norm equals a bias pass followed by the layer norm. */
START_TEST(row_kernels_on_threads_match_serial)
{
    const int rows = 1500, n = 777, ld = 780; /* over 2^20 floats: split on 3 threads */
    size_t len = (size_t)rows * ld;
    float *x = malloc(len * sizeof(float)), *a = malloc(len * sizeof(float));
    float *b = malloc(len * sizeof(float)), *y1 = malloc(len * sizeof(float));
    float *y2 = malloc(len * sizeof(float)), *w = malloc(n * sizeof(float));
    float *bias = malloc(n * sizeof(float));
    ck_assert(x && a && b && y1 && y2 && w && bias);
    uint32_t r = 99;
    for (size_t i = 0; i < len; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 16777216.0f * 8.0f - 4.0f;
    }
    for (int i = 0; i < n; i++) {
        w[i] = 0.5f + 0.001f * (float)i;
        bias[i] = 0.01f * (float)(i % 13) - 0.05f;
    }
    cs_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.n_threads = 3;
    int acts[3] = {-1, CS_ACT_QUICK_GELU, CS_ACT_GELU};
    for (int k = 0; k < 3; k++) {
        memcpy(a, x, len * sizeof(float));
        memcpy(b, x, len * sizeof(float));
        cs_nn_bias_act(NULL, a, (size_t)rows, n, ld, bias, acts[k]);
        cs_nn_bias_act(&ctx, b, (size_t)rows, n, ld, bias, acts[k]);
        ck_assert(memcmp(a, b, len * sizeof(float)) == 0);
    }
    memcpy(a, x, len * sizeof(float));
    memcpy(b, x, len * sizeof(float));
    cs_nn_softmax_rows(NULL, a, (size_t)rows, n, ld);
    cs_nn_softmax_rows(&ctx, b, (size_t)rows, n, ld);
    ck_assert(memcmp(a, b, len * sizeof(float)) == 0);
    /* layer norm: serial vs threads, and bias fused vs separate */
    memcpy(a, x, len * sizeof(float));
    memcpy(b, x, len * sizeof(float));
    cs_nn_bias_act(NULL, a, (size_t)rows, n, ld, bias, -1);
    cs_nn_layer_norm(NULL, a, ld, y1, ld, (size_t)rows, n, w, bias, 1e-5f);
    cs_nn_bias_layer_norm(&ctx, b, ld, bias, y2, ld, (size_t)rows, n, w, bias, 1e-5f);
    for (int i = 0; i < rows; i++) {
        ck_assert(memcmp(a + (size_t)i * ld, b + (size_t)i * ld, n * sizeof(float)) == 0);
        ck_assert(memcmp(y1 + (size_t)i * ld, y2 + (size_t)i * ld, n * sizeof(float)) == 0);
    }
    cs_nn_layer_norm(&ctx, a, ld, y2, ld, (size_t)rows, n, w, bias, 1e-5f);
    for (int i = 0; i < rows; i++)
        ck_assert(memcmp(y1 + (size_t)i * ld, y2 + (size_t)i * ld, n * sizeof(float)) == 0);
    free(x);
    free(a);
    free(b);
    free(y1);
    free(y2);
    free(w);
    free(bias);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120); /* the double-precision references, under ASan too */
    tcase_add_test(tc, activations_match_their_definitions);
    tcase_add_test(tc, softmax_and_layer_norm);
    tcase_add_test(tc, symmetric_scores_match_the_full_product);
    tcase_add_test(tc, row_kernels_on_threads_match_serial);
    tcase_add_test(tc, config_json_hidden_act_reaches_the_model);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
