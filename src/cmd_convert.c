/* clipsurgery convert: one self-contained .safetensors bundle (weights in OpenAI naming, the
 * vocabulary's merges as a U8 tensor, activation and layer-norm eps in __metadata__) that
 * cs_model_load opens with nothing beside it. */
#include "cli.h"

#include "core/common.h"
#include "io/model.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: clipsurgery convert MODEL OUT.safetensors [--dtype f32|f16] [--vocab PATH]\n"
    "Writes one self-contained file: the weights (OpenAI naming), the vocabulary (tensor\n"
    "\"clipsurgery.vocab.merges\", U8) and the configuration (__metadata__), so that the model loads\n"
    "with nothing beside it. --dtype: f16 halves the size (values rounded to nearest even); the\n"
    "default keeps the source's precision (F16 stays F16; F32 and BF16 become F32).\n"
    "The vocabulary: --vocab, else the one beside MODEL (bpe_simple_vocab_16e6.txt.gz or\n"
    "merges.txt of a Hugging Face folder); a model without one is bundled without.\n";

typedef struct bundle {
    cs_st_entry *e;
    int64_t (*shapes)[4];
    char **names;
    void **bufs;
    size_t n, cap;
    int f16;
    int failed;       /* out of memory */
    char *overflow;   /* first tensor holding a finite value beyond the f16 range */
    float overflow_value;
} bundle;

static void add(bundle *b, const char *name, const float *data, int ndim, int64_t d0, int64_t d1,
                int64_t d2, int64_t d3)
{
    if (b->failed) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        cs_st_entry *e = realloc(b->e, cap * sizeof *e);
        int64_t(*s)[4] = e ? realloc(b->shapes, cap * sizeof *s) : NULL;
        char **nm = s ? realloc(b->names, cap * sizeof *nm) : NULL;
        void **bf = nm ? realloc(b->bufs, cap * sizeof *bf) : NULL;
        if (e) b->e = e;
        if (s) b->shapes = s;
        if (nm) b->names = nm;
        if (bf) b->bufs = bf;
        if (!bf) {
            b->failed = 1;
            return;
        }
        b->cap = cap;
    }
    size_t i = b->n;
    int64_t dims[4] = {d0, d1, d2, d3};
    size_t count = 1;
    for (int k = 0; k < ndim; k++) count *= (size_t)dims[k];
    memcpy(b->shapes[i], dims, sizeof dims);
    b->names[i] = strdup(name);
    b->bufs[i] = NULL;
    const void *out = data;
    if (b->f16) {
        uint16_t *h = malloc(count * sizeof *h);
        if (!h) {
            b->failed = 1;
            free(b->names[i]);
            return;
        }
        for (size_t k = 0; k < count; k++) {
            h[k] = cs_f32_to_f16(data[k]);
            /* a finite value that rounds to infinity would silently break the model */
            if ((h[k] & 0x7fffu) == 0x7c00u && isfinite(data[k]) && !b->overflow) {
                b->overflow = strdup(name);
                b->overflow_value = data[k];
                if (!b->overflow) b->failed = 1;
            }
        }
        b->bufs[i] = h;
        out = h;
    }
    b->e[i].name = b->names[i];
    b->e[i].dtype = b->f16 ? CS_DT_F16 : CS_DT_F32;
    b->e[i].ndim = ndim;
    b->e[i].shape = b->shapes[i];
    b->e[i].data = out;
    b->n++;
}

/* Buffers that must outlive the write (transposed projections). */
static float *transposed(const float *src, int rows, int cols)
{
    float *t = malloc(sizeof(float) * (size_t)rows * cols);
    if (!t) return NULL;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) t[(size_t)c * rows + r] = src[(size_t)r * cols + c];
    return t;
}

static void add_blocks(bundle *b, const char *prefix, const cs_block_weights *blocks, int layers,
                       int w, int mlp)
{
    char n[256];
    for (int i = 0; i < layers; i++) {
        const cs_block_weights *k = &blocks[i];
#define ADD(suffix, data, nd, a, bb) \
    (snprintf(n, sizeof n, "%s%d.%s", prefix, i, suffix), add(b, n, data, nd, a, bb, 0, 0))
        ADD("attn.in_proj_weight", k->qkv_w, 2, 3 * w, w);
        ADD("attn.in_proj_bias", k->qkv_b, 1, 3 * w, 0);
        ADD("attn.out_proj.weight", k->out_w, 2, w, w);
        ADD("attn.out_proj.bias", k->out_b, 1, w, 0);
        ADD("ln_1.weight", k->ln_1_w, 1, w, 0);
        ADD("ln_1.bias", k->ln_1_b, 1, w, 0);
        ADD("mlp.c_fc.weight", k->fc_w, 2, mlp, w);
        ADD("mlp.c_fc.bias", k->fc_b, 1, mlp, 0);
        ADD("mlp.c_proj.weight", k->proj_w, 2, w, mlp);
        ADD("mlp.c_proj.bias", k->proj_b, 1, w, 0);
        ADD("ln_2.weight", k->ln_2_w, 1, w, 0);
        ADD("ln_2.bias", k->ln_2_b, 1, w, 0);
#undef ADD
    }
}

/* The merges text of a vocabulary (--vocab, else the input bundle's own, else the file beside
 * MODEL: gz decompressed, or merges.txt), malloc'd. */
static int read_merges(const char *model_path, const char *vocab, const cs_st_tensor *bundled,
                       char **text, size_t *size)
{
    char cand[3][4200];
    int n = 0;
    if (vocab) {
        struct stat sb;
        size_t len = strlen(vocab);
        if (stat(vocab, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            snprintf(cand[n++], sizeof cand[0], "%.4000s/bpe_simple_vocab_16e6.txt.gz", vocab);
            snprintf(cand[n++], sizeof cand[0], "%.4000s/merges.txt", vocab);
        } else if (len >= 10 && strcmp(vocab + len - 10, "vocab.json") == 0) {
            snprintf(cand[n++], sizeof cand[0], "%.*smerges.txt", (int)(len - 10), vocab);
        } else {
            snprintf(cand[n++], sizeof cand[0], "%s", vocab);
        }
    } else if (bundled) {
        /* the input is itself a bundle: carry its vocabulary over (it has no file beside it) */
        char *t = malloc(bundled->nbytes + 1);
        if (!t) {
            fprintf(stderr, "clipsurgery convert: out of memory\n");
            return CLI_RUNTIME;
        }
        memcpy(t, bundled->data, bundled->nbytes);
        t[bundled->nbytes] = '\0';
        *text = t;
        *size = bundled->nbytes;
        return CLI_OK;
    } else {
        struct stat sb;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", model_path);
        if (!(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0';
            else snprintf(dir, sizeof dir, ".");
        }
        snprintf(cand[n++], sizeof cand[0], "%.4000s/bpe_simple_vocab_16e6.txt.gz", dir);
        snprintf(cand[n++], sizeof cand[0], "%.4000s/merges.txt", dir);
    }
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(cand[i], &sb) != 0) continue;
        cs_status s = cs_read_merges_file(cand[i], text, size);
        if (s != CS_OK) return cli_status_error("convert", cand[i], s);
        return CLI_OK;
    }
    if (vocab) {
        fprintf(stderr, "clipsurgery convert: no merges found for --vocab %s\n", vocab);
        return CLI_RUNTIME;
    }
    *text = NULL;
    *size = 0;
    return CLI_OK;
}

/* A ResNet image tower is bundled as the source's own "visual.*" tensors (BatchNorms unfolded,
 * as in the checkpoint), widened to f32 (kept in *keep until the write); the counters
 * (num_batches_tracked) and the "visual.attnpool.attn.*" copies are left out. */
static void add_resnet_tower(bundle *b, const cs_safetensors *st, float ***keep, size_t *n_keep)
{
    *keep = calloc(st->n_tensors ? st->n_tensors : 1, sizeof **keep);
    if (!*keep) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i < st->n_tensors && !b->failed; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        if (strncmp(t->name, "visual.", 7) != 0 || strncmp(t->name, "visual.attnpool.attn.", 21) == 0)
            continue;
        if (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16) continue;
        if (t->ndim > 4) continue;
        float *f = malloc(sizeof(float) * (t->n_elements ? t->n_elements : 1));
        if (!f || cs_st_to_f32(t, f) != CS_OK) {
            free(f);
            b->failed = 1;
            return;
        }
        (*keep)[(*n_keep)++] = f;
        int64_t d[4] = {0, 0, 0, 0};
        for (int k = 0; k < t->ndim; k++) d[k] = t->shape[k];
        add(b, t->name, f, t->ndim, d[0], d[1], d[2], d[3]);
    }
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *vocab = NULL;
    int f16 = -1; /* default: F16 when the source is F16, else F32 */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--dtype") == 0) {
            if (++i >= argc) return cli_usage_error("convert", "--dtype needs f32 or f16");
            if (strcmp(argv[i], "f16") == 0) f16 = 1;
            else if (strcmp(argv[i], "f32") == 0) f16 = 0;
            else return cli_usage_error("convert", "bad --dtype %s", argv[i]);
        } else if (strcmp(argv[i], "--vocab") == 0) {
            if (++i >= argc) return cli_usage_error("convert", "--vocab needs a path");
            vocab = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("convert", "unknown option %s", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return cli_usage_error("convert", "too many arguments");
        }
    }
    if (!in || !out) return cli_usage_error("convert", "MODEL and OUT.safetensors are required");
    cs_model *m = cli_load_model("convert", in, vocab, 0);
    if (!m) return CLI_RUNTIME;
    char *merges = NULL;
    size_t merges_size = 0;
    int rc = read_merges(in, vocab, cs_st_find(m->st, "clipsurgery.vocab.merges"), &merges,
                         &merges_size);
    if (rc != CLI_OK) {
        cs_model_free(m);
        return rc;
    }
    bundle b;
    memset(&b, 0, sizeof b);
    b.f16 = f16 >= 0 ? f16 : (m->dtype_bits == 16 && !m->is_bf16);
    const cs_vision_weights *v = &m->vision;
    const cs_text_weights *t = &m->text;
    int D = m->embed_dim;
    int rn = m->backbone == CS_BACKBONE_RESNET;
    float *vproj = rn ? NULL : transposed(v->proj, D, v->width), *tproj = transposed(t->proj, D, t->width);
    float logit = m->logit_scale > 0 ? logf(m->logit_scale) : 0.0f;
    float **keep = NULL;
    size_t n_keep = 0;
    if ((!rn && !vproj) || !tproj) b.failed = 1;
    if (rn) add_resnet_tower(&b, m->st, &keep, &n_keep);
    else {
        add(&b, "visual.conv1.weight", v->patch_w, 4, v->width, 3, v->patch_size, v->patch_size);
        add(&b, "visual.class_embedding", v->class_embedding, 1, v->width, 0, 0, 0);
        add(&b, "visual.positional_embedding", v->positional_embedding, 2, 1 + (int64_t)v->grid * v->grid, v->width, 0, 0);
        add(&b, "visual.ln_pre.weight", v->ln_pre_w, 1, v->width, 0, 0, 0);
        add(&b, "visual.ln_pre.bias", v->ln_pre_b, 1, v->width, 0, 0, 0);
        add_blocks(&b, "visual.transformer.resblocks.", v->blocks, v->layers, v->width, v->mlp_dim);
        add(&b, "visual.ln_post.weight", v->ln_post_w, 1, v->width, 0, 0, 0);
        add(&b, "visual.ln_post.bias", v->ln_post_b, 1, v->width, 0, 0, 0);
        if (vproj) add(&b, "visual.proj", vproj, 2, v->width, D, 0, 0);
    }
    add(&b, "token_embedding.weight", t->token_embedding, 2, t->vocab_size, t->width, 0, 0);
    add(&b, "positional_embedding", t->positional_embedding, 2, t->context_length, t->width, 0, 0);
    add_blocks(&b, "transformer.resblocks.", t->blocks, t->layers, t->width, t->mlp_dim);
    add(&b, "ln_final.weight", t->ln_final_w, 1, t->width, 0, 0, 0);
    add(&b, "ln_final.bias", t->ln_final_b, 1, t->width, 0, 0, 0);
    if (tproj) add(&b, "text_projection", tproj, 2, t->width, D, 0, 0);
    if (m->logit_scale > 0) add(&b, "logit_scale", &logit, 0, 0, 0, 0, 0);
    int64_t mshape[1] = {(int64_t)merges_size};
    if (!b.failed && merges) {
        cs_st_entry extra[1] = {{"clipsurgery.vocab.merges", CS_DT_U8, 1, mshape, merges}};
        cs_st_entry *ne = realloc(b.e, (b.n + 1) * sizeof *ne);
        if (!ne) b.failed = 1;
        else {
            b.e = ne;
            b.e[b.n] = extra[0];
        }
    }
    if (b.failed) {
        fprintf(stderr, "clipsurgery convert: out of memory\n");
        rc = CLI_RUNTIME;
    } else if (b.overflow) {
        fprintf(stderr,
                "clipsurgery convert: tensor \"%s\" holds %g, beyond the f16 range (+-65504): "
                "keep --dtype f32 (nothing written)\n",
                b.overflow, (double)b.overflow_value);
        rc = CLI_RUNTIME;
    } else {
        char eps[32];
        snprintf(eps, sizeof eps, "%.9g", (double)m->layer_norm_eps);
        cs_st_meta meta[4] = {{"format", "pt"},
                              {"clipsurgery.format", "bundle-1"},
                              {"clipsurgery.activation", m->activation == CS_ACT_GELU ? "gelu" : "quick_gelu"},
                              {"clipsurgery.layer_norm_eps", eps}};
        cs_status s = cs_st_write(out, b.e, b.n + (merges ? 1 : 0), meta, 4);
        if (s != CS_OK) rc = cli_status_error("convert", out, s);
        else fprintf(stderr, "clipsurgery convert: wrote %s (%zu tensors%s)\n", out, b.n,
                     merges ? " + vocabulary" : ", no vocabulary");
    }
    for (size_t i = 0; i < b.n; i++) {
        free(b.names[i]);
        free(b.bufs[i]);
    }
    free(b.e);
    free(b.shapes);
    free(b.names);
    free(b.bufs);
    free(b.overflow);
    free(vproj);
    free(tproj);
    for (size_t i = 0; i < n_keep; i++) free(keep[i]);
    free(keep);
    free(merges);
    cs_model_free(m);
    return rc;
}
