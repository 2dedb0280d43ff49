/* SAM point prompts from similarity maps (REFERENCE 5; clip.py similarity_map_to_points and the
 * "person+bench" combination of demo.py). float32 arithmetic as the reference's torch tensors. */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest image side: every coordinate up to it is exact in float32 and fits int. */
#define CS_POINTS_MAX_SIDE (1 << 24)

typedef struct cell {
    float v;
    int i;
} cell;

static int cell_cmp(const void *pa, const void *pb)
{
    const cell *a = pa, *b = pb;
    if (a->v < b->v) return -1;
    if (a->v > b->v) return 1;
    return (a->i > b->i) - (a->i < b->i); /* ties by index: a stable ascending sort */
}

/* Validated geometry shared by both forms. */
typedef struct geom {
    int gh, gw;     /* input grid */
    int h, w;       /* down-sampled grid */
    size_t cells;   /* gh * gw */
    size_t dcells;  /* h * w */
    int image_w, image_h;
    float threshold;
} geom;

static cs_status check_geom(const char *fn, int grid_h, int grid_w, int image_w, int image_h,
                            float threshold, int down_sample, geom *g)
{
    if (grid_h <= 0 || grid_w <= 0 || image_w <= 0 || image_h <= 0 || down_sample <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "%s: sizes must be positive (grid %dx%d, image %dx%d, down_sample %d)", fn,
                       grid_h, grid_w, image_w, image_h, down_sample);
    if (grid_h / down_sample == 0 || grid_w / down_sample == 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: down_sample %d larger than the %dx%d grid",
                       fn, down_sample, grid_h, grid_w);
    if (isnan(threshold)) return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: threshold is NaN", fn);
    /* coordinates are computed in float32 (as the reference) and must convert back to int */
    if (image_w > CS_POINTS_MAX_SIDE || image_h > CS_POINTS_MAX_SIDE)
        return cs_fail(CS_ERR_TOO_LARGE, "%s: image %dx%d over the %d-pixel side limit", fn,
                       image_w, image_h, CS_POINTS_MAX_SIDE);
    g->gh = grid_h;
    g->gw = grid_w;
    g->h = grid_h / down_sample;
    g->w = grid_w / down_sample;
    if (!cs_mul_size((size_t)grid_h, (size_t)grid_w, &g->cells) || g->cells > (size_t)INT32_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "%s: grid %dx%d too large", fn, grid_h, grid_w);
    g->dcells = (size_t)g->h * (size_t)g->w;
    g->image_w = image_w;
    g->image_h = image_h;
    g->threshold = threshold;
    return CS_OK;
}

/* Down-samples `grid` ([gh*gw], contiguous), min-maxes it and sorts ascending into order[dcells].
 * small: scratch of dcells floats. Returns num (0 for a constant map). */
static size_t select_cells(const geom *g, const float *grid, float *small, cell *order)
{
    /* Sizes were validated: cs_resize_bilinear cannot fail here. */
    (void)cs_resize_bilinear(grid, g->gh, g->gw, 1, small, g->h, g->w, g->dcells);
    float lo = small[0], hi = small[0];
    for (size_t i = 1; i < g->dcells; i++) {
        if (small[i] < lo) lo = small[i];
        if (small[i] > hi) hi = small[i];
    }
    const float range = hi - lo;
    if (!(range > 0.0f)) return 0; /* the reference divides by zero: NaN, no cell >= t */
    size_t count = 0;
    for (size_t i = 0; i < g->dcells; i++) {
        const float v = (small[i] - lo) / range;
        order[i].v = v;
        order[i].i = (int)i;
        if (v >= g->threshold) count++;
    }
    qsort(order, g->dcells, sizeof *order, cell_cmp);
    const size_t half = g->dcells / 2;
    return count < half ? count : half;
}

static void cell_to_xy(const geom *g, int idx, int *xy)
{
    const float sw = (float)((double)g->image_w / (double)g->w);
    const float sh = (float)((double)g->image_h / (double)g->h);
    float x = ((float)(idx % g->w) + 0.5f) * sw;
    float y = ((float)(idx / g->w) + 0.5f) * sh;
    const float xmax = (float)(g->image_w - 1), ymax = (float)(g->image_h - 1);
    if (xmax < x) x = xmax;
    if (ymax < y) y = ymax;
    xy[0] = (int)x;
    xy[1] = (int)y;
}

static void emit(const geom *g, const cell *order, size_t num, int positive, int *points_xy,
                 int *labels, size_t *at)
{
    const size_t first = positive ? g->dcells - num : 0;
    for (size_t k = 0; k < num; k++) {
        cell_to_xy(g, order[first + k].i, points_xy + 2 * *at);
        labels[*at] = positive ? 1 : 0;
        (*at)++;
    }
}

static int all_finite(const float *x, size_t n, size_t stride)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i * stride])) return 0;
    return 1;
}

CS_API cs_status cs_similarity_to_points(const float *map, int grid_h, int grid_w, int image_w,
                                         int image_h, float threshold, int down_sample,
                                         int *points_xy, int *labels, size_t capacity,
                                         size_t *n_points)
{
    static const char fn[] = "cs_similarity_to_points";
    cs_clear_error();
    if (!map || !points_xy || !labels || !n_points)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: NULL pointer", fn);
    geom g;
    cs_status st = check_geom(fn, grid_h, grid_w, image_w, image_h, threshold, down_sample, &g);
    if (st != CS_OK) return st;
    if (!all_finite(map, g.cells, 1))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: map holds NaN or infinity", fn);
    float *small = cs_alloc_array(g.dcells, sizeof *small);
    cell *order = cs_alloc_array(g.dcells, sizeof *order);
    if (!small || !order) {
        free(small);
        free(order);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: %zu cells", fn, g.dcells);
    }
    const size_t num = select_cells(&g, map, small, order);
    if (capacity < 2 * num) {
        st = cs_fail(CS_ERR_BUFFER_TOO_SMALL, "%s: capacity %zu points, %zu needed", fn, capacity,
                     2 * num);
    } else {
        size_t at = 0;
        emit(&g, order, num, 1, points_xy, labels, &at);
        emit(&g, order, num, 0, points_xy, labels, &at);
    }
    *n_points = 2 * num;
    free(small);
    free(order);
    return st;
}

CS_API cs_status cs_similarity_to_points_multi(const float *similarity, int grid_h, int grid_w,
                                               int n_texts, int image_w, int image_h,
                                               float threshold, int down_sample, int *points_xy,
                                               int *labels, size_t capacity, size_t *n_points)
{
    static const char fn[] = "cs_similarity_to_points_multi";
    cs_clear_error();
    if (!similarity || !points_xy || !labels || !n_points)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: NULL pointer", fn);
    if (n_texts <= 0) return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: n_texts %d", fn, n_texts);
    geom g;
    cs_status st = check_geom(fn, grid_h, grid_w, image_w, image_h, threshold, down_sample, &g);
    if (st != CS_OK) return st;
    const size_t T = (size_t)n_texts;
    size_t n_all, n_orders;
    if (!cs_mul_size(g.cells, T, &n_all) || !cs_mul_size(g.dcells, T + 1, &n_orders))
        return cs_fail(CS_ERR_TOO_LARGE, "%s: sizes overflow", fn);
    if (!all_finite(similarity, n_all, 1))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: similarity holds NaN or infinity", fn);

    float *col = cs_alloc_array(g.cells, sizeof *col);
    float *mean = cs_calloc_array(g.cells, sizeof *mean);
    float *small = cs_alloc_array(g.dcells, sizeof *small);
    cell *orders = cs_alloc_array(n_orders, sizeof *orders);
    size_t *nums = cs_alloc_array(T + 1, sizeof *nums);
    if (!col || !mean || !small || !orders || !nums) {
        st = cs_fail(CS_ERR_OUT_OF_MEMORY, "%s: %zu cells x %zu texts", fn, g.cells, T);
        goto done;
    }
    /* Positives per raw column (orders 1..T); the mean of the min-maxed columns (order 0). */
    for (size_t t = 0; t < T; t++) {
        float lo = similarity[t], hi = similarity[t];
        for (size_t i = 0; i < g.cells; i++) {
            const float v = similarity[i * T + t];
            col[i] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        nums[t + 1] = select_cells(&g, col, small, orders + (t + 1) * g.dcells);
        const float range = hi - lo;
        for (size_t i = 0; i < g.cells; i++)
            mean[i] += range > 0.0f ? (col[i] - lo) / range : 0.0f;
    }
    for (size_t i = 0; i < g.cells; i++) mean[i] /= (float)n_texts;
    nums[0] = select_cells(&g, mean, small, orders);

    size_t total = 0;
    for (size_t t = 0; t <= T; t++) total += nums[t];
    if (capacity < total) {
        st = cs_fail(CS_ERR_BUFFER_TOO_SMALL, "%s: capacity %zu points, %zu needed", fn, capacity,
                     total);
    } else {
        size_t at = 0;
        emit(&g, orders, nums[0], 0, points_xy, labels, &at);
        for (size_t t = 0; t < T; t++)
            emit(&g, orders + (t + 1) * g.dcells, nums[t + 1], 1, points_xy, labels, &at);
    }
    *n_points = total;
done:
    free(col);
    free(mean);
    free(small);
    free(orders);
    free(nums);
    return st;
}
