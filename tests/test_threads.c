/* One immutable model shared by several threads, each with its own context: every thread gets
 * the single-threaded result bit for bit (image encoder with surgery, prompt ensemble), and
 * errors stay per thread. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_THREADS 4

typedef struct job {
    const cs_model *model;
    const float *pixels;
    float features[17 * 64];
    float ensemble[2 * 64];
    cs_status st;
    int error_isolated;
} job;

static void *run(void *arg)
{
    job *j = arg;
    cs_context *ctx = NULL;
    j->st = cs_context_create(j->model, NULL, &ctx);
    if (j->st != CS_OK) return NULL;
    const char *names[2] = {"cat", "potted plant"};
    for (int rep = 0; rep < 3 && j->st == CS_OK; rep++) {
        j->st = cs_surgery_apply(ctx, NULL, j->pixels, 1, 64, 64, j->features, 17 * 64);
        if (j->st == CS_OK) j->st = cs_prompt_ensemble(ctx, names, 2, j->ensemble, 2 * 64);
    }
    /* a failing call on this thread leaves its own message, not another thread's */
    cs_status bad = cs_surgery_apply(ctx, NULL, j->pixels, 1, 65, 64, j->features, 0);
    j->error_isolated = bad != CS_OK && strstr(cs_last_error(), "65") != NULL;
    cs_context_free(ctx);
    return NULL;
}

START_TEST(shared_model_many_contexts)
{
    char *mp = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *vp = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params p;
    cs_model_params_default(&p);
    p.vocab_path = vp;
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(mp, &p, &m), CS_OK);
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    float *want = tu_golden_f32(g, "cs.image_features", NULL);

    job ref;
    memset(&ref, 0, sizeof ref);
    ref.model = m;
    ref.pixels = x64;
    run(&ref);
    ck_assert_int_eq(ref.st, CS_OK);
    ck_assert(tu_max_abs_diff(ref.features, want, 17 * 64) < 1e-4);

    job *jobs = calloc(N_THREADS, sizeof *jobs);
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i].model = m;
        jobs[i].pixels = x64;
        ck_assert_int_eq(pthread_create(&th[i], NULL, run, &jobs[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++) {
        ck_assert_int_eq(jobs[i].st, CS_OK);
        ck_assert(memcmp(jobs[i].features, ref.features, sizeof ref.features) == 0);
        ck_assert(memcmp(jobs[i].ensemble, ref.ensemble, sizeof ref.ensemble) == 0);
        ck_assert(jobs[i].error_isolated);
    }
    free(jobs);
    free(x64);
    free(want);
    cs_st_close(g);
    cs_model_free(m);
    free(mp);
    free(vp);
}
END_TEST

/* Surgery features of one image on a context with n_threads threads (raw CLIP when raw). */
static void encode_on(const cs_model *m, int n_threads, int raw, const float *px, int h, int w,
                      float *f, size_t cap)
{
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = n_threads;
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, &cp, &ctx), CS_OK);
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    if (raw) sp.n_blocks = 0;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, h, w, f, cap), CS_OK);
    cs_context_free(ctx);
}

/* The attention heads side by side (n_threads 2, 3: core/heads.c, tiles of 256 query rows above
 * 512 tokens) against the heads in turn (n_threads 1: core/nn.c, one block of query rows, the
 * v-v scores as one triangle above 512): the same bits up to 512 tokens; above, where the
 * product with the values has more than 512 keys, OpenBLAS's serial and threaded drivers give
 * different sums (docs/ENGINES.md), so the features only agree closely. Token counts 2 (1 x 1
 * grid), 17, 512, 513 (tile boundary), 514 (last tile of 2 rows), odd and even. In bf16 (when
 * the build and CPU have it) every schedule runs the same bf16 attention, so all give the same
 * bits. */
START_TEST(heads_side_by_side_match_heads_in_turn)
{
    static const int sizes[][2] = {{16, 16}, {64, 64}, {112, 1168}, {256, 512}, {432, 304}};
    char *mp = tu_fixture("golden/tiny-openai-f32.safetensors");
    for (int prec = 0; prec < 2; prec++) {
        cs_model_params p;
        cs_model_params_default(&p);
        if (prec) p.flags |= CS_MODEL_PRECISION_BF16;
        cs_model *m = NULL;
        cs_status st = cs_model_load(mp, &p, &m);
        if (prec && st == CS_ERR_UNSUPPORTED) break; /* no bf16 in this build or on this CPU */
        ck_assert_int_eq(st, CS_OK);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            int h = sizes[i][0], w = sizes[i][1], n = cs_model_image_tokens(m, h, w);
            size_t cap = (size_t)n * (size_t)cs_model_embed_dim(m), npx = (size_t)3 * h * w;
            float *px = malloc(npx * sizeof *px), *f1 = malloc(cap * sizeof *f1);
            float *f2 = malloc(cap * sizeof *f2);
            ck_assert(px && f1 && f2);
            uint32_t r = 12345u;
            for (size_t k = 0; k < npx; k++) {
                r = r * 1664525u + 1013904223u;
                px[k] = (float)(r >> 8) / 16777216.0f * 3.0f - 1.5f;
            }
            for (int raw = 0; raw < 2; raw++) {
                encode_on(m, 1, raw, px, h, w, f1, cap);
                for (int nt = 2; nt <= 3; nt++) {
                    encode_on(m, nt, raw, px, h, w, f2, cap);
                    double d = tu_max_abs_diff(f1, f2, cap);
                    if (prec || n <= 512)
                        ck_assert_msg(memcmp(f1, f2, cap * sizeof *f1) == 0,
                                      "%s %d tokens raw=%d n_threads=%d: max diff %g",
                                      prec ? "bf16" : "f32", n, raw, nt, d);
                    else
                        ck_assert_msg(d < 1e-4, "f32 %d tokens raw=%d n_threads=%d: max diff %g",
                                      n, raw, nt, d);
                }
            }
            free(px);
            free(f1);
            free(f2);
        }
        cs_model_free(m);
    }
    free(mp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("shared model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shared_model_many_contexts);
    tcase_add_test(tc, heads_side_by_side_match_heads_in_turn);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
