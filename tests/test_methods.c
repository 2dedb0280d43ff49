/* Training-free dense methods (MaskCLIP, SCLIP, ClearCLIP, NACLIP, GEM) against the dense goldens
 * (fixtures/golden/dense-golden.safetensors, ../shared/docs/METHODS.md): final tokens (rows
 * 1..N), patch/text cosines, positional tables of each rule, NACLIP's bias, order independence,
 * CLIP Surgery bit-identity through cs_method_apply, and the argument rules. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const GOLDEN = "golden/dense-golden.safetensors";
static const char *const inputs[3] = {"x64", "x96", "x64x96"};
static const char *const names[5] = {"maskclip", "sclip", "clearclip", "naclip", "gem"};
static const cs_method kinds[5] = {CS_METHOD_MASKCLIP, CS_METHOD_SCLIP, CS_METHOD_CLEARCLIP,
                                   CS_METHOD_NACLIP, CS_METHOD_GEM};

static cs_model *load_model(void)
{
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load(path, NULL, &m) == CS_OK, "load: %s", cs_last_error());
    free(path);
    return m;
}

static cs_context *make_ctx(const cs_model *m)
{
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    return ctx;
}

/* cosines of the normalised rows 1..N of tokens [B, T, E] with text [C, E]: [B, N, C] */
static float *logits_of(const float *tok, int b, int t, int e, const float *text, int c)
{
    float *out = malloc(sizeof(float) * (size_t)b * (t - 1) * c);
    float *row = malloc(sizeof(float) * (size_t)e);
    for (int i = 0; i < b; i++)
        for (int n = 1; n < t; n++) {
            memcpy(row, tok + ((size_t)i * t + n) * e, sizeof(float) * e);
            cs_l2_normalize(row, 1, (size_t)e);
            for (int k = 0; k < c; k++) {
                float s = 0.0f;
                for (int j = 0; j < e; j++) s += row[j] * text[(size_t)k * e + j];
                out[((size_t)i * (t - 1) + n - 1) * c + k] = s;
            }
        }
    free(row);
    return out;
}

/* max error over rows 1..T-1 of [B, T, E] */
static double patch_rows_err(const float *a, const float *b, int nb, int t, int e)
{
    double err = 0.0;
    for (int i = 0; i < nb; i++) {
        double d = tu_max_abs_diff(a + ((size_t)i * t + 1) * e, b + ((size_t)i * t + 1) * e,
                                   (size_t)(t - 1) * e);
        if (d > err) err = d;
    }
    return err;
}

START_TEST(method_tokens_and_logits_match_golden)
{
    int mi = _i / 3, ii = _i % 3;
    cs_safetensors *g = tu_open_golden(GOLDEN);
    cs_model *m = load_model();
    cs_context *ctx = make_ctx(m);
    char name[128];
    snprintf(name, sizeof name, "input.%s", inputs[ii]);
    const cs_st_tensor *ti = cs_st_find(g, name);
    ck_assert_ptr_nonnull(ti);
    int b = (int)ti->shape[0], h = (int)ti->shape[2], w = (int)ti->shape[3];
    float *x = tu_golden_f32(g, name, NULL);
    size_t n;
    snprintf(name, sizeof name, "%s.%s.tokens", names[mi], inputs[ii]);
    float *want = tu_golden_f32(g, name, &n);
    int e = cs_model_embed_dim(m), t = cs_model_image_tokens(m, h, w);
    ck_assert_int_eq((size_t)b * t * e, n);
    cs_method_params p;
    ck_assert_int_eq(cs_method_params_default(&p, kinds[mi]), CS_OK);
    float *got = malloc(sizeof(float) * n);
    cs_status s = cs_method_apply(ctx, &p, x, b, h, w, got, n);
    ck_assert_msg(s == CS_OK, "%s: %s", names[mi], cs_last_error());
    double et = patch_rows_err(got, want, b, t, e);
    double ecls = 0.0;
    for (int i = 0; i < b; i++) {
        double d = tu_max_abs_diff(got + (size_t)i * t * e, want + (size_t)i * t * e, (size_t)e);
        if (d > ecls) ecls = d;
    }
    size_t nc;
    float *text = tu_golden_f32(g, "text.ensemble", &nc);
    int c = (int)(nc / (size_t)e);
    snprintf(name, sizeof name, "%s.%s.logits", names[mi], inputs[ii]);
    size_t nl;
    float *want_l = tu_golden_f32(g, name, &nl);
    ck_assert_int_eq(nl, (size_t)b * (t - 1) * c);
    float *got_l = logits_of(got, b, t, e, text, c);
    double el = tu_max_abs_diff(got_l, want_l, nl);
    printf("%s.%s: tokens rows 1..N max abs error %.3g (class row %.3g), logits %.3g\n",
           names[mi], inputs[ii], et, ecls, el);
    ck_assert_msg(et <= TOL, "%s.%s tokens error %g", names[mi], inputs[ii], et);
    ck_assert_msg(el <= TOL, "%s.%s logits error %g", names[mi], inputs[ii], el);
    free(got_l);
    free(want_l);
    free(text);
    free(got);
    free(want);
    free(x);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(positional_tables_match_golden)
{
    static const char *const rules[3] = {"sclip", "gem", "maskclip"};
    static const cs_pos_resize ids[3] = {CS_POS_BICUBIC_SCALE, CS_POS_BICUBIC_AA,
                                         CS_POS_BICUBIC_SIZE};
    static const int grids[2][2] = {{6, 6}, {4, 6}};
    cs_safetensors *g = tu_open_golden(GOLDEN);
    cs_model *m = load_model();
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 2; k++) {
            char name[64];
            snprintf(name, sizeof name, "pos.%s.%dx%d", rules[r], grids[k][0], grids[k][1]);
            size_t n;
            float *want = tu_golden_f32(g, name, &n);
            float *got = malloc(sizeof(float) * n);
            ck_assert_int_eq(cs_positional_table(m, ids[r], grids[k][0], grids[k][1], got, n),
                             CS_OK);
            double err = tu_max_abs_diff(got, want, n);
            printf("%s: max abs error %.3g\n", name, err);
            ck_assert_msg(err <= TOL, "%s error %g", name, err);
            ck_assert_int_eq(cs_positional_table(m, ids[r], grids[k][0], grids[k][1], got, n - 1),
                             CS_ERR_BUFFER_TOO_SMALL);
            free(got);
            free(want);
        }
    /* at the stored 4x4 grid every rule gives the stored table; the rules differ elsewhere */
    size_t n4 = 17 * 128;
    float *a = malloc(sizeof(float) * n4), *b = malloc(sizeof(float) * n4);
    ck_assert_int_eq(cs_positional_table(m, CS_POS_BILINEAR, 4, 4, a, n4), CS_OK);
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(cs_positional_table(m, ids[r], 4, 4, b, n4), CS_OK);
        ck_assert(memcmp(a, b, sizeof(float) * n4) == 0);
    }
    /* a grid with the table's token count but another shape (2x8) is resized, not the stored
     * table flattened (METHODS.md 8.1); each rule gives its own table */
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(cs_positional_table(m, ids[r], 2, 8, b, n4), CS_OK);
        ck_assert(memcmp(a, b, sizeof(float) * 128) == 0);              /* class row kept */
        ck_assert(tu_max_abs_diff(a + 128, b + 128, 16 * 128) > 1e-3); /* grid resized */
    }
    ck_assert_int_eq(cs_positional_table(m, (cs_pos_resize)9, 4, 4, b, n4),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_positional_table(m, CS_POS_BILINEAR, 0, 4, b, n4),
                     CS_ERR_INVALID_ARGUMENT);
    free(a);
    free(b);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(naclip_bias_matches_golden)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    size_t n;
    float *want = tu_golden_f32(g, "naclip.omega.4x6", &n);
    ck_assert_int_eq(n, 25 * 25);
    float *got = malloc(sizeof(float) * n);
    ck_assert_int_eq(cs_naclip_bias(4, 6, 5.0f, got, n), CS_OK);
    double err = tu_max_abs_diff(got, want, n);
    printf("naclip.omega.4x6: max abs error %.3g\n", err);
    ck_assert_msg(err <= 1e-6, "omega error %g", err);
    ck_assert_int_eq(cs_naclip_bias(4, 6, 5.0f, got, n - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_naclip_bias(4, 6, 0.0f, got, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_naclip_bias(4, 6, NAN, got, n), CS_ERR_INVALID_ARGUMENT);
    /* sigma 4.5 gives another bias */
    ck_assert_int_eq(cs_naclip_bias(4, 6, 4.5f, got, n), CS_OK);
    ck_assert(tu_max_abs_diff(got, want, n) > 1e-3);
    free(got);
    free(want);
    cs_st_close(g);
}
END_TEST

/* 64 -> 96 -> 64 px: the second 64 px run gives the same bits as the first, for every method */
START_TEST(order_independent_across_sizes)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    cs_model *m = load_model();
    cs_context *ctx = make_ctx(m);
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    float *x96 = tu_golden_f32(g, "input.x96", NULL);
    int e = cs_model_embed_dim(m);
    size_t n64 = (size_t)2 * 17 * e, n96 = (size_t)37 * e;
    float *a = malloc(sizeof(float) * n64), *b = malloc(sizeof(float) * n64);
    float *c = malloc(sizeof(float) * n96);
    for (int k = 0; k < CS_METHOD_COUNT; k++) {
        cs_method_params p;
        ck_assert_int_eq(cs_method_params_default(&p, (cs_method)k), CS_OK);
        ck_assert_int_eq(cs_method_apply(ctx, &p, x64, 2, 64, 64, a, n64), CS_OK);
        ck_assert_int_eq(cs_method_apply(ctx, &p, x96, 1, 96, 96, c, n96), CS_OK);
        ck_assert_int_eq(cs_method_apply(ctx, &p, x64, 2, 64, 64, b, n64), CS_OK);
        ck_assert_msg(memcmp(a, b, sizeof(float) * n64) == 0, "%s depends on the order",
                      cs_method_name((cs_method)k));
        /* one image alone equals its row of the batch */
        ck_assert_int_eq(cs_method_apply(ctx, &p, x64 + 3 * 64 * 64, 1, 64, 64, b, n64), CS_OK);
        ck_assert_msg(tu_max_abs_diff(a + 17 * e, b, (size_t)17 * e) <= 1e-5,
                      "%s: batch entry differs", cs_method_name((cs_method)k));
    }
    free(a);
    free(b);
    free(c);
    free(x64);
    free(x96);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* CLIP Surgery and raw presets give exactly cs_surgery_apply's / cs_encode_images' bits */
START_TEST(surgery_presets_bit_identical)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    cs_model *m = load_model();
    cs_context *ctx = make_ctx(m);
    float *x = tu_golden_f32(g, "input.x64x96", NULL);
    int e = cs_model_embed_dim(m);
    size_t n = (size_t)25 * e;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    cs_method_params p;
    cs_method_params_default(&p, CS_METHOD_CLIP_SURGERY);
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, a, n), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, 1, 64, 96, b, n), CS_OK);
    ck_assert(memcmp(a, b, sizeof(float) * n) == 0);
    ck_assert_int_eq(cs_method_apply(ctx, NULL, x, 1, 64, 96, a, n), CS_OK);
    ck_assert(memcmp(a, b, sizeof(float) * n) == 0);
    cs_method_params_default(&p, CS_METHOD_RAW);
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, a, n), CS_OK);
    ck_assert_int_eq(cs_encode_images(ctx, x, 1, 64, 96, b, n), CS_OK);
    ck_assert(memcmp(a, b, sizeof(float) * n) == 0);
    /* the general path with CLIP Surgery's settings (v-v through the method kernels, forced by a
     * positional rule that equals bilinear at the stored grid) agrees within rounding */
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    size_t n64 = (size_t)17 * e;
    cs_method_params_default(&p, CS_METHOD_CLIP_SURGERY);
    p.pos_resize = CS_POS_BICUBIC_AA;
    ck_assert_int_eq(cs_method_apply(ctx, &p, x64, 1, 64, 64, a, n64), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x64, 1, 64, 64, b, n64), CS_OK);
    ck_assert(tu_max_abs_diff(a, b, n64) <= 1e-5);
    free(x64);
    free(a);
    free(b);
    free(x);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* Building blocks compose into cs_method_apply; variants change the result */
START_TEST(blocks_and_variants)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    cs_model *m = load_model();
    cs_context *ctx = make_ctx(m);
    float *x = tu_golden_f32(g, "input.x64x96", NULL);
    int e = cs_model_embed_dim(m), c = cs_model_vision_width(m), L = cs_model_vision_layers(m);
    int t = 25;
    size_t n = (size_t)t * e;
    float *ref = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    float *xo = malloc(sizeof(float) * (size_t)t * c), *xn = malloc(sizeof(float) * (size_t)t * c);
    for (int k = CS_METHOD_MASKCLIP; k <= CS_METHOD_GEM; k++) {
        cs_method_params p;
        cs_method_params_default(&p, (cs_method)k);
        ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, ref, n), CS_OK);
        /* cs_vision_embed resizes bilinearly, so compose the blocks on the stored 4x4 grid,
         * where every positional rule gives the stored table */
        float *x64 = tu_golden_f32(g, "input.x64", NULL);
        size_t n64 = (size_t)17 * e;
        ck_assert_int_eq(cs_method_apply(ctx, &p, x64, 1, 64, 64, ref, n64), CS_OK);
        ck_assert_int_eq(cs_vision_embed(ctx, x64, 64, 64, xo, (size_t)17 * c), CS_OK);
        for (int l = 0; l < L - p.n_blocks; l++) ck_assert_int_eq(cs_vision_block(ctx, l, xo, 17), CS_OK);
        memcpy(xn, xo, sizeof(float) * 17 * c);
        for (int l = L - p.n_blocks; l < L; l++)
            ck_assert_int_eq(cs_method_block(ctx, l, &p, xo, xn, 4, 4, 17), CS_OK);
        ck_assert_int_eq(cs_vision_project(ctx, p.parallel_path ? xn : xo, 17, got, n64), CS_OK);
        double err = tu_max_abs_diff(got, ref, n64);
        ck_assert_msg(err <= 1e-5, "%s blocks differ by %g", cs_method_name((cs_method)k), err);
        free(x64);
    }
    /* variants: ClearCLIP with the residual, NACLIP sigma 4.5, GEM on 4 blocks */
    cs_method_params p;
    cs_method_params_default(&p, CS_METHOD_CLEARCLIP);
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, ref, n), CS_OK);
    p.keep_residual = 1;
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, got, n), CS_OK);
    ck_assert(tu_max_abs_diff(got, ref, n) > 1e-3);
    cs_method_params_default(&p, CS_METHOD_GEM);
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, ref, n), CS_OK);
    p.n_blocks = 4;
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, got, n), CS_OK);
    ck_assert(tu_max_abs_diff(got, ref, n) > 1e-3);
    p.n_blocks = 6;
    p.gem_temperature = 0.125f;
    ck_assert_int_eq(cs_method_apply(ctx, &p, x, 1, 64, 96, got, n), CS_OK);
    ck_assert(tu_max_abs_diff(got, ref, n) > 1e-4);
    /* attention building block: identity kind = out_proj(v) */
    float *tok = malloc(sizeof(float) * (size_t)t * c);
    ck_assert_int_eq(cs_vision_embed(ctx, x, 64, 96, tok, (size_t)t * c), CS_OK);
    cs_method_params_default(&p, CS_METHOD_NACLIP);
    ck_assert_int_eq(cs_method_attention(ctx, L - 1, &p, tok, 4, 6, t, xo), CS_OK);
    ck_assert_int_eq(cs_method_attention(ctx, L - 1, &p, tok, 6, 4, 24, xo),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_method_attention(ctx, L, &p, tok, 4, 6, t, xo), CS_ERR_INVALID_ARGUMENT);
    free(tok);
    free(xo);
    free(xn);
    free(ref);
    free(got);
    free(x);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(bad_arguments)
{
    cs_model *m = load_model();
    cs_context *ctx = make_ctx(m);
    int e = cs_model_embed_dim(m);
    size_t n = (size_t)17 * e;
    float *px = calloc(3 * 64 * 64, sizeof(float)), *f = malloc(sizeof(float) * n);
    cs_method_params p;
    ck_assert_int_eq(cs_method_params_default(NULL, CS_METHOD_GEM), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_method_params_default(&p, (cs_method)7), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_method_params_default(&p, CS_METHOD_NACLIP), CS_OK);
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_OK);
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 65, 64, f, n), CS_ERR_SHAPE);
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 0, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_method_apply(NULL, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    p.gaussian_sigma = -1.0f;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.gem_iterations = 17;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.gem_temperature = NAN;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.n_blocks = 9;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.attention = (cs_attention_kind)42;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.pos_resize = (cs_pos_resize)42;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    cs_method_params_default(&p, CS_METHOD_GEM);
    p.size = 8;
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    px[5] = NAN;
    cs_method_params_default(&p, CS_METHOD_SCLIP);
    ck_assert_int_eq(cs_method_apply(ctx, &p, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    /* names */
    cs_method k;
    for (int i = 0; i < CS_METHOD_COUNT; i++) {
        ck_assert_int_eq(cs_method_from_name(cs_method_name((cs_method)i), &k), CS_OK);
        ck_assert_int_eq(k, i);
    }
    ck_assert_int_eq(cs_method_from_name("surgery", &k), CS_OK);
    ck_assert_int_eq(k, CS_METHOD_CLIP_SURGERY);
    ck_assert_int_eq(cs_method_from_name("mask-clip", &k), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(cs_method_name((cs_method)7));
    free(px);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("methods");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, method_tokens_and_logits_match_golden, 0, 15);
    tcase_add_test(tc, positional_tables_match_golden);
    tcase_add_test(tc, naclip_bias_matches_golden);
    tcase_add_test(tc, order_independent_across_sizes);
    tcase_add_test(tc, surgery_presets_bit_identical);
    tcase_add_test(tc, blocks_and_variants);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
