/* ResNet checkpoint loading: variants of rn-tiny-openai-f32 written to a temporary file. The
 * extra "visual.attnpool.attn.*" keys of a checkpoint saved after a forward are ignored (same
 * bits), logit_scale [1] and BF16 load; a missing BatchNorm tensor, channels that do not chain,
 * a non-positive or NaN running_var, absurd or odd widths, a bad positional table and a stray
 * shortcut are CS_ERR_MISSING_TENSOR / CS_ERR_FORMAT with a message naming the tensor. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SRC "golden/rn-tiny-openai-f32.safetensors"

/* One change to the source file: drop `name`, or replace it (shape/dtype/data), or add it. */
typedef struct change {
    const char *name;
    int drop;
    int ndim;
    int64_t shape[4];
    cs_dtype dtype;
    const void *data; /* NULL with !drop: keep the data, change only dtype (BF16 conversion) */
} change;

static char tmp_path[256];

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Writes the source with the changes applied (and `bf16`: every visual.* float as BF16). */
static void write_variant(const change *ch, int n_ch, int bf16)
{
    cs_safetensors *st = tu_open_golden(SRC);
    size_t cap = st->n_tensors + (size_t)n_ch;
    cs_st_entry *e = calloc(cap, sizeof *e);
    void **bufs = calloc(cap, sizeof *bufs);
    size_t n = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const cs_st_tensor *t = &st->tensors[i];
        const change *c = NULL;
        for (int k = 0; k < n_ch; k++)
            if (strcmp(ch[k].name, t->name) == 0) c = &ch[k];
        if (c && c->drop) continue;
        e[n].name = t->name;
        e[n].dtype = t->dtype;
        e[n].ndim = t->ndim;
        e[n].shape = t->shape;
        e[n].data = t->data;
        if (c) {
            e[n].dtype = c->dtype;
            e[n].ndim = c->ndim;
            e[n].shape = c->shape;
            e[n].data = c->data;
        } else if (bf16 && t->dtype == CS_DT_F32 && strncmp(t->name, "visual.", 7) == 0) {
            float *f = malloc(t->n_elements * sizeof(float) + 4);
            uint16_t *h = malloc(t->n_elements * 2 + 2);
            cs_st_to_f32(t, f);
            for (size_t k = 0; k < t->n_elements; k++) h[k] = to_bf16(f[k]);
            free(f);
            bufs[n] = h;
            e[n].dtype = CS_DT_BF16;
            e[n].data = h;
        }
        n++;
    }
    for (int k = 0; k < n_ch; k++) { /* additions */
        if (ch[k].drop || cs_st_find(st, ch[k].name)) continue;
        e[n].name = ch[k].name;
        e[n].dtype = ch[k].dtype;
        e[n].ndim = ch[k].ndim;
        e[n].shape = ch[k].shape;
        e[n].data = ch[k].data;
        n++;
    }
    snprintf(tmp_path, sizeof tmp_path, "/tmp/cs_rn_load_%d.safetensors", (int)getpid());
    ck_assert_int_eq(cs_st_write(tmp_path, e, n, NULL, 0), CS_OK);
    for (size_t i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(e);
    cs_st_close(st);
}

/* Loads the variant; checks the status and that the message names `tensor`. */
static void expect_failure(cs_status want, const char *tensor)
{
    cs_model *m = NULL;
    cs_status s = cs_model_load(tmp_path, NULL, &m);
    ck_assert_msg(s == want, "status %s (%s), want %s", cs_status_string(s), cs_last_error(),
                  cs_status_string(want));
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(cs_last_error(), tensor) != NULL, "message \"%s\" does not name %s",
                  cs_last_error(), tensor);
    printf("  %-16s %s\n", cs_status_string(s), cs_last_error() + strlen(tmp_path) + 2);
    unlink(tmp_path);
}

static float *encode(const char *path, int *n_out)
{
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load(path, NULL, &m) == CS_OK, "%s: %s", path, cs_last_error());
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    cs_safetensors *g = tu_open_golden("golden/rn-tiny-golden.safetensors");
    float *x = tu_golden_f32(g, "input.x64", NULL);
    int n = 2 * 5 * 64;
    float *f = malloc((size_t)n * sizeof(float));
    ck_assert_int_eq(cs_surgery_apply(ctx, NULL, x, 2, 64, 64, f, (size_t)n), CS_OK);
    free(x);
    cs_st_close(g);
    cs_context_free(ctx);
    cs_model_free(m);
    *n_out = n;
    return f;
}

START_TEST(test_extra_keys_ignored)
{
    /* quirk 7: qkv = v_proj stacked three times, proj = c_proj (values do not matter: ignored) */
    static float qkv_w[768 * 256], qkv_b[768], proj_w[64 * 256], proj_b[64];
    for (int i = 0; i < 768 * 256; i++) qkv_w[i] = 1e6f;
    change ch[5] = {
        {"visual.attnpool.attn.qkv.weight", 0, 2, {768, 256}, CS_DT_F32, qkv_w},
        {"visual.attnpool.attn.qkv.bias", 0, 1, {768}, CS_DT_F32, qkv_b},
        {"visual.attnpool.attn.proj.weight", 0, 2, {64, 256}, CS_DT_F32, proj_w},
        {"visual.attnpool.attn.proj.bias", 0, 1, {64}, CS_DT_F32, proj_b},
        {"logit_scale", 0, 1, {1}, CS_DT_F32, (float[]){4.6052f}},
    };
    write_variant(ch, 5, 0);
    int n;
    float *a = encode(tmp_path, &n);
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(tmp_path, NULL, &m), CS_OK);
    cs_model_info in;
    memset(&in, 0, sizeof in);
    in.size = sizeof in;
    cs_model_get_info(m, &in);
    ck_assert(fabsf(in.logit_scale - 100.0f) < 0.01f); /* logit_scale [1] read */
    cs_model_free(m);
    unlink(tmp_path);
    char *src = tu_fixture(SRC);
    float *b = encode(src, &n);
    ck_assert(memcmp(a, b, (size_t)n * sizeof(float)) == 0);
    printf("  extra visual.attnpool.attn.* keys: ignored (same bits)\n");
    free(src);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_bf16)
{
    write_variant(NULL, 0, 1);
    cs_model *m = NULL;
    ck_assert_msg(cs_model_load(tmp_path, NULL, &m) == CS_OK, "%s", cs_last_error());
    cs_model_info in;
    memset(&in, 0, sizeof in);
    in.size = sizeof in;
    cs_model_get_info(m, &in);
    ck_assert_int_eq(in.dtype_bits, 16);
    ck_assert(in.is_bf16);
    cs_model_free(m);
    int n;
    float *a = encode(tmp_path, &n);
    char *src = tu_fixture(SRC);
    float *b = encode(src, &n);
    double err = tu_max_abs_diff(a, b, (size_t)n);
    printf("  BF16 tower: max |diff| to F32 %.3g (BF16 rounding)\n", err);
    ck_assert(err < 0.2);
    free(src);
    free(a);
    free(b);
    unlink(tmp_path);
}
END_TEST

START_TEST(test_malformed)
{
    static float zeros32[64 * 32], var[64], big[2048], pos6[6 * 256], w7[7 * 8];
    memset(zeros32, 0, sizeof zeros32);
    for (int i = 0; i < 64; i++) var[i] = 1.0f;

    change miss = {"visual.layer2.1.bn2.running_mean", 1, 0, {0}, CS_DT_F32, NULL};
    write_variant(&miss, 1, 0);
    expect_failure(CS_ERR_MISSING_TENSOR, "visual.layer2.1.bn2.running_mean");

    change miss_down = {"visual.layer3.0.downsample.0.weight", 1, 0, {0}, CS_DT_F32, NULL};
    write_variant(&miss_down, 1, 0);
    expect_failure(CS_ERR_MISSING_TENSOR, "visual.layer3.0.downsample.0.weight");

    change miss_pool = {"visual.attnpool.v_proj.bias", 1, 0, {0}, CS_DT_F32, NULL};
    write_variant(&miss_pool, 1, 0);
    expect_failure(CS_ERR_MISSING_TENSOR, "visual.attnpool.v_proj.bias");

    /* layer2.1 takes 64 channels (4 x 16) from layer2.0: 32 does not chain */
    change chain = {"visual.layer2.1.conv1.weight", 0, 4, {16, 32, 1, 1}, CS_DT_F32, zeros32};
    write_variant(&chain, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer2.1.conv1.weight");

    var[5] = 0.0f;
    change v0 = {"visual.layer3.0.bn1.running_var", 0, 1, {32}, CS_DT_F32, var};
    write_variant(&v0, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer3.0.bn1.running_var");
    var[5] = -1.0f;
    write_variant(&v0, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer3.0.bn1.running_var");
    var[5] = NAN;
    write_variant(&v0, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer3.0.bn1.running_var");

    change absurd = {"visual.layer1.0.conv1.weight", 0, 4, {2048, 1, 1, 1}, CS_DT_F32, big};
    write_variant(&absurd, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer1.0.conv1.weight");

    change odd = {"visual.layer1.0.conv1.weight", 0, 4, {7, 8, 1, 1}, CS_DT_F32, w7};
    write_variant(&odd, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer1.0.conv1.weight");

    change pos = {"visual.attnpool.positional_embedding", 0, 2, {6, 256}, CS_DT_F32, pos6};
    write_variant(&pos, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.attnpool.positional_embedding");

    change stray = {"visual.layer2.1.downsample.0.weight", 0, 4, {64, 64, 1, 1}, CS_DT_F32, big};
    static float stray_w[64 * 64];
    stray.data = stray_w;
    write_variant(&stray, 1, 0);
    expect_failure(CS_ERR_FORMAT, "visual.layer2.1.downsample.0.weight");

    change dt = {"visual.bn1.running_var", 0, 1, {4}, CS_DT_I32, (int32_t[]){1, 1, 1, 1}};
    write_variant(&dt, 1, 0);
    expect_failure(CS_ERR_UNSUPPORTED, "visual.bn1.running_var");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resnet_load");
    TCase *tc = tcase_create("variants");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_extra_keys_ignored);
    tcase_add_test(tc, test_bf16);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
