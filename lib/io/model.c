/* Model loading: finds the weights file, detects the naming (Hugging Face or OpenAI/OpenCLIP),
 * infers the architecture from shapes, validates every tensor against it and fills the one
 * internal layout of model.h. F32 tensors that are 4-byte aligned are used in place from the
 * mapping; F16/BF16/unaligned ones are widened once; qkv is packed and projections transposed. */
#include "io/model.h"

#include "core/common.h"
#include "core/bf16.h"
#include "core/gemm_engine.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

CS_API void cs_model_params_default(cs_model_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
}

/* cs_model_params as 0.1 declared it. A binary linked against 0.1 calls
 * cs_model_params_default@CS_0.1 on a struct of this size: writing the 0.2 size there would
 * overrun the caller's struct, so that version writes the 0.1 prefix only (and the loader then
 * reads only that prefix, keeping the defaults of the newer fields). */
typedef struct cs_model_params_0_1 {
    size_t size;
    const char *vocab_path;
    int require_vocabulary;
} cs_model_params_0_1;

CS_API void cs_model_params_default_0_1(cs_model_params_0_1 *p);
CS_API void cs_model_params_default_0_1(cs_model_params_0_1 *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
}
CS_COMPAT_SYMBOL(cs_model_params_default_0_1, cs_model_params_default, CS_0.1);

/* ---- loader state ------------------------------------------------------------------------ */
typedef struct loader {
    cs_model *m;
    cs_safetensors *st;
    const char *path;
} loader;

static int track(cs_model *m, void *buf)
{
    if (m->n_owned == m->cap_owned) {
        size_t cap = m->cap_owned ? m->cap_owned * 2 : 64;
        void **n = realloc(m->owned, cap * sizeof *n);
        if (!n) return 0;
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = buf;
    return 1;
}

static float *owned_floats(cs_model *m, size_t n)
{
    float *p = cs_alloc_array(n, sizeof(float));
    if (p && !track(m, p)) {
        free(p);
        return NULL;
    }
    return p;
}

static const cs_st_tensor *find(loader *L, const char *name)
{
    return cs_st_find(L->st, name);
}
/* The mapped pages of a tensor that was converted are not needed again: give them back, so a
 * F16/BF16 checkpoint does not keep its file pages resident beside the f32 copy. */
static void release_pages(const cs_st_tensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t b = ((uintptr_t)t->data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t e = ((uintptr_t)t->data + t->nbytes) & ~((uintptr_t)page - 1);
    if (e > b) madvise((void *)b, e - b, MADV_DONTNEED);
}

/* Validates tensor `name` against the shape, returning it in *tp. */
static cs_status check_tensor(loader *L, const char *name, int ndim, const int64_t *dims,
                              const cs_st_tensor **tp)
{
    const cs_st_tensor *t = find(L, name);
    if (!t) return cs_fail(CS_ERR_MISSING_TENSOR, "%s: required tensor \"%s\" is missing", L->path, name);
    if (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16)
        return cs_fail(CS_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (F32, F16 or BF16 needed)",
                       L->path, name, cs_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char want[128] = "", have[128] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)dims[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        return cs_fail(CS_ERR_SHAPE, "%s: tensor \"%s\" has shape [%s] but the architecture needs [%s]",
                       L->path, name, have, want);
    }
    *tp = t;
    return CS_OK;
}

/* Widens a checked tensor into dst (n_elements floats) and releases its pages when the file's
 * bytes were not already f32. */
static cs_status convert_into(const loader *L, const cs_st_tensor *t, float *dst)
{
    cs_status s = cs_st_to_f32(t, dst);
    /* only pages of the library's own file mapping; a caller's buffer is never touched */
    if (s == CS_OK && t->dtype != CS_DT_F32 && L->st->map) release_pages(t);
    return s;
}

/* The tensor `name` with exactly the given shape, as f32 (in place when possible). */
static cs_status get(loader *L, const char *name, const float **out, int ndim, const int64_t *dims)
{
    const cs_st_tensor *t = NULL;
    cs_status cs = check_tensor(L, name, ndim, dims, &t);
    if (cs != CS_OK) return cs;
    if (t->dtype == CS_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = (const float *)(const void *)t->data;
        return CS_OK;
    }
    float *buf = owned_floats(L->m, t->n_elements ? t->n_elements : 1);
    if (!buf) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory for \"%s\"", L->path, name);
    cs_status s = convert_into(L, t, buf);
    if (s != CS_OK) return s;
    *out = buf;
    return CS_OK;
}

static cs_status get1(loader *L, const char *name, const float **out, int64_t a)
{
    return get(L, name, out, 1, &a);
}
static cs_status get2(loader *L, const char *name, const float **out, int64_t a, int64_t b)
{
    int64_t d[2] = {a, b};
    return get(L, name, out, 2, d);
}

/* Transposes a [rows, cols] tensor into a new [cols, rows] buffer. */
static cs_status get2_transposed(loader *L, const char *name, const float **out, int64_t rows,
                                 int64_t cols)
{
    const float *src;
    cs_status s = get2(L, name, &src, rows, cols);
    if (s != CS_OK) return s;
    float *dst = owned_floats(L->m, (size_t)(rows * cols));
    if (!dst) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
    *out = dst;
    return CS_OK;
}

/* Concatenates three tensors of n elements each (q, k, v) into one owned buffer. */
static cs_status get_qkv(loader *L, const char *fmt, const char *prefix, int layer, int ndim,
                         int64_t rows, int64_t cols, const float **out)
{
    static const char *const names[3] = {"q", "k", "v"};
    size_t n = (size_t)(rows * (ndim == 2 ? cols : 1));
    float *dst = owned_floats(L->m, 3 * n);
    if (!dst) return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    for (int i = 0; i < 3; i++) {
        char name[256];
        snprintf(name, sizeof name, fmt, prefix, layer, names[i]);
        const cs_st_tensor *t = NULL;
        int64_t d[2] = {rows, cols};
        cs_status s = check_tensor(L, name, ndim, d, &t);
        if (s == CS_OK) s = convert_into(L, t, dst + i * n);
        if (s != CS_OK) return s;
    }
    *out = dst;
    return CS_OK;
}

static int count_layers(loader *L, const char *fmt, const char *prefix)
{
    int n = 0;
    for (;;) {
        char name[256];
        snprintf(name, sizeof name, fmt, prefix, n);
        if (!find(L, name)) return n;
        n++;
        if (n > 1024) return n;
    }
}

/* ---- the two namings ---------------------------------------------------------------------- */
#define TRY(x)                                                                                     \
    do {                                                                                           \
        cs_status s_ = (x);                                                                        \
        if (s_ != CS_OK) return s_;                                                                \
    } while (0)

static cs_status block_openai(loader *L, const char *prefix, int i, int width, int mlp,
                              cs_block_weights *b)
{
    char n[256];
#define NAME(suffix) (snprintf(n, sizeof n, "%s%d.%s", prefix, i, suffix), n)
    TRY(get1(L, NAME("ln_1.weight"), &b->ln_1_w, width));
    TRY(get1(L, NAME("ln_1.bias"), &b->ln_1_b, width));
    TRY(get2(L, NAME("attn.in_proj_weight"), &b->qkv_w, 3 * width, width));
    TRY(get1(L, NAME("attn.in_proj_bias"), &b->qkv_b, 3 * width));
    TRY(get2(L, NAME("attn.out_proj.weight"), &b->out_w, width, width));
    TRY(get1(L, NAME("attn.out_proj.bias"), &b->out_b, width));
    TRY(get1(L, NAME("ln_2.weight"), &b->ln_2_w, width));
    TRY(get1(L, NAME("ln_2.bias"), &b->ln_2_b, width));
    TRY(get2(L, NAME("mlp.c_fc.weight"), &b->fc_w, mlp, width));
    TRY(get1(L, NAME("mlp.c_fc.bias"), &b->fc_b, mlp));
    TRY(get2(L, NAME("mlp.c_proj.weight"), &b->proj_w, width, mlp));
    TRY(get1(L, NAME("mlp.c_proj.bias"), &b->proj_b, width));
#undef NAME
    return CS_OK;
}

static cs_status block_hf(loader *L, const char *prefix, int i, int width, int mlp,
                          cs_block_weights *b)
{
    char n[256];
#define NAME(suffix) (snprintf(n, sizeof n, "%s%d.%s", prefix, i, suffix), n)
    TRY(get1(L, NAME("layer_norm1.weight"), &b->ln_1_w, width));
    TRY(get1(L, NAME("layer_norm1.bias"), &b->ln_1_b, width));
    TRY(get_qkv(L, "%s%d.self_attn.%s_proj.weight", prefix, i, 2, width, width, &b->qkv_w));
    TRY(get_qkv(L, "%s%d.self_attn.%s_proj.bias", prefix, i, 1, width, 1, &b->qkv_b));
    TRY(get2(L, NAME("self_attn.out_proj.weight"), &b->out_w, width, width));
    TRY(get1(L, NAME("self_attn.out_proj.bias"), &b->out_b, width));
    TRY(get1(L, NAME("layer_norm2.weight"), &b->ln_2_w, width));
    TRY(get1(L, NAME("layer_norm2.bias"), &b->ln_2_b, width));
    TRY(get2(L, NAME("mlp.fc1.weight"), &b->fc_w, mlp, width));
    TRY(get1(L, NAME("mlp.fc1.bias"), &b->fc_b, mlp));
    TRY(get2(L, NAME("mlp.fc2.weight"), &b->proj_w, width, mlp));
    TRY(get1(L, NAME("mlp.fc2.bias"), &b->proj_b, width));
#undef NAME
    return CS_OK;
}

/* Shape of a tensor that must exist, for inference. */
static cs_status shape_of(loader *L, const char *name, int ndim, int64_t *dims)
{
    const cs_st_tensor *t = find(L, name);
    if (!t) return cs_fail(CS_ERR_MISSING_TENSOR, "%s: required tensor \"%s\" is missing", L->path, name);
    if (t->ndim != ndim)
        return cs_fail(CS_ERR_SHAPE, "%s: tensor \"%s\" has %d dimensions, expected %d", L->path, name,
                       t->ndim, ndim);
    for (int i = 0; i < ndim; i++) {
        if (t->shape[i] <= 0 || t->shape[i] > (1 << 24))
            return cs_fail(CS_ERR_SHAPE, "%s: tensor \"%s\" has dimension %lld out of range", L->path,
                           name, (long long)t->shape[i]);
        dims[i] = t->shape[i];
    }
    return CS_OK;
}

typedef struct names {
    const char *patch, *cls, *vpos, *ln_pre, *ln_post, *vblock_fmt, *vprefix, *vblock_probe;
    const char *tok, *tpos, *ln_final, *tblock_fmt, *tprefix, *tblock_probe, *fc;
    const char *vproj, *tproj, *logit;
} names;

static const names NAMES_OPENAI = {
    "visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding", "visual.ln_pre",
    "visual.ln_post", "%s%d.attn.in_proj_weight", "visual.transformer.resblocks.", NULL,
    "token_embedding.weight", "positional_embedding", "ln_final", "%s%d.attn.in_proj_weight",
    "transformer.resblocks.", NULL, "mlp.c_fc.weight", "visual.proj", "text_projection", "logit_scale"};
static const names NAMES_HF = {
    "vision_model.embeddings.patch_embedding.weight", "vision_model.embeddings.class_embedding",
    "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm",
    "vision_model.post_layernorm", "%s%d.self_attn.q_proj.weight", "vision_model.encoder.layers.", NULL,
    "text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight",
    "text_model.final_layer_norm", "%s%d.self_attn.q_proj.weight", "text_model.encoder.layers.", NULL,
    "mlp.fc1.weight", "visual_projection.weight", "text_projection.weight", "logit_scale"};

static cs_status load_ln(loader *L, const char *base, int width, const float **w, const float **b)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", base);
    TRY(get1(L, n, w, width));
    snprintf(n, sizeof n, "%s.bias", base);
    return get1(L, n, b, width);
}

static cs_status infer_heads(loader *L, int width, int config_heads, int *heads, const char *what)
{
    int h = config_heads > 0 ? config_heads : width / 64;
    if (h <= 0 || width % h != 0)
        return cs_fail(CS_ERR_SHAPE, "%s: %s width %d cannot be split into heads of 64 (%d heads)",
                       L->path, what, width, h);
    *heads = h;
    return CS_OK;
}

typedef struct config {
    int present;
    cs_activation act;
    float eps;
    int v_width, v_layers, v_heads, v_patch, t_width, t_layers, t_heads, embed;
} config;

/* ViT image tower geometry from shapes: width, patch, grid, layers, MLP, heads, embed dim. */
static cs_status vit_architecture(loader *L, const config *cfg, const names *N, int *grid)
{
    cs_model *m = L->m;
    int hf = m->layout == CS_LAYOUT_HF;
    cs_vision_weights *v = &m->vision;
    int64_t d4[4] = {0, 0, 0, 0}, d2[2] = {0, 0};
    char n[256];
    TRY(shape_of(L, N->patch, 4, d4));
    if (d4[1] != 3 || d4[2] != d4[3])
        return cs_fail(CS_ERR_SHAPE, "%s: \"%s\" must be [width, 3, p, p]", L->path, N->patch);
    v->width = (int)d4[0];
    v->patch_size = (int)d4[2];
    TRY(shape_of(L, N->vpos, 2, d2));
    int g = *grid = (int)lround(sqrt((double)(d2[0] - 1)));
    if (d2[0] < 2 || (int64_t)g * g + 1 != d2[0])
        return cs_fail(CS_ERR_SHAPE, "%s: \"%s\" has %lld rows, not 1 + a square grid", L->path, N->vpos,
                       (long long)d2[0]);
    v->grid = g;
    v->image_size = g * v->patch_size;
    v->layers = count_layers(L, N->vblock_fmt, N->vprefix);
    if (v->layers == 0)
        return cs_fail(CS_ERR_MISSING_TENSOR, "%s: no vision transformer blocks (%s0...)", L->path, N->vprefix);
    snprintf(n, sizeof n, "%s0.%s", N->vprefix, N->fc);
    TRY(shape_of(L, n, 2, d2));
    v->mlp_dim = (int)d2[0];
    TRY(infer_heads(L, v->width, cfg->v_heads, &v->heads, "vision"));
    /* embed dim from the visual projection */
    TRY(shape_of(L, N->vproj, 2, d2));
    m->embed_dim = (int)(hf ? d2[0] : d2[1]);

    return CS_OK;
}

/* ViT image tower weights of the geometry vit_architecture found. */
static cs_status vit_weights(loader *L, const names *N, int g)
{
    cs_model *m = L->m;
    int hf = m->layout == CS_LAYOUT_HF;
    cs_vision_weights *v = &m->vision;
    {
        int64_t pd[4] = {v->width, 3, v->patch_size, v->patch_size};
        TRY(get(L, N->patch, &v->patch_w, 4, pd));
    }
    TRY(get1(L, N->cls, &v->class_embedding, v->width));
    TRY(get2(L, N->vpos, &v->positional_embedding, 1 + (int64_t)g * g, v->width));
    TRY(load_ln(L, N->ln_pre, v->width, &v->ln_pre_w, &v->ln_pre_b));
    TRY(load_ln(L, N->ln_post, v->width, &v->ln_post_w, &v->ln_post_b));
    if (hf) TRY(get2(L, N->vproj, &v->proj, m->embed_dim, v->width));
    else TRY(get2_transposed(L, N->vproj, &v->proj, v->width, m->embed_dim));
    v->blocks = calloc((size_t)v->layers, sizeof *v->blocks);
    if (!v->blocks || !track(m, v->blocks)) {
        free(v->blocks);
        v->blocks = NULL;
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    }
    for (int i = 0; i < v->layers; i++)
        TRY(hf ? block_hf(L, N->vprefix, i, v->width, v->mlp_dim, &v->blocks[i])
               : block_openai(L, N->vprefix, i, v->width, v->mlp_dim, &v->blocks[i]));
    return CS_OK;
}

static cs_status load_weights(loader *L, const config *cfg)
{
    cs_model *m = L->m;
    const names *N = m->layout == CS_LAYOUT_HF ? &NAMES_HF : &NAMES_OPENAI;
    int hf = m->layout == CS_LAYOUT_HF;
    cs_vision_weights *v = &m->vision;
    cs_text_weights *t = &m->text;
    int64_t d2[2] = {0, 0};
    char n[256];

    int g = 0;
    if (m->backbone == CS_BACKBONE_RESNET) {
        TRY(cs_resnet_load(L->st, L->path, &m->resnet));
        m->embed_dim = m->resnet.embed_dim;
    } else {
        TRY(vit_architecture(L, cfg, N, &g));
    }

    /* text architecture */
    TRY(shape_of(L, N->tok, 2, d2));
    t->vocab_size = (int)d2[0];
    t->width = (int)d2[1];
    TRY(shape_of(L, N->tpos, 2, d2));
    t->context_length = (int)d2[0];
    t->layers = count_layers(L, N->tblock_fmt, N->tprefix);
    if (t->layers == 0)
        return cs_fail(CS_ERR_MISSING_TENSOR, "%s: no text transformer blocks (%s0...)", L->path, N->tprefix);
    snprintf(n, sizeof n, "%s0.%s", N->tprefix, N->fc);
    TRY(shape_of(L, n, 2, d2));
    t->mlp_dim = (int)d2[0];
    TRY(infer_heads(L, t->width, cfg->t_heads, &t->heads, "text"));

    if (cfg->present && m->backbone == CS_BACKBONE_RESNET) {
        if ((cfg->t_width && cfg->t_width != t->width) || (cfg->t_layers && cfg->t_layers != t->layers) ||
            (cfg->embed && cfg->embed != m->embed_dim))
            return cs_fail(CS_ERR_SHAPE, "%s: config.json disagrees with the tensor shapes (text %dx%d, embed %d)",
                           L->path, t->width, t->layers, m->embed_dim);
    } else if (cfg->present) {
        if ((cfg->v_width && cfg->v_width != v->width) || (cfg->v_layers && cfg->v_layers != v->layers) ||
            (cfg->v_patch && cfg->v_patch != v->patch_size) || (cfg->t_width && cfg->t_width != t->width) ||
            (cfg->t_layers && cfg->t_layers != t->layers) || (cfg->embed && cfg->embed != m->embed_dim))
            return cs_fail(CS_ERR_SHAPE,
                           "%s: config.json disagrees with the tensor shapes (vision %dx%d patch %d, text %dx%d, embed %d)",
                           L->path, v->width, v->layers, v->patch_size, t->width, t->layers, m->embed_dim);
    }

    if (m->backbone == CS_BACKBONE_VIT) TRY(vit_weights(L, N, g));

    /* text weights */
    TRY(get2(L, N->tok, &t->token_embedding, t->vocab_size, t->width));
    TRY(get2(L, N->tpos, &t->positional_embedding, t->context_length, t->width));
    TRY(load_ln(L, N->ln_final, t->width, &t->ln_final_w, &t->ln_final_b));
    if (hf) TRY(get2(L, N->tproj, &t->proj, m->embed_dim, t->width));
    else TRY(get2_transposed(L, N->tproj, &t->proj, t->width, m->embed_dim));
    t->blocks = calloc((size_t)t->layers, sizeof *t->blocks);
    if (!t->blocks || !track(m, t->blocks)) {
        free(t->blocks);
        t->blocks = NULL;
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory", L->path);
    }
    for (int i = 0; i < t->layers; i++)
        TRY(hf ? block_hf(L, N->tprefix, i, t->width, t->mlp_dim, &t->blocks[i])
               : block_openai(L, N->tprefix, i, t->width, t->mlp_dim, &t->blocks[i]));

    /* logit scale: optional scalar ([] or [1]) */
    const cs_st_tensor *ls = find(L, N->logit);
    if (ls && ls->n_elements == 1 &&
        (ls->dtype == CS_DT_F32 || ls->dtype == CS_DT_F16 || ls->dtype == CS_DT_BF16)) {
        float x;
        cs_st_to_f32(ls, &x);
        m->logit_scale = expf(x);
    }
    const cs_st_tensor *pt = find(L, N->patch);
    m->dtype_bits = pt->dtype == CS_DT_F32 ? 32 : 16;
    m->is_bf16 = pt->dtype == CS_DT_BF16;
    if (m->backbone == CS_BACKBONE_RESNET) {
        m->dtype_bits = m->resnet.dtype_bits;
        m->is_bf16 = m->resnet.is_bf16;
    }
    return CS_OK;
}

/* ---- files beside the weights ------------------------------------------------------------- */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int is_file(const char *p)
{
    struct stat sb;
    return p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = (size_t)(slash - path);
    if (n == 0) return strdup("/");
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* Resolves `path` (file or folder) to the weights file. */
static cs_status resolve_weights(const char *path, char **out)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return cs_fail(CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) {
        *out = strdup(path);
        return *out ? CS_OK : cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
    }
    static const char *const preferred[] = {"model.safetensors", "open_clip_model.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        char *p = join(path, preferred[i]);
        if (is_file(p)) {
            *out = p;
            return CS_OK;
        }
        free(p);
    }
    DIR *d = opendir(path);
    if (!d) return cs_fail(CS_ERR_IO, "cannot list %s: %s", path, strerror(errno));
    char *found = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 12 && strcmp(e->d_name + len - 12, ".safetensors") == 0) {
            count++;
            if (!found) found = join(path, e->d_name);
        }
    }
    closedir(d);
    if (count != 1) {
        free(found);
        return cs_fail(CS_ERR_IO,
                       count ? "%s holds %d .safetensors files; name one, or call it model.safetensors"
                             : "%s holds no .safetensors file (%d)",
                       path, count);
    }
    *out = found;
    return CS_OK;
}

/* An integer field of config.json: 0 when absent or not an integer; *bad set when it does not
 * fit an int (it would otherwise be silently truncated). */
static int json_int(json_t *o, const char *k, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX) {
        *bad = k;
        return 0;
    }
    return (int)x;
}

static cs_status read_config(const char *dir, config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->act = CS_ACT_QUICK_GELU;
    cfg->eps = 1e-5f;
    char *p = join(dir, "config.json");
    if (!is_file(p)) {
        free(p);
        return CS_OK;
    }
    json_error_t err;
    json_t *root = json_load_file(p, JSON_REJECT_DUPLICATES, &err);
    if (!root || !json_is_object(root)) {
        /* valid JSON that is not an object has no parse error to report */
        cs_status s = root ? cs_fail(CS_ERR_FORMAT, "%s is not a JSON object", p)
                           : cs_fail(CS_ERR_FORMAT, "%s is not valid JSON: %s (line %d)", p,
                                     err.text, err.line);
        json_decref(root);
        free(p);
        return s;
    }
    cfg->present = 1;
    json_t *vc = json_object_get(root, "vision_config"), *tc = json_object_get(root, "text_config");
    cs_status s = CS_OK;
    json_t *parts[2] = {vc, tc};
    for (int i = 0; i < 2 && s == CS_OK; i++) {
        if (!json_is_object(parts[i])) continue;
        json_t *act = json_object_get(parts[i], "hidden_act");
        if (json_is_string(act)) {
            const char *a = json_string_value(act);
            if (strcmp(a, "quick_gelu") == 0) cfg->act = CS_ACT_QUICK_GELU;
            else if (strcmp(a, "gelu") == 0) cfg->act = CS_ACT_GELU;
            else s = cs_fail(CS_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported", p, a);
        }
        json_t *eps = json_object_get(parts[i], "layer_norm_eps");
        if (json_is_number(eps)) {
            double e = json_number_value(eps);
            /* (float)e > 0: 1e-50 would become 0 in float and divide by zero on a flat row */
            if (!(e > 0 && e < 1 && (float)e > 0))
                s = cs_fail(CS_ERR_FORMAT, "%s: layer_norm_eps %g out of range", p, e);
            else cfg->eps = (float)e;
        }
    }
    const char *bad = NULL;
    if (json_is_object(vc)) {
        cfg->v_width = json_int(vc, "hidden_size", &bad);
        cfg->v_layers = json_int(vc, "num_hidden_layers", &bad);
        cfg->v_heads = json_int(vc, "num_attention_heads", &bad);
        cfg->v_patch = json_int(vc, "patch_size", &bad);
    }
    if (json_is_object(tc)) {
        cfg->t_width = json_int(tc, "hidden_size", &bad);
        cfg->t_layers = json_int(tc, "num_hidden_layers", &bad);
        cfg->t_heads = json_int(tc, "num_attention_heads", &bad);
    }
    cfg->embed = json_int(root, "projection_dim", &bad);
    if (s == CS_OK && bad) s = cs_fail(CS_ERR_FORMAT, "%s: %s is out of range", p, bad);
    json_decref(root);
    free(p);
    return s;
}

/* Vocabulary: params->vocab_path, else bpe_simple_vocab_16e6.txt.gz or vocab.json beside. */
static cs_status load_vocabulary(cs_model *m, const char *dir, const cs_model_params *params)
{
    if (params && params->vocab_path) return cs_tokenizer_load(params->vocab_path, &m->tokenizer);
    if (params && params->vocab_data)
        return cs_tokenizer_load_memory(params->vocab_data, params->vocab_size, &m->tokenizer);
    /* a one-file bundle (clipsurgery convert) carries its merges as a U8 tensor */
    const cs_st_tensor *bundled = cs_st_find(m->st, "clipsurgery.vocab.merges");
    if (bundled) {
        if (bundled->dtype != CS_DT_U8 || bundled->ndim != 1)
            return cs_fail(CS_ERR_FORMAT, "bundled vocabulary must be a 1-D U8 tensor");
        return cs_tokenizer_from_merges((const char *)bundled->data, bundled->nbytes,
                                        "bundled vocabulary", &m->tokenizer);
    }
    /* the tokenizer's own folder rule: bpe_simple_vocab_16e6.txt.gz, else vocab.json */
    if (dir && cs_tokenizer_folder_has_vocab(dir)) return cs_tokenizer_load(dir, &m->tokenizer);
    if (params && params->require_vocabulary)
        return dir ? cs_fail(CS_ERR_NO_VOCABULARY, "no vocabulary beside the weights in %s and none given", dir)
                   : cs_fail(CS_ERR_NO_VOCABULARY, "a model loaded from memory has no bundled vocabulary and none was given (vocab_data or vocab_path)");
    return CS_OK;
}

/* Configuration stored in __metadata__ by clipsurgery convert (overrides the defaults). */
static cs_status bundle_config(cs_model *m, const char *file)
{
    const char *format = cs_st_meta_get(m->st, "clipsurgery.format");
    if (format && strcmp(format, "bundle-1") != 0)
        return cs_fail(CS_ERR_UNSUPPORTED, "%s: bundle format \"%s\" is not supported (bundle-1 is)",
                       file, format);
    const char *act = cs_st_meta_get(m->st, "clipsurgery.activation");
    const char *eps = cs_st_meta_get(m->st, "clipsurgery.layer_norm_eps");
    if (act) {
        if (strcmp(act, "quick_gelu") == 0) m->activation = CS_ACT_QUICK_GELU;
        else if (strcmp(act, "gelu") == 0) m->activation = CS_ACT_GELU;
        else return cs_fail(CS_ERR_UNSUPPORTED, "%s: activation \"%s\" is not supported", file, act);
    }
    if (eps) {
        char *end;
        double e = strtod(eps, &end);
        if (end == eps || *end || !(e > 0 && e < 1 && (float)e > 0))
            return cs_fail(CS_ERR_FORMAT, "%s: layer_norm_eps \"%s\" out of range", file, eps);
        m->layer_norm_eps = (float)e;
    }
    return CS_OK;
}

CS_API void cs_model_free(cs_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    cs_tokenizer_free(m->tokenizer);
    cs_bf16_table_free(m->bf16);
    cs_resnet_weights_free(&m->resnet);
    cs_st_close(m->st);
    free(m);
}

/* Copies the caller's params over the defaults (a shorter, older struct keeps the defaults of
 * the fields it lacks). */
static cs_status model_params(const cs_model_params *params, cs_model_params *p, const char *fn)
{
    if (params && params->size < sizeof(size_t))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: params->size not set (use cs_model_params_default)", fn);
    cs_model_params_default(p);
    if (params) memcpy(p, params, params->size < sizeof *p ? params->size : sizeof *p);
    p->size = sizeof *p;
    if (p->flags & ~(uint32_t)(CS_MODEL_COPY_BUFFER | CS_MODEL_PRECISION_BF16))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, (unsigned)p->flags);
    if (p->vocab_size && !p->vocab_data)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: vocab_size is %zu but vocab_data is NULL", fn,
                       p->vocab_size);
    return CS_OK;
}

/* bf16 precision at load (CS_MODEL_PRECISION_BF16): bf16 copies of every weight matrix that
 * enters a matrix product, made once, so a bf16 product reads its weights without rounding
 * them again (core/gemm.c finds them by address). Biases, norms, embeddings and positional
 * tables stay f32: they never enter a product. */
static int add(cs_bf16_table *t, const float *w, long long rows, long long cols)
{
    if (!w || rows <= 0 || cols <= 0) return 0;
    return cs_bf16_table_add(t, w, (size_t)rows * (size_t)cols);
}

static int add_block(cs_bf16_table *t, const cs_block_weights *b, int width, int mlp_dim)
{
    return add(t, b->qkv_w, 3LL * width, width) || add(t, b->out_w, width, width) ||
           add(t, b->fc_w, mlp_dim, width) || add(t, b->proj_w, width, mlp_dim);
}

static int add_conv(cs_bf16_table *t, const cs_rn_conv *c)
{
    return add(t, c->w, c->out, (long long)c->in * c->k * c->k);
}

static int add_all(cs_bf16_table *t, const cs_model *m)
{
    const cs_vision_weights *v = &m->vision;
    if (m->backbone == CS_BACKBONE_VIT) {
        if (add(t, v->patch_w, v->width, 3LL * v->patch_size * v->patch_size) ||
            add(t, v->proj, m->embed_dim, v->width))
            return -1;
        for (int l = 0; l < v->layers; l++)
            if (add_block(t, &v->blocks[l], v->width, v->mlp_dim)) return -1;
    } else {
        const cs_resnet_weights *r = &m->resnet;
        for (int i = 0; i < 3; i++)
            if (add_conv(t, &r->stem[i])) return -1;
        for (int i = 0; i < r->n_blocks; i++) {
            const cs_rn_block *b = &r->blocks[i];
            if (add_conv(t, &b->conv1) || add_conv(t, &b->conv2) || add_conv(t, &b->conv3) ||
                (b->has_down && add_conv(t, &b->down)))
                return -1;
        }
        if (add(t, r->qkv_w, 3LL * r->dim, r->dim) || add(t, r->c_w, r->embed_dim, r->dim))
            return -1;
    }
    const cs_text_weights *x = &m->text;
    if (add(t, x->proj, m->embed_dim, x->width)) return -1;
    for (int l = 0; l < x->layers; l++)
        if (add_block(t, &x->blocks[l], x->width, x->mlp_dim)) return -1;
    return 0;
}

static cs_status prepare_bf16(cs_model *m, const char *file)
{
    const char *why = NULL;
    if (!cs_engine_has_bf16(&why))
        return cs_fail(CS_ERR_UNSUPPORTED, "%s: bf16 precision is not available: %s", file, why);
    cs_bf16_table *t = cs_bf16_table_create();
    if (!t || add_all(t, m)) {
        cs_bf16_table_free(t);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: out of memory for the bf16 weight copies", file);
    }
    cs_bf16_table_seal(t);
    m->bf16 = t;
    m->precision = CS_PRECISION_BF16;
    return CS_OK;
}

/* Everything after the weights are parsed (m->st set): naming, configuration, weights,
 * vocabulary. `file` names the source in messages; `dir` is the folder beside it (NULL for a
 * caller buffer: no config.json, no vocabulary file is looked for). */
static cs_status load_parsed(cs_model *m, const char *file, const char *dir, const config *cfg,
                             const cs_model_params *p)
{
    cs_status s = CS_OK;
    loader L = {m, m->st, file};
    if (cs_resnet_present(m->st)) m->backbone = CS_BACKBONE_RESNET;
    if (m->backbone == CS_BACKBONE_RESNET) m->layout = CS_LAYOUT_OPENAI;
    else if (cs_st_find(m->st, NAMES_HF.patch)) m->layout = CS_LAYOUT_HF;
    else if (cs_st_find(m->st, NAMES_OPENAI.patch)) m->layout = CS_LAYOUT_OPENAI;
    else return cs_fail(CS_ERR_MISSING_TENSOR,
                        "%s: neither \"%s\" (Hugging Face) nor \"%s\" (OpenAI) found: not a CLIP checkpoint",
                        file, NAMES_HF.patch, NAMES_OPENAI.patch);
    m->activation = m->layout == CS_LAYOUT_HF ? cfg->act : CS_ACT_QUICK_GELU;
    m->layer_norm_eps = m->layout == CS_LAYOUT_HF ? cfg->eps : 1e-5f;
    s = bundle_config(m, file);
    if (s == CS_OK) s = load_weights(&L, cfg);
    if (s == CS_OK) s = load_vocabulary(m, dir, p);
    if (s == CS_OK && (p->flags & CS_MODEL_PRECISION_BF16)) s = prepare_bf16(m, file);
    return s;
}

CS_API cs_status cs_model_load(const char *path, const cs_model_params *params, cs_model **out)
{
    cs_clear_error();
    if (!path || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_model_load: NULL path or output");
    cs_model_params p;
    TRY(model_params(params, &p, "cs_model_load"));

    char *file = NULL;
    TRY(resolve_weights(path, &file));
    char *dir = dirname_of(file);
    cs_model *m = calloc(1, sizeof *m);
    cs_status s = (!dir || !m) ? cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory") : CS_OK;
    config cfg;
    if (s == CS_OK) s = read_config(dir, &cfg);
    if (s == CS_OK) s = cs_st_open(file, &m->st);
    if (s == CS_OK) s = load_parsed(m, file, dir, &cfg, &p);
    free(dir);
    free(file);
    if (s != CS_OK) {
        cs_model_free(m);
        return s;
    }
    *out = m;
    return CS_OK;
}

CS_API cs_status cs_model_load_memory(const void *data, size_t size, const cs_model_params *params,
                                      cs_model **out)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_model_load_memory: NULL output");
    if (!data) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_model_load_memory: NULL data");
    cs_model_params p;
    TRY(model_params(params, &p, "cs_model_load_memory"));
    cs_model *m = calloc(1, sizeof *m);
    if (!m) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
    const void *src = data;
    cs_status s = CS_OK;
    if (p.flags & CS_MODEL_COPY_BUFFER) {
        /* the model keeps its own copy (64-byte aligned, so f32 tensors are used in place) */
        void *copy = NULL;
        if (size == 0 || posix_memalign(&copy, 64, size) != 0 || !track(m, copy)) {
            free(copy);
            s = size == 0 ? cs_fail(CS_ERR_FORMAT, "cs_model_load_memory: empty buffer")
                          : cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot copy a %zu-byte model", size);
        } else {
            memcpy(copy, data, size);
            src = copy;
        }
    }
    config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.act = CS_ACT_QUICK_GELU;
    cfg.eps = 1e-5f;
    if (s == CS_OK) s = cs_st_parse(src, size, &m->st);
    if (s == CS_OK) s = load_parsed(m, "model in memory", NULL, &cfg, &p);
    if (s != CS_OK) {
        cs_model_free(m);
        return s;
    }
    *out = m;
    return CS_OK;
}

CS_API const cs_tokenizer *cs_model_tokenizer(const cs_model *m) { return m ? m->tokenizer : NULL; }

CS_API cs_status cs_model_get_info(const cs_model *m, cs_model_info *info)
{
    if (!m || !info || info->size < sizeof(size_t))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_model_get_info: NULL model or info->size not set");
    cs_model_info full;
    memset(&full, 0, sizeof full);
    full.size = info->size < sizeof full ? info->size : sizeof full;
    full.layout = m->layout;
    full.dtype_bits = m->dtype_bits;
    full.is_bf16 = m->is_bf16;
    full.vision_width = cs_model_vision_width(m);
    full.vision_layers = cs_model_vision_layers(m);
    full.vision_heads = m->backbone == CS_BACKBONE_RESNET ? m->resnet.heads : m->vision.heads;
    full.patch_size = cs_model_patch_size(m);
    full.image_size = cs_model_image_size(m);
    full.grid = m->backbone == CS_BACKBONE_RESNET ? m->resnet.grid : m->vision.grid;
    full.text_width = m->text.width;
    full.text_layers = m->text.layers;
    full.text_heads = m->text.heads;
    full.context_length = m->text.context_length;
    full.vocab_size = m->text.vocab_size;
    full.embed_dim = m->embed_dim;
    full.activation = m->activation;
    full.layer_norm_eps = m->layer_norm_eps;
    full.has_vocabulary = m->tokenizer != NULL;
    full.logit_scale = m->logit_scale;
    memcpy(info, &full, full.size);
    return CS_OK;
}

CS_API int cs_model_embed_dim(const cs_model *m) { return m ? m->embed_dim : 0; }

CS_API cs_precision cs_model_precision(const cs_model *m)
{
    return m ? m->precision : CS_PRECISION_F32;
}
/* On a ResNet: the trunk's total stride (32), the attnpool dimension D, the bottleneck count and
 * the native resolution (positional grid x 32). */
#define RN(m) ((m)->backbone == CS_BACKBONE_RESNET)
CS_API int cs_model_patch_size(const cs_model *m) { return m ? (RN(m) ? 32 : m->vision.patch_size) : 0; }
CS_API int cs_model_vision_width(const cs_model *m) { return m ? (RN(m) ? m->resnet.dim : m->vision.width) : 0; }
CS_API int cs_model_vision_layers(const cs_model *m) { return m ? (RN(m) ? m->resnet.n_blocks : m->vision.layers) : 0; }
CS_API int cs_model_image_size(const cs_model *m) { return m ? (RN(m) ? m->resnet.image_size : m->vision.image_size) : 0; }
#undef RN

CS_API cs_backbone cs_model_backbone(const cs_model *m) { return m ? m->backbone : CS_BACKBONE_VIT; }

CS_API cs_status cs_resnet_get_info(const cs_model *m, cs_resnet_info *info)
{
    cs_clear_error();
    if (!m || !info || info->size < sizeof(size_t))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_resnet_get_info: NULL model or info->size not set");
    if (m->backbone != CS_BACKBONE_RESNET)
        return cs_fail(CS_ERR_UNSUPPORTED, "cs_resnet_get_info: the model is not a ResNet");
    const cs_resnet_weights *r = &m->resnet;
    cs_resnet_info full;
    memset(&full, 0, sizeof full);
    full.size = info->size < sizeof full ? info->size : sizeof full;
    for (int i = 0; i < 4; i++) full.stage_blocks[i] = r->stage_blocks[i];
    full.width = r->width;
    full.dim = r->dim;
    full.heads = r->heads;
    full.embed_dim = r->embed_dim;
    full.image_size = r->image_size;
    full.grid = r->grid;
    memcpy(info, &full, full.size);
    return CS_OK;
}
CS_API int cs_model_text_width(const cs_model *m) { return m ? m->text.width : 0; }
CS_API int cs_model_text_layers(const cs_model *m) { return m ? m->text.layers : 0; }
CS_API int cs_model_context_length(const cs_model *m) { return m ? m->text.context_length : 0; }
