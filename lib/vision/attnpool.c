/* ResNet CLIP attention pool (RESNET.md 4-5; clip_model.py / clip_surgery_model.py
 * AttentionPool2d). Tokens = [mean of the cells; the cells in row-major order] + positions (the
 * STORED table bilinearly resized to the grid on every call, both axes, so results never depend
 * on earlier calls and non-square grids work), then one attention over all tokens and c_proj.
 *  - raw: q, k, v from q_proj, k_proj, v_proj; softmax(q k^T / 8) v per head of 64.
 *  - surgery (the reference as it runs): only v_proj; softmax(v v^T / 8) v. The reference's two
 *    paths (its qkv is v_proj stacked three times) give the same numbers, so one is computed.
 *  - the unexecuted settings='resnet' branch: logits from per-head vn = v / (||v|| + 1e-6) at
 *    scale 1, values raw v; the class token row from the surgery path. Computed with the q-k
 *    kernel on q = 8 vn, k = vn (the kernel's 1/8 scale then cancels exactly: powers of two). */
#include "vision/attnpool.h"

#include "core/common.h"
#include "core/nn.h"
#include "io/model.h"

#include <math.h>
#include <string.h>

/* Tokens [1 + cells, D] from features [D, cells] plus the positional table. */
static cs_status make_tokens(cs_context *ctx, const float *f, int gh, int gw, float **tok_out)
{
    const cs_resnet_weights *rn = &ctx->model->resnet;
    int d = rn->dim, cells = gh * gw, n = 1 + cells, g = rn->grid;
    float *tok = cs_ctx_buf(ctx, CS_BUF_RN_TOK, (size_t)n * d);
    if (!tok) return CS_ERR_OUT_OF_MEMORY;
    const float *pos = rn->pos;
    if (gh != g || gw != g) {
        size_t need = (size_t)n * d;
        float *p = cs_ctx_buf(ctx, CS_BUF_POS, need);
        if (!p) return CS_ERR_OUT_OF_MEMORY;
        memcpy(p, rn->pos, (size_t)d * sizeof(float));
        cs_status st = cs_resize_bilinear(rn->pos + d, g, g, d, p + d, gh, gw, need - (size_t)d);
        if (st != CS_OK) return st;
        pos = p;
    }
    for (int c = 0; c < d; c++) {
        const float *src = f + (size_t)c * cells;
        double sum = 0.0;
        for (int i = 0; i < cells; i++) {
            tok[(size_t)(1 + i) * d + c] = src[i] + pos[(size_t)(1 + i) * d + c];
            sum += src[i];
        }
        tok[c] = (float)(sum / cells) + pos[c];
    }
    *tok_out = tok;
    return CS_OK;
}

/* Replaces the q and k blocks of qkv [n, 3D] by 8 vn and vn (vn: per-head normalised v). */
static void settings_resnet_qk(float *qkv, int n, int d, int heads)
{
    int hd = d / heads;
    for (int r = 0; r < n; r++) {
        float *row = qkv + (size_t)r * 3 * d;
        for (int h = 0; h < heads; h++) {
            const float *v = row + 2 * d + h * hd;
            float ss = 0.0f;
            for (int i = 0; i < hd; i++) ss += v[i] * v[i];
            float norm = sqrtf(ss) + 1e-6f;
            for (int i = 0; i < hd; i++) {
                float vn = v[i] / norm;
                row[h * hd + i] = 8.0f * vn;
                row[d + h * hd + i] = vn;
            }
        }
    }
}

cs_status cs_rn_attnpool(cs_context *ctx, cs_resnet_pool kind, const float *features, int grid_h,
                         int grid_w, float *out)
{
    const cs_resnet_weights *rn = &ctx->model->resnet;
    int d = rn->dim, e = rn->embed_dim, n = 1 + grid_h * grid_w;
    float *tok;
    cs_status st = make_tokens(ctx, features, grid_h, grid_w, &tok);
    if (st != CS_OK) return st;
    float *qkv = cs_ctx_buf(ctx, CS_BUF_QKV, (size_t)n * 3 * d);
    float *att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)n * d);
    if (!qkv || !att) return CS_ERR_OUT_OF_MEMORY;
    if (kind == CS_RN_POOL_RAW) {
        cs_nn_linear(ctx, tok, d, n, d, rn->qkv_w, rn->qkv_b, 3 * d, qkv, 3 * d, 0);
        st = cs_nn_attention(ctx, qkv, 3 * d, n, d, rn->heads, CS_ATTN_QK, 0, 0, n, att, d);
    } else {
        cs_nn_linear(ctx, tok, d, n, d, rn->qkv_w + (size_t)2 * d * d, rn->qkv_b + 2 * d, d, qkv + 2 * d,
                     3 * d, 0);
        if (kind == CS_RN_POOL_SURGERY) {
            st = cs_nn_attention(ctx, qkv, 3 * d, n, d, rn->heads, CS_ATTN_VV, 0, 0, n, att, d);
        } else {
            settings_resnet_qk(qkv, n, d, rn->heads);
            st = cs_nn_attention(ctx, qkv, 3 * d, n, d, rn->heads, CS_ATTN_QK, 0, 0, n, att, d);
            /* class token from the original (un-normalised v-v) path */
            if (st == CS_OK)
                st = cs_nn_attention(ctx, qkv, 3 * d, n, d, rn->heads, CS_ATTN_VV, 0, 0, 1, att, d);
        }
    }
    if (st != CS_OK) return st;
    cs_nn_linear(ctx, att, d, n, d, rn->c_w, rn->c_b, e, out, e, 0);
    return CS_OK;
}

CS_API cs_status cs_resnet_attnpool(cs_context *ctx, cs_resnet_pool kind, const float *features,
                                    int grid_h, int grid_w, float *out, size_t capacity)
{
    cs_clear_error();
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    if (ctx->model->backbone != CS_BACKBONE_RESNET)
        return cs_fail(CS_ERR_UNSUPPORTED, "cs_resnet_attnpool: the model is not a ResNet");
    if (!features || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "features and out must not be NULL");
    if (grid_h <= 0 || grid_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "grid %dx%d must be positive", grid_w, grid_h);
    if ((long long)grid_h * grid_w > 65536)
        return cs_fail(CS_ERR_TOO_LARGE, "grid %dx%d has over 65536 cells", grid_w, grid_h);
    if (kind != CS_RN_POOL_RAW && kind != CS_RN_POOL_SURGERY &&
        kind != CS_RN_POOL_SURGERY_RESNET_SETTINGS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention pool kind %d is not a cs_resnet_pool", (int)kind);
    size_t need = (size_t)(1 + grid_h * grid_w) * (size_t)ctx->model->resnet.embed_dim;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "out needs %zu floats, capacity is %zu", need, capacity);
    return cs_rn_attnpool(ctx, kind, features, grid_h, grid_w, out);
}
