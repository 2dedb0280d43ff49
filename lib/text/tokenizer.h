/* Internal interface of the CLIP BPE tokenizer (lib/tokenizer.c). The public API is in
 * include/clipsurgery.h; see docs/tokenizer.md. */
#ifndef CS_TOKENIZER_H
#define CS_TOKENIZER_H

#include "core/common.h"

#include <stddef.h>
#include <stdint.h>

/* File names looked for in a model folder, in this order. */
#define CS_VOCAB_OPENAI_NAME "bpe_simple_vocab_16e6.txt.gz"
#define CS_VOCAB_HF_NAME "vocab.json"
#define CS_MERGES_HF_NAME "merges.txt"

/* Encodes text to the full id list (SOT, ids, EOT) in a malloc'd array (*ids, *n_ids).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_tokenizer_encode_alloc(const cs_tokenizer *tok, const char *text, size_t len,
                                    int32_t **ids, size_t *n_ids);

/* Nonzero when `folder` holds a vocabulary file cs_tokenizer_load would accept. */
int cs_tokenizer_folder_has_vocab(const char *folder);

/* Reads a merges file (bpe_simple_vocab_16e6.txt.gz or a plain merges.txt) to a malloc'd,
 * NUL-terminated text holding the header line and the merges the tokenizer uses. */
cs_status cs_read_merges_file(const char *path, char **text, size_t *size);

/* Builds a tokenizer from merges text in memory (copied), as in a one-file model bundle.
 * name is used in messages. Returns as cs_tokenizer_load. */
cs_status cs_tokenizer_from_merges(const char *text, size_t size, const char *name,
                                   cs_tokenizer **out);

#endif
