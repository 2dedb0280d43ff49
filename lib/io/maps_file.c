/* Saved map tensors: "maps" [B, H, W, T] or [H, W, T] with optional text names. */
#include "io/maps_file.h"

#include "core/common.h"
#include "io/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cs_maps_file_free(cs_maps_file *m)
{
    if (!m) return;
    if (m->texts)
        for (int t = 0; t < m->n_maps; t++) free(m->texts[t]);
    free(m->texts);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* The "clipsurgery.texts" metadata when it is a JSON array of exactly n strings; else NULL. */
static char **read_texts(const cs_safetensors *st, int n)
{
    const char *js = cs_st_meta_get(st, "clipsurgery.texts");
    if (!js) return NULL;
    json_error_t err;
    json_t *arr = json_loads(js, JSON_REJECT_DUPLICATES, &err);
    char **texts = NULL;
    if (arr && json_is_array(arr) && json_array_size(arr) == (size_t)n) {
        texts = calloc((size_t)n, sizeof *texts);
        for (int t = 0; texts && t < n; t++) {
            const char *s = json_string_value(json_array_get(arr, (size_t)t));
            if (!s || !(texts[t] = strdup(s))) {
                for (int u = 0; u < t; u++) free(texts[u]);
                free(texts);
                texts = NULL;
            }
        }
    }
    json_decref(arr);
    return texts;
}

static cs_status read_parsed(const cs_safetensors *st, cs_maps_file *out)
{
    const cs_st_tensor *t = cs_st_find(st, "maps");
    if (!t) return cs_fail(CS_ERR_FORMAT, "no tensor \"maps\" ([B, H, W, T] or [H, W, T])");
    if (t->ndim != 3 && t->ndim != 4)
        return cs_fail(CS_ERR_FORMAT, "\"maps\" has %d dimensions (needs [B, H, W, T] or "
                       "[H, W, T])", t->ndim);
    if (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16)
        return cs_fail(CS_ERR_FORMAT, "\"maps\" is %s (needs F32, F16 or BF16)",
                       cs_dtype_name(t->dtype));
    const int o = t->ndim - 3;
    const int64_t b = o ? t->shape[0] : 1, h = t->shape[o], w = t->shape[o + 1],
                  n = t->shape[o + 2];
    if (b < 1 || h < 1 || w < 1 || n < 1)
        return cs_fail(CS_ERR_FORMAT, "\"maps\" has an empty dimension");
    if (h > CS_MAPS_MAX_SIDE || w > CS_MAPS_MAX_SIDE || b > CS_MAPS_MAX_COUNT ||
        n > CS_MAPS_MAX_COUNT)
        return cs_fail(CS_ERR_TOO_LARGE, "\"maps\" [%lld, %lld, %lld, %lld] is over the limits "
                       "(sides %d, B and T %d)", (long long)b, (long long)h, (long long)w,
                       (long long)n, CS_MAPS_MAX_SIDE, CS_MAPS_MAX_COUNT);
    /* at most 2^16 * 2^16 * 2^16 * 2^16 = 2^64: multiply in stages with the cap in between */
    const unsigned long long cells = (unsigned long long)h * (unsigned long long)w;
    if (cells > CS_MAPS_MAX_VALUES || cells * (unsigned long long)n > CS_MAPS_MAX_VALUES ||
        cells * (unsigned long long)n * (unsigned long long)b > CS_MAPS_MAX_VALUES)
        return cs_fail(CS_ERR_TOO_LARGE, "\"maps\" holds more than %llu values",
                       (unsigned long long)CS_MAPS_MAX_VALUES);
    if ((unsigned long long)t->n_elements != cells * (unsigned long long)n * (unsigned long long)b)
        return cs_fail(CS_ERR_FORMAT, "\"maps\": element count disagrees with its shape");
    float *v = cs_alloc_array(t->n_elements, sizeof *v);
    if (!v) return cs_fail(CS_ERR_OUT_OF_MEMORY, "maps: %zu floats", t->n_elements);
    cs_status s = cs_st_to_f32(t, v);
    if (s != CS_OK) {
        free(v);
        return cs_fail(s, "\"maps\": cannot widen to f32");
    }
    memset(out, 0, sizeof *out);
    out->batch = (int)b;
    out->has_batch = o;
    out->height = (int)h;
    out->width = (int)w;
    out->n_maps = (int)n;
    out->values = v;
    out->texts = read_texts(st, (int)n);
    return CS_OK;
}

cs_status cs_maps_read_memory(const void *data, size_t size, cs_maps_file *out)
{
    if (!data || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_maps_read_memory: NULL");
    cs_safetensors *st = NULL;
    cs_status s = cs_st_parse(data, size, &st);
    if (s != CS_OK) return s;
    s = read_parsed(st, out);
    cs_st_close(st);
    return s;
}

cs_status cs_maps_read_file(const char *path, cs_maps_file *out)
{
    if (!path || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_maps_read_file: NULL");
    cs_safetensors *st = NULL;
    cs_status s = cs_st_open(path, &st);
    if (s != CS_OK) return s;
    s = read_parsed(st, out);
    cs_st_close(st);
    return s;
}
