/* Evaluation metrics: every case of eval/eval-metrics.json (EVAL.md 6.1): floats within 1e-6,
 * integers exact, null = NaN. Also the argument checks of the accumulators. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6

static json_t *load_cases(const char *key)
{
    char *path = tu_fixture("eval/eval-metrics.json");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", path, err.text);
    free(path);
    json_t *c = json_incref(json_object_get(root, key));
    json_decref(root);
    ck_assert_msg(json_is_array(c) && json_array_size(c) > 0, "no %s cases", key);
    return c;
}

/* expected: a number or null (NaN) */
static void check_value(const char *cs, const char *what, double got, json_t *want)
{
    if (json_is_null(want)) {
        ck_assert_msg(isnan(got), "%s %s: %.9g, want null", cs, what, got);
        return;
    }
    ck_assert_msg(json_is_number(want), "%s %s: golden not a number", cs, what);
    double w = json_number_value(want);
    ck_assert_msg(fabs(got - w) <= TOL, "%s %s: %.12g, want %.12g", cs, what, got, w);
}

static void check_ints(const char *cs, const char *what, const int64_t *got, json_t *want, int n)
{
    ck_assert_int_eq((int)json_array_size(want), n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == json_integer_value(json_array_get(want, (size_t)i)),
                      "%s %s[%d]: %lld, want %lld", cs, what, i, (long long)got[i],
                      (long long)json_integer_value(json_array_get(want, (size_t)i)));
}

/* A nested [H][W] integer list -> malloc'd uint8 plane. */
static uint8_t *plane_u8(json_t *rows, int *h, int *w)
{
    *h = (int)json_array_size(rows);
    *w = *h ? (int)json_array_size(json_array_get(rows, 0)) : 0;
    uint8_t *p = malloc((size_t)(*h) * (size_t)(*w) + 1);
    for (int y = 0; y < *h; y++) {
        json_t *r = json_array_get(rows, (size_t)y);
        ck_assert_int_eq((int)json_array_size(r), *w);
        for (int x = 0; x < *w; x++)
            p[(size_t)y * *w + x] = (uint8_t)json_integer_value(json_array_get(r, (size_t)x));
    }
    return p;
}

START_TEST(segment_cases)
{
    json_t *cases = load_cases("segment");
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int K = (int)json_integer_value(json_object_get(c, "num_classes"));
        int ign = (int)json_integer_value(json_object_get(c, "ignore_index"));
        int rz = json_is_true(json_object_get(c, "reduce_zero_label"));
        cs_seg_metrics *m = NULL;
        ck_assert_int_eq(cs_seg_metrics_create(K, ign, rz, &m), CS_OK);
        ck_assert_int_eq(cs_seg_metrics_num_classes(m), K);
        size_t pi;
        json_t *pair;
        json_array_foreach(json_object_get(c, "pairs"), pi, pair) {
            int ph, pw, gh, gw;
            uint8_t *pred = plane_u8(json_object_get(pair, "pred"), &ph, &pw);
            uint8_t *gt = plane_u8(json_object_get(pair, "gt"), &gh, &gw);
            ck_assert(ph == gh && pw == gw);
            ck_assert_int_eq(cs_seg_metrics_add(m, pred, gt, (size_t)ph * pw), CS_OK);
            free(pred);
            free(gt);
        }
        json_t *e = json_object_get(c, "expected");
        int64_t *a = malloc(sizeof(int64_t) * 4 * K);
        ck_assert_int_eq(cs_seg_metrics_areas(m, a, a + K, a + 2 * K, a + 3 * K, (size_t)K), CS_OK);
        check_ints(name, "area_intersect", a, json_object_get(e, "area_intersect"), K);
        check_ints(name, "area_union", a + K, json_object_get(e, "area_union"), K);
        check_ints(name, "area_pred_label", a + 2 * K, json_object_get(e, "area_pred_label"), K);
        check_ints(name, "area_label", a + 3 * K, json_object_get(e, "area_label"), K);
        double *iou = malloc(sizeof(double) * 2 * K), aacc, miou, macc;
        ck_assert_int_eq(cs_seg_metrics_compute(m, iou, iou + K, (size_t)K, &aacc, &miou, &macc),
                         CS_OK);
        for (int k = 0; k < K; k++) {
            char w[32];
            snprintf(w, sizeof w, "IoU[%d]", k);
            check_value(name, w, iou[k], json_array_get(json_object_get(e, "IoU"), (size_t)k));
            snprintf(w, sizeof w, "Acc[%d]", k);
            check_value(name, w, iou[K + k], json_array_get(json_object_get(e, "Acc"), (size_t)k));
        }
        check_value(name, "aAcc", aacc, json_object_get(e, "aAcc"));
        check_value(name, "mIoU", miou, json_object_get(e, "mIoU"));
        check_value(name, "mAcc", macc, json_object_get(e, "mAcc"));
        /* a too-small buffer writes nothing */
        ck_assert_int_eq(cs_seg_metrics_compute(m, iou, NULL, (size_t)K - 1, NULL, NULL, NULL),
                         CS_ERR_BUFFER_TOO_SMALL);
        free(iou);
        free(a);
        cs_seg_metrics_free(m);
    }
    ck_assert_uint_eq(json_array_size(cases), 8);
    json_decref(cases);
}
END_TEST

START_TEST(average_precision_cases)
{
    json_t *cases = load_cases("average_precision");
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *js = json_object_get(c, "scores"), *jl = json_object_get(c, "labels");
        size_t N = json_array_size(js);
        int C = (int)json_array_size(json_array_get(js, 0));
        ck_assert_uint_eq(json_array_size(jl), N);
        double *s = malloc(sizeof(double) * N * C);
        uint8_t *l = malloc(N * C);
        for (size_t i = 0; i < N; i++)
            for (int k = 0; k < C; k++) {
                s[i * C + k] = json_number_value(json_array_get(json_array_get(js, i), k));
                l[i * C + k] = (uint8_t)json_integer_value(json_array_get(json_array_get(jl, i), k));
            }
        double *ap = malloc(sizeof(double) * C), map;
        int64_t *np = malloc(sizeof(int64_t) * C);
        ck_assert_int_eq(cs_average_precision(s, l, N, C, ap, np, &map), CS_OK);
        json_t *e = json_object_get(c, "expected");
        check_ints(name, "n_pos", np, json_object_get(e, "n_pos"), C);
        for (int k = 0; k < C; k++) {
            char w[32];
            snprintf(w, sizeof w, "AP[%d]", k);
            check_value(name, w, ap[k], json_array_get(json_object_get(e, "AP"), (size_t)k));
        }
        check_value(name, "mAP", map, json_object_get(e, "mAP"));
        free(s);
        free(l);
        free(ap);
        free(np);
    }
    ck_assert_uint_eq(json_array_size(cases), 7);
    json_decref(cases);
}
END_TEST

START_TEST(explain_cases)
{
    char *path = tu_fixture("eval/eval-metrics.json");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    free(path);
    json_t *taus = json_object_get(root, "taus");
    ck_assert_uint_eq(json_array_size(taus), CS_EXPLAIN_N_TAUS);
    for (int k = 0; k < CS_EXPLAIN_N_TAUS; k++)
        ck_assert(cs_explain_tau(k) == json_number_value(json_array_get(taus, (size_t)k)));
    ck_assert(isnan(cs_explain_tau(20)) && isnan(cs_explain_tau(-1)));
    json_decref(root);

    json_t *cases = load_cases("explain");
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        int bg = json_is_true(json_object_get(c, "has_background")) ? 0 : -1;
        json_t *imgs = json_object_get(c, "images");
        /* K: one more than the largest class named anywhere (gt values below 255, map keys) */
        int K = 1;
        size_t ii;
        json_t *im;
        json_array_foreach(imgs, ii, im) {
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(im, "maps"), key, v) if (atoi(key) + 1 > K) K =
                atoi(key) + 1;
            int h, w;
            uint8_t *gt = plane_u8(json_object_get(im, "gt"), &h, &w);
            for (int i = 0; i < h * w; i++)
                if (gt[i] != 255 && gt[i] + 1 > K) K = gt[i] + 1;
            free(gt);
        }
        cs_explain_metrics *m = NULL;
        ck_assert_int_eq(cs_explain_metrics_create(K, 255, bg, &m), CS_OK);
        json_array_foreach(imgs, ii, im) {
            int h, w;
            uint8_t *gt = plane_u8(json_object_get(im, "gt"), &h, &w);
            size_t n = (size_t)h * w;
            float *maps = calloc(n * K, sizeof(float));
            for (int k = 0; k < K; k++) /* a class without a map: NaN, must never be read */
                for (size_t i = 0; i < n; i++) maps[i * K + k] = NAN;
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(im, "maps"), key, v) {
                int k = atoi(key);
                ck_assert_int_eq((int)json_array_size(v), h);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        maps[((size_t)y * w + x) * K + k] = (float)json_number_value(
                            json_array_get(json_array_get(v, (size_t)y), (size_t)x));
            }
            ck_assert_int_eq(cs_explain_metrics_add(m, gt, n, maps, (size_t)K, 0), CS_OK);
            free(maps);
            free(gt);
        }
        json_t *e = json_object_get(c, "expected");
        double curve[CS_EXPLAIN_N_TAUS], best_miou, msc;
        int best, nc;
        ck_assert_int_eq(cs_explain_metrics_compute(m, curve, &best, &best_miou, &msc, &nc), CS_OK);
        json_t *jc = json_object_get(e, "classes");
        ck_assert_int_eq(nc, (int)json_array_size(jc));
        for (int k = 0; k < CS_EXPLAIN_N_TAUS; k++) {
            char w[32];
            snprintf(w, sizeof w, "curve[%d]", k);
            check_value(name, w, curve[k], json_array_get(json_object_get(e, "curve"), (size_t)k));
        }
        ck_assert_int_eq(best, (int)json_integer_value(json_object_get(e, "best_index")));
        ck_assert(cs_explain_tau(best) == json_number_value(json_object_get(e, "best_tau")));
        check_value(name, "best_mIoU", best_miou, json_object_get(e, "best_mIoU"));
        check_value(name, "mSC", msc, json_object_get(e, "mSC"));
        size_t np = cs_explain_metrics_n_pairs(m);
        ck_assert_uint_eq(np, (size_t)json_integer_value(json_object_get(e, "n_sc_pairs")));
        for (size_t p = 0; p < np; p++) {
            int64_t img;
            int cls;
            double sc;
            ck_assert_int_eq(cs_explain_metrics_pair(m, p, &img, &cls, &sc), CS_OK);
            json_t *jp = json_array_get(json_object_get(e, "sc_pairs"), p);
            ck_assert_int_eq(img, json_integer_value(json_array_get(jp, 0)));
            ck_assert_int_eq(cls, json_integer_value(json_array_get(jp, 1)));
            check_value(name, "sc", sc, json_array_get(json_object_get(e, "sc"), p));
        }
        ck_assert_int_eq(cs_explain_metrics_pair(m, np, NULL, NULL, NULL), CS_ERR_INVALID_ARGUMENT);
        int n_eval = 0;
        for (int k = 0; k < K; k++) {
            int64_t I[CS_EXPLAIN_N_TAUS], U[CS_EXPLAIN_N_TAUS];
            int ev;
            ck_assert_int_eq(cs_explain_metrics_counts(m, k, I, U, &ev), CS_OK);
            char key[16];
            snprintf(key, sizeof key, "%d", k);
            json_t *jI = json_object_get(json_object_get(e, "I"), key);
            ck_assert_msg(!ev == !jI, "%s: class %d evaluated %d", name, k, ev);
            if (!ev) continue;
            n_eval++;
            check_ints(name, "I", I, jI, CS_EXPLAIN_N_TAUS);
            check_ints(name, "U", U, json_object_get(json_object_get(e, "U"), key),
                       CS_EXPLAIN_N_TAUS);
        }
        ck_assert_int_eq(n_eval, nc);
        cs_explain_metrics_free(m);
    }
    ck_assert_uint_eq(json_array_size(cases), 5);
    json_decref(cases);
}
END_TEST

START_TEST(undefined_is_nan)
{
    cs_seg_metrics *m = NULL;
    ck_assert_int_eq(cs_seg_metrics_create(3, 255, 0, &m), CS_OK);
    double iou[3], acc[3], aacc, miou, macc;
    ck_assert_int_eq(cs_seg_metrics_compute(m, iou, acc, 3, &aacc, &miou, &macc), CS_OK);
    ck_assert(isnan(iou[0]) && isnan(acc[2]) && isnan(aacc) && isnan(miou) && isnan(macc));
    cs_seg_metrics_free(m);
    cs_explain_metrics *e = NULL;
    ck_assert_int_eq(cs_explain_metrics_create(3, 255, 0, &e), CS_OK);
    double curve[CS_EXPLAIN_N_TAUS], best_m, msc;
    int best;
    ck_assert_int_eq(cs_explain_metrics_compute(e, curve, &best, &best_m, &msc, NULL), CS_OK);
    ck_assert(best == -1 && isnan(curve[0]) && isnan(best_m) && isnan(msc));
    /* a present class without a map column */
    uint8_t gt[2] = {2, 1};
    float maps[2] = {0.5f, 0.5f};
    ck_assert_int_eq(cs_explain_metrics_add(e, gt, 2, maps, 1, 1), CS_ERR_INVALID_ARGUMENT);
    cs_explain_metrics_free(e);
    double s[2] = {0.1, 0.2}, ap;
    uint8_t l[2] = {0, 0};
    double map = 0;
    ck_assert_int_eq(cs_average_precision(s, l, 2, 1, &ap, NULL, &map), CS_OK);
    ck_assert(isnan(ap) && isnan(map));
    s[0] = NAN;
    ck_assert_int_eq(cs_average_precision(s, l, 2, 1, &ap, NULL, &map), CS_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(bad_arguments)
{
    cs_seg_metrics *m = NULL;
    ck_assert_int_eq(cs_seg_metrics_create(0, 255, 0, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_seg_metrics_create(257, 255, 0, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_seg_metrics_create(3, 256, 0, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_seg_metrics_create(3, 255, 0, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert(m == NULL);
    ck_assert_int_eq(cs_seg_metrics_add(NULL, NULL, NULL, 0), CS_ERR_INVALID_ARGUMENT);
    cs_explain_metrics *e = NULL;
    ck_assert_int_eq(cs_explain_metrics_create(3, 255, 3, &e), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_explain_metrics_counts(NULL, 0, NULL, NULL, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(cs_explain_metrics_n_pairs(NULL), 0);
    double ap;
    ck_assert_int_eq(cs_average_precision(NULL, NULL, 1, 1, &ap, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    cs_seg_metrics_free(NULL);
    cs_explain_metrics_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("eval_metrics");
    TCase *tc = tcase_create("eval_metrics");
    tcase_add_test(tc, segment_cases);
    tcase_add_test(tc, average_precision_cases);
    tcase_add_test(tc, explain_cases);
    tcase_add_test(tc, undefined_is_nan);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
