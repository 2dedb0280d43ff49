/* libFuzzer target: the safetensors parser over arbitrary bytes. See tests/fuzz/README.md. */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_safetensors *st = NULL;
    if (cs_st_parse(data, size, &st) != CS_OK) return 0;
    /* touch every tensor: the spans must lie inside the input */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        if (t->nbytes) sink ^= t->data[0] ^ t->data[t->nbytes - 1];
        if ((t->dtype == CS_DT_F32 || t->dtype == CS_DT_F16 || t->dtype == CS_DT_BF16) &&
            t->n_elements && t->n_elements < (1u << 20)) {
            float *f = malloc(t->n_elements * sizeof(float));
            if (f) cs_st_to_f32(t, f);
            free(f);
        }
        if (cs_st_find(st, t->name) != t) abort(); /* the name index finds every tensor */
    }
    (void)cs_st_meta_get(st, "clipsurgery.activation");
    (void)sink;
    cs_st_close(st);
    return 0;
}
