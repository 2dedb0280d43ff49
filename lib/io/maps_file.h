/* Reader of saved map tensors (heatmap --maps, explain-text --maps): tensor "maps"
 * [B, H, W, T] or [H, W, T] (F32, F16 or BF16) of a safetensors file, every size validated, plus
 * the optional "clipsurgery.texts" metadata (a JSON array of T strings). Internal module. */
#ifndef CS_MAPS_FILE_H
#define CS_MAPS_FILE_H

#include "clipsurgery.h"

#include <stddef.h>

#define CS_MAPS_MAX_SIDE 65535    /* largest H or W */
#define CS_MAPS_MAX_COUNT 65536   /* largest B or T */
#define CS_MAPS_MAX_VALUES (1ull << 31) /* largest B*H*W*T */

typedef struct cs_maps_file {
    int batch;       /* B (1 for a [H, W, T] tensor) */
    int has_batch;   /* nonzero when the tensor was [B, H, W, T] */
    int height, width, n_maps;
    float *values;   /* [batch, height, width, n_maps], malloc'd */
    char **texts;    /* n_maps strings from the metadata, or NULL */
} cs_maps_file;

/* Parses a safetensors image in memory / a file. On success *out owns its arrays (release
 * with cs_maps_file_free). Returns CS_OK, CS_ERR_IO, CS_ERR_FORMAT (no "maps" tensor, wrong
 * rank, a zero dimension, not a float dtype), CS_ERR_TOO_LARGE (over the limits above),
 * CS_ERR_OUT_OF_MEMORY and the statuses of cs_st_parse. */
cs_status cs_maps_read_memory(const void *data, size_t size, cs_maps_file *out);
cs_status cs_maps_read_file(const char *path, cs_maps_file *out);
void cs_maps_file_free(cs_maps_file *m);

#endif
