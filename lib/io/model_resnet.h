/* Internal layout and loader of a ResNet CLIP image tower (the reference's ModifiedResNet with
 * its AttentionPool2d; ../shared/docs/RESNET.md), OpenAI/OpenCLIP naming ("visual.conv1..3",
 * "visual.bn1..3", "visual.layerL.B.*", "visual.attnpool.*"). Every BatchNorm (eval mode,
 * eps 1e-5) is folded into the convolution before it at load: w' = w * g / sqrt(var + eps),
 * b' = beta - mean * g / sqrt(var + eps). All weights are f32 buffers owned by the struct.
 * This module does not know cs_model (io/model.h embeds this struct), so it keeps its own list
 * of owned buffers, released by cs_resnet_weights_free(). */
#ifndef CS_MODEL_RESNET_H
#define CS_MODEL_RESNET_H

#include "clipsurgery.h"
#include "io/safetensors.h"

#include <stddef.h>

#define CS_RN_MAX_WIDTH 1024       /* stem/stage-1 width w (RN50x64 has 128) */
#define CS_RN_MAX_STAGE_BLOCKS 256 /* bottlenecks per stage (RN50x64 has 36) */

/* A convolution with its BatchNorm folded in: y = w * x + b, kernel k x k (1 or 3), no bias in
 * the file. w: [out, in * k * k], index o * in*k*k + c*k*k + ky*k + kx (PyTorch's order). */
typedef struct cs_rn_conv {
    int out, in, k;
    float *w;
    float *b; /* [out] */
} cs_rn_conv;

/* One bottleneck: conv1 1x1 (in -> p), conv2 3x3 (p -> p), AvgPool(stride), conv3 1x1
 * (p -> 4p); shortcut AvgPool(stride) then down (1x1, in -> 4p) when has_down. */
typedef struct cs_rn_block {
    int planes, stride, has_down;
    cs_rn_conv conv1, conv2, conv3, down;
} cs_rn_block;

typedef struct cs_resnet_weights {
    int stage_blocks[4]; /* bottlenecks per stage */
    int width;           /* w: stem output and stage-1 planes */
    int dim, heads;      /* attnpool dimension D = 32 w and D / 64 heads */
    int embed_dim;       /* c_proj output E */
    int grid, image_size;/* positional table side s and s * 32 */
    cs_rn_conv stem[3];  /* 3 -> w/2 (stride 2), w/2 -> w/2, w/2 -> w */
    cs_rn_block *blocks; /* [n_blocks], stage by stage */
    int n_blocks;
    float *pos;          /* [1 + grid*grid, D] stored table (never modified) */
    float *qkv_w;        /* [3D, D]: q_proj, k_proj, v_proj rows */
    float *qkv_b;        /* [3D] */
    float *c_w;          /* [E, D] c_proj */
    float *c_b;          /* [E] */
    int dtype_bits, is_bf16; /* of visual.conv1.weight */
    void **owned;
    size_t n_owned, cap_owned;
} cs_resnet_weights;

/* Nonzero when the file holds a ResNet image tower ("visual.layer1.0.conv1.weight" or
 * "visual.attnpool.c_proj.weight"). */
int cs_resnet_present(const cs_safetensors *st);

/* Loads and validates the image tower: geometry from shapes (blocks per stage from the keys,
 * w from layer1.0.conv1, D and E from the attnpool, s from the positional table), every shape
 * checked against it, BatchNorms folded. The extra "visual.attnpool.attn.*" keys of a checkpoint
 * saved after a forward and the num_batches_tracked counters are ignored. On failure the
 * partially filled struct must still be released with cs_resnet_weights_free().
 * Returns CS_OK, CS_ERR_MISSING_TENSOR (message names it), CS_ERR_FORMAT (shape that does not
 * chain, absurd width or block count, non-positive or non-finite running_var, non-finite
 * folded weight), CS_ERR_UNSUPPORTED (dtype), CS_ERR_OUT_OF_MEMORY. */
cs_status cs_resnet_load(const cs_safetensors *st, const char *path, cs_resnet_weights *rn);

void cs_resnet_weights_free(cs_resnet_weights *rn);

#endif
