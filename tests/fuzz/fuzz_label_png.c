/* libFuzzer target: ground-truth label PNG decoding (lib/eval/label_png.c) from memory, with a
 * 4-Mpixel cap. Seeds: fixtures/eval/voc-tiny/SegmentationClass/*.png, voc-tiny-pred64/\*\/\*.png,
 * fixtures/edge/\*.png. */
#include "eval/label_png.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *labels = NULL;
    int w = 0, h = 0;
    if (cs_label_png_decode(data, size, 1u << 22, &labels, &w, &h) == CS_OK) {
        volatile uint8_t sink = labels[(size_t)w * h - 1];
        (void)sink;
        free(labels);
    }
    return 0;
}
