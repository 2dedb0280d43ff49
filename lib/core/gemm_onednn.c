/* GEMM engine: oneDNN matmul primitives (make GEMM=onednn). f32 products and, on a CPU with
 * native bfloat16 (AVX512_BF16 or AMX), bf16 products with f32 accumulation and f32 output.
 *
 * Per context (cs_engine_state): one oneDNN CPU engine, one stream, and a small cache of
 * matmul primitives keyed by everything that shapes one (data types, transposes, m, n, k, the
 * three row strides, alpha, beta), so a repeated shape pays the primitive-descriptor creation
 * once; memory objects are kept with each primitive and only get new data pointers per call.
 * At most CS_ONEDNN_CACHE entries, least-recently-used replaced. One thread at a time per state
 * (a cs_context is used by one thread at a time); no global mutable state here (oneDNN keeps
 * its own internal, thread-safe primitive cache).
 *
 * Threads: oneDNN runs on its OpenMP runtime; OMP_NUM_THREADS (or the OpenMP default, one thread
 * per core) decides, the library only keeps a product from asking for more threads than
 * OMP_THREAD_LIMIT or for a dynamic team (gemm_engine.h cs_omp_team_fit).
 *
 * Fallbacks: a NULL state (cs_gemm with ctx NULL), any oneDNN failure, or a shape oneDNN would
 * only run with a reference (non-JIT) implementation goes to OpenBLAS cblas_sgemm for f32, which
 * stays linked in this build: cs_engine_sgemm never fails. cs_engine_gemm_bf16 returns nonzero
 * instead (the caller then computes in f32). */
#include "core/gemm_engine.h"

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

#define CS_ONEDNN_CACHE 64

enum { KIND_F32 = 0, KIND_BF16 = 1 };

typedef struct {
    int kind, ta, tb, m, n, k, lda, ldb, ldc;
    uint32_t alpha_bits, beta_bits;
} prim_key;

typedef struct {
    prim_key key;
    int used;                  /* entry holds a key (prim may still be NULL: use_blas) */
    int use_blas;              /* oneDNN offers only a reference implementation: f32 via BLAS */
    unsigned long long stamp;  /* last use, for LRU replacement */
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
} prim_entry;

struct cs_engine_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    unsigned long long clock;
    prim_entry cache[CS_ONEDNN_CACHE];
};

const char *cs_engine_name(void) { return "onednn"; }

int cs_engine_state_create(cs_engine_state **out)
{
    *out = NULL;
    cs_engine_state *st = (cs_engine_state *)calloc(1, sizeof *st);
    if (!st) return -1;
    if (dnnl_engine_create(&st->engine, dnnl_cpu, 0) != dnnl_success) {
        free(st);
        return -1;
    }
    if (dnnl_stream_create(&st->stream, st->engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(st->engine);
        free(st);
        return -1;
    }
    *out = st;
    return 0;
}

static void entry_clear(prim_entry *e)
{
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->wei) dnnl_memory_destroy(e->wei);
    if (e->dst) dnnl_memory_destroy(e->dst);
    memset(e, 0, sizeof *e);
}

void cs_engine_state_free(cs_engine_state *st)
{
    if (!st) return;
    for (int i = 0; i < CS_ONEDNN_CACHE; i++) entry_clear(&st->cache[i]);
    dnnl_stream_destroy(st->stream);
    dnnl_engine_destroy(st->engine);
    free(st);
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Row-major op(X) [rows, cols] of a matrix stored [rows, cols] (trans 0) or [cols, rows]
 * (trans 1) with row stride ld. */
static dnnl_status_t md_init(dnnl_memory_desc_t *md, dnnl_data_type_t dt, int trans, int rows,
                             int cols, int ld)
{
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {0, 0};
    if (trans) {
        strides[0] = 1;
        strides[1] = ld;
    } else {
        strides[0] = ld;
        strides[1] = 1;
    }
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* Creates the primitive and memory objects of e->key. Returns 0 on success (e->use_blas set when
 * oneDNN only has a reference implementation for it), nonzero on failure (e left cleared). */
static int entry_build(cs_engine_state *st, prim_entry *e)
{
    const prim_key *k = &e->key;
    dnnl_data_type_t in_dt = k->kind == KIND_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src_md, wei_md, dst_md;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    float alpha, beta;
    memcpy(&alpha, &k->alpha_bits, sizeof alpha);
    memcpy(&beta, &k->beta_bits, sizeof beta);
    int ok = md_init(&src_md, in_dt, k->ta, k->m, k->k, k->lda) == dnnl_success &&
             md_init(&wei_md, in_dt, k->tb, k->k, k->n, k->ldb) == dnnl_success &&
             md_init(&dst_md, dnnl_f32, 0, k->m, k->n, k->ldc) == dnnl_success &&
             dnnl_matmul_desc_init(&desc, &src_md, &wei_md, NULL, &dst_md) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (ok && alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
    if (ok && beta != 0.0f) {
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, st->engine, NULL) == dnnl_success;
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        if (pd) dnnl_primitive_desc_destroy(pd);
        return -1;
    }
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&impl) ==
            dnnl_success &&
        impl && strncmp(impl, "ref", 3) == 0) {
        /* oneDNN's reference loops are far slower than BLAS: f32 goes to cblas_sgemm */
        dnnl_primitive_desc_destroy(pd);
        if (k->kind == KIND_BF16) return -1;
        e->use_blas = 1;
        return 0;
    }
    ok = dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
         dnnl_memory_create(&e->src, &src_md, st->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->wei, &wei_md, st->engine, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&e->dst, &dst_md, st->engine, DNNL_MEMORY_NONE) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        prim_key keep = e->key;
        entry_clear(e);
        e->key = keep;
        return -1;
    }
    return 0;
}

/* The cache entry for key, built on a miss (replacing the least recently used entry). NULL
 * when oneDNN cannot build it. */
static prim_entry *lookup(cs_engine_state *st, const prim_key *key)
{
    prim_entry *victim = &st->cache[0];
    for (int i = 0; i < CS_ONEDNN_CACHE; i++) {
        prim_entry *e = &st->cache[i];
        if (e->used && memcmp(&e->key, key, sizeof *key) == 0) {
            e->stamp = ++st->clock;
            return e;
        }
        if (!e->used) {
            if (victim->used) victim = e;
        } else if (victim->used && e->stamp < victim->stamp) {
            victim = e;
        }
    }
    entry_clear(victim);
    victim->key = *key;
    if (entry_build(st, victim) != 0) {
        entry_clear(victim);
        if (key->kind != KIND_F32) return NULL;
        /* remembered, so a shape oneDNN refuses does not retry the creation on every call */
        victim->key = *key;
        victim->use_blas = 1;
    }
    victim->used = 1;
    victim->stamp = ++st->clock;
    return victim;
}

/* Runs e on the given operands. Returns 0 on success. */
static int entry_run(cs_engine_state *st, prim_entry *e, const void *a, const void *b, float *c)
{
    if (dnnl_memory_set_data_handle(e->src, (void *)a) != dnnl_success ||
        dnnl_memory_set_data_handle(e->wei, (void *)b) != dnnl_success ||
        dnnl_memory_set_data_handle(e->dst, c) != dnnl_success)
        return -1;
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
    if (dnnl_primitive_execute(e->prim, st->stream, 3, args) != dnnl_success) return -1;
    return dnnl_stream_wait(st->stream) == dnnl_success ? 0 : -1;
}

static void key_init(prim_key *key, int kind, int ta, int tb, int m, int n, int k, float alpha,
                     int lda, int ldb, float beta, int ldc)
{
    memset(key, 0, sizeof *key);
    key->kind = kind;
    key->ta = ta != 0;
    key->tb = tb != 0;
    key->m = m;
    key->n = n;
    key->k = k;
    key->lda = lda;
    key->ldb = ldb;
    key->ldc = ldc;
    key->alpha_bits = float_bits(alpha);
    key->beta_bits = float_bits(beta);
}

void cs_engine_sgemm(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                     float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc)
{
    /* primitives are planned and run for a team the runtime will give (gemm_engine.h) */
    cs_omp_team team;
    cs_omp_team_fit(&team);
    if (st) {
        prim_key key;
        key_init(&key, KIND_F32, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc);
        prim_entry *e = lookup(st, &key);
        if (e && !e->use_blas && entry_run(st, e, a, b, c) == 0) {
            cs_omp_team_restore(&team);
            return;
        }
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    cs_omp_team_restore(&team);
}

int cs_engine_has_bf16(const char **why)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
        (unsigned)dnnl_cpu_isa_avx512_core_bf16)
        return 1;
    if (why)
        *why = "oneDNN finds no native bfloat16 on this CPU (it needs AVX512_BF16 or AMX, or "
               "DNNL_MAX_CPU_ISA limits it below avx512_core_bf16)";
    return 0;
}

int cs_engine_gemm_bf16(cs_engine_state *st, int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const uint16_t *a, int lda, const uint16_t *b, int ldb,
                        float beta, float *c, int ldc)
{
    /* oneDNN 2.6.3's AMX bf16 kernel (brg:avx512_core_amx_bf16) executes an illegal instruction
     * for an inner dimension of 63 with fewer than 48 output columns; bf16 pairs values along K
     * anyway, so odd K runs in f32 (the caller's fallback). No CLIP weight has an odd inner
     * dimension except the RGB stem of a ResNet (3 x 3 x 3 = 27). */
    if (k & 1) return -1;
    if (!st) return -1; /* bf16 runs only on a context (gemm.c), which always has a state */
    cs_omp_team team;
    cs_omp_team_fit(&team);
    prim_key key;
    key_init(&key, KIND_BF16, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc);
    prim_entry *e = lookup(st, &key);
    int r = e && !e->use_blas ? entry_run(st, e, a, b, c) : -1;
    cs_omp_team_restore(&team);
    return r;
}
