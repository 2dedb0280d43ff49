/* The in-run GEMM roof: cs_gemm on the ViT-B/16 shapes, through a context of MODEL, in f32 and
 * (when this build and CPU have it) bf16. Best of R calls per shape (after one warm-up call,
 * which also creates the oneDNN primitive). One JSON line per shape and one summary line per
 * precision over the linear-layer shapes: the best GFLOP/s ("roof_gflops"), the FLOP-weighted
 * mean of the per-shape GFLOP/s ("weighted_mean_gflops") and all linear FLOPs over their summed
 * best times ("aggregate_gflops").
 * Linear layers multiply activations [M, K] by the weights stored [N, K] (cs_gemm(ctx, 0, 1, ...),
 * as the library does); with a ViT-B/16 model the weights are the model's own (in bf16: its bf16
 * copies made at load), else random. Attention: q k^T [1025, 64] x [1025, 64]^T (strides of the
 * packed qkv rows) and s v [1025, 1025] x [1025, 64], each on all threads, in f32 only: cs_gemm
 * never runs a product of two activations in bf16; the bf16 attention runs its products per
 * head and thread in lib/core/heads.c, timed as part of the encodes (bench_encode).
 *   bench_gemm MODEL [--reps R] */
#include "clipsurgery.h"
#include "core/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rand_buf(size_t n, unsigned seed)
{
    float *p = (float *)malloc(sizeof(float) * n);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

typedef struct {
    int linear, ta, tb, m, n, k, lda, ldb, ldc;
    const float *weight; /* the model's weight for a linear shape, or NULL (random) */
} gemm_shape;

/* Best seconds of reps calls (after a warm-up call). */
static double time_shape(cs_context *ctx, const gemm_shape *s, const float *a, const float *b,
                         float *c, int reps)
{
    cs_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->ldc);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        cs_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb, 0.0f, c, s->ldc);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    return best;
}

static int run(const char *model_path, int bf16, int reps)
{
    const char *prec = bf16 ? "bf16" : "f32";
    cs_model_params mp;
    cs_model_params_default(&mp);
    if (bf16) mp.flags = CS_MODEL_PRECISION_BF16;
    cs_model *m = NULL;
    cs_status st = cs_model_load(model_path, &mp, &m);
    if (st != CS_OK) {
        printf("{\"bench\": \"gemm_roof\", \"engine\": \"%s\", \"precision\": \"%s\", "
               "\"skipped\": true, \"status\": \"%s\"}\n",
               cs_gemm_engine(), prec, cs_status_string(st));
        fprintf(stderr, "bench_gemm: %s: %s\n", prec, cs_last_error());
        return st == CS_ERR_UNSUPPORTED && bf16 ? 0 : 1;
    }
    cs_context *ctx = NULL;
    if (cs_context_create(m, NULL, &ctx) != CS_OK) {
        fprintf(stderr, "bench_gemm: %s\n", cs_last_error());
        cs_model_free(m);
        return 1;
    }
    const cs_block_weights *blk = NULL;
    if (m->backbone == CS_BACKBONE_VIT && m->vision.width == 768 && m->vision.mlp_dim == 3072 &&
        m->vision.layers > 0)
        blk = &m->vision.blocks[0];
    const int rows[2] = {197, 1025};
    const int nk[4][2] = {{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}};
    gemm_shape shapes[10];
    int ns = 0;
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 4; j++) {
            const float *w = NULL;
            if (blk) w = j == 0 ? blk->qkv_w : j == 1 ? blk->out_w : j == 2 ? blk->fc_w : blk->proj_w;
            shapes[ns++] = (gemm_shape){1, 0, 1, rows[r], nk[j][0], nk[j][1], nk[j][1], nk[j][1],
                                        nk[j][0], w};
        }
    /* q k^T: q and k rows inside the packed qkv activations [1025, 2304]; s v: v likewise */
    shapes[ns++] = (gemm_shape){0, 0, 1, 1025, 1025, 64, 2304, 2304, 1025, NULL};
    shapes[ns++] = (gemm_shape){0, 0, 0, 1025, 64, 1025, 1025, 2304, 768, NULL};

    size_t max_a = (size_t)1025 * 3072, max_b = (size_t)1025 * 3072, max_c = (size_t)1025 * 3072;
    float *a = rand_buf(max_a, 1u), *b = rand_buf(max_b, 2u), *c = (float *)malloc(sizeof(float) * max_c);
    int rc = 0;
    if (!a || !b || !c) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        rc = 1;
        goto done;
    }
    double lin_flops = 0.0, lin_time = 0.0, lin_weighted = 0.0, roof = 0.0;
    for (int i = 0; i < ns; i++) {
        const gemm_shape *s = &shapes[i];
        /* in bf16 precision only products with a model weight run in bf16 (gemm.c): attention
         * shapes, and linear shapes without the model's weights, would be f32 timings */
        if (bf16 && (!s->linear || !s->weight)) continue;
        const float *bb = s->weight ? s->weight : b;
        double t = time_shape(ctx, s, a, bb, c, reps);
        double flops = 2.0 * s->m * s->n * s->k;
        double gf = flops / t * 1e-9;
        printf("{\"bench\": \"gemm_roof\", \"engine\": \"%s\", \"precision\": \"%s\", "
               "\"kind\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"trans_b\": %d, "
               "\"model_weights\": %s, \"best_ms\": %.3f, \"gflops\": %.1f}\n",
               cs_gemm_engine(), prec, s->linear ? "linear" : "attention", s->m, s->n, s->k,
               s->tb, s->weight ? "true" : "false", t * 1e3, gf);
        fflush(stdout);
        if (s->linear) {
            lin_flops += flops;
            lin_time += t;
            lin_weighted += flops * gf;
            if (gf > roof) roof = gf;
        }
    }
    printf("{\"bench\": \"gemm_roof_summary\", \"engine\": \"%s\", \"precision\": \"%s\", "
           "\"shapes\": \"linear\", \"reps\": %d, \"roof_gflops\": %.1f, "
           "\"weighted_mean_gflops\": %.1f, \"aggregate_gflops\": %.1f, \"OMP_NUM_THREADS\": "
           "\"%s\", \"OPENBLAS_NUM_THREADS\": \"%s\"}\n",
           cs_gemm_engine(), prec, reps, roof, lin_weighted / lin_flops,
           lin_flops / lin_time * 1e-9, getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "",
           getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "");
done:
    free(a);
    free(b);
    free(c);
    cs_context_free(ctx);
    cs_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    int reps = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !model_path)
            model_path = argv[i];
        else
            model_path = NULL, reps = 0, i = argc;
    }
    if (!model_path || reps < 1) {
        fprintf(stderr, "usage: bench_gemm MODEL [--reps R]\n");
        return 2;
    }
    int rc = run(model_path, 0, reps);
    if (rc == 0) rc = run(model_path, 1, reps);
    return rc;
}
