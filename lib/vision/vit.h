/* Internal interface of the ViT image encoder (vit.c). The public entry points (cs_surgery_apply,
 * cs_encode_images, cs_model_image_tokens) are in vision/encoder.c, which dispatches on the
 * model's backbone; the ViT block calls are public in vit.c. The hooks below let other
 * compositions of its blocks (vision/methods.c) reuse them. Not installed. Token matrices are
 * [rows, width] row-major. */
#ifndef CS_VISION_VIT_H
#define CS_VISION_VIT_H

#include "core/context.h"

/* cs_surgery_apply on a ViT model (same arguments, shapes and statuses). */
cs_status cs_vit_surgery_apply(cs_context *ctx, const cs_surgery_params *surgery,
                               const float *pixels, int batch, int height, int width,
                               float *features, size_t capacity);
/* cs_model_image_tokens on a ViT model. */
int cs_vit_image_tokens(const cs_model *model, int height, int width);

/* Grid cells above this are refused (scores alone would need n^2 floats per head). */
#define CS_MAX_GRID_CELLS 65536

/* CS_OK when ctx has a model with a usable ViT image encoder, else CS_ERR_INVALID_ARGUMENT. */
cs_status cs_vit_check_ctx(const cs_context *ctx);
/* Checks an input size (positive, multiple of the patch, grid cap) and gives the grid. */
cs_status cs_vit_check_size(const cs_model *m, int height, int width, int *gh, int *gw);
/* The checks every batch encoder makes after its arguments: the size (cs_vit_check_size, giving
 * the grid), features [batch, 1 + gh*gw, embed_dim] fitting `capacity` floats, and finite
 * pixels [batch, 3, height, width]. Returns CS_OK, CS_ERR_SHAPE, CS_ERR_TOO_LARGE,
 * CS_ERR_BUFFER_TOO_SMALL, CS_ERR_INVALID_ARGUMENT. */
cs_status cs_vit_check_batch(const cs_model *m, const float *pixels, int batch, int height,
                             int width, size_t capacity, int *gh, int *gw);
/* Embeds `batch` images [3, H, W] into x [batch * (1 + gh*gw), width] with the positional table
 * pos [1 + gh*gw, width], then ln_pre. Uses the UNFOLD slot. */
cs_status cs_vit_embed_batch(cs_context *ctx, const float *pixels, int batch, int height,
                             int width, int gh, int gw, const float *pos, float *x);
/* ln_1 of `rows` rows of x into the LN slot and the packed q|k|v projection (biases included)
 * into the QKV slot, returned in *qkv_out ([rows, 3*width]). */
cs_status cs_vit_ln_qkv(cs_context *ctx, const cs_block_weights *blk, const float *x, int rows,
                        float **qkv_out);
/* One standard pre-LN block in place on n_seq sequences of t tokens stored contiguously. */
cs_status cs_vit_block_plain(cs_context *ctx, int block, float *x, int n_seq, int t);
/* ln_post and projection of `rows` rows into features [rows, embed_dim]. */
cs_status cs_vit_project(cs_context *ctx, const float *x, int rows, float *features);

#endif
