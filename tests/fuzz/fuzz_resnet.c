/* libFuzzer target: ResNet CLIP checkpoints (io/model_resnet.c) over arbitrary bytes parsed as
 * safetensors; when the tower loads and is small, a surgery and a raw encode run on it (32x32 and
 * 40x72 px), so geometry that passed the loader's checks is exercised by the trunk and the
 * attention pool. Seeds: the "visual.*" tensors of golden/rn-tiny-openai-f16.safetensors (see
 * tests/fuzz/README.md). */
#include "clipsurgery.h"
#include "io/model.h"
#include "io/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_safetensors *st = NULL;
    if (cs_st_parse(data, size, &st) != CS_OK) return 0;
    cs_model *m = calloc(1, sizeof *m);
    if (!m) {
        cs_st_close(st);
        return 0;
    }
    m->backbone = CS_BACKBONE_RESNET;
    if (cs_resnet_present(st) && cs_resnet_load(st, "fuzz", &m->resnet) == CS_OK) {
        const cs_resnet_weights *r = &m->resnet;
        m->embed_dim = r->embed_dim;
        if (r->width <= 16 && r->n_blocks <= 16 && r->embed_dim <= 512 && r->grid <= 8) {
            cs_context_params cp;
            cs_context_params_default(&cp);
            cp.n_threads = 1;
            cs_context *ctx = NULL;
            if (cs_context_create(m, &cp, &ctx) == CS_OK) {
                static const int sizes[2][2] = {{32, 32}, {40, 72}};
                for (int k = 0; k < 2; k++) {
                    int h = sizes[k][0], w = sizes[k][1];
                    int n = cs_model_image_tokens(m, h, w);
                    float *px = calloc((size_t)3 * h * w, sizeof(float));
                    float *f = calloc((size_t)n * r->embed_dim, sizeof(float));
                    if (px && f && n > 0) {
                        for (int i = 0; i < 3 * h * w; i++) px[i] = (float)((i * 7919) % 17) / 8.0f - 1.0f;
                        (void)cs_surgery_apply(ctx, NULL, px, 1, h, w, f, (size_t)n * r->embed_dim);
                        (void)cs_encode_images(ctx, px, 1, h, w, f, (size_t)n * r->embed_dim);
                    }
                    free(px);
                    free(f);
                }
                cs_context_free(ctx);
            }
        }
    }
    cs_resnet_weights_free(&m->resnet);
    free(m);
    cs_st_close(st);
    return 0;
}
