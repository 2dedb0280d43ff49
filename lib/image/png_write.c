/* 8-bit PNG writing through libpng: gray, RGB, or paletted (gray indices + RGB palette).
 * libpng's longjmp is caught in this file (png_write_guarded) and becomes CS_ERR_IO with its
 * message. The file is written to path.tmp and renamed, so a failure leaves no partial file. */
#include "core/common.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pngw_ctx {
    png_structp png;
    png_infop info;
    FILE *f;
    const uint8_t *pixels;
    int width, height, channels, n_palette;
    size_t stride;
    const uint8_t *palette;
    char msg[256];
} pngw_ctx;

static void pngw_err_fn(png_structp png, png_const_charp message)
{
    pngw_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static void pngw_warn_fn(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static void pngw_body(pngw_ctx *c)
{
    png_init_io(c->png, c->f);
    int type = c->channels == 3 ? PNG_COLOR_TYPE_RGB
               : c->palette    ? PNG_COLOR_TYPE_PALETTE
                               : PNG_COLOR_TYPE_GRAY;
    png_set_IHDR(c->png, c->info, (png_uint_32)c->width, (png_uint_32)c->height, 8, type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < c->n_palette; i++) {
            pal[i].red = c->palette[3 * i];
            pal[i].green = c->palette[3 * i + 1];
            pal[i].blue = c->palette[3 * i + 2];
        }
        png_set_PLTE(c->png, c->info, pal, c->n_palette);
    }
    png_write_info(c->png, c->info);
    for (int y = 0; y < c->height; y++)
        png_write_row(c->png, (png_const_bytep)(c->pixels + (size_t)y * c->stride));
    png_write_end(c->png, NULL);
}

static int pngw_guarded(pngw_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png))) return 1;
    pngw_body(c);
    return 0;
}

CS_API cs_status cs_png_write(const char *path, const uint8_t *pixels, int width, int height,
                              size_t stride, int channels, const uint8_t *palette,
                              int n_palette)
{
    cs_clear_error();
    if (!path || !pixels) return cs_fail(CS_ERR_INVALID_ARGUMENT, "png_write: path or pixels NULL");
    if (width <= 0 || height <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "png_write: bad size %dx%d", width, height);
    if (channels != 1 && channels != 3)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "png_write: channels must be 1 or 3, not %d",
                       channels);
    if (stride / (size_t)channels < (size_t)width)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "png_write: stride %zu < %d x %d", stride, width,
                       channels);
    if (palette && (channels != 1 || n_palette < 1 || n_palette > 256))
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "png_write: a palette needs channels == 1 and 1..256 entries (got %d)",
                       n_palette);
    if (palette) {
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (pixels[(size_t)y * stride + (size_t)x] >= n_palette)
                    return cs_fail(CS_ERR_INVALID_ARGUMENT,
                                   "png_write: index %d at (%d, %d) is outside the %d-entry palette",
                                   pixels[(size_t)y * stride + (size_t)x], x, y, n_palette);
    }
    char *target = NULL; /* a symlink's final file; a device or FIFO is refused */
    cs_status ts = cs_output_target(path, &target);
    if (ts != CS_OK) return ts;
    path = target;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(target);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "png_write: out of memory");
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    pngw_ctx c;
    memset(&c, 0, sizeof c);
    c.pixels = pixels;
    c.width = width;
    c.height = height;
    c.channels = channels;
    c.stride = stride;
    c.palette = palette;
    c.n_palette = n_palette;
    c.f = fopen(tmp, "wb");
    if (!c.f) {
        cs_status s = cs_fail(CS_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        free(tmp);
        free(target);
        return s;
    }
    cs_status s = CS_OK;
    c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, pngw_err_fn, pngw_warn_fn);
    c.info = c.png ? png_create_info_struct(c.png) : NULL;
    if (!c.png || !c.info) s = cs_fail(CS_ERR_OUT_OF_MEMORY, "png_write: cannot create libpng writer");
    else if (pngw_guarded(&c)) s = cs_fail(CS_ERR_IO, "png_write %s: %s", path, c.msg);
    if (c.png) png_destroy_write_struct(&c.png, c.info ? &c.info : NULL);
    if (fclose(c.f) != 0 && s == CS_OK) s = cs_fail(CS_ERR_IO, "cannot write %s", tmp);
    if (s == CS_OK && rename(tmp, path) != 0)
        s = cs_fail(CS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s != CS_OK) remove(tmp);
    free(tmp);
    free(target);
    return s;
}
