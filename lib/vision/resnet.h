/* ResNet CLIP trunk (RESNET.md 1-3): stem, bottleneck stages with anti-aliasing average pools.
 * Internal; the public call is cs_resnet_trunk. Feature maps are CHW float32. */
#ifndef CS_VISION_RESNET_H
#define CS_VISION_RESNET_H

#include "core/context.h"

/* Side of the map after `stage` (0 = stem, 1..4 = layer1..4) for an input side n; 0 when some
 * step empties it. */
int cs_rn_side(int n, int stage);

/* Checks a ResNet context and an input size; gives the grid (stage 4). Returns CS_OK,
 * CS_ERR_INVALID_ARGUMENT, CS_ERR_UNSUPPORTED (not ResNet), CS_ERR_SHAPE, CS_ERR_TOO_LARGE. */
cs_status cs_rn_check(const cs_context *ctx, int height, int width, int *grid_h, int *grid_w);

/* Runs the trunk on one image [3, height, width] (sizes already checked) up to `stage`.
 * *out points into a context slot (valid until the next trunk call), [*channels, *out_h,
 * *out_w]. Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_rn_trunk(cs_context *ctx, const float *pixels, int height, int width, int stage,
                      const float **out, int *channels, int *out_h, int *out_w);

#endif
