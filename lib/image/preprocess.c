/* CLIP preprocessing (REFERENCE section 1): PIL-exact bicubic resize to size x size, then
 * torchvision's ToTensor (v / 255 in float32) and Normalize ((x - mean) / std in float32), CHW. */
#include "image/image.h"

#include "core/common.h"

#include <stdlib.h>

static const float clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

CS_API cs_status cs_image_preprocess(const cs_image *image, int size, float *out,
                                     size_t capacity)
{
    cs_clear_error();
    if (!image || !image->data || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "preprocess: image, its data or out is NULL");
    if (size <= 0 || size > 65536)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "preprocess: size %d out of range 1..65536", size);
    size_t plane = (size_t)size * (size_t)size, need = 3 * plane;
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "preprocess: output needs %zu floats, capacity %zu",
                       need, capacity);
    uint8_t *rgb = cs_alloc_array(need, 1);
    if (!rgb) return cs_fail(CS_ERR_OUT_OF_MEMORY, "preprocess: cannot allocate %zu bytes", need);
    cs_status s = cs_image_resize_bicubic(image, size, size, rgb, need);
    if (s != CS_OK) {
        free(rgb);
        return s;
    }
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            float v = (float)rgb[3 * i + (size_t)c] / 255.0f;
            o[i] = (v - clip_mean[c]) / clip_std[c];
        }
    }
    free(rgb);
    return CS_OK;
}
