/* PNG decoding through libpng, to 8-bit RGB as PIL's Image.open(f).convert("RGB"): gray
 * replicated, palette expanded (tRNS ignored), alpha dropped (not composited), 16-bit samples
 * keep their high byte, 1/2/4-bit gray scaled to 8 bits, Adam7 interlacing.
 * libpng reports errors by longjmp: the jump is caught in this file only (png_guarded) and turns
 * into a cs_status carrying libpng's message. The IEND chunk is not required (PIL does not read
 * past the image data either). CRC errors fail in critical and ancillary chunks alike (as PIL),
 * unless CS_DECODE_ACCEPT_WARNINGS, which lets libpng skip bad ancillary chunks. */
#include "image/decoders.h"

#include "core/common.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_ctx {
    const uint8_t *data;
    size_t size, pos;
    const cs_decode_params *params;
    png_structp png;
    png_infop info;
    cs_image *img;
    uint8_t *tmp;      /* decoded rows before RGB conversion */
    png_bytep *rows;   /* row pointers into tmp for interlaced images */
    cs_status status;  /* result of png_body when it returns normally */
    int orientation;
    char msg[256];     /* libpng's error message */
} png_ctx;

static void png_err_fn(png_structp png, png_const_charp message)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp message)
{
    (void)png; /* libpng warnings are benign (profiles, unknown chunks); PIL ignores them too */
    (void)message;
}

static void png_read_fn(png_structp png, png_bytep out, size_t length)
{
    png_ctx *c = png_get_io_ptr(png);
    if (length > c->size - c->pos) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, c->data + c->pos, length);
    c->pos += length;
}

/* One row of `channels` 8-bit samples to RGB. */
static void to_rgb(const uint8_t *in, int channels, int width, uint8_t *out)
{
    for (int x = 0; x < width; x++, in += channels, out += 3) {
        if (channels <= 2) {
            out[0] = out[1] = out[2] = in[0];
        } else {
            out[0] = in[0];
            out[1] = in[1];
            out[2] = in[2];
        }
    }
}

/* Everything that may longjmp. Allocations are recorded in c so the caller frees them. */
static cs_status png_body(png_ctx *c)
{
    png_structp png = c->png;
    png_infop info = c->info;
    png_set_sig_bytes(png, 0);
    png_read_info(png, info);
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    cs_status s = cs_image_check_dims(width, height, c->params, "PNG");
    if (s != CS_OK) return s;
#ifdef PNG_eXIf_SUPPORTED
    if (c->params->flags & CS_DECODE_APPLY_EXIF_ORIENTATION) {
        png_uint_32 n = 0;
        png_bytep exif = NULL;
        if (png_get_eXIf_1(png, info, &n, &exif) != 0 && exif)
            c->orientation = cs_exif_orientation(exif, n);
    }
#endif
    if (bit_depth == 16) png_set_strip_16(png); /* high byte, as PIL's "RGB;16B" raw modes */
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((color_type == PNG_COLOR_TYPE_GRAY) && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (png_get_bit_depth(png, info) != 8 || channels < 1 || channels > 4 ||
        rowbytes != (size_t)channels * width)
        return cs_fail(CS_ERR_UNSUPPORTED, "PNG: unexpected layout after expansion (%d channels, "
                       "%zu bytes per row)", channels, rowbytes);
    s = cs_image_new((int)width, (int)height, &c->img);
    if (s != CS_OK) return s;
    cs_image *img = c->img;
    if (passes > 1) {
        size_t total;
        if (!cs_mul_size(rowbytes, height, &total))
            return cs_fail(CS_ERR_TOO_LARGE, "PNG: interlaced image too large");
        c->tmp = malloc(total);
        c->rows = cs_alloc_array(height, sizeof *c->rows);
        if (!c->tmp || !c->rows)
            return cs_fail(CS_ERR_OUT_OF_MEMORY, "PNG: cannot allocate %zu bytes", total);
        for (png_uint_32 y = 0; y < height; y++) c->rows[y] = c->tmp + (size_t)y * rowbytes;
        png_read_image(png, c->rows);
        for (png_uint_32 y = 0; y < height; y++)
            to_rgb(c->rows[y], channels, (int)width, img->data + (size_t)y * img->stride);
    } else if (channels == 3) {
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, img->data + (size_t)y * img->stride, NULL);
    } else {
        c->tmp = malloc(rowbytes);
        if (!c->tmp) return cs_fail(CS_ERR_OUT_OF_MEMORY, "PNG: cannot allocate a row");
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(png, c->tmp, NULL);
            to_rgb(c->tmp, channels, (int)width, img->data + (size_t)y * img->stride);
        }
    }
    return CS_OK;
}

/* The only setjmp: returns 1 when libpng jumped out. */
static int png_guarded(png_ctx *c)
{
    if (setjmp(png_jmpbuf(c->png))) return 1;
    c->status = png_body(c);
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

cs_status cs_png_decode(const uint8_t *data, size_t size, const cs_decode_params *params,
                        cs_image **out, int *orientation)
{
    /* Limits from the IHDR bytes before libpng or any pixel buffer is involved. */
    if (size < 8 + 8 + 13)
        return cs_fail(CS_ERR_FORMAT, "PNG: file too short for a header (%zu bytes)", size);
    if (memcmp(data + 12, "IHDR", 4) != 0 || be32(data + 8) != 13)
        return cs_fail(CS_ERR_FORMAT, "PNG: first chunk is not a 13-byte IHDR");
    cs_status s = cs_image_check_dims(be32(data + 16), be32(data + 20), params, "PNG");
    if (s != CS_OK) return s;

    png_ctx c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.size = size;
    c.params = params;
    c.orientation = 1;
    c.status = CS_ERR_INTERNAL;
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_err_fn, png_warn_fn);
    if (!c.png) return cs_fail(CS_ERR_OUT_OF_MEMORY, "PNG: cannot create a libpng reader");
    c.info = png_create_info_struct(c.png);
    if (!c.info) {
        png_destroy_read_struct(&c.png, NULL, NULL);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "PNG: cannot create a libpng info struct");
    }
    png_set_read_fn(c.png, &c, png_read_fn);
    /* our pixel cap replaces libpng's default 1,000,000-pixel side limit */
    png_set_user_limits(c.png, 0x7fffffffU, 0x7fffffffU);
    png_set_crc_action(c.png, PNG_CRC_ERROR_QUIT,
                       (params->flags & CS_DECODE_ACCEPT_WARNINGS) ? PNG_CRC_WARN_DISCARD
                                                                   : PNG_CRC_ERROR_QUIT);
    if (png_guarded(&c)) s = cs_fail(CS_ERR_FORMAT, "PNG: %s", c.msg);
    else s = c.status;
    png_destroy_read_struct(&c.png, &c.info, NULL);
    free(c.tmp);
    free(c.rows);
    if (s != CS_OK) {
        cs_image_free(c.img);
        return s;
    }
    *out = c.img;
    *orientation = c.orientation;
    return CS_OK;
}
