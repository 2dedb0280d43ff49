/* Per-token text features (EXPLAIN.md 1): every position SOT..EOT of one pass of the text
 * transformer through ln_final and text_projection, L2-normalised. The transformer itself is
 * text_encoder.c's (cs_text_encode_positions). */
#include "core/common.h"
#include "core/context.h"
#include "text/text_encoder.h"

#include <stdlib.h>
#include <string.h>

CS_API cs_status cs_encode_token_features(cs_context *ctx, const int32_t *ids, float *features,
                                          size_t capacity, int *n_tokens)
{
    cs_clear_error();
    cs_status st = cs_text_encode_positions(ctx, ids, features, capacity, n_tokens);
    if (st != CS_OK) return st;
    cs_l2_normalize(features, (size_t)*n_tokens, (size_t)ctx->model->embed_dim);
    return CS_OK;
}

CS_API cs_status cs_text_token_features(cs_context *ctx, const char *text, int32_t *token_ids,
                                        size_t id_capacity, float *features, size_t capacity,
                                        int *n_tokens)
{
    cs_clear_error();
    if (!text || !features || !n_tokens || (id_capacity > 0 && !token_ids))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_text_token_features: NULL argument");
    int32_t *ids = NULL;
    cs_status st = cs_text_tokenize_all(ctx, &text, 1, &ids);
    if (st != CS_OK) return st;
    st = cs_text_encode_positions(ctx, ids, features, capacity, n_tokens);
    if (st == CS_OK && id_capacity < (size_t)*n_tokens)
        st = cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_text_token_features: id capacity %zu, %d "
                     "tokens", id_capacity, *n_tokens);
    if (st == CS_OK) {
        memcpy(token_ids, ids, (size_t)*n_tokens * sizeof *ids);
        cs_l2_normalize(features, (size_t)*n_tokens, (size_t)ctx->model->embed_dim);
    }
    free(ids);
    return st;
}
