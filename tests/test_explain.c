/* Explanations (EXPLAIN.md): masks and boxes from a map against explain-golden.json `boxes`, the
 * edge cases (constant map, everything above the threshold, 1-pixel image, NaN), and the
 * per-token text features / text-side maps against explain-golden.safetensors. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "golden/explain-golden.safetensors"
#define GOLDEN_JSON "golden/explain-golden.json"

static json_t *load_json(void)
{
    char *path = tu_fixture(GOLDEN_JSON);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", path, err.text);
    free(path);
    return root;
}

static cs_threshold_kind kind_of(const char *s)
{
    if (!strcmp(s, "fixed")) return CS_THRESHOLD_FIXED;
    if (!strcmp(s, "quantile")) return CS_THRESHOLD_QUANTILE;
    ck_assert_str_eq(s, "otsu");
    return CS_THRESHOLD_OTSU;
}

START_TEST(boxes_match_golden)
{
    json_t *root = load_json();
    json_t *rows = json_object_get(root, "boxes");
    ck_assert(json_is_array(rows) && json_array_size(rows) > 0);
    cs_safetensors *st = tu_open_golden(GOLDEN);
    size_t nm;
    float *maps = tu_golden_f32(st, "boxes.maps", &nm);
    const int H = 300, W = 451, T = 12;
    ck_assert_uint_eq(nm, (size_t)H * W * T);
    uint8_t *mask = malloc((size_t)H * W);
    cs_component comp[256];
    double d_tau = 0.0, d_stat = 0.0;
    size_t ri;
    json_t *r;
    json_array_foreach(rows, ri, r) {
        const int t = (int)json_integer_value(json_object_get(r, "text_index"));
        ck_assert(t >= 0 && t < T);
        cs_threshold_params p;
        cs_threshold_params_default(&p);
        p.kind = kind_of(json_string_value(json_object_get(r, "kind")));
        json_t *jp = json_object_get(r, "param");
        if (!json_is_null(jp)) p.value = json_number_value(jp);
        double tau = -1.0;
        size_t count = 0, nc = 0;
        ck_assert_int_eq(cs_map_threshold(maps + t, H, W, T, &p, mask, (size_t)H * W, &tau,
                                          &count), CS_OK);
        const double want_tau = json_number_value(json_object_get(r, "threshold"));
        d_tau = fmax(d_tau, fabs(tau - want_tau));
        ck_assert_msg(fabs(tau - want_tau) <= 1e-6, "row %zu: threshold %.9g, want %.9g", ri,
                      tau, want_tau);
        ck_assert_msg(count == (size_t)json_integer_value(json_object_get(r, "mask_pixels")),
                      "row %zu (%s): mask pixels %zu, want %lld", ri,
                      json_string_value(json_object_get(r, "kind")), count,
                      (long long)json_integer_value(json_object_get(r, "mask_pixels")));
        ck_assert_int_eq(cs_mask_components(mask, maps + t, H, W, T, 0, comp, 256, &nc), CS_OK);
        json_t *jc = json_object_get(r, "components");
        ck_assert_uint_eq(nc, json_array_size(jc));
        ck_assert_uint_eq(nc, (size_t)json_integer_value(json_object_get(r, "n_components")));
        for (size_t k = 0; k < nc; k++) {
            json_t *c = json_array_get(jc, k), *b = json_object_get(c, "box_xywh");
            ck_assert_int_eq(comp[k].x, json_integer_value(json_array_get(b, 0)));
            ck_assert_int_eq(comp[k].y, json_integer_value(json_array_get(b, 1)));
            ck_assert_int_eq(comp[k].width, json_integer_value(json_array_get(b, 2)));
            ck_assert_int_eq(comp[k].height, json_integer_value(json_array_get(b, 3)));
            ck_assert_int_eq(comp[k].area, json_integer_value(json_object_get(c, "area")));
            const double dm = fabs(comp[k].mean_map -
                                   json_number_value(json_object_get(c, "mean_map")));
            const double dp = fabs(comp[k].peak_map -
                                   json_number_value(json_object_get(c, "peak_map")));
            d_stat = fmax(d_stat, fmax(dm, dp));
            ck_assert_msg(dm <= 1e-6 && dp <= 1e-6, "row %zu comp %zu: mean/peak off by %g/%g",
                          ri, k, dm, dp);
        }
        /* the one-call form agrees */
        size_t nc2 = 0, count2 = 0;
        double tau2 = 0.0;
        cs_component comp2[256];
        ck_assert_int_eq(cs_map_boxes(maps + t, H, W, T, &p, 0, comp2, 256, &nc2, &tau2,
                                      &count2), CS_OK);
        ck_assert_uint_eq(nc2, nc);
        ck_assert_uint_eq(count2, count);
        ck_assert(tau2 == tau);
        ck_assert(nc == 0 || memcmp(comp2, comp, nc * sizeof *comp) == 0);
    }
    printf("  boxes: %zu rows, max |threshold error| %.3g, max |mean/peak error| %.3g\n",
           json_array_size(rows), d_tau, d_stat);
    free(mask);
    free(maps);
    cs_st_close(st);
    json_decref(root);
}
END_TEST

static void thr(cs_threshold_kind kind, double value, cs_threshold_params *p)
{
    cs_threshold_params_default(p);
    p->kind = kind;
    p->value = value;
}

START_TEST(constant_map_gives_nothing)
{
    float map[12];
    for (int i = 0; i < 12; i++) map[i] = 0.25f;
    uint8_t mask[12];
    cs_component c[4];
    const cs_threshold_kind kinds[] = {CS_THRESHOLD_FIXED, CS_THRESHOLD_FIXED,
                                       CS_THRESHOLD_QUANTILE, CS_THRESHOLD_QUANTILE,
                                       CS_THRESHOLD_OTSU};
    const double values[] = {0.0, -5.0, 0.0, 1.0, 0.5};
    for (int k = 0; k < 5; k++) {
        cs_threshold_params p;
        thr(kinds[k], values[k], &p);
        size_t count = 99, nc = 99;
        double tau = NAN;
        memset(mask, 7, sizeof mask);
        ck_assert_int_eq(cs_map_threshold(map, 3, 4, 1, &p, mask, 12, &tau, &count), CS_OK);
        ck_assert_uint_eq(count, 0);
        ck_assert(!isnan(tau));
        for (int i = 0; i < 12; i++) ck_assert_int_eq(mask[i], 0);
        ck_assert_int_eq(cs_map_boxes(map, 3, 4, 1, &p, 0, c, 4, &nc, NULL, NULL), CS_OK);
        ck_assert_uint_eq(nc, 0);
    }
}
END_TEST

START_TEST(everything_above_gives_one_box)
{
    /* 5x7 map, values 0..34/34: fixed 0 selects every pixel -> one box = the image */
    float map[35];
    for (int i = 0; i < 35; i++) map[i] = (float)i / 34.0f;
    cs_threshold_params p;
    thr(CS_THRESHOLD_FIXED, 0.0, &p);
    cs_component c[2];
    size_t nc = 0, count = 0;
    double tau = 1;
    ck_assert_int_eq(cs_map_boxes(map, 5, 7, 1, &p, 0, c, 2, &nc, &tau, &count), CS_OK);
    ck_assert_uint_eq(count, 35);
    ck_assert_uint_eq(nc, 1);
    ck_assert_int_eq(c[0].x, 0);
    ck_assert_int_eq(c[0].y, 0);
    ck_assert_int_eq(c[0].width, 7);
    ck_assert_int_eq(c[0].height, 5);
    ck_assert_int_eq(c[0].area, 35);
    ck_assert(fabs(c[0].mean_map - 0.5) < 1e-7);
    ck_assert(c[0].peak_map == 1.0);
    /* quantile 0 is the minimum: also everything */
    thr(CS_THRESHOLD_QUANTILE, 0.0, &p);
    ck_assert_int_eq(cs_map_boxes(map, 5, 7, 1, &p, 0, c, 2, &nc, &tau, &count), CS_OK);
    ck_assert_uint_eq(count, 35);
    ck_assert_uint_eq(nc, 1);
    ck_assert(tau == 0.0);
    /* quantile 1 is the maximum: the one pixel (6, 4) */
    thr(CS_THRESHOLD_QUANTILE, 1.0, &p);
    ck_assert_int_eq(cs_map_boxes(map, 5, 7, 1, &p, 0, c, 2, &nc, &tau, &count), CS_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_uint_eq(nc, 1);
    ck_assert_int_eq(c[0].x, 6);
    ck_assert_int_eq(c[0].y, 4);
    ck_assert_int_eq(c[0].width, 1);
    ck_assert_int_eq(c[0].area, 1);
}
END_TEST

START_TEST(one_pixel_image)
{
    const float map[1] = {0.7f};
    uint8_t mask[1] = {9};
    cs_component c[1];
    const cs_threshold_kind kinds[] = {CS_THRESHOLD_FIXED, CS_THRESHOLD_QUANTILE,
                                       CS_THRESHOLD_OTSU};
    for (int k = 0; k < 3; k++) {
        cs_threshold_params p;
        thr(kinds[k], 0.5, &p);
        size_t count = 9, nc = 9;
        ck_assert_int_eq(cs_map_threshold(map, 1, 1, 1, &p, mask, 1, NULL, &count), CS_OK);
        ck_assert_uint_eq(count, 0);
        ck_assert_int_eq(mask[0], 0);
        ck_assert_int_eq(cs_map_boxes(map, 1, 1, 1, &p, 0, c, 1, &nc, NULL, NULL), CS_OK);
        ck_assert_uint_eq(nc, 0);
    }
    /* a 1-pixel mask given directly is one 1x1 component */
    const uint8_t one[1] = {1};
    size_t nc = 0;
    ck_assert_int_eq(cs_mask_components(one, map, 1, 1, 1, 0, c, 1, &nc), CS_OK);
    ck_assert_uint_eq(nc, 1);
    ck_assert_int_eq(c[0].width, 1);
    ck_assert_int_eq(c[0].height, 1);
    ck_assert_int_eq(c[0].area, 1);
    ck_assert(c[0].peak_map == (double)0.7f);
}
END_TEST

START_TEST(nan_map_is_invalid)
{
    float map[6] = {0, 0.2f, 0.4f, 0.6f, 0.8f, 1};
    uint8_t mask[6];
    cs_threshold_params p;
    cs_component c[6];
    size_t nc;
    for (int k = 0; k < 3; k++) {
        thr((cs_threshold_kind)k, 0.5, &p);
        map[3] = NAN;
        ck_assert_int_eq(cs_map_threshold(map, 2, 3, 1, &p, mask, 6, NULL, NULL),
                         CS_ERR_INVALID_ARGUMENT);
        ck_assert(strstr(cs_last_error(), "NaN") != NULL);
        ck_assert_int_eq(cs_map_boxes(map, 2, 3, 1, &p, 0, c, 6, &nc, NULL, NULL),
                         CS_ERR_INVALID_ARGUMENT);
        map[3] = INFINITY;
        ck_assert_int_eq(cs_map_threshold(map, 2, 3, 1, &p, mask, 6, NULL, NULL),
                         CS_ERR_INVALID_ARGUMENT);
    }
}
END_TEST

START_TEST(components_connectivity_order_and_min_area)
{
    /* 0 1 2 3 4 5
     * 1 1 . . 1 .     diagonal pixels connect (8-connectivity)
     * . . 1 . . .
     * . . . . 1 1
     * 1 . . . 1 1 */
    const uint8_t m[4 * 6] = {1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1,
                              1, 0, 0, 0, 1, 1};
    float map[24];
    for (int i = 0; i < 24; i++) map[i] = (float)i / 23.0f;
    cs_component c[8];
    size_t nc = 0;
    ck_assert_int_eq(cs_mask_components(m, map, 4, 6, 1, 0, c, 8, &nc), CS_OK);
    ck_assert_uint_eq(nc, 4);
    /* {(0,0),(1,0),(2,1)} area 3 and {(4,2),(5,2),(4,3),(5,3)} area 4; (4,0) and (0,3) alone */
    ck_assert_int_eq(c[0].area, 4);
    ck_assert_int_eq(c[0].x, 4);
    ck_assert_int_eq(c[0].y, 2);
    ck_assert_int_eq(c[1].area, 3);
    ck_assert_int_eq(c[1].width, 3);
    ck_assert_int_eq(c[1].height, 2);
    ck_assert(fabs(c[1].mean_map - (0 + 1 + 8) / 23.0 / 3.0) < 1e-7);
    ck_assert(c[1].peak_map == (double)map[8]);
    /* equal areas: top first */
    ck_assert_int_eq(c[2].y, 0);
    ck_assert_int_eq(c[2].x, 4);
    ck_assert_int_eq(c[3].y, 3);
    ck_assert_int_eq(c[3].x, 0);
    /* min_area drops the small ones; a short buffer reports the count and writes nothing */
    ck_assert_int_eq(cs_mask_components(m, map, 4, 6, 1, 3, c, 8, &nc), CS_OK);
    ck_assert_uint_eq(nc, 2);
    cs_component one = {0};
    ck_assert_int_eq(cs_mask_components(m, NULL, 4, 6, 1, 0, &one, 1, &nc),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(nc, 4);
    ck_assert_int_eq(one.area, 0);
    ck_assert_int_eq(cs_mask_components(m, NULL, 4, 6, 1, 0, NULL, 0, &nc),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(nc, 4);
}
END_TEST

static int cmp_f(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

START_TEST(quantile_equals_sorted_definition)
{
    /* random maps (many ties for the small alphabets) against numpy's definition on a sorted copy */
    uint32_t seed = 12345;
    float *map = malloc(5000 * sizeof *map), *sorted = malloc(5000 * sizeof *sorted);
    uint8_t *mask = malloc(5000);
    const double qs[] = {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0};
    for (int trial = 0; trial < 60; trial++) {
        const int h = 1 + trial % 37, w = 1 + (trial * 7) % 131, n = h * w;
        const int levels = trial % 3 == 0 ? 3 : trial % 3 == 1 ? 50 : 1 << 20;
        for (int i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            map[i] = (float)((seed >> 8) % (uint32_t)levels) / (float)levels;
        }
        memcpy(sorted, map, (size_t)n * sizeof *map);
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_f);
        for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
            cs_threshold_params p;
            thr(CS_THRESHOLD_QUANTILE, qs[k], &p);
            double tau = -1;
            size_t count = 0;
            ck_assert_int_eq(cs_map_threshold(map, h, w, 1, &p, mask, (size_t)n, &tau, &count),
                             CS_OK);
            if (sorted[0] == sorted[n - 1]) {
                ck_assert_uint_eq(count, 0);
                continue;
            }
            const double virt = qs[k] * (n - 1);
            const size_t lo = (size_t)floor(virt);
            const double g = virt - (double)lo;
            const double a = sorted[lo], b = lo + 1 < (size_t)n ? sorted[lo + 1] : a;
            const double want = g >= 0.5 ? b - (b - a) * (1.0 - g) : a + (b - a) * g;
            ck_assert_msg(tau == want, "trial %d q %g: %.17g vs %.17g", trial, qs[k], tau, want);
            size_t want_count = 0;
            for (int i = 0; i < n; i++) want_count += (double)map[i] >= want;
            ck_assert_uint_eq(count, want_count);
        }
    }
    free(map);
    free(sorted);
    free(mask);
}
END_TEST

START_TEST(extreme_ranges_are_defined)
{
    /* the full float range (max - min overflows float): every kind stays defined (fuzz find) */
    const float map[6] = {-3e38f, 0.0f, 3e38f, 1.0f, -1.0f, 3e38f};
    uint8_t mask[6];
    for (int k = 0; k < 3; k++) {
        cs_threshold_params p;
        thr((cs_threshold_kind)k, 0.5, &p);
        size_t count = 0;
        double tau = 0;
        ck_assert_int_eq(cs_map_threshold(map, 2, 3, 1, &p, mask, 6, &tau, &count), CS_OK);
        ck_assert(isfinite(tau));
        ck_assert(count >= 2 && count <= 5);
    }
}
END_TEST

START_TEST(threshold_bad_inputs)
{
    const float map[4] = {0, 0.3f, 0.6f, 1};
    uint8_t mask[4];
    cs_threshold_params p;
    thr(CS_THRESHOLD_FIXED, 0.5, &p);
    size_t nc;
    ck_assert_int_eq(cs_map_threshold(NULL, 2, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, NULL, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_map_threshold(map, 0, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 0, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, mask, 3, NULL, NULL),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_map_threshold(map, 65536, 65536, SIZE_MAX / 2, &p, mask, 4, NULL, NULL),
                     CS_ERR_TOO_LARGE);
    p.value = NAN;
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    thr(CS_THRESHOLD_QUANTILE, 1.5, &p);
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    thr((cs_threshold_kind)7, 0.5, &p);
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    thr(CS_THRESHOLD_FIXED, 0.5, &p);
    p.size = 4;
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, &p, mask, 4, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_mask_components(mask, map, 2, 2, 1, -1, NULL, 0, &nc),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_mask_components(NULL, map, 2, 2, 1, 0, NULL, 0, &nc),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_mask_components(mask, map, 2, 2, 1, 0, NULL, 0, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_map_boxes(map, 2, 2, 1, NULL, 0, NULL, 0, NULL, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    /* NULL params: the default fixed 0.5 */
    size_t count = 0;
    ck_assert_int_eq(cs_map_threshold(map, 2, 2, 1, NULL, mask, 4, NULL, &count), CS_OK);
    ck_assert_uint_eq(count, 2);
}
END_TEST

/* ---- text side (EXPLAIN.md 1) ---------------------------------------------------------- */

static cs_model *load_tiny(void)
{
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *vpath = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vpath;
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, &mp, &m);
    ck_assert_msg(s == CS_OK, "cannot load %s: %s", path, cs_last_error());
    free(path);
    free(vpath);
    return m;
}

static void check_close(const char *what, const float *got, const float *want, size_t n,
                        double *worst)
{
    const double d = tu_max_abs_diff(got, want, n);
    if (d > *worst) *worst = d;
    ck_assert_msg(d <= 1e-4, "%s: max abs error %g", what, d);
}

START_TEST(token_features_and_text_maps_match_golden)
{
    json_t *root = load_json();
    json_t *caps = json_object_get(root, "captions");
    ck_assert(json_is_array(caps) && json_array_size(caps) == 3);
    cs_safetensors *st = tu_open_golden(GOLDEN);
    cs_model *m = load_tiny();
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    const int D = cs_model_embed_dim(m), N = 17, B = 2, OH = 75, OW = 100;
    ck_assert_int_eq(D, 64);
    size_t npx;
    float *px = tu_golden_f32(st, "input.x64", &npx);
    ck_assert_uint_eq(npx, (size_t)B * 3 * 64 * 64);
    /* image side: default surgery features, normalised; the same for every caption */
    ck_assert_int_eq(cs_model_image_tokens(m, 64, 64), N);
    float *img = malloc((size_t)B * N * D * sizeof *img);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, B, 64, 64, img, (size_t)B * N * D), CS_OK);
    cs_l2_normalize(img, (size_t)B * N, (size_t)D);
    double e_feat = 0, e_sim = 0, e_score = 0, e_map = 0, e_eot = 0;
    for (size_t c = 0; c < json_array_size(caps); c++) {
        const char *caption = json_string_value(json_array_get(caps, c));
        char name[64];
        snprintf(name, sizeof name, "text%zu.token_ids", c);
        const cs_st_tensor *ti = cs_st_find(st, name);
        ck_assert_ptr_nonnull(ti);
        ck_assert_int_eq(ti->dtype, CS_DT_I32);
        const int nt = (int)ti->shape[0];
        int32_t ids[CS_CONTEXT_LENGTH];
        float feats[CS_CONTEXT_LENGTH * 64];
        int n_tok = 0;
        ck_assert_int_eq(cs_text_token_features(ctx, caption, ids, CS_CONTEXT_LENGTH, feats,
                                                sizeof feats / sizeof *feats, &n_tok), CS_OK);
        ck_assert_int_eq(n_tok, nt);
        for (int i = 0; i < nt; i++)
            ck_assert_int_eq(ids[i], ((const int32_t *)ti->data)[i]);
        snprintf(name, sizeof name, "text%zu.token_features", c);
        float *want = tu_golden_f32(st, name, NULL);
        check_close(name, feats, want, (size_t)nt * D, &e_feat);
        free(want);
        /* the ids form gives the same features; the last row is the ordinary EOT feature */
        int32_t ctx_ids[CS_CONTEXT_LENGTH];
        ck_assert_int_eq(cs_tokenize_context(cs_model_tokenizer(m), caption, strlen(caption), 0,
                                             ctx_ids, NULL), CS_OK);
        float feats2[CS_CONTEXT_LENGTH * 64], eot[64];
        int n2 = 0;
        ck_assert_int_eq(cs_encode_token_features(ctx, ctx_ids, feats2,
                                                  sizeof feats2 / sizeof *feats2, &n2), CS_OK);
        ck_assert_int_eq(n2, nt);
        ck_assert(memcmp(feats, feats2, (size_t)nt * D * sizeof *feats) == 0);
        ck_assert_int_eq(cs_encode_token_ids(ctx, ctx_ids, 1, eot, 64), CS_OK);
        cs_l2_normalize(eot, 1, 64);
        const double de = tu_max_abs_diff(eot, feats + (size_t)(nt - 1) * D, 64);
        if (de > e_eot) e_eot = de;
        ck_assert_msg(de <= 1e-5, "caption %zu: EOT feature vs last token %g", c, de);
        /* label-set feature surgery over the tokens, scores, maps */
        float *sim = malloc((size_t)B * N * nt * sizeof *sim);
        ck_assert_int_eq(cs_feature_surgery_label_set(img, B, N, feats, nt, D, sim,
                                                      (size_t)B * N * nt), CS_OK);
        snprintf(name, sizeof name, "text%zu.similarity", c);
        want = tu_golden_f32(st, name, NULL);
        check_close(name, sim, want, (size_t)B * N * nt, &e_sim);
        free(want);
        snprintf(name, sizeof name, "text%zu.token_scores", c);
        want = tu_golden_f32(st, name, NULL);
        for (int b = 0; b < B; b++)
            check_close(name, sim + (size_t)b * N * nt, want + (size_t)b * nt, (size_t)nt,
                        &e_score);
        free(want);
        const size_t per = (size_t)OH * OW * nt;
        float *maps = malloc((size_t)B * per * sizeof *maps);
        for (int b = 0; b < B; b++)
            ck_assert_int_eq(cs_similarity_maps(sim + (size_t)b * N * nt, 4, 4, nt, OH, OW,
                                                maps + (size_t)b * per, per), CS_OK);
        snprintf(name, sizeof name, "text%zu.maps_75x100", c);
        want = tu_golden_f32(st, name, NULL);
        check_close(name, maps, want, (size_t)B * per, &e_map);
        free(want);
        free(maps);
        free(sim);
    }
    printf("  text side: max abs error token features %.3g, similarity %.3g, scores %.3g, "
           "maps %.3g; |EOT - last token| %.3g\n", e_feat, e_sim, e_score, e_map, e_eot);
    free(img);
    free(px);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(st);
    json_decref(root);
}
END_TEST

START_TEST(token_features_bad_inputs)
{
    cs_model *m = load_tiny();
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    float f[CS_CONTEXT_LENGTH * 64];
    int32_t ids[CS_CONTEXT_LENGTH];
    int n = 0;
    ck_assert_int_eq(cs_text_token_features(ctx, NULL, ids, 77, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_text_token_features(NULL, "a cat", ids, 77, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_text_token_features(ctx, "a cat", ids, 77, f, 3 * 64, &n),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(cs_text_token_features(ctx, "a cat", ids, 3, f, 77 * 64, &n),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_text_token_features(ctx, "a cat", NULL, 5, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    /* empty text: SOT, EOT */
    ck_assert_int_eq(cs_text_token_features(ctx, "", ids, 77, f, 77 * 64, &n), CS_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], CS_TOKEN_SOT);
    ck_assert_int_eq(ids[1], CS_TOKEN_EOT);
    char long_text[2000] = "";
    for (int i = 0; i < 200; i++) strcat(long_text, "cat ");
    ck_assert_int_eq(cs_text_token_features(ctx, long_text, ids, 77, f, 77 * 64, &n),
                     CS_ERR_TEXT_TOO_LONG);
    int32_t bad[CS_CONTEXT_LENGTH] = {CS_TOKEN_SOT, 320}; /* no EOT */
    ck_assert_int_eq(cs_encode_token_features(ctx, bad, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    bad[2] = -4;
    ck_assert_int_eq(cs_encode_token_features(ctx, bad, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_token_features(ctx, NULL, f, 77 * 64, &n),
                     CS_ERR_INVALID_ARGUMENT);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("boxes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, boxes_match_golden);
    tcase_add_test(tc, constant_map_gives_nothing);
    tcase_add_test(tc, everything_above_gives_one_box);
    tcase_add_test(tc, one_pixel_image);
    tcase_add_test(tc, nan_map_is_invalid);
    tcase_add_test(tc, components_connectivity_order_and_min_area);
    tcase_add_test(tc, threshold_bad_inputs);
    tcase_add_test(tc, quantile_equals_sorted_definition);
    tcase_add_test(tc, extreme_ranges_are_defined);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("text");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, token_features_and_text_maps_match_golden);
    tcase_add_test(tt, token_features_bad_inputs);
    suite_add_tcase(s, tt);
    return tu_run_suite(s);
}
