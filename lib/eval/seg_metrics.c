/* Segmentation metrics: mmsegmentation's IoUMetric (intersect_and_union, total_area_to_metrics)
 * with int64 counts and double ratios (../shared/docs/EVAL.md section 5.1). */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cs_seg_metrics {
    int num_classes, ignore_index, reduce_zero_label;
    int64_t *inter, *uni, *pred, *label; /* [num_classes] each */
};

CS_API cs_status cs_seg_metrics_create(int num_classes, int ignore_index, int reduce_zero_label,
                                       cs_seg_metrics **out)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_seg_metrics_create: NULL out");
    if (num_classes < 1 || num_classes > 256)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_seg_metrics_create: num_classes %d outside 1..256", num_classes);
    if (ignore_index < -1 || ignore_index > 255)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_seg_metrics_create: ignore_index %d outside -1..255", ignore_index);
    cs_seg_metrics *m = calloc(1, sizeof *m);
    int64_t *a = cs_calloc_array((size_t)num_classes * 4, sizeof(int64_t));
    if (!m || !a) {
        free(m);
        free(a);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_seg_metrics_create: out of memory");
    }
    m->num_classes = num_classes;
    m->ignore_index = ignore_index;
    m->reduce_zero_label = reduce_zero_label != 0;
    m->inter = a;
    m->uni = a + num_classes;
    m->pred = a + 2 * (size_t)num_classes;
    m->label = a + 3 * (size_t)num_classes;
    *out = m;
    return CS_OK;
}

CS_API void cs_seg_metrics_free(cs_seg_metrics *m)
{
    if (!m) return;
    free(m->inter);
    free(m);
}

CS_API cs_status cs_seg_metrics_add(cs_seg_metrics *m, const uint8_t *pred, const uint8_t *gt,
                                    size_t n_pixels)
{
    cs_clear_error();
    if (!m || ((!pred || !gt) && n_pixels))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_seg_metrics_add: NULL argument");
    const int K = m->num_classes;
    int64_t hp[256] = {0}, hl[256] = {0}, hi[256] = {0};
    for (size_t i = 0; i < n_pixels; i++) {
        int g = gt[i];
        if (m->reduce_zero_label) { /* LoadAnnotations: 0 -> 255, k -> k - 1, 255 stays */
            g = g == 0 ? 255 : g - 1;
            if (g == 254) g = 255;
        }
        if (g == m->ignore_index) continue;
        int p = pred[i];
        hp[p]++;
        hl[g]++;
        if (p == g) hi[p]++;
    }
    /* histc over bins 0..K-1: values outside are dropped */
    for (int c = 0; c < K; c++) {
        m->inter[c] += hi[c];
        m->pred[c] += hp[c];
        m->label[c] += hl[c];
        m->uni[c] += hp[c] + hl[c] - hi[c];
    }
    return CS_OK;
}

CS_API cs_status cs_seg_metrics_areas(const cs_seg_metrics *m, int64_t *area_intersect,
                                      int64_t *area_union, int64_t *area_pred_label,
                                      int64_t *area_label, size_t capacity)
{
    cs_clear_error();
    if (!m) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_seg_metrics_areas: NULL accumulator");
    if (capacity < (size_t)m->num_classes)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_seg_metrics_areas: capacity %zu, %d needed",
                       capacity, m->num_classes);
    size_t n = sizeof(int64_t) * (size_t)m->num_classes;
    if (area_intersect) memcpy(area_intersect, m->inter, n);
    if (area_union) memcpy(area_union, m->uni, n);
    if (area_pred_label) memcpy(area_pred_label, m->pred, n);
    if (area_label) memcpy(area_label, m->label, n);
    return CS_OK;
}

CS_API cs_status cs_seg_metrics_compute(const cs_seg_metrics *m, double *iou, double *acc,
                                        size_t capacity, double *aacc, double *miou,
                                        double *macc)
{
    cs_clear_error();
    if (!m) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_seg_metrics_compute: NULL accumulator");
    const int K = m->num_classes;
    if ((iou || acc) && capacity < (size_t)K)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_seg_metrics_compute: capacity %zu, %d needed",
                       capacity, K);
    int64_t si = 0, sl = 0;
    double sum_iou = 0, sum_acc = 0;
    int n_iou = 0, n_acc = 0;
    for (int c = 0; c < K; c++) {
        double u = m->uni[c] ? (double)m->inter[c] / (double)m->uni[c] : NAN;
        double a = m->label[c] ? (double)m->inter[c] / (double)m->label[c] : NAN;
        if (iou) iou[c] = u;
        if (acc) acc[c] = a;
        if (!isnan(u)) sum_iou += u, n_iou++;
        if (!isnan(a)) sum_acc += a, n_acc++;
        si += m->inter[c];
        sl += m->label[c];
    }
    if (aacc) *aacc = sl ? (double)si / (double)sl : NAN;
    if (miou) *miou = n_iou ? sum_iou / n_iou : NAN;
    if (macc) *macc = n_acc ? sum_acc / n_acc : NAN;
    return CS_OK;
}

CS_API int cs_seg_metrics_num_classes(const cs_seg_metrics *m)
{
    return m ? m->num_classes : 0;
}
