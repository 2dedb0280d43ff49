/* A program written and compiled against the 0.1 header (tests/abi/clipsurgery-0.1.h) and linked
 * against a 0.1 library, run against this library (tests/test_abi_old_caller.sh). Its params
 * structs are the 0.1 sizes, allocated at exactly that size so AddressSanitizer sees any write or
 * read past them. Prints the model's embed dim and the first text feature values. */
#include "clipsurgery.h" /* the 0.1 header */

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    cs_model_params *mp = malloc(sizeof *mp);
    cs_context_params *cp = malloc(sizeof *cp);
    cs_surgery_params *sp = malloc(sizeof *sp);
    if (!mp || !cp || !sp) return 2;
    cs_model_params_default(mp);
    cs_context_params_default(cp);
    cs_surgery_params_default(sp);
    if (mp->size != sizeof *mp) {
        fprintf(stderr, "cs_model_params_default wrote size %zu into a %zu-byte struct\n", mp->size,
                sizeof *mp);
        return 1;
    }
    mp->vocab_path = argv[2];
    mp->require_vocabulary = 1;
    cs_model *m = NULL;
    cs_status s = cs_model_load(argv[1], mp, &m);
    if (s != CS_OK) {
        fprintf(stderr, "load: %s\n", cs_last_error());
        return 1;
    }
    cs_context *ctx = NULL;
    if (cs_context_create(m, cp, &ctx) != CS_OK) return 1;
    int dim = cs_model_embed_dim(m);
    float *f = malloc(sizeof(float) * (size_t)dim);
    const char *texts[1] = {"a photo of a cat"};
    if (!f || cs_encode_texts(ctx, texts, 1, f, (size_t)dim) != CS_OK) return 1;
    printf("%s dim %d %.6f %.6f %.6f\n", cs_version_string(), dim, f[0], f[1], f[2]);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
    free(mp);
    free(cp);
    free(sp);
    return 0;
}
