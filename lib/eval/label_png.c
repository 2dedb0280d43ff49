/* Label PNG reader (label_png.h): sample values as stored, through libpng. libpng's longjmp is
 * caught in this file only (guarded). */
#include "eval/label_png.h"

#include "core/common.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    uint64_t max_pixels;
    png_structp png;
    png_infop info;
    uint8_t *out;
    int width, height;
    cs_status status;
    char msg[256];
} lp_ctx;

static void lp_err(png_structp png, png_const_charp message)
{
    lp_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static void lp_warn(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static void lp_read(png_structp png, png_bytep out, size_t length)
{
    lp_ctx *c = png_get_io_ptr(png);
    if (length > c->size - c->pos) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, c->data + c->pos, length);
    c->pos += length;
}

static cs_status lp_body(lp_ctx *c)
{
    png_read_info(c->png, c->info);
    png_uint_32 w, h;
    int depth, type, interlace;
    png_get_IHDR(c->png, c->info, &w, &h, &depth, &type, &interlace, NULL, NULL);
    if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
        return cs_fail(CS_ERR_FORMAT, "label PNG: bad size %ux%u", (unsigned)w, (unsigned)h);
    if (c->max_pixels && (uint64_t)w * h > c->max_pixels)
        return cs_fail(CS_ERR_TOO_LARGE, "label PNG: %ux%u is over the %llu-pixel cap",
                       (unsigned)w, (unsigned)h, (unsigned long long)c->max_pixels);
    if (!((type == PNG_COLOR_TYPE_PALETTE && depth <= 8) ||
          (type == PNG_COLOR_TYPE_GRAY && depth == 8)))
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "label PNG: colour type %d, bit depth %d; a mask must be a palette PNG or "
                       "an 8-bit grayscale PNG holding class indices", type, depth);
    if (depth < 8) png_set_packing(c->png);
    int passes = png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    if (png_get_rowbytes(c->png, c->info) != w)
        return cs_fail(CS_ERR_UNSUPPORTED, "label PNG: unexpected row layout");
    c->out = cs_alloc_array((size_t)w, (size_t)h);
    if (!c->out) return cs_fail(CS_ERR_OUT_OF_MEMORY, "label PNG: cannot allocate %ux%u",
                                (unsigned)w, (unsigned)h);
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++) png_read_row(c->png, c->out + (size_t)y * w, NULL);
    c->width = (int)w;
    c->height = (int)h;
    return CS_OK;
}

static int lp_guarded(lp_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png))) return 1;
    c->status = lp_body(c);
    return 0;
}

cs_status cs_label_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                              uint8_t **labels, int *width, int *height)
{
    if (!data || !labels || !width || !height)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "label PNG: NULL argument");
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0)
        return cs_fail(CS_ERR_FORMAT, "label PNG: not a PNG file");
    lp_ctx c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.size = size;
    c.max_pixels = max_pixels;
    c.status = CS_ERR_INTERNAL;
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, lp_err, lp_warn);
    if (!c.png) return cs_fail(CS_ERR_OUT_OF_MEMORY, "label PNG: cannot create a libpng reader");
    c.info = png_create_info_struct(c.png);
    if (!c.info) {
        png_destroy_read_struct(&c.png, NULL, NULL);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "label PNG: cannot create a libpng info struct");
    }
    png_set_read_fn(c.png, &c, lp_read);
    png_set_user_limits(c.png, 0x7fffffffU, 0x7fffffffU);
    cs_status s;
    if (lp_guarded(&c)) s = cs_fail(CS_ERR_FORMAT, "label PNG: %s", c.msg);
    else s = c.status;
    png_destroy_read_struct(&c.png, &c.info, NULL);
    if (s != CS_OK) {
        free(c.out);
        return s;
    }
    *labels = c.out;
    *width = c.width;
    *height = c.height;
    return CS_OK;
}

cs_status cs_label_png_read(const char *path, uint64_t max_pixels, uint8_t **labels, int *width,
                            int *height)
{
    if (!path) return cs_fail(CS_ERR_INVALID_ARGUMENT, "label PNG: NULL path");
    char *data;
    size_t size;
    cs_status s = cs_read_file(path, (size_t)1 << 30, &data, &size);
    if (s != CS_OK) return s;
    s = cs_label_png_decode((const uint8_t *)data, size, max_pixels, labels, width, height);
    free(data);
    return s;
}
