/* bfloat16 helpers (bf16.c): rounding f32 to bf16 and the model's bf16 weight copies. Internal.
 * A bf16 value is the upper 16 bits of an IEEE float, stored as uint16_t. */
#ifndef CS_BF16_H
#define CS_BF16_H

#include <stddef.h>
#include <stdint.h>

/* Rounds rows x cols floats (row stride ld) to bf16, round-to-nearest-even (NaN stays NaN),
 * into dst packed [rows, cols]. */
void cs_bf16_from_f32(const float *src, size_t ld, size_t rows, size_t cols, uint16_t *dst);

/* The bf16 copies of a model's weight matrices, made once at load (CS_MODEL_PRECISION_BF16).
 * Immutable afterwards; shared by every context of the model. */
typedef struct cs_bf16_table cs_bf16_table;

/* Empty table; NULL when out of memory. */
cs_bf16_table *cs_bf16_table_create(void);
void cs_bf16_table_free(cs_bf16_table *t);
/* Adds a bf16 copy of the n floats at w (a weight matrix used in place by the model; adding the
 * same pointer twice keeps one copy). Returns 0, or -1 when out of memory. */
int cs_bf16_table_add(cs_bf16_table *t, const float *w, size_t n);
/* Sorts the table for lookups; call once after the last add. */
void cs_bf16_table_seal(cs_bf16_table *t);
/* The bf16 copy of the matrix at p: rows x cols with row stride ld, wholly inside one added
 * weight; NULL when p is not inside an added weight (an activation). t may be NULL. */
const uint16_t *cs_bf16_table_find(const cs_bf16_table *t, const float *p, size_t ld,
                                   size_t rows, size_t cols);
/* Bytes held by the copies. */
size_t cs_bf16_table_bytes(const cs_bf16_table *t);

#endif
