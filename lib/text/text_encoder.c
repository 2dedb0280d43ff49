/* Text encoder (REFERENCE 3, clip encode_text): token + positional embeddings, causal pre-LN
 * blocks, ln_final, the row at the first end-of-text id, text projection.
 * The causal mask means rows after the end-of-text token never reach it, so each text is run
 * only up to its end-of-text position, and the rows of many texts (of any lengths) go through
 * every linear layer as one GEMM; attention runs per text on its own rows. For the same reason
 * texts that begin with the same ids share those rows: each distinct prefix is computed once. */
#include "core/common.h"
#include "core/gemm.h"
#include "core/context.h"
#include "io/model.h"
#include "core/nn.h"
#include "text/text_encoder.h"

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

/* One text of a chunk, in processing (lexicographic) order. Positions 0..shared-1 are the rows of
 * the previous text of the chunk (same ids there, and the causal mask makes a row depend only on
 * the ids up to it); positions shared..len-1 are this text's own rows own..own+len-shared-1. */
typedef struct text_item {
    const int32_t *ids;
    int index;  /* position in the caller's arrays */
    int len;    /* up to and including the end-of-text token */
    int shared; /* leading positions taken from the previous item */
    int own;    /* first own row in the chunk */
} text_item;

static int item_cmp(const void *pa, const void *pb)
{
    const text_item *a = pa, *b = pb;
    int n = a->len < b->len ? a->len : b->len;
    for (int i = 0; i < n; i++)
        if (a->ids[i] != b->ids[i]) return a->ids[i] < b->ids[i] ? -1 : 1;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* Encodes items[0..nt) (own rows in total `rows`; rowmap [nt, ctxlen] gives the chunk row of
 * every position) and writes each feature row to features[index]. all_positions (one text that
 * shares nothing): the last block runs on every row too and features receives the projection of
 * every position, [len, embed_dim]. */
static cs_status encode_chunk(cs_context *ctx, const text_item *it, int nt, const int *rowmap,
                              int rows, float *features, int all_positions)
{
    const cs_model *m = ctx->model;
    const cs_text_weights *tw = &m->text;
    int c = tw->width, ctxlen = tw->context_length, d = m->embed_dim;
    float eps = m->layer_norm_eps;
    float *x = cs_ctx_buf(ctx, CS_BUF_X, (size_t)rows * c);
    float *eot = cs_ctx_buf(ctx, CS_BUF_TMP, (size_t)nt * c);
    float *gat = cs_ctx_buf(ctx, CS_BUF_GATHER, (size_t)ctxlen * 3 * c);
    float *outf = cs_ctx_buf(ctx, CS_BUF_OUT, (size_t)nt * d);
    if (!x || !eot || !gat || !outf) return CS_ERR_OUT_OF_MEMORY;
    /* embeddings of the own rows */
    for (int k = 0; k < nt; k++)
        for (int i = it[k].shared; i < it[k].len; i++) {
            const float *te = tw->token_embedding + (size_t)it[k].ids[i] * c;
            const float *pe = tw->positional_embedding + (size_t)i * c;
            float *xr = x + (size_t)(it[k].own + i - it[k].shared) * c;
            for (int j = 0; j < c; j++) xr[j] = te[j] + pe[j];
        }
    for (int l = 0; l < tw->layers; l++) {
        const cs_block_weights *blk = &tw->blocks[l];
        int last = l == tw->layers - 1 && !all_positions;
        float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * c);
        float *qkv = cs_ctx_buf(ctx, CS_BUF_QKV, (size_t)rows * 3 * c);
        float *att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)rows * c);
        if (!a || !qkv || !att) return CS_ERR_OUT_OF_MEMORY;
        cs_nn_layer_norm(ctx, x, c, a, c, (size_t)rows, c, blk->ln_1_w, blk->ln_1_b, eps);
        cs_nn_linear(ctx, a, c, rows, c, blk->qkv_w, blk->qkv_b, 3 * c, qkv, 3 * c, 0);
        for (int k = 0; k < nt; k++) {
            int n = it[k].len;
            /* the last block only needs the end-of-text row of each text */
            int q0 = last ? n - 1 : it[k].shared;
            float *o = last ? att + (size_t)k * c : att + (size_t)it[k].own * c;
            const float *src = qkv + (size_t)it[k].own * 3 * c;
            if (it[k].shared > 0) {
                const int *map = rowmap + (size_t)k * ctxlen;
                for (int i = 0; i < n; i++)
                    memcpy(gat + (size_t)i * 3 * c, qkv + (size_t)map[i] * 3 * c,
                           (size_t)3 * c * sizeof(float));
                src = gat;
            }
            cs_status st = cs_nn_attention(ctx, src, 3 * c, n, c, tw->heads, CS_ATTN_QK, 1, q0,
                                           n - q0, o, c);
            if (st != CS_OK) return st;
        }
        if (!last) {
            cs_status st = cs_nn_out_mlp_residual(ctx, blk, att, c, x, c, rows, c, tw->mlp_dim,
                                                  (int)m->activation, eps);
            if (st != CS_OK) return st;
        } else {
            for (int k = 0; k < nt; k++)
                memcpy(eot + (size_t)k * c,
                       x + (size_t)(it[k].own + it[k].len - 1 - it[k].shared) * c,
                       (size_t)c * sizeof(float));
            cs_status st = cs_nn_out_mlp_residual(ctx, blk, att, c, eot, c, nt, c, tw->mlp_dim,
                                                  (int)m->activation, eps);
            if (st != CS_OK) return st;
        }
    }
    if (all_positions) {
        float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * c);
        if (!a) return CS_ERR_OUT_OF_MEMORY;
        cs_nn_layer_norm(ctx, x, c, a, c, (size_t)rows, c, tw->ln_final_w, tw->ln_final_b, eps);
        cs_gemm(ctx, 0, 1, rows, d, c, 1.0f, a, c, tw->proj, c, 0.0f, features, d);
        return CS_OK;
    }
    if (tw->layers == 0)
        for (int k = 0; k < nt; k++)
            memcpy(eot + (size_t)k * c,
                   x + (size_t)(it[k].own + it[k].len - 1 - it[k].shared) * c,
                   (size_t)c * sizeof(float));
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)nt * c);
    if (!a) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_layer_norm(ctx, eot, c, a, c, (size_t)nt, c, tw->ln_final_w, tw->ln_final_b, eps);
    cs_gemm(ctx, 0, 1, nt, d, c, 1.0f, a, c, tw->proj, c, 0.0f, outf, d);
    for (int k = 0; k < nt; k++)
        memcpy(features + (size_t)it[k].index * d, outf + (size_t)k * d, (size_t)d * sizeof(float));
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
    int ctxlen = m->text.context_length;
    size_t need;
    if (!cs_mul_size((size_t)n_texts, (size_t)m->embed_dim, &need) || capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %d x %d floats, capacity is %zu",
                       n_texts, m->embed_dim, capacity);
    text_item *it = cs_alloc_array((size_t)n_texts, sizeof *it);
    int *rowmap = cs_alloc_array((size_t)n_texts * (size_t)ctxlen, sizeof(int));
    if (!it || !rowmap) {
        free(it);
        free(rowmap);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate the plan for %d texts", n_texts);
    }
    for (int t = 0; t < n_texts && st == CS_OK; t++) {
        it[t].ids = ids + (size_t)t * ctxlen;
        it[t].index = t;
        st = text_length(&m->text, it[t].ids, t, &it[t].len);
    }
    if (st != CS_OK) {
        free(it);
        free(rowmap);
        return st;
    }
    /* Lexicographic order puts the texts sharing the longest prefix next to each other; each
     * text reuses the rows of its predecessor for the common prefix (a prompt ensemble shares
     * "<sot> a photo of a" across classes), which computes each distinct prefix once. */
    qsort(it, (size_t)n_texts, sizeof *it, item_cmp);
    /* Chunks of up to CS_TEXT_CHUNK_ROWS own rows; the first text of a chunk shares nothing.
     * Scratch grows with the largest chunk, so an out-of-memory failure can leave earlier rows
     * of `features` written. */
    int k0 = 0;
    while (k0 < n_texts && st == CS_OK) {
        int k1 = k0, rows = 0;
        while (k1 < n_texts) {
            text_item *t = &it[k1];
            int shared = 0;
            if (k1 > k0) {
                const text_item *p = &it[k1 - 1];
                int lim = t->len - 1 < p->len ? t->len - 1 : p->len;
                while (shared < lim && t->ids[shared] == p->ids[shared]) shared++;
            }
            if (k1 > k0 && rows + (t->len - shared) > CS_TEXT_CHUNK_ROWS) break;
            t->shared = shared;
            t->own = rows;
            int *map = rowmap + (size_t)(k1 - k0) * ctxlen;
            for (int i = 0; i < t->len; i++)
                map[i] = i < shared ? map[i - ctxlen] : rows + i - shared;
            rows += t->len - shared;
            k1++;
        }
        st = encode_chunk(ctx, it + k0, k1 - k0, rowmap, rows, features, 0);
        k0 = k1;
    }
    free(it);
    free(rowmap);
    return st;
}

cs_status cs_text_encode_positions(cs_context *ctx, const int32_t *ids, float *features,
                                   size_t capacity, int *n_tokens)
{
    cs_status st = check_text_ctx(ctx);
    if (st != CS_OK) return st;
    if (!ids || !features || !n_tokens)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "ids, features and n_tokens must not be NULL");
    const cs_model *m = ctx->model;
    text_item it = {.ids = ids, .index = 0, .shared = 0, .own = 0};
    st = text_length(&m->text, ids, 0, &it.len);
    if (st != CS_OK) return st;
    *n_tokens = it.len;
    if (m->embed_dim <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "model has no projection");
    if (capacity / (size_t)m->embed_dim < (size_t)it.len)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "token features need %d x %d floats, capacity "
                       "is %zu", it.len, m->embed_dim, capacity);
    int rowmap[1] = {0}; /* unused: the text shares nothing */
    return encode_chunk(ctx, &it, 1, rowmap, it.len, features, 1);
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
