/* Hardening: bad input of every kind returns a clean status (never a crash, hang or leak; run
 * under ASan + UBSan by `make asan`). One test per attack; regressions for fixed bugs are
 * marked "regression". */
#include "testutil.h"

#include "io/safetensors.h"
#include "text/tokenizer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* A safetensors image in memory: 8-byte length, header text, data bytes. */
static uint8_t *st_bytes(const char *header, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    uint8_t *p = calloc(1, *size + 1);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(p + 8, header, h);
    return p;
}

static cs_status parse_header(const char *header, size_t data_len)
{
    size_t size;
    uint8_t *p = st_bytes(header, data_len, &size);
    cs_safetensors *st = NULL;
    cs_status s = cs_st_parse(p, size, &st);
    if (s == CS_OK) ck_assert_ptr_nonnull(st);
    else ck_assert_ptr_null(st);
    cs_st_close(st);
    free(p);
    return s;
}

static char *tmpdir_make(void)
{
    char *d = strdup("/tmp/cs_hardening_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- safetensors parser ------------------------------------------------------------------- */

START_TEST(st_bad_headers)
{
    ck_assert_int_eq(parse_header("{}", 0), CS_OK);
    ck_assert_int_eq(parse_header("", 0), CS_ERR_FORMAT);               /* length 0 */
    ck_assert_int_eq(parse_header("[1,2]", 0), CS_ERR_FORMAT);          /* not an object */
    ck_assert_int_eq(parse_header("{\"a\":", 0), CS_ERR_FORMAT);        /* truncated JSON */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                     CS_ERR_FORMAT);                                    /* duplicate key */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 3),
                     CS_ERR_FORMAT);                                    /* truncated data */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 5),
                     CS_ERR_FORMAT);                                    /* trailing gap */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                     CS_ERR_FORMAT);
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                                  "\"data_offsets\":[0,4]}}", 4),
                     CS_ERR_TOO_LARGE);                                 /* element count overflow */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4),
                     CS_ERR_FORMAT);                                    /* reversed */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                                  "\"data_offsets\":[18446744073709551612,18446744073709551616]}}", 4),
                     CS_ERR_FORMAT);                                    /* beyond int64 */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 8),
                     CS_ERR_FORMAT);                                    /* overlap */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                     CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                                  "\"data_offsets\":[0,4]}}", 4),
                     CS_ERR_UNSUPPORTED);                               /* 9 dims */
    ck_assert_int_eq(parse_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                     CS_ERR_FORMAT);
    ck_assert_int_eq(parse_header("{\"__metadata__\":{\"k\":1}}", 0), CS_ERR_FORMAT);
    ck_assert_int_eq(parse_header("{\"a\":3}", 0), CS_ERR_FORMAT);
}
END_TEST

START_TEST(st_deep_nesting_and_lengths)
{
    /* 200k nested arrays: jansson's depth limit, not the stack, must stop it */
    size_t depth = 200000;
    char *h = malloc(2 * depth + 16);
    ck_assert_ptr_nonnull(h);
    strcpy(h, "{\"a\":");
    size_t n = strlen(h);
    memset(h + n, '[', depth);
    memset(h + n + depth, ']', depth);
    strcpy(h + n + 2 * depth, "}");
    ck_assert_int_eq(parse_header(h, 0), CS_ERR_FORMAT);
    free(h);

    /* header length near 2^64 and over the 100 MB limit */
    uint8_t buf[16];
    memset(buf, 0xff, sizeof buf);
    cs_safetensors *st = NULL;
    ck_assert_int_eq(cs_st_parse(buf, sizeof buf, &st), CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_st_parse(buf, 7, &st), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_st_parse(NULL, 0, &st), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_st_parse(NULL, 8, &st), CS_ERR_INVALID_ARGUMENT);
    memset(buf, 0, sizeof buf);
    buf[0] = 9; /* 9 bytes of header in a 16-byte buffer: past the end */
    ck_assert_int_eq(cs_st_parse(buf, 16, &st), CS_ERR_FORMAT);
    ck_assert_ptr_null(st);
}
END_TEST

/* ---- model loader ------------------------------------------------------------------------- */

START_TEST(model_bad_arguments)
{
    cs_model *m = (cs_model *)(uintptr_t)1; /* must stay untouched */
    ck_assert_int_eq(cs_model_load(NULL, NULL, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_model_load("/nonexistent/model.safetensors", NULL, &m), CS_ERR_IO);
    cs_model_params p;
    cs_model_params_default(&p);
    p.size = 0;
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    ck_assert_int_eq(cs_model_load(path, &p, &m), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(m, (cs_model *)(uintptr_t)1);
    free(path);

    cs_model_info info;
    memset(&info, 0, sizeof info);
    ck_assert_int_eq(cs_model_get_info(NULL, &info), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_model_embed_dim(NULL), 0);
    ck_assert_int_eq(cs_model_image_tokens(NULL, 224, 224), 0);
    ck_assert_ptr_null(cs_model_tokenizer(NULL));
    cs_model_free(NULL);
}
END_TEST

START_TEST(model_odd_folders)
{
    char *dir = tmpdir_make();
    cs_model *m = NULL;
    /* empty folder */
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_ERR_IO);
    /* two .safetensors files */
    write_file(dir, "a.safetensors", "x", 1);
    write_file(dir, "b.safetensors", "y", 1);
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_ERR_IO);
    /* model.safetensors too short, and a folder named model.safetensors is skipped */
    write_file(dir, "model.safetensors", "1234", 4);
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_ERR_FORMAT);
    /* a non-CLIP safetensors */
    size_t size;
    uint8_t *p = st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &size);
    write_file(dir, "model.safetensors", p, size);
    free(p);
    ck_assert_int_eq(cs_model_load(dir, NULL, &m), CS_ERR_MISSING_TENSOR);
    ck_assert_ptr_null(m);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* A folder with the tiny HF weights (symlinked) and the given config.json. */
static cs_status load_with_config(const char *config)
{
    char *dir = tmpdir_make();
    char *w = tu_fixture("golden/tiny-hf-f16.safetensors");
    char link[512];
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    ck_assert_int_eq(symlink(w, link), 0);
    free(w);
    if (config) write_file(dir, "config.json", config, strlen(config));
    cs_model *m = NULL;
    cs_status s = cs_model_load(dir, NULL, &m);
    if (s != CS_OK) ck_assert_str_ne(cs_last_error(), "");
    cs_model_free(m);
    rm_rf(dir);
    free(dir);
    return s;
}

START_TEST(model_config_json)
{
    ck_assert_int_eq(load_with_config(NULL), CS_OK);
    ck_assert_int_eq(load_with_config("{}"), CS_OK);
    ck_assert_int_eq(load_with_config(""), CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("[]"), CS_ERR_FORMAT);
    /* regression: valid JSON that is not an object was reported as invalid JSON (line -1) */
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "is not a JSON object"));
    ck_assert_int_eq(load_with_config("\"x\""), CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("{\"vision_config\": 5, \"text_config\": []}"), CS_OK);
    ck_assert_int_eq(load_with_config("{\"vision_config\": {\"hidden_act\": \"relu\"}}"),
                     CS_ERR_UNSUPPORTED);
    ck_assert_int_eq(load_with_config("{\"vision_config\": {\"layer_norm_eps\": -1}}"), CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("{\"text_config\": {\"layer_norm_eps\": 1e400}}"),
                     CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("{\"vision_config\": {\"num_attention_heads\": 3}}"),
                     CS_ERR_SHAPE);
    /* regression: 2^32 + 2 heads was truncated to 2 and accepted */
    ck_assert_int_eq(load_with_config("{\"vision_config\": {\"num_attention_heads\": 4294967298}}"),
                     CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("{\"projection_dim\": -4294967232}"), CS_ERR_FORMAT);
    ck_assert_int_eq(load_with_config("{\"vision_config\": {\"num_attention_heads\": -2}}"), CS_OK);
    ck_assert_int_eq(load_with_config("{\"text_config\": {\"num_attention_heads\": 1000000}}"),
                     CS_ERR_SHAPE);
    ck_assert_int_eq(load_with_config("{\"projection_dim\": 7}"), CS_ERR_SHAPE);
    ck_assert_int_eq(load_with_config("{\"a\": 1, \"a\": 2}"), CS_ERR_FORMAT);
}
END_TEST

/* ---- images ------------------------------------------------------------------------------- */

START_TEST(image_tiny_and_garbage_buffers)
{
    cs_image *img = (cs_image *)(uintptr_t)1;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t soi[4] = {0xff, 0xd8, 0xff, 0xe0};
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    ck_assert_int_eq(cs_image_decode_memory(NULL, 0, NULL, &img), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_image_decode_memory(NULL, 5, NULL, &img), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_decode_memory(junk, 1, NULL, &img), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_image_decode_memory(junk, sizeof junk, NULL, &img), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_image_decode_memory(png_sig, 8, NULL, &img), CS_ERR_FORMAT);
    ck_assert_int_ne(cs_image_decode_memory(soi, 3, NULL, &img), CS_OK); /* premature end */
    ck_assert_int_ne(cs_image_decode_memory(soi, 4, NULL, &img), CS_OK);
    ck_assert_ptr_eq(img, (cs_image *)(uintptr_t)1);
    /* PNG header claiming 2^31-1 x 2^31-1 */
    uint8_t hdr[64];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, png_sig, 8);
    memcpy(hdr + 8, "\0\0\0\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x02\0\0\0", 21);
    ck_assert_int_eq(cs_image_decode_memory(hdr, sizeof hdr, NULL, &img), CS_ERR_TOO_LARGE);
    cs_decode_params dp;
    cs_decode_params_default(&dp);
    dp.max_pixels = 0; /* no cap: still refused for the size_t/int range, or fails on the data */
    ck_assert_int_ne(cs_image_decode_memory(hdr, sizeof hdr, &dp, &img), CS_OK);
    dp.flags = 0x80;
    ck_assert_int_eq(cs_image_decode_memory(hdr, sizeof hdr, &dp, &img), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(img, (cs_image *)(uintptr_t)1);
}
END_TEST

START_TEST(image_truncations_of_fixtures)
{
    static const char *const files[] = {"images/chelsea.png", "images/rocket.jpg",
                                        "edge/progressive.jpg", "edge/rgb8_adam7.png"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char *path = tu_fixture(files[f]);
        FILE *fp = fopen(path, "rb");
        ck_assert_ptr_nonnull(fp);
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)n);
        ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
        fclose(fp);
        /* every cut before the last 12 bytes (a PNG's IEND, which is not required) fails */
        for (long cut = 0; cut < n - 12; cut += 1 + n / 97) {
            cs_image *img = NULL;
            cs_status s = cs_image_decode_memory(buf, (size_t)cut, NULL, &img);
            ck_assert_msg(s != CS_OK, "%s cut at %ld decoded", files[f], cut);
            ck_assert_ptr_null(img);
            ck_assert_str_ne(cs_last_error(), "");
        }
        free(buf);
        free(path);
    }
}
END_TEST

/* ---- tokenizer ---------------------------------------------------------------------------- */

START_TEST(tokenizer_bad_vocabularies)
{
    char *dir = tmpdir_make();
    char p[512];
    cs_tokenizer *t = NULL;
    ck_assert_int_eq(cs_tokenizer_load(NULL, &t), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenizer_load(dir, &t), CS_ERR_IO); /* folder without a vocabulary */
    write_file(dir, "bpe_simple_vocab_16e6.txt.gz", "", 0);
    snprintf(p, sizeof p, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK);
    write_file(dir, "bpe_simple_vocab_16e6.txt.gz", "\x1f\x8b\x08\x00garbage", 12);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK);
    write_file(dir, "bpe_simple_vocab_16e6.txt.gz", "not gzip at all\n", 16);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK);
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    write_file(dir, "vocab.json", "[1, 2, 3]", 9);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK);
    write_file(dir, "vocab.json", "{\"a</w>\": 0}", 12);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK); /* no merges.txt */
    write_file(dir, "merges.txt", "#version: 0.2\na b\n", 18);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK); /* byte symbols and specials missing */
    write_file(dir, "vocab.json", "{\"a</w>\": -5, \"b\": 99999999999}", 32);
    ck_assert_int_ne(cs_tokenizer_load(p, &t), CS_OK);
    ck_assert_ptr_null(t);
    /* merges text in memory: empty, garbage, no newline, NUL bytes */
    static const char *const texts[] = {"", "x", "#version: 0.2\n", "#version: 0.2\n\xff\xfe \x80\n",
                                        "a b c d\n\n\n", "#version\0 0.2\na b\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = i == 5 ? 18 : strlen(texts[i]);
        cs_status s = cs_tokenizer_from_merges(texts[i], n, "test", &t);
        if (s == CS_OK) cs_tokenizer_free(t);
        t = NULL;
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(tokenizer_bad_arguments_and_giant_input)
{
    char *vp = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_tokenizer *tok = NULL;
    ck_assert_int_eq(cs_tokenizer_load(vp, &tok), CS_OK);
    free(vp);
    int32_t ids[CS_CONTEXT_LENGTH];
    size_t n = 0;
    ck_assert_int_eq(cs_tokenize(NULL, "a", 1, ids, 77, &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize(tok, NULL, 5, ids, 77, &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize(tok, NULL, 0, ids, 77, &n), CS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(cs_tokenize(tok, "a cat", 5, ids, 0, &n), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 4);
    /* 1 MB of random bytes (NULs, invalid UTF-8): counts only, then too long for the context */
    size_t big = 1 << 20;
    char *text = malloc(big);
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = (char)(x >> 16);
    }
    ck_assert_int_eq(cs_tokenize(tok, text, big, NULL, 0, &n), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_gt(n, 77);
    ck_assert_int_eq(cs_tokenize_context(tok, text, big, 0, ids, NULL), CS_ERR_TEXT_TOO_LONG);
    ck_assert_int_eq(cs_tokenize_context(tok, text, big, 1, ids, NULL), CS_OK);
    ck_assert_int_eq(ids[76], CS_TOKEN_EOT);
    free(text);
    /* detokenize: ids out of range, tiny buffers */
    char buf[8];
    size_t len;
    int32_t bad[3] = {CS_TOKEN_SOT, 49408, CS_TOKEN_EOT};
    ck_assert_int_eq(cs_detokenize(tok, bad, 3, buf, sizeof buf, &len), CS_ERR_INVALID_ARGUMENT);
    bad[1] = -7;
    ck_assert_int_eq(cs_detokenize(tok, bad, 3, buf, sizeof buf, &len), CS_ERR_INVALID_ARGUMENT);
    int32_t good[4] = {CS_TOKEN_SOT, 320, 2368, CS_TOKEN_EOT};
    ck_assert_int_eq(cs_detokenize(tok, good, 4, buf, 0, &len), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_detokenize(tok, good, 4, NULL, 0, &len), CS_ERR_BUFFER_TOO_SMALL);
    cs_tokenizer_free(tok);
}
END_TEST

/* ---- maps, points, segmentation, similarity ----------------------------------------------- */

START_TEST(maps_overflow_and_capacity)
{
    float sim[5 * 2] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    float out[64];
    /* out_h * out_w * T overflows size_t */
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 2, INT_MAX, INT_MAX, out, 64), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, INT_MAX, INT_MAX, INT_MAX, out, 64),
                     CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 2, 4, 4, out, 31), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 0, 4, 4, out, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, -2, 2, 2, 4, 4, out, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(NULL, 2, 2, 2, 4, 4, out, 64), CS_ERR_INVALID_ARGUMENT);
    uint8_t lab[16];
    ck_assert_int_eq(cs_segment(sim, 2, 2, 2, INT_MAX, INT_MAX, lab, 16), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 300, 4, 4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(sim, INT_MAX, INT_MAX, sim, INT_MAX, 2, out, 64), CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_similarity(sim, 1, 5, sim, 2, 0, out, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(sim, 1, 5, sim, 2, 1, NAN, out, 64),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_peaks(sim, 1, 1, 2, out, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(sim, 2, 2, 1, out, INT_MAX, INT_MAX, 64), CS_ERR_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(points_bad_arguments)
{
    float map[16];
    for (int i = 0; i < 16; i++) map[i] = (float)i;
    int xy[32], lab[16];
    size_t n = 99;
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 64, 64, NAN, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 64, 64, 0.8f, 5, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 64, 64, 0.8f, 0, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 0, 64, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 64, 64, -INFINITY, 2, xy, lab, 0, &n),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 4);
    map[3] = INFINITY;
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 64, 64, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
    map[3] = 3;
    ck_assert_int_eq(cs_similarity_to_points_multi(map, 4, 4, 0, 64, 64, 0.8f, 2, xy, lab, 16, &n),
                     CS_ERR_INVALID_ARGUMENT);
}
END_TEST

/* regression: coordinates of a huge image were converted from float beyond INT_MAX
 * ((int)2147483648.0f is undefined); image sides over 2^24 are now CS_ERR_TOO_LARGE. */
START_TEST(points_huge_image_regression)
{
    float map[16];
    for (int i = 0; i < 16; i++) map[i] = (float)i;
    int xy[32], lab[16];
    size_t n = 0;
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, INT_MAX, INT_MAX, 0.0f, 2, xy, lab, 16, &n),
                     CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_similarity_to_points_multi(map, 4, 4, 1, INT_MAX, 5, 0.0f, 2, xy, lab, 16,
                                                   &n),
                     CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_similarity_to_points(map, 4, 4, 1 << 24, 1 << 24, 0.0f, 2, xy, lab, 16, &n),
                     CS_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(xy[2 * i], 0);
        ck_assert_int_lt(xy[2 * i], 1 << 24);
    }
}
END_TEST

/* ---- images API --------------------------------------------------------------------------- */

START_TEST(image_api_bad_arguments)
{
    uint8_t px[3 * 4 * 4] = {0};
    cs_image img = {4, 4, 12, px};
    float out[3 * 8 * 8];
    ck_assert_int_eq(cs_image_preprocess(&img, 0, out, 192), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_preprocess(&img, -5, out, 192), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_preprocess(&img, 8, out, 191), CS_ERR_BUFFER_TOO_SMALL);
    cs_image bad = {4, 4, 11, px}; /* stride < 3 * width */
    ck_assert_int_eq(cs_image_preprocess(&bad, 8, out, 192), CS_ERR_INVALID_ARGUMENT);
    bad.stride = 12;
    bad.width = -1;
    ck_assert_int_eq(cs_image_preprocess(&bad, 8, out, 192), CS_ERR_INVALID_ARGUMENT);
    uint8_t rgb[3 * 8 * 8];
    ck_assert_int_eq(cs_image_resize_bicubic(&img, INT_MAX, INT_MAX, rgb, sizeof rgb),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_overlay_jet(&img, out, 0, rgb, sizeof rgb), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_png_write("/nonexistent/dir/x.png", px, 4, 4, 12, 3, NULL, 0), CS_ERR_IO);
    ck_assert_int_eq(cs_png_write("/tmp/x.png", px, 4, 4, 11, 3, NULL, 0), CS_ERR_INVALID_ARGUMENT);
    uint8_t pal[3] = {1, 2, 3};
    px[1] = 1; /* index 1 outside a 1-entry palette */
    ck_assert_int_eq(cs_png_write("/tmp/x.png", px, 4, 4, 12, 1, pal, 1), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_png_write("/tmp/x.png", px, 4, 4, 12, 1, pal, 0), CS_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- encoders with bad arguments ---------------------------------------------------------- */

static cs_model *tiny_model(void)
{
    char *path = tu_fixture("golden/tiny-openai-f32.safetensors");
    char *vocab = tu_fixture("vocab/bpe_simple_vocab_16e6.txt.gz");
    cs_model_params p;
    cs_model_params_default(&p);
    p.vocab_path = vocab;
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(path, &p, &m), CS_OK);
    free(path);
    free(vocab);
    return m;
}

START_TEST(encoders_bad_arguments)
{
    cs_model *m = tiny_model();
    cs_context *ctx = NULL;
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = -1;
    ck_assert_int_eq(cs_context_create(m, &cp, &ctx), CS_ERR_INVALID_ARGUMENT);
    cp.size = 0;
    ck_assert_int_eq(cs_context_create(m, &cp, &ctx), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_context_create(NULL, NULL, &ctx), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    int S = cs_model_image_size(m), D = cs_model_embed_dim(m);
    int nt = cs_model_image_tokens(m, S, S);
    ck_assert_int_gt(nt, 1);
    ck_assert_int_eq(cs_model_image_tokens(m, S + 1, S), 0);
    ck_assert_int_eq(cs_model_image_tokens(m, 0, S), 0);
    ck_assert_int_eq(cs_model_image_tokens(m, -S, -S), 0);
    size_t npx = (size_t)3 * S * S, nf = (size_t)nt * D;
    float *px = calloc(npx, sizeof *px), *f = calloc(nf, sizeof *f);
    ck_assert_int_eq(cs_encode_images(ctx, NULL, 1, S, S, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_ne(cs_encode_images(ctx, px, 0, S, S, f, nf), CS_OK);
    ck_assert_int_ne(cs_encode_images(ctx, px, -1, S, S, f, nf), CS_OK);
    ck_assert_int_ne(cs_encode_images(ctx, px, 1, S + 1, S, f, nf), CS_OK);
    ck_assert_int_ne(cs_encode_images(ctx, px, 1, 0, 0, f, nf), CS_OK);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, S, S, f, nf - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_ne(cs_encode_images(ctx, px, INT_MAX, S, S, f, nf), CS_OK);
    ck_assert_int_ne(cs_encode_images(NULL, px, 1, S, S, f, nf), CS_OK);
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    sp.n_blocks = cs_model_vision_layers(m) + 1;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, S, S, f, nf), CS_ERR_INVALID_ARGUMENT);
    sp.n_blocks = -1;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, S, S, f, nf), CS_ERR_INVALID_ARGUMENT);
    sp.n_blocks = 2;
    sp.attention = (cs_attention_kind)99;
    ck_assert_int_ne(cs_surgery_apply(ctx, &sp, px, 1, S, S, f, nf), CS_OK);
    sp.attention = CS_ATTN_IDENTITY;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, S, S, f, nf), CS_ERR_UNSUPPORTED);
    cs_surgery_params_default(&sp);
    sp.size = 0;
    ck_assert_int_eq(cs_surgery_apply(ctx, &sp, px, 1, S, S, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_ne(cs_vision_block(ctx, 99, f, nt), CS_OK);
    ck_assert_int_ne(cs_vision_block(ctx, -1, f, nt), CS_OK);

    /* texts */
    const char *texts[3] = {"a cat", "", NULL};
    ck_assert_int_eq(cs_encode_texts(ctx, texts, 0, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_texts(ctx, NULL, 1, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_texts(ctx, texts, 3, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_encode_texts(ctx, texts, 2, f, (size_t)D), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_encode_texts(ctx, texts, 2, f, nf), CS_OK);
    char *long_text = malloc(400 * 4 + 1);
    for (int i = 0; i < 400; i++) memcpy(long_text + 4 * i, "cat ", 4);
    long_text[1600] = '\0';
    const char *lt[1] = {long_text};
    ck_assert_int_eq(cs_encode_texts(ctx, lt, 1, f, nf), CS_ERR_TEXT_TOO_LONG);
    ck_assert_int_eq(cs_prompt_ensemble(ctx, lt, 1, f, nf), CS_ERR_TEXT_TOO_LONG);
    free(long_text);
    int32_t ids[CS_CONTEXT_LENGTH] = {0};
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, 1, f, nf), CS_ERR_INVALID_ARGUMENT); /* no EOT */
    ids[0] = CS_TOKEN_SOT;
    ids[1] = 1 << 30;
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, 1, f, nf), CS_ERR_INVALID_ARGUMENT);
    ids[1] = -3;
    ck_assert_int_eq(cs_encode_token_ids(ctx, ids, 1, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_redundant_feature(ctx, f, (size_t)D - 1), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_ptr_null(cs_prompt_template(-1));
    ck_assert_ptr_null(cs_prompt_template(cs_prompt_template_count()));

    cs_context_free(ctx);
    cs_context_free(NULL);
    free(px);
    free(f);
    cs_model_free(m);
}
END_TEST

/* Non-finite pixels are refused; a NaN weight gives NaN features, with no undefined behaviour
 * in the exp kernel (UBSan aborted there before). */
START_TEST(encoder_non_finite_values)
{
    char *src = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(src, NULL, &m), CS_OK);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    size_t np = 3 * 64 * 64, nf = 17 * 64;
    float *px = calloc(np, sizeof(float)), *f = calloc(nf, sizeof(float));
    px[100] = NAN;
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 64, 64, f, nf), CS_ERR_INVALID_ARGUMENT);
    ck_assert(strstr(cs_last_error(), "NaN") != NULL);
    px[100] = INFINITY;
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, px, 1, 64, 64, f, nf), CS_ERR_INVALID_ARGUMENT);
    px[100] = 0.0f;
    cs_context_free(ctx);
    cs_model_free(m);

    /* the same weights with one NaN in the class embedding */
    cs_safetensors *st = NULL;
    ck_assert_int_eq(cs_st_open(src, &st), CS_OK);
    cs_st_entry *e = calloc(st->n_tensors, sizeof *e);
    float *cls = NULL;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        e[i].name = t->name;
        e[i].dtype = t->dtype;
        e[i].ndim = t->ndim;
        e[i].shape = t->shape;
        e[i].data = t->data;
        if (strcmp(t->name, "visual.class_embedding") == 0) {
            cls = malloc(t->nbytes);
            memcpy(cls, t->data, t->nbytes);
            cls[0] = NAN;
            e[i].data = cls;
        }
    }
    char *dir = tmpdir_make();
    char path[512];
    snprintf(path, sizeof path, "%s/nan.safetensors", dir);
    ck_assert_int_eq(cs_st_write(path, e, st->n_tensors, NULL, 0), CS_OK);
    ck_assert_int_eq(cs_model_load(path, NULL, &m), CS_OK);
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    ck_assert_int_eq(cs_encode_images(ctx, px, 1, 64, 64, f, nf), CS_OK);
    ck_assert(isnan(f[0]));
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(st);
    rm_rf(dir);
    free(dir);
    free(e);
    free(cls);
    free(px);
    free(f);
    free(src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("bad input");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, st_bad_headers);
    tcase_add_test(tc, st_deep_nesting_and_lengths);
    tcase_add_test(tc, model_bad_arguments);
    tcase_add_test(tc, model_odd_folders);
    tcase_add_test(tc, model_config_json);
    tcase_add_test(tc, image_tiny_and_garbage_buffers);
    tcase_add_test(tc, image_truncations_of_fixtures);
    tcase_add_test(tc, tokenizer_bad_vocabularies);
    tcase_add_test(tc, tokenizer_bad_arguments_and_giant_input);
    tcase_add_test(tc, maps_overflow_and_capacity);
    tcase_add_test(tc, points_bad_arguments);
    tcase_add_test(tc, points_huge_image_regression);
    tcase_add_test(tc, image_api_bad_arguments);
    tcase_add_test(tc, encoders_bad_arguments);
    tcase_add_test(tc, encoder_non_finite_values);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
