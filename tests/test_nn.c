/* Transformer kernels on known values: QuickGELU (OpenAI CLIP), GELU (configs saying "gelu"),
 * softmax rows, layer norm; and config.json's hidden_act reaching the model. */
#include "testutil.h"

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
        cs_nn_bias_act(y, 1, 19, 19, b, acts[a]);
        for (int i = 0; i < 19; i++) {
            double in = (double)x[i] + (double)b[i];
            double want = a == 0 ? quick_gelu_ref(in) : gelu_ref(in);
            ck_assert_msg(fabs(y[i] - want) < 2e-6 * (1.0 + fabs(want)), "act %d x=%g: %g vs %g",
                          acts[a], in, (double)y[i], want);
        }
    }
    /* known points */
    float g[3] = {1.0f, -1.0f, 2.0f};
    cs_nn_bias_act(g, 1, 3, 3, NULL, CS_ACT_GELU);
    ck_assert_float_eq_tol(g[0], 0.8413447f, 1e-6f);
    ck_assert_float_eq_tol(g[1], -0.1586553f, 1e-6f);
    ck_assert_float_eq_tol(g[2], 1.9544997f, 1e-6f);
    /* no activation: bias only */
    float n[2] = {1.0f, 2.0f}, nb[2] = {0.5f, -0.5f};
    cs_nn_bias_act(n, 1, 2, 2, nb, -1);
    ck_assert(n[0] == 1.5f && n[1] == 1.5f);
}
END_TEST

START_TEST(softmax_and_layer_norm)
{
    float row[21];
    for (int i = 0; i < 21; i++) row[i] = (float)(i % 7) - 3.0f + 50.0f; /* large offset: stable */
    double z = 0;
    for (int i = 0; i < 21; i++) z += exp((double)(i % 7) - 3.0);
    cs_nn_softmax_rows(row, 1, 21, 21);
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
    cs_nn_layer_norm(x, 10, y, 10, 1, 10, w, b, 1e-5f);
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

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, activations_match_their_definitions);
    tcase_add_test(tc, softmax_and_layer_norm);
    tcase_add_test(tc, config_json_hidden_act_reaches_the_model);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
