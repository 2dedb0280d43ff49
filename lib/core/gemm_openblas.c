/* GEMM engine: OpenBLAS cblas_sgemm (the default build and the reference). No bfloat16 (the
 * library's bf16 precision runs on the oneDNN engine, make GEMM=onednn). */
#include "core/gemm_engine.h"

#include <cblas.h>
#include <stddef.h>

const char *cs_engine_name(void) { return "openblas"; }

int cs_engine_state_create(cs_engine_state **out)
{
    *out = NULL;
    return 0;
}

void cs_engine_state_free(cs_engine_state *st) { (void)st; }

void cs_engine_sgemm(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc)
{
    (void)st;
    cs_omp_team team;
    cs_omp_team_fit(&team);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    cs_omp_team_restore(&team);
}

int cs_engine_has_bf16(const char **why)
{
    if (why)
        *why = "this build has no bfloat16 engine (build with make GEMM=onednn, which needs "
               "Debian's libdnnl-dev)";
    return 0;
}

int cs_engine_gemm_bf16(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const uint16_t *a, int lda, const uint16_t *b, int ldb,
                        float beta, float *c, int ldc)
{
    (void)st, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a,
        (void)lda, (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return -1;
}
