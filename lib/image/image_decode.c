/* Decoding entry points: format detection, decode parameters, EXIF orientation applied after the
 * format decoder (decoders.h).
 * Semantics follow PIL's Image.open(f).convert("RGB") (REFERENCE section 1, step 1). */
#include "image/decoders.h"
#include "image/image.h"

#include "core/common.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CS_API void cs_decode_params_default(cs_decode_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->size = sizeof *params;
    params->max_pixels = CS_DEFAULT_MAX_PIXELS;
    params->flags = 0;
}

/* --- entry points ---------------------------------------------------------------------------- */
static cs_status decode_params(const cs_decode_params *in, cs_decode_params *out)
{
    cs_decode_params_default(out);
    if (!in) return CS_OK;
    if (in->size < offsetof(cs_decode_params, flags) + sizeof in->flags)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_decode_params.size is %zu; fill it with cs_decode_params_default()",
                       in->size);
    out->max_pixels = in->max_pixels;
    out->flags = in->flags;
    if (out->flags & ~(uint32_t)(CS_DECODE_APPLY_EXIF_ORIENTATION | CS_DECODE_ACCEPT_WARNINGS))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "unknown decode flags 0x%x", (unsigned)out->flags);
    return CS_OK;
}

CS_API cs_status cs_image_decode_memory(const void *data, size_t size,
                                        const cs_decode_params *params, cs_image **out)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "out is NULL");
    if (!data && size != 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "data is NULL");
    cs_decode_params p;
    cs_status s = decode_params(params, &p);
    if (s != CS_OK) return s;
    if (size == 0) return cs_fail(CS_ERR_FORMAT, "empty input: not a PNG or JPEG image");
    const uint8_t *d = data;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cs_image *img = NULL;
    int orientation = 1;
    if (size >= 8 && memcmp(d, png_sig, 8) == 0)
        s = cs_png_decode(d, size, &p, &img, &orientation);
    else if (size >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        s = cs_jpeg_decode(d, size, &p, &img, &orientation);
    else
        return cs_fail(CS_ERR_FORMAT, "unknown image format (not a PNG or JPEG signature)");
    if (s != CS_OK) return s;
    if ((p.flags & CS_DECODE_APPLY_EXIF_ORIENTATION) && orientation != 1) {
        s = cs_image_orient(&img, orientation);
        if (s != CS_OK) {
            cs_image_free(img);
            return s;
        }
    }
    *out = img;
    return CS_OK;
}

CS_API cs_status cs_image_decode_file(const char *path, const cs_decode_params *params,
                                      cs_image **out)
{
    cs_clear_error();
    if (!path || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "path or out is NULL");
    char *buf = NULL;
    size_t size = 0;
    cs_status s = cs_read_file(path, CS_IMAGE_MAX_FILE_BYTES, &buf, &size);
    if (s != CS_OK) return s;
    s = cs_image_decode_memory(buf, size, params, out);
    free(buf);
    if (s != CS_OK) {
        /* prefix the path to the decoder's message */
        char msg[768];
        snprintf(msg, sizeof msg, "%s", cs_last_error());
        return cs_fail(s, "%s: %s", path, msg);
    }
    return CS_OK;
}
