/* Decoding entry points: format detection, limits checked before allocation, EXIF orientation.
 * Semantics follow PIL's Image.open(f).convert("RGB") (REFERENCE section 1, step 1). */
#include "image.h"

#include "common.h"

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

cs_status cs_image_check_dims(uint64_t width, uint64_t height, const cs_decode_params *params,
                              const char *what)
{
    if (width == 0 || height == 0)
        return cs_fail(CS_ERR_FORMAT, "%s: image size %llux%llu has a zero dimension", what,
                       (unsigned long long)width, (unsigned long long)height);
    if (width > INT_MAX || height > INT_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "%s: image size %llux%llu is over the supported range",
                       what, (unsigned long long)width, (unsigned long long)height);
    uint64_t pixels = width * height; /* both < 2^31: no overflow in 64 bits */
    if (params->max_pixels != 0 && pixels > params->max_pixels)
        return cs_fail(CS_ERR_TOO_LARGE,
                       "%s: image size %llux%llu (%llu pixels) is over the pixel cap of %llu",
                       what, (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)pixels, (unsigned long long)params->max_pixels);
    size_t row, total;
    if (!cs_mul_size((size_t)width, 3, &row) || !cs_mul_size(row, (size_t)height, &total))
        return cs_fail(CS_ERR_TOO_LARGE, "%s: image size %llux%llu overflows memory sizes", what,
                       (unsigned long long)width, (unsigned long long)height);
    return CS_OK;
}

cs_status cs_image_new(int width, int height, cs_image **out)
{
    size_t row, total;
    if (width <= 0 || height <= 0 || !cs_mul_size((size_t)width, 3, &row) ||
        !cs_mul_size(row, (size_t)height, &total))
        return cs_fail(CS_ERR_TOO_LARGE, "image size %dx%d overflows memory sizes", width, height);
    cs_image *img = malloc(sizeof *img);
    if (!img) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate an image header");
    img->data = malloc(total);
    if (!img->data) {
        free(img);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for a %dx%d image", total,
                       width, height);
    }
    img->width = width;
    img->height = height;
    img->stride = row;
    *out = img;
    return CS_OK;
}

CS_API void cs_image_free(cs_image *image)
{
    if (!image) return;
    free(image->data);
    free(image);
}

/* --- EXIF ---------------------------------------------------------------------------------- */
static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | (p[1] << 8) : (p[0] << 8) | p[1]; }
static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)
              : ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

int cs_exif_orientation(const uint8_t *tiff, size_t size)
{
    if (!tiff || size < 8) return 1;
    int le;
    if (tiff[0] == 'I' && tiff[1] == 'I') le = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') le = 0;
    else return 1;
    if (rd16(tiff + 2, le) != 42) return 1;
    uint32_t ifd = rd32(tiff + 4, le);
    if (ifd > size || size - ifd < 2) return 1;
    unsigned n = rd16(tiff + ifd, le);
    for (unsigned i = 0; i < n; i++) {
        size_t off = (size_t)ifd + 2 + (size_t)i * 12;
        if (off > size || size - off < 12) return 1;
        const uint8_t *e = tiff + off;
        if (rd16(e, le) == 0x0112) { /* Orientation, SHORT, count 1, value inline */
            if (rd16(e + 2, le) != 3) return 1;
            unsigned v = rd16(e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

cs_status cs_image_orient(cs_image **image, int orientation)
{
    if (orientation < 2 || orientation > 8) return CS_OK;
    const cs_image *src = *image;
    int w = src->width, h = src->height;
    int swap = orientation >= 5;
    cs_image *dst;
    cs_status s = cs_image_new(swap ? h : w, swap ? w : h, &dst);
    if (s != CS_OK) return s;
    for (int y = 0; y < dst->height; y++) {
        uint8_t *o = dst->data + (size_t)y * dst->stride;
        for (int x = 0; x < dst->width; x++) {
            int sx, sy; /* source pixel of displayed pixel (x, y), as PIL's exif_transpose */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;         /* mirror left-right */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break; /* rotate 180 */
            case 4: sx = x; sy = h - 1 - y; break;         /* mirror top-bottom */
            case 5: sx = y; sy = x; break;                 /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;         /* rotate 90 clockwise */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break; /* transverse */
            default: sx = w - 1 - y; sy = x; break;        /* 8: rotate 90 counter-clockwise */
            }
            memcpy(o + (size_t)x * 3, src->data + (size_t)sy * src->stride + (size_t)sx * 3, 3);
        }
    }
    cs_image_free(*image);
    *image = dst;
    return CS_OK;
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
