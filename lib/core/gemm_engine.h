/* The GEMM engines behind cs_gemm (gemm.c), one per build: gemm_openblas.c (the default and the
 * reference) or gemm_onednn.c (make GEMM=onednn). Exactly one of them is linked. Not installed.
 * Row-major throughout; trans and ld arguments as in cs_gemm. */
#ifndef CS_GEMM_ENGINE_H
#define CS_GEMM_ENGINE_H

#include <stdint.h>

/* The OpenMP team a product may ask for. OpenBLAS's OpenMP build (0.3.21) and oneDNN plan a
 * product for omp_get_max_threads() threads and then assume their parallel region got that many:
 * when OMP_THREAD_LIMIT is below OMP_NUM_THREADS (or the core count), or with OMP_DYNAMIC=true,
 * the region gets fewer threads and OpenBLAS waits forever for the missing ones (sched_yield
 * loop in its threaded driver) while oneDNN gave wrong, non-finite results. cs_omp_team_fit
 * lowers the calling thread's own nthreads-var to the thread limit and turns dyn-var off for the
 * product (task-local ICVs, not process state; outside a parallel region only, as inside one
 * both run serially); cs_omp_team_restore puts them back. Nothing changes in a default
 * environment. */
typedef struct cs_omp_team {
    int changed, nthreads, dynamic;
} cs_omp_team;

#ifdef CS_PARALLEL_OPENMP
#include <omp.h>

static inline void cs_omp_team_fit(cs_omp_team *t)
{
    t->changed = 0;
    if (omp_in_parallel()) return;
    int n = omp_get_max_threads(), limit = omp_get_thread_limit(), dyn = omp_get_dynamic();
    if (!dyn && n <= limit) return;
    t->changed = 1;
    t->nthreads = n;
    t->dynamic = dyn;
    if (dyn) omp_set_dynamic(0);
    if (n > limit) omp_set_num_threads(limit > 0 ? limit : 1);
}

static inline void cs_omp_team_restore(const cs_omp_team *t)
{
    if (!t->changed) return;
    omp_set_num_threads(t->nthreads);
    omp_set_dynamic(t->dynamic);
}
#else
static inline void cs_omp_team_fit(cs_omp_team *t) { t->changed = 0; }
static inline void cs_omp_team_restore(const cs_omp_team *t) { (void)t; }
#endif

/* Per-context engine state (oneDNN: engine, stream, primitive cache). Opaque. */
typedef struct cs_engine_state cs_engine_state;

/* Name of the linked engine: "openblas" or "onednn". */
const char *cs_engine_name(void);

/* New per-context state in *out (may be NULL for an engine that keeps none). Returns 0 on
 * success, nonzero when out of memory or the engine cannot start. */
int cs_engine_state_create(cs_engine_state **out);
void cs_engine_state_free(cs_engine_state *st);

/* f32 product; st may be NULL (no cache). m, n, k > 0. */
void cs_engine_sgemm(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc);

/* 1 when this build and this CPU run bfloat16 matrix products (cs_engine_gemm_bf16), else 0;
 * when 0 and why is non-NULL, *why is a static sentence saying why not. */
int cs_engine_has_bf16(const char **why);

/* bf16 product: a, b hold bfloat16 bit patterns (the upper 16 bits of an IEEE float), f32
 * accumulation, C f32 (beta as in cs_gemm). m, n, k > 0. Returns 0 on success; nonzero when it
 * could not run (the caller then computes in f32). */
int cs_engine_gemm_bf16(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const uint16_t *a, int lda, const uint16_t *b, int ldb,
                        float beta, float *c, int ldc);

#endif
