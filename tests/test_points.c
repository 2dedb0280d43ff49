/* SAM point prompts: every case of golden/points.json exactly, the multi-target form on a
 * constructed case worked out by hand, and bad inputs. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(golden_cases_exact)
{
    char *path = tu_fixture("golden/points.json");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "cannot parse %s: %s", path, err.text);
    ck_assert(json_is_array(root) && json_array_size(root) > 0);
    size_t ci;
    json_t *c;
    json_array_foreach(root, ci, c) {
        const int side = (int)json_integer_value(json_object_get(c, "side"));
        json_t *shape = json_object_get(c, "shape_hw");
        const int ih = (int)json_integer_value(json_array_get(shape, 0));
        const int iw = (int)json_integer_value(json_array_get(shape, 1));
        const float t = (float)json_number_value(json_object_get(c, "t"));
        json_t *jm = json_object_get(c, "map");
        ck_assert_uint_eq(json_array_size(jm), (size_t)side * side);
        float *map = malloc((size_t)side * side * sizeof *map);
        ck_assert_ptr_nonnull(map);
        for (size_t i = 0; i < (size_t)side * side; i++)
            map[i] = (float)json_number_value(json_array_get(jm, i));
        json_t *jp = json_object_get(c, "points_xy"), *jl = json_object_get(c, "labels");
        const size_t want_n = json_array_size(jp);
        ck_assert_uint_eq(json_array_size(jl), want_n);

        const size_t cap = (size_t)side * side;
        int *xy = malloc(2 * cap * sizeof *xy), *lab = malloc(cap * sizeof *lab);
        ck_assert(xy && lab);
        size_t n = 12345;
        ck_assert_int_eq(cs_similarity_to_points(map, side, side, iw, ih, t, 2, xy, lab, cap, &n),
                         CS_OK);
        ck_assert_msg(n == want_n, "case %zu: %zu points, golden %zu", ci, n, want_n);
        for (size_t k = 0; k < n; k++) {
            json_t *p = json_array_get(jp, k);
            const int wx = (int)json_integer_value(json_array_get(p, 0));
            const int wy = (int)json_integer_value(json_array_get(p, 1));
            const int wl = (int)json_integer_value(json_array_get(jl, k));
            ck_assert_msg(xy[2 * k] == wx && xy[2 * k + 1] == wy && lab[k] == wl,
                          "case %zu point %zu: (%d, %d) label %d, golden (%d, %d) label %d", ci,
                          k, xy[2 * k], xy[2 * k + 1], lab[k], wx, wy, wl);
        }
        /* capacity: exactly n is enough, n - 1 is not (and says how many are needed) */
        if (n > 0) {
            size_t m = 0;
            ck_assert_int_eq(cs_similarity_to_points(map, side, side, iw, ih, t, 2, xy, lab,
                                                     n - 1, &m),
                             CS_ERR_BUFFER_TOO_SMALL);
            ck_assert_uint_eq(m, n);
            ck_assert_int_eq(
                cs_similarity_to_points(map, side, side, iw, ih, t, 2, xy, lab, n, &m), CS_OK);
        }
        printf("  case %zu: side %d, %dx%d, t %.2f: %zu points equal\n", ci, side, iw, ih,
               (double)t, n);
        free(xy);
        free(lab);
        free(map);
    }
    json_decref(root);
    free(path);
}
END_TEST

START_TEST(single_constructed)
{
    /* 4x4 map, down_sample 2 -> 2x2 cells = block means {1, 2, 3, 4} (row-major), min-max
     * {0, 1/3, 2/3, 1}; t = 0.5: 2 cells >= t, num = min(2, 4/2) = 2. Positives ascending:
     * cells 2, 3; negatives: cells 0, 1. Image 100 x 50 (w x h): scale 50 x 25.
     * cell 2 = (0, 1) -> (25, 37); cell 3 -> (75, 37); cell 0 -> (25, 12); cell 1 -> (75, 12). */
    const float map[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    int xy[32], lab[16];
    size_t n;
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 100, 50, 0.5f, 2, xy, lab, 16, &n), CS_OK);
    ck_assert_uint_eq(n, 4);
    const int want[8] = {25, 37, 75, 37, 25, 12, 75, 12};
    const int wl[4] = {1, 1, 0, 0};
    for (int i = 0; i < 8; i++) ck_assert_int_eq(xy[i], want[i]);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(lab[i], wl[i]);
    /* threshold above 1: nothing is >= t, an empty result is not an error */
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 100, 50, 1.5f, 2, xy, lab, 16, &n), CS_OK);
    ck_assert_uint_eq(n, 0);
    /* a constant map (NaN in the reference) gives no points */
    float flat[16];
    for (int i = 0; i < 16; i++) flat[i] = 0.25f;
    ck_assert_int_eq(cs_similarity_to_points(flat, 4, 4, 100, 50, 0.0f, 2, xy, lab, 16, &n), CS_OK);
    ck_assert_uint_eq(n, 0);
    /* coordinates clamp to the last pixel: a 1-pixel-wide image gives x = 0 */
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 1, 1, 0.5f, 2, xy, lab, 16, &n), CS_OK);
    for (size_t k = 0; k < 2 * n; k++) ck_assert_int_eq(xy[k], 0);
}
END_TEST

START_TEST(multi_constructed)
{
    /* 4x4 cells, down_sample 1 (no smoothing), 2 texts, t = 0.8, image 40 x 40 (scale 10).
     * Text 0 peaks at cell 0 (value 10), text 1 at cell 15 (value 5); everything else is flat
     * except a few steps so the mean map has a clear minimum. */
    float sim[16 * 2];
    for (int i = 0; i < 16; i++) {
        sim[2 * i] = (float)(i % 4);      /* text 0: 0..3 by column */
        sim[2 * i + 1] = (float)(i / 4);  /* text 1: 0..3 by row */
    }
    sim[0] = 10.0f;       /* text 0 peak at cell 0 */
    sim[2 * 15 + 1] = 5.0f; /* text 1 peak at cell 15 */
    /* Text 0 min-max: cell 0 -> 1, others (x)/10 <= 0.3: 1 cell >= 0.8 -> num 1, positive
     * cell 0 = (5, 5). Text 1: cell 15 -> 1, others row/5 <= 0.6: positive cell 15 = (35, 35).
     * Mean map: cell 0 = (1 + 0)/2 = 0.5; cell 15 = (0.3 + 1)/2 = 0.65; cell 12 (row 3, col
     * 0) = (0 + 0.6)/2 = 0.3; cell 1 = (0.1 + 0)/2 = 0.05 is the smallest, cell 0 is not;
     * after its own min-max (min 0.05, max 0.65) only cell 15 is >= 0.8 -> num 1, the negative
     * is cell 1 = (15, 5). Order: negatives of the mean map, then positives per text. */
    int xy[64], lab[32];
    size_t n;
    ck_assert_int_eq(cs_similarity_to_points_multi(sim, 4, 4, 2, 40, 40, 0.8f, 1, xy, lab, 32, &n),
                     CS_OK);
    ck_assert_uint_eq(n, 3);
    const int want[6] = {15, 5, 5, 5, 35, 35};
    const int wl[3] = {0, 1, 1};
    for (int i = 0; i < 6; i++) ck_assert_int_eq(xy[i], want[i]);
    for (int i = 0; i < 3; i++) ck_assert_int_eq(lab[i], wl[i]);
    /* one text: negatives and positives of the same column, as the single form */
    int sxy[64], slab[32];
    size_t sn;
    float col[16];
    for (int i = 0; i < 16; i++) col[i] = sim[2 * i];
    ck_assert_int_eq(cs_similarity_to_points(col, 4, 4, 40, 40, 0.8f, 1, sxy, slab, 32, &sn),
                     CS_OK);
    float one[16];
    memcpy(one, col, sizeof one);
    ck_assert_int_eq(cs_similarity_to_points_multi(one, 4, 4, 1, 40, 40, 0.8f, 1, xy, lab, 32, &n),
                     CS_OK);
    ck_assert_uint_eq(n, sn);
    /* multi: negatives first; single: positives first */
    const size_t h = sn / 2;
    for (size_t k = 0; k < h; k++) {
        ck_assert_int_eq(xy[2 * k], sxy[2 * (h + k)]);
        ck_assert_int_eq(xy[2 * k + 1], sxy[2 * (h + k) + 1]);
        ck_assert_int_eq(xy[2 * (h + k)], sxy[2 * k]);
        ck_assert_int_eq(xy[2 * (h + k) + 1], sxy[2 * k + 1]);
    }
    /* capacity */
    ck_assert_int_eq(cs_similarity_to_points_multi(sim, 4, 4, 2, 40, 40, 0.8f, 1, xy, lab, 2, &n),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(bad_inputs)
{
    float map[16] = {0};
    map[3] = 1.0f;
    int xy[32], lab[16];
    size_t n;
    ck_assert_int_eq(cs_similarity_to_points(NULL, 4, 4, 10, 10, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 2, NULL, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 2, xy, NULL, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 2, xy, lab, 16, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 0, 4, 10, 10, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 0, 10, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, -1, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 0, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 5, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT); /* down-sampled grid would be empty */
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, NAN, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    map[5] = INFINITY;
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    map[5] = 0.0f;
    ck_assert_int_eq(cs_similarity_to_points_multi(NULL, 4, 4, 1, 10, 10, 0.8f, 2, xy, lab, 16,
                                                   &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points_multi(map, 4, 4, 0, 10, 10, 0.8f, 2, xy, lab, 16,
                                                   &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points_multi(map, 4, 4, 1, 10, 10, 0.8f, 2, xy, lab, 16,
                                                   NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points_multi(map, 4, -4, 1, 10, 10, 0.8f, 2, xy, lab, 16,
                                                   &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 0x7fffffff, 0x7fffffff, 10, 10, 0.8f, 2, xy,
                                             lab, 16, &n), CS_ERR_TOO_LARGE);
    /* zero capacity is fine when there are no points */
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 10, 10, 2.0f, 2, xy, lab, 0, &n), CS_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("points");
    TCase *tc = tcase_create("points");
    tcase_add_test(tc, golden_cases_exact);
    tcase_add_test(tc, single_constructed);
    tcase_add_test(tc, multi_constructed);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
