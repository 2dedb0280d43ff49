/* Text encoder internals shared with the prompt ensemble. Internal. */
#ifndef CS_TEXT_H
#define CS_TEXT_H

#include "core/context.h"

#include <stdint.h>

/* cs_encode_token_ids without clearing the thread's error message. */
cs_status cs_text_encode_ids(cs_context *ctx, const int32_t *ids, int n_texts, float *features,
                             size_t capacity);

/* Text transformer on one text ([context_length] ids) with ln_final and the projection applied
 * to every position 0..EOT: features [n_tokens, embed_dim], not normalised; *n_tokens receives
 * the EOT position + 1 (also on CS_ERR_BUFFER_TOO_SMALL). Statuses as cs_text_encode_ids. */
cs_status cs_text_encode_positions(cs_context *ctx, const int32_t *ids, float *features,
                                   size_t capacity, int *n_tokens);

/* Tokenizes n_texts NUL-terminated strings with the model's vocabulary into *out, a malloc'd
 * [n_texts, CS_CONTEXT_LENGTH] array (free() it). Returns CS_OK, CS_ERR_INVALID_ARGUMENT,
 * CS_ERR_NO_VOCABULARY, CS_ERR_TEXT_TOO_LONG, CS_ERR_UNSUPPORTED, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_text_tokenize_all(const cs_context *ctx, const char *const *texts, int n_texts,
                               int32_t **out);

#endif
