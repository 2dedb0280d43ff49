/* Patch cosines of any dense method upsampled to the input size (SCLIP / NACLIP
 * forward_feature) and sliding-window inference over them (SCLIP clip_segmentor.forward_slide;
 * ../shared/docs/METHODS.md 7). The image of a window is never padded: the encoder sees its
 * floor(h/patch) x floor(w/patch) grid, as the official stride-patch convolution does. */
#include "core/common.h"
#include "core/context.h"

#include <stdlib.h>
#include <string.h>

CS_API cs_status cs_method_logits(cs_context *ctx, const cs_method_params *params,
                                  const float *pixels, int height, int width,
                                  const float *text_features, int n_texts, float *logits,
                                  size_t capacity)
{
    cs_clear_error();
    if (!ctx || !pixels || !text_features || !logits)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_method_logits: NULL argument");
    if (height <= 0 || width <= 0 || n_texts <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_method_logits: sizes must be positive");
    const cs_model *m = ctx->model;
    int p = cs_model_patch_size(m), e = cs_model_embed_dim(m);
    if (p <= 0 || e <= 0)
        return cs_fail(CS_ERR_UNSUPPORTED, "the training-free dense methods need a ViT model");
    int gh = height / p, gw = width / p;
    if (gh == 0 || gw == 0)
        return cs_fail(CS_ERR_SHAPE, "input %dx%d is smaller than one patch (%d)", width, height,
                       p);
    size_t hw, need;
    if (!cs_mul_size((size_t)height, (size_t)width, &hw) ||
        !cs_mul_size(hw, (size_t)n_texts, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_method_logits: sizes overflow");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "logits need %zu floats, capacity is %zu", need,
                       capacity);
    int eh = gh * p, ew = gw * p, t = cs_model_image_tokens(m, eh, ew);
    if (t <= 0) return cs_fail(CS_ERR_TOO_LARGE, "input %dx%d has too many patches", width, height);
    const float *src = pixels;
    float *crop = NULL;
    if (eh != height || ew != width) {
        crop = cs_alloc_array((size_t)3 * eh * ew, sizeof(float));
        if (!crop) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_method_logits: out of memory");
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < eh; y++)
                memcpy(crop + ((size_t)c * eh + y) * ew, pixels + ((size_t)c * height + y) * width,
                       sizeof(float) * (size_t)ew);
        src = crop;
    }
    size_t n_tok = (size_t)t * e, n_sim = (size_t)(t - 1) * n_texts;
    float *tok = cs_alloc_array(n_tok, sizeof(float));
    float *sim = cs_alloc_array(n_sim, sizeof(float));
    float *up = cs_alloc_array(need, sizeof(float));
    cs_status st = (tok && sim && up) ? CS_OK
                                      : cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_method_logits: out of memory");
    if (st == CS_OK) st = cs_method_apply(ctx, params, src, 1, eh, ew, tok, n_tok);
    if (st == CS_OK) {
        cs_l2_normalize(tok + e, (size_t)(t - 1), (size_t)e);
        st = cs_similarity(tok + e, 1, t - 1, text_features, n_texts, e, sim, n_sim);
    }
    if (st == CS_OK) st = cs_resize_bilinear(sim, gh, gw, n_texts, up, height, width, need);
    if (st == CS_OK)
        for (size_t i = 0; i < hw; i++)
            for (int k = 0; k < n_texts; k++) logits[(size_t)k * hw + i] = up[i * n_texts + k];
    free(crop);
    free(tok);
    free(sim);
    free(up);
    return st;
}

static int n_windows(int len, int crop, int stride)
{
    int a = len - crop + stride - 1;
    if (a < 0) a = 0;
    return a / stride + 1;
}

static void window(int i, int len, int crop, int stride, int *a, int *b)
{
    int lo = i * stride;
    int hi = lo + crop < len ? lo + crop : len;
    lo = hi - crop > 0 ? hi - crop : 0;
    *a = lo;
    *b = hi;
}

CS_API cs_status cs_slide_logits(cs_context *ctx, const cs_method_params *params,
                                 const float *pixels, int height, int width, int crop,
                                 int stride, const float *text_features, int n_texts,
                                 float *logits, size_t capacity)
{
    cs_clear_error();
    if (!ctx || !pixels || !text_features || !logits)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_slide_logits: NULL argument");
    if (height <= 0 || width <= 0 || n_texts <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_slide_logits: sizes must be positive");
    int p = cs_model_patch_size(ctx->model);
    if (p <= 0) return cs_fail(CS_ERR_UNSUPPORTED, "the dense methods need a ViT model");
    if (crop < p || crop > 65536)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "crop %d out of range %d..65536", crop, p);
    if (stride < 1 || stride > crop)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "stride %d out of range 1..%d", stride, crop);
    size_t hw, need;
    if (!cs_mul_size((size_t)height, (size_t)width, &hw) ||
        !cs_mul_size(hw, (size_t)n_texts, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_slide_logits: sizes overflow");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "logits need %zu floats, capacity is %zu", need,
                       capacity);
    int ch = crop < height ? crop : height, cw = crop < width ? crop : width;
    float *acc = cs_calloc_array(need, sizeof(float));
    float *cnt = cs_calloc_array(hw, sizeof(float));
    float *img = cs_alloc_array((size_t)3 * ch * cw, sizeof(float));
    float *win = cs_alloc_array((size_t)ch * cw * n_texts, sizeof(float));
    cs_status st = (acc && cnt && img && win)
                       ? CS_OK
                       : cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_slide_logits: out of memory");
    int ny = n_windows(height, crop, stride), nx = n_windows(width, crop, stride);
    for (int iy = 0; iy < ny && st == CS_OK; iy++)
        for (int ix = 0; ix < nx && st == CS_OK; ix++) {
            int y1, y2, x1, x2;
            window(iy, height, crop, stride, &y1, &y2);
            window(ix, width, crop, stride, &x1, &x2);
            int h = y2 - y1, w = x2 - x1;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    memcpy(img + ((size_t)c * h + y) * w,
                           pixels + ((size_t)c * height + y1 + y) * width + x1,
                           sizeof(float) * (size_t)w);
            st = cs_method_logits(ctx, params, img, h, w, text_features, n_texts, win,
                                  (size_t)h * w * n_texts);
            if (st != CS_OK) break;
            for (int k = 0; k < n_texts; k++)
                for (int y = 0; y < h; y++) {
                    float *dst = acc + (size_t)k * hw + (size_t)(y1 + y) * width + x1;
                    const float *s = win + ((size_t)k * h + y) * w;
                    for (int x = 0; x < w; x++) dst[x] += s[x];
                }
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) cnt[(size_t)(y1 + y) * width + x1 + x] += 1.0f;
        }
    if (st == CS_OK)
        for (int k = 0; k < n_texts; k++)
            for (size_t i = 0; i < hw; i++) logits[(size_t)k * hw + i] = acc[(size_t)k * hw + i] / cnt[i];
    free(acc);
    free(cnt);
    free(img);
    free(win);
    return st;
}
