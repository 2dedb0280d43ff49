/* The public image-encoder entry points, dispatched on the model's backbone: ViT (vision/vit.c)
 * or ResNet (trunk vision/resnet.c + attention pool vision/attnpool.c, composed here). */
#include "core/common.h"
#include "core/context.h"
#include "io/model.h"
#include "vision/attnpool.h"
#include "vision/resnet.h"
#include "vision/vit.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

CS_API int cs_model_image_tokens(const cs_model *model, int height, int width)
{
    if (!model) return 0;
    if (model->backbone != CS_BACKBONE_RESNET) return cs_vit_image_tokens(model, height, width);
    int gh = cs_rn_side(height, 4), gw = cs_rn_side(width, 4);
    if (gh <= 0 || gw <= 0 || (long long)gh * gw > 65536) return 0;
    return 1 + gh * gw;
}

CS_API cs_status cs_model_image_grid(const cs_model *model, int height, int width, int *grid_h,
                                     int *grid_w)
{
    cs_clear_error();
    if (!model || !grid_h || !grid_w)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_model_image_grid: NULL argument");
    if (height <= 0 || width <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "image size %dx%d must be positive", width, height);
    int gh, gw;
    if (model->backbone == CS_BACKBONE_RESNET) {
        gh = cs_rn_side(height, 4);
        gw = cs_rn_side(width, 4);
        if (gh <= 0 || gw <= 0)
            return cs_fail(CS_ERR_SHAPE, "image size %dx%d is too small for a ResNet (each side >= 31)",
                           width, height);
    } else {
        int p = model->vision.patch_size;
        if (p <= 0 || height % p || width % p)
            return cs_fail(CS_ERR_SHAPE, "image size %dx%d is not a multiple of the patch size %d",
                           width, height, p);
        gh = height / p;
        gw = width / p;
    }
    if ((long long)gh * gw > 65536)
        return cs_fail(CS_ERR_TOO_LARGE, "image grid %dx%d has over 65536 cells", gw, gh);
    *grid_h = gh;
    *grid_w = gw;
    return CS_OK;
}

CS_API cs_status cs_resnet_encode(cs_context *ctx, cs_resnet_pool kind, const float *pixels,
                                  int batch, int height, int width, float *features,
                                  size_t capacity)
{
    cs_clear_error();
    int gh, gw;
    cs_status st = cs_rn_check(ctx, height, width, &gh, &gw);
    if (st != CS_OK) return st;
    if (!pixels || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixels and features must not be NULL");
    if (batch <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "batch %d must be positive", batch);
    if (kind != CS_RN_POOL_RAW && kind != CS_RN_POOL_SURGERY &&
        kind != CS_RN_POOL_SURGERY_RESNET_SETTINGS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention pool kind %d is not a cs_resnet_pool",
                       (int)kind);
    size_t per = (size_t)(1 + gh * gw) * (size_t)ctx->model->resnet.embed_dim, need;
    if (!cs_mul_size(per, (size_t)batch, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "batch of %d images is too large", batch);
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %zu floats, capacity is %zu", need,
                       capacity);
    size_t plane = (size_t)3 * height * width, n_pixels;
    if (!cs_mul_size(plane, (size_t)batch, &n_pixels))
        return cs_fail(CS_ERR_TOO_LARGE, "batch of %d images is too large", batch);
    for (size_t i = 0; i < n_pixels; i++)
        if (!isfinite(pixels[i]))
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixel value %zu is NaN or infinite", i);
    for (int b = 0; b < batch; b++) {
        const float *map;
        int c, h, w;
        st = cs_rn_trunk(ctx, pixels + (size_t)b * plane, height, width, 4, &map, &c, &h, &w);
        if (st == CS_OK) st = cs_rn_attnpool(ctx, kind, map, h, w, features + (size_t)b * per);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* cs_surgery_params on a ResNet: n_blocks 0 = raw pool, > 0 = surgery pool (v-v only). */
static cs_status resnet_pool_of(const cs_surgery_params *in, cs_resnet_pool *kind)
{
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    if (in) {
        if (in->size < offsetof(cs_surgery_params, attention) + sizeof(cs_attention_kind))
            return cs_fail(CS_ERR_INVALID_ARGUMENT,
                           "cs_surgery_params.size %zu is too small (use cs_surgery_params_default)",
                           in->size);
        memcpy(&sp, in, in->size < sizeof sp ? in->size : sizeof sp);
    }
    if (sp.n_blocks < 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "surgery n_blocks %d must not be negative", sp.n_blocks);
    if (sp.n_blocks == 0) {
        *kind = CS_RN_POOL_RAW;
        return CS_OK;
    }
    if ((int)sp.attention < CS_ATTN_QK || (int)sp.attention > CS_ATTN_KK_GAUSSIAN)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention kind %d is not a cs_attention_kind",
                       (int)sp.attention);
    if (sp.attention != CS_ATTN_VV)
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "a ResNet surgery attention pool supports CS_ATTN_VV only (got %d)",
                       (int)sp.attention);
    if (sp.new_path_ffn)
        return cs_fail(CS_ERR_UNSUPPORTED, "new_path_ffn: a ResNet attention pool has no MLP");
    *kind = CS_RN_POOL_SURGERY;
    return CS_OK;
}

CS_API cs_status cs_surgery_apply(cs_context *ctx, const cs_surgery_params *surgery,
                                  const float *pixels, int batch, int height, int width,
                                  float *features, size_t capacity)
{
    cs_clear_error();
    if (ctx && ctx->model && ctx->model->backbone == CS_BACKBONE_RESNET) {
        cs_resnet_pool kind = CS_RN_POOL_SURGERY;
        cs_status st = resnet_pool_of(surgery, &kind);
        if (st != CS_OK) return st;
        return cs_resnet_encode(ctx, kind, pixels, batch, height, width, features, capacity);
    }
    return cs_vit_surgery_apply(ctx, surgery, pixels, batch, height, width, features, capacity);
}

CS_API cs_status cs_encode_images(cs_context *ctx, const float *pixels, int batch, int height,
                                  int width, float *features, size_t capacity)
{
    cs_surgery_params raw;
    cs_surgery_params_default(&raw);
    raw.n_blocks = 0;
    return cs_surgery_apply(ctx, &raw, pixels, batch, height, width, features, capacity);
}
