/* libFuzzer target: PNG/JPEG decoding from memory. See tests/fuzz/README.md. */
#include "clipsurgery.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_decode_params p;
    cs_decode_params_default(&p);
    p.max_pixels = 1u << 22; /* keep each run small */
    p.flags = size && (data[size - 1] & 1) ? CS_DECODE_APPLY_EXIF_ORIENTATION : 0;
    cs_image *img = NULL;
    if (cs_image_decode_memory(data, size, &p, &img) == CS_OK) {
        volatile uint8_t sink = img->data[(size_t)(img->height - 1) * img->stride +
                                          3 * (size_t)img->width - 1];
        (void)sink;
        cs_image_free(img);
    }
    return 0;
}
