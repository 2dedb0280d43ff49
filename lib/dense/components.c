/* 8-connected components of a binary mask with boxes, areas and the map's mean and peak inside
 * each (EXPLAIN.md 2), in the documented order: area descending, then top, then left. */
#include "core/common.h"

#include <stdlib.h>
#include <string.h>

typedef struct comp_acc {
    cs_component c;
    size_t first; /* raster index of the first pixel: the last tie-break */
} comp_acc;

static int comp_cmp(const void *pa, const void *pb)
{
    const comp_acc *a = pa, *b = pb;
    if (a->c.area != b->c.area) return a->c.area > b->c.area ? -1 : 1;
    if (a->c.y != b->c.y) return a->c.y < b->c.y ? -1 : 1;
    if (a->c.x != b->c.x) return a->c.x < b->c.x ? -1 : 1;
    return (a->first > b->first) - (a->first < b->first);
}

CS_API cs_status cs_mask_components(const uint8_t *mask, const float *map, int height,
                                    int width, size_t pixel_stride, int64_t min_area,
                                    cs_component *components, size_t capacity,
                                    size_t *n_components)
{
    cs_clear_error();
    if (!mask || !n_components)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_mask_components: NULL mask or n_components");
    if (capacity > 0 && !components)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_mask_components: NULL components with "
                       "capacity %zu", capacity);
    if (height <= 0 || width <= 0 || pixel_stride == 0 || min_area < 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_mask_components: bad sizes (%dx%d, "
                       "pixel_stride %zu, min_area %lld)", height, width, pixel_stride,
                       (long long)min_area);
    size_t n, span;
    if (!cs_mul_size((size_t)height, (size_t)width, &n) ||
        !cs_mul_size(n - 1, pixel_stride, &span) || span == SIZE_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "cs_mask_components: %dx%d pixels overflow", height,
                       width);
    uint8_t *seen = calloc(n, 1);
    size_t *queue = cs_alloc_array(n, sizeof *queue);
    size_t acc_cap = 64, n_acc = 0;
    comp_acc *acc = cs_alloc_array(acc_cap, sizeof *acc);
    if (!seen || !queue || !acc) {
        free(seen);
        free(queue);
        free(acc);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_mask_components: scratch for %zu pixels", n);
    }
    const size_t W = (size_t)width, H = (size_t)height;
    for (size_t start = 0; start < n; start++) {
        if (!mask[start] || seen[start]) continue;
        /* breadth-first flood over the 8 neighbours */
        size_t head = 0, tail = 0;
        queue[tail++] = start;
        seen[start] = 1;
        size_t x0 = start % W, x1 = x0, y0 = start / W, y1 = y0;
        double sum = 0.0, peak = 0.0;
        int have_peak = 0;
        while (head < tail) {
            const size_t p = queue[head++];
            const size_t py = p / W, px = p % W;
            if (px < x0) x0 = px;
            if (px > x1) x1 = px;
            if (py > y1) y1 = py;
            if (map) {
                const double v = map[p * pixel_stride];
                sum += v;
                if (!have_peak || v > peak) peak = v;
                have_peak = 1;
            }
            for (int dy = -1; dy <= 1; dy++) {
                if ((dy < 0 && py == 0) || (dy > 0 && py + 1 >= H)) continue;
                for (int dx = -1; dx <= 1; dx++) {
                    if ((dy == 0 && dx == 0) || (dx < 0 && px == 0) || (dx > 0 && px + 1 >= W))
                        continue;
                    const size_t q = (py + (size_t)(ptrdiff_t)dy) * W + px + (size_t)(ptrdiff_t)dx;
                    if (mask[q] && !seen[q]) {
                        seen[q] = 1;
                        queue[tail++] = q;
                    }
                }
            }
        }
        if ((int64_t)tail < min_area) continue;
        if (n_acc == acc_cap) {
            comp_acc *g = realloc(acc, 2 * acc_cap * sizeof *acc);
            if (!g) {
                free(seen);
                free(queue);
                free(acc);
                return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_mask_components: %zu components",
                               2 * acc_cap);
            }
            acc = g;
            acc_cap *= 2;
        }
        comp_acc *a = &acc[n_acc++];
        a->first = start;
        a->c.x = (int)x0;
        a->c.y = (int)y0;
        a->c.width = (int)(x1 - x0 + 1);
        a->c.height = (int)(y1 - y0 + 1);
        a->c.area = (int64_t)tail;
        a->c.mean_map = map ? sum / (double)tail : 0.0;
        a->c.peak_map = map ? peak : 0.0;
    }
    free(seen);
    free(queue);
    *n_components = n_acc;
    if (capacity < n_acc) {
        free(acc);
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_mask_components: capacity %zu, %zu "
                       "components", capacity, n_acc);
    }
    qsort(acc, n_acc, sizeof *acc, comp_cmp);
    for (size_t i = 0; i < n_acc; i++) components[i] = acc[i].c;
    free(acc);
    return CS_OK;
}

CS_API cs_status cs_map_boxes(const float *map, int height, int width, size_t pixel_stride,
                              const cs_threshold_params *params, int64_t min_area,
                              cs_component *components, size_t capacity, size_t *n_components,
                              double *threshold, size_t *mask_pixels)
{
    cs_clear_error();
    if (!map || !n_components)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_boxes: NULL map or n_components");
    if (height <= 0 || width <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_boxes: size %dx%d", height, width);
    size_t n;
    if (!cs_mul_size((size_t)height, (size_t)width, &n))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_map_boxes: %dx%d pixels overflow", height, width);
    uint8_t *mask = malloc(n);
    if (!mask) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_map_boxes: mask of %zu pixels", n);
    double tau = 0.0;
    size_t count = 0;
    cs_status st = cs_map_threshold(map, height, width, pixel_stride, params, mask, n, &tau,
                                    &count);
    if (st == CS_OK)
        st = cs_mask_components(mask, map, height, width, pixel_stride, min_area, components,
                                capacity, n_components);
    free(mask);
    if (st == CS_OK || st == CS_ERR_BUFFER_TOO_SMALL) {
        if (threshold) *threshold = tau;
        if (mask_pixels) *mask_pixels = count;
    }
    return st;
}
