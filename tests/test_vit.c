/* Image encoder and architecture surgery against the reference goldens (both tiny model files),
 * determinism across sizes, building blocks, and the bad-input rules. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const model_files[2] = {"golden/tiny-openai-f32.safetensors",
                                           "golden/tiny-hf-f16.safetensors"};

static cs_model *load_model(int which)
{
    char *path = tu_fixture(model_files[which]);
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, NULL, &m);
    ck_assert_msg(s == CS_OK, "cannot load %s: %s", path, cs_last_error());
    free(path);
    return m;
}

static cs_context *make_ctx(const cs_model *m, int threads)
{
    cs_context_params p;
    cs_context_params_default(&p);
    p.n_threads = threads;
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, &p, &ctx), CS_OK);
    return ctx;
}

/* Encodes `input` (golden tensor [B,3,S,S]) with surgery n_blocks (0 = cs_encode_images) and
 * compares with golden `expect`; returns the max error. */
static double check_golden(int which, int threads, int n_blocks, const char *input,
                           const char *expect)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    const cs_st_tensor *ti = cs_st_find(g, input);
    ck_assert_ptr_nonnull(ti);
    int b = (int)ti->shape[0], h = (int)ti->shape[2], w = (int)ti->shape[3];
    float *x = tu_golden_f32(g, input, NULL);
    size_t n;
    float *want = tu_golden_f32(g, expect, &n);
    cs_model *m = load_model(which);
    cs_context *ctx = make_ctx(m, threads);
    ck_assert_int_eq(cs_model_image_tokens(m, h, w) * b * cs_model_embed_dim(m), (int)n);
    float *got = malloc(n * sizeof(float));
    cs_status s;
    if (n_blocks == 0) {
        s = cs_encode_images(ctx, x, b, h, w, got, n);
    } else {
        cs_surgery_params sp;
        cs_surgery_params_default(&sp);
        sp.n_blocks = n_blocks;
        s = cs_surgery_apply(ctx, &sp, x, b, h, w, got, n);
    }
    ck_assert_msg(s == CS_OK, "encode: %s", cs_last_error());
    double err = tu_max_abs_diff(got, want, n);
    printf("%s %s threads=%d: max abs error %.3g\n", model_files[which], expect, threads, err);
    ck_assert_msg(err <= TOL, "%s: max error %g over %g", expect, err, TOL);
    free(got);
    free(want);
    free(x);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
    return err;
}

START_TEST(raw_features_match_golden)
{
    check_golden(_i, 0, 0, "input.x64", "raw.image_features");
    check_golden(_i, 1, 0, "input.x64", "raw.image_features");
}
END_TEST

START_TEST(surgery_features_match_golden)
{
    check_golden(_i, 0, 6, "input.x64", "cs.image_features");
    check_golden(_i, 1, 6, "input.x64", "cs.image_features");
}
END_TEST

START_TEST(surgery_96_interpolated_positions)
{
    check_golden(_i, 0, 6, "input.x96", "cs96.image_features");
}
END_TEST

/* cls_probs = softmax(100 * normalised cls . text.ensemble) (golden ensemble as the texts). */
START_TEST(cls_probs_match_golden)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    float *x = tu_golden_f32(g, "input.x64", NULL);
    size_t nt, np;
    float *text = tu_golden_f32(g, "text.ensemble", &nt);
    float *want = tu_golden_f32(g, "raw.cls_probs", &np);
    cs_model *m = load_model(_i);
    cs_context *ctx = make_ctx(m, 0);
    int d = cs_model_embed_dim(m), t = cs_model_image_tokens(m, 64, 64), T = (int)(nt / d);
    float *f = malloc((size_t)2 * t * d * sizeof(float));
    ck_assert_int_eq(cs_encode_images(ctx, x, 2, 64, 64, f, (size_t)2 * t * d), CS_OK);
    float probs[2 * 12];
    ck_assert_int_eq(T, 12);
    for (int b = 0; b < 2; b++) {
        float cls[256];
        memcpy(cls, f + (size_t)b * t * d, (size_t)d * sizeof(float));
        cs_l2_normalize(cls, 1, (size_t)d);
        double logit[12], mx = -1e30, sum = 0;
        for (int j = 0; j < T; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += (double)cls[k] * text[(size_t)j * d + k];
            logit[j] = 100.0 * s;
            if (logit[j] > mx) mx = logit[j];
        }
        for (int j = 0; j < T; j++) sum += exp(logit[j] - mx);
        for (int j = 0; j < T; j++) probs[b * T + j] = (float)(exp(logit[j] - mx) / sum);
    }
    double err = tu_max_abs_diff(probs, want, np);
    printf("%s raw.cls_probs: max abs error %.3g\n", model_files[_i], err);
    ck_assert_msg(err <= TOL, "cls_probs error %g", err);
    free(f);
    free(x);
    free(text);
    free(want);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* Same image at 64 px twice, and after a 96 px call: bitwise identical; the resized positional
 * table never leaks into later calls. Also a batch gives each image's single result. */
START_TEST(deterministic_across_sizes)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    float *x96 = tu_golden_f32(g, "input.x96", NULL);
    cs_model *m = load_model(_i);
    cs_context *ctx = make_ctx(m, 0);
    int d = cs_model_embed_dim(m);
    size_t n64 = (size_t)17 * d, n96 = (size_t)37 * d;
    float *a = malloc(n64 * 4), *b = malloc(n64 * 4), *c = malloc(n64 * 4), *y = malloc(n96 * 4);
    float *batch = malloc(2 * n64 * 4);
    for (int mode = 0; mode < 2; mode++) {
        cs_surgery_params sp;
        cs_surgery_params_default(&sp);
        sp.n_blocks = mode ? 6 : 0;
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x64, 1, 64, 64, a, n64), CS_OK);
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x64, 1, 64, 64, b, n64), CS_OK);
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x96, 1, 96, 96, y, n96), CS_OK);
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x64, 1, 64, 64, c, n64), CS_OK);
        ck_assert(memcmp(a, b, n64 * 4) == 0);
        ck_assert(memcmp(a, c, n64 * 4) == 0);
        /* a fresh context gives the same bits */
        cs_context *ctx2 = make_ctx(m, 1);
        ck_assert_int_eq(cs_surgery_apply(ctx2, &sp, x64, 1, 64, 64, c, n64), CS_OK);
        ck_assert(memcmp(a, c, n64 * 4) == 0);
        cs_context_free(ctx2);
        /* batch of two: image 0 matches the single call within rounding */
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x64, 2, 64, 64, batch, 2 * n64), CS_OK);
        ck_assert(tu_max_abs_diff(batch, a, n64) <= 1e-5);
    }
    free(a);
    free(b);
    free(c);
    free(y);
    free(batch);
    free(x64);
    free(x96);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* 512 then 224 then 512 px (and a non-square 640x480) give identical results each time. */
START_TEST(large_sizes_deterministic)
{
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m, 0);
    int d = cs_model_embed_dim(m);
    const int sizes[3] = {512, 224, 512};
    size_t npx = (size_t)3 * 640 * 640; /* enough for 512x512 and 480x640 */
    float *px = malloc(npx * 4);
    for (size_t i = 0; i < npx; i++)
        px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    size_t n512 = (size_t)cs_model_image_tokens(m, 512, 512) * d;
    float *first = malloc(n512 * 4), *out = malloc(n512 * 4);
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    for (int i = 0; i < 3; i++) {
        int s = sizes[i];
        size_t n = (size_t)cs_model_image_tokens(m, s, s) * d;
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, s, s, i == 0 ? first : out, n), CS_OK);
        if (i == 2) ck_assert(memcmp(first, out, n512 * 4) == 0);
    }
    /* non-square: 480 high, 640 wide -> 1 + 30*40 tokens */
    ck_assert_int_eq(cs_model_image_tokens(m, 480, 640), 1 + 30 * 40);
    float *ns = malloc((size_t)1201 * d * 4);
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 480, 640, ns, (size_t)1201 * d), CS_OK);
    for (size_t i = 0; i < (size_t)1201 * d; i++) ck_assert(ns[i] == ns[i]);
    free(ns);
    free(px);
    free(first);
    free(out);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

/* Options: new-path FFN and the class token from the new path, composed by hand from the
 * building blocks, equal cs_surgery_apply with those options (and differ from the default). */
START_TEST(surgery_options_compose)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    float *x = tu_golden_f32(g, "input.x64", NULL);
    size_t n;
    float *def = tu_golden_f32(g, "cs.image_features", &n);
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m, 0);
    int c = cs_model_vision_width(m), d = cs_model_embed_dim(m), t = 17;
    int layers = cs_model_vision_layers(m);
    float *xo = malloc((size_t)t * c * 4), *xn = malloc((size_t)t * c * 4);
    float *f = malloc((size_t)t * d * 4), *api = malloc((size_t)t * d * 4);
    for (int opt = 0; opt < 4; opt++) {
        cs_surgery_params sp;
        cs_surgery_params_default(&sp);
        sp.n_blocks = 3;
        sp.new_path_ffn = opt & 1;
        sp.cls_from_new_path = (opt >> 1) & 1;
        ck_assert_int_eq(cs_vision_embed(ctx, x, 64, 64, xo, (size_t)t * c), CS_OK);
        for (int l = 0; l < layers - 3; l++) ck_assert_int_eq(cs_vision_block(ctx, l, xo, t), CS_OK);
        memcpy(xn, xo, (size_t)t * c * 4);
        for (int l = layers - 3; l < layers; l++)
            ck_assert_int_eq(cs_dual_path_block(ctx, l, &sp, xo, xn, t), CS_OK);
        if (!sp.cls_from_new_path) memcpy(xn, xo, (size_t)c * 4);
        ck_assert_int_eq(cs_vision_project(ctx, xn, t, f, (size_t)t * d), CS_OK);
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, x, 1, 64, 64, api, (size_t)t * d), CS_OK);
        double err = tu_max_abs_diff(f, api, (size_t)t * d);
        ck_assert_msg(err <= 1e-5, "option %d: composed vs api %g", opt, err);
        if (opt) ck_assert(tu_max_abs_diff(api, def, (size_t)t * d) > 1e-3);
    }
    free(xo);
    free(xn);
    free(f);
    free(api);
    free(x);
    free(def);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

/* The public building blocks composed by hand give cs_surgery_apply's result. */
START_TEST(building_blocks_compose)
{
    cs_safetensors *g = tu_open_golden("golden/tiny-golden.safetensors");
    float *x = tu_golden_f32(g, "input.x64", NULL);
    size_t n;
    float *want = tu_golden_f32(g, "cs.image_features", &n);
    cs_model *m = load_model(_i);
    cs_context *ctx = make_ctx(m, 0);
    int c = cs_model_vision_width(m), d = cs_model_embed_dim(m), t = 17;
    int layers = cs_model_vision_layers(m);
    float *xo = malloc((size_t)t * c * 4), *xn = malloc((size_t)t * c * 4);
    float *f = malloc((size_t)t * d * 4), *att = malloc((size_t)t * c * 4);
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    ck_assert_int_eq(cs_vision_embed(ctx, x, 64, 64, xo, (size_t)t * c), CS_OK);
    for (int l = 0; l < layers - 6; l++) ck_assert_int_eq(cs_vision_block(ctx, l, xo, t), CS_OK);
    memcpy(xn, xo, (size_t)t * c * 4);
    for (int l = layers - 6; l < layers; l++)
        ck_assert_int_eq(cs_dual_path_block(ctx, l, &sp, xo, xn, t), CS_OK);
    memcpy(xn, xo, (size_t)c * 4);
    ck_assert_int_eq(cs_vision_project(ctx, xn, t, f, (size_t)t * d), CS_OK);
    double err = tu_max_abs_diff(f, want, (size_t)t * d);
    ck_assert_msg(err <= TOL, "composed surgery error %g", err);
    /* cs_block_attention with QK equals the residual that cs_vision_block adds before its MLP:
     * check it is finite and that VV differs from QK */
    float *att2 = malloc((size_t)t * c * 4);
    ck_assert_int_eq(cs_block_attention(ctx, 0, CS_ATTN_QK, xo, t, att), CS_OK);
    ck_assert_int_eq(cs_block_attention(ctx, 0, CS_ATTN_VV, xo, t, att2), CS_OK);
    ck_assert(tu_max_abs_diff(att, att2, (size_t)t * c) > 1e-3);
    free(att2);
    free(xo);
    free(xn);
    free(f);
    free(att);
    free(x);
    free(want);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

START_TEST(bad_inputs)
{
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m, 0);
    int d = cs_model_embed_dim(m);
    size_t n = (size_t)17 * d;
    float *px = calloc((size_t)3 * 64 * 64, 4), *f = malloc(n * 4);
    f[0] = 12345.0f;
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    ck_assert_int_eq(sp.n_blocks, 6);
    ck_assert_int_eq(sp.attention, CS_ATTN_VV);
    ck_assert_int_eq(sp.new_path_ffn, 0);
    ck_assert_int_eq(sp.cls_from_new_path, 0);
    ck_assert_int_eq(cs_encode_images(NULL, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_images(ctx, NULL, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 64, 64, NULL, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_images(ctx, px, 0, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 0, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 64, 60, f, n), CS_ERR_SHAPE);
    ck_assert(strstr(cs_last_error(), "patch") != NULL);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 64, 64, f, n - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 16 * 1024, 16 * 1024, f, n), CS_ERR_TOO_LARGE);
    sp.n_blocks = 9;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    sp.n_blocks = -1;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    sp.n_blocks = 6;
    for (int k = CS_ATTN_IDENTITY; k <= CS_ATTN_KK_GAUSSIAN; k++) {
        sp.attention = (cs_attention_kind)k;
        ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, n), CS_ERR_UNSUPPORTED);
    }
    sp.attention = (cs_attention_kind)77;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    sp.attention = CS_ATTN_VV;
    sp.size = 0;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, n), CS_ERR_INVALID_ARGUMENT);
    ck_assert(f[0] == 12345.0f); /* outputs untouched on failure */
    /* building blocks */
    float tok[17 * 128];
    ck_assert_int_eq(cs_vision_block(ctx, 8, tok, 17), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_vision_block(ctx, -1, tok, 17), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_vision_block(ctx, 0, tok, 0), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_vision_embed(ctx, px, 64, 64, tok, 17 * 128 - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_block_attention(ctx, 0, CS_ATTN_QQ, tok, 17, tok), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_dual_path_block(ctx, 0, NULL, tok, tok, 17), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_vision_project(ctx, tok, 17, f, n - 1), CS_ERR_BUFFER_TOO_SMALL);
    /* tokens helper */
    ck_assert_int_eq(cs_model_image_tokens(m, 64, 64), 17);
    ck_assert_int_eq(cs_model_image_tokens(m, 64, 65), 0);
    ck_assert_int_eq(cs_model_image_tokens(NULL, 64, 64), 0);
    /* contexts */
    cs_context *bad = NULL;
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = -2;
    ck_assert_int_eq(cs_context_create(m, &cp, &bad), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_context_create(NULL, NULL, &bad), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bad);
    cs_context_free(NULL);
    free(px);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vit");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, raw_features_match_golden, 0, 2);
    tcase_add_loop_test(tc, surgery_features_match_golden, 0, 2);
    tcase_add_loop_test(tc, surgery_96_interpolated_positions, 0, 2);
    tcase_add_loop_test(tc, cls_probs_match_golden, 0, 2);
    tcase_add_loop_test(tc, deterministic_across_sizes, 0, 2);
    tcase_add_loop_test(tc, building_blocks_compose, 0, 2);
    tcase_add_test(tc, surgery_options_compose);
    tcase_add_test(tc, large_sizes_deterministic);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
