/* Average precision per class and mAP, scikit-learn average_precision_score semantics: each
 * distinct score is one threshold (ties form one step), AP = sum_k (R_k - R_{k-1}) P_k
 * (../shared/docs/EVAL.md section 4). */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double score;
    size_t index;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

CS_API cs_status cs_average_precision(const double *scores, const uint8_t *labels,
                                      size_t n_samples, int n_classes, double *ap,
                                      int64_t *n_pos, double *map)
{
    cs_clear_error();
    if (!scores || !labels || !ap)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_average_precision: NULL argument");
    if (n_samples == 0 || n_classes <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_average_precision: %zu samples, %d classes (both must be positive)",
                       n_samples, n_classes);
    size_t total;
    if (!cs_mul_size(n_samples, (size_t)n_classes, &total))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_average_precision: element count overflows");
    for (size_t i = 0; i < total; i++)
        if (isnan(scores[i]))
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_average_precision: score %zu is NaN", i);
    scored *v = cs_alloc_array(n_samples, sizeof *v);
    if (!v) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_average_precision: out of memory");
    double sum = 0;
    int n_def = 0;
    for (int c = 0; c < n_classes; c++) {
        size_t np = 0;
        for (size_t i = 0; i < n_samples; i++) {
            v[i].score = scores[i * (size_t)n_classes + (size_t)c];
            v[i].index = i;
            np += labels[i * (size_t)n_classes + (size_t)c] != 0;
        }
        if (n_pos) n_pos[c] = (int64_t)np;
        if (np == 0) {
            ap[c] = NAN;
            continue;
        }
        qsort(v, n_samples, sizeof *v, by_score_desc);
        size_t tp = 0, seen = 0;
        double prev_r = 0, a = 0;
        for (size_t i = 0; i < n_samples;) {
            size_t j = i;
            while (j < n_samples && v[j].score == v[i].score) {
                tp += labels[v[j].index * (size_t)n_classes + (size_t)c] != 0;
                j++;
            }
            seen = j;
            double r = (double)tp / (double)np, p = (double)tp / (double)seen;
            a += (r - prev_r) * p;
            prev_r = r;
            i = j;
        }
        ap[c] = a;
        sum += a;
        n_def++;
    }
    free(v);
    if (map) *map = n_def ? sum / n_def : NAN;
    return CS_OK;
}
