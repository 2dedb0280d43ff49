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

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("shared model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shared_model_many_contexts);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
