/* Text encoder (REFERENCE 3, clip encode_text): token + positional embeddings, causal pre-LN
 * blocks, ln_final, the row at the first end-of-text id, text projection.
 * The causal mask means rows after the end-of-text token never reach it, so each text is run
 * only up to its end-of-text position, and the rows of many texts (of any lengths) go through
 * every linear layer as one GEMM; attention runs per text on its own rows. */
#include "common.h"
#include "context.h"
#include "model.h"
#include "nn.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* Rows (tokens of all texts together) per chunk. */
#define CS_TEXT_CHUNK_ROWS 4096

static cs_status check_text_ctx(const cs_context *ctx)
{
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    const cs_text_weights *t = &ctx->model->text;
    if (t->width <= 0 || t->heads <= 0 || t->width % t->heads || t->context_length <= 0 ||
        !t->token_embedding || (t->layers > 0 && !t->blocks))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "model has no usable text encoder");
    return CS_OK;
}

/* Length up to and including the end-of-text token (the first maximum id, as the reference's
 * argmax), after checking every id. */
static cs_status text_length(const cs_text_weights *tw, const int32_t *ids, int index, int *len)
{
    int n = tw->context_length, best = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tw->vocab_size)
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "text %d: id %d at position %d is outside "
                           "the vocabulary (0..%d)", index, (int)ids[i], i, tw->vocab_size - 1);
        if (ids[i] > ids[best]) best = i;
    }
    if (tw->vocab_size > CS_TOKEN_EOT && ids[best] != CS_TOKEN_EOT)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "text %d has no end-of-text id (%d)", index,
                       CS_TOKEN_EOT);
    *len = best + 1;
    return CS_OK;
}

/* Encodes texts [t0, t1) (lengths len[], total `rows` rows) into features [t1 - t0, D]. */
static cs_status encode_chunk(cs_context *ctx, const int32_t *ids, const int *len, int t0,
                              int t1, int rows, float *features)
{
    const cs_model *m = ctx->model;
    const cs_text_weights *tw = &m->text;
    int c = tw->width, nt = t1 - t0, ctxlen = tw->context_length;
    float eps = m->layer_norm_eps;
    float *x = cs_ctx_buf(ctx, CS_BUF_X, (size_t)rows * c);
    float *eot = cs_ctx_buf(ctx, CS_BUF_TMP, (size_t)nt * c);
    if (!x || !eot) return CS_ERR_OUT_OF_MEMORY;
    /* embeddings */
    size_t r = 0;
    for (int t = t0; t < t1; t++)
        for (int i = 0; i < len[t]; i++, r++) {
            const float *te = tw->token_embedding + (size_t)ids[(size_t)t * ctxlen + i] * c;
            const float *pe = tw->positional_embedding + (size_t)i * c;
            float *xr = x + r * c;
            for (int k = 0; k < c; k++) xr[k] = te[k] + pe[k];
        }
    for (int l = 0; l < tw->layers; l++) {
        const cs_block_weights *blk = &tw->blocks[l];
        int last = l == tw->layers - 1;
        float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * c);
        float *qkv = cs_ctx_buf(ctx, CS_BUF_QKV, (size_t)rows * 3 * c);
        float *att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)rows * c);
        if (!a || !qkv || !att) return CS_ERR_OUT_OF_MEMORY;
        cs_nn_layer_norm(x, c, a, c, (size_t)rows, c, blk->ln_1_w, blk->ln_1_b, eps);
        cs_nn_linear(a, c, rows, c, blk->qkv_w, blk->qkv_b, 3 * c, qkv, 3 * c, 0);
        size_t off = 0;
        for (int t = t0; t < t1; t++) {
            int n = len[t];
            /* the last block only needs the end-of-text row of each text */
            int q0 = last ? n - 1 : 0;
            float *o = last ? att + (size_t)(t - t0) * c : att + off * c;
            cs_status st = cs_nn_attention(ctx, qkv + off * 3 * c, 3 * c, n, c, tw->heads,
                                           CS_ATTN_QK, 1, q0, n - q0, o, c);
            if (st != CS_OK) return st;
            off += (size_t)n;
        }
        if (!last) {
            cs_nn_linear(att, c, rows, c, blk->out_w, blk->out_b, c, x, c, 1);
            cs_status st = cs_nn_mlp_residual(ctx, blk, x, c, rows, c, tw->mlp_dim,
                                              (int)m->activation, eps);
            if (st != CS_OK) return st;
        } else {
            off = 0;
            for (int t = t0; t < t1; t++) {
                off += (size_t)len[t];
                memcpy(eot + (size_t)(t - t0) * c, x + (off - 1) * c, (size_t)c * sizeof(float));
            }
            cs_nn_linear(att, c, nt, c, blk->out_w, blk->out_b, c, eot, c, 1);
            cs_status st = cs_nn_mlp_residual(ctx, blk, eot, c, nt, c, tw->mlp_dim,
                                              (int)m->activation, eps);
            if (st != CS_OK) return st;
        }
    }
    if (tw->layers == 0) {
        size_t off = 0;
        for (int t = t0; t < t1; t++) {
            off += (size_t)len[t];
            memcpy(eot + (size_t)(t - t0) * c, x + (off - 1) * c, (size_t)c * sizeof(float));
        }
    }
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)nt * c);
    if (!a) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_layer_norm(eot, c, a, c, (size_t)nt, c, tw->ln_final_w, tw->ln_final_b, eps);
    cs_gemm(0, 1, nt, m->embed_dim, c, 1.0f, a, c, tw->proj, c, 0.0f, features, m->embed_dim);
    return CS_OK;
}

cs_status cs_text_encode_ids(cs_context *ctx, const int32_t *ids, int n_texts, float *features,
                             size_t capacity)
{
    cs_status st = check_text_ctx(ctx);
    if (st != CS_OK) return st;
    if (!ids || !features) return cs_fail(CS_ERR_INVALID_ARGUMENT, "ids and features must not be NULL");
    if (n_texts <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_texts %d must be positive", n_texts);
    const cs_model *m = ctx->model;
    size_t need;
    if (!cs_mul_size((size_t)n_texts, (size_t)m->embed_dim, &need) || capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %d x %d floats, capacity is %zu",
                       n_texts, m->embed_dim, capacity);
    int *len = cs_alloc_array((size_t)n_texts, sizeof(int));
    if (!len) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate %d lengths", n_texts);
    for (int t = 0; t < n_texts; t++) {
        st = text_length(&m->text, ids + (size_t)t * m->text.context_length, t, &len[t]);
        if (st != CS_OK) {
            free(len);
            return st;
        }
    }
    /* Chunks of whole texts up to CS_TEXT_CHUNK_ROWS rows. Scratch grows with the largest chunk,
     * so an out-of-memory failure can leave earlier rows of `features` written. */
    int t0 = 0;
    while (t0 < n_texts && st == CS_OK) {
        int t1 = t0, rows = 0;
        while (t1 < n_texts && (t1 == t0 || rows + len[t1] <= CS_TEXT_CHUNK_ROWS))
            rows += len[t1++];
        st = encode_chunk(ctx, ids, len, t0, t1, rows,
                          features + (size_t)t0 * (size_t)m->embed_dim);
        t0 = t1;
    }
    free(len);
    return st;
}

CS_API cs_status cs_encode_token_ids(cs_context *ctx, const int32_t *ids, int n_texts,
                                     float *features, size_t capacity)
{
    cs_clear_error();
    return cs_text_encode_ids(ctx, ids, n_texts, features, capacity);
}

cs_status cs_text_tokenize_all(const cs_context *ctx, const char *const *texts, int n_texts,
                               int32_t **out)
{
    cs_status st = check_text_ctx(ctx);
    if (st != CS_OK) return st;
    if (!texts) return cs_fail(CS_ERR_INVALID_ARGUMENT, "texts must not be NULL");
    if (n_texts <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_texts %d must be positive", n_texts);
    const cs_tokenizer *tok = cs_model_tokenizer(ctx->model);
    if (!tok)
        return cs_fail(CS_ERR_NO_VOCABULARY, "the model was loaded without a vocabulary (give "
                       "cs_model_params.vocab_path)");
    if (ctx->model->text.context_length != CS_CONTEXT_LENGTH)
        return cs_fail(CS_ERR_UNSUPPORTED, "text context length %d (strings need %d)",
                       ctx->model->text.context_length, CS_CONTEXT_LENGTH);
    int32_t *ids = cs_alloc_array((size_t)n_texts * CS_CONTEXT_LENGTH, sizeof(int32_t));
    if (!ids) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate ids for %d texts", n_texts);
    for (int t = 0; t < n_texts; t++) {
        if (!texts[t]) {
            free(ids);
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "text %d is NULL", t);
        }
        st = cs_tokenize_context(tok, texts[t], strlen(texts[t]), 0,
                                 ids + (size_t)t * CS_CONTEXT_LENGTH, NULL);
        if (st != CS_OK) {
            free(ids);
            return st;
        }
    }
    *out = ids;
    return CS_OK;
}

CS_API cs_status cs_encode_texts(cs_context *ctx, const char *const *texts, int n_texts,
                                 float *features, size_t capacity)
{
    cs_clear_error();
    if (!features) return cs_fail(CS_ERR_INVALID_ARGUMENT, "features must not be NULL");
    if (ctx && ctx->model && n_texts > 0 &&
        capacity / (size_t)(ctx->model->embed_dim > 0 ? ctx->model->embed_dim : 1) <
            (size_t)n_texts)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %d x %d floats, capacity is %zu",
                       n_texts, ctx->model->embed_dim, capacity);
    int32_t *ids = NULL;
    cs_status st = cs_text_tokenize_all(ctx, texts, n_texts, &ids);
    if (st != CS_OK) return st;
    st = cs_text_encode_ids(ctx, ids, n_texts, features, capacity);
    free(ids);
    return st;
}
