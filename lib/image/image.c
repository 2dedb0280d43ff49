/* The image type and the helpers every image module shares: size rules checked before any pixel
 * allocation, allocation and release, EXIF orientation (read and apply). The decoders
 * (png_read.c, jpeg_read.c), the decode entry points (image_decode.c), the resampler (resize.c)
 * and preprocessing all build on this file; it calls none of them. */
#include "image/image.h"

#include "core/common.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

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
    return CS_OK;
}
