/* ResNet CLIP with CLIP Surgery against the reference goldens (rn-tiny-golden.safetensors,
 * rn-points.json; both rn-tiny files, F32 and F16): raw and surgery features at 64/80/96/128 px,
 * the trunk taps, the positional tables, the settings='resnet' option, text ensembles, class
 * probabilities, surgery similarities, maps and points; order independence, non-square grids,
 * the ViT calls refused, and bad arguments. Tolerance 1e-4 (fixtures README). */
#include "testutil.h"

#include "io/model.h"

#include <jansson.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4
#define GOLDEN "golden/rn-tiny-golden.safetensors"

static const char *const model_files[2] = {"golden/rn-tiny-openai-f32.safetensors",
                                           "golden/rn-tiny-openai-f16.safetensors"};

static cs_model *load_model(int which)
{
    char *path = tu_fixture(model_files[which]);
    char *vocab = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vocab;
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, &mp, &m);
    ck_assert_msg(s == CS_OK, "cannot load %s: %s", path, cs_last_error());
    free(path);
    free(vocab);
    return m;
}

static cs_context *make_ctx(const cs_model *m)
{
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    return ctx;
}

static double report(const char *what, int which, double err)
{
    printf("  %-44s %s: max |diff| %.3g\n", what, which ? "f16" : "f32", err);
    ck_assert_msg(err <= TOL, "%s (%s): max |diff| %g > %g", what, model_files[which], err, TOL);
    return err;
}

/* Encodes golden input `input` with pool `kind` (-1: cs_encode_images, -2: cs_surgery_apply
 * default) and compares with `expect`. */
static void check_encode(cs_context *ctx, int which, int kind, const char *input,
                         const char *expect)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    const cs_st_tensor *ti = cs_st_find(g, input);
    ck_assert_ptr_nonnull(ti);
    int b = (int)ti->shape[0], h = (int)ti->shape[2], w = (int)ti->shape[3];
    float *x = tu_golden_f32(g, input, NULL);
    size_t n;
    float *want = tu_golden_f32(g, expect, &n);
    const cs_model *m = NULL;
    (void)m;
    float *got = malloc(n * sizeof(float));
    cs_status s;
    if (kind == -1) s = cs_encode_images(ctx, x, b, h, w, got, n);
    else if (kind == -2) s = cs_surgery_apply(ctx, NULL, x, b, h, w, got, n);
    else s = cs_resnet_encode(ctx, (cs_resnet_pool)kind, x, b, h, w, got, n);
    ck_assert_msg(s == CS_OK, "encode %s: %s", input, cs_last_error());
    char what[128];
    snprintf(what, sizeof what, "%s (%s)", expect, input);
    report(what, which, tu_max_abs_diff(got, want, n));
    free(got);
    free(want);
    free(x);
    cs_st_close(g);
}

START_TEST(test_info)
{
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        ck_assert_int_eq(cs_model_backbone(m), CS_BACKBONE_RESNET);
        cs_resnet_info ri;
        ri.size = sizeof ri;
        ck_assert_int_eq(cs_resnet_get_info(m, &ri), CS_OK);
        ck_assert_int_eq(ri.stage_blocks[0], 1);
        ck_assert_int_eq(ri.stage_blocks[1], 2);
        ck_assert_int_eq(ri.stage_blocks[2], 1);
        ck_assert_int_eq(ri.stage_blocks[3], 1);
        ck_assert_int_eq(ri.width, 8);
        ck_assert_int_eq(ri.dim, 256);
        ck_assert_int_eq(ri.heads, 4);
        ck_assert_int_eq(ri.embed_dim, 64);
        ck_assert_int_eq(ri.image_size, 64);
        ck_assert_int_eq(ri.grid, 2);
        cs_model_info in;
        memset(&in, 0, sizeof in);
        in.size = sizeof in;
        ck_assert_int_eq(cs_model_get_info(m, &in), CS_OK);
        ck_assert_int_eq(in.vision_width, 256);
        ck_assert_int_eq(in.vision_layers, 5);
        ck_assert_int_eq(in.vision_heads, 4);
        ck_assert_int_eq(in.patch_size, 32);
        ck_assert_int_eq(in.image_size, 64);
        ck_assert_int_eq(in.grid, 2);
        ck_assert_int_eq(in.embed_dim, 64);
        ck_assert_int_eq(in.text_width, 128);
        ck_assert_int_eq(in.dtype_bits, which ? 16 : 32);
        ck_assert(fabsf(in.logit_scale - 100.0f) < 1.0f || in.logit_scale > 0.0f);
        ck_assert_int_eq(cs_model_image_tokens(m, 64, 64), 5);
        ck_assert_int_eq(cs_model_image_tokens(m, 80, 80), 5);
        ck_assert_int_eq(cs_model_image_tokens(m, 96, 96), 10);
        ck_assert_int_eq(cs_model_image_tokens(m, 95, 63), 1 + 3 * 2);
        ck_assert_int_eq(cs_model_image_tokens(m, 30, 64), 0);
        int gh, gw;
        ck_assert_int_eq(cs_model_image_grid(m, 96, 160, &gh, &gw), CS_OK);
        ck_assert_int_eq(gh, 3);
        ck_assert_int_eq(gw, 5);
        ck_assert_int_eq(cs_model_image_grid(m, 31, 31, &gh, &gw), CS_OK);
        ck_assert_int_eq(gh, 1);
        ck_assert_int_eq(cs_model_image_grid(m, 30, 31, &gh, &gw), CS_ERR_SHAPE);
        cs_model_free(m);
    }
}
END_TEST

START_TEST(test_features)
{
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        cs_context *ctx = make_ctx(m);
        check_encode(ctx, which, -1, "input.x64", "raw.image_features");
        check_encode(ctx, which, -2, "input.x64", "cs.image_features");
        check_encode(ctx, which, CS_RN_POOL_SURGERY, "input.x80", "cs80.image_features");
        check_encode(ctx, which, CS_RN_POOL_SURGERY, "input.x96", "cs96.image_features");
        check_encode(ctx, which, CS_RN_POOL_SURGERY, "input.x128", "cs128.image_features");
        check_encode(ctx, which, CS_RN_POOL_SURGERY_RESNET_SETTINGS, "input.x64",
                     "variant.cs_settings_resnet.image_features");
        cs_context_free(ctx);
        cs_model_free(m);
    }
}
END_TEST

/* raw.pooled is row 0 of the raw features; the variant is NOT the default. */
START_TEST(test_pooled_and_variant)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x = tu_golden_f32(g, "input.x64", NULL);
    size_t n;
    float *pooled = tu_golden_f32(g, "raw.pooled", &n);
    float *variant = tu_golden_f32(g, "variant.cs_settings_resnet.image_features", NULL);
    ck_assert_uint_eq(n, 2 * 64);
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        cs_context *ctx = make_ctx(m);
        float f[2 * 5 * 64], cs[2 * 5 * 64];
        ck_assert_int_eq(cs_encode_images(ctx, x, 2, 64, 64, f, 2 * 5 * 64), CS_OK);
        double err = 0;
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 64; k++) {
                double e = fabs(f[b * 5 * 64 + k] - pooled[b * 64 + k]);
                if (e > err) err = e;
            }
        report("raw.pooled (row 0 of raw features)", which, err);
        ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, 2, 64, 64, cs, 2 * 5 * 64), CS_OK);
        /* the surgery class token differs from raw CLIP's (RESNET quirk 2) */
        ck_assert(tu_max_abs_diff(cs, f, 64) > 0.01);
        /* the settings='resnet' variant moves the image tokens but not the class token */
        ck_assert(tu_max_abs_diff(cs, variant, 2 * 5 * 64) > 0.1);
        ck_assert(tu_max_abs_diff(cs, variant, 64) <= TOL);
        cs_context_free(ctx);
        cs_model_free(m);
    }
    free(x);
    free(pooled);
    free(variant);
    cs_st_close(g);
}
END_TEST

START_TEST(test_trunk_taps)
{
    static const char *const taps[5] = {"cs.trunk.stem", "cs.trunk.layer1", "cs.trunk.layer2",
                                        "cs.trunk.layer3", "cs.trunk.layer4"};
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x = tu_golden_f32(g, "input.x64", NULL);
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        cs_context *ctx = make_ctx(m);
        for (int stage = 0; stage < 5; stage++) {
            size_t n;
            float *want = tu_golden_f32(g, taps[stage], &n);
            const cs_st_tensor *t = cs_st_find(g, taps[stage]);
            size_t per = n / 2;
            float *got = malloc(per * sizeof(float));
            double err = 0;
            for (int b = 0; b < 2; b++) {
                int c, h, w;
                cs_status s = cs_resnet_trunk(ctx, x + (size_t)b * 3 * 64 * 64, 64, 64, stage, got,
                                              per, &c, &h, &w);
                ck_assert_msg(s == CS_OK, "trunk: %s", cs_last_error());
                ck_assert_int_eq(c, (int)t->shape[1]);
                ck_assert_int_eq(h, (int)t->shape[2]);
                ck_assert_int_eq(w, (int)t->shape[3]);
                double e = tu_max_abs_diff(got, want + b * per, per);
                if (e > err) err = e;
            }
            report(taps[stage], which, err);
            /* too small a buffer: sizes still reported, nothing written */
            int c = 0, h = 0, w = 0;
            ck_assert_int_eq(cs_resnet_trunk(ctx, x, 64, 64, stage, got, per - 1, &c, &h, &w),
                             CS_ERR_BUFFER_TOO_SMALL);
            ck_assert_int_eq((size_t)c * h * w, per);
            free(got);
            free(want);
        }
        /* trunk + attention pool = the encoder */
        float map[256 * 4], out[5 * 64], enc[5 * 64];
        int c, h, w;
        ck_assert_int_eq(cs_resnet_trunk(ctx, x, 64, 64, 4, map, 256 * 4, &c, &h, &w), CS_OK);
        ck_assert_int_eq(cs_resnet_attnpool(ctx, CS_RN_POOL_SURGERY, map, h, w, out, 5 * 64), CS_OK);
        ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, 1, 64, 64, enc, 5 * 64), CS_OK);
        ck_assert(memcmp(out, enc, sizeof out) == 0);
        cs_context_free(ctx);
        cs_model_free(m);
    }
    free(x);
    cs_st_close(g);
}
END_TEST

/* The positional tables the attention pool uses (the stored table resized as in
 * attnpool.c make_tokens) against the reference's table after one call at that size. */
START_TEST(test_pos_tables)
{
    static const char *const names[3] = {"cs80.pos_table", "cs96.pos_table", "cs128.pos_table"};
    static const int grid[3] = {2, 3, 4};
    cs_safetensors *g = tu_open_golden(GOLDEN);
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        const cs_resnet_weights *rn = &m->resnet;
        for (int k = 0; k < 3; k++) {
            size_t n;
            float *want = tu_golden_f32(g, names[k], &n);
            int gs = grid[k], d = rn->dim;
            ck_assert_uint_eq(n, (size_t)(1 + gs * gs) * d);
            float *got = malloc(n * sizeof(float));
            memcpy(got, rn->pos, (size_t)d * sizeof(float));
            ck_assert_int_eq(cs_resize_bilinear(rn->pos + d, rn->grid, rn->grid, d, got + d, gs, gs,
                                                n - (size_t)d),
                             CS_OK);
            report(names[k], which, tu_max_abs_diff(got, want, n));
            free(got);
            free(want);
        }
        cs_model_free(m);
    }
    cs_st_close(g);
}
END_TEST

/* 128 -> 64 -> 96 -> 128 px give identical bits (the table resized from the stored one every
 * time, unlike the reference's in-place resize). */
START_TEST(test_order_independent)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    float *x96 = tu_golden_f32(g, "input.x96", NULL);
    float *x128 = tu_golden_f32(g, "input.x128", NULL);
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m);
    float a[17 * 64], b[17 * 64], t64[2 * 5 * 64], t96[10 * 64];
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x128, 1, 128, 128, a, 17 * 64), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x64, 2, 64, 64, t64, 2 * 5 * 64), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x96, 1, 96, 96, t96, 10 * 64), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x128, 1, 128, 128, b, 17 * 64), CS_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    /* a fresh context gives the same bits too */
    cs_context *ctx2 = make_ctx(m);
    ck_assert_int_eq(cs_surgery_apply(ctx2, NULL, x128, 1, 128, 128, b, 17 * 64), CS_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    printf("  128 -> 64 -> 96 -> 128 px: identical bits\n");
    cs_context_free(ctx2);
    cs_context_free(ctx);
    cs_model_free(m);
    free(x64);
    free(x96);
    free(x128);
    cs_st_close(g);
}
END_TEST

/* Non-square grids (ours; the reference handles square grids only): 96 x 128 px gives a 3 x 4
 * grid; the positional table is resized on both axes, so each token must equal what the pool
 * gives when fed the same trunk map. Also a batch of two equals two single calls. */
START_TEST(test_non_square)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x128 = tu_golden_f32(g, "input.x128", NULL);
    float *x64 = tu_golden_f32(g, "input.x64", NULL);
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m);
    /* crop the 128 px input to 96 rows x 128 columns */
    float *px = malloc(3 * 96 * 128 * sizeof(float));
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 96; y++)
            memcpy(px + ((size_t)c * 96 + y) * 128, x128 + ((size_t)c * 128 + y) * 128,
                   128 * sizeof(float));
    ck_assert_int_eq(cs_model_image_tokens(m, 96, 128), 13);
    float f[13 * 64], map[256 * 12], pool[13 * 64];
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 96, 128, f, 13 * 64), CS_OK);
    int c, h, w;
    ck_assert_int_eq(cs_resnet_trunk(ctx, px, 96, 128, 4, map, 256 * 12, &c, &h, &w), CS_OK);
    ck_assert_int_eq(h, 3);
    ck_assert_int_eq(w, 4);
    ck_assert_int_eq(cs_resnet_attnpool(ctx, CS_RN_POOL_SURGERY, map, 3, 4, pool, 13 * 64), CS_OK);
    ck_assert(memcmp(f, pool, sizeof f) == 0);
    for (int i = 0; i < 13 * 64; i++) ck_assert(isfinite(f[i]));
    /* batch of two == two single calls */
    float two[2 * 5 * 64], one[5 * 64];
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x64, 2, 64, 64, two, 2 * 5 * 64), CS_OK);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x64 + 3 * 64 * 64, 1, 64, 64, one, 5 * 64), CS_OK);
    ck_assert(memcmp(two + 5 * 64, one, sizeof one) == 0);
    free(px);
    cs_context_free(ctx);
    cs_model_free(m);
    free(x128);
    free(x64);
    cs_st_close(g);
}
END_TEST

/* Text ensembles, class probabilities, surgery similarities (both forms) and maps, end to end
 * from our own features and text features. */
static void encode_norm(cs_context *ctx, const float *x, int b, int s, float *f, int nt)
{
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, b, s, s, f, (size_t)b * nt * 64), CS_OK);
    cs_l2_normalize(f, (size_t)b * nt, 64);
}

static const char *const CLASSES[12] = {"person", "bench", "ground", "building", "sky", "tree",
                                        "grass", "cat", "road", "potted plant", "tv monitor",
                                        "water"};

START_TEST(test_text_and_surgery)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        cs_context *ctx = make_ctx(m);
        size_t n;
        float text[12 * 64], red[64];
        ck_assert_int_eq(cs_prompt_ensemble(ctx, CLASSES, 12, text, 12 * 64), CS_OK);
        float *want = tu_golden_f32(g, "text.ensemble", &n);
        report("text.ensemble", which, tu_max_abs_diff(text, want, n));
        free(want);
        ck_assert_int_eq(cs_redundant_feature(ctx, red, 64), CS_OK);
        want = tu_golden_f32(g, "text.redundant", &n);
        report("text.redundant", which, tu_max_abs_diff(red, want, n));
        free(want);

        float *x64 = tu_golden_f32(g, "input.x64", NULL);
        float raw[2 * 5 * 64], probs[2 * 12];
        ck_assert_int_eq(cs_encode_images(ctx, x64, 2, 64, 64, raw, sizeof raw / 4), CS_OK);
        ck_assert_int_eq(cs_class_probabilities(raw, 2, 5, text, 12, 64, 100.0f, probs, 24), CS_OK);
        want = tu_golden_f32(g, "raw.cls_probs", &n);
        report("raw.cls_probs", which, tu_max_abs_diff(probs, want, n));
        free(want);

        float f[2 * 5 * 64], sim[2 * 5 * 12];
        encode_norm(ctx, x64, 2, 64, f, 5);
        for (int b = 0; b < 2; b++)
            ck_assert_int_eq(cs_feature_surgery_label_set(f + b * 5 * 64, 1, 5, text, 12, 64,
                                                          sim + b * 5 * 12, 5 * 12),
                             CS_OK);
        want = tu_golden_f32(g, "surgery.similarity", &n);
        report("surgery.similarity", which, tu_max_abs_diff(sim, want, n));
        free(want);
        /* maps from our similarity */
        float *maps = malloc(2 * 75 * 100 * 12 * sizeof(float));
        for (int b = 0; b < 2; b++)
            ck_assert_int_eq(cs_similarity_maps(sim + b * 5 * 12, 2, 2, 12, 75, 100,
                                                maps + (size_t)b * 75 * 100 * 12, 75 * 100 * 12),
                             CS_OK);
        want = tu_golden_f32(g, "surgery.map_75x100", &n);
        report("surgery.map_75x100", which, tu_max_abs_diff(maps, want, n));
        free(want);
        free(maps);
        float simr[2 * 5 * 12];
        ck_assert_int_eq(cs_feature_surgery_empty_text(f, 2, 5, text, 12, red, 64, simr, 2 * 5 * 12),
                         CS_OK);
        want = tu_golden_f32(g, "surgery.similarity_redundant", &n);
        report("surgery.similarity_redundant", which, tu_max_abs_diff(simr, want, n));
        free(want);
        free(x64);

        static const char *const in[2] = {"input.x96", "input.x128"};
        static const char *const gold[2] = {"surgery96.similarity", "surgery128.similarity"};
        static const int side[2] = {96, 128}, tok[2] = {10, 17};
        for (int k = 0; k < 2; k++) {
            float *x = tu_golden_f32(g, in[k], NULL);
            float ff[17 * 64], ss[17 * 12];
            encode_norm(ctx, x, 1, side[k], ff, tok[k]);
            ck_assert_int_eq(cs_feature_surgery_label_set(ff, 1, tok[k], text, 12, 64, ss, 17 * 12),
                             CS_OK);
            want = tu_golden_f32(g, gold[k], &n);
            report(gold[k], which, tu_max_abs_diff(ss, want, n));
            free(want);
            free(x);
        }
        cs_context_free(ctx);
        cs_model_free(m);
    }
    cs_st_close(g);
}
END_TEST

/* Every case of rn-points.json exactly: from the golden map, and from our own end-to-end map
 * (surgery128.similarity[0, 1:, class] computed here). */
START_TEST(test_points)
{
    char *path = tu_fixture("golden/rn-points.json");
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", path, err.text);
    free(path);
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x = tu_golden_f32(g, "input.x128", NULL);
    for (int which = 0; which < 2; which++) {
        cs_model *m = load_model(which);
        cs_context *ctx = make_ctx(m);
        float text[12 * 64], ff[17 * 64], ss[17 * 12];
        ck_assert_int_eq(cs_prompt_ensemble(ctx, CLASSES, 12, text, 12 * 64), CS_OK);
        encode_norm(ctx, x, 1, 128, ff, 17);
        ck_assert_int_eq(cs_feature_surgery_label_set(ff, 1, 17, text, 12, 64, ss, 17 * 12), CS_OK);
        size_t ci;
        json_t *c;
        json_array_foreach(root, ci, c) {
            int sd = (int)json_integer_value(json_object_get(c, "side"));
            json_t *shape = json_object_get(c, "shape_hw");
            int ih = (int)json_integer_value(json_array_get(shape, 0));
            int iw = (int)json_integer_value(json_array_get(shape, 1));
            float t = (float)json_number_value(json_object_get(c, "t"));
            const char *cls = json_string_value(json_object_get(c, "class"));
            int col = -1;
            for (int k = 0; k < 12; k++)
                if (cls && strcmp(cls, CLASSES[k]) == 0) col = k;
            ck_assert_int_ge(col, 0);
            ck_assert_int_eq(sd, 4);
            json_t *jm = json_object_get(c, "map");
            float gmap[16], ours[16];
            for (int i = 0; i < 16; i++) {
                gmap[i] = (float)json_number_value(json_array_get(jm, i));
                ours[i] = ss[(1 + i) * 12 + col];
            }
            ck_assert(tu_max_abs_diff(gmap, ours, 16) <= TOL);
            json_t *jp = json_object_get(c, "points_xy"), *jl = json_object_get(c, "labels");
            size_t want_n = json_array_size(jp);
            for (int src = 0; src < 2; src++) {
                int xy[32], lab[16];
                size_t np = 0;
                ck_assert_int_eq(cs_similarity_to_points(src ? ours : gmap, 4, 4, iw, ih, t, 2, xy,
                                                         lab, 16, &np),
                                 CS_OK);
                ck_assert_msg(np == want_n, "case %zu (%s): %zu points, golden %zu", ci, cls, np,
                              want_n);
                for (size_t k = 0; k < np; k++) {
                    json_t *p = json_array_get(jp, k);
                    ck_assert_int_eq(xy[2 * k], (int)json_integer_value(json_array_get(p, 0)));
                    ck_assert_int_eq(xy[2 * k + 1], (int)json_integer_value(json_array_get(p, 1)));
                    ck_assert_int_eq(lab[k], (int)json_integer_value(json_array_get(jl, k)));
                }
            }
            if (which == 0)
                printf("  rn-points case %zu (%s, %dx%d, t %.2f): %zu points equal\n", ci, cls, iw,
                       ih, t, want_n);
        }
        cs_context_free(ctx);
        cs_model_free(m);
    }
    free(x);
    cs_st_close(g);
    json_decref(root);
}
END_TEST

START_TEST(test_refusals)
{
    cs_model *m = load_model(0);
    cs_context *ctx = make_ctx(m);
    float px[3 * 64 * 64] = {0}, out[5 * 256], f[5 * 64];
    /* ViT block calls */
    ck_assert_int_eq(cs_vision_embed(ctx, px, 64, 64, out, 5 * 256), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_vision_block(ctx, 0, out, 5), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_block_attention(ctx, 0, CS_ATTN_VV, out, 5, out), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_vision_project(ctx, out, 5, f, 5 * 64), CS_ERR_UNSUPPORTED);
    float xn[5 * 256];
    ck_assert_int_eq(cs_dual_path_block(ctx, 0, NULL, out, xn, 5), CS_ERR_UNSUPPORTED);
    /* surgery params on a ResNet */
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    sp.attention = CS_ATTN_QK;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, 5 * 64), CS_ERR_UNSUPPORTED);
    sp.attention = (cs_attention_kind)99;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, 5 * 64), CS_ERR_INVALID_ARGUMENT);
    cs_surgery_params_default(&sp);
    sp.new_path_ffn = 1;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, 5 * 64), CS_ERR_UNSUPPORTED);
    cs_surgery_params_default(&sp);
    sp.n_blocks = -1;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, 5 * 64), CS_ERR_INVALID_ARGUMENT);
    sp.n_blocks = 1000; /* any positive value is the surgery pool */
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f, 5 * 64), CS_OK);
    sp.cls_from_new_path = 1; /* ignored: same class token */
    float f2[5 * 64];
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, 64, 64, f2, 5 * 64), CS_OK);
    ck_assert(memcmp(f, f2, sizeof f) == 0);
    /* sizes and buffers */
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 30, 64, f, 5 * 64), CS_ERR_SHAPE);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 64, 64, f, 5 * 64 - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 0, 64, 64, f, 5 * 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, NULL, 1, 64, 64, f, 5 * 64), CS_ERR_INVALID_ARGUMENT);
    px[7] = NAN;
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 64, 64, f, 5 * 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resnet_trunk(ctx, px, 64, 64, 4, out, 5 * 256, NULL, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    px[7] = 0;
    ck_assert_int_eq(cs_resnet_trunk(ctx, px, 64, 64, 5, out, 5 * 256, NULL, NULL, NULL),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resnet_attnpool(ctx, (cs_resnet_pool)7, out, 2, 2, f, 5 * 64),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resnet_attnpool(ctx, CS_RN_POOL_RAW, out, 0, 2, f, 5 * 64),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resnet_attnpool(ctx, CS_RN_POOL_RAW, out, 2, 2, f, 5 * 64 - 1),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_resnet_encode(ctx, (cs_resnet_pool)-1, px, 1, 64, 64, f, 5 * 64),
                     CS_ERR_INVALID_ARGUMENT);
    cs_context_free(ctx);
    cs_model_free(m);
    /* ResNet calls on a ViT model */
    char *vit = tu_fixture("golden/tiny-openai-f32.safetensors");
    ck_assert_int_eq(cs_model_load(vit, NULL, &m), CS_OK);
    free(vit);
    ck_assert_int_eq(cs_model_backbone(m), CS_BACKBONE_VIT);
    cs_resnet_info ri;
    ri.size = sizeof ri;
    ck_assert_int_eq(cs_resnet_get_info(m, &ri), CS_ERR_UNSUPPORTED);
    ctx = make_ctx(m);
    ck_assert_int_eq(cs_resnet_trunk(ctx, px, 64, 64, 4, out, 5 * 256, NULL, NULL, NULL),
                     CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_resnet_attnpool(ctx, CS_RN_POOL_RAW, out, 2, 2, f, 5 * 64), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(cs_resnet_encode(ctx, CS_RN_POOL_RAW, px, 1, 64, 64, f, 5 * 64), CS_ERR_UNSUPPORTED);
    int gh, gw;
    ck_assert_int_eq(cs_model_image_grid(m, 64, 48, &gh, &gw), CS_OK);
    ck_assert_int_eq(gh, 4);
    ck_assert_int_eq(gw, 3);
    ck_assert_int_eq(cs_model_image_grid(m, 64, 50, &gh, &gw), CS_ERR_SHAPE);
    cs_context_free(ctx);
    cs_model_free(m);
}
END_TEST

/* One model shared by threads, one context each: every thread gets the single-threaded bits. */
typedef struct thread_arg {
    const cs_model *m;
    const float *x;
    float out[17 * 64];
    cs_status st;
} thread_arg;

static void *thread_run(void *p)
{
    thread_arg *a = p;
    cs_context *ctx = NULL;
    a->st = cs_context_create(a->m, NULL, &ctx);
    for (int r = 0; r < 3 && a->st == CS_OK; r++)
        a->st = cs_surgery_apply(ctx, NULL, a->x, 1, 128, 128, a->out, 17 * 64);
    cs_context_free(ctx);
    return NULL;
}

START_TEST(test_threads)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    float *x = tu_golden_f32(g, "input.x128", NULL);
    cs_model *m = load_model(1);
    static thread_arg args[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        args[i].m = m;
        args[i].x = x;
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_run, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    cs_context *ctx = make_ctx(m);
    float want[17 * 64];
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, 1, 128, 128, want, 17 * 64), CS_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(args[i].st, CS_OK);
        ck_assert(memcmp(args[i].out, want, sizeof want) == 0);
    }
    cs_context_free(ctx);
    cs_model_free(m);
    free(x);
    cs_st_close(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resnet");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_info);
    tcase_add_test(tc, test_features);
    tcase_add_test(tc, test_pooled_and_variant);
    tcase_add_test(tc, test_trunk_taps);
    tcase_add_test(tc, test_pos_tables);
    tcase_add_test(tc, test_order_independent);
    tcase_add_test(tc, test_non_square);
    tcase_add_test(tc, test_text_and_surgery);
    tcase_add_test(tc, test_points);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
