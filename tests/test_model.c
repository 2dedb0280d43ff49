/* Model loading: both namings give the same architecture and bit-identical f32 weights; every
 * malformed file gives a clean status. */
#include "testutil.h"

#include "core/common.h"
#include "io/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cs_model *load_fixture(const char *rel)
{
    char *p = tu_fixture(rel);
    cs_model *m = NULL;
    cs_status s = cs_model_load(p, NULL, &m);
    ck_assert_msg(s == CS_OK, "load %s: %s", p, cs_last_error());
    free(p);
    return m;
}

START_TEST(architecture_of_both_fixtures)
{
    const char *files[2] = {"golden/tiny-openai-f32.safetensors", "golden/tiny-hf-f16.safetensors"};
    for (int f = 0; f < 2; f++) {
        cs_model *m = load_fixture(files[f]);
        cs_model_info in;
        memset(&in, 0, sizeof in);
        in.size = sizeof in;
        ck_assert_int_eq(cs_model_get_info(m, &in), CS_OK);
        ck_assert_int_eq(in.layout, f == 0 ? CS_LAYOUT_OPENAI : CS_LAYOUT_HF);
        ck_assert_int_eq(in.dtype_bits, f == 0 ? 32 : 16);
        ck_assert_int_eq(in.vision_width, 128);
        ck_assert_int_eq(in.vision_layers, 8);
        ck_assert_int_eq(in.vision_heads, 2);
        ck_assert_int_eq(in.patch_size, 16);
        ck_assert_int_eq(in.grid, 4);
        ck_assert_int_eq(in.image_size, 64);
        ck_assert_int_eq(in.text_width, 128);
        ck_assert_int_eq(in.text_layers, 3);
        ck_assert_int_eq(in.text_heads, 2);
        ck_assert_int_eq(in.context_length, 77);
        ck_assert_int_eq(in.vocab_size, 49408);
        ck_assert_int_eq(in.embed_dim, 64);
        ck_assert_int_eq(in.activation, CS_ACT_QUICK_GELU);
        ck_assert_float_eq_tol(in.layer_norm_eps, 1e-5f, 1e-12f);
        ck_assert_int_eq(cs_model_embed_dim(m), 64);
        ck_assert_int_eq(cs_model_vision_layers(m), 8);
        ck_assert_int_eq(cs_model_text_layers(m), 3);
        cs_model_free(m);
    }
}
END_TEST

static void same(const float *a, const float *b, size_t n, const char *what)
{
    ck_assert_msg(memcmp(a, b, n * sizeof(float)) == 0, "%s differs between the namings", what);
}

static void same_block(const cs_block_weights *a, const cs_block_weights *b, int w, int mlp)
{
    same(a->ln_1_w, b->ln_1_w, w, "ln_1.weight");
    same(a->ln_1_b, b->ln_1_b, w, "ln_1.bias");
    same(a->qkv_w, b->qkv_w, (size_t)3 * w * w, "qkv weight");
    same(a->qkv_b, b->qkv_b, (size_t)3 * w, "qkv bias");
    same(a->out_w, b->out_w, (size_t)w * w, "out_proj.weight");
    same(a->out_b, b->out_b, w, "out_proj.bias");
    same(a->ln_2_w, b->ln_2_w, w, "ln_2.weight");
    same(a->ln_2_b, b->ln_2_b, w, "ln_2.bias");
    same(a->fc_w, b->fc_w, (size_t)mlp * w, "fc weight");
    same(a->fc_b, b->fc_b, mlp, "fc bias");
    same(a->proj_w, b->proj_w, (size_t)mlp * w, "mlp proj weight");
    same(a->proj_b, b->proj_b, w, "mlp proj bias");
}

START_TEST(both_namings_give_identical_weights)
{
    cs_model *a = load_fixture("golden/tiny-openai-f32.safetensors");
    cs_model *b = load_fixture("golden/tiny-hf-f16.safetensors");
    const cs_vision_weights *va = &a->vision, *vb = &b->vision;
    int w = va->width, p = va->patch_size, n_pos = 1 + va->grid * va->grid;
    same(va->patch_w, vb->patch_w, (size_t)w * 3 * p * p, "patch embedding");
    same(va->class_embedding, vb->class_embedding, w, "class embedding");
    same(va->positional_embedding, vb->positional_embedding, (size_t)n_pos * w, "positional embedding");
    same(va->ln_pre_w, vb->ln_pre_w, w, "ln_pre.weight");
    same(va->ln_pre_b, vb->ln_pre_b, w, "ln_pre.bias");
    same(va->ln_post_w, vb->ln_post_w, w, "ln_post.weight");
    same(va->ln_post_b, vb->ln_post_b, w, "ln_post.bias");
    same(va->proj, vb->proj, (size_t)a->embed_dim * w, "visual projection");
    for (int i = 0; i < va->layers; i++) same_block(&va->blocks[i], &vb->blocks[i], w, va->mlp_dim);
    const cs_text_weights *ta = &a->text, *tb = &b->text;
    same(ta->token_embedding, tb->token_embedding, (size_t)ta->vocab_size * ta->width, "token embedding");
    same(ta->positional_embedding, tb->positional_embedding, (size_t)ta->context_length * ta->width,
         "text positional embedding");
    same(ta->ln_final_w, tb->ln_final_w, ta->width, "ln_final.weight");
    same(ta->proj, tb->proj, (size_t)a->embed_dim * ta->width, "text projection");
    for (int i = 0; i < ta->layers; i++) same_block(&ta->blocks[i], &tb->blocks[i], ta->width, ta->mlp_dim);
    /* the OpenAI projection is transposed on load: proj[d, c] == visual.proj[c, d] */
    cs_safetensors *st = tu_open_golden("golden/tiny-openai-f32.safetensors");
    float *raw = tu_golden_f32(st, "visual.proj", NULL);
    ck_assert(va->proj[1 * w + 2] == raw[2 * a->embed_dim + 1]);
    free(raw);
    cs_st_close(st);
    ck_assert_float_eq(a->logit_scale, b->logit_scale);
    cs_model_free(a);
    cs_model_free(b);
}
END_TEST

/* ---- malformed safetensors, built in memory ---------------------------------------------- */
static cs_status parse_with_header(const char *header, size_t data_size)
{
    size_t hlen = strlen(header);
    size_t n = 8 + hlen + data_size;
    uint8_t *buf = calloc(1, n);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    cs_safetensors *st = NULL;
    cs_status s = cs_st_parse(buf, n, &st);
    if (s == CS_OK) cs_st_close(st);
    free(buf);
    return s;
}

static cs_status parse_raw(const uint8_t *bytes, size_t n)
{
    cs_safetensors *st = NULL;
    cs_status s = cs_st_parse(bytes, n, &st);
    if (s == CS_OK) cs_st_close(st);
    return s;
}

START_TEST(safetensors_valid_minimal)
{
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), CS_OK);
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]}}", 4), CS_OK);
    ck_assert_int_eq(parse_with_header("{}", 0), CS_OK);
}
END_TEST

START_TEST(safetensors_bad_lengths)
{
    uint8_t tiny[5] = {1, 0, 0, 0, 0};
    ck_assert_int_eq(parse_raw(tiny, 5), CS_ERR_FORMAT); /* shorter than 8 bytes */
    uint8_t zero[16] = {0};
    ck_assert_int_eq(parse_raw(zero, 16), CS_ERR_FORMAT); /* header length 0 */
    uint8_t huge[16] = {0, 0, 0, 0x10, 0, 0, 0, 0};       /* 256 MiB header */
    ck_assert_int_eq(parse_raw(huge, 16), CS_ERR_TOO_LARGE);
    ck_assert(strstr(cs_last_error(), "100 MB") != NULL);
    uint8_t past[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    ck_assert_int_eq(parse_raw(past, 16), CS_ERR_FORMAT); /* past the end */
    uint8_t max[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    ck_assert_int_eq(parse_raw(max, 16), CS_ERR_TOO_LARGE);
}
END_TEST

START_TEST(safetensors_bad_headers)
{
    ck_assert_int_eq(parse_with_header("{\"a\":\xff\xfe}", 0), CS_ERR_FORMAT);          /* not UTF-8 */
    ck_assert_int_eq(parse_with_header("{\"\xc3\x28\":{}}", 0), CS_ERR_FORMAT);         /* bad UTF-8 key */
    ck_assert_int_eq(parse_with_header("{\"a\":", 0), CS_ERR_FORMAT);                   /* not JSON */
    ck_assert_int_eq(parse_with_header("[1,2]", 0), CS_ERR_FORMAT);                      /* not an object */
    ck_assert_int_eq(parse_with_header("{\"a\":5}", 0), CS_ERR_FORMAT);                  /* entry not object */
    /* span differs from elements x dtype size */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), CS_ERR_FORMAT);
    ck_assert(strstr(cs_last_error(), "\"a\"") != NULL);
    /* outside the data section */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8), CS_ERR_FORMAT);
    /* reversed */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 8), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8), CS_ERR_FORMAT);
    /* overlapping */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), CS_ERR_FORMAT);
    ck_assert(strstr(cs_last_error(), "overlap") != NULL);
    /* gap */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12), CS_ERR_FORMAT);
    ck_assert(strstr(cs_last_error(), "gap") != NULL);
    /* trailing bytes not covered */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), CS_ERR_FORMAT);
    /* element count overflows */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0), CS_ERR_TOO_LARGE);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0), CS_ERR_TOO_LARGE);
    /* duplicate names */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), CS_ERR_FORMAT);
    /* __metadata__ of other forms: never a tensor */
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":[1]}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":\"x\"}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":{\"k\":1}}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"__metadata__\":null}", 0), CS_ERR_FORMAT);
    /* unsupported dtype, bad shape entries */
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F8_E4M3X\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":\"x\",\"data_offsets\":[0,0]}}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_with_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), CS_ERR_FORMAT);
}
END_TEST

START_TEST(f16_widening_is_exact)
{
    ck_assert(cs_f16_to_f32(0x3c00) == 1.0f);
    ck_assert(cs_f16_to_f32(0xc000) == -2.0f);
    ck_assert(cs_f16_to_f32(0x0001) == 5.960464477539063e-08f); /* smallest subnormal */
    ck_assert(cs_f16_to_f32(0x03ff) == 6.097555160522461e-05f); /* largest subnormal */
    ck_assert(cs_f16_to_f32(0x7bff) == 65504.0f);
    ck_assert(cs_f16_to_f32(0x7c00) == __builtin_inff());
    ck_assert(cs_f16_to_f32(0xfc00) == -__builtin_inff());
    float nan = cs_f16_to_f32(0x7e00);
    ck_assert(nan != nan);
    ck_assert(cs_bf16_to_f32(0x3f80) == 1.0f);
    /* the tensor path (vectorised where the CPU has F16C) widens every half as the scalar one */
    uint8_t *all = malloc(2 * 0x10000);
    float *wide = malloc(sizeof(float) * 0x10000);
    for (uint32_t h = 0; h < 0x10000; h++) {
        all[2 * h] = (uint8_t)(h & 0xff);
        all[2 * h + 1] = (uint8_t)(h >> 8);
    }
    cs_st_tensor t = {.name = "all", .dtype = CS_DT_F16, .ndim = 1, .n_elements = 0x10000,
                      .data = all, .nbytes = 2 * 0x10000};
    t.shape[0] = 0x10000;
    ck_assert_int_eq(cs_st_to_f32(&t, wide), CS_OK);
    for (uint32_t h = 0; h < 0x10000; h++) {
        float s = cs_f16_to_f32((uint16_t)h);
        if (s != s) ck_assert(wide[h] != wide[h]);
        else ck_assert_msg(memcmp(&s, &wide[h], 4) == 0, "half 0x%04x", h);
    }
    free(all);
    free(wide);
    for (uint32_t h = 0; h < 0x10000; h++) { /* round trip of every finite half */
        float f = cs_f16_to_f32((uint16_t)h);
        if (f != f) continue;
        ck_assert_uint_eq(cs_f32_to_f16(f), h);
    }
}
END_TEST

/* ---- malformed checkpoints ---------------------------------------------------------------- */
static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cs_test_model_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Rewrites the OpenAI fixture with tensor `drop` removed and `reshape` given a wrong shape. */
static char *write_variant(const char *name, const char *drop, const char *reshape)
{
    cs_safetensors *st = tu_open_golden("golden/tiny-openai-f32.safetensors");
    cs_st_entry *e = calloc(st->n_tensors, sizeof *e);
    int64_t (*shapes)[CS_ST_MAX_DIMS] = calloc(st->n_tensors, sizeof *shapes);
    size_t n = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        if (drop && strcmp(t->name, drop) == 0) continue;
        memcpy(shapes[n], t->shape, sizeof shapes[n]);
        e[n].name = t->name;
        e[n].dtype = t->dtype;
        e[n].ndim = t->ndim;
        e[n].data = t->data;
        if (reshape && strcmp(t->name, reshape) == 0) { /* same bytes, other shape */
            shapes[n][0] = t->shape[0] / 2;
            shapes[n][1] = t->shape[1] * 2;
        }
        e[n].shape = shapes[n];
        n++;
    }
    size_t len = strlen(tmpdir) + strlen(name) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", tmpdir, name);
    ck_assert_int_eq(cs_st_write(path, e, n, NULL, 0), CS_OK);
    free(e);
    free(shapes);
    cs_st_close(st);
    return path;
}

START_TEST(missing_key_is_named)
{
    make_tmpdir();
    char *p = write_variant("missing.safetensors", "visual.ln_post.bias", NULL);
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(p, NULL, &m), CS_ERR_MISSING_TENSOR);
    ck_assert_ptr_null(m);
    ck_assert(strstr(cs_last_error(), "visual.ln_post.bias") != NULL);
    remove(p);
    free(p);
    rmdir(tmpdir);
}
END_TEST

START_TEST(contradicting_shape_is_an_error)
{
    make_tmpdir();
    char *p = write_variant("shape.safetensors", NULL, "visual.transformer.resblocks.3.attn.out_proj.weight");
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(p, NULL, &m), CS_ERR_SHAPE);
    ck_assert(strstr(cs_last_error(), "resblocks.3.attn.out_proj.weight") != NULL);
    remove(p);
    free(p);
    rmdir(tmpdir);
}
END_TEST

START_TEST(folder_and_unaligned_data)
{
    make_tmpdir();
    /* a folder with exactly one .safetensors loads; the data is shifted by one byte (unaligned) */
    char *src = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *data;
    size_t size;
    ck_assert_int_eq(cs_read_file(src, (size_t)1 << 30, &data, &size), CS_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (uint8_t)data[i];
    char path[128];
    snprintf(path, sizeof path, "%s/weights.safetensors", tmpdir);
    FILE *f = fopen(path, "wb");
    uint64_t nl = hlen + 1;
    for (int i = 0; i < 8; i++) fputc((int)((nl >> (8 * i)) & 0xff), f);
    fwrite(data + 8, 1, hlen, f);
    fputc(' ', f);
    fwrite(data + 8 + hlen, 1, size - 8 - hlen, f);
    fclose(f);
    cs_model *a = NULL, *b = NULL;
    ck_assert_int_eq(cs_model_load(tmpdir, NULL, &a), CS_OK);
    ck_assert_int_eq(cs_model_load(src, NULL, &b), CS_OK);
    ck_assert(memcmp(a->vision.blocks[5].fc_w, b->vision.blocks[5].fc_w, 512 * 128 * 4) == 0);
    ck_assert(memcmp(a->text.token_embedding, b->text.token_embedding, 49408 * 128 * 4) == 0);
    cs_model_free(a);
    cs_model_free(b);
    a = NULL;
    /* truncated copy */
    snprintf(path, sizeof path, "%s/weights.safetensors", tmpdir);
    f = fopen(path, "wb");
    fwrite(data, 1, size / 2, f);
    fclose(f);
    ck_assert_int_eq(cs_model_load(path, NULL, &a), CS_ERR_FORMAT);
    ck_assert_ptr_null(a);
    /* two files: ambiguous folder */
    char path2[128];
    snprintf(path2, sizeof path2, "%s/other.safetensors", tmpdir);
    f = fopen(path2, "wb");
    fclose(f);
    ck_assert_int_eq(cs_model_load(tmpdir, NULL, &a), CS_ERR_IO);
    remove(path2);
    remove(path);
    rmdir(tmpdir);
    free(data);
    free(src);
}
END_TEST

START_TEST(bad_arguments_and_paths)
{
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(NULL, NULL, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_model_load("/nonexistent/model.safetensors", NULL, &m), CS_ERR_IO);
    ck_assert_int_eq(cs_model_load("/etc/hostname", NULL, &m), CS_ERR_FORMAT);
    cs_model_params p;
    cs_model_params_default(&p);
    p.size = 0;
    ck_assert_int_eq(cs_model_load("/etc/hostname", &p, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(m);
    cs_model_free(NULL);
    char *f = tu_fixture("golden/tiny-golden.safetensors"); /* valid safetensors, not a model */
    ck_assert_int_eq(cs_model_load(f, NULL, &m), CS_ERR_MISSING_TENSOR);
    free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, architecture_of_both_fixtures);
    tcase_add_test(tc, both_namings_give_identical_weights);
    tcase_add_test(tc, missing_key_is_named);
    tcase_add_test(tc, contradicting_shape_is_an_error);
    tcase_add_test(tc, folder_and_unaligned_data);
    tcase_add_test(tc, bad_arguments_and_paths);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("safetensors");
    tcase_add_test(st, safetensors_valid_minimal);
    tcase_add_test(st, safetensors_bad_lengths);
    tcase_add_test(st, safetensors_bad_headers);
    tcase_add_test(st, f16_widening_is_exact);
    suite_add_tcase(s, st);
    return tu_run_suite(s);
}
