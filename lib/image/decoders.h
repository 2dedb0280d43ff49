/* The format decoders (png_read.c, jpeg_read.c), called only by the decode entry points
 * (image_decode.c). libpng's longjmp and libjpeg's error_exit stay inside their files. Not
 * installed. */
#ifndef CS_IMAGE_DECODERS_H
#define CS_IMAGE_DECODERS_H

#include "image/image.h"

/* Format decoders over a memory buffer; params is never NULL here. */
cs_status cs_png_decode(const uint8_t *data, size_t size, const cs_decode_params *params,
                        cs_image **out, int *orientation);
cs_status cs_jpeg_decode(const uint8_t *data, size_t size, const cs_decode_params *params,
                         cs_image **out, int *orientation);

#endif
