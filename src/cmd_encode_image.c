/* clipsurgery encode-image MODEL INPUT [--size S] [--method NAME | --mode raw|surgery]
 *                          [--surgery-blocks K] [--threads N] --out FILE.safetensors */
#include "cli.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: clipsurgery encode-image MODEL INPUT [--size S] [--method NAME]\n"
            "                                [--surgery-blocks K] [--threads N] [--precision P]\n"
            "                                --out FILE\n"
            "Encodes images with the CLIP image encoder and writes \"image_features\"\n"
            "[B, 1 + N, D] float32 (class token then the N patch tokens, not normalised) to\n"
            "FILE (safetensors).\n"
            "  INPUT              a safetensors file holding \"pixel_values\" [3, H, W] or\n"
            "                     [B, 3, H, W] (CLIP-normalised, as 'clipsurgery preprocess'\n"
            "                     writes), or an image file (PNG/JPEG), preprocessed at --size\n"
            "  --size S           preprocessing size for image files (default: the model's\n"
            "                     image size); with pixel_values it must match H = W = S\n"
            "  --method NAME      clip-surgery (default: CLIP Surgery's dual path in the last\n"
            "                     blocks), raw (plain CLIP on every token), maskclip, sclip,\n"
            "                     clearclip, naclip or gem (each as its official code;\n"
            "                     docs/methods.md); tokens after ln_post and proj\n"
            "  --mode M           alias: surgery = --method clip-surgery, raw = --method raw\n"
            "  --surgery-blocks K modified blocks counted from the last (default: the\n"
            "                     method's, 6 for clip-surgery)\n"
            "  --threads N        threads for the library's own loops (default: all cores;\n"
            "                     matrix products follow OMP_NUM_THREADS)\n"
            "  --precision P      f32 (default) or bf16 (matrix products in bfloat16; needs a\n"
            "                     GEMM=onednn build and a CPU with AVX512_BF16 or AMX)\n");
}

int cmd_encode_image(int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *out = NULL, *method = "clip-surgery";
    int size = 0, blocks = -1, threads = 0;
    unsigned precision = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            return CLI_OK;
        } else if (strcmp(a, "--size") == 0) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 65536, &size))
                return cli_usage_error("encode-image", "--size needs a positive integer");
        } else if (strcmp(a, "--mode") == 0) {
            if (++i >= argc || (strcmp(argv[i], "raw") && strcmp(argv[i], "surgery")))
                return cli_usage_error("encode-image", "--mode is raw or surgery");
            method = strcmp(argv[i], "raw") == 0 ? "raw" : "clip-surgery";
        } else if (strcmp(a, "--method") == 0) {
            cs_method k;
            if (++i >= argc || cs_method_from_name(argv[i], &k) != CS_OK)
                return cli_usage_error("encode-image",
                                       "--method is clip-surgery, raw, maskclip, sclip, "
                                       "clearclip, naclip or gem");
            method = cs_method_name(k);
        } else if (strcmp(a, "--surgery-blocks") == 0) {
            if (++i >= argc || cli_parse_int(argv[i], 0, 1000, &blocks))
                return cli_usage_error("encode-image", "--surgery-blocks needs an integer >= 0");
        } else if (strcmp(a, "--threads") == 0) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 256, &threads))
                return cli_usage_error("encode-image", "--threads needs an integer 1..256");
        } else if (strcmp(a, "--precision") == 0) {
            if (++i >= argc || cli_parse_precision(argv[i], &precision))
                return cli_usage_error("encode-image", "--precision is f32 or bf16");
        } else if (strcmp(a, "--out") == 0) {
            if (++i >= argc) return cli_usage_error("encode-image", "--out needs a path");
            out = argv[i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("encode-image", "unknown option %s", a);
        } else if (!model_path) {
            model_path = a;
        } else if (!input) {
            input = a;
        } else {
            return cli_usage_error("encode-image", "unexpected argument %s", a);
        }
    }
    if (!model_path || !input)
        return cli_usage_error("encode-image", "MODEL and INPUT are required");
    if (!out) return cli_usage_error("encode-image", "--out FILE is required");

    float *px = NULL;
    int b = 0, h = 0, w = 0;
    if (cli_is_safetensors(input)) {
        int rc = cli_read_pixel_values("encode-image", input, &px, &b, &h, &w);
        if (rc != CLI_OK) return rc;
        if (size && (h != size || w != size)) {
            free(px);
            return cli_usage_error("encode-image", "--size %d does not match pixel_values %dx%d",
                                   size, w, h);
        }
    }

    int rc = CLI_RUNTIME;
    cs_model *m = cli_load_model("encode-image", model_path, NULL, precision);
    cs_context *ctx = NULL;
    float *f = NULL;
    if (!m) goto done;
    if (!px) {
        /* an image file: decode (PIL's convert("RGB")) and preprocess at --size */
        cs_image *img = NULL;
        cs_status ds = cs_image_decode_file(input, NULL, &img);
        if (ds != CS_OK) {
            rc = cli_status_error("encode-image", input, ds);
            goto done;
        }
        int s0 = size ? size : cs_model_image_size(m);
        size_t npx = (size_t)3 * s0 * s0;
        px = malloc(npx * sizeof(float));
        ds = px ? cs_image_preprocess(img, s0, px, npx) : CS_ERR_OUT_OF_MEMORY;
        cs_image_free(img);
        if (ds != CS_OK) {
            rc = cli_status_error("encode-image", input, ds);
            goto done;
        }
        b = 1;
        h = w = s0;
    }
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = threads;
    cs_status s = cs_context_create(m, &cp, &ctx);
    if (s != CS_OK) {
        rc = cli_status_error("encode-image", "context", s);
        goto done;
    }
    int t = cs_model_image_tokens(m, h, w), d = cs_model_embed_dim(m);
    if (t == 0) {
        int gh, gw;
        cs_model_image_grid(m, h, w, &gh, &gw); /* its message says why (patch, ResNet minimum) */
        fprintf(stderr, "clipsurgery encode-image: %s\n", cs_last_error());
        goto done;
    }
    size_t n = (size_t)b * (size_t)t * (size_t)d;
    f = malloc(n * sizeof(float));
    if (!f) {
        fprintf(stderr, "clipsurgery encode-image: out of memory\n");
        goto done;
    }
    cs_method kind = CS_METHOD_CLIP_SURGERY;
    cs_method_from_name(method, &kind);
    cs_method_params mp;
    cs_method_params_default(&mp, kind);
    if (blocks >= 0 && kind != CS_METHOD_RAW) mp.n_blocks = blocks;
    s = cs_method_apply(ctx, &mp, px, b, h, w, f, n);
    if (s != CS_OK) {
        rc = cli_status_error("encode-image", input, s);
        goto done;
    }
    int64_t shape[3] = {b, t, d};
    cs_st_entry e = {"image_features", CS_DT_F32, 3, shape, f};
    char blocks_s[16];
    snprintf(blocks_s, sizeof blocks_s, "%d", mp.n_blocks);
    const char *mode = kind == CS_METHOD_RAW ? "raw"
                       : kind == CS_METHOD_CLIP_SURGERY ? "surgery"
                                                        : method;
    cs_st_meta meta[5] = {{(char *)"mode", (char *)mode},
                          {(char *)"surgery_blocks", blocks_s},
                          {(char *)"method", (char *)method},
                          {(char *)"precision", (char *)(precision ? "bf16" : "f32")},
                          {(char *)"gemm_engine", (char *)cs_gemm_engine()}};
    s = cs_st_write(out, &e, 1, meta, 5);
    if (s != CS_OK) {
        rc = cli_status_error("encode-image", out, s);
        goto done;
    }
    rc = CLI_OK;
done:
    free(f);
    free(px);
    cs_context_free(ctx);
    cs_model_free(m);
    return rc;
}
