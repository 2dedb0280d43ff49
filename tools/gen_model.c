/* gen_model: writes a random CLIP checkpoint of full ViT-B/16 size (vision width 768, 12 layers,
 * 12 heads, patch 16, image 224; text width 512, 12 layers, 8 heads, context 77, vocabulary
 * 49408; embed dim 512) in OpenAI/OpenCLIP or Hugging Face naming, stored as F32 or F16.
 * --arch rn50|rn101|rn50x4|rn50x16|rn50x64 writes a ResNet CLIP of that model's real geometry
 * instead (OpenAI naming: ModifiedResNet with BatchNorms and running statistics, its
 * AttentionPool2d, the matching text tower; see the table below). --scale-down K divides the
 * ResNet width and the text width by K (the latter rounded down to heads of 64) and keeps one text block (same stage layout, embed dim
 * and resolution; for quick tests).
 * Real weights cannot be downloaded here; the benchmark times the forward pass on this file.
 * Values are random but well scaled (no overflow, NaN or subnormal activations).
 *
 *   gen_model [--layout openai|hf] [--arch vitb16|rn50|...] [--scale-down K] [--dtype f32|f16]
 *             [--seed N] --out FILE.safetensors */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VW = 768, VL = 12, PATCH = 16, IMG = 224, GRID = IMG / PATCH, NPOS = 1 + GRID * GRID };
enum { TW = 512, TL = 12, CTX = 77, VOCAB = 49408, EMBED = 512 };

typedef struct gen {
    uint64_t rng;
    int hf, f16;
    cs_st_entry *e;
    int64_t (*shapes)[4];
    void **bufs;
    size_t n, cap;
} gen;

static float uniform(gen *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    uint64_t r = g->rng * 2685821657736338717ULL;
    return (float)((double)(r >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f; /* [-1, 1) */
}

static void die(const char *msg)
{
    fprintf(stderr, "gen_model: %s\n", msg);
    exit(1);
}

static void grow(gen *g)
{
    if (g->n < g->cap) return;
    g->cap = g->cap ? 2 * g->cap : 512;
    g->e = realloc(g->e, g->cap * sizeof *g->e);
    g->shapes = realloc(g->shapes, g->cap * sizeof *g->shapes);
    g->bufs = realloc(g->bufs, g->cap * sizeof *g->bufs);
    if (!g->e || !g->shapes || !g->bufs) die("out of memory");
}

/* Adds a tensor of shape dims with values base + scale * U(-1, 1). */
static void add(gen *g, const char *name, int ndim, const int64_t *dims, float base, float scale)
{
    grow(g);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        count *= (size_t)dims[i];
        g->shapes[g->n][i] = dims[i];
    }
    void *buf = malloc(count * (g->f16 ? 2 : 4));
    if (!buf) die("out of memory");
    for (size_t i = 0; i < count; i++) {
        float v = base + scale * uniform(g);
        if (g->f16)
            ((uint16_t *)buf)[i] = cs_f32_to_f16(v);
        else
            ((float *)buf)[i] = v;
    }
    char *nm = strdup(name);
    if (!nm) die("out of memory");
    g->e[g->n].name = nm;
    g->e[g->n].dtype = g->f16 ? CS_DT_F16 : CS_DT_F32;
    g->e[g->n].ndim = ndim;
    g->e[g->n].data = buf;
    g->bufs[g->n] = buf;
    g->n++;
}

static void add_ids(gen *g, const char *name, int n)
{
    grow(g);
    int64_t *buf = malloc((size_t)n * sizeof(int64_t));
    char *nm = strdup(name);
    if (!buf || !nm) die("out of memory");
    for (int i = 0; i < n; i++) buf[i] = i;
    g->shapes[g->n][0] = 1;
    g->shapes[g->n][1] = n;
    g->e[g->n] = (cs_st_entry){nm, CS_DT_I64, 2, NULL, buf};
    g->bufs[g->n] = buf;
    g->n++;
}

#define D1(a) (int64_t[]){a}
#define D2(a, b) (int64_t[]){a, b}

/* Linear layer [out, in] (+ bias) with weights of variance ~ 1/(3 in). */
static void linear(gen *g, const char *w, const char *b, int out, int in)
{
    add(g, w, 2, D2(out, in), 0.0f, 1.0f / __builtin_sqrtf((float)in));
    if (b) add(g, b, 1, D1(out), 0.0f, 0.02f);
}

static void layer_norm(gen *g, const char *w, const char *b, int n)
{
    add(g, w, 1, D1(n), 1.0f, 0.1f);
    add(g, b, 1, D1(n), 0.0f, 0.05f);
}

static void blocks(gen *g, const char *prefix, int width, int layers)
{
    char a[256], b[256];
    for (int l = 0; l < layers; l++) {
        if (g->hf) {
            const char *qkv[3] = {"q_proj", "k_proj", "v_proj"};
            for (int i = 0; i < 3; i++) {
                snprintf(a, sizeof a, "%s.encoder.layers.%d.self_attn.%s.weight", prefix, l, qkv[i]);
                snprintf(b, sizeof b, "%s.encoder.layers.%d.self_attn.%s.bias", prefix, l, qkv[i]);
                linear(g, a, b, width, width);
            }
#define NAME(buf, s) snprintf(buf, sizeof buf, "%s.encoder.layers.%d." s, prefix, l)
            NAME(a, "self_attn.out_proj.weight");
            NAME(b, "self_attn.out_proj.bias");
            linear(g, a, b, width, width);
            NAME(a, "layer_norm1.weight");
            NAME(b, "layer_norm1.bias");
            layer_norm(g, a, b, width);
            NAME(a, "mlp.fc1.weight");
            NAME(b, "mlp.fc1.bias");
            linear(g, a, b, 4 * width, width);
            NAME(a, "mlp.fc2.weight");
            NAME(b, "mlp.fc2.bias");
            linear(g, a, b, width, 4 * width);
            NAME(a, "layer_norm2.weight");
            NAME(b, "layer_norm2.bias");
            layer_norm(g, a, b, width);
#undef NAME
        } else {
#define NAME(buf, s) snprintf(buf, sizeof buf, "%sresblocks.%d." s, prefix, l)
            NAME(a, "attn.in_proj_weight");
            NAME(b, "attn.in_proj_bias");
            linear(g, a, b, 3 * width, width);
            NAME(a, "attn.out_proj.weight");
            NAME(b, "attn.out_proj.bias");
            linear(g, a, b, width, width);
            NAME(a, "ln_1.weight");
            NAME(b, "ln_1.bias");
            layer_norm(g, a, b, width);
            NAME(a, "mlp.c_fc.weight");
            NAME(b, "mlp.c_fc.bias");
            linear(g, a, b, 4 * width, width);
            NAME(a, "mlp.c_proj.weight");
            NAME(b, "mlp.c_proj.bias");
            linear(g, a, b, width, 4 * width);
            NAME(a, "ln_2.weight");
            NAME(b, "ln_2.bias");
            layer_norm(g, a, b, width);
#undef NAME
        }
    }
}

/* ResNet CLIP geometries (OpenAI clip/model.py build_model, from the released checkpoints). */
typedef struct rn_arch {
    const char *name;
    int layers[4], width, embed, image, text_width, text_layers;
} rn_arch;
static const rn_arch RN_ARCHS[] = {
    {"rn50", {3, 4, 6, 3}, 64, 1024, 224, 512, 12},
    {"rn101", {3, 4, 23, 3}, 64, 512, 224, 512, 12},
    {"rn50x4", {4, 6, 10, 6}, 80, 640, 288, 640, 12},
    {"rn50x16", {6, 8, 18, 8}, 96, 768, 384, 768, 12},
    {"rn50x64", {3, 15, 36, 10}, 128, 1024, 448, 1024, 12},
};

/* conv [out, in, k, k] (no bias) and its BatchNorm (weight, bias, running stats, counter). */
static void conv_bn(gen *g, const char *conv, const char *bn, int out, int in, int k, float gain)
{
    char n[256];
    add(g, conv, 4, (int64_t[]){out, in, k, k}, 0.0f, gain / __builtin_sqrtf((float)(in * k * k)));
    snprintf(n, sizeof n, "%s.weight", bn);
    add(g, n, 1, D1(out), 1.0f, 0.1f);
    snprintf(n, sizeof n, "%s.bias", bn);
    add(g, n, 1, D1(out), 0.0f, 0.05f);
    snprintf(n, sizeof n, "%s.running_mean", bn);
    add(g, n, 1, D1(out), 0.0f, 0.05f);
    snprintf(n, sizeof n, "%s.running_var", bn);
    add(g, n, 1, D1(out), 1.0f, 0.1f);
    snprintf(n, sizeof n, "%s.num_batches_tracked", bn);
    grow(g);
    int64_t *cnt = malloc(sizeof *cnt);
    char *nm = strdup(n);
    if (!cnt || !nm) die("out of memory");
    *cnt = 0;
    g->e[g->n] = (cs_st_entry){nm, CS_DT_I64, 0, NULL, cnt};
    g->bufs[g->n] = cnt;
    g->n++;
}

static void resnet_tower(gen *g, const rn_arch *a, int w)
{
    conv_bn(g, "visual.conv1.weight", "visual.bn1", w / 2, 3, 3, 1.7f);
    conv_bn(g, "visual.conv2.weight", "visual.bn2", w / 2, w / 2, 3, 1.7f);
    conv_bn(g, "visual.conv3.weight", "visual.bn3", w, w / 2, 3, 1.7f);
    int in = w;
    for (int s = 0; s < 4; s++) {
        int p = w << s;
        for (int b = 0; b < a->layers[s]; b++) {
            char c[128], n[128];
#define NM(buf, suffix) (snprintf(buf, sizeof buf, "visual.layer%d.%d.%s", s + 1, b, suffix), buf)
            conv_bn(g, NM(c, "conv1.weight"), NM(n, "bn1"), p, in, 1, 1.7f);
            conv_bn(g, NM(c, "conv2.weight"), NM(n, "bn2"), p, p, 3, 1.7f);
            conv_bn(g, NM(c, "conv3.weight"), NM(n, "bn3"), 4 * p, p, 1, 0.5f);
            if (b == 0) conv_bn(g, NM(c, "downsample.0.weight"), NM(n, "downsample.1"), 4 * p, in, 1, 1.0f);
#undef NM
            in = 4 * p;
        }
    }
    int d = 32 * w, grid = a->image / 32;
    add(g, "visual.attnpool.positional_embedding", 2, D2(1 + grid * grid, d), 0.0f,
        1.0f / __builtin_sqrtf((float)d));
    linear(g, "visual.attnpool.k_proj.weight", "visual.attnpool.k_proj.bias", d, d);
    linear(g, "visual.attnpool.q_proj.weight", "visual.attnpool.q_proj.bias", d, d);
    linear(g, "visual.attnpool.v_proj.weight", "visual.attnpool.v_proj.bias", d, d);
    linear(g, "visual.attnpool.c_proj.weight", "visual.attnpool.c_proj.bias", a->embed, d);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    const rn_arch *arch = NULL;
    int scale_down = 1;
    gen g = {0};
    g.rng = 0x9E3779B97F4A7C15ULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "hf") == 0) g.hf = 1;
            else if (strcmp(argv[i], "openai") != 0) die("--layout is openai or hf");
        } else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "f16") == 0) g.f16 = 1;
            else if (strcmp(argv[i], "f32") != 0) die("--dtype is f32 or f16");
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            g.rng ^= strtoull(argv[++i], NULL, 10) * 0xD1B54A32D192ED03ULL;
            if (!g.rng) g.rng = 1;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc) {
            i++;
            arch = NULL;
            for (size_t k = 0; k < sizeof RN_ARCHS / sizeof RN_ARCHS[0]; k++)
                if (strcmp(argv[i], RN_ARCHS[k].name) == 0) arch = &RN_ARCHS[k];
            if (!arch && strcmp(argv[i], "vitb16") != 0)
                die("--arch is vitb16, rn50, rn101, rn50x4, rn50x16 or rn50x64");
        } else if (strcmp(argv[i], "--scale-down") == 0 && i + 1 < argc) {
            scale_down = atoi(argv[++i]);
            if (scale_down < 1 || scale_down > 64) die("--scale-down is 1..64");
        } else {
            fprintf(stderr, "usage: gen_model [--layout openai|hf] [--arch vitb16|rn50|rn101|rn50x4|"
                            "rn50x16|rn50x64] [--scale-down K] [--dtype f32|f16] [--seed N] "
                            "--out FILE.safetensors\n");
            return 2;
        }
    }
    if (!out) die("--out FILE is required");
    if (arch && g.hf) die("ResNet CLIP checkpoints use the OpenAI naming (no --layout hf)");
    if (arch) {
        int w = arch->width / scale_down, tw = arch->text_width / scale_down / 64 * 64;
        int tl = scale_down > 1 ? 1 : arch->text_layers;
        if (w < 2 || w % 2 || tw < 64 || tw % 64) die("--scale-down too large for this --arch");
        resnet_tower(&g, arch, w);
        add(&g, "token_embedding.weight", 2, D2(VOCAB, tw), 0.0f, 0.05f);
        add(&g, "positional_embedding", 2, D2(CTX, tw), 0.0f, 0.02f);
        blocks(&g, "transformer.", tw, tl);
        layer_norm(&g, "ln_final.weight", "ln_final.bias", tw);
        add(&g, "text_projection", 2, D2(tw, arch->embed), 0.0f, 1.0f / __builtin_sqrtf((float)tw));
    } else if (g.hf) {
        add(&g, "vision_model.embeddings.class_embedding", 1, D1(VW), 0.0f, 0.1f);
        add(&g, "vision_model.embeddings.patch_embedding.weight", 4,
            (int64_t[]){VW, 3, PATCH, PATCH}, 0.0f, 1.0f / 27.7f);
        add(&g, "vision_model.embeddings.position_embedding.weight", 2, D2(NPOS, VW), 0.0f, 0.1f);
        add_ids(&g, "vision_model.embeddings.position_ids", NPOS);
        layer_norm(&g, "vision_model.pre_layrnorm.weight", "vision_model.pre_layrnorm.bias", VW);
        blocks(&g, "vision_model", VW, VL);
        layer_norm(&g, "vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias",
                   VW);
        linear(&g, "visual_projection.weight", NULL, EMBED, VW);
        add(&g, "text_model.embeddings.token_embedding.weight", 2, D2(VOCAB, TW), 0.0f, 0.05f);
        add(&g, "text_model.embeddings.position_embedding.weight", 2, D2(CTX, TW), 0.0f, 0.02f);
        add_ids(&g, "text_model.embeddings.position_ids", CTX);
        blocks(&g, "text_model", TW, TL);
        layer_norm(&g, "text_model.final_layer_norm.weight", "text_model.final_layer_norm.bias",
                   TW);
        linear(&g, "text_projection.weight", NULL, EMBED, TW);
    } else {
        add(&g, "visual.class_embedding", 1, D1(VW), 0.0f, 0.1f);
        add(&g, "visual.conv1.weight", 4, (int64_t[]){VW, 3, PATCH, PATCH}, 0.0f, 1.0f / 27.7f);
        add(&g, "visual.positional_embedding", 2, D2(NPOS, VW), 0.0f, 0.1f);
        layer_norm(&g, "visual.ln_pre.weight", "visual.ln_pre.bias", VW);
        blocks(&g, "visual.transformer.", VW, VL);
        layer_norm(&g, "visual.ln_post.weight", "visual.ln_post.bias", VW);
        add(&g, "visual.proj", 2, D2(VW, EMBED), 0.0f, 1.0f / 27.7f); /* [width, embed] */
        add(&g, "token_embedding.weight", 2, D2(VOCAB, TW), 0.0f, 0.05f);
        add(&g, "positional_embedding", 2, D2(CTX, TW), 0.0f, 0.02f);
        blocks(&g, "transformer.", TW, TL);
        layer_norm(&g, "ln_final.weight", "ln_final.bias", TW);
        add(&g, "text_projection", 2, D2(TW, EMBED), 0.0f, 1.0f / 22.6f);
    }
    if (arch) add(&g, "logit_scale", 0, NULL, 4.6052f, 0.0f); /* [] as in real checkpoints */
    else add(&g, "logit_scale", 1, D1(1), 4.6052f, 0.0f);
    for (size_t i = 0; i < g.n; i++) g.e[i].shape = g.shapes[i];
    cs_st_meta meta[2] = {{(char *)"format", (char *)"pt"},
                          {(char *)"generator", (char *)"libclipsurgery tools/gen_model (random)"}};
    cs_status s = cs_st_write(out, g.e, g.n, meta, 2);
    for (size_t i = 0; i < g.n; i++) {
        free((char *)g.e[i].name);
        free(g.bufs[i]);
    }
    free(g.e);
    free(g.shapes);
    free(g.bufs);
    if (s != CS_OK) {
        fprintf(stderr, "gen_model: cannot write %s: %s\n", out, cs_status_string(s));
        return 1;
    }
    return 0;
}
