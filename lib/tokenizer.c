/* Placeholder until the tokenizer issue lands: every call reports CS_ERR_UNSUPPORTED. */
#include "common.h"

#include <stdlib.h>

CS_API cs_status cs_tokenizer_load(const char *path, cs_tokenizer **out)
{
    (void)path;
    (void)out;
    return cs_fail(CS_ERR_UNSUPPORTED, "tokenizer not implemented yet");
}

CS_API void cs_tokenizer_free(cs_tokenizer *tok) { (void)tok; }
