/* ResNet CLIP attention pool (RESNET.md 4-5), raw and surgery. Internal; the public call is
 * cs_resnet_attnpool. */
#ifndef CS_VISION_ATTNPOOL_H
#define CS_VISION_ATTNPOOL_H

#include "core/context.h"

/* features [D, grid_h, grid_w] (CHW) -> out [1 + grid_h*grid_w, embed_dim]. Sizes and kind
 * already checked. Returns CS_OK, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_rn_attnpool(cs_context *ctx, cs_resnet_pool kind, const float *features, int grid_h,
                         int grid_w, float *out);

#endif
