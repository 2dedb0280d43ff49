/* The GEMM engines behind cs_gemm (gemm.c), one per build: gemm_openblas.c (the default and the
 * reference) or gemm_onednn.c (make GEMM=onednn). Exactly one of them is linked. Not installed.
 * Row-major throughout; trans and ld arguments as in cs_gemm. */
#ifndef CS_GEMM_ENGINE_H
#define CS_GEMM_ENGINE_H

#include <stdint.h>

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
