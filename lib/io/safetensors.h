/* safetensors reading (validated, memory-mapped) and writing. Internal module.
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the data section; offsets are relative to the data section. */
#ifndef CS_SAFETENSORS_H
#define CS_SAFETENSORS_H

#include "clipsurgery.h"

#include <stddef.h>
#include <stdint.h>

#define CS_ST_MAX_HEADER (100u * 1024u * 1024u) /* headers over 100 MB are refused */
#define CS_ST_MAX_DIMS 8

typedef enum cs_dtype {
    CS_DT_F32 = 0, CS_DT_F16, CS_DT_BF16, CS_DT_F64,
    CS_DT_I64, CS_DT_I32, CS_DT_I16, CS_DT_I8, CS_DT_U8, CS_DT_BOOL
} cs_dtype;

size_t cs_dtype_size(cs_dtype dt);
const char *cs_dtype_name(cs_dtype dt);

typedef struct cs_st_tensor {
    char *name;
    cs_dtype dtype;
    int ndim;
    int64_t shape[CS_ST_MAX_DIMS];
    size_t n_elements;
    const uint8_t *data;   /* inside the mapping; may be unaligned */
    size_t nbytes;
} cs_st_tensor;

typedef struct cs_st_meta {
    char *key, *value;
} cs_st_meta;

typedef struct cs_safetensors {
    cs_st_tensor *tensors;   /* in file order of data offsets */
    size_t n_tensors;
    cs_st_meta *metadata;    /* __metadata__ string pairs */
    size_t n_metadata;
    void *map;               /* mmap (or NULL when parsed from caller memory) */
    size_t map_size;
} cs_safetensors;

/* Opens and validates a file (mmap, read-only). Every size is checked before use: header length
 * (0, > 100 MB, past the end), UTF-8 and JSON, dtype, shape overflow, byte span = elements x
 * dtype size, offsets inside the data section, sorted without overlaps or gaps, covering the
 * data section exactly, unique names, __metadata__ an object of strings.
 * Returns CS_OK, CS_ERR_IO, CS_ERR_FORMAT, CS_ERR_UNSUPPORTED (dtype), CS_ERR_TOO_LARGE,
 * CS_ERR_OUT_OF_MEMORY. */
cs_status cs_st_open(const char *path, cs_safetensors **out);
/* Same over a caller buffer, which must outlive the result. */
cs_status cs_st_parse(const void *data, size_t size, cs_safetensors **out);
void cs_st_close(cs_safetensors *st);

const cs_st_tensor *cs_st_find(const cs_safetensors *st, const char *name);
const char *cs_st_meta_get(const cs_safetensors *st, const char *key);

/* Widens a F32/F16/BF16 tensor to f32 (exact: subnormals, inf, NaN). out: n_elements floats.
 * Returns CS_OK or CS_ERR_UNSUPPORTED for other dtypes. */
cs_status cs_st_to_f32(const cs_st_tensor *t, float *out);
float cs_f16_to_f32(uint16_t h);
float cs_bf16_to_f32(uint16_t h);
uint16_t cs_f32_to_f16(float f); /* round to nearest even */

/* Writing. */
typedef struct cs_st_entry {
    const char *name;
    cs_dtype dtype;
    int ndim;
    const int64_t *shape;
    const void *data;        /* n_elements x dtype size bytes, little-endian */
} cs_st_entry;

/* Writes entries (and optional metadata pairs) to path (via path.tmp + rename).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_IO, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_st_write(const char *path, const cs_st_entry *entries, size_t n_entries,
                      const cs_st_meta *metadata, size_t n_metadata);

#endif
