/* libFuzzer target: tokenizer encode/decode of arbitrary text with the real vocabulary
 * (CS_FUZZ_VOCAB, else $CS_FIXTURES/vocab/bpe_simple_vocab_16e6.txt.gz, CS_FIXTURES defaulting
 * to ../shared/fixtures), and vocabulary building from arbitrary merges text.
 * See tests/fuzz/README.md. */
#include "clipsurgery.h"
#include "text/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static cs_tokenizer *vocab; /* harness state, loaded once */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char buf[4096];
    const char *p = getenv("CS_FUZZ_VOCAB");
    if (!p) {
        const char *fx = getenv("CS_FIXTURES");
        snprintf(buf, sizeof buf, "%s/vocab/bpe_simple_vocab_16e6.txt.gz",
                 fx && *fx ? fx : "../shared/fixtures");
        p = buf;
    }
    if (cs_tokenizer_load(p, &vocab) != CS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", p, cs_last_error());
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && data[0] == 'M') { /* build a vocabulary from garbage merges */
        cs_tokenizer *t = NULL;
        if (cs_tokenizer_from_merges((const char *)data + 1, size - 1, "fuzz", &t) == CS_OK) {
            int32_t ids[CS_CONTEXT_LENGTH];
            cs_tokenize_context(t, "a photo of a cat", 16, 1, ids, NULL);
            cs_tokenizer_free(t);
        }
        return 0;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (cs_tokenizer_encode_alloc(vocab, (const char *)data, size, &ids, &n) == CS_OK) {
        char buf[4096];
        size_t len;
        cs_detokenize(vocab, ids, n, buf, sizeof buf, &len);
        free(ids);
    }
    int32_t ctx[CS_CONTEXT_LENGTH];
    size_t used;
    cs_tokenize_context(vocab, (const char *)data, size, size & 1, ctx, &used);
    /* arbitrary ids back to text */
    if (size >= 4) {
        char buf[256];
        size_t len;
        cs_detokenize(vocab, (const int32_t *)(const void *)data, size / 4, buf, sizeof buf, &len);
    }
    return 0;
}
