/* Matrix-product FLOPs of the ViT surgery encoder (cs_context_flops) against the analytic count
 * of the products it should execute, derived here from the model's dimensions: the v-v scores
 * as one triangle (core/gram.h block rows) when the heads run in turn (one thread), the full
 * product when they run side by side (nn.c heads_parallel), the last block's original path for
 * the class token only, and nothing computed twice. Any extra or missing product changes the
 * count. */
#include "testutil.h"

#include "core/gemm.h"
#include "core/gram.h"
#include "io/model.h"

#include <stdlib.h>
#include <string.h>

/* Gram count written out again (not cs_gram_flops): block rows from the diagonal on, from 513
 * tokens (cs_gram_worth); the full product below. */
static double gram(double n, double k, int full)
{
    if (n <= 512 || full) return 2 * n * n * k;
    double f = 0.0, bs = cs_gram_block((int)n);
    for (int i0 = 0; i0 < (int)n; i0 += (int)bs) {
        double m = n - i0 < bs ? n - i0 : bs;
        f += 2.0 * m * (n - i0) * k;
    }
    return f;
}

/* One image of grid gh x gw through cs_surgery_apply with the given surgery (VV attention). */
static double expected(const cs_model *m, int gh, int gw, int n_blocks, int ffn, int cls_new,
                       int full)
{
    const cs_vision_weights *v = &m->vision;
    double c = v->width, h = v->heads, d = c / h, f = v->mlp_dim, e = m->embed_dim;
    double p = v->patch_size, n = (double)gh * gw, t = 1 + n;
    double qk_attn = h * (2 * t * t * d + 2 * t * t * d); /* q k^T and P v, all rows */
    double vv_attn = h * (gram(t, d, full) + 2 * t * t * d); /* v v^T, P v */
    double qkv = 2 * t * c * 3 * c, out = 2 * t * c * c, mlp = 2 * t * c * f * 2;
    double total = 2 * n * c * 3 * p * p; /* patch embedding */
    int layers = v->layers;
    for (int l = 0; l < layers; l++) {
        int dual = l >= layers - n_blocks, last = l == layers - 1;
        if (!dual) {
            total += qkv + qk_attn + out + mlp;
            continue;
        }
        total += qkv + vv_attn + out + (ffn ? mlp : 0); /* new path */
        if (!last) {
            total += qk_attn + out + mlp; /* original path, every token */
        } else if (!cls_new) {
            /* class token only: one query row, one row of out_proj and MLP */
            total += h * (2 * t * d + 2 * t * d) + 2 * c * c + 2 * c * f * 2;
        }
    }
    return total + 2 * t * c * e; /* ln_post + proj on every token */
}

static double run(cs_context *ctx, const cs_model *m, int size, int batch, int n_blocks, int ffn,
                  int cls_new)
{
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    sp.n_blocks = n_blocks;
    sp.new_path_ffn = ffn;
    sp.cls_from_new_path = cls_new;
    size_t npx = (size_t)batch * 3 * size * size;
    size_t cap = (size_t)batch * cs_model_image_tokens(m, size, size) * cs_model_embed_dim(m);
    float *px = malloc(npx * sizeof(float)), *feat = malloc(cap * sizeof(float));
    ck_assert(px && feat);
    for (size_t i = 0; i < npx; i++) px[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    double f0 = cs_context_flops(ctx);
    cs_status st = cs_surgery_apply(ctx, &sp, px, batch, size, size, feat, cap);
    ck_assert_msg(st == CS_OK, "%s", cs_last_error());
    free(px);
    free(feat);
    return cs_context_flops(ctx) - f0;
}

START_TEST(surgery_encode_counts_the_analytic_flops)
{
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(path, NULL, &m), CS_OK);
    free(path);
    /* one thread: heads in turn, v-v as one triangle; two threads: heads side by side when the
     * products nest (cs_gemm_nests), with the full v-v product */
    for (int threads = 1; threads <= 2; threads++) {
        cs_context_params cp;
        cs_context_params_default(&cp);
        cp.n_threads = threads;
        cs_context *ctx = NULL;
        ck_assert_int_eq(cs_context_create(m, &cp, &ctx), CS_OK);
        int full = threads > 1 && cs_gemm_nests();
        int p = m->vision.patch_size, layers = m->vision.layers;
        /* grids: 17, 197 (the 224 px grid of ViT-B/16) and 325 tokens (full v-v product), 530
         * and 1025 (the 512 px grid: one triangle in blocks of 256) */
        static const int grids[] = {4, 14, 18, 23, 32};
        static const int variants[][3] = {{6, 0, 0}, {0, 0, 0}, {1, 0, 0}, {6, 1, 0}, {6, 0, 1}};
        for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
            int g = grids[gi];
            /* the large grids with the default surgery only (time) */
            size_t n_var = g > 20 ? 1 : sizeof variants / sizeof variants[0];
            for (size_t vi = 0; vi < n_var; vi++) {
                int nb = variants[vi][0] > layers ? layers : variants[vi][0];
                int ffn = variants[vi][1], cls_new = variants[vi][2];
                double want = expected(m, g, g, nb, ffn, cls_new, full);
                for (int batch = 1; batch <= 2; batch++) {
                    double got = run(ctx, m, g * p, batch, nb, ffn, cls_new);
                    ck_assert_msg(got == batch * want,
                                  "threads %d grid %d blocks %d ffn %d cls_new %d batch %d: %.0f "
                                  "FLOPs, want %.0f",
                                  threads, g, nb, ffn, cls_new, batch, got, batch * want);
                }
            }
        }
        cs_context_free(ctx);
    }
    /* the symmetric v-v scores save FLOPs once the sequence is over one block */
    int t = 1 + 32 * 32, d = m->vision.width / m->vision.heads;
    ck_assert(gram(t, d, 0) < 2.0 * t * t * d);
    cs_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flops");
    TCase *tc = tcase_create("vit");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, surgery_encode_counts_the_analytic_flops);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
