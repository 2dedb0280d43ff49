/* Image encoder (ViT, REFERENCE 2) and architecture surgery (dual-path blocks).
 * Reproduces clip_surgery_model.py VisionTransformer.forward: patch embedding (one GEMM per image
 * over unfolded patches), class token, positional embeddings resized from the ORIGINAL table
 * whenever the grid differs, ln_pre, pre-LN blocks, optional dual path in the last blocks,
 * ln_post and the projection on every token. */
#include "core/common.h"
#include "core/gemm.h"
#include "core/context.h"
#include "io/model.h"
#include "core/nn.h"
#include "vision/vit.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the token matrix processed together (several images of a batch per GEMM). */
#define CS_VIT_CHUNK_ROWS 4096

CS_API void cs_surgery_params_default(cs_surgery_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->size = sizeof *params;
    params->n_blocks = 6;
    params->attention = CS_ATTN_VV;
    params->new_path_ffn = 0;
    params->cls_from_new_path = 0;
}

int cs_vit_image_tokens(const cs_model *model, int height, int width)
{
    if (!model) return 0;
    int p = model->vision.patch_size;
    if (p <= 0 || height <= 0 || width <= 0 || height % p || width % p) return 0;
    long long cells = (long long)(height / p) * (long long)(width / p);
    if (cells > CS_MAX_GRID_CELLS) return 0;
    return 1 + (int)cells;
}

cs_status cs_vit_check_ctx(const cs_context *ctx)
{
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    if (ctx->model->backbone != CS_BACKBONE_VIT)
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "ViT block calls do not apply to a ResNet model (use cs_resnet_trunk / cs_resnet_attnpool)");
    const cs_vision_weights *v = &ctx->model->vision;
    if (v->width <= 0 || v->layers < 0 || v->heads <= 0 || v->width % v->heads || !v->blocks)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "model has no usable image encoder");
    return CS_OK;
}

cs_status cs_vit_check_size(const cs_model *m, int height, int width, int *gh, int *gw)
{
    int p = m->vision.patch_size;
    if (height <= 0 || width <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "image size %dx%d must be positive", width,
                       height);
    if (height % p || width % p)
        return cs_fail(CS_ERR_SHAPE, "image size %dx%d is not a multiple of the patch size %d",
                       width, height, p);
    long long cells = (long long)(height / p) * (long long)(width / p);
    if (cells > CS_MAX_GRID_CELLS)
        return cs_fail(CS_ERR_TOO_LARGE, "image grid %dx%d has over %d cells", width / p,
                       height / p, CS_MAX_GRID_CELLS);
    *gh = height / p;
    *gw = width / p;
    return CS_OK;
}

/* Positional table for a gh x gw grid: the stored one when it matches, else a fresh bilinear
 * resize of the stored patch positions (class position unchanged) in the POS slot. */
cs_status cs_vit_check_batch(const cs_model *m, const float *pixels, int batch, int height,
                             int width, size_t capacity, int *gh, int *gw)
{
    cs_status st = cs_vit_check_size(m, height, width, gh, gw);
    if (st != CS_OK) return st;
    size_t t = 1 + (size_t)*gh * (size_t)*gw, need;
    if (!cs_mul_size((size_t)batch * t, (size_t)m->embed_dim, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "batch of %d images is too large", batch);
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %zu floats, capacity is %zu", need,
                       capacity);
    size_t n_pixels = (size_t)batch * 3 * (size_t)height * (size_t)width;
    for (size_t i = 0; i < n_pixels; i++)
        if (!isfinite(pixels[i]))
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixel value %zu is NaN or infinite", i);
    return CS_OK;
}

static cs_status pos_table(cs_context *ctx, int gh, int gw, const float **out)
{
    const cs_vision_weights *v = &ctx->model->vision;
    int g = v->grid, c = v->width;
    if (gh == g && gw == g) {
        *out = v->positional_embedding;
        return CS_OK;
    }
    size_t n = (size_t)(1 + gh * gw) * (size_t)c;
    float *pos = cs_ctx_buf(ctx, CS_BUF_POS, n);
    if (!pos) return CS_ERR_OUT_OF_MEMORY;
    memcpy(pos, v->positional_embedding, (size_t)c * sizeof(float));
    cs_status st = cs_resize_bilinear(v->positional_embedding + c, g, g, c, pos + c, gh, gw,
                                      n - (size_t)c);
    if (st != CS_OK) return st;
    *out = pos;
    return CS_OK;
}

/* Embeds `batch` images [3, H, W] into x [batch * T, C] (T = 1 + gh*gw), with ln_pre. */
cs_status cs_vit_embed_batch(cs_context *ctx, const float *pixels, int batch, int height,
                             int width, int gh, int gw, const float *pos, float *x)
{
    const cs_vision_weights *v = &ctx->model->vision;
    int p = v->patch_size, c = v->width, kdim = 3 * p * p;
    int n = gh * gw, t = 1 + n;
    float *u = cs_ctx_buf(ctx, CS_BUF_UNFOLD, (size_t)n * (size_t)kdim);
    if (!u) return CS_ERR_OUT_OF_MEMORY;
    size_t plane = (size_t)height * (size_t)width;
    for (int b = 0; b < batch; b++) {
        const float *img = pixels + (size_t)b * 3 * plane;
        /* Unfold: row (py, px), column ch*p*p + ky*p + kx (the conv weight order). */
        for (int py = 0; py < gh; py++)
            for (int px = 0; px < gw; px++) {
                float *row = u + ((size_t)py * gw + px) * kdim;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < p; ky++)
                        memcpy(row + (ch * p + ky) * p,
                               img + ch * plane + (size_t)(py * p + ky) * width + (size_t)px * p,
                               (size_t)p * sizeof(float));
            }
        float *xb = x + (size_t)b * t * c;
        cs_gemm(ctx, 0, 1, n, c, kdim, 1.0f, u, kdim, v->patch_w, kdim, 0.0f, xb + c, c);
        for (int k = 0; k < c; k++) xb[k] = v->class_embedding[k] + pos[k];
        for (size_t i = (size_t)c; i < (size_t)t * c; i++) xb[i] += pos[i];
        cs_nn_layer_norm(ctx, xb, c, xb, c, (size_t)t, c, v->ln_pre_w, v->ln_pre_b,
                         ctx->model->layer_norm_eps);
    }
    return CS_OK;
}

/* ln_1 and the packed q, k, v projection of `rows` rows of x (stride C) into the QKV slot. */
cs_status cs_vit_ln_qkv(cs_context *ctx, const cs_block_weights *blk, const float *x, int rows,
                        float **qkv_out)
{
    const cs_vision_weights *v = &ctx->model->vision;
    int c = v->width;
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * c);
    float *qkv = cs_ctx_buf(ctx, CS_BUF_QKV, (size_t)rows * 3 * c);
    if (!a || !qkv) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_layer_norm(ctx, x, c, a, c, (size_t)rows, c, blk->ln_1_w, blk->ln_1_b,
                     ctx->model->layer_norm_eps);
    cs_nn_linear(ctx, a, c, rows, c, blk->qkv_w, blk->qkv_b, 3 * c, qkv, 3 * c, 0);
    *qkv_out = qkv;
    return CS_OK;
}

/* Attention of `kind` for each of n_seq sequences of t tokens; query rows [0, n_query) of each
 * sequence go to out rows seq * out_seq_rows + i (stride C). */
static cs_status attn_batch(cs_context *ctx, const float *qkv, int n_seq, int t,
                            cs_attention_kind kind, int n_query, float *out, int out_seq_rows)
{
    const cs_vision_weights *v = &ctx->model->vision;
    int c = v->width;
    for (int s = 0; s < n_seq; s++) {
        cs_status st = cs_nn_attention(ctx, qkv + (size_t)s * t * 3 * c, 3 * c, t, c, v->heads,
                                       kind, 0, 0, n_query, out + (size_t)s * out_seq_rows * c,
                                       c);
        if (st != CS_OK) return st;
    }
    return CS_OK;
}

/* One plain block on n_seq sequences of t tokens stored contiguously in x. */
cs_status cs_vit_block_plain(cs_context *ctx, int block, float *x, int n_seq, int t)
{
    const cs_model *m = ctx->model;
    const cs_block_weights *blk = &m->vision.blocks[block];
    int c = m->vision.width, rows = n_seq * t;
    float *qkv, *att;
    cs_status st = cs_vit_ln_qkv(ctx, blk, x, rows, &qkv);
    if (st != CS_OK) return st;
    if (!(att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)rows * c))) return CS_ERR_OUT_OF_MEMORY;
    if ((st = attn_batch(ctx, qkv, n_seq, t, CS_ATTN_QK, t, att, t)) != CS_OK) return st;
    return cs_nn_out_mlp_residual(ctx, blk, att, c, x, c, rows, c, m->vision.mlp_dim,
                                  (int)m->activation, m->layer_norm_eps);
}

enum { ORI_FULL = 0, ORI_CLS_ONLY = 1, ORI_NONE = 2 };

/* One dual-path block (REFERENCE 2 step 5) on n_seq sequences of t tokens.
 * ori_mode: ORI_FULL updates every x_ori token; ORI_CLS_ONLY only token 0 of each sequence (the
 * last block, when only the class token of the original path is used afterwards); ORI_NONE
 * leaves x_ori alone. */
static cs_status block_dual(cs_context *ctx, int block, const cs_surgery_params *sp,
                            float *x_ori, float *x_new, int n_seq, int t, int ori_mode)
{
    const cs_model *m = ctx->model;
    const cs_block_weights *blk = &m->vision.blocks[block];
    int c = m->vision.width, rows = n_seq * t, act = (int)m->activation;
    float eps = m->layer_norm_eps;
    float *qkv, *att, *att2;
    cs_status st = cs_vit_ln_qkv(ctx, blk, x_ori, rows, &qkv);
    if (st != CS_OK) return st;
    att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)rows * c);
    att2 = cs_ctx_buf(ctx, CS_BUF_ATT2, (size_t)rows * c);
    if (!att || !att2) return CS_ERR_OUT_OF_MEMORY;
    /* new path: x_new += out_proj(attn_kind(ln_1(x_ori))) (+ mlp) */
    if ((st = attn_batch(ctx, qkv, n_seq, t, sp->attention, t, att2, t)) != CS_OK) return st;
    /* original path, from the same q, k, v */
    if (ori_mode == ORI_FULL) {
        if ((st = attn_batch(ctx, qkv, n_seq, t, CS_ATTN_QK, t, att, t)) != CS_OK) return st;
    } else if (ori_mode == ORI_CLS_ONLY) {
        if ((st = attn_batch(ctx, qkv, n_seq, t, CS_ATTN_QK, 1, att, 1)) != CS_OK) return st;
    }
    if (sp->new_path_ffn) {
        st = cs_nn_out_mlp_residual(ctx, blk, att2, c, x_new, c, rows, c, m->vision.mlp_dim, act,
                                    eps);
        if (st != CS_OK) return st;
    } else {
        cs_nn_linear(ctx, att2, c, rows, c, blk->out_w, blk->out_b, c, x_new, c, 1);
    }
    if (ori_mode == ORI_FULL) {
        return cs_nn_out_mlp_residual(ctx, blk, att, c, x_ori, c, rows, c, m->vision.mlp_dim,
                                      act, eps);
    }
    if (ori_mode == ORI_CLS_ONLY) {
        /* class rows are every t-th row: a strided matrix of n_seq rows */
        return cs_nn_out_mlp_residual(ctx, blk, att, c, x_ori, t * c, n_seq, c,
                                      m->vision.mlp_dim, act, eps);
    }
    return CS_OK;
}

/* ln_post and projection of `rows` rows (stride C) into features [rows, D]. */
cs_status cs_vit_project(cs_context *ctx, const float *x, int rows, float *features)
{
    const cs_model *m = ctx->model;
    const cs_vision_weights *v = &m->vision;
    int c = v->width, d = m->embed_dim;
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * c);
    if (!a) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_layer_norm(ctx, x, c, a, c, (size_t)rows, c, v->ln_post_w, v->ln_post_b, m->layer_norm_eps);
    cs_gemm(ctx, 0, 1, rows, d, c, 1.0f, a, c, v->proj, c, 0.0f, features, d);
    return CS_OK;
}

/* Copies and checks a caller's surgery description (NULL: raw CLIP). */
static cs_status read_surgery(const cs_model *m, const cs_surgery_params *in,
                              cs_surgery_params *out, int check_blocks)
{
    cs_surgery_params_default(out);
    if (!in) { /* NULL: the paper's surgery (clamped for models with fewer blocks) */
        if (out->n_blocks > m->vision.layers) out->n_blocks = m->vision.layers;
        return CS_OK;
    }
    if (in->size < offsetof(cs_surgery_params, attention) + sizeof(cs_attention_kind))
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_surgery_params.size %zu is too small (use cs_surgery_params_default)",
                       in->size);
    memcpy(out, in, in->size < sizeof *out ? in->size : sizeof *out);
    out->size = sizeof *out;
    if (check_blocks && (out->n_blocks < 0 || out->n_blocks > m->vision.layers))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "surgery n_blocks %d out of range 0..%d",
                       out->n_blocks, m->vision.layers);
    if (!check_blocks || out->n_blocks > 0) return cs_nn_check_kind(out->attention);
    return CS_OK;
}

cs_status cs_vit_surgery_apply(cs_context *ctx, const cs_surgery_params *surgery,
                               const float *pixels, int batch, int height, int width,
                               float *features, size_t capacity)
{
    cs_clear_error();
    cs_status st = cs_vit_check_ctx(ctx);
    if (st != CS_OK) return st;
    const cs_model *m = ctx->model;
    if (!pixels || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixels and features must not be NULL");
    if (batch <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "batch %d must be positive", batch);
    cs_surgery_params sp;
    if ((st = read_surgery(m, surgery, &sp, 1)) != CS_OK) return st;
    int gh, gw;
    if ((st = cs_vit_check_batch(m, pixels, batch, height, width, capacity, &gh, &gw)) != CS_OK)
        return st;
    int t = 1 + gh * gw, c = m->vision.width, d = m->embed_dim;
    const float *pos;
    if ((st = pos_table(ctx, gh, gw, &pos)) != CS_OK) return st;

    int per_chunk = CS_VIT_CHUNK_ROWS / t;
    if (per_chunk < 1) per_chunk = 1;
    if (per_chunk > batch) per_chunk = batch;
    float *x = cs_ctx_buf(ctx, CS_BUF_X, (size_t)per_chunk * t * c);
    float *xn = sp.n_blocks > 0 ? cs_ctx_buf(ctx, CS_BUF_XNEW, (size_t)per_chunk * t * c) : NULL;
    if (!x || (sp.n_blocks > 0 && !xn)) return CS_ERR_OUT_OF_MEMORY;
    size_t plane = (size_t)3 * height * width;
    int layers = m->vision.layers, first_dual = layers - sp.n_blocks;
    /* The first chunk is the largest, so every scratch slot reaches its final size there and
     * later chunks cannot fail. */
    for (int b0 = 0; b0 < batch; b0 += per_chunk) {
        int nb = batch - b0 < per_chunk ? batch - b0 : per_chunk;
        if ((st = cs_vit_embed_batch(ctx, pixels + (size_t)b0 * plane, nb, height, width, gh, gw, pos,
                              x)) != CS_OK)
            return st;
        for (int l = 0; l < first_dual; l++)
            if ((st = cs_vit_block_plain(ctx, l, x, nb, t)) != CS_OK) return st;
        const float *out = x;
        if (sp.n_blocks > 0) {
            memcpy(xn, x, (size_t)nb * t * c * sizeof(float));
            for (int l = first_dual; l < layers; l++) {
                int mode = ORI_FULL;
                if (l == layers - 1) mode = sp.cls_from_new_path ? ORI_NONE : ORI_CLS_ONLY;
                if ((st = block_dual(ctx, l, &sp, x, xn, nb, t, mode)) != CS_OK) return st;
            }
            if (!sp.cls_from_new_path)
                for (int b = 0; b < nb; b++)
                    memcpy(xn + (size_t)b * t * c, x + (size_t)b * t * c, (size_t)c * sizeof(float));
            out = xn;
        }
        if ((st = cs_vit_project(ctx, out, nb * t, features + (size_t)b0 * t * d)) != CS_OK) return st;
    }
    return CS_OK;
}

CS_API cs_status cs_vision_embed(cs_context *ctx, const float *pixels, int height, int width,
                                 float *tokens, size_t capacity)
{
    cs_clear_error();
    cs_status st = cs_vit_check_ctx(ctx);
    if (st != CS_OK) return st;
    if (!pixels || !tokens)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixels and tokens must not be NULL");
    int gh, gw;
    if ((st = cs_vit_check_size(ctx->model, height, width, &gh, &gw)) != CS_OK) return st;
    size_t need = (size_t)(1 + gh * gw) * (size_t)ctx->model->vision.width;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "tokens need %zu floats, capacity is %zu", need,
                       capacity);
    const float *pos;
    if ((st = pos_table(ctx, gh, gw, &pos)) != CS_OK) return st;
    return cs_vit_embed_batch(ctx, pixels, 1, height, width, gh, gw, pos, tokens);
}

static cs_status check_block(const cs_context *ctx, int block, int n_tokens)
{
    cs_status st = cs_vit_check_ctx(ctx);
    if (st != CS_OK) return st;
    if (block < 0 || block >= ctx->model->vision.layers)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "block %d out of range 0..%d", block,
                       ctx->model->vision.layers - 1);
    if (n_tokens <= 0 || n_tokens > 1 + CS_MAX_GRID_CELLS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_tokens %d out of range 1..%d", n_tokens,
                       1 + CS_MAX_GRID_CELLS);
    return CS_OK;
}

CS_API cs_status cs_vision_block(cs_context *ctx, int block, float *tokens, int n_tokens)
{
    cs_clear_error();
    cs_status st = check_block(ctx, block, n_tokens);
    if (st != CS_OK) return st;
    if (!tokens) return cs_fail(CS_ERR_INVALID_ARGUMENT, "tokens must not be NULL");
    return cs_vit_block_plain(ctx, block, tokens, 1, n_tokens);
}

CS_API cs_status cs_block_attention(cs_context *ctx, int block, cs_attention_kind kind,
                                    const float *tokens, int n_tokens, float *out)
{
    cs_clear_error();
    cs_status st = check_block(ctx, block, n_tokens);
    if (st != CS_OK) return st;
    if (!tokens || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "tokens and out must not be NULL");
    if ((st = cs_nn_check_kind(kind)) != CS_OK) return st;
    const cs_block_weights *blk = &ctx->model->vision.blocks[block];
    int c = ctx->model->vision.width;
    float *qkv, *att;
    if ((st = cs_vit_ln_qkv(ctx, blk, tokens, n_tokens, &qkv)) != CS_OK) return st;
    if (!(att = cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)n_tokens * c))) return CS_ERR_OUT_OF_MEMORY;
    if ((st = attn_batch(ctx, qkv, 1, n_tokens, kind, n_tokens, att, n_tokens)) != CS_OK)
        return st;
    cs_nn_linear(ctx, att, c, n_tokens, c, blk->out_w, blk->out_b, c, out, c, 0);
    return CS_OK;
}

CS_API cs_status cs_dual_path_block(cs_context *ctx, int block, const cs_surgery_params *surgery,
                                    float *x_ori, float *x_new, int n_tokens)
{
    cs_clear_error();
    cs_status st = check_block(ctx, block, n_tokens);
    if (st != CS_OK) return st;
    if (!x_ori || !x_new)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "x_ori and x_new must not be NULL");
    if (x_ori == x_new) return cs_fail(CS_ERR_INVALID_ARGUMENT, "x_ori and x_new must differ");
    cs_surgery_params sp;
    if (surgery) {
        if ((st = read_surgery(ctx->model, surgery, &sp, 0)) != CS_OK) return st;
    } else {
        cs_surgery_params_default(&sp);
    }
    if ((st = cs_nn_check_kind(sp.attention)) != CS_OK) return st;
    return block_dual(ctx, block, &sp, x_ori, x_new, 1, n_tokens, ORI_FULL);
}

CS_API cs_status cs_vision_project(cs_context *ctx, const float *tokens, int n_tokens,
                                   float *features, size_t capacity)
{
    cs_clear_error();
    cs_status st = cs_vit_check_ctx(ctx);
    if (st != CS_OK) return st;
    if (!tokens || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "tokens and features must not be NULL");
    if (n_tokens <= 0 || n_tokens > 1 + CS_MAX_GRID_CELLS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_tokens %d out of range", n_tokens);
    size_t need = (size_t)n_tokens * (size_t)ctx->model->embed_dim;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %zu floats, capacity is %zu", need,
                       capacity);
    return cs_vit_project(ctx, tokens, n_tokens, features);
}
