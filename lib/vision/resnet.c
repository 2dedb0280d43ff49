/* ResNet CLIP trunk (RESNET.md 1-3, clip_surgery_model.py ModifiedResNet / Bottleneck).
 * Feature maps are CHW. Every convolution is one matrix product through cs_gemm with its
 * BatchNorm already folded in (io/model_resnet.h): a 1x1 convolution multiplies the [in, H*W]
 * map directly; a 3x3 one (pad 1) multiplies an unfolded [in*9, out_h*out_w] copy in context
 * scratch. AvgPool(k) floors (trailing rows/columns dropped), as torch's AvgPool2d(k). */
#include "vision/resnet.h"

#include "core/common.h"
#include "core/gemm.h"
#include "io/model.h"

#include <math.h>
#include <string.h>

#define RN_MAX_CELLS 65536
/* Element-wise passes over maps of at least this many floats run on the context's threads. */
#define RN_PARALLEL_MIN_FLOATS ((size_t)1 << 19)

int cs_rn_side(int n, int stage)
{
    if (n <= 0) return 0;
    n = (n - 1) / 2 + 1; /* stem conv1, stride 2, pad 1 */
    n /= 2;              /* stem AvgPool(2) */
    for (int s = 2; s <= stage; s++) n /= 2;
    return n;
}

cs_status cs_rn_check(const cs_context *ctx, int height, int width, int *grid_h, int *grid_w)
{
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    if (ctx->model->backbone != CS_BACKBONE_RESNET)
        return cs_fail(CS_ERR_UNSUPPORTED, "the model is not a ResNet");
    if (height <= 0 || width <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "image size %dx%d must be positive", width, height);
    int gh = cs_rn_side(height, 4), gw = cs_rn_side(width, 4);
    if (gh <= 0 || gw <= 0)
        return cs_fail(CS_ERR_SHAPE, "image size %dx%d is too small for a ResNet (each side >= 31)",
                       width, height);
    if ((long long)gh * gw > RN_MAX_CELLS)
        return cs_fail(CS_ERR_TOO_LARGE, "image grid %dx%d has over %d cells", gw, gh, RN_MAX_CELLS);
    *grid_h = gh;
    *grid_w = gw;
    return CS_OK;
}

/* y[o, :] += b[o], then ReLU when relu, for rows [r0, r1) of n values. */
static void bias_relu_rows(float *y, int r0, int r1, size_t n, const float *b, int relu)
{
    for (int o = r0; o < r1; o++) {
        float *r = y + (size_t)o * n, bo = b[o];
        if (relu)
            for (size_t i = 0; i < n; i++) {
                float v = r[i] + bo;
                r[i] = v > 0.0f ? v : 0.0f;
            }
        else
            for (size_t i = 0; i < n; i++) r[i] += bo;
    }
}

typedef struct bias_job {
    float *y;
    size_t n;
    const float *b;
    int relu;
} bias_job;

static void bias_range(void *arg, size_t begin, size_t end)
{
    bias_job *j = arg;
    bias_relu_rows(j->y, (int)begin, (int)end, j->n, j->b, j->relu);
}

static void bias_relu(const cs_context *ctx, float *y, int rows, size_t n, const float *b, int relu)
{
    bias_job j = {y, n, b, relu};
    if ((size_t)rows * n >= RN_PARALLEL_MIN_FLOATS)
        cs_parallel_for(ctx, (size_t)rows, 1, bias_range, &j);
    else
        bias_relu_rows(y, 0, rows, n, b, relu);
}

/* Unfolds channels [c0, c1) of x [in, h, w] for a 3x3 convolution with pad 1 and `stride` into
 * col [in*9, ho*wo] (row c*9 + ky*3 + kx, the weight's column order). */
static void unfold3(const float *x, int c0, int c1, int h, int w, int stride, int ho, int wo,
                    float *col)
{
    size_t plane = (size_t)ho * wo;
    for (int c = c0; c < c1; c++) {
        const float *src = x + (size_t)c * h * w;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *dst = col + ((size_t)c * 9 + ky * 3 + kx) * plane;
                /* valid output columns: 0 <= ox*stride + kx - 1 < w */
                int ox0 = kx == 0 ? 1 : 0;
                if (ox0 > wo) ox0 = wo;
                int ox1 = (w - kx) / stride + 1; /* first ox with ox*stride + kx - 1 >= w */
                if (w - kx < 0) ox1 = 0;
                if (ox1 > wo) ox1 = wo;
                if (ox1 < ox0) ox1 = ox0;
                for (int oy = 0; oy < ho; oy++) {
                    float *d = dst + (size_t)oy * wo;
                    int iy = oy * stride + ky - 1;
                    if (iy < 0 || iy >= h) {
                        memset(d, 0, (size_t)wo * sizeof(float));
                        continue;
                    }
                    const float *s = src + (size_t)iy * w + kx - 1;
                    for (int ox = 0; ox < ox0; ox++) d[ox] = 0.0f;
                    if (stride == 1) {
                        if (ox1 > ox0) memcpy(d + ox0, s + ox0, (size_t)(ox1 - ox0) * sizeof(float));
                    } else {
                        for (int ox = ox0; ox < ox1; ox++) d[ox] = s[(size_t)ox * stride];
                    }
                    for (int ox = ox1; ox < wo; ox++) d[ox] = 0.0f;
                }
            }
    }
}

typedef struct unfold_job {
    const float *x;
    int h, w, stride, ho, wo;
    float *col;
} unfold_job;

static void unfold_range(void *arg, size_t begin, size_t end)
{
    unfold_job *j = arg;
    unfold3(j->x, (int)begin, (int)end, j->h, j->w, j->stride, j->ho, j->wo, j->col);
}

/* y = conv(x) + b (ReLU when relu); x [in, h, w] -> y [out, ho, wo]; beta 1 accumulates onto y
 * (bias and ReLU still applied after). */
static cs_status conv(cs_context *ctx, const cs_rn_conv *cv, const float *x, int h, int w,
                      int stride, float beta, float *y, int relu, int *ho_out, int *wo_out)
{
    int ho = h, wo = w;
    const float *a = x;
    int kdim = cv->in;
    if (cv->k == 3) {
        ho = (h - 1) / stride + 1;
        wo = (w - 1) / stride + 1;
        kdim = cv->in * 9;
        float *col = cs_ctx_buf(ctx, CS_BUF_RN_COL, (size_t)kdim * ho * wo);
        if (!col) return CS_ERR_OUT_OF_MEMORY;
        unfold_job uj = {x, h, w, stride, ho, wo, col};
        if ((size_t)kdim * ho * wo >= RN_PARALLEL_MIN_FLOATS)
            cs_parallel_for(ctx, (size_t)cv->in, 1, unfold_range, &uj);
        else
            unfold3(x, 0, cv->in, h, w, stride, ho, wo, col);
        a = col;
    }
    int n = ho * wo;
    cs_gemm(ctx, 0, 0, cv->out, n, kdim, 1.0f, cv->w, kdim, a, n, beta, y, n);
    bias_relu(ctx, y, cv->out, (size_t)n, cv->b, relu);
    if (ho_out) *ho_out = ho;
    if (wo_out) *wo_out = wo;
    return CS_OK;
}

/* AvgPool(k) with floor: x [c, h, w] -> y [c, h/k, w/k]; the sum in torch's order (row by row)
 * then divided by k*k. */
static void avgpool_rows(const float *x, int c0, int c1, int h, int w, int k, float *y)
{
    int ho = h / k, wo = w / k;
    float div = (float)(k * k);
    for (int ch = c0; ch < c1; ch++) {
        const float *src = x + (size_t)ch * h * w;
        float *dst = y + (size_t)ch * ho * wo;
        if (k == 2) { /* the only pool the ResNets use: ((a + b) + c) + d, torch's order */
            for (int oy = 0; oy < ho; oy++) {
                const float *r0 = src + (size_t)(2 * oy) * w, *r1 = r0 + w;
                float *d = dst + (size_t)oy * wo;
                for (int ox = 0; ox < wo; ox++)
                    d[ox] = (((r0[2 * ox] + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) / 4.0f;
            }
            continue;
        }
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                float s = 0.0f;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) s += src[(size_t)(oy * k + i) * w + ox * k + j];
                dst[(size_t)oy * wo + ox] = s / div;
            }
    }
}

typedef struct pool_job {
    const float *x;
    int h, w, k;
    float *y;
} pool_job;

static void pool_range(void *arg, size_t begin, size_t end)
{
    pool_job *j = arg;
    avgpool_rows(j->x, (int)begin, (int)end, j->h, j->w, j->k, j->y);
}

static void avgpool(const cs_context *ctx, const float *x, int c, int h, int w, int k, float *y)
{
    pool_job j = {x, h, w, k, y};
    if ((size_t)c * h * w >= RN_PARALLEL_MIN_FLOATS)
        cs_parallel_for(ctx, (size_t)c, 1, pool_range, &j);
    else
        avgpool_rows(x, 0, c, h, w, k, y);
}

/* One bottleneck: x [in, h, w] -> y [4p, h/s, w/s]: in slot `out_slot` for a block with a
 * shortcut convolution, else x itself (the identity shortcut: conv3 accumulates onto x). */
static cs_status bottleneck(cs_context *ctx, const cs_rn_block *blk, float *x, int h, int w,
                            int out_slot, float **y_out, int *ho, int *wo)
{
    int p = blk->planes, s = blk->stride;
    size_t hw = (size_t)h * w;
    float *t1 = cs_ctx_buf(ctx, CS_BUF_RN_T1, (size_t)p * hw);
    float *t2 = cs_ctx_buf(ctx, CS_BUF_RN_T2, (size_t)p * hw);
    if (!t1 || !t2) return CS_ERR_OUT_OF_MEMORY;
    cs_status st = conv(ctx, &blk->conv1, x, h, w, 1, 0.0f, t1, 1, NULL, NULL);
    if (st == CS_OK) st = conv(ctx, &blk->conv2, t1, h, w, 1, 0.0f, t2, 1, NULL, NULL);
    if (st != CS_OK) return st;
    int h2 = h / s, w2 = w / s;
    const float *main_in = t2;
    if (s > 1) {
        avgpool(ctx, t2, p, h, w, s, t1);
        main_in = t1;
    }
    float *y = x;
    /* shortcut first, then the main branch accumulated onto it: y = relu(conv3(o) + id) */
    if (blk->has_down) {
        if (!(y = cs_ctx_buf(ctx, out_slot, (size_t)4 * p * h2 * w2))) return CS_ERR_OUT_OF_MEMORY;
        const float *sc = x;
        if (s > 1) {
            float *pooled = cs_ctx_buf(ctx, CS_BUF_RN_POOL, (size_t)blk->down.in * h2 * w2);
            if (!pooled) return CS_ERR_OUT_OF_MEMORY;
            avgpool(ctx, x, blk->down.in, h, w, s, pooled);
            sc = pooled;
        }
        if ((st = conv(ctx, &blk->down, sc, h2, w2, 1, 0.0f, y, 0, NULL, NULL)) != CS_OK) return st;
    }
    if ((st = conv(ctx, &blk->conv3, main_in, h2, w2, 1, 1.0f, y, 1, NULL, NULL)) != CS_OK) return st;
    *y_out = y;
    *ho = h2;
    *wo = w2;
    return CS_OK;
}

cs_status cs_rn_trunk(cs_context *ctx, const float *pixels, int height, int width, int stage,
                      const float **out, int *channels, int *out_h, int *out_w)
{
    const cs_resnet_weights *rn = &ctx->model->resnet;
    int h = height, w = width, h1, w1;
    int c1 = rn->stem[0].out, c3 = rn->stem[2].out;
    int sh = (h - 1) / 2 + 1, sw = (w - 1) / 2 + 1;
    float *t1 = cs_ctx_buf(ctx, CS_BUF_RN_T1, (size_t)c1 * sh * sw);
    float *t2 = cs_ctx_buf(ctx, CS_BUF_RN_T2, (size_t)c1 * sh * sw);
    float *a = cs_ctx_buf(ctx, CS_BUF_RN_A, (size_t)c3 * sh * sw);
    if (!t1 || !t2 || !a) return CS_ERR_OUT_OF_MEMORY;
    cs_status st = conv(ctx, &rn->stem[0], pixels, h, w, 2, 0.0f, t1, 1, &h1, &w1);
    if (st == CS_OK) st = conv(ctx, &rn->stem[1], t1, h1, w1, 1, 0.0f, t2, 1, NULL, NULL);
    if (st == CS_OK) st = conv(ctx, &rn->stem[2], t2, h1, w1, 1, 0.0f, a, 1, NULL, NULL);
    if (st != CS_OK) return st;
    h = h1 / 2;
    w = w1 / 2;
    float *b = cs_ctx_buf(ctx, CS_BUF_RN_B, (size_t)c3 * h * w);
    if (!b) return CS_ERR_OUT_OF_MEMORY;
    avgpool(ctx, a, c3, h1, w1, 2, b);
    float *x = b;
    int c = c3, slot = CS_BUF_RN_A; /* next output slot (the other one holds x) */
    for (int i = 0, s = 0; s < stage; s++) {
        for (int j = 0; j < rn->stage_blocks[s]; j++, i++) {
            float *y;
            if ((st = bottleneck(ctx, &rn->blocks[i], x, h, w, slot, &y, &h, &w)) != CS_OK) return st;
            if (y != x) slot = slot == CS_BUF_RN_A ? CS_BUF_RN_B : CS_BUF_RN_A;
            x = y;
            c = 4 * rn->blocks[i].planes;
        }
    }
    *out = x;
    *channels = c;
    *out_h = h;
    *out_w = w;
    return CS_OK;
}

CS_API cs_status cs_resnet_trunk(cs_context *ctx, const float *pixels, int height, int width,
                                 int stage, float *features, size_t capacity, int *channels,
                                 int *out_h, int *out_w)
{
    cs_clear_error();
    int gh, gw;
    cs_status st = cs_rn_check(ctx, height, width, &gh, &gw);
    if (st != CS_OK) return st;
    if (!pixels || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixels and features must not be NULL");
    if (stage < 0 || stage > 4)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "stage %d out of range 0..4", stage);
    const cs_resnet_weights *rn = &ctx->model->resnet;
    int c = stage == 0 ? rn->width : 4 * (rn->width << (stage - 1));
    int oh = cs_rn_side(height, stage), ow = cs_rn_side(width, stage);
    if (channels) *channels = c;
    if (out_h) *out_h = oh;
    if (out_w) *out_w = ow;
    size_t need = (size_t)c * (size_t)oh * (size_t)ow;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %zu floats, capacity is %zu", need,
                       capacity);
    size_t n_pixels = (size_t)3 * height * width;
    for (size_t i = 0; i < n_pixels; i++)
        if (!isfinite(pixels[i]))
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixel value %zu is NaN or infinite", i);
    const float *y;
    int yc, yh, yw;
    if ((st = cs_rn_trunk(ctx, pixels, height, width, stage, &y, &yc, &yh, &yw)) != CS_OK) return st;
    memcpy(features, y, need * sizeof(float));
    return CS_OK;
}
