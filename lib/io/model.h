/* Internal layout of a loaded CLIP model: one layout for both checkpoint namings.
 * Every weight is f32, row-major. Linear weights are [out, in] (so y = x W^T + b is
 * cs_gemm(0, 1, ...)); qkv is packed [3*width, width] in q, k, v order; projections are stored
 * [embed_dim, width] (transposed from OpenAI's [width, embed_dim]). */
#ifndef CS_MODEL_H
#define CS_MODEL_H

#include "clipsurgery.h"
#include "io/model_resnet.h"

#include <stddef.h>

typedef struct cs_block_weights {
    const float *ln_1_w, *ln_1_b;     /* [width] */
    const float *qkv_w;               /* [3*width, width] (q rows, then k, then v) */
    const float *qkv_b;               /* [3*width] */
    const float *out_w;               /* [width, width] */
    const float *out_b;               /* [width] */
    const float *ln_2_w, *ln_2_b;     /* [width] */
    const float *fc_w;                /* [mlp_dim, width] (c_fc / fc1) */
    const float *fc_b;                /* [mlp_dim] */
    const float *proj_w;              /* [width, mlp_dim] (c_proj / fc2) */
    const float *proj_b;              /* [width] */
} cs_block_weights;

typedef struct cs_vision_weights {
    int width, layers, heads, patch_size, image_size, grid, mlp_dim;
    const float *patch_w;             /* [width, 3*patch*patch], index c*p*p + ky*p + kx */
    const float *class_embedding;     /* [width] */
    const float *positional_embedding;/* [1 + grid*grid, width] (stored table, never modified) */
    const float *ln_pre_w, *ln_pre_b; /* [width] */
    const float *ln_post_w, *ln_post_b;
    const float *proj;                /* [embed_dim, width] */
    cs_block_weights *blocks;         /* [layers] */
} cs_vision_weights;

typedef struct cs_text_weights {
    int width, layers, heads, context_length, vocab_size, mlp_dim;
    const float *token_embedding;     /* [vocab_size, width] */
    const float *positional_embedding;/* [context_length, width] */
    const float *ln_final_w, *ln_final_b;
    const float *proj;                /* [embed_dim, width] */
    cs_block_weights *blocks;         /* [layers] */
} cs_text_weights;

struct cs_model {
    cs_backbone backbone;             /* CS_BACKBONE_VIT: `vision`; CS_BACKBONE_RESNET: `resnet` */
    cs_layout layout;
    int dtype_bits, is_bf16;
    int embed_dim;
    cs_activation activation;
    float layer_norm_eps;
    float logit_scale;                /* exp(stored), 0 if absent */
    cs_vision_weights vision;         /* ViT only (zero for a ResNet) */
    cs_resnet_weights resnet;         /* ResNet only (zero for a ViT) */
    cs_text_weights text;
    cs_tokenizer *tokenizer;          /* owned; NULL when no vocabulary was found */
    cs_precision precision;           /* of the matrix products (CS_MODEL_PRECISION_BF16) */
    struct cs_bf16_table *bf16;       /* bf16 copies of the weight matrices; NULL in f32 */
    /* storage */
    struct cs_safetensors *st;        /* the mapped weights file (tensors used in place) */
    void **owned;                     /* buffers converted or transposed at load */
    size_t n_owned, cap_owned;
};

#endif
