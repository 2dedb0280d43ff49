/* JPEG decoding through libjpeg(-turbo), to 8-bit RGB as PIL's Image.open(f).convert("RGB"):
 * baseline, progressive and arithmetic coding (as the library supports), grayscale replicated,
 * 4-component CMYK/YCCK converted the way PIL does: PIL reads every 4-component JPEG with its
 * "CMYK;I" raw mode (Adobe convention: stored values are inverted ink), then its naive
 * CMYK -> RGB: nk = 255 - k, channel = clip(nk - round(ink * nk / 255)).
 * libjpeg reports fatal errors through error_exit: the longjmp is caught in this file only
 * (jpeg_guarded) and becomes a cs_status with libjpeg's message. Warnings (corrupt data,
 * premature end of file) fail with CS_ERR_CORRUPT_DATA unless CS_DECODE_ACCEPT_WARNINGS. */
#include "image/decoders.h"

#include "core/common.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* Progressive files with absurd numbers of scans take unbounded time; refuse them. */
#define CS_JPEG_MAX_SCANS 1000

typedef struct jpeg_ctx {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    const uint8_t *data;
    size_t size;
    const cs_decode_params *params;
    cs_image *img;
    uint8_t *tmp;          /* one row of gray or CMYK samples */
    cs_status jump_status; /* status to report when libjpeg jumped out */
    cs_status status;      /* result of jpeg_body when it returns normally */
    int orientation;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

static jpeg_ctx *ctx_of(j_common_ptr cinfo)
{
    /* cinfo is the first member of jpeg_ctx */
    return (jpeg_ctx *)(void *)cinfo;
}

static void jpeg_error_exit_fn(j_common_ptr cinfo)
{
    jpeg_ctx *c = ctx_of(cinfo);
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(c->msg, sizeof c->msg, "%s", buf);
    int code = cinfo->err->msg_code;
    c->jump_status = (code == JERR_NOT_COMPILED || code == JERR_NOTIMPL ||
                      code == JERR_ARITH_NOTIMPL || code == JERR_BAD_PRECISION ||
                      code == JERR_CONVERSION_NOTIMPL)
                         ? CS_ERR_UNSUPPORTED
                         : (code == JERR_OUT_OF_MEMORY ? CS_ERR_OUT_OF_MEMORY : CS_ERR_FORMAT);
    longjmp(c->jump, 1);
}

static void jpeg_emit_message_fn(j_common_ptr cinfo, int level)
{
    if (level >= 0) return; /* trace messages */
    jpeg_ctx *c = ctx_of(cinfo);
    cinfo->err->num_warnings++;
    if (c->params->flags & CS_DECODE_ACCEPT_WARNINGS) return;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(c->msg, sizeof c->msg, "%s (set CS_DECODE_ACCEPT_WARNINGS to accept)", buf);
    c->jump_status = CS_ERR_CORRUPT_DATA;
    longjmp(c->jump, 1);
}

static void jpeg_progress_fn(j_common_ptr cinfo)
{
    jpeg_ctx *c = ctx_of(cinfo);
    if (c->cinfo.input_scan_number > CS_JPEG_MAX_SCANS) {
        snprintf(c->msg, sizeof c->msg, "more than %d scans", CS_JPEG_MAX_SCANS);
        c->jump_status = CS_ERR_UNSUPPORTED;
        longjmp(c->jump, 1);
    }
}

/* PIL's rounding a*b/255 (Pillow's MULDIV255). */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

static inline uint8_t clip8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static cs_status jpeg_body(jpeg_ctx *c)
{
    j_decompress_ptr cinfo = &c->cinfo;
    jpeg_create_decompress(cinfo);
    c->progress.progress_monitor = jpeg_progress_fn;
    cinfo->progress = &c->progress;
    jpeg_mem_src(cinfo, c->data, (unsigned long)c->size);
    if (c->params->flags & CS_DECODE_APPLY_EXIF_ORIENTATION)
        jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    cs_status s = cs_image_check_dims(cinfo->image_width, cinfo->image_height, c->params, "JPEG");
    if (s != CS_OK) return s;
    if (cinfo->data_precision != 8)
        return cs_fail(CS_ERR_UNSUPPORTED, "JPEG: %d-bit samples are not supported",
                       cinfo->data_precision);
    switch (cinfo->num_components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo->out_color_space = JCS_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; break;
    default:
        return cs_fail(CS_ERR_UNSUPPORTED, "JPEG: %d components are not supported",
                       cinfo->num_components);
    }
    if (c->params->flags & CS_DECODE_APPLY_EXIF_ORIENTATION) {
        for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
            if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
                memcmp(m->data, "Exif\0\0", 6) == 0) {
                c->orientation = cs_exif_orientation(m->data + 6, m->data_length - 6);
                break;
            }
        }
    }
    jpeg_start_decompress(cinfo);
    int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    int comps = cinfo->output_components;
    if ((uint64_t)w != cinfo->image_width || (uint64_t)h != cinfo->image_height ||
        comps != cinfo->num_components)
        return cs_fail(CS_ERR_INTERNAL, "JPEG: unexpected output geometry");
    s = cs_image_new(w, h, &c->img);
    if (s != CS_OK) return s;
    cs_image *img = c->img;
    if (comps != 3) {
        c->tmp = cs_alloc_array((size_t)w, (size_t)comps);
        if (!c->tmp) return cs_fail(CS_ERR_OUT_OF_MEMORY, "JPEG: cannot allocate a row");
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *out = img->data + (size_t)cinfo->output_scanline * img->stride;
        JSAMPROW row = comps == 3 ? out : c->tmp;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return cs_fail(CS_ERR_FORMAT, "JPEG: decoder made no progress");
        if (comps == 1) {
            for (int x = 0; x < w; x++) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = row[x];
        } else if (comps == 4) {
            for (int x = 0; x < w; x++) {
                const uint8_t *p = row + 4 * x;
                /* PIL inverts (Adobe convention), then nk = 255 - inverted k = stored k */
                int nk = p[3];
                out[3 * x + 0] = clip8(nk - muldiv255(255 - p[0], nk));
                out[3 * x + 1] = clip8(nk - muldiv255(255 - p[1], nk));
                out[3 * x + 2] = clip8(nk - muldiv255(255 - p[2], nk));
            }
        }
    }
    jpeg_finish_decompress(cinfo);
    return CS_OK;
}

/* The only setjmp: returns 1 when libjpeg jumped out. */
static int jpeg_guarded(jpeg_ctx *c)
{
    if (setjmp(c->jump)) return 1;
    c->status = jpeg_body(c);
    return 0;
}

cs_status cs_jpeg_decode(const uint8_t *data, size_t size, const cs_decode_params *params,
                         cs_image **out, int *orientation)
{
    jpeg_ctx *c = calloc(1, sizeof *c);
    if (!c) return cs_fail(CS_ERR_OUT_OF_MEMORY, "JPEG: cannot allocate the decoder state");
    c->data = data;
    c->size = size;
    c->params = params;
    c->orientation = 1;
    c->status = CS_ERR_INTERNAL;
    c->cinfo.err = jpeg_std_error(&c->jerr);
    c->jerr.error_exit = jpeg_error_exit_fn;
    c->jerr.emit_message = jpeg_emit_message_fn;
    cs_status s;
    if (jpeg_guarded(c)) s = cs_fail(c->jump_status, "JPEG: %s", c->msg);
    else s = c->status;
    jpeg_destroy_decompress(&c->cinfo);
    free(c->tmp);
    if (s != CS_OK) {
        cs_image_free(c->img);
    } else {
        *out = c->img;
        *orientation = c->orientation;
    }
    free(c);
    return s;
}
