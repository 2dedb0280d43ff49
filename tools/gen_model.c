/* gen_model: writes a random CLIP checkpoint of full ViT-B/16 size (vision width 768, 12 layers,
 * 12 heads, patch 16, image 224; text width 512, 12 layers, 8 heads, context 77, vocabulary
 * 49408; embed dim 512) in OpenAI/OpenCLIP or Hugging Face naming, stored as F32 or F16.
 * Real weights cannot be downloaded here; the benchmark times the forward pass on this file.
 * Values are random but well scaled (no overflow, NaN or subnormal activations).
 *
 *   gen_model [--layout openai|hf] [--dtype f32|f16] [--seed N] --out FILE.safetensors */
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

int main(int argc, char **argv)
{
    const char *out = NULL;
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
        } else {
            fprintf(stderr, "usage: gen_model [--layout openai|hf] [--dtype f32|f16] [--seed N] "
                            "--out FILE.safetensors\n");
            return 2;
        }
    }
    if (!out) die("--out FILE is required");
    if (g.hf) {
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
    add(&g, "logit_scale", 1, D1(1), 4.6052f, 0.0f);
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
