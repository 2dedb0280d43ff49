/* Per-call scratch object (cs_context) and the library's own parallel loops. Internal. */
#ifndef CS_CONTEXT_H
#define CS_CONTEXT_H

#include "clipsurgery.h"
#include "io/model.h"

#include <stddef.h>

/* Scratch slots: each slot holds one kind of buffer, grown to the largest request and reused.
 * A pointer from cs_ctx_buf() stays valid until the next request for the SAME slot. */
enum {
    CS_BUF_LN = 0,   /* layer-norm output [rows, width] */
    CS_BUF_QKV,      /* [rows, 3*width] */
    CS_BUF_ATT,      /* concatenated head outputs [rows, width] */
    CS_BUF_ATT2,     /* second path head outputs [rows, width] */
    CS_BUF_HID,      /* MLP hidden [rows, mlp_dim] */
    CS_BUF_SCORES,   /* attention scores [n_query, n_tokens] */
    CS_BUF_POS,      /* resized positional table [n_tokens, width] */
    CS_BUF_UNFOLD,   /* unfolded patches [rows, 3*p*p] */
    CS_BUF_PATCH,    /* patch embeddings [rows, width] */
    CS_BUF_X,        /* main token stream (x or x_ori) */
    CS_BUF_XNEW,     /* new-path token stream */
    CS_BUF_TMP,      /* small per-call temporaries (rows gathered for projection, ...) */
    CS_BUF_GATHER,   /* q, k, v rows of one text gathered from shared prefixes */
    CS_BUF_OUT,      /* features in processing order before scattering */
    CS_BUF_SCORES2,  /* second attention score block (dense methods) */
    CS_BUF_ZBUF,     /* per-head normalised q/k/v copies (GEM self-self attention) */
    CS_BUF_BIAS,     /* additive attention bias [n_tokens, n_tokens] (NACLIP) */
    CS_BUF_RN_A,     /* ResNet trunk: feature maps, ping */
    CS_BUF_RN_B,     /* ResNet trunk: feature maps, pong */
    CS_BUF_RN_T1,    /* ResNet bottleneck: conv1 output, then the pooled conv2 output */
    CS_BUF_RN_T2,    /* ResNet bottleneck: conv2 output */
    CS_BUF_RN_POOL,  /* ResNet shortcut: pooled input */
    CS_BUF_RN_COL,   /* ResNet 3x3 convolution: unfolded input [in*9, out_h*out_w] */
    CS_BUF_RN_TOK,   /* ResNet attention pool: tokens [1 + cells, D] */
    CS_BUF_BF16_A,   /* bf16 precision: left operand of a product rounded to bfloat16 */
    CS_BUF_BF16_B,   /* bf16 precision: right operand rounded to bfloat16 */
    CS_BUF_SYM_G,    /* symmetric attention: column-shifted exponentials of the upper blocks */
    CS_BUF_SYM,      /* symmetric attention: row shifts, sums and column maxima [3, n] */
    CS_BUF_ATT16,    /* bf16 attention: per thread, the head's q, k, v and probabilities */
    CS_BUF_COUNT
};

struct cs_context {
    const cs_model *model;
    int n_threads;
    cs_precision precision;           /* the model's (cs_model_precision) */
    struct cs_engine_state *engine;   /* GEMM engine state (gemm_engine.h); may be NULL */
    /* states for threads 1 .. n_thread_engines - 1 of cs_parallel_for_t (thread 0 uses
     * `engine`); entry 0 unused. Made by cs_ctx_thread_engines. */
    struct cs_engine_state **thread_engines;
    int n_thread_engines;
    double flops;                     /* matrix-product FLOPs so far (cs_context_flops) */
    float *buf[CS_BUF_COUNT];
    size_t cap[CS_BUF_COUNT]; /* in floats */
};

/* Buffer of at least n floats in slot `slot` (contents undefined). NULL when out of memory
 * (after cs_fail(CS_ERR_OUT_OF_MEMORY, ...)). */
float *cs_ctx_buf(cs_context *ctx, int slot, size_t n);

/* Engine states for threads 0 .. nt - 1 of cs_parallel_for_t, so that each thread's products
 * use their own (an engine state is not shared between threads). Call outside a parallel loop.
 * Returns 0, or -1 when a state cannot be made (then use the products without a state). */
int cs_ctx_thread_engines(cs_context *ctx, int nt);

/* The engine state of thread t (after cs_ctx_thread_engines(ctx, > t)). */
static inline struct cs_engine_state *cs_ctx_engine(const cs_context *ctx, int t)
{
    return t == 0 ? ctx->engine : ctx->thread_engines[t];
}

/* fn(arg, begin, end) over [0, n) split into contiguous chunks on up to ctx->n_threads threads
 * (the caller's thread runs the first chunk). Chunks are at least min_chunk items. Falls back to
 * fewer threads when a thread cannot be started; never fails. */
typedef void (*cs_range_fn)(void *arg, size_t begin, size_t end);
void cs_parallel_for(const cs_context *ctx, size_t n, size_t min_chunk, cs_range_fn fn,
                     void *arg);

/* The same with the chunk's thread number (0 .. ctx->n_threads - 1, each used by one chunk at
 * a time: an index into per-thread scratch). */
typedef void (*cs_range_t_fn)(void *arg, size_t begin, size_t end, int thread);
void cs_parallel_for_t(const cs_context *ctx, size_t n, size_t min_chunk, cs_range_t_fn fn,
                       void *arg);

/* 1 when the loops above run on OpenMP threads (the default builds): an OpenMP-built BLAS
 * called inside a chunk then runs serially on the chunk's thread. */
int cs_parallel_nests(void);

#endif
