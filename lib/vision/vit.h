/* ViT image encoder with architecture surgery (REFERENCE 2). Internal: the public entry points
 * (cs_surgery_apply, cs_encode_images, cs_model_image_tokens) are in vision/encoder.c, which
 * dispatches on the model's backbone; the ViT block calls are public in vit.c. */
#ifndef CS_VISION_VIT_H
#define CS_VISION_VIT_H

#include "core/context.h"

/* cs_surgery_apply on a ViT model (same arguments, shapes and statuses). */
cs_status cs_vit_surgery_apply(cs_context *ctx, const cs_surgery_params *surgery,
                               const float *pixels, int batch, int height, int width,
                               float *features, size_t capacity);
/* cs_model_image_tokens on a ViT model. */
int cs_vit_image_tokens(const cs_model *model, int height, int width);

#endif
