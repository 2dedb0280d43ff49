/* Internal: torch-exact bilinear source indices (align_corners = false). Not installed. */
#ifndef CS_BILINEAR_H
#define CS_BILINEAR_H

/* Source indices and weights of output `index` along an axis resized from `in` to `out`
 * (float32 arithmetic of ATen's compute_source_index_and_lambda). */
void cs_bilinear_axis(int in, int out, int index, int *i0, int *i1, float *l0, float *l1);

#endif
