/* Ground-truth label PNGs of a segmentation dataset (EVAL.md 1.1): the stored sample values
 * (palette indices of a palette PNG, or the gray values of an 8-bit grayscale PNG), never
 * colours. Internal to the library and the CLI's `eval`; not installed. */
#ifndef CS_EVAL_LABEL_PNG_H
#define CS_EVAL_LABEL_PNG_H

#include "clipsurgery.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes a label PNG from memory: palette PNGs of bit depth 1..8 (indices unpacked to one byte)
 * or 8-bit grayscale. Anything else (RGB, alpha, 16-bit, 1/2/4-bit gray) is CS_ERR_UNSUPPORTED.
 * width * height is checked against max_pixels (0 = no cap) before any allocation.
 * *labels: malloc'd [height, width] uint8 (free()); *width, *height receive the size.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_FORMAT (not a PNG, malformed, truncated),
 *         CS_ERR_UNSUPPORTED, CS_ERR_TOO_LARGE, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_label_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                              uint8_t **labels, int *width, int *height);
/* The same from a file (CS_ERR_IO when it cannot be read). */
cs_status cs_label_png_read(const char *path, uint64_t max_pixels, uint8_t **labels, int *width,
                            int *height);

#endif
