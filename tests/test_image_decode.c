/* Decoding: PIL convert("RGB") parity on the edge corpus, every bad-input rule, EXIF, memory
 * decoding, and robustness on every truncation of real files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cs_status decode_edge(const char *name, uint32_t flags, cs_image **img)
{
    char rel[256];
    snprintf(rel, sizeof rel, "edge/%s", name);
    char *path = tu_fixture(rel);
    cs_decode_params p;
    cs_decode_params_default(&p);
    p.flags = flags;
    cs_status s = cs_image_decode_file(path, &p, img);
    free(path);
    return s;
}

/* Largest |decoded - expected| over an HxWx3 uint8 golden; fails on shape mismatch. */
static int max_diff_vs_golden(const cs_image *img, const cs_st_tensor *t)
{
    ck_assert_int_eq(t->dtype, CS_DT_U8);
    ck_assert_int_eq(t->ndim, 3);
    ck_assert_int_eq(t->shape[0], img->height);
    ck_assert_int_eq(t->shape[1], img->width);
    ck_assert_int_eq(t->shape[2], 3);
    int m = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width * 3; x++) {
            int d = abs((int)img->data[(size_t)y * img->stride + x] -
                        (int)t->data[((size_t)y * img->width * 3) + x]);
            if (d > m) m = d;
        }
    return m;
}

START_TEST(edge_ok_files_match_pil)
{
    cs_safetensors *g = tu_open_golden("edge/expected_rgb.safetensors");
    int checked = 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const cs_st_tensor *t = &g->tensors[i];
        cs_image *img;
        cs_status s = decode_edge(t->name, 0, &img);
        ck_assert_msg(s == CS_OK, "%s: %s: %s", t->name, cs_status_string(s), cs_last_error());
        int d = max_diff_vs_golden(img, t);
        if (strcmp(t->name, "cmyk.jpg") == 0) {
            fprintf(stderr, "cmyk.jpg: largest difference from PIL = %d levels\n", d);
            ck_assert_msg(d <= 3, "cmyk.jpg differs from PIL by %d levels", d);
        } else {
            ck_assert_msg(d == 0, "%s differs from PIL by up to %d levels", t->name, d);
        }
        cs_image_free(img);
        checked++;
    }
    ck_assert_int_ge(checked, 15);
    cs_st_close(g);
}
END_TEST

START_TEST(rgb16_equals_rgb8_and_gray16_high_byte)
{
    cs_safetensors *g = tu_open_golden("edge/expected_rgb.safetensors");
    cs_image *img;
    ck_assert_int_eq(decode_edge("rgb16.png", 0, &img), CS_OK);
    ck_assert_int_eq(max_diff_vs_golden(img, cs_st_find(g, "rgb8.png")), 0);
    cs_image_free(img);
    cs_st_close(g);

    ck_assert_int_eq(decode_edge("gray16_ramp.png", 0, &img), CS_OK);
    int seen[256] = {0}, distinct = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            const uint8_t *p = img->data + (size_t)y * img->stride + 3 * (size_t)x;
            ck_assert(p[0] == p[1] && p[1] == p[2]);
            if (!seen[p[0]]++) distinct++;
        }
    ck_assert_int_eq(distinct, 256);
    cs_image_free(img);
}
END_TEST

START_TEST(gray_files_are_replicated)
{
    const char *names[] = {"gray8.png", "gray_alpha.png", "gray.jpg"};
    for (size_t k = 0; k < 3; k++) {
        cs_image *img;
        ck_assert_int_eq(decode_edge(names[k], 0, &img), CS_OK);
        for (int y = 0; y < img->height; y++)
            for (int x = 0; x < img->width; x++) {
                const uint8_t *p = img->data + (size_t)y * img->stride + 3 * (size_t)x;
                ck_assert(p[0] == p[1] && p[1] == p[2]);
            }
        cs_image_free(img);
    }
}
END_TEST

typedef struct bad_case {
    const char *name;
    cs_status want;
} bad_case;

START_TEST(bad_files_fail_cleanly)
{
    const bad_case cases[] = {
        {"bad_crc.png", CS_ERR_FORMAT},          {"bad_empty.png", CS_ERR_FORMAT},
        {"bad_huge_dims.png", CS_ERR_TOO_LARGE}, {"bad_zero_width.png", CS_ERR_FORMAT},
        {"bad_truncated_idat.png", CS_ERR_FORMAT}, {"bad_sof_65500.jpg", CS_ERR_TOO_LARGE},
        {"bad_text.jpg", CS_ERR_FORMAT},         {"bad_truncated.jpg", CS_ERR_CORRUPT_DATA},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static cs_image sentinel_obj;
        cs_image *sentinel = &sentinel_obj, *img = sentinel; /* must stay untouched */
        cs_status s = decode_edge(cases[i].name, 0, &img);
        ck_assert_msg(s == cases[i].want, "%s: got %s (%s), want %s", cases[i].name,
                      cs_status_string(s), cs_last_error(), cs_status_string(cases[i].want));
        ck_assert_ptr_eq(img, sentinel);
        ck_assert_int_gt((int)strlen(cs_last_error()), 0);
    }
}
END_TEST

START_TEST(pixel_cap_is_checked_before_decoding)
{
    cs_image *img = NULL;
    /* the message proves the header check fired (no pixel buffer was needed to fail) */
    ck_assert_int_eq(decode_edge("bad_huge_dims.png", 0, &img), CS_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "pixel cap"));
    ck_assert_int_eq(decode_edge("bad_sof_65500.jpg", 0, &img), CS_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "pixel cap"));
    ck_assert_ptr_null(img);
    /* configurable cap: rgb8.png is 37x23 = 851 pixels */
    char *path = tu_fixture("edge/rgb8.png");
    const char *jpg_rel = "edge/baseline.jpg";
    char *jpath = tu_fixture(jpg_rel);
    cs_decode_params p;
    cs_decode_params_default(&p);
    ck_assert_uint_eq(p.max_pixels, CS_DEFAULT_MAX_PIXELS);
    p.max_pixels = 850;
    ck_assert_int_eq(cs_image_decode_file(path, &p, &img), CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_image_decode_file(jpath, &p, &img), CS_ERR_TOO_LARGE);
    p.max_pixels = 851;
    ck_assert_int_eq(cs_image_decode_file(path, &p, &img), CS_OK);
    cs_image_free(img);
    ck_assert_int_eq(cs_image_decode_file(jpath, &p, &img), CS_OK);
    cs_image_free(img);
    free(path);
    free(jpath);
}
END_TEST

START_TEST(no_iend_and_arithmetic)
{
    cs_image *img;
    ck_assert_int_eq(decode_edge("bad_no_iend.png", 0, &img), CS_OK); /* as PIL */
    cs_image_free(img);
    cs_status s = decode_edge("arithmetic.jpg", 0, &img);
    ck_assert_msg(s == CS_OK || s == CS_ERR_UNSUPPORTED, "arithmetic.jpg: %s",
                  cs_status_string(s));
    if (s == CS_OK) {
        /* arithmetic coding is lossless w.r.t. baseline for the same coefficients */
        cs_image *ref;
        ck_assert_int_eq(decode_edge("baseline.jpg", 0, &ref), CS_OK);
        ck_assert_int_eq(img->width, ref->width);
        ck_assert_int_eq(img->height, ref->height);
        cs_image_free(ref);
        cs_image_free(img);
    }
}
END_TEST

START_TEST(truncated_jpeg_with_accept_warnings)
{
    cs_image *img;
    ck_assert_int_eq(decode_edge("bad_truncated.jpg", 0, &img), CS_ERR_CORRUPT_DATA);
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "Premature end"));
    ck_assert_int_eq(decode_edge("bad_truncated.jpg", CS_DECODE_ACCEPT_WARNINGS, &img), CS_OK);
    ck_assert_int_gt(img->width, 0);
    cs_image_free(img);
}
END_TEST

START_TEST(exif_orientation_opt_in)
{
    cs_image *plain, *rot;
    ck_assert_int_eq(decode_edge("exif_orient6.jpg", 0, &plain), CS_OK);
    ck_assert_int_eq(decode_edge("exif_orient6.jpg", CS_DECODE_APPLY_EXIF_ORIENTATION, &rot),
                     CS_OK);
    ck_assert_int_eq(rot->width, plain->height);
    ck_assert_int_eq(rot->height, plain->width);
    /* orientation 6: displayed (x, y) is stored (y, H - 1 - x), i.e. rotate 90 clockwise */
    for (int y = 0; y < rot->height; y++)
        for (int x = 0; x < rot->width; x++)
            ck_assert_int_eq(memcmp(rot->data + (size_t)y * rot->stride + 3 * (size_t)x,
                                    plain->data + (size_t)(plain->height - 1 - x) * plain->stride +
                                        3 * (size_t)y,
                                    3),
                             0);
    cs_image_free(plain);
    cs_image_free(rot);
}
END_TEST

START_TEST(memory_decode_equals_file_decode)
{
    const char *names[] = {"rgb8.png", "progressive.jpg", "palette_trns.png"};
    for (size_t k = 0; k < 3; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "edge/%s", names[k]);
        char *path = tu_fixture(rel);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        cs_image *a, *b;
        ck_assert_int_eq(cs_image_decode_memory(buf, n, NULL, &a), CS_OK);
        ck_assert_int_eq(cs_image_decode_file(path, NULL, &b), CS_OK);
        ck_assert_int_eq(a->width, b->width);
        ck_assert_int_eq(a->height, b->height);
        ck_assert_int_eq(memcmp(a->data, b->data, a->stride * (size_t)a->height), 0);
        cs_image_free(a);
        cs_image_free(b);
        free(path);
    }
}
END_TEST

START_TEST(bad_arguments)
{
    cs_image *img = NULL;
    ck_assert_int_eq(cs_image_decode_memory(NULL, 10, NULL, &img), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_decode_memory("x", 1, NULL, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_decode_memory("", 0, NULL, &img), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_image_decode_file(NULL, NULL, &img), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_decode_file("/nonexistent/x.png", NULL, &img), CS_ERR_IO);
    const char text[] = "this is a text file, not an image\n";
    ck_assert_int_eq(cs_image_decode_memory(text, sizeof text - 1, NULL, &img), CS_ERR_FORMAT);
    cs_decode_params p;
    cs_decode_params_default(&p);
    p.size = 4;
    ck_assert_int_eq(cs_image_decode_memory(text, sizeof text - 1, &p, &img),
                     CS_ERR_INVALID_ARGUMENT);
    cs_decode_params_default(&p);
    p.flags = 1u << 7;
    ck_assert_int_eq(cs_image_decode_memory(text, sizeof text - 1, &p, &img),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(img);
    cs_image_free(NULL);
    cs_decode_params_default(NULL);
}
END_TEST

/* A PNG with a given IHDR and no image data: limits apply before libpng reads further. */
static size_t make_png_header(uint8_t *b, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(b, sig, 8);
    const uint8_t ihdr[8] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    memcpy(b + 8, ihdr, 8);
    uint8_t *p = b + 16;
    p[0] = w >> 24; p[1] = w >> 16; p[2] = w >> 8; p[3] = w;
    p[4] = h >> 24; p[5] = h >> 16; p[6] = h >> 8; p[7] = h;
    p[8] = 8; p[9] = 2; p[10] = 0; p[11] = 0; p[12] = 0;
    memset(b + 29, 0, 4); /* CRC (wrong on purpose: the size rules fire first) */
    return 33;
}

START_TEST(synthetic_header_limits)
{
    uint8_t b[64];
    cs_image *img = NULL;
    size_t n = make_png_header(b, 0, 10);
    ck_assert_int_eq(cs_image_decode_memory(b, n, NULL, &img), CS_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "zero"));
    n = make_png_header(b, 10, 0);
    ck_assert_int_eq(cs_image_decode_memory(b, n, NULL, &img), CS_ERR_FORMAT);
    n = make_png_header(b, 0xFFFFFFFFu, 0xFFFFFFFFu); /* overflows 32-bit products */
    ck_assert_int_eq(cs_image_decode_memory(b, n, NULL, &img), CS_ERR_TOO_LARGE);
    cs_decode_params p;
    cs_decode_params_default(&p);
    p.max_pixels = 0; /* no cap: the int range and size_t checks still apply */
    ck_assert_int_eq(cs_image_decode_memory(b, n, &p, &img), CS_ERR_TOO_LARGE);
    n = make_png_header(b, 20000, 20000); /* 400 M pixels > default cap */
    ck_assert_int_eq(cs_image_decode_memory(b, n, NULL, &img), CS_ERR_TOO_LARGE);
    ck_assert_ptr_null(img);
}
END_TEST

/* Every prefix of a real PNG and JPEG decodes or fails cleanly (no crash, hang or leak). */
START_TEST(every_truncation_fails_cleanly)
{
    const char *names[] = {"rgb8_adam7.png", "progressive.jpg", "baseline.jpg"};
    for (size_t k = 0; k < 3; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "edge/%s", names[k]);
        char *path = tu_fixture(rel);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        free(path);
        int failures = 0;
        for (size_t len = 0; len < n; len++) {
            uint8_t *copy = malloc(len + 1); /* exact-size buffer so ASan sees over-reads */
            memcpy(copy, buf, len);
            cs_image *img = NULL;
            cs_status s = cs_image_decode_memory(copy, len, NULL, &img);
            if (s == CS_OK) cs_image_free(img);
            else failures++;
            cs_decode_params p;
            cs_decode_params_default(&p);
            p.flags = CS_DECODE_ACCEPT_WARNINGS;
            s = cs_image_decode_memory(copy, len, &p, &img);
            if (s == CS_OK) cs_image_free(img);
            free(copy);
        }
        ck_assert_int_gt(failures, (int)n / 2);
    }
}
END_TEST

/* Corrupting single bytes never crashes. */
START_TEST(byte_flips_fail_cleanly)
{
    const char *names[] = {"rgb8.png", "baseline.jpg"};
    for (size_t k = 0; k < 2; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "edge/%s", names[k]);
        char *path = tu_fixture(rel);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        free(path);
        for (size_t i = 0; i < n; i += 7) {
            uint8_t *copy = malloc(n);
            memcpy(copy, buf, n);
            copy[i] ^= 0x5A;
            cs_image *img = NULL;
            cs_decode_params p;
            cs_decode_params_default(&p);
            p.flags = CS_DECODE_ACCEPT_WARNINGS;
            if (cs_image_decode_memory(copy, n, &p, &img) == CS_OK) cs_image_free(img);
            free(copy);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_decode");
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, edge_ok_files_match_pil);
    tcase_add_test(tc, rgb16_equals_rgb8_and_gray16_high_byte);
    tcase_add_test(tc, gray_files_are_replicated);
    tcase_add_test(tc, bad_files_fail_cleanly);
    tcase_add_test(tc, pixel_cap_is_checked_before_decoding);
    tcase_add_test(tc, no_iend_and_arithmetic);
    tcase_add_test(tc, truncated_jpeg_with_accept_warnings);
    tcase_add_test(tc, exif_orientation_opt_in);
    tcase_add_test(tc, memory_decode_equals_file_decode);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, synthetic_header_limits);
    tcase_add_test(tc, every_truncation_fails_cleanly);
    tcase_add_test(tc, byte_flips_fail_cleanly);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
