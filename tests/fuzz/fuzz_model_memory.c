/* libFuzzer target: cs_model_load_memory over arbitrary bytes (a checkpoint or bundle from a
 * caller buffer), zero-copy and copied (first byte's low bit), then cs_tokenizer_load_memory over
 * the same bytes. Seeds: the fixture model files and a bundle. See tests/fuzz/README.md. */
#include "clipsurgery.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_model_params p;
    cs_model_params_default(&p);
    p.flags = size && (data[0] & 1) ? CS_MODEL_COPY_BUFFER : 0;
    cs_model *m = NULL;
    if (cs_model_load_memory(data, size, &p, &m) == CS_OK) {
        cs_model_info in = {0};
        in.size = sizeof in;
        (void)cs_model_get_info(m, &in);
        cs_model_free(m);
    }
    if (size < (1u << 20)) {
        cs_tokenizer *t = NULL;
        if (cs_tokenizer_load_memory(data, size, &t) == CS_OK) cs_tokenizer_free(t);
    }
    return 0;
}
