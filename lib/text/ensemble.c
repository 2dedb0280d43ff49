/* Prompt ensembles (REFERENCE 3, clip_surgery_model.encode_text_with_prompt_ensemble): per class,
 * the 85 templates filled with the class name, encoded, each L2-normalised, averaged and
 * re-normalised. The redundant feature is the ensemble of the empty class name. */
#include "core/common.h"
#include "core/context.h"
#include "text/text_encoder.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Classes encoded together (85 texts each) per call of the text encoder. */
#define CS_ENSEMBLE_GROUP 16

/* template with its "{}" replaced by name (malloc'd) */
static char *fill_template(const char *tpl, const char *name)
{
    const char *hole = strstr(tpl, "{}");
    size_t lt = strlen(tpl), ln = strlen(name);
    size_t pre = hole ? (size_t)(hole - tpl) : lt;
    size_t post = hole ? lt - pre - 2 : 0;
    size_t len;
    if (!cs_add_size(pre + post, ln, &len) || !cs_add_size(len, 1, &len)) return NULL;
    char *s = malloc(len);
    if (!s) return NULL;
    memcpy(s, tpl, pre);
    size_t o = pre;
    if (hole) {
        memcpy(s + o, name, ln);
        o += ln;
        memcpy(s + o, hole + 2, post);
        o += post;
    }
    s[o] = '\0';
    return s;
}

/* Ensemble over the templates tpl(0) .. tpl(nt - 1). */
static cs_status ensemble_with(cs_context *ctx, const char *(*tpl)(int), int nt,
                               const char *const *class_names, int n_classes, float *features,
                               size_t capacity)
{
    if (!ctx || !ctx->model) return cs_fail(CS_ERR_INVALID_ARGUMENT, "context must not be NULL");
    if (!class_names || !features)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "class_names and features must not be NULL");
    if (n_classes <= 0 || n_classes > INT32_MAX / nt)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "n_classes %d out of range", n_classes);
    int d = ctx->model->embed_dim;
    if (d <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "model has no embedding dimension");
    if (capacity / (size_t)d < (size_t)n_classes)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "features need %d x %d floats, capacity is %zu",
                       n_classes, d, capacity);
    for (int c = 0; c < n_classes; c++)
        if (!class_names[c])
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "class name %d is NULL", c);

    /* Tokenize everything first, so a text that is too long fails before any output. */
    int n_texts = n_classes * nt;
    char **texts = cs_calloc_array((size_t)n_texts, sizeof(char *));
    if (!texts) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate %d prompts", n_texts);
    cs_status st = CS_OK;
    for (int c = 0; c < n_classes && st == CS_OK; c++)
        for (int i = 0; i < nt; i++) {
            texts[(size_t)c * nt + i] = fill_template(tpl(i), class_names[c]);
            if (!texts[(size_t)c * nt + i]) {
                st = cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot build prompt for class %d", c);
                break;
            }
        }
    int32_t *ids = NULL;
    if (st == CS_OK) st = cs_text_tokenize_all(ctx, (const char *const *)texts, n_texts, &ids);
    for (int i = 0; i < n_texts; i++) free(texts[i]);
    free(texts);
    if (st != CS_OK) return st;

    int group = n_classes < CS_ENSEMBLE_GROUP ? n_classes : CS_ENSEMBLE_GROUP;
    float *f = cs_alloc_array((size_t)group * nt * d, sizeof(float));
    float *out = cs_alloc_array((size_t)n_classes * d, sizeof(float));
    if (!f || !out) {
        free(f);
        free(out);
        free(ids);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate ensemble features");
    }
    for (int c0 = 0; c0 < n_classes && st == CS_OK; c0 += group) {
        int nc = n_classes - c0 < group ? n_classes - c0 : group;
        st = cs_text_encode_ids(ctx, ids + (size_t)c0 * nt * CS_CONTEXT_LENGTH, nc * nt, f,
                                (size_t)group * nt * d);
        if (st != CS_OK) break;
        cs_l2_normalize(f, (size_t)nc * nt, (size_t)d);
        for (int c = 0; c < nc; c++) {
            float *o = out + (size_t)(c0 + c) * d;
            const float *fc = f + (size_t)c * nt * d;
            for (int k = 0; k < d; k++) o[k] = 0.0f;
            for (int i = 0; i < nt; i++)
                for (int k = 0; k < d; k++) o[k] += fc[(size_t)i * d + k];
            for (int k = 0; k < d; k++) o[k] /= (float)nt;
        }
    }
    if (st == CS_OK) {
        cs_l2_normalize(out, (size_t)n_classes, (size_t)d);
        memcpy(features, out, (size_t)n_classes * d * sizeof(float));
    }
    free(f);
    free(out);
    free(ids);
    return st;
}

CS_API cs_status cs_prompt_ensemble(cs_context *ctx, const char *const *class_names,
                                    int n_classes, float *features, size_t capacity)
{
    cs_clear_error();
    return ensemble_with(ctx, cs_prompt_template, cs_prompt_template_count(), class_names,
                         n_classes, features, capacity);
}

static const char *photo_template(int i)
{
    return i == 0 ? "a photo of a {}." : NULL;
}

/* The official template sets of the dense methods (docs/methods.md): the 85 of the reference
 * (MaskCLIP's own), the 80 OpenAI ImageNet templates (SCLIP, ClearCLIP, NACLIP: the first 80 of
 * the 85) and GEM's single template. */
CS_API cs_status cs_method_prompt_ensemble(cs_context *ctx, const cs_method_params *params,
                                           const char *const *class_names, int n_classes,
                                           float *features, size_t capacity)
{
    cs_clear_error();
    cs_template_set set = CS_TEMPLATES_85;
    if (params) {
        if (params->size < offsetof(cs_method_params, templates) + sizeof(cs_template_set))
            return cs_fail(CS_ERR_INVALID_ARGUMENT,
                           "cs_method_params.size %zu is too small (use "
                           "cs_method_params_default)", params->size);
        set = params->templates;
    }
    switch (set) {
    case CS_TEMPLATES_85:
        return ensemble_with(ctx, cs_prompt_template, cs_prompt_template_count(), class_names,
                             n_classes, features, capacity);
    case CS_TEMPLATES_IMAGENET_80:
        return ensemble_with(ctx, cs_prompt_template, 80, class_names, n_classes, features,
                             capacity);
    case CS_TEMPLATES_PHOTO:
        return ensemble_with(ctx, photo_template, 1, class_names, n_classes, features, capacity);
    }
    return cs_fail(CS_ERR_INVALID_ARGUMENT, "template set %d is not a cs_template_set", (int)set);
}

CS_API cs_status cs_redundant_feature(cs_context *ctx, float *out, size_t capacity)
{
    const char *empty[1] = {""};
    return cs_prompt_ensemble(ctx, empty, 1, out, capacity);
}
