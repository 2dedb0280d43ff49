/* Map -> binary mask by a fixed, quantile or Otsu threshold (EXPLAIN.md 2). The quantile is
 * numpy's default (linear interpolation between order statistics, numpy's _lerp); Otsu follows
 * scikit-image threshold_otsu(nbins=256): numpy's histogram over the map's min..max (float32 bin
 * edges from linspace, as numpy gives for a float32 map), float32 bin centres, the between-class
 * variance maximised over the 255 split points (first maximum), tau = that bin's centre. */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OTSU_BINS 256

CS_API void cs_threshold_params_default(cs_threshold_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->size = sizeof *params;
    params->kind = CS_THRESHOLD_FIXED;
    params->value = 0.5;
}

static int cmp_float(const void *pa, const void *pb)
{
    const float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* Puts the k-th smallest value at v[k], smaller ones before it and larger ones after it
 * (quickselect, Hoare partition around a median of three; after 2 log2(n) + 8 rounds without
 * converging it sorts what is left, so the worst case stays O(n log n)). */
static void select_kth(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    int budget = 8;
    for (size_t m = n; m > 1; m >>= 1) budget += 2;
    while (hi > lo) {
        if (budget-- <= 0) {
            qsort(v + lo, hi - lo + 1, sizeof *v, cmp_float);
            return;
        }
        const size_t mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi];
        const float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = lo, j = hi;
        for (;;) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i >= j) break;
            const float t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
        /* now v[lo..j] <= pivot <= v[j+1..hi] */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
}

/* numpy.quantile(values, q) with the default linear method. */
static cs_status quantile(const float *map, size_t n, size_t stride, double q, double *tau)
{
    float *v = cs_alloc_array(n, sizeof *v);
    if (!v) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_map_threshold: %zu floats for the quantile", n);
    for (size_t i = 0; i < n; i++) v[i] = map[i * stride];
    const double virt = q * (double)(n - 1);
    double lo_d = floor(virt);
    size_t lo = (size_t)lo_d;
    if (lo >= n - 1) {
        select_kth(v, n, n - 1);
        *tau = v[n - 1];
    } else {
        select_kth(v, n, lo);
        float next = v[lo + 1]; /* the (lo+1)-th order statistic: the least of v[lo+1..] */
        for (size_t i = lo + 2; i < n; i++)
            if (v[i] < next) next = v[i];
        const double g = virt - lo_d, a = v[lo], b = next, diff = b - a;
        *tau = g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g; /* numpy _lerp */
    }
    free(v);
    return CS_OK;
}

/* skimage.filters.threshold_otsu(map, nbins=256) for a non-constant map with range lo..hi. */
static double otsu(const float *map, size_t n, size_t stride, float lo, float hi)
{
    float edge[OTSU_BINS + 1], centre[OTSU_BINS];
    double hist[OTSU_BINS] = {0};
    const double first = lo, last = hi, step = (last - first) / OTSU_BINS;
    for (int i = 0; i < OTSU_BINS; i++) edge[i] = (float)((double)i * step + first);
    edge[OTSU_BINS] = hi;
    /* float32 (a + b) / 2 as numpy, without the overflow of a + b near the float range */
    for (int i = 0; i < OTSU_BINS; i++) centre[i] = (float)(((double)edge[i] + edge[i + 1]) / 2.0);
    /* numpy's uniform-bin search: an estimate, then corrected against the float32 edges */
    const double norm = last - first; /* finite in double for any float range */
    for (size_t k = 0; k < n; k++) {
        const float x = map[k * stride];
        const double est = ((double)x - first) / norm * OTSU_BINS;
        long i = est >= 0.0 ? (est < OTSU_BINS ? (long)est : OTSU_BINS - 1) : 0;
        if (x < edge[i] && i > 0) i--;
        if (x >= edge[i + 1] && i != OTSU_BINS - 1) i++;
        hist[i] += 1.0;
    }
    double w1[OTSU_BINS], w2[OTSU_BINS], m1[OTSU_BINS], m2[OTSU_BINS];
    double cw = 0.0, cm = 0.0;
    for (int i = 0; i < OTSU_BINS; i++) {
        cw += hist[i];
        cm += hist[i] * (double)centre[i];
        w1[i] = cw;
        m1[i] = cm / cw;
    }
    cw = 0.0;
    cm = 0.0;
    for (int i = OTSU_BINS - 1; i >= 0; i--) {
        cw += hist[i];
        cm += hist[i] * (double)centre[i];
        w2[i] = cw;
        m2[i] = cm / cw;
    }
    int best = 0;
    double best_v = -1.0;
    for (int i = 0; i < OTSU_BINS - 1; i++) {
        /* never true (the minimum falls in bin 0, the maximum in bin 255), kept as a guard
         * against a division by zero */
        if (w1[i] <= 0.0 || w2[i + 1] <= 0.0) continue;
        const double d = m1[i] - m2[i + 1];
        const double v = w1[i] * w2[i + 1] * d * d;
        if (v > best_v) {
            best_v = v;
            best = i;
        }
    }
    return centre[best];
}

CS_API cs_status cs_map_threshold(const float *map, int height, int width, size_t pixel_stride,
                                  const cs_threshold_params *params, uint8_t *mask,
                                  size_t capacity, double *threshold, size_t *mask_pixels)
{
    cs_clear_error();
    if (!map || !mask) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: NULL buffer");
    if (height <= 0 || width <= 0 || pixel_stride == 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: sizes must be positive "
                       "(%dx%d, pixel_stride %zu)", height, width, pixel_stride);
    cs_threshold_params def;
    if (!params) {
        cs_threshold_params_default(&def);
        params = &def;
    }
    if (params->size < sizeof *params)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: params->size %zu too small",
                       params->size);
    const cs_threshold_kind kind = params->kind;
    const double value = params->value;
    if (kind != CS_THRESHOLD_FIXED && kind != CS_THRESHOLD_QUANTILE && kind != CS_THRESHOLD_OTSU)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: unknown kind %d", (int)kind);
    if (kind == CS_THRESHOLD_FIXED && !isfinite(value))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: fixed threshold is not finite");
    if (kind == CS_THRESHOLD_QUANTILE && !(value >= 0.0 && value <= 1.0))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: quantile %g outside [0, 1]",
                       value);
    size_t n, span;
    if (!cs_mul_size((size_t)height, (size_t)width, &n) ||
        !cs_mul_size(n - 1, pixel_stride, &span) || span == SIZE_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "cs_map_threshold: %dx%d pixels overflow", height, width);
    if (capacity < n)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_map_threshold: mask capacity %zu, %zu needed",
                       capacity, n);
    float lo = map[0], hi = map[0];
    for (size_t i = 0; i < n; i++) {
        const float v = map[i * pixel_stride];
        if (!isfinite(v))
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_map_threshold: map value %zu (y %zu, x %zu) "
                           "is %s", i, i / (size_t)width, i % (size_t)width,
                           isnan(v) ? "NaN" : "infinite");
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    double tau = 0.0;
    if (kind == CS_THRESHOLD_FIXED) tau = value;
    else if (!(hi > lo)) tau = lo; /* constant: Otsu undefined, quantile is the value */
    else if (kind == CS_THRESHOLD_QUANTILE) {
        cs_status st = quantile(map, n, pixel_stride, value, &tau);
        if (st != CS_OK) return st;
    } else tau = otsu(map, n, pixel_stride, lo, hi);
    size_t count = 0;
    if (!(hi > lo)) {
        memset(mask, 0, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            mask[i] = (double)map[i * pixel_stride] >= tau;
            count += mask[i];
        }
    }
    if (threshold) *threshold = tau;
    if (mask_pixels) *mask_pixels = count;
    return CS_OK;
}
