/* Training-free dense methods on a ViT (../shared/docs/METHODS.md 1-5) as one composition of
 * the encoder's blocks: standard blocks, then n_blocks modified blocks (replaced in sequence,
 * or a parallel path fed from the original path), each with its attention kind, residual and
 * FFN options, and each method's positional-resize rule. Presets reproduce MaskCLIP, SCLIP,
 * ClearCLIP, NACLIP and GEM; CLIP Surgery and raw CLIP settings run cs_surgery_apply itself, so
 * their bits never change. */
#include "core/common.h"
#include "core/context.h"
#include "core/nn.h"
#include "io/model.h"
#include "vision/attention_kinds.h"
#include "vision/pos_embed.h"
#include "vision/vit.h"

#include <math.h>
#include <string.h>

#define CS_VIT_CHUNK_ROWS 4096
#define CS_GEM_MAX_ITER 16

static const char *const method_names[CS_METHOD_COUNT] = {
    "raw", "clip-surgery", "maskclip", "sclip", "clearclip", "naclip", "gem"};

CS_API const char *cs_method_name(cs_method method)
{
    if ((unsigned)method >= CS_METHOD_COUNT) return NULL;
    return method_names[method];
}

CS_API cs_status cs_method_from_name(const char *name, cs_method *out)
{
    cs_clear_error();
    if (!name || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "name and out must not be NULL");
    for (int i = 0; i < CS_METHOD_COUNT; i++)
        if (strcmp(name, method_names[i]) == 0) {
            *out = (cs_method)i;
            return CS_OK;
        }
    if (strcmp(name, "surgery") == 0) {
        *out = CS_METHOD_CLIP_SURGERY;
        return CS_OK;
    }
    return cs_fail(CS_ERR_INVALID_ARGUMENT,
                   "unknown method '%s' (raw, clip-surgery, maskclip, sclip, clearclip, naclip, "
                   "gem)", name);
}

CS_API cs_status cs_method_params_default(cs_method_params *p, cs_method method)
{
    cs_clear_error();
    if (!p) return cs_fail(CS_ERR_INVALID_ARGUMENT, "params must not be NULL");
    if ((unsigned)method >= CS_METHOD_COUNT)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "method %d is not a cs_method", (int)method);
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->method = method;
    p->gaussian_sigma = 5.0f;
    p->gem_iterations = 1;
    p->gem_temperature = 0.0f;
    p->templates = CS_TEMPLATES_85;
    p->cls_from_new_path = 1;
    p->n_blocks = 1;
    switch (method) {
    case CS_METHOD_RAW:
        p->n_blocks = 0;
        p->attention = CS_ATTN_QK;
        p->parallel_path = 1;
        p->keep_residual = 1;
        p->cls_from_new_path = 0;
        p->pos_resize = CS_POS_BILINEAR;
        break;
    case CS_METHOD_CLIP_SURGERY:
        p->n_blocks = 6;
        p->attention = CS_ATTN_VV;
        p->parallel_path = 1;
        p->keep_residual = 1;
        p->cls_from_new_path = 0;
        p->pos_resize = CS_POS_BILINEAR;
        break;
    case CS_METHOD_MASKCLIP:
        p->attention = CS_ATTN_IDENTITY;
        p->keep_residual = 1;
        p->keep_ffn = 1;
        p->pos_resize = CS_POS_BICUBIC_SIZE;
        break;
    case CS_METHOD_SCLIP:
        p->attention = CS_ATTN_QQ_KK;
        p->keep_residual = 1;
        p->keep_ffn = 1;
        p->pos_resize = CS_POS_BICUBIC_SCALE;
        break;
    case CS_METHOD_CLEARCLIP:
        p->attention = CS_ATTN_QQ;
        p->pos_resize = CS_POS_BICUBIC_SCALE;
        break;
    case CS_METHOD_NACLIP:
        p->attention = CS_ATTN_KK_GAUSSIAN;
        p->pos_resize = CS_POS_BICUBIC_SCALE;
        break;
    case CS_METHOD_GEM:
        p->n_blocks = 6;
        p->attention = CS_ATTN_SELF_SELF;
        p->parallel_path = 1;
        p->keep_residual = 1;
        p->pos_resize = CS_POS_BICUBIC_AA;
        break;
    }
    return CS_OK;
}

static cs_status check_vit(const cs_context *ctx)
{
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    const cs_vision_weights *v = &ctx->model->vision;
    if (!v->blocks || v->patch_size <= 0 || !v->patch_w || !v->positional_embedding)
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "the training-free dense methods need a ViT image encoder");
    return cs_vit_check_ctx(ctx);
}

/* Copies and checks a caller's method description (NULL: CLIP Surgery). */
static cs_status read_params(const cs_model *m, const cs_method_params *in, cs_method_params *out)
{
    if (!in) {
        cs_method_params_default(out, CS_METHOD_CLIP_SURGERY);
        if (out->n_blocks > m->vision.layers) out->n_blocks = m->vision.layers;
        return CS_OK;
    }
    if (in->size < sizeof *out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_method_params.size %zu is too small (use cs_method_params_default)",
                       in->size);
    memcpy(out, in, sizeof *out);
    out->size = sizeof *out;
    if (out->n_blocks < 0 || out->n_blocks > m->vision.layers)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "method n_blocks %d out of range 0..%d",
                       out->n_blocks, m->vision.layers);
    if ((unsigned)out->attention > (unsigned)CS_ATTN_SELF_SELF)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention kind %d is not a cs_attention_kind",
                       (int)out->attention);
    if ((unsigned)out->pos_resize > (unsigned)CS_POS_BICUBIC_AA)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pos_resize %d is not a cs_pos_resize",
                       (int)out->pos_resize);
    if ((unsigned)out->templates > (unsigned)CS_TEMPLATES_PHOTO)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "templates %d is not a cs_template_set",
                       (int)out->templates);
    if (!(out->gaussian_sigma > 0.0f) || !isfinite(out->gaussian_sigma))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "gaussian_sigma %g must be positive and finite",
                       (double)out->gaussian_sigma);
    if (out->gem_iterations < 0 || out->gem_iterations > CS_GEM_MAX_ITER)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "gem_iterations %d out of range 0..%d",
                       out->gem_iterations, CS_GEM_MAX_ITER);
    if (!(out->gem_temperature >= 0.0f) || !isfinite(out->gem_temperature))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "gem_temperature %g must be >= 0 and finite",
                       (double)out->gem_temperature);
    return CS_OK;
}

/* The bias of the method's attention for the grid (NULL when it has none). */
static cs_status method_bias(cs_context *ctx, const cs_method_params *p, int gh, int gw,
                             const float **bias)
{
    *bias = NULL;
    if (p->attention != CS_ATTN_KK_GAUSSIAN || p->n_blocks == 0) return CS_OK;
    size_t t = (size_t)(1 + gh * gw), n;
    if (!cs_mul_size(t, t, &n)) return cs_fail(CS_ERR_TOO_LARGE, "attention bias overflows");
    float *b = cs_ctx_buf(ctx, CS_BUF_BIAS, n);
    if (!b) return CS_ERR_OUT_OF_MEMORY;
    cs_attn_gaussian_bias(gh, gw, p->gaussian_sigma, b);
    *bias = b;
    return CS_OK;
}

/* One modified block on n_seq sequences of t tokens. x: original path (replaced in place
 * without a parallel path); xn: the parallel path (or NULL). ori: nonzero when the original
 * path's standard update is still needed (parallel path only). */
static cs_status modified_block(cs_context *ctx, int block, const cs_method_params *p,
                                const float *bias, float *x, float *xn, int n_seq, int t,
                                int ori)
{
    const cs_model *m = ctx->model;
    const cs_vision_weights *v = &m->vision;
    const cs_block_weights *blk = &v->blocks[block];
    int c = v->width, rows = n_seq * t, act = (int)m->activation;
    float eps = m->layer_norm_eps;
    float *qkv;
    cs_status st = cs_vit_ln_qkv(ctx, blk, x, rows, &qkv);
    if (st != CS_OK) return st;
    const float *ln = ctx->buf[CS_BUF_LN]; /* ln_1(x), just written by cs_vit_ln_qkv */
    float *att2 = cs_ctx_buf(ctx, CS_BUF_ATT2, (size_t)rows * c);
    float *att = xn && ori ? cs_ctx_buf(ctx, CS_BUF_ATT, (size_t)rows * c) : NULL;
    if (!att2 || (xn && ori && !att)) return CS_ERR_OUT_OF_MEMORY;
    cs_attn_opts o = {p->attention, bias, p->gem_iterations, p->gem_temperature};
    for (int s = 0; s < n_seq; s++) {
        if (p->attention == CS_ATTN_SELF_SELF && p->gem_temperature == 0.0f)
            o.inv_temp = cs_attn_gem_inv_temp(ln + (size_t)s * t * c, t, c, v->heads);
        const float *qs = qkv + (size_t)s * t * 3 * c;
        if ((st = cs_attn_kind_run(ctx, &o, qs, 3 * c, t, c, v->heads, att2 + (size_t)s * t * c,
                                   c)) != CS_OK)
            return st;
        if (att) {
            cs_attn_opts std = {CS_ATTN_QK, NULL, 0, 0.0f};
            if ((st = cs_attn_kind_run(ctx, &std, qs, 3 * c, t, c, v->heads,
                                       att + (size_t)s * t * c, c)) != CS_OK)
                return st;
        }
    }
    float *z = xn ? xn : x;
    cs_nn_linear(ctx, att2, c, rows, c, blk->out_w, blk->out_b, c, z, c, p->keep_residual);
    if (p->keep_ffn &&
        (st = cs_nn_mlp_residual(ctx, blk, z, c, rows, c, v->mlp_dim, act, eps)) != CS_OK)
        return st;
    if (att) return cs_nn_out_mlp_residual(ctx, blk, att, c, x, c, rows, c, v->mlp_dim, act, eps);
    return CS_OK;
}

/* Settings cs_surgery_apply computes itself (bit-identical CLIP Surgery and raw CLIP). */
static int as_surgery(const cs_method_params *p, cs_surgery_params *sp)
{
    if (p->pos_resize != CS_POS_BILINEAR) return 0;
    cs_surgery_params_default(sp);
    if (p->n_blocks == 0) {
        sp->n_blocks = 0;
        return 1;
    }
    if (!p->parallel_path || !p->keep_residual ||
        (p->attention != CS_ATTN_QK && p->attention != CS_ATTN_VV))
        return 0;
    sp->n_blocks = p->n_blocks;
    sp->attention = p->attention;
    sp->new_path_ffn = p->keep_ffn;
    sp->cls_from_new_path = p->cls_from_new_path;
    return 1;
}

/* A ResNet has an attention pool, not blocks: the raw and clip-surgery settings map onto its raw
 * and surgery pools (cs_surgery_apply); every other method needs a ViT. */
static cs_status resnet_method(cs_context *ctx, const cs_method_params *params, const float *pixels,
                               int batch, int height, int width, float *features, size_t capacity)
{
    cs_method_params p;
    if (!params) {
        cs_method_params_default(&p, CS_METHOD_CLIP_SURGERY);
    } else {
        if (params->size < sizeof p)
            return cs_fail(CS_ERR_INVALID_ARGUMENT,
                           "cs_method_params.size %zu is too small (use cs_method_params_default)",
                           params->size);
        memcpy(&p, params, sizeof p);
    }
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    if (p.pos_resize == CS_POS_BILINEAR && p.n_blocks == 0)
        sp.n_blocks = 0;
    else if (p.pos_resize == CS_POS_BILINEAR && p.n_blocks > 0 && p.parallel_path &&
             p.keep_residual && !p.keep_ffn && p.attention == CS_ATTN_VV)
        sp.n_blocks = p.n_blocks;
    else
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "on a ResNet model only the raw and clip-surgery methods apply (its attention "
                       "pool has no transformer blocks for %s)",
                       cs_method_name(p.method) ? cs_method_name(p.method) : "this method");
    return cs_surgery_apply(ctx, &sp, pixels, batch, height, width, features, capacity);
}

CS_API cs_status cs_method_apply(cs_context *ctx, const cs_method_params *params,
                                 const float *pixels, int batch, int height, int width,
                                 float *features, size_t capacity)
{
    cs_clear_error();
    if (ctx && ctx->model && ctx->model->backbone == CS_BACKBONE_RESNET)
        return resnet_method(ctx, params, pixels, batch, height, width, features, capacity);
    cs_status st = check_vit(ctx);
    if (st != CS_OK) return st;
    const cs_model *m = ctx->model;
    if (!pixels || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "pixels and features must not be NULL");
    if (batch <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "batch %d must be positive", batch);
    cs_method_params p;
    if ((st = read_params(m, params, &p)) != CS_OK) return st;
    cs_surgery_params sp;
    if (as_surgery(&p, &sp))
        return cs_surgery_apply(ctx, &sp, pixels, batch, height, width, features, capacity);
    int gh, gw;
    if ((st = cs_vit_check_batch(m, pixels, batch, height, width, capacity, &gh, &gw)) != CS_OK)
        return st;
    int t = 1 + gh * gw, c = m->vision.width, d = m->embed_dim;
    float *pos = cs_ctx_buf(ctx, CS_BUF_POS, (size_t)t * c);
    if (!pos) return CS_ERR_OUT_OF_MEMORY;
    if ((st = cs_pos_table_rule(m, p.pos_resize, gh, gw, pos)) != CS_OK) return st;
    const float *bias;
    if ((st = method_bias(ctx, &p, gh, gw, &bias)) != CS_OK) return st;

    int per_chunk = CS_VIT_CHUNK_ROWS / t;
    if (per_chunk < 1) per_chunk = 1;
    if (per_chunk > batch) per_chunk = batch;
    int par = p.parallel_path && p.n_blocks > 0;
    float *x = cs_ctx_buf(ctx, CS_BUF_X, (size_t)per_chunk * t * c);
    float *xn = par ? cs_ctx_buf(ctx, CS_BUF_XNEW, (size_t)per_chunk * t * c) : NULL;
    if (!x || (par && !xn)) return CS_ERR_OUT_OF_MEMORY;
    size_t plane = (size_t)3 * height * width;
    int layers = m->vision.layers, first = layers - p.n_blocks;
    int cls_ori = par && !p.cls_from_new_path;
    for (int b0 = 0; b0 < batch; b0 += per_chunk) {
        int nb = batch - b0 < per_chunk ? batch - b0 : per_chunk;
        if ((st = cs_vit_embed_batch(ctx, pixels + (size_t)b0 * plane, nb, height, width, gh, gw,
                                     pos, x)) != CS_OK)
            return st;
        for (int l = 0; l < first; l++)
            if ((st = cs_vit_block_plain(ctx, l, x, nb, t)) != CS_OK) return st;
        if (par) memcpy(xn, x, sizeof(float) * (size_t)nb * t * c);
        for (int l = first; l < layers; l++) {
            int ori = par && (l < layers - 1 || cls_ori);
            if ((st = modified_block(ctx, l, &p, bias, x, xn, nb, t, ori)) != CS_OK) return st;
        }
        float *out = x;
        if (par) {
            if (cls_ori)
                for (int b = 0; b < nb; b++)
                    memcpy(xn + (size_t)b * t * c, x + (size_t)b * t * c, sizeof(float) * c);
            out = xn;
        }
        if ((st = cs_vit_project(ctx, out, nb * t, features + (size_t)b0 * t * d)) != CS_OK)
            return st;
    }
    return CS_OK;
}

static cs_status check_block_args(cs_context *ctx, int block, const cs_method_params *params,
                                  int gh, int gw, int n_tokens, cs_method_params *p)
{
    cs_status st = check_vit(ctx);
    if (st != CS_OK) return st;
    const cs_model *m = ctx->model;
    if ((st = read_params(m, params, p)) != CS_OK) return st;
    if (block < 0 || block >= m->vision.layers)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "block %d out of range 0..%d", block,
                       m->vision.layers - 1);
    if (gh <= 0 || gw <= 0 || (long long)gh * gw > CS_MAX_GRID_CELLS)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "grid %dx%d out of range", gh, gw);
    if (n_tokens != 1 + gh * gw)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_tokens %d is not 1 + %d x %d", n_tokens, gh,
                       gw);
    return CS_OK;
}

CS_API cs_status cs_method_attention(cs_context *ctx, int block, const cs_method_params *params,
                                     const float *tokens, int grid_h, int grid_w,
                                     int n_tokens, float *out)
{
    cs_clear_error();
    cs_method_params p;
    cs_status st = check_block_args(ctx, block, params, grid_h, grid_w, n_tokens, &p);
    if (st != CS_OK) return st;
    if (!tokens || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "tokens and out must not be NULL");
    const cs_vision_weights *v = &ctx->model->vision;
    const cs_block_weights *blk = &v->blocks[block];
    int c = v->width;
    p.n_blocks = 1;
    const float *bias;
    if ((st = method_bias(ctx, &p, grid_h, grid_w, &bias)) != CS_OK) return st;
    float *qkv, *att;
    if ((st = cs_vit_ln_qkv(ctx, blk, tokens, n_tokens, &qkv)) != CS_OK) return st;
    if (!(att = cs_ctx_buf(ctx, CS_BUF_ATT2, (size_t)n_tokens * c))) return CS_ERR_OUT_OF_MEMORY;
    cs_attn_opts o = {p.attention, bias, p.gem_iterations, p.gem_temperature};
    if (p.attention == CS_ATTN_SELF_SELF && p.gem_temperature == 0.0f)
        o.inv_temp = cs_attn_gem_inv_temp(ctx->buf[CS_BUF_LN], n_tokens, c, v->heads);
    if ((st = cs_attn_kind_run(ctx, &o, qkv, 3 * c, n_tokens, c, v->heads, att, c)) != CS_OK)
        return st;
    cs_nn_linear(ctx, att, c, n_tokens, c, blk->out_w, blk->out_b, c, out, c, 0);
    return CS_OK;
}

CS_API cs_status cs_method_block(cs_context *ctx, int block, const cs_method_params *params,
                                 float *x_ori, float *x_new, int grid_h, int grid_w,
                                 int n_tokens)
{
    cs_clear_error();
    cs_method_params p;
    cs_status st = check_block_args(ctx, block, params, grid_h, grid_w, n_tokens, &p);
    if (st != CS_OK) return st;
    if (!x_ori) return cs_fail(CS_ERR_INVALID_ARGUMENT, "x_ori must not be NULL");
    if (p.parallel_path && (!x_new || x_new == x_ori))
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "a parallel path needs x_new, distinct from x_ori");
    p.n_blocks = 1;
    const float *bias;
    if ((st = method_bias(ctx, &p, grid_h, grid_w, &bias)) != CS_OK) return st;
    return modified_block(ctx, block, &p, bias, x_ori, p.parallel_path ? x_new : NULL, 1,
                          n_tokens, p.parallel_path);
}

CS_API cs_status cs_naclip_bias(int grid_h, int grid_w, float sigma, float *out,
                                size_t capacity)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "out must not be NULL");
    if (grid_h <= 0 || grid_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "grid %dx%d must be positive", grid_h, grid_w);
    if (!(sigma > 0.0f) || !isfinite(sigma))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "sigma %g must be positive and finite",
                       (double)sigma);
    if ((long long)grid_h * grid_w > CS_MAX_GRID_CELLS)
        return cs_fail(CS_ERR_TOO_LARGE, "grid %dx%d has over %d cells", grid_h, grid_w,
                       CS_MAX_GRID_CELLS);
    size_t t = (size_t)(1 + grid_h * grid_w), need;
    if (!cs_mul_size(t, t, &need)) return cs_fail(CS_ERR_TOO_LARGE, "bias size overflows");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "bias needs %zu floats, capacity is %zu", need,
                       capacity);
    cs_attn_gaussian_bias(grid_h, grid_w, sigma, out);
    return CS_OK;
}
