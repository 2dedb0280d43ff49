/* Positional-embedding resize rules (../shared/docs/METHODS.md 0.1), each as the torch kernel
 * its method's official code calls, in float32:
 *  - bilinear (CLIP Surgery): cs_resize_bilinear, as cs_vision_embed;
 *  - plain bicubic (upsample_bicubic2d, align_corners false, A = -0.75): src = s*(o + 0.5) - 0.5
 *    unclamped, taps floor(src)-1 .. floor(src)+2 clamped to the axis, weights K(1+t), K(t),
 *    K(1-t), K(2-t); s = 1/scale_factor (SCLIP family, scale factor (n + 0.1)/g computed in
 *    double as Python does) or g/n (MaskCLIP, size given); the value is sum_j wy_j * (sum_i wx_i
 *    * v[y_j][x_i]) as ATen's generic separable kernel;
 *  - antialiased bicubic (_upsample_bicubic2d_aa, A = -0.5): per axis s = n_in/n_out, support
 *    2*max(s, 1), centre s*(o + 0.5), taps trunc(c - support + 0.5) .. trunc(c + support + 0.5)
 *    cut to the axis, weights K((j - c + 0.5)/max(s, 1)) divided by their sum; columns first,
 *    then rows; an axis whose length does not change is copied.
 * The class row is copied; a grid equal to the stored one gives the stored table. */
#include "vision/pos_embed.h"

#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* torch's cubic_convolution1 / cubic_convolution2 */
static float cc1(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }
static float cc2(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }

/* Plain bicubic taps of output o along an axis of n inputs with source scale s. */
static void cubic_taps(int n, float s, int o, int idx[4], float w[4])
{
    const float a = -0.75f;
    float src = s * ((float)o + 0.5f) - 0.5f;
    int i = (int)floorf(src);
    if (i > n - 1) i = n - 1;
    float t = src - (float)i;
    if (t < 0.0f) t = 0.0f;
    if (t > 1.0f) t = 1.0f;
    w[0] = cc2(t + 1.0f, a);
    w[1] = cc1(t, a);
    float t2 = 1.0f - t;
    w[2] = cc1(t2, a);
    w[3] = cc2(t2 + 1.0f, a);
    for (int j = 0; j < 4; j++) {
        int k = i - 1 + j;
        idx[j] = k < 0 ? 0 : (k > n - 1 ? n - 1 : k);
    }
}

/* src [g, g, c] -> dst [gh, gw, c] plain bicubic with source scales sy (rows), sx (columns). */
static void bicubic_plain(const float *src, int g, int c, float sy, float sx, float *dst, int gh,
                          int gw)
{
    for (int oy = 0; oy < gh; oy++) {
        int yi[4];
        float wy[4];
        cubic_taps(g, sy, oy, yi, wy);
        for (int ox = 0; ox < gw; ox++) {
            int xi[4];
            float wx[4];
            cubic_taps(g, sx, ox, xi, wx);
            float *o = dst + ((size_t)oy * gw + ox) * c;
            for (int k = 0; k < c; k++) {
                float out = 0.0f;
                for (int j = 0; j < 4; j++) {
                    const float *row = src + (size_t)yi[j] * g * c + k;
                    float t = row[(size_t)xi[0] * c] * wx[0];
                    for (int i = 1; i < 4; i++) t += row[(size_t)xi[i] * c] * wx[i];
                    if (j == 0)
                        out = t * wy[0];
                    else
                        out += t * wy[j];
                }
                o[k] = out;
            }
        }
    }
}

static float aa_filter(float x)
{
    const float a = -0.5f;
    if (x < 0.0f) x = -x;
    if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f) return (((x - 5.0f) * x + 8.0f) * x - 4.0f) * a;
    return 0.0f;
}

/* One antialiased axis: src has `n` positions of stride `sstride` floats along the axis, `outer`
 * lines of stride `souter` / `douter`, and `inner` contiguous floats per position. */
static cs_status aa_axis(const float *src, int n, int m, size_t outer, size_t inner, float *dst)
{
    float s = (float)n / (float)m;
    float support = (s >= 1.0f) ? 2.0f * s : 2.0f;
    float invscale = (s >= 1.0f) ? 1.0f / s : 1.0f;
    int maxw = (int)ceilf(support) * 2 + 1;
    float *w = malloc(sizeof(float) * (size_t)maxw);
    if (!w) return cs_fail(CS_ERR_OUT_OF_MEMORY, "positional resize: out of memory");
    for (int o = 0; o < m; o++) {
        float center = s * ((float)o + 0.5f);
        int lo = (int)(center - support + 0.5f);
        if (lo < 0) lo = 0;
        int hi = (int)(center + support + 0.5f);
        if (hi > n) hi = n;
        int sz = hi - lo;
        if (sz > maxw) sz = maxw;
        float total = 0.0f;
        for (int j = 0; j < sz; j++) {
            w[j] = aa_filter(((float)(j + lo) - center + 0.5f) * invscale);
            total += w[j];
        }
        if (total != 0.0f)
            for (int j = 0; j < sz; j++) w[j] /= total;
        for (size_t a = 0; a < outer; a++) {
            const float *sl = src + a * (size_t)n * inner;
            float *dl = dst + a * (size_t)m * inner + (size_t)o * inner;
            for (size_t k = 0; k < inner; k++) {
                float v = sz > 0 ? sl[(size_t)lo * inner + k] * w[0] : 0.0f;
                for (int j = 1; j < sz; j++) v += sl[(size_t)(lo + j) * inner + k] * w[j];
                dl[k] = v;
            }
        }
    }
    free(w);
    return CS_OK;
}

cs_status cs_pos_table_rule(const cs_model *m, cs_pos_resize rule, int gh, int gw, float *out)
{
    const cs_vision_weights *v = &m->vision;
    int g = v->grid, c = v->width;
    const float *tab = v->positional_embedding;
    size_t n = (size_t)(1 + gh * gw) * (size_t)c;
    memcpy(out, tab, (size_t)c * sizeof(float));
    if (gh == g && gw == g) {
        memcpy(out, tab, n * sizeof(float));
        return CS_OK;
    }
    const float *grid = tab + c;
    float *dst = out + c;
    switch (rule) {
    case CS_POS_BILINEAR:
        return cs_resize_bilinear(grid, g, g, c, dst, gh, gw, n - (size_t)c);
    case CS_POS_BICUBIC_SCALE: {
        /* F.interpolate(scale_factor=((gh + 0.1)/g, (gw + 0.1)/g)): torch uses 1/scale_factor,
         * computed in double and rounded to float. */
        float sy = (float)(1.0 / (((double)gh + 0.1) / (double)g));
        float sx = (float)(1.0 / (((double)gw + 0.1) / (double)g));
        bicubic_plain(grid, g, c, sy, sx, dst, gh, gw);
        return CS_OK;
    }
    case CS_POS_BICUBIC_SIZE:
        bicubic_plain(grid, g, c, (float)g / (float)gh, (float)g / (float)gw, dst, gh, gw);
        return CS_OK;
    case CS_POS_BICUBIC_AA: {
        /* columns first ([g, g, c] -> [g, gw, c]), then rows */
        float *tmp = malloc(sizeof(float) * (size_t)g * (size_t)gw * (size_t)c);
        if (!tmp) return cs_fail(CS_ERR_OUT_OF_MEMORY, "positional resize: out of memory");
        cs_status st = CS_OK;
        if (gw == g)
            memcpy(tmp, grid, sizeof(float) * (size_t)g * g * c);
        else
            st = aa_axis(grid, g, gw, (size_t)g, (size_t)c, tmp);
        if (st == CS_OK) {
            if (gh == g)
                memcpy(dst, tmp, sizeof(float) * (size_t)g * gw * c);
            else
                st = aa_axis(tmp, g, gh, 1, (size_t)gw * c, dst);
        }
        free(tmp);
        return st;
    }
    }
    return cs_fail(CS_ERR_INVALID_ARGUMENT, "positional resize rule %d is not a cs_pos_resize",
                   (int)rule);
}

CS_API cs_status cs_positional_table(const cs_model *model, cs_pos_resize rule, int grid_h,
                                     int grid_w, float *out, size_t capacity)
{
    cs_clear_error();
    if (!model || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "model and out must not be NULL");
    const cs_vision_weights *v = &model->vision;
    if (!v->blocks || v->patch_size <= 0 || v->grid <= 0 || !v->positional_embedding)
        return cs_fail(CS_ERR_UNSUPPORTED, "the model has no ViT image encoder");
    if ((unsigned)rule > (unsigned)CS_POS_BICUBIC_AA)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "positional resize rule %d is not a cs_pos_resize",
                       (int)rule);
    if (grid_h <= 0 || grid_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "grid %dx%d must be positive", grid_h, grid_w);
    if ((long long)grid_h * grid_w > 65536)
        return cs_fail(CS_ERR_TOO_LARGE, "grid %dx%d has over 65536 cells", grid_h, grid_w);
    size_t need = (size_t)(1 + grid_h * grid_w) * (size_t)v->width;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "table needs %zu floats, capacity is %zu", need,
                       capacity);
    return cs_pos_table_rule(model, rule, grid_h, grid_w, out);
}
