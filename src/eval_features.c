/* --method: the image-feature path of an evaluation. One table maps a method name to the call
 * that gives its [1 + N, D] tokens; the rest of the protocol (EVAL.md 2-4) is the same for every
 * method. The sibling methods (MaskCLIP, SCLIP, ClearCLIP, NACLIP, GEM) run their official presets. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

typedef cs_status (*method_fn)(cs_context *ctx, const float *pixels, int size, float *out,
                               size_t capacity);

/* CLIP Surgery image encoder with its defaults (EVAL.md 1.3): last 6 blocks dual path, v-v. */
static cs_status surgery_features(cs_context *ctx, const float *pixels, int size, float *out,
                                  size_t capacity)
{
    return cs_surgery_apply(ctx, NULL, pixels, 1, size, size, out, capacity);
}

/* Raw CLIP: ln_post and proj on every token of the plain encoder. */
static cs_status raw_features(cs_context *ctx, const float *pixels, int size, float *out,
                              size_t capacity)
{
    return cs_encode_images(ctx, pixels, 1, size, size, out, capacity);
}

/* A sibling training-free method (MaskCLIP, SCLIP, ClearCLIP, NACLIP, GEM) with its official
 * preset (cs_method_params_default), through cs_method_apply: the same protocol for all. */
#define SIBLING(fn_name, preset)                                                                   \
    static cs_status fn_name(cs_context *ctx, const float *pixels, int size, float *out,         \
                             size_t capacity)                                                      \
    {                                                                                              \
        cs_method_params mp;                                                                       \
        cs_status s = cs_method_params_default(&mp, preset);                                       \
        if (s != CS_OK) return s;                                                                  \
        return cs_method_apply(ctx, &mp, pixels, 1, size, size, out, capacity);                   \
    }
SIBLING(maskclip_features, CS_METHOD_MASKCLIP)
SIBLING(sclip_features, CS_METHOD_SCLIP)
SIBLING(clearclip_features, CS_METHOD_CLEARCLIP)
SIBLING(naclip_features, CS_METHOD_NACLIP)
SIBLING(gem_features, CS_METHOD_GEM)

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"clip-surgery", surgery_features},
    {"raw", raw_features},
    {"maskclip", maskclip_features},
    {"sclip", sclip_features},
    {"clearclip", clearclip_features},
    {"naclip", naclip_features},
    {"gem", gem_features},
};
#define N_METHODS (sizeof methods / sizeof methods[0])

static method_fn find(const char *name)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (strcmp(methods[i].name, name) == 0) return methods[i].fn;
    return NULL;
}

int eval_method_known(const char *method) { return method && find(method) != NULL; }

const char *eval_methods_list(void) { return "clip-surgery, raw, maskclip, sclip, clearclip, naclip, gem"; }

int eval_image_features(eval_run *run, const float *pixels, float **features, int *n_tokens,
                        int *grid)
{
    method_fn fn = find(run->method);
    if (!fn) return cli_usage_error(run->cmd, "unknown --method %s", run->method);
    int nt = cs_model_image_tokens(run->model, run->size, run->size);
    if (nt <= 0) {
        fprintf(stderr, "clipsurgery %s: --size %d is not a multiple of the patch size %d\n",
                run->cmd, run->size, cs_model_patch_size(run->model));
        return CLI_USAGE;
    }
    size_t n = (size_t)nt * (size_t)run->dim;
    float *f = malloc(sizeof(float) * n);
    if (!f) {
        fprintf(stderr, "clipsurgery %s: out of memory\n", run->cmd);
        return CLI_RUNTIME;
    }
    cs_status s = fn(run->ctx, pixels, run->size, f, n);
    if (s != CS_OK) {
        free(f);
        return cli_status_error(run->cmd, "image features", s);
    }
    cs_l2_normalize(f, (size_t)nt, (size_t)run->dim); /* F / ||F|| per token (EVAL.md 1.3) */
    *features = f;
    *n_tokens = nt;
    *grid = run->size / cs_model_patch_size(run->model);
    return CLI_OK;
}
