/* Explainability metrics: the mIoU-over-thresholds curve (tau_k = k/20) with its best tau, and
 * the score contrast SC / mSC (../shared/docs/EVAL.md section 3, steps 4-5). */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NT CS_EXPLAIN_N_TAUS

typedef struct {
    int64_t image;
    int cls;
    double sc;
} sc_pair;

struct cs_explain_metrics {
    int num_classes, ignore_index, background_class;
    int64_t *I, *U;  /* [num_classes][NT] */
    uint8_t *seen;   /* [num_classes]: class present in some image */
    int64_t images;  /* images added so far */
    sc_pair *pairs;
    size_t n_pairs, cap_pairs;
};

CS_API double cs_explain_tau(int k)
{
    return (k >= 0 && k < NT) ? (double)k / 20.0 : NAN;
}

CS_API cs_status cs_explain_metrics_create(int num_classes, int ignore_index,
                                           int background_class, cs_explain_metrics **out)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_create: NULL out");
    if (num_classes < 1 || num_classes > 256)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_explain_metrics_create: num_classes %d outside 1..256", num_classes);
    if (ignore_index < -1 || ignore_index > 255)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_explain_metrics_create: ignore_index %d outside -1..255", ignore_index);
    if (background_class < -1 || background_class >= num_classes)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_explain_metrics_create: background_class %d outside -1..%d",
                       background_class, num_classes - 1);
    cs_explain_metrics *m = calloc(1, sizeof *m);
    if (!m) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_explain_metrics_create: out of memory");
    m->I = cs_calloc_array((size_t)num_classes * NT, sizeof(int64_t));
    m->U = cs_calloc_array((size_t)num_classes * NT, sizeof(int64_t));
    m->seen = cs_calloc_array((size_t)num_classes, 1);
    if (!m->I || !m->U || !m->seen) {
        cs_explain_metrics_free(m);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_explain_metrics_create: out of memory");
    }
    m->num_classes = num_classes;
    m->ignore_index = ignore_index;
    m->background_class = background_class;
    *out = m;
    return CS_OK;
}

CS_API void cs_explain_metrics_free(cs_explain_metrics *m)
{
    if (!m) return;
    free(m->I);
    free(m->U);
    free(m->seen);
    free(m->pairs);
    free(m);
}

CS_API cs_status cs_explain_metrics_add(cs_explain_metrics *m, const uint8_t *gt,
                                        size_t n_pixels, const float *maps, size_t map_stride,
                                        int class_offset)
{
    cs_clear_error();
    if (!m || !gt || !maps || n_pixels == 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_add: NULL argument or no pixel");
    if (map_stride == 0 || class_offset < 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_explain_metrics_add: map_stride %zu, class_offset %d", map_stride,
                       class_offset);
    const int K = m->num_classes;
    uint8_t present[256] = {0};
    for (size_t i = 0; i < n_pixels; i++) {
        int g = gt[i];
        if (g == m->ignore_index) continue;
        if (g >= K) continue; /* not a class: counts as "not c" */
        if (g == m->background_class) continue;
        present[g] = 1;
    }
    for (int c = 0; c < K; c++)
        if (present[c] && (c < class_offset || (size_t)(c - class_offset) >= map_stride))
            return cs_fail(CS_ERR_INVALID_ARGUMENT,
                           "cs_explain_metrics_add: class %d is in the gt but has no map column "
                           "(class_offset %d, map_stride %zu)",
                           c, class_offset, map_stride);
    size_t need = 0;
    for (int c = 0; c < K; c++) need += present[c];
    if (m->n_pairs + need > m->cap_pairs) {
        size_t cap = m->cap_pairs ? m->cap_pairs * 2 : 64;
        while (cap < m->n_pairs + need) cap *= 2;
        sc_pair *p = realloc(m->pairs, cap * sizeof *p);
        if (!p) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_explain_metrics_add: out of memory");
        m->pairs = p;
        m->cap_pairs = cap;
    }
    for (int c = 0; c < K; c++) {
        if (!present[c]) continue;
        const float *mc = maps + (c - class_offset);
        int64_t I[NT] = {0}, U[NT] = {0}, n_in = 0, n_out = 0;
        double s_in = 0, s_out = 0;
        for (size_t i = 0; i < n_pixels; i++) {
            int g = gt[i];
            if (g == m->ignore_index) continue;
            double v = (double)mc[i * map_stride];
            int is_c = g == c;
            if (is_c) s_in += v, n_in++;
            else s_out += v, n_out++;
            for (int k = 0; k < NT; k++) {
                int sel = v >= (double)k / 20.0;
                I[k] += sel && is_c;
                U[k] += sel || is_c;
            }
        }
        for (int k = 0; k < NT; k++) {
            m->I[(size_t)c * NT + k] += I[k];
            m->U[(size_t)c * NT + k] += U[k];
        }
        m->seen[c] = 1;
        if (n_out > 0) {
            sc_pair *p = &m->pairs[m->n_pairs++];
            p->image = m->images;
            p->cls = c;
            p->sc = s_in / (double)n_in - s_out / (double)n_out;
        }
    }
    m->images++;
    return CS_OK;
}

CS_API cs_status cs_explain_metrics_compute(const cs_explain_metrics *m,
                                            double curve[CS_EXPLAIN_N_TAUS], int *best_index,
                                            double *best_miou, double *msc, int *n_classes)
{
    cs_clear_error();
    if (!m) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_compute: NULL accumulator");
    double cv[NT];
    int nc = 0;
    for (int c = 0; c < m->num_classes; c++) nc += m->seen[c];
    int best = -1;
    for (int k = 0; k < NT; k++) {
        double s = 0;
        for (int c = 0; c < m->num_classes; c++)
            if (m->seen[c])
                s += (double)m->I[(size_t)c * NT + k] / (double)m->U[(size_t)c * NT + k];
        cv[k] = nc ? s / nc : NAN;
        if (nc && (best < 0 || cv[k] > cv[best])) best = k;
    }
    if (curve) memcpy(curve, cv, sizeof cv);
    if (best_index) *best_index = best;
    if (best_miou) *best_miou = best >= 0 ? cv[best] : NAN;
    if (msc) {
        double s = 0;
        for (size_t i = 0; i < m->n_pairs; i++) s += m->pairs[i].sc;
        *msc = m->n_pairs ? s / (double)m->n_pairs : NAN;
    }
    if (n_classes) *n_classes = nc;
    return CS_OK;
}

CS_API cs_status cs_explain_metrics_counts(const cs_explain_metrics *m, int cls,
                                           int64_t intersect[CS_EXPLAIN_N_TAUS],
                                           int64_t union_[CS_EXPLAIN_N_TAUS], int *evaluated)
{
    cs_clear_error();
    if (!m) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_counts: NULL accumulator");
    if (cls < 0 || cls >= m->num_classes)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_counts: class %d outside 0..%d",
                       cls, m->num_classes - 1);
    if (intersect) memcpy(intersect, m->I + (size_t)cls * NT, sizeof(int64_t) * NT);
    if (union_) memcpy(union_, m->U + (size_t)cls * NT, sizeof(int64_t) * NT);
    if (evaluated) *evaluated = m->seen[cls];
    return CS_OK;
}

CS_API size_t cs_explain_metrics_n_pairs(const cs_explain_metrics *m)
{
    return m ? m->n_pairs : 0;
}

CS_API cs_status cs_explain_metrics_pair(const cs_explain_metrics *m, size_t i, int64_t *image,
                                         int *cls, double *sc)
{
    cs_clear_error();
    if (!m) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_pair: NULL accumulator");
    if (i >= m->n_pairs)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_explain_metrics_pair: pair %zu of %zu", i,
                       m->n_pairs);
    if (image) *image = m->pairs[i].image;
    if (cls) *cls = m->pairs[i].cls;
    if (sc) *sc = m->pairs[i].sc;
    return CS_OK;
}
