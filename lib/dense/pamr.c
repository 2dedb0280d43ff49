/* PAMR, pixel-adaptive mask refinement (SCLIP / NACLIP pamr.py from visinf/1-stage-wseg;
 * ../shared/docs/METHODS.md 6). For dilations D and the 8 offsets d*(dy, dx) of each:
 *  - sigma_c(p): unbiased standard deviation of the 9|D| values I_c(p + d*(dy, dx)) over the
 *    full 3x3 of every d (the centre counted once per dilation);
 *  - a_n(p) = mean_c(-|I_c(p) - I_c(p + o_n)| / (1e-8 + 0.1 sigma_c(p))), w(p) = softmax_n a(p);
 *  - iterations times M_k(p) = sum_n w_n(p) M_k(p + o_n).
 * Every read outside the image is clamped to the border (replicate padding). The mask is first
 * resized bilinearly with align_corners true to the image size when the sizes differ. */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CS_PAMR_MAX_DIL 64
#define CS_PAMR_MAX_ITER 1000

static const int off8[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1},
                               {0, 1},   {1, -1}, {1, 0},  {1, 1}};

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* align_corners=True bilinear of planes [c, h, w] -> [c, H, W] */
static void resize_ac(const float *src, int c, int h, int w, float *dst, int H, int W)
{
    float sy = H > 1 ? (float)(h - 1) / (float)(H - 1) : 0.0f;
    float sx = W > 1 ? (float)(w - 1) / (float)(W - 1) : 0.0f;
    for (int k = 0; k < c; k++) {
        const float *s = src + (size_t)k * h * w;
        float *d = dst + (size_t)k * H * W;
        for (int y = 0; y < H; y++) {
            float fy = sy * (float)y;
            int y0 = (int)fy;
            if (y0 > h - 1) y0 = h - 1;
            int y1 = y0 < h - 1 ? y0 + 1 : y0;
            float ly = fy - (float)y0;
            for (int x = 0; x < W; x++) {
                float fx = sx * (float)x;
                int x0 = (int)fx;
                if (x0 > w - 1) x0 = w - 1;
                int x1 = x0 < w - 1 ? x0 + 1 : x0;
                float lx = fx - (float)x0;
                float a = s[(size_t)y0 * w + x0] * (1.0f - lx) + s[(size_t)y0 * w + x1] * lx;
                float b = s[(size_t)y1 * w + x0] * (1.0f - lx) + s[(size_t)y1 * w + x1] * lx;
                d[(size_t)y * W + x] = a * (1.0f - ly) + b * ly;
            }
        }
    }
}

CS_API cs_status cs_pamr(const float *image, int height, int width, const float *mask,
                         int n_classes, int mask_h, int mask_w, const int *dilations,
                         int n_dilations, int iterations, float *out, size_t capacity)
{
    cs_clear_error();
    if (!image || !mask || !dilations || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_pamr: NULL argument");
    if (height <= 0 || width <= 0 || n_classes <= 0 || mask_h <= 0 || mask_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_pamr: sizes must be positive");
    if (n_dilations < 1 || n_dilations > CS_PAMR_MAX_DIL)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_pamr: n_dilations %d out of range 1..%d",
                       n_dilations, CS_PAMR_MAX_DIL);
    for (int i = 0; i < n_dilations; i++)
        if (dilations[i] < 1)
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_pamr: dilation %d must be >= 1",
                           dilations[i]);
    if (iterations < 0 || iterations > CS_PAMR_MAX_ITER)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_pamr: iterations %d out of range 0..%d",
                       iterations, CS_PAMR_MAX_ITER);
    size_t hw, need, n_w;
    if (!cs_mul_size((size_t)height, (size_t)width, &hw) ||
        !cs_mul_size(hw, (size_t)n_classes, &need) ||
        !cs_mul_size(hw, (size_t)8 * n_dilations, &n_w) ||
        (size_t)mask_h * (size_t)mask_w > SIZE_MAX / (size_t)n_classes)
        return cs_fail(CS_ERR_TOO_LARGE, "cs_pamr: sizes overflow");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_pamr: out needs %zu floats, capacity %zu",
                       need, capacity);
    int P = 8 * n_dilations;
    float *w = cs_alloc_array(n_w, sizeof(float));
    float *cur = cs_alloc_array(need, sizeof(float));
    float *nxt = cs_alloc_array(need, sizeof(float));
    float *a = cs_alloc_array((size_t)P, sizeof(float));
    float *vals = cs_alloc_array((size_t)9 * n_dilations, sizeof(float));
    if (!w || !cur || !nxt || !a || !vals) {
        free(w);
        free(cur);
        free(nxt);
        free(a);
        free(vals);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_pamr: out of memory");
    }
    if (mask_h == height && mask_w == width)
        memcpy(cur, mask, need * sizeof(float));
    else
        resize_ac(mask, n_classes, mask_h, mask_w, cur, height, width);

    /* affinity weights w[n][p] */
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            for (int n = 0; n < P; n++) a[n] = 0.0f;
            for (int c = 0; c < 3; c++) {
                const float *I = image + (size_t)c * hw;
                int nv = 0;
                for (int di = 0; di < n_dilations; di++) {
                    int d = dilations[di];
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            vals[nv++] = I[(size_t)clampi(y + d * dy, 0, height - 1) * width +
                                           clampi(x + d * dx, 0, width - 1)];
                }
                double mean = 0.0;
                for (int i = 0; i < nv; i++) mean += vals[i];
                mean /= nv;
                double ss = 0.0;
                for (int i = 0; i < nv; i++) ss += (vals[i] - mean) * (vals[i] - mean);
                float sd = (float)sqrt(ss / (nv - 1));
                float den = 1e-8f + 0.1f * sd;
                float ic = I[(size_t)y * width + x];
                for (int di = 0; di < n_dilations; di++) {
                    int d = dilations[di];
                    for (int k = 0; k < 8; k++) {
                        float v = I[(size_t)clampi(y + d * off8[k][0], 0, height - 1) * width +
                                    clampi(x + d * off8[k][1], 0, width - 1)];
                        a[di * 8 + k] += -fabsf(ic - v) / den;
                    }
                }
            }
            float mx = -INFINITY;
            for (int n = 0; n < P; n++) {
                a[n] /= 3.0f;
                if (a[n] > mx) mx = a[n];
            }
            float s = 0.0f;
            for (int n = 0; n < P; n++) {
                a[n] = expf(a[n] - mx);
                s += a[n];
            }
            for (int n = 0; n < P; n++) w[(size_t)n * hw + (size_t)y * width + x] = a[n] / s;
        }

    for (int it = 0; it < iterations; it++) {
        for (int k = 0; k < n_classes; k++) {
            const float *M = cur + (size_t)k * hw;
            float *o = nxt + (size_t)k * hw;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    float acc = 0.0f;
                    for (int di = 0; di < n_dilations; di++) {
                        int d = dilations[di];
                        for (int j = 0; j < 8; j++) {
                            int n = di * 8 + j;
                            acc += w[(size_t)n * hw + (size_t)y * width + x] *
                                   M[(size_t)clampi(y + d * off8[j][0], 0, height - 1) * width +
                                     clampi(x + d * off8[j][1], 0, width - 1)];
                        }
                    }
                    o[(size_t)y * width + x] = acc;
                }
        }
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    memcpy(out, cur, need * sizeof(float));
    free(w);
    free(cur);
    free(nxt);
    free(a);
    free(vals);
    return CS_OK;
}
