/* libFuzzer target: the text-feature cache entry reader of the CLI (src/text_cache.c,
 * cli_text_cache_parse, which read_entry calls on a file's bytes). The input is one entry file,
 * checked for the class name "cat" and for "" (the empty-text ensemble) at dim 64, the tiny
 * fixture model's embed dim: the entries the CLI writes for it are valid seeds.
 * See tests/fuzz/README.md. */
/* CLI sources: src/text_cache.c src/cli_common.c */
#include "cli_job.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float out[64];
    if (cli_text_cache_parse(data, size, "cat", 64, out) == 0) {
        /* accepted: exactly the entry's size, every value finite */
        if (size != 14 + 3 + sizeof out) abort();
        for (int i = 0; i < 64; i++)
            if (!isfinite(out[i])) abort();
    }
    if (cli_text_cache_parse(data, size, "", 64, out) == 0 && size != 14 + sizeof out) abort();
    return 0;
}
