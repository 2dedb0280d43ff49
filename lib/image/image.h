/* Internal image helpers (image.c) shared by the decoders (png_read.c, jpeg_read.c), the decode
 * entry points (image_decode.c), the PIL-exact resampler (resize.c) and preprocessing. Not
 * installed. */
#ifndef CS_IMAGE_H
#define CS_IMAGE_H

#include "clipsurgery.h"

#include <stddef.h>
#include <stdint.h>

/* Largest file cs_image_decode_file reads into memory (1 GiB). */
#define CS_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

/* Validates decoded dimensions against the rules applied before any pixel allocation: width and
 * height > 0 and <= INT_MAX, width * height <= params->max_pixels (0 = no cap), and the RGB
 * buffer size representable in size_t. `what` names the format for the message.
 * Returns CS_OK, CS_ERR_FORMAT (zero dimension), CS_ERR_TOO_LARGE. */
cs_status cs_image_check_dims(uint64_t width, uint64_t height, const cs_decode_params *params,
                              const char *what);

/* Allocates an RGB image (stride 3 * width) after cs_image_check_dims has accepted the size.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY / CS_ERR_TOO_LARGE. */
cs_status cs_image_new(int width, int height, cs_image **out);

/* EXIF orientation (1..8) from a TIFF structure (the payload after "Exif\0\0" in a JPEG APP1
 * segment, or a PNG eXIf chunk); 1 when absent or unreadable. */
int cs_exif_orientation(const uint8_t *tiff, size_t size);

/* Applies EXIF orientation 2..8 (as PIL's ImageOps.exif_transpose) by replacing *image. */
cs_status cs_image_orient(cs_image **image, int orientation);

#endif
