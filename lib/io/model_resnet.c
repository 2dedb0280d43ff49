/* ResNet CLIP image tower loading (model_resnet.h): geometry from shapes, every tensor checked,
 * BatchNorm folded into the preceding convolution (RESNET.md notation, eval mode, eps 1e-5). */
#include "io/model_resnet.h"

#include "core/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RN_BN_EPS 1e-5

typedef struct rn_loader {
    const cs_safetensors *st;
    const char *path;
    cs_resnet_weights *rn;
} rn_loader;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        cs_status s_ = (x);                                                                        \
        if (s_ != CS_OK) return s_;                                                                \
    } while (0)

static float *owned(rn_loader *L, size_t n)
{
    cs_resnet_weights *rn = L->rn;
    if (rn->n_owned == rn->cap_owned) {
        size_t cap = rn->cap_owned ? rn->cap_owned * 2 : 64;
        void **p = realloc(rn->owned, cap * sizeof *p);
        if (!p) return NULL;
        rn->owned = p;
        rn->cap_owned = cap;
    }
    float *buf = cs_alloc_array(n ? n : 1, sizeof(float));
    if (buf) rn->owned[rn->n_owned++] = buf;
    return buf;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *d)
{
    buf[0] = '\0';
    for (int i = 0; i < ndim; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%lld", i ? ", " : "", (long long)d[i]);
}

/* Tensor `name` with exactly the given shape, widened into dst (its element count). */
static cs_status fetch_into(rn_loader *L, const char *name, int ndim, const int64_t *dims, float *dst)
{
    const cs_st_tensor *t = cs_st_find(L->st, name);
    if (!t) return cs_fail(CS_ERR_MISSING_TENSOR, "%s: required tensor \"%s\" is missing", L->path, name);
    if (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16)
        return cs_fail(CS_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (F32, F16 or BF16 needed)",
                       L->path, name, cs_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char want[128], have[128];
        shape_str(want, sizeof want, ndim, dims);
        shape_str(have, sizeof have, t->ndim, t->shape);
        return cs_fail(CS_ERR_FORMAT,
                       "%s: tensor \"%s\" has shape [%s] but the ResNet geometry needs [%s]", L->path,
                       name, have, want);
    }
    return cs_st_to_f32(t, dst);
}

static size_t count_of(int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

/* As fetch_into, into a new owned buffer. */
static cs_status fetch(rn_loader *L, const char *name, int ndim, const int64_t *dims, float **out)
{
    float *buf = owned(L, count_of(ndim, dims));
    if (!buf) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory for \"%s\"", L->path, name);
    TRY(fetch_into(L, name, ndim, dims, buf));
    *out = buf;
    return CS_OK;
}

/* Dimension `axis` of a tensor that must exist with ndim dimensions, within 1..limit. */
static cs_status dim_of(rn_loader *L, const char *name, int ndim, int axis, int64_t limit, int *out)
{
    const cs_st_tensor *t = cs_st_find(L->st, name);
    if (!t) return cs_fail(CS_ERR_MISSING_TENSOR, "%s: required tensor \"%s\" is missing", L->path, name);
    if (t->ndim != ndim)
        return cs_fail(CS_ERR_FORMAT, "%s: tensor \"%s\" has %d dimensions, expected %d", L->path,
                       name, t->ndim, ndim);
    if (t->shape[axis] <= 0 || t->shape[axis] > limit)
        return cs_fail(CS_ERR_FORMAT, "%s: tensor \"%s\" has dimension %lld out of range 1..%lld",
                       L->path, name, (long long)t->shape[axis], (long long)limit);
    *out = (int)t->shape[axis];
    return CS_OK;
}

/* Folds BatchNorm bn = [weight | bias | running_mean | running_var] (out each) into the conv
 * weights w [out, per] and writes the folded bias b. */
static cs_status fold(rn_loader *L, const char *cname, const char *bname, int out, size_t per,
                      const float *bn, float *w, float *b)
{
    const float *g = bn, *beta = bn + out, *mean = bn + 2 * (size_t)out, *var = bn + 3 * (size_t)out;
    for (int o = 0; o < out; o++) {
        if (!(var[o] > 0) || !isfinite(var[o]))
            return cs_fail(CS_ERR_FORMAT, "%s: \"%s.running_var\"[%d] = %g is not positive and finite",
                           L->path, bname, o, (double)var[o]);
        double scale = (double)g[o] / sqrt((double)var[o] + RN_BN_EPS);
        double bias = (double)beta[o] - (double)mean[o] * scale;
        if (!isfinite(scale) || !isfinite(bias))
            return cs_fail(CS_ERR_FORMAT, "%s: BatchNorm \"%s\" channel %d is not finite", L->path,
                           bname, o);
        b[o] = (float)bias;
        for (size_t i = 0; i < per; i++) {
            float x = (float)((double)w[(size_t)o * per + i] * scale);
            if (!isfinite(x))
                return cs_fail(CS_ERR_FORMAT, "%s: \"%s\" folded with \"%s\" is not finite", L->path,
                               cname, bname);
            w[(size_t)o * per + i] = x;
        }
    }
    return CS_OK;
}

/* conv `cname` [out, in, k, k] followed by BatchNorm `bname`, folded into c. */
static cs_status conv_bn(rn_loader *L, const char *cname, const char *bname, int out, int in, int k,
                         cs_rn_conv *c)
{
    int64_t d4[4] = {out, in, k, k}, d1[1] = {out};
    float *w = NULL, *b;
    TRY(fetch(L, cname, 4, d4, &w));
    if (!(b = owned(L, (size_t)out))) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    float *bn = cs_alloc_array(4 * (size_t)out, sizeof(float)); /* weight, bias, mean, var */
    if (!bn) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++) {
        char n[256];
        snprintf(n, sizeof n, "%s.%s", bname, parts[i]);
        cs_status s = fetch_into(L, n, 1, d1, bn + (size_t)i * out);
        if (s != CS_OK) {
            free(bn);
            return s;
        }
    }
    cs_status st = fold(L, cname, bname, out, (size_t)in * k * k, bn, w, b);
    free(bn);
    if (st != CS_OK) return st;
    c->out = out;
    c->in = in;
    c->k = k;
    c->w = w;
    c->b = b;
    return CS_OK;
}

static int has(const rn_loader *L, const char *name) { return cs_st_find(L->st, name) != NULL; }

int cs_resnet_present(const cs_safetensors *st)
{
    return cs_st_find(st, "visual.layer1.0.conv1.weight") != NULL ||
           cs_st_find(st, "visual.attnpool.c_proj.weight") != NULL;
}

static cs_status load_blocks(rn_loader *L)
{
    cs_resnet_weights *rn = L->rn;
    char n[256], b[256], c[256];
    int total = 0;
    for (int s = 0; s < 4; s++) {
        int count = 0;
        for (;;) {
            snprintf(n, sizeof n, "visual.layer%d.%d.conv1.weight", s + 1, count);
            if (!has(L, n)) break;
            if (++count > CS_RN_MAX_STAGE_BLOCKS)
                return cs_fail(CS_ERR_FORMAT, "%s: stage %d has over %d blocks", L->path, s + 1,
                               CS_RN_MAX_STAGE_BLOCKS);
        }
        if (count == 0)
            return cs_fail(CS_ERR_MISSING_TENSOR, "%s: required tensor \"visual.layer%d.0.conv1.weight\" is missing",
                           L->path, s + 1);
        rn->stage_blocks[s] = count;
        total += count;
    }
    rn->blocks = calloc((size_t)total, sizeof *rn->blocks);
    if (!rn->blocks) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    rn->n_blocks = total;
    int in = rn->width, i = 0;
    for (int s = 0; s < 4; s++) {
        int p = rn->width << s;
        for (int j = 0; j < rn->stage_blocks[s]; j++, i++) {
            cs_rn_block *blk = &rn->blocks[i];
            blk->planes = p;
            blk->stride = (s > 0 && j == 0) ? 2 : 1;
            blk->has_down = j == 0;
#define NM(buf, suffix) (snprintf(buf, sizeof buf, "visual.layer%d.%d.%s", s + 1, j, suffix), buf)
            TRY(conv_bn(L, NM(c, "conv1.weight"), NM(b, "bn1"), p, in, 1, &blk->conv1));
            TRY(conv_bn(L, NM(c, "conv2.weight"), NM(b, "bn2"), p, p, 3, &blk->conv2));
            TRY(conv_bn(L, NM(c, "conv3.weight"), NM(b, "bn3"), 4 * p, p, 1, &blk->conv3));
            if (blk->has_down)
                TRY(conv_bn(L, NM(c, "downsample.0.weight"), NM(b, "downsample.1"), 4 * p, in, 1,
                            &blk->down));
            else if (has(L, NM(c, "downsample.0.weight")))
                return cs_fail(CS_ERR_FORMAT, "%s: unexpected tensor \"%s\" (only a stage's first block has a shortcut convolution)",
                               L->path, c);
#undef NM
            in = 4 * p;
        }
    }
    return CS_OK;
}

static cs_status load_attnpool(rn_loader *L)
{
    cs_resnet_weights *rn = L->rn;
    int rows, d = rn->dim;
    const char *posn = "visual.attnpool.positional_embedding";
    TRY(dim_of(L, posn, 2, 0, (int64_t)1 << 20, &rows));
    int g = (int)lround(sqrt((double)(rows - 1)));
    if (rows < 2 || g * g + 1 != rows)
        return cs_fail(CS_ERR_FORMAT, "%s: \"%s\" has %d rows, not 1 + a square grid", L->path, posn, rows);
    rn->grid = g;
    rn->image_size = 32 * g;
    int64_t dp[2] = {rows, d};
    TRY(fetch(L, posn, 2, dp, &rn->pos));
    TRY(dim_of(L, "visual.attnpool.c_proj.weight", 2, 0, 1 << 16, &rn->embed_dim));
    int64_t dc[2] = {rn->embed_dim, d}, de[1] = {rn->embed_dim};
    TRY(fetch(L, "visual.attnpool.c_proj.weight", 2, dc, &rn->c_w));
    TRY(fetch(L, "visual.attnpool.c_proj.bias", 1, de, &rn->c_b));
    float *w = owned(L, (size_t)3 * d * d), *b = owned(L, (size_t)3 * d);
    if (!w || !b) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    static const char *const qkv[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        char n[128];
        int64_t dw[2] = {d, d}, db[1] = {d};
        snprintf(n, sizeof n, "visual.attnpool.%s_proj.weight", qkv[i]);
        TRY(fetch_into(L, n, 2, dw, w + (size_t)i * d * d));
        snprintf(n, sizeof n, "visual.attnpool.%s_proj.bias", qkv[i]);
        TRY(fetch_into(L, n, 1, db, b + (size_t)i * d));
    }
    rn->qkv_w = w;
    rn->qkv_b = b;
    return CS_OK;
}

cs_status cs_resnet_load(const cs_safetensors *st, const char *path, cs_resnet_weights *rn)
{
    rn_loader L = {st, path, rn};
    /* w from layer1.0.conv1 [w, w, 1, 1] (its input is the stem's w channels) */
    TRY(dim_of(&L, "visual.layer1.0.conv1.weight", 4, 0, CS_RN_MAX_WIDTH, &rn->width));
    int w = rn->width;
    if (w % 2)
        return cs_fail(CS_ERR_FORMAT, "%s: ResNet width %d (\"visual.layer1.0.conv1.weight\") must be even",
                       path, w);
    rn->dim = 32 * w;
    rn->heads = rn->dim / 64;
    TRY(conv_bn(&L, "visual.conv1.weight", "visual.bn1", w / 2, 3, 3, &rn->stem[0]));
    TRY(conv_bn(&L, "visual.conv2.weight", "visual.bn2", w / 2, w / 2, 3, &rn->stem[1]));
    TRY(conv_bn(&L, "visual.conv3.weight", "visual.bn3", w, w / 2, 3, &rn->stem[2]));
    TRY(load_blocks(&L));
    TRY(load_attnpool(&L));
    const cs_st_tensor *t = cs_st_find(st, "visual.conv1.weight");
    rn->dtype_bits = t->dtype == CS_DT_F32 ? 32 : 16;
    rn->is_bf16 = t->dtype == CS_DT_BF16;
    return CS_OK;
}

void cs_resnet_weights_free(cs_resnet_weights *rn)
{
    if (!rn) return;
    for (size_t i = 0; i < rn->n_owned; i++) free(rn->owned[i]);
    free(rn->owned);
    free(rn->blocks);
    memset(rn, 0, sizeof *rn);
}
