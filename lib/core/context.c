/* cs_context: per-call scratch memory and the thread count of the library's own loops. */
#include "core/context.h"

#include "core/common.h"
#include "core/gemm_engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CS_MAX_THREADS 256

CS_API void cs_context_params_default(cs_context_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->size = sizeof *params;
    params->n_threads = 0;
}

CS_API cs_status cs_context_create(const cs_model *model, const cs_context_params *params,
                                   cs_context **out)
{
    cs_clear_error();
    if (!model || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "model and out must not be NULL");
    cs_context_params p;
    cs_context_params_default(&p);
    if (params) {
        if (params->size < offsetof(cs_context_params, n_threads) + sizeof(int))
            return cs_fail(CS_ERR_INVALID_ARGUMENT,
                           "cs_context_params.size %zu is too small (use "
                           "cs_context_params_default)", params->size);
        size_t n = params->size < sizeof p ? params->size : sizeof p;
        memcpy(&p, params, n);
    }
    if (p.n_threads < 0 || p.n_threads > CS_MAX_THREADS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_threads %d out of range 0..%d", p.n_threads,
                       CS_MAX_THREADS);
    cs_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate a context");
    ctx->model = model;
    ctx->n_threads = p.n_threads > 0 ? p.n_threads : cs_online_cores();
    ctx->precision = model->precision;
    if (cs_engine_state_create(&ctx->engine) != 0) {
        free(ctx);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot start the %s GEMM engine",
                       cs_engine_name());
    }
    *out = ctx;
    return CS_OK;
}

CS_API void cs_context_free(cs_context *ctx)
{
    if (!ctx) return;
    for (int i = 0; i < CS_BUF_COUNT; i++) free(ctx->buf[i]);
    cs_engine_state_free(ctx->engine);
    for (int t = 1; t < ctx->n_thread_engines; t++) cs_engine_state_free(ctx->thread_engines[t]);
    free(ctx->thread_engines);
    free(ctx);
}

int cs_ctx_thread_engines(cs_context *ctx, int nt)
{
    if (nt <= ctx->n_thread_engines) return 0;
    struct cs_engine_state **e = realloc(ctx->thread_engines, sizeof *e * (size_t)nt);
    if (!e) return -1;
    ctx->thread_engines = e;
    for (int t = ctx->n_thread_engines; t < nt; t++) {
        e[t] = NULL;
        if (t > 0 && cs_engine_state_create(&e[t]) != 0) {
            ctx->n_thread_engines = t;
            return -1;
        }
    }
    ctx->n_thread_engines = nt;
    return 0;
}

CS_API double cs_context_flops(const cs_context *ctx) { return ctx ? ctx->flops : 0.0; }

CS_API const char *cs_gemm_engine(void) { return cs_engine_name(); }

float *cs_ctx_buf(cs_context *ctx, int slot, size_t n)
{
    if (n == 0) n = 1;
    if (ctx->cap[slot] >= n) return ctx->buf[slot];
    size_t bytes;
    if (!cs_mul_size(n, sizeof(float), &bytes)) {
        cs_fail(CS_ERR_OUT_OF_MEMORY, "scratch request of %zu floats overflows", n);
        return NULL;
    }
    /* No realloc: the old contents are never needed, and free+malloc avoids a copy. */
    free(ctx->buf[slot]);
    ctx->buf[slot] = NULL;
    ctx->cap[slot] = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0 || !p) {
        cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of scratch", bytes);
        return NULL;
    }
    ctx->buf[slot] = p;
    ctx->cap[slot] = n;
    return p;
}

/* Threads for a loop of n items in chunks of at least min_chunk: ctx->n_threads, fewer when
 * there is not enough work (1: run it on the caller's thread). */
static size_t loop_threads(const cs_context *ctx, size_t n, size_t min_chunk)
{
    if (min_chunk == 0) min_chunk = 1;
    size_t nt = ctx && ctx->n_threads > 1 ? (size_t)ctx->n_threads : 1;
    size_t by_work = (n + min_chunk - 1) / min_chunk;
    return nt < by_work ? nt : by_work;
}

#ifdef CS_PARALLEL_OPENMP
/* The default builds: the loops run on OpenMP threads, the same ones OpenBLAS's OpenMP build
 * (and oneDNN) use for their products: one pool, no thread creation per loop, and no idle
 * workers of one pool spinning while the other wants the cores. A product called inside a
 * chunk runs serially on that thread (core/gemm.h cs_gemm_nests). Same chunking contract as the
 * pthread version below, which builds without OpenMP use. */
#include <omp.h>

void cs_parallel_for_t(const cs_context *ctx, size_t n, size_t min_chunk, cs_range_t_fn fn,
                       void *arg)
{
    size_t nt = loop_threads(ctx, n, min_chunk);
    if (nt <= 1) {
        if (n) fn(arg, 0, n, 0);
        return;
    }
#pragma omp parallel num_threads((int)nt)
    {
        size_t t = (size_t)omp_get_thread_num(), got = (size_t)omp_get_num_threads();
        size_t begin = n * t / got, end = n * (t + 1) / got;
        if (begin < end) fn(arg, begin, end, (int)t);
    }
}

int cs_parallel_nests(void) { return 1; }
#else
typedef struct par_job {
    cs_range_t_fn fn;
    void *arg;
    size_t begin, end;
    int thread;
} par_job;

static void *par_run(void *p)
{
    par_job *j = p;
    j->fn(j->arg, j->begin, j->end, j->thread);
    return NULL;
}

void cs_parallel_for_t(const cs_context *ctx, size_t n, size_t min_chunk, cs_range_t_fn fn,
                       void *arg)
{
    size_t nt = loop_threads(ctx, n, min_chunk);
    if (nt <= 1) {
        if (n) fn(arg, 0, n, 0);
        return;
    }
    par_job jobs[CS_MAX_THREADS];
    pthread_t tids[CS_MAX_THREADS];
    int started[CS_MAX_THREADS];
    for (size_t t = 0; t < nt; t++) {
        jobs[t].fn = fn;
        jobs[t].arg = arg;
        jobs[t].begin = n * t / nt;
        jobs[t].end = n * (t + 1) / nt;
        jobs[t].thread = (int)t;
    }
    for (size_t t = 1; t < nt; t++)
        started[t] = pthread_create(&tids[t], NULL, par_run, &jobs[t]) == 0;
    fn(arg, jobs[0].begin, jobs[0].end, 0);
    for (size_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            fn(arg, jobs[t].begin, jobs[t].end, (int)t);
    }
}

int cs_parallel_nests(void) { return 0; }
#endif

typedef struct plain_job {
    cs_range_fn fn;
    void *arg;
} plain_job;

static void plain_run(void *arg, size_t begin, size_t end, int thread)
{
    (void)thread;
    const plain_job *j = arg;
    j->fn(j->arg, begin, end);
}

void cs_parallel_for(const cs_context *ctx, size_t n, size_t min_chunk, cs_range_fn fn,
                     void *arg)
{
    plain_job j = {fn, arg};
    cs_parallel_for_t(ctx, n, min_chunk, plain_run, &j);
}
